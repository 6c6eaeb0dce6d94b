/*
 * log.c — one logging function for every room.  Messages go to stderr
 * (and to syslog when SOFTSE_SYSLOG is set), filtered by the level from
 * the configuration (SOFTSE_LOG_LEVEL or the config file's log_level).
 */
#include "p11.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <syslog.h>

int se_log_level = SE_LOG_WARN;
bool se_log_syslog = false;

void se_log(int level, const char *fmt, ...)
{
    if (level > se_log_level)
        return;
    static const char *const names[] = {"error", "warning", "info", "debug"};
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    fprintf(stderr, "softse: %s: %s\n", names[level], message);
    if (se_log_syslog) {
        static const int priorities[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(priorities[level], "softse: %s", message);
    }
}
