/*
 * threads_probe.h — how many threads this process has (/proc/self/task),
 * for tests of the module's one thread (the audit drain, tokens/spool.c).
 */
#ifndef SOFTSE_TEST_THREADS_PROBE_H
#define SOFTSE_TEST_THREADS_PROBE_H

#include <stddef.h>

/* 0 when /proc is not mounted. */
size_t threads_probe_count(void);

/* The count once it equals expected, polling for up to 2 s (a thread
 * just joined may still be listed); the last count otherwise. */
size_t threads_probe_settle(size_t expected);

#endif
