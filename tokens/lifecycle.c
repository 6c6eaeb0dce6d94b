/*
 * lifecycle.c — the store's part of docs/spec.md §3: erasing key values when
 * a token is terminated, destroying all but the identity on reset, and
 * the persistent failure counters.  Each is one write transaction.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

/* Runs one ad-hoc statement with up to two integer bindings. */
static CK_RV run(tok *t, const char *sql, sqlite3_int64 a, sqlite3_int64 b, const char *what)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return tok_db_error(t, rc, what);
    if (sqlite3_bind_parameter_count(s) >= 1)
        sqlite3_bind_int64(s, 1, a);
    if (sqlite3_bind_parameter_count(s) >= 2)
        sqlite3_bind_int64(s, 2, b);
    rc = sqlite3_step(s);
    CK_RV rv = rc == SQLITE_DONE || rc == SQLITE_ROW ? CKR_OK : tok_db_error(t, rc, what);
    sqlite3_finalize(s);
    return rv;
}

static CK_RV set_state(tok *t, unsigned char state)
{
    sqlite3_stmt *s;
    CK_RV rv = tok_stmt(t, STMT_TOKEN_SET_LIFECYCLE, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int(s, 1, state);
    return tok_step_done(t, s, "setting the lifecycle state");
}

static void checkpoint(tok *t)
{
    /* Old copies of erased pages may sit in the WAL until it is rewritten. */
    sqlite3_wal_checkpoint_v2(t->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
}

CK_RV tok_terminate(tok *t, const char *audit)
{
    CK_RV rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_state_event(t);
    if (rv == CKR_OK)
        rv = run(t, "DELETE FROM attribute WHERE (flags & ?1) != 0", TOK_ATTR_SECRET, 0,
                 "erasing key values");
    if (rv == CKR_OK)
        rv = tok_object_seal_all(t);
    if (rv == CKR_OK)
        rv = tok_state_erased(t);
    if (rv == CKR_OK)
        rv = tok_objset_reset(t);
    if (rv == CKR_OK)
        rv = set_state(t, SOFTSE_LIFECYCLE_TERMINATED);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "lifecycle", audit ? audit : "terminated");
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    if (rv == CKR_OK)
        checkpoint(t);
    return rv;
}

CK_RV tok_reset(tok *t, const tok_id *keep, size_t count, const char *audit)
{
    CK_RV rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_state_event(t);
    if (rv == CKR_OK)
        rv = run(t, "CREATE TEMP TABLE IF NOT EXISTS keep_ids (id INTEGER PRIMARY KEY)", 0, 0,
                 "preparing a reset");
    if (rv == CKR_OK)
        rv = run(t, "DELETE FROM keep_ids", 0, 0, "preparing a reset");
    for (size_t i = 0; rv == CKR_OK && i < count; i++)
        rv = run(t, "INSERT OR IGNORE INTO keep_ids (id) VALUES (?1)", (sqlite3_int64)keep[i], 0,
                 "preparing a reset");
    static const char *const erase[] = {
        "DELETE FROM lookup WHERE object NOT IN (SELECT id FROM keep_ids)",
        "DELETE FROM attribute WHERE object NOT IN (SELECT id FROM keep_ids)",
        "DELETE FROM object WHERE id NOT IN (SELECT id FROM keep_ids)",
    };
    for (size_t i = 0; rv == CKR_OK && i < sizeof(erase) / sizeof(erase[0]); i++)
        rv = run(t, erase[i], 0, 0, "erasing objects on reset");
    if (rv == CKR_OK)
        rv = tok_objset_reset(t);
    if (rv == CKR_OK)
        rv = tok_state_erased(t);
    if (rv == CKR_OK)
        rv = set_state(t, SOFTSE_LIFECYCLE_PERSONALIZATION);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "lifecycle", audit ? audit : "reset");
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    if (rv == CKR_OK)
        checkpoint(t);
    return rv;
}

/* A counter row's MAC binds its value to its object and type (a count
 * moved to another key is refused); the state's total of all counters
 * (state.c) catches a row put back to an older value. */
static CK_RV counter_mac(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long value,
                         unsigned char mac[TOK_HASH_LEN])
{
    EVP_MAC_CTX *ctx;
    CK_RV rv = tok_mac_begin(t, "softse counter v2", &ctx);
    if (rv != CKR_OK)
        return rv;
    tok_mac_u64(ctx, id);
    tok_mac_u64(ctx, type);
    tok_mac_u64(ctx, value);
    return tok_mac_end(ctx, mac);
}

