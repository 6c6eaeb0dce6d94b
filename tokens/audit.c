/*
 * audit.c — the token's audit log (docs/spec.md §3): append-only records
 * chained by SHA-256, appended in the transaction of the change they
 * record.  The encoding of a record's hash is documented in tok.h.
 */
#include "tok_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

void tok_audit_now(tok *t, char out[TOK_AUDIT_TIME_LEN])
{
    /* Spooled records are made at query rates: the date and time of day
     * are formatted once a second per token handle (not in thread-local
     * storage: the module is loaded with dlopen, and LeakSanitizer does
     * not survive the dynamic TLS of an unloaded library), the
     * microseconds by hand. */
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (!t->audit_date_len || now.tv_sec != t->audit_second) {
        struct tm utc;
        gmtime_r(&now.tv_sec, &utc);
        t->audit_date_len =
            strftime(t->audit_date, sizeof(t->audit_date), "%Y-%m-%dT%H:%M:%S", &utc);
        t->audit_second = now.tv_sec;
    }
    memcpy(out, t->audit_date, t->audit_date_len);
    char *p = out + t->audit_date_len;
    *p++ = '.';
    long micro = now.tv_nsec / 1000;
    for (int i = 5; i >= 0; i--, micro /= 10)
        p[i] = (char)('0' + micro % 10);
    p[6] = 'Z';
    p[7] = '\0';
}

static void put_field(unsigned char **p, const void *data, size_t len)
{
    tok_put_u32(*p, (uint32_t)len);
    memcpy(*p + 4, data, len);
    *p += 4 + len;
}

/* SHA-256(u64be(seq) ‖ u32be(|time|) ‖ time ‖ u32be(|event|) ‖ event ‖
 * u32be(|detail|) ‖ detail ‖ prev_hash) (tok.h), from one buffer: one
 * update instead of eight, for the drain thread hashes every spooled
 * record. */
