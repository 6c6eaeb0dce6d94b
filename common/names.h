/*
 * names.h — names of PKCS#11 values for logs, traces and messages: one
 * table each (common/names.c), used by the module's trace, the tools and
 * the test fixtures alike.
 */
#ifndef SOFTSE_NAMES_H
#define SOFTSE_NAMES_H

#include "p11.h"

/* "CKR_PIN_INCORRECT", or "CKR_0x..." (a per-thread buffer) for a code
 * the table lacks. */
const char *se_rv_name(CK_RV rv);

/* "CKM_ECDSA_SHA256", or "CKM_0x..." (a per-thread buffer). */
const char *se_mech_name(CK_MECHANISM_TYPE type);

#endif
