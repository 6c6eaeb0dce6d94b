/*
 * spool.c — audit records without a write transaction each (docs/spec.md §3).
 *
 * An SK3 query, a GKEA or KI call and a session key's birth and death
 * change nothing in the store but the audit log, and one SQLite write
 * transaction per record costs ten times the cryptography it records.  So
 * tok_audit_note() copies the record into this process's spool instead: a
 * file beside the token, "<token>-spool-<32 hex>", mapped MAP_SHARED, in
 * which a record is complete once the header's end offset covers it.  The
 * page cache keeps a killed process's records; the hash chain gets them
 * when the spool is drained into the audit table:
 *   - by this process's drain thread (when tok_audit_thread allowed one)
 *     once SPOOL_KICK_BYTES wait, and every SPOOL_DRAIN_PERIOD_MS, over a
 *     second connection of its own: the calling thread only copies;
 *   - by its owner every SPOOL_FLUSH_RECORDS records or SPOOL_FLUSH_BYTES
 *     when there is no drain thread (beyond SPOOL_BACKPRESSURE_BYTES when
 *     there is), before any record appended in a transaction (so a
 *     process's records stay in order), and at tok_close;
 *   - by anyone at tok_open (spools whose owner is gone) and by
 *     tok_audit_flush / tok_audit_verify (every spool, live or not).
 * The owner holds flock(LOCK_EX) on its spool for its lifetime: a spool
 * that can be locked has no owner left.  How far a spool was drained is a
 * row of audit_spool, updated in the transaction that appends the records,
 * so a drain interrupted anywhere repeats nothing and loses nothing.
 *
 * The durability is that of the WAL commits with synchronous=NORMAL that
 * these notes used before: a killed process loses no record; an operating
 * system crash may lose the newest ones, never break the chain.
 */
#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *CREATE_TABLE = "CREATE TABLE IF NOT EXISTS audit_spool ("
                                  " name TEXT PRIMARY KEY,"
                                  " drained INTEGER NOT NULL)";

/* Ring access by logical position. */
static void ring_write(unsigned char *map, uint64_t pos, const void *data, size_t len)
{
    size_t at = (size_t)(pos % SPOOL_CAPACITY), first = SPOOL_CAPACITY - at;
    if (first > len)
        first = len;
    memcpy(map + SPOOL_DATA_OFFSET + at, data, first);
    memcpy(map + SPOOL_DATA_OFFSET, (const unsigned char *)data + first, len - first);
}

static void ring_read(const unsigned char *map, uint64_t pos, void *data, size_t len)
{
    size_t at = (size_t)(pos % SPOOL_CAPACITY), first = SPOOL_CAPACITY - at;
    if (first > len)
        first = len;
    memcpy(data, map + SPOOL_DATA_OFFSET + at, first);
    memcpy((unsigned char *)data + first, map + SPOOL_DATA_OFFSET, len - first);
}

static CK_RV row_get(tok *t, const char *name, bool *found, uint64_t *drained)
{
    sqlite3_stmt *s = NULL;
    int rc =
        sqlite3_prepare_v2(t->db, "SELECT drained FROM audit_spool WHERE name = ?1", -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        rc = sqlite3_step(s);
    }
    *found = rc == SQLITE_ROW;
    *drained = *found ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CKR_OK
                                                 : tok_db_error(t, rc, "reading an audit spool");
}

/* drained < 0: delete the row. */
static CK_RV row_set(tok *t, const char *name, int64_t drained)
{
    sqlite3_stmt *s = NULL;
    const char *sql = drained < 0 ? "DELETE FROM audit_spool WHERE name = ?1"
                                  : "INSERT OR REPLACE INTO audit_spool VALUES (?1, ?2)";
    int rc = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
        if (drained >= 0)
            sqlite3_bind_int64(s, 2, drained);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? CKR_OK : tok_db_error(t, rc, "recording an audit spool");
}

