/* sk3.c — placeholder until the mechanism lands. */
#include "vendor.h"

const mech_table mech_table_sk3 = {NULL, 0};

CK_RV sk3_complete_key(const mech_env *env, CK_KEY_TYPE type, attr_list *attrs)
{
    (void)env, (void)type, (void)attrs;
    return CKR_FUNCTION_NOT_SUPPORTED;
}
