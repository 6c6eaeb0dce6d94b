/*
 * vendor.h — shared by the files of vendor-mechs/.
 */
#ifndef SOFTSE_VENDOR_H
#define SOFTSE_VENDOR_H

#include "vendor_env.h"

/* SK3 host and server keys when made (sk3.c): see vendor_complete_key. */
CK_RV sk3_complete_key(const mech_env *env, CK_KEY_TYPE type, attr_list *attrs);

#endif