static CK_RV audit_hash(tok *t, uint64_t seq, const char *time, size_t time_len, const char *event,
                        size_t event_len, const char *detail, size_t detail_len,
                        const unsigned char prev_hash[TOK_HASH_LEN],
                        unsigned char hash[TOK_HASH_LEN])
{
    unsigned char stack[512];
    size_t len = 8 + 3 * 4 + time_len + event_len + detail_len + TOK_HASH_LEN;
    unsigned char *buf = len <= sizeof(stack) ? stack : malloc(len);
    unsigned int hash_len = 0;
    if (t->audit_md == NULL)
        t->audit_md = EVP_MD_CTX_new();
    if (buf == NULL || t->audit_md == NULL)
        return CKR_HOST_MEMORY;
    unsigned char *p = buf;
    tok_put_u64(p, seq);
    p += 8;
    put_field(&p, time, time_len);
    put_field(&p, event, event_len);
    put_field(&p, detail, detail_len);
    memcpy(p, prev_hash, TOK_HASH_LEN);
    bool ok = EVP_DigestInit_ex(t->audit_md, t->sha256, NULL) == 1 &&
              EVP_DigestUpdate(t->audit_md, buf, len) == 1 &&
              EVP_DigestFinal_ex(t->audit_md, hash, &hash_len) == 1;
    if (buf != stack)
        free(buf);
    if (!ok) {
        se_log(SE_LOG_ERROR, "token store: SHA-256 failed in OpenSSL");
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* A stored hash as 32 bytes: a damaged one (wrong length) reads as zeros
 * and is reported by tok_audit_verify, not by every later append. */
static bool column_hash(sqlite3_stmt *s, int column, unsigned char out[TOK_HASH_LEN])
{
    const void *blob = sqlite3_column_blob(s, column);
    bool ok = blob != NULL && sqlite3_column_bytes(s, column) == TOK_HASH_LEN;
    if (ok)
        memcpy(out, blob, TOK_HASH_LEN);
    else
        memset(out, 0, TOK_HASH_LEN);
    return ok;
}

/* The chain's end, read once per cursor. */
static CK_RV cursor_load(tok *t, tok_audit_cursor *cursor)
{
    sqlite3_stmt *s = NULL;
    bool row;
    if (cursor->loaded)
        return CKR_OK;
    cursor->seq = 0;
    memset(cursor->hash, 0, TOK_HASH_LEN);
    CK_RV rv = tok_stmt(t, STMT_AUDIT_LAST, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the audit log");
    if (rv != CKR_OK)
        return rv;
    if (row) {
        cursor->seq = (uint64_t)sqlite3_column_int64(s, 0);
        if (!column_hash(s, 1, cursor->hash))
            se_log(SE_LOG_WARN, "token %s: the last audit record's hash is damaged", t->path);
    }
    sqlite3_reset(s);
    cursor->loaded = true;
    return CKR_OK;
}

CK_RV tok_audit_append_cursor(tok *t, tok_audit_cursor *cursor, const char *when, const char *event,
                              const char *detail)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    char time[TOK_AUDIT_TIME_LEN];
    unsigned char hash[TOK_HASH_LEN];
    if (detail == NULL)
        detail = "";
    rv = tok_state_touch(t); /* the log's head is part of the state */
    if (rv == CKR_OK)
        rv = cursor_load(t, cursor);
    if (rv != CKR_OK)
        return rv;
    uint64_t seq = cursor->seq + 1;
    if (when) {
        size_t len = strnlen(when, sizeof(time) - 1); /* a spooled time: not trusted to fit */
        memcpy(time, when, len);
        time[len] = '\0';
    } else {
        tok_audit_now(t, time);
    }
    rv = audit_hash(t, seq, time, strlen(time), event, strlen(event), detail, strlen(detail),
                    cursor->hash, hash);
    if (rv != CKR_OK)
        goto out;
    rv = tok_stmt(t, STMT_AUDIT_INSERT, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)seq);
    sqlite3_bind_text(s, 2, time, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, detail, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 5, cursor->hash, TOK_HASH_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 6, hash, TOK_HASH_LEN, SQLITE_STATIC);
    rv = tok_step_done(t, s, "appending to the audit log");
    s = NULL;
    if (rv == CKR_OK) {
        cursor->seq = seq;
        memcpy(cursor->hash, hash, TOK_HASH_LEN);
    }
out:
    if (s)
        sqlite3_reset(s);
    return rv;
}

/* One statement inserting TOK_AUDIT_BATCH rows, prepared once per
 * connection: a spool drain appends thousands of rows, and a statement
 * per row cost a sixth of each row's insert. */
static CK_RV batch_stmt(tok *t, sqlite3_stmt **out)
{
    if (t->audit_batch == NULL) {
        char sql[64 + TOK_AUDIT_BATCH * 24];
        size_t at = (size_t)snprintf(sql, sizeof(sql),
                                     "INSERT OR FAIL INTO audit (seq, time, event,"
                                     " detail, prev_hash, hash) VALUES");
        for (size_t i = 0; i < TOK_AUDIT_BATCH; i++)
            at += (size_t)snprintf(sql + at, sizeof(sql) - at, "%s(?,?,?,?,?,?)", i ? "," : "");
        int rc =
            sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &t->audit_batch, NULL);
        if (rc != SQLITE_OK)
            return tok_db_error(t, rc, "preparing the audit batch");
    }
    *out = t->audit_batch;
    return CKR_OK;
}

