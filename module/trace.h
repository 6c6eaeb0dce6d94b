/*
 * trace.h — the traced boundary.  With tracing on (the configuration's
 * `trace = on`, or SOFTSE_TRACE=1: module/config.c) every C_* call logs
 * one debug line as it returns, whatever log_level says:
 *
 *   softse: debug: C_SignInit(session=0x2, mechanism=CKM_ECDSA_SHA256, key=0x7) = CKR_OK
 *
 * its name, its handles, its mechanism by name and its return value by
 * name (common/names.c).  No PIN, key or data byte is ever traced.  Off,
 * a call pays one predictable branch: the arguments are not evaluated.
 */
#ifndef SOFTSE_TRACE_H
#define SOFTSE_TRACE_H

#include "p11.h"

extern bool se_trace_on;

/* The line of one returning call: function(fmt...) = CKR_name. */
void trace_return(const char *function, CK_RV rv, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The mechanism's name, "NULL" for none. */
const char *trace_mech(const CK_MECHANISM *mech);

/* What the call wrote to *out (a handle, a count) when it succeeded,
 * else 0: an output is traced only when there is one. */
CK_ULONG trace_out(CK_RV rv, const CK_ULONG *out);

/* In an entry point: traces rv with __func__ when tracing is on. */
#define TRACE(rv, ...)                                                                             \
    do {                                                                                           \
        if (__builtin_expect(se_trace_on, 0))                                                      \
            trace_return(__func__, (rv), __VA_ARGS__);                                             \
    } while (0)

#endif
