/*
 * vendor_attrs.c — the vendor room's rows of the attribute policy table
 * (module/attr_table.h): the CKA_SE_* attributes of SPEC.md §1 and the
 * in-card secret of vendor_env.h.  What the vendor key types compute when
 * an object is made (SK3's failure count and limit, K~(i)) is in
 * vendor_complete_key.
 */
#include "attr_table.h"
#include "vendor_env.h"

POLICY_ROWS_BEGIN
const policy_row vendor_attr_rows[] = {
    {CKA_SE_HOST_ID, C_SECRET, ATTR_BYTES, F_LOOKUP, NODEF},
    {CKA_SE_FAILURE_COUNT, C_SECRET, ATTR_ULONG, F_RO, NODEF},
    {CKA_SE_FAILURE_LIMIT, C_SECRET, ATTR_ULONG, 0, NODEF},
    /* the device identity only (SPEC.md §2) */
    {CKA_SE_ATTESTATION, C_CERT | C_PUB | C_PRIV, ATTR_BOOL, F_RO | F_LOOKUP, DFALSE},
    {CKA_SE_INTERNAL_SECRET, C_SECRET, ATTR_BYTES, F_RO | F_HIDDEN | F_SECRET, NODEF},
};
POLICY_ROWS_END

const size_t vendor_attr_row_count = ARRAY_SIZE(vendor_attr_rows);
