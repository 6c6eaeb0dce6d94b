/*
 * vendor.c — what the vendor key types need when an object is made.
 * The mechanisms themselves register their rows from gkea.c, ki.c, sk3.c.
 */
#include "vendor.h"

CK_RV vendor_complete_key(const mech_env *env, attr_list *attrs)
{
    CK_ULONG type;
    if (attr_list_ulong(attrs, CKA_KEY_TYPE, &type) != CKR_OK)
        return CKR_OK;
    switch (type) {
    case CKK_SE_SK3_HOST:
    case CKK_SE_SK3_SERVER:
        return sk3_complete_key(env, type, attrs);
    default:
        return CKR_OK;
    }
}
