/*
 * swtpm_fixture.h — a software TPM 2.0 (swtpm) for tests: its own state in
 * a temporary directory, on free TCP ports of 127.0.0.1, reached through
 * the "swtpm" TCTI string in f->tcti.
 *
 * swtpm runs as a child of the test (not daemonized) so that it dies with
 * the fixture; the TPM is started (startup-clear) and needs no setup.
 */
#ifndef SOFTSE_TEST_SWTPM_FIXTURE_H
#define SOFTSE_TEST_SWTPM_FIXTURE_H

#include <stdbool.h>
#include <sys/types.h>

typedef struct swtpm_fixture {
    char dir[256];  /* the TPM's state (its seeds and NV); "" before start */
    char tcti[128]; /* e.g. "swtpm:host=127.0.0.1,port=40123" */
    pid_t pid;      /* 0 when not running */
} swtpm_fixture;

/* True when the swtpm program can be found in PATH. */
bool swtpm_available(void);

/* Starts swtpm; on the state in f->dir when it is set (a restart of the
 * same TPM, e.g. after swtpm_kill), else in a fresh temporary directory
 * (zero the fixture first).  Waits until the TPM accepts connections.
 * False (with a message on stderr) when it does not start. */
bool swtpm_start(swtpm_fixture *f);

/* Stops the TPM and keeps its state: swtpm_start again is a power cycle. */
void swtpm_kill(swtpm_fixture *f);

/* Stops the TPM and removes its state directory. */
void swtpm_stop(swtpm_fixture *f);

/* A TCP port of 127.0.0.1 that nobody listens on (at the time of the call). */
int swtpm_free_port(void);

#endif
