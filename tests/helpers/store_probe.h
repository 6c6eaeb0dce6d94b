/*
 * store_probe.h — for tests that read a token file with SQL behind the
 * module's back: the audit records that processes keep in their spools
 * (tokens/spool.c) are drained into the audit table first.
 */
#ifndef SOFTSE_TEST_STORE_PROBE_H
#define SOFTSE_TEST_STORE_PROBE_H

/* Drains every audit spool of the token file at db_path; 0 on success. */
int store_probe_flush_audit(const char *db_path);

#endif