/* Inside a transaction that has checked the state. */
static CK_RV read_counter(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long *value)
{
    sqlite3_stmt *s = NULL;
    bool row;
    unsigned char mac[TOK_HASH_LEN];
    CK_RV rv = tok_stmt(t, STMT_COUNTER_GET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)type);
    rv = tok_step(t, s, &row, "reading a counter");
    *value = rv == CKR_OK && row ? (unsigned long)sqlite3_column_int64(s, 0) : 0;
    if (rv == CKR_OK && row) {
        rv = counter_mac(t, id, type, *value, mac);
        if (rv == CKR_OK && (sqlite3_column_bytes(s, 1) != TOK_HASH_LEN ||
                             CRYPTO_memcmp(sqlite3_column_blob(s, 1), mac, TOK_HASH_LEN) != 0)) {
            se_log(SE_LOG_ERROR, "token %s: the counter 0x%lx of object %llu fails "
                   "authentication: refused", t->path, (unsigned long)type,
                   (unsigned long long)id);
            rv = CKR_DEVICE_ERROR;
        }
    }
    sqlite3_reset(s);
    return rv;
}

CK_RV tok_counter_seal_all(tok *t)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, "SELECT object, type, value FROM counter", -1, &s, NULL);
    CK_RV rv = rc == SQLITE_OK ? CKR_OK : tok_db_error(t, rc, "sealing counters");
    while (rv == CKR_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        tok_id id = (tok_id)sqlite3_column_int64(s, 0);
        CK_ATTRIBUTE_TYPE type = (CK_ATTRIBUTE_TYPE)sqlite3_column_int64(s, 1);
        unsigned long value = (unsigned long)sqlite3_column_int64(s, 2);
        unsigned char mac[TOK_HASH_LEN];
        sqlite3_stmt *set;
        rv = counter_mac(t, id, type, value, mac);
        if (rv == CKR_OK)
            rv = tok_stmt(t, STMT_COUNTER_SET, &set);
        if (rv == CKR_OK) {
            sqlite3_bind_int64(set, 1, (sqlite3_int64)id);
            sqlite3_bind_int64(set, 2, (sqlite3_int64)type);
            sqlite3_bind_int64(set, 3, (sqlite3_int64)value);
            sqlite3_bind_blob(set, 4, mac, TOK_HASH_LEN, SQLITE_STATIC);
            rv = tok_step_done(t, set, "sealing counters");
        }
    }
    if (rv == CKR_OK && rc != SQLITE_DONE)
        rv = tok_db_error(t, rc, "sealing counters");
    sqlite3_finalize(s);
    return rv;
}

static CK_RV read_counter_checked(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type,
                                  unsigned long *value)
{
    CK_RV rv = tok_begin(t, false);
    if (rv == CKR_OK)
        rv = tok_state_check(t);
    if (rv == CKR_OK)
        rv = read_counter(t, id, type, value);
    tok_rollback(t);
    return rv;
}

/*
 * Every SK3 query reads its key's failure counter: the value is kept
 * while the store's data version says no other connection committed, and
 * forgotten at each commit of our own (tok_commit).  A counter that
 * another process increments is re-read on the next query.
 */
CK_RV tok_counter_get(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long *value)
{
    uint64_t version;
    if (t == NULL || value == NULL)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = tok_data_version(t, &version);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < TOK_COUNTER_CACHE; i++) {
        tok_counter_entry *e = &t->counters[i];
        if (e->valid && e->id == id && e->type == type && e->version == version) {
            *value = e->value;
            return CKR_OK;
        }
    }
    rv = read_counter_checked(t, id, type, value);
    if (rv == CKR_OK) {
        tok_counter_entry *e = &t->counters[t->counter_next++ % TOK_COUNTER_CACHE];
        *e = (tok_counter_entry){true, id, type, version, *value};
    }
    return rv;
}

CK_RV tok_counter_add(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long delta,
                      unsigned long *value, const char *audit)
{
    char detail[160];
    unsigned long old = 0;
    unsigned char mac[TOK_HASH_LEN];
    sqlite3_stmt *s;
    CK_RV rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_state_event(t); /* an older file must not give a try back */
    if (rv == CKR_OK)
        rv = read_counter(t, id, type, &old);
    *value = old + delta;
    if (rv == CKR_OK)
        rv = counter_mac(t, id, type, *value, mac);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_COUNTER_SET, &s);
    if (rv == CKR_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)type);
        sqlite3_bind_int64(s, 3, (sqlite3_int64)*value);
        sqlite3_bind_blob(s, 4, mac, TOK_HASH_LEN, SQLITE_STATIC);
        rv = tok_step_done(t, s, "counting");
    }
    if (rv == CKR_OK) {
        snprintf(detail, sizeof(detail), "object %llu count %lu%s%s", (unsigned long long)id,
                 *value, audit ? ": " : "", audit ? audit : "");
        rv = tok_audit_append_locked(t, "failure", detail);
    }
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    return rv;
}
