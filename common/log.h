/*
 * log.h — one log for every room (common/log.c).  Messages go to stderr
 * (and to syslog when configured), filtered by se_log_level, which the
 * module sets from its configuration (module/config.c: log_level,
 * syslog, trace).
 */
#ifndef SOFTSE_LOG_H
#define SOFTSE_LOG_H

#include <stdbool.h>

enum { SE_LOG_ERROR = 0, SE_LOG_WARN = 1, SE_LOG_INFO = 2, SE_LOG_DEBUG = 3 };

extern int se_log_level;   /* messages above it are dropped; SE_LOG_WARN by default */
extern bool se_log_syslog; /* copy every message to syslog(3) too */

/* Logs one line at level when level <= se_log_level. */
void se_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Logs one line at level whatever se_log_level says: the boundary trace
 * (module/trace.c), which its own switch turns on. */
void se_log_always(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drains OpenSSL's error queue into the log, one debug line per queued
 * error prefixed by what failed (the queue is per thread and must not
 * leak into the next call), and returns rv: every OpenSSL failure of the
 * mechanisms is reported the same way (common/log_openssl.c).  Debug
 * level: most are the caller's (a bad signature, a wrong key). */
unsigned long se_log_openssl(unsigned long rv, const char *what);

#endif
