/*
 * vendor_attrs.c — the vendor room's rows of the attribute policy table
 * (module/attr_table.h), registered by vendor.c: the CKA_SE_* attributes
 * of docs/spec.md §1 that SK3 keys carry and the in-card secret of
 * vendor_env.h.  CKA_SE_ATTESTATION marks the device identity, which is
 * the core's (module/identity.c): its row is in module/attr_table.c.
 * What the SK3 key types compute when an object is made (failure count
 * and limit, K~(i)) is in sk3_complete_key.
 */
#include "vendor.h"

POLICY_ROWS_BEGIN
const policy_row vendor_attr_rows[] = {
    {CKA_SE_HOST_ID, C_SECRET, ATTR_BYTES, F_LOOKUP, NODEF},
    {CKA_SE_FAILURE_COUNT, C_SECRET, ATTR_ULONG, F_RO, NODEF},
    {CKA_SE_FAILURE_LIMIT, C_SECRET, ATTR_ULONG, 0, NODEF},
    {CKA_SE_INTERNAL_SECRET, C_SECRET, ATTR_BYTES, F_RO | F_HIDDEN | F_SECRET, NODEF},
};
POLICY_ROWS_END

const size_t vendor_attr_row_count = ARRAY_SIZE(vendor_attr_rows);
