/*
 * trace.c — see trace.h.
 */
#include "trace.h"

#include "names.h"

#include <stdarg.h>
#include <stdio.h>

bool se_trace_on = false;

void trace_return(const char *function, CK_RV rv, const char *fmt, ...)
{
    char args[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    se_log_always(SE_LOG_DEBUG, "%s(%s) = %s", function, args, se_rv_name(rv));
}

const char *trace_mech(const CK_MECHANISM *mech)
{
    return mech ? se_mech_name(mech->mechanism) : "NULL";
}

CK_ULONG trace_out(CK_RV rv, const CK_ULONG *out)
{
    return rv == CKR_OK && out ? *out : 0;
}