/* A record read back: three NUL-terminated strings filling the payload. */
static bool record_parse(char *payload, size_t len, const char **time, const char **event,
                         const char **detail)
{
    const char *fields[3];
    size_t at = 0;
    for (int i = 0; i < 3; i++) {
        char *nul = at < len ? memchr(payload + at, '\0', len - at) : NULL;
        if (nul == NULL)
            return false;
        fields[i] = payload + at;
        at = (size_t)(nul - payload) + 1;
    }
    *time = fields[0];
    *event = fields[1];
    *detail = fields[2];
    return at == len;
}

/*
 * Appends the records of one spool from its drained row to its end, in
 * the caller's write transaction, and moves the row.  A spool that does
 * not parse (a damaged or edited file) is recorded as such and skipped to
 * its end: the records before the damage are kept.
 */
CK_RV spool_drain_locked(tok *t, const char *name, unsigned char *map, uint64_t *drained)
{
    bool found;
    uint64_t pos;
    CK_RV rv = row_get(t, name, &found, &pos);
    if (rv != CKR_OK)
        return rv;
    uint64_t start = pos;
    uint64_t end = __atomic_load_n(&header_of(map)->end, __ATOMIC_ACQUIRE);
    const char *damage = NULL;
    if (end < pos || end - pos > SPOOL_CAPACITY)
        damage = "its end is out of range";
    /* Records go to the table TOK_AUDIT_BATCH at a time; pos counts the
     * records parsed, appended is how far the table has them. */
    char payloads[TOK_AUDIT_BATCH][SPOOL_RECORD_MAX];
    tok_audit_entry entries[TOK_AUDIT_BATCH];
    size_t parsed = 0;
    tok_audit_cursor cursor = {.loaded = false};
    while (rv == CKR_OK && damage == NULL && pos < end) {
        uint32_t len;
        tok_audit_entry *e = &entries[parsed];
        if (end - pos < sizeof(len)) {
            damage = "a record is cut short";
            break;
        }
        ring_read(map, pos, &len, sizeof(len));
        if (len > SPOOL_RECORD_MAX || len > end - pos - sizeof(len)) {
            damage = "a record length is out of range";
            break;
        }
        ring_read(map, pos + sizeof(len), payloads[parsed], len);
        if (!record_parse(payloads[parsed], len, &e->time, &e->event, &e->detail)) {
            damage = "a record does not parse";
            break;
        }
        pos += sizeof(len) + len;
        if (++parsed == TOK_AUDIT_BATCH) {
            rv = tok_audit_append_batch(t, &cursor, entries, parsed);
            parsed = 0;
        }
    }
    if (rv == CKR_OK)
        rv = tok_audit_append_batch(t, &cursor, entries, parsed);
    if (rv == CKR_OK && damage != NULL) {
        char note[160];
        se_log(SE_LOG_ERROR, "token %s: audit spool %s: %s", t->path, name, damage);
        snprintf(note, sizeof(note), "spool %s skipped at offset %llu: %s", name,
                 (unsigned long long)pos, damage);
        rv = tok_audit_append_cursor(t, &cursor, NULL, "audit-spool-damaged", note);
        pos = end;
    }
    if (rv == CKR_OK && (!found || pos != start))
        rv = row_set(t, name, (int64_t)pos);
    if (rv == CKR_OK)
        *drained = pos;
    return rv;
}

CK_RV tok_spool_drain_own_locked(tok *t)
{
    tok_spool *sp = t->spool;
    uint64_t drained;
    if (sp == NULL || header_of(sp->map)->end == spool_drained(sp))
        return CKR_OK;
    CK_RV rv = spool_drain_locked(t, sp->name, sp->map, &drained);
    if (rv == CKR_OK) {
        sp->drained_pending = drained;
        sp->pending = true;
    }
    return rv;
}

void tok_spool_committed(tok *t, bool committed)
{
    tok_spool *sp = t->spool;
    if (sp == NULL || !sp->pending)
        return;
    if (committed) {
        sp->drained = sp->drained_pending;
        sp->records = 0;
    }
    sp->pending = false;
}

