/*
 * threads_probe.h — how many threads this process has (/proc/self/task),
 * for tests of the module's one thread (the audit drain, tokens/spool.c).
 */
#ifndef SOFTSE_TEST_THREADS_PROBE_H
#define SOFTSE_TEST_THREADS_PROBE_H

#include <stddef.h>

/* 0 when /proc is not mounted. */
size_t threads_probe_count(void);

#endif
