/*
 * vendor.h — shared by the files of vendor-mechs/.
 */
#ifndef SOFTSE_VENDOR_H
#define SOFTSE_VENDOR_H

#include "attr_table.h"
#include "vendor_env.h"

/* The room's mechanism rows, registered by vendor.c. */
extern const mech_table mech_table_gkea; /* gkea.c: docs/spec.md §4 */
extern const mech_table mech_table_ki;   /* ki.c: docs/spec.md §5 */
extern const mech_table mech_table_sk3;  /* sk3.c: docs/spec.md §6 */

/* The room's attribute rows (vendor_attrs.c), registered by vendor.c. */
extern const policy_row vendor_attr_rows[];
extern const size_t vendor_attr_row_count;

/* SK3 host and server keys when made (sk3.c): the completer vendor.c
 * registers for CKK_SE_SK3_HOST and CKK_SE_SK3_SERVER (vendor_env.h). */
CK_RV sk3_complete_key(const mech_env *env, CK_KEY_TYPE type, attr_list *attrs);

#endif