/* Drains this process's spool in a transaction of its own, without an
 * fsync of its own (see the top of the file). */
static CK_RV spool_flush_own(tok *t)
{
    if (header_of(t->spool->map)->end == spool_drained(t->spool))
        return CKR_OK;
    CK_RV rv = tok_exec(t, "PRAGMA synchronous = NORMAL", "relaxing durability for the spool");
    if (rv != CKR_OK)
        return rv;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_spool_drain_own_locked(t);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    CK_RV restored = tok_exec(t, "PRAGMA synchronous = FULL", "restoring durability");
    return rv == CKR_OK ? restored : rv;
}

/* The store directory and the spool file-name prefix of the token at
 * token_path ("<serial>.sqlite-spool-"); NULL when out of memory. */
static char *spool_dir_prefix(const char *token_path, char **dir)
{
    const char *slash = strrchr(token_path, '/');
    *dir = slash ? strndup(token_path, (size_t)(slash - token_path)) : strdup(".");
    char *prefix = NULL;
    if (*dir == NULL || asprintf(&prefix, "%s" SPOOL_INFIX, slash ? slash + 1 : token_path) < 0) {
        free(*dir);
        *dir = NULL;
        return NULL;
    }
    return prefix;
}

static void spool_free(tok_spool *sp)
{
    if (sp == NULL)
        return;
    if (sp->map)
        munmap(sp->map, SPOOL_FILE_LEN);
    if (sp->fd >= 0)
        close(sp->fd);
    free(sp->path);
    free(sp);
}

