/*
 * param.h — the check every mechanism makes of a structured parameter.
 */
#ifndef SOFTSE_PARAM_H
#define SOFTSE_PARAM_H

#include "p11.h"

/* pParameter when it is exactly one structure of size bytes, else NULL
 * (the caller answers CKR_MECHANISM_PARAM_INVALID). */
static inline const void *se_param_struct(const CK_MECHANISM *mech, size_t size)
{
    return mech->pParameter && mech->ulParameterLen == size ? mech->pParameter : NULL;
}

#endif
