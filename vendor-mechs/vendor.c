/*
 * vendor.c — the vendor room as one family (docs/spec.md §4–6): its mechanism
 * rows (gkea.c, ki.c, sk3.c), its attribute rows (vendor_attrs.c) and
 * its key types (SK3's, sk3.c) registered through the core's own tables,
 * as a standard family's are.  The core names none of them: it calls
 * vendor_register once (module/families.c) when the module is built with
 * the vendor room (meson option vendor_mechanisms, on by default).
 */
#include "vendor.h"
#include "vendor_family.h"

#include "attr_table.h"

static const mech_table *const tables[] = {&mech_table_gkea, &mech_table_ki, &mech_table_sk3};
static const CK_KEY_TYPE sk3_key_types[] = {CKK_SE_SK3_SERVER, CKK_SE_SK3_HOST};

bool vendor_register(void)
{
    bool ok = policy_register_rows(vendor_attr_rows, vendor_attr_row_count);
    for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
        ok = mech_register(tables[i]) && ok;
    for (size_t i = 0; i < ARRAY_SIZE(sk3_key_types); i++)
        ok = env_register_key_type(sk3_key_types[i], sk3_complete_key) && ok;
    return ok;
}