/* This process's spool: a new file, locked, mapped, with its row. */
static CK_RV spool_create(tok *t)
{
    CK_RV rv;
    unsigned char id[16];
    char hex[2 * sizeof(id) + 1], *dir = NULL, *hidden = NULL;
    char *prefix = spool_dir_prefix(t->path, &dir);
    tok_spool *sp = calloc(1, sizeof(*sp));
    if (prefix == NULL || sp == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    sp->fd = -1;
    rv = tok_random(id, sizeof(id));
    if (rv != CKR_OK)
        goto out;
    for (size_t i = 0; i < sizeof(id); i++)
        snprintf(hex + 2 * i, 3, "%02x", id[i]);
    if (asprintf(&sp->path, "%s/%s%s", dir, prefix, hex) < 0 ||
        asprintf(&hidden, "%s/.%s%s", dir, prefix, hex) < 0) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    sp->name = strrchr(sp->path, '/') + 1;
    /* Locked before sweepers can see it under its name. */
    sp->fd = open(hidden, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (sp->fd < 0 || flock(sp->fd, LOCK_EX | LOCK_NB) != 0 ||
        ftruncate(sp->fd, SPOOL_FILE_LEN) != 0 || rename(hidden, sp->path) != 0) {
        if (sp->fd >= 0)
            unlink(hidden);
        se_log(SE_LOG_ERROR, "token %s: cannot create the audit spool %s: %s", t->path, sp->path,
               strerror(errno));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    sp->map = mmap(NULL, SPOOL_FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, sp->fd, 0);
    if (sp->map == MAP_FAILED) {
        sp->map = NULL;
        se_log(SE_LOG_ERROR, "token %s: cannot map the audit spool: %s", t->path, strerror(errno));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    spool_header *h = header_of(sp->map);
    memcpy(h->magic, SPOOL_MAGIC, sizeof(h->magic));
    h->capacity = SPOOL_CAPACITY;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_exec(t, CREATE_TABLE, "creating the audit spool table");
    if (rv == CKR_OK)
        rv = row_set(t, sp->name, 0);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    if (rv == CKR_OK) {
        job_register(sp, t->path);
        t->spool = sp;
        sp = NULL;
    }
out:
    if (sp && sp->path && sp->fd >= 0)
        unlink(sp->path);
    spool_free(sp);
    free(hidden);
    free(prefix);
    free(dir);
    return rv;
}

CK_RV tok_audit_note(tok *t, const char *event, const char *detail)
{
    char time[TOK_AUDIT_TIME_LEN];
    unsigned char record[sizeof(uint32_t) + SPOOL_RECORD_MAX];
    if (t == NULL || event == NULL)
        return CKR_ARGUMENTS_BAD;
    if (detail == NULL)
        detail = "";
    if (t->spool == NULL && !t->spool_failed && spool_create(t) != CKR_OK)
        t->spool_failed = true; /* logged; every note is a transaction then */
    if (t->spool == NULL)
        return tok_audit_append(t, event, detail);

    tok_audit_now(t, time);
    size_t time_len = strlen(time) + 1, event_len = strlen(event) + 1,
           detail_len = strlen(detail) + 1;
    if (time_len + event_len + 1 > SPOOL_RECORD_MAX)
        return tok_audit_append(t, event, detail);
    if (time_len + event_len + detail_len > SPOOL_RECORD_MAX)
        detail_len = SPOOL_RECORD_MAX - time_len - event_len; /* the detail is cut */
    uint32_t len = (uint32_t)(time_len + event_len + detail_len);
    memcpy(record, &len, sizeof(len));
    memcpy(record + sizeof(len), time, time_len);
    memcpy(record + sizeof(len) + time_len, event, event_len);
    memcpy(record + sizeof(len) + time_len + event_len, detail, detail_len);
    record[sizeof(len) + len - 1] = '\0';

    tok_spool *sp = t->spool;
    spool_header *h = header_of(sp->map);
    uint64_t end = h->end; /* only this process writes it */
    size_t size = sizeof(len) + len;
    uint64_t drained = spool_drained(sp);
    if (end + size - drained > SPOOL_CAPACITY) {
        CK_RV rv = spool_flush_own(t);
        if (rv != CKR_OK)
            return rv;
        drained = spool_drained(sp);
    }
    ring_write(sp->map, end, record, size);
    __atomic_store_n(&h->end, end + size, __ATOMIC_RELEASE);
    uint64_t waiting = end + size - drained;
    if (sp->job && !__atomic_load_n(&sp->job->failed, __ATOMIC_ACQUIRE)) {
        spool_kick(sp, drained, waiting);
        if (waiting >= SPOOL_BACKPRESSURE_BYTES)
            spool_flush_own(t); /* the thread falls behind: the callers help */
    } else if (++sp->records >= SPOOL_FLUSH_RECORDS || waiting >= SPOOL_FLUSH_BYTES) {
        spool_flush_own(t); /* on failure the records wait in the spool */
    }
    return CKR_OK;
}

/* Another process's spool (or a stale one): drained in a transaction of
 * its own; removed when no process holds it and it is drained. */
static CK_RV spool_sweep_one(tok *t, const char *dir, const char *name, bool only_dead)
{
    CK_RV rv = CKR_OK;
    char *path = NULL;
    unsigned char *map = NULL;
    struct stat st;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return CKR_HOST_MEMORY;
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        goto out; /* removed meanwhile */
    bool dead = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (only_dead && !dead)
        goto out;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != SPOOL_FILE_LEN) {
        se_log(SE_LOG_ERROR, "token %s: %s is not an audit spool; left alone", t->path, path);
        goto out;
    }
    map = mmap(NULL, SPOOL_FILE_LEN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        map = NULL;
        goto out;
    }
    spool_header *h = header_of(map);
    if (memcmp(h->magic, SPOOL_MAGIC, sizeof(h->magic)) != 0 && h->end != 0) {
        se_log(SE_LOG_ERROR, "token %s: %s is not an audit spool; left alone", t->path, path);
        goto out;
    }
    uint64_t drained;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_exec(t, CREATE_TABLE, "creating the audit spool table");
    if (rv == CKR_OK && !__atomic_load_n(&h->retired, __ATOMIC_ACQUIRE))
        rv = spool_drain_locked(t, name, map, &drained);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    if (rv == CKR_OK && dead) {
        /* Retired first: a sweeper that opened it before the unlink must
         * not drain it again from a deleted row. */
        __atomic_store_n(&h->retired, 1, __ATOMIC_RELEASE);
        unlink(path);
        rv = tok_begin(t, true);
        if (rv == CKR_OK)
            rv = row_set(t, name, -1);
        if (rv == CKR_OK)
            rv = tok_commit(t);
        tok_rollback(t);
    }
out:
    if (map)
        munmap(map, SPOOL_FILE_LEN);
    if (fd >= 0)
        close(fd);
    free(path);
    return rv;
}

/* Every spool of this token but our own. */
static CK_RV spool_sweep(tok *t, bool only_dead)
{
    CK_RV rv = CKR_OK;
    char *dir = NULL;
    char *prefix = spool_dir_prefix(t->path, &dir);
    if (prefix == NULL)
        return CKR_HOST_MEMORY;
    DIR *d = opendir(dir);
    size_t prefix_len = strlen(prefix);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strncmp(e->d_name, prefix, prefix_len) != 0 ||
            (t->spool && strcmp(e->d_name, t->spool->name) == 0))
            continue;
        CK_RV one = spool_sweep_one(t, dir, e->d_name, only_dead);
        if (rv == CKR_OK)
            rv = one;
    }
    if (d)
        closedir(d);
    free(prefix);
    free(dir);
    return rv;
}

/* At open, only the spools that have a row: every spool gets its row
 * before its first record, and reading the store directory instead would
 * make opening n tokens cost n directory scans.  A row whose spool is
 * being created or used by a live process is skipped (its lock is held). */
void tok_spool_open(tok *t)
{
    sqlite3_stmt *s = NULL;
    char **names = NULL;
    size_t count = 0;
    char *dir = NULL;
    char *prefix = spool_dir_prefix(t->path, &dir);
    if (prefix == NULL)
        return;
    if (sqlite3_prepare_v2(t->db, "SELECT name FROM audit_spool", -1, &s, NULL) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(s, 0);
            char **grown = realloc(names, (count + 1) * sizeof(*names));
            if (grown)
                names = grown;
            if (name == NULL || grown == NULL)
                break;
            names = grown;
            /* Only names of this token's spools: a row never names a path. */
            if (strncmp(name, prefix, strlen(prefix)) == 0 && strchr(name, '/') == NULL &&
                (names[count] = strdup(name)) != NULL)
                count++;
        }
    }
    sqlite3_finalize(s); /* no such table: no spool was ever made */
    for (size_t i = 0; i < count; i++) {
        spool_sweep_one(t, dir, names[i], true); /* errors are logged; the next open retries */
        free(names[i]);
    }
    free(names);
    free(prefix);
    free(dir);
}

