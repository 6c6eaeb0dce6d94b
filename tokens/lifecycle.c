/*
 * lifecycle.c — the store's part of SPEC.md §3: erasing key values when
 * a token is terminated, destroying all but the identity on reset, and
 * the persistent failure counters.  Each is one write transaction.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        rv = run(t, "DELETE FROM attribute WHERE (flags & ?1) != 0", TOK_ATTR_SECRET, 0,
                 "erasing key values");
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

static CK_RV read_counter(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long *value)
{
    sqlite3_stmt *s = NULL;
    bool row;
    CK_RV rv = tok_stmt(t, STMT_COUNTER_GET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)type);
    rv = tok_step(t, s, &row, "reading a counter");
    *value = rv == CKR_OK && row ? (unsigned long)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
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
    rv = read_counter(t, id, type, value);
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
    CK_RV rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = run(t,
                 "INSERT INTO counter (object, type, value) VALUES (?1, ?2, 0)"
                 " ON CONFLICT (object, type) DO NOTHING",
                 (sqlite3_int64)id, (sqlite3_int64)type, "creating a counter");
    if (rv == CKR_OK) {
        sqlite3_stmt *s = NULL;
        int rc = sqlite3_prepare_v2(t->db,
                                    "UPDATE counter SET value = value + ?3"
                                    " WHERE object = ?1 AND type = ?2",
                                    -1, &s, NULL);
        if (rc == SQLITE_OK) {
            sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)type);
            sqlite3_bind_int64(s, 3, (sqlite3_int64)delta);
            rc = sqlite3_step(s);
        }
        if (rc != SQLITE_DONE)
            rv = tok_db_error(t, rc, "counting");
        sqlite3_finalize(s);
    }
    if (rv == CKR_OK)
        rv = read_counter(t, id, type, value);
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
