/*
 * log.c — see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>

int se_log_level = SE_LOG_WARN;
bool se_log_syslog = false;

static void log_line(int level, const char *fmt, va_list ap)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char message[1024];
    vsnprintf(message, sizeof(message), fmt, ap);
    fprintf(stderr, "softse: %s: %s\n", names[level], message);
    if (se_log_syslog) {
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(priorities[level], "softse: %s", message);
    }
}

void se_log(int level, const char *fmt, ...)
{
    if (level > se_log_level || level < SE_LOG_ERROR)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}

void se_log_always(int level, const char *fmt, ...)
{
    if (level < SE_LOG_ERROR || level > SE_LOG_DEBUG)
        return;
    va_list ap;
    va_start(ap, fmt);
    log_line(level, fmt, ap);
    va_end(ap);
}
