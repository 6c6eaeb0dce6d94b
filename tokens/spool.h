/*
 * spool.h — what the two files of the audit spool share: spool.c (the
 * spool files, notes, drains by owners and sweepers) and spool_thread.c
 * (the process's drain thread).  Internal to tokens/.
 */
#ifndef SOFTSE_SPOOL_H
#define SOFTSE_SPOOL_H

#include "tok_internal.h"

#define SPOOL_MAGIC "SEAUDSP1"
#define SPOOL_DATA_OFFSET 4096
/* Room for ~40,000 query records: what arrives while the drain thread
 * waits for a checkpoint's fsync (tens of milliseconds on a busy disk). */
#define SPOOL_CAPACITY (4 * 1024 * 1024)
#define SPOOL_FILE_LEN (SPOOL_DATA_OFFSET + SPOOL_CAPACITY)
#define SPOOL_FLUSH_RECORDS 1024
#define SPOOL_FLUSH_BYTES (SPOOL_CAPACITY / 4)
#define SPOOL_RECORD_MAX 2048 /* payload: time, event, detail, each ending in NUL */
#define SPOOL_INFIX "-spool-"
/* With a drain thread: what wakes it (large batches: each of its commits
 * makes the owner's connection see a change and reload what it cached),
 * how often it looks anyway, when the owner stops waiting for it, how
 * many idle connections it keeps. */
#define SPOOL_KICK_BYTES (256 * 1024)
#define SPOOL_DRAIN_PERIOD_MS 100
#define SPOOL_BACKPRESSURE_BYTES (SPOOL_CAPACITY / 4 * 3)
#define SPOOL_DRAIN_CONNECTIONS 4

typedef struct spool_header {
    char magic[8];
    uint64_t capacity;
    uint64_t end;     /* bytes ever written; stored with release by the owner */
    uint32_t retired; /* drained for good, being removed */
} spool_header;

/* A spool the drain thread looks after.  The owner's tok_spool keeps
 * name and map alive until it unregisters the job. */
typedef struct spool_job {
    struct spool_job *next;
    char *token_path;
    const char *name;
    unsigned char *map;
    tok *conn;          /* the thread's own connection, opened at its first drain */
    uint64_t drained;   /* committed by the thread (atomic) */
    uint64_t last_used; /* drain count at its last drain: idle connections close first */
    bool busy;          /* being drained, outside the lock */
    bool failed;        /* (atomic) the thread gave up on it or ended: its owner drains */
    bool forgotten;     /* inherited over fork: the parent's, never used */
} spool_job;

struct tok_spool {
    int fd;
    char *path;
    const char *name; /* the row key: the file name in path */
    unsigned char *map;
    uint64_t drained;         /* committed drain position */
    uint64_t drained_pending; /* set by a drain in a transaction not yet committed */
    bool pending;
    unsigned records; /* appended since the last drain */
    spool_job *job;   /* NULL: no drain thread; the owner drains */
    uint64_t kicked;  /* the drained position when the thread was last woken */
};

static inline spool_header *header_of(unsigned char *map)
{
    return (spool_header *)map;
}

/* Inside a write transaction of t: appends the records of the spool
 * mapped at map from its drained row to its end, moves the row; *drained
 * is the new position (spool.c). */
CK_RV spool_drain_locked(tok *t, const char *name, unsigned char *map, uint64_t *drained);

/* ---- spool_thread.c ---- */

/* What the owner may count as drained: its own drains and the thread's. */
uint64_t spool_drained(const tok_spool *sp);
/* The new spool sp of token_path goes to the thread, when one may run. */
void job_register(tok_spool *sp, const char *token_path);
/* The owner takes its spool back (at close): after a drain in progress. */
void job_unregister(tok_spool *sp);
/* The owner wakes the thread once per SPOOL_KICK_BYTES waiting. */
void spool_kick(tok_spool *sp, uint64_t drained, uint64_t waiting);

#endif