CK_RV tok_audit_flush(tok *t)
{
    if (t == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = t->spool ? spool_flush_own(t) : CKR_OK;
    CK_RV others = spool_sweep(t, false);
    return rv == CKR_OK ? others : rv;
}

void tok_spool_close(tok *t)
{
    tok_spool *sp = t->spool;
    if (sp == NULL)
        return;
    job_unregister(sp);
    if (spool_flush_own(t) == CKR_OK) {
        __atomic_store_n(&header_of(sp->map)->retired, 1, __ATOMIC_RELEASE);
        unlink(sp->path);
        CK_RV rv = tok_begin(t, true);
        if (rv == CKR_OK)
            rv = row_set(t, sp->name, -1);
        if (rv == CKR_OK)
            tok_commit(t);
        tok_rollback(t);
    } /* else the file stays for the next tok_open to drain */
    t->spool = NULL;
    spool_free(sp);
}

void tok_spool_unlink_all(const char *token_path)
{
    char *dir = NULL;
    char *prefix = spool_dir_prefix(token_path, &dir);
    if (prefix == NULL)
        return;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        char *path = NULL;
        if (strncmp(e->d_name, prefix, strlen(prefix)) == 0 &&
            asprintf(&path, "%s/%s", dir, e->d_name) >= 0) {
            unlink(path);
            free(path);
        }
    }
    if (d)
        closedir(d);
    free(prefix);
    free(dir);
}
