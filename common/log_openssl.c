/*
 * log_openssl.c — OpenSSL's error queue into the log (see log.h).  In its
 * own file: only the targets that call OpenSSL pull it from the library.
 */
#include "log.h"

#include <openssl/err.h>

unsigned long se_log_openssl(unsigned long rv, const char *what)
{
    if (se_log_level < SE_LOG_DEBUG) { /* the queue still goes: it is per thread */
        ERR_clear_error();
        return rv;
    }
    unsigned long code;
    const char *file, *func, *data;
    int line, flags;
    bool any = false;
    while ((code = ERR_get_error_all(&file, &line, &func, &data, &flags)) != 0) {
        char text[256];
        ERR_error_string_n(code, text, sizeof(text));
        se_log(SE_LOG_DEBUG, "%s: OpenSSL: %s%s%s", what, text,
               (flags & ERR_TXT_STRING) && data ? ": " : "",
               (flags & ERR_TXT_STRING) && data ? data : "");
        any = true;
    }
    if (!any)
        se_log(SE_LOG_DEBUG, "%s: failed (OpenSSL queued no error)", what);
    return rv;
}