CK_RV tok_audit_append_batch(tok *t, tok_audit_cursor *cursor, const tok_audit_entry *entries,
                             size_t count)
{
    if (count != TOK_AUDIT_BATCH) {
        CK_RV rv = CKR_OK;
        for (size_t i = 0; rv == CKR_OK && i < count; i++)
            rv = tok_audit_append_cursor(t, cursor, entries[i].time, entries[i].event,
                                         entries[i].detail);
        return rv;
    }
    unsigned char hashes[TOK_AUDIT_BATCH + 1][TOK_HASH_LEN];
    size_t time_len[TOK_AUDIT_BATCH];
    sqlite3_stmt *s = NULL;
    CK_RV rv = tok_state_touch(t);
    if (rv == CKR_OK)
        rv = cursor_load(t, cursor);
    if (rv == CKR_OK)
        rv = batch_stmt(t, &s);
    memcpy(hashes[0], cursor->hash, TOK_HASH_LEN);
    for (size_t i = 0; rv == CKR_OK && i < count; i++) {
        const tok_audit_entry *e = &entries[i];
        time_len[i] = strnlen(e->time, TOK_AUDIT_TIME_LEN - 1); /* spooled: not trusted */
        rv = audit_hash(t, cursor->seq + 1 + i, e->time, time_len[i], e->event, strlen(e->event),
                        e->detail, strlen(e->detail), hashes[i], hashes[i + 1]);
    }
    for (size_t i = 0; rv == CKR_OK && i < count; i++) {
        int at = (int)(6 * i);
        sqlite3_bind_int64(s, at + 1, (sqlite3_int64)(cursor->seq + 1 + i));
        sqlite3_bind_text(s, at + 2, entries[i].time, (int)time_len[i], SQLITE_STATIC);
        sqlite3_bind_text(s, at + 3, entries[i].event, -1, SQLITE_STATIC);
        sqlite3_bind_text(s, at + 4, entries[i].detail, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, at + 5, hashes[i], TOK_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(s, at + 6, hashes[i + 1], TOK_HASH_LEN, SQLITE_STATIC);
    }
    if (rv == CKR_OK) {
        int rc = sqlite3_step(s);
        if (rc != SQLITE_DONE)
            rv = tok_db_error(t, rc, "appending to the audit log");
        sqlite3_reset(s);
        sqlite3_clear_bindings(s); /* no pointer into the caller's buffers stays */
    }
    if (rv == CKR_OK) {
        cursor->seq += count;
        memcpy(cursor->hash, hashes[count], TOK_HASH_LEN);
    }
    return rv;
}

CK_RV tok_audit_append_at(tok *t, const char *when, const char *event, const char *detail)
{
    tok_audit_cursor cursor = {.loaded = false};
    return tok_audit_append_cursor(t, &cursor, when, event, detail);
}

/* Records of this process still in its spool go first: a process's
 * records stay in the order it made them. */
CK_RV tok_audit_append_locked(tok *t, const char *event, const char *detail)
{
    CK_RV rv = tok_spool_drain_own_locked(t);
    return rv == CKR_OK ? tok_audit_append_at(t, NULL, event, detail) : rv;
}

CK_RV tok_audit_append(tok *t, const char *event, const char *detail)
{
    CK_RV rv;
    if (t == NULL || event == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = tok_begin(t, true);
    if (rv != CKR_OK)
        goto out;
    rv = tok_audit_append_locked(t, event, detail);
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    if (rv != CKR_OK)
        tok_rollback(t);
    return rv;
}

static const char *column_text(sqlite3_stmt *s, int column, size_t *len)
{
    const char *text = (const char *)sqlite3_column_text(s, column);
    *len = text ? (size_t)sqlite3_column_bytes(s, column) : 0;
    return text ? text : "";
}

CK_RV tok_audit_verify(tok *t,
                       void (*print)(void *ctx, unsigned long seq, const char *time,
                                     const char *event, const char *detail),
                       void *ctx, unsigned long *broken_seq)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool row;
    uint64_t expected = 1, broken = 0;
    bool is_broken = false;
    unsigned char prev_hash[TOK_HASH_LEN] = {0}, stored_prev[TOK_HASH_LEN],
                  stored_hash[TOK_HASH_LEN], hash[TOK_HASH_LEN];
    if (t == NULL)
        return CKR_ARGUMENTS_BAD;
    if (broken_seq)
        *broken_seq = 0;
    if (tok_audit_flush(t) != CKR_OK) /* logged: a read-only store is still verified */
        se_log(SE_LOG_WARN, "token %s: audit spools not drained before the check", t->path);
    rv = tok_begin(t, false);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_AUDIT_LIST, &s);
    if (rv != CKR_OK)
        goto out;
    for (;;) {
        rv = tok_step(t, s, &row, "reading the audit log");
        if (rv != CKR_OK || !row)
            break;
        uint64_t seq = (uint64_t)sqlite3_column_int64(s, 0);
        size_t time_len, event_len, detail_len;
        const char *time = column_text(s, 1, &time_len);
        const char *event = column_text(s, 2, &event_len);
        const char *detail = column_text(s, 3, &detail_len);
        bool prev_ok = column_hash(s, 4, stored_prev);
        bool hash_ok = column_hash(s, 5, stored_hash);
        if (print)
            print(ctx, (unsigned long)seq, time, event, detail);
        if (!is_broken) {
            rv = audit_hash(t, seq, time, time_len, event, event_len, detail, detail_len,
                            stored_prev, hash);
            if (rv != CKR_OK)
                break;
            if (!prev_ok || !hash_ok || seq != expected ||
                CRYPTO_memcmp(stored_prev, prev_hash, TOK_HASH_LEN) != 0 ||
                CRYPTO_memcmp(stored_hash, hash, TOK_HASH_LEN) != 0) {
                is_broken = true;
                broken = seq;
            }
        }
        memcpy(prev_hash, stored_hash, TOK_HASH_LEN);
        expected = seq + 1;
    }
    if (rv != CKR_OK)
        goto out;
    if (is_broken) {
        se_log(SE_LOG_ERROR,
               "token %s: the audit log is broken at record %llu (changed, removed or inserted)",
               t->path, (unsigned long long)broken);
        if (broken_seq)
            *broken_seq = (unsigned long)broken;
        rv = CKR_DEVICE_ERROR;
    }
out:
    if (s)
        sqlite3_reset(s);
    tok_rollback(t);
    return rv;
}
