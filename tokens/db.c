/*
 * db.c — the SQLite side of the token store: schema, configuration,
 * the prepared-statement cache, transactions and error mapping.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <string.h>

/*
 * Schema version 1.  Attribute values and lookup keys are written by
 * object.c / seal.c; everything secret is sealed before it gets here.
 *   token      one row: identity, label, lifecycle, KDF cost for new wraps,
 *              and a check value (HKDF of the master key) to detect stale keys
 *   pin        one row per user type (CKU_SO, CKU_USER): retry counter and
 *              the master key wrapped under that PIN (NULL: no PIN set)
 *   object     ids are AUTOINCREMENT so that a destroyed id is never reused
 *   attribute  one row per attribute; sealed = nonce ‖ ciphertext ‖ tag
 *   lookup     (type, key) → object for LOOKUP attributes; the primary key
 *              is the index that tok_object_find searches
 *   audit      append-only hash chain (audit.c)
 */
static const char schema_sql[] =
    "CREATE TABLE token ("
    " id INTEGER PRIMARY KEY CHECK (id = 1),"
    " serial TEXT NOT NULL CHECK (length(serial) = 16),"
    " label BLOB NOT NULL CHECK (length(label) = 32),"
    " created INTEGER NOT NULL," /* microseconds since the epoch */
    " lifecycle INTEGER NOT NULL,"
    " pin_kdf_iterations INTEGER NOT NULL,"
    " key_check BLOB NOT NULL,"
    /* the root of trust (state.c) */
    " rot TEXT,"
    " rot_id BLOB,"
    " counter_id INTEGER NOT NULL DEFAULT 0,"
    " counter_base INTEGER NOT NULL DEFAULT 0,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " audit_seq INTEGER NOT NULL DEFAULT 0,"
    " counters_total INTEGER NOT NULL DEFAULT 0,"
    " objects_sum BLOB,"
    " anchored_seq INTEGER NOT NULL DEFAULT 0,"
    " erasures INTEGER NOT NULL DEFAULT 0,"
    " mac BLOB);"
    "CREATE TABLE pin ("
    " user INTEGER PRIMARY KEY,"
    " failures INTEGER NOT NULL DEFAULT 0,"
    " max_failures INTEGER NOT NULL,"
    " kdf_iterations INTEGER,"
    " salt BLOB,"
    " wrapped BLOB);"
    "CREATE TABLE object ("
    " id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " private INTEGER NOT NULL,"
    " version INTEGER NOT NULL DEFAULT 0,"
    " mac BLOB);"
    "CREATE INDEX object_by_private ON object (private);"
    "CREATE TABLE attribute ("
    " object INTEGER NOT NULL REFERENCES object (id),"
    " type INTEGER NOT NULL,"
    " flags INTEGER NOT NULL,"
    " sealed INTEGER NOT NULL,"
    " value BLOB NOT NULL,"
    " PRIMARY KEY (object, type)) WITHOUT ROWID;"
    "CREATE TABLE lookup ("
    " type INTEGER NOT NULL,"
    " key BLOB NOT NULL,"
    " object INTEGER NOT NULL REFERENCES object (id),"
    " PRIMARY KEY (type, key, object)) WITHOUT ROWID;"
    "CREATE INDEX lookup_by_object ON lookup (object);"
    "CREATE TABLE counter ("
    " object INTEGER NOT NULL REFERENCES object (id) ON DELETE CASCADE,"
    " type INTEGER NOT NULL,"
    " value INTEGER NOT NULL,"
    " mac BLOB,"
    " PRIMARY KEY (object, type)) WITHOUT ROWID;"
    "CREATE TABLE audit ("
    " seq INTEGER PRIMARY KEY,"
    " time TEXT NOT NULL,"
    " event TEXT NOT NULL,"
    " detail TEXT NOT NULL,"
    " prev_hash BLOB NOT NULL,"
    " hash BLOB NOT NULL);";

static const char *const stmt_sql[STMT_COUNT] = {
    [STMT_BEGIN] = "BEGIN",
    [STMT_BEGIN_IMMEDIATE] = "BEGIN IMMEDIATE",
    [STMT_COMMIT] = "COMMIT",
    [STMT_ROLLBACK] = "ROLLBACK",
    [STMT_TOKEN_GET] = "SELECT serial, label, created, lifecycle, pin_kdf_iterations, erasures"
                       " FROM token WHERE id = 1",
    [STMT_TOKEN_KEY_CHECK] = "SELECT key_check FROM token WHERE id = 1",
    [STMT_TOKEN_SET_LIFECYCLE] = "UPDATE token SET lifecycle = ?1 WHERE id = 1",
    [STMT_TOKEN_REINIT] = "UPDATE token SET label = ?1, lifecycle = ?2, pin_kdf_iterations = ?3,"
                          " key_check = ?4 WHERE id = 1",
    [STMT_PIN_GET] = "SELECT failures, max_failures, kdf_iterations, salt, wrapped"
                     " FROM pin WHERE user = ?1",
    [STMT_PIN_SET_FAILURES] = "UPDATE pin SET failures = ?2 WHERE user = ?1",
    [STMT_PIN_SET_WRAP] = "UPDATE pin SET failures = 0, kdf_iterations = ?2, salt = ?3,"
                          " wrapped = ?4 WHERE user = ?1",
    [STMT_PIN_RESET] = "INSERT INTO pin (user, failures, max_failures) VALUES (?1, 0, ?2)"
                       " ON CONFLICT (user) DO UPDATE SET failures = 0,"
                       " max_failures = excluded.max_failures,"
                       " kdf_iterations = NULL, salt = NULL, wrapped = NULL",
    [STMT_OBJECT_INSERT] = "INSERT INTO object (private) VALUES (?1)",
    [STMT_OBJECT_GET] = "SELECT private, version, mac FROM object WHERE id = ?1",
    [STMT_OBJECT_SET_PRIVATE] = "UPDATE object SET private = ?2 WHERE id = ?1",
    [STMT_OBJECT_DELETE] = "DELETE FROM object WHERE id = ?1",
    [STMT_OBJECT_DELETE_ALL] = "DELETE FROM object",
    [STMT_OBJECT_ALL] = "SELECT id FROM object ORDER BY id",
    [STMT_OBJECT_ALL_PUBLIC] = "SELECT id FROM object WHERE private = 0 ORDER BY id",
    [STMT_ATTR_INSERT] = "INSERT INTO attribute (object, type, flags, sealed, value)"
                         " VALUES (?1, ?2, ?3, ?4, ?5)",
    [STMT_ATTR_LIST] = "SELECT type, flags, sealed, value FROM attribute"
                       " WHERE object = ?1 ORDER BY type",
    [STMT_ATTR_DELETE] = "DELETE FROM attribute WHERE object = ?1",
    [STMT_ATTR_DELETE_ALL] = "DELETE FROM attribute",
    [STMT_LOOKUP_INSERT] = "INSERT INTO lookup (type, key, object) VALUES (?1, ?2, ?3)",
    [STMT_LOOKUP_DELETE] = "DELETE FROM lookup WHERE object = ?1",
    [STMT_LOOKUP_DELETE_ALL] = "DELETE FROM lookup",
    [STMT_LOOKUP_ESTIMATE] = "SELECT count(*) FROM (SELECT 1 FROM lookup"
                             " WHERE type = ?1 AND key IN (?2, ?3) LIMIT 64)",
    [STMT_AUDIT_LAST] = "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
    [STMT_AUDIT_INSERT] = "INSERT INTO audit (seq, time, event, detail, prev_hash, hash)"
                          " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    [STMT_AUDIT_LIST] = "SELECT seq, time, event, detail, prev_hash, hash FROM audit"
                        " ORDER BY seq",
    [STMT_DATA_VERSION] = "PRAGMA data_version",
    [STMT_COUNTER_GET] = "SELECT value, mac FROM counter WHERE object = ?1 AND type = ?2",
    [STMT_STATE_TOKEN] = "SELECT serial, label, created, lifecycle, pin_kdf_iterations, key_check,"
                         " id, rot, rot_id, counter_id, counter_base, version, audit_seq,"
                         " counters_total, objects_sum, anchored_seq, erasures, mac FROM token"
                         " WHERE id = 1",
    [STMT_STATE_PINS] = "SELECT user, failures, max_failures, kdf_iterations, salt, wrapped"
                        " FROM pin ORDER BY user",
    [STMT_STATE_BUMP] = "UPDATE token SET version = version + 1 WHERE id = 1",
    [STMT_STATE_DERIVED] = "UPDATE token SET audit_seq = ?1, counters_total = ?2,"
                           " anchored_seq = CASE WHEN ?3 THEN ?1 ELSE anchored_seq END"
                           " WHERE id = 1",
    [STMT_STATE_SET_MAC] = "UPDATE token SET mac = ?1 WHERE id = 1",
    [STMT_STATE_SET_OBJECTS] = "UPDATE token SET objects_sum = ?1 WHERE id = 1",
    [STMT_OBJECT_VERSIONS] = "SELECT id, version FROM object",
    [STMT_OBJECT_SET_MAC] = "UPDATE object SET version = ?2, mac = ?3 WHERE id = ?1",
    [STMT_COUNTER_SET] = "INSERT INTO counter (object, type, value, mac) VALUES (?1, ?2, ?3, ?4)"
                         " ON CONFLICT (object, type) DO UPDATE SET value = excluded.value,"
                         " mac = excluded.mac",
};

CK_RV tok_db_error(tok *t, int rc, const char *what)
{
    const char *message = t->db ? sqlite3_errmsg(t->db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        se_log(SE_LOG_ERROR, "token %s: %s: busy for more than %d ms (%s)", t->path, what,
               TOK_BUSY_TIMEOUT_MS, message);
        return CKR_FUNCTION_FAILED;
    case SQLITE_NOMEM:
        se_log(SE_LOG_ERROR, "token %s: %s: out of memory", t->path, what);
        return CKR_HOST_MEMORY;
    case SQLITE_TOOBIG:
        se_log(SE_LOG_ERROR, "token %s: %s: value too large for the store", t->path, what);
        return CKR_DEVICE_MEMORY;
    case SQLITE_FULL:
        se_log(SE_LOG_ERROR, "token %s: %s: disk full (%s)", t->path, what, message);
        return CKR_DEVICE_MEMORY;
    case SQLITE_NOTADB:
        se_log(SE_LOG_ERROR, "token %s is not a softse token database (%s: %s)", t->path, what,
               message);
        return CKR_DEVICE_ERROR;
    case SQLITE_CORRUPT:
        se_log(SE_LOG_ERROR, "token %s is damaged (%s: %s)", t->path, what, message);
        return CKR_DEVICE_ERROR;
    default:
        se_log(SE_LOG_ERROR, "token %s: %s: %s", t->path, what, message);
        return CKR_DEVICE_ERROR;
    }
}

CK_RV tok_stmt(tok *t, enum tok_stmt id, sqlite3_stmt **out)
{
    sqlite3_stmt **slot = &t->stmts[id];
    if (*slot == NULL) {
        int rc = sqlite3_prepare_v3(t->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, slot, NULL);
        if (rc != SQLITE_OK) {
            *slot = NULL;
            return tok_db_error(t, rc, "preparing a statement");
        }
    } else {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
    }
    *out = *slot;
    return CKR_OK;
}

CK_RV tok_step(tok *t, sqlite3_stmt *s, bool *row, const char *what)
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *row = true;
        return CKR_OK;
    }
    *row = false;
    if (rc == SQLITE_DONE)
        return CKR_OK;
    CK_RV rv = tok_db_error(t, rc, what);
    sqlite3_reset(s);
    return rv;
}

CK_RV tok_step_done(tok *t, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    CK_RV rv = CKR_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) {
        /* The one constraint a caller can hit: an attribute type twice. */
        se_log(SE_LOG_ERROR, "token %s: %s: %s", t->path, what, sqlite3_errmsg(t->db));
        rv = CKR_TEMPLATE_INCONSISTENT;
    } else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        rv = tok_db_error(t, rc, what);
    }
    sqlite3_reset(s);
    return rv;
}

CK_RV tok_bind_blob(tok *t, sqlite3_stmt *s, int index, const void *data, size_t len)
{
    /* A NULL pointer would bind SQL NULL; an empty value is an empty blob. */
    int rc = sqlite3_bind_blob64(s, index, len ? data : "", len, SQLITE_STATIC);
    return rc == SQLITE_OK ? CKR_OK : tok_db_error(t, rc, "binding a value");
}

static CK_RV run(tok *t, enum tok_stmt id, const char *what)
{
    sqlite3_stmt *s = NULL;
    CK_RV rv = tok_stmt(t, id, &s);
    if (rv == CKR_OK)
        rv = tok_step_done(t, s, what);
    return rv;
}

CK_RV tok_begin(tok *t, bool immediate)
{
    /* SQLite in WAL mode goes on writing to a file deleted under it, and
     * the writes would be lost without a word: a write transaction first
     * checks that the file is still there (one stat beside a commit). */
    if (immediate && t->file_ino != 0 && tok_file_removed(t)) {
        se_log(SE_LOG_ERROR, "token %s: the file was deleted or replaced while open", t->path);
        return CKR_DEVICE_REMOVED;
    }
    t->state_checked = t->state_dirty = t->anchor_pending = t->state_fresh = false;
    return run(t, immediate ? STMT_BEGIN_IMMEDIATE : STMT_BEGIN, "starting a transaction");
}

CK_RV tok_commit(tok *t)
{
    /* The state is sealed last, over everything this transaction wrote. */
    CK_RV rv = t->state_dirty ? tok_state_seal(t) : CKR_OK;
    if (rv == CKR_OK)
        rv = run(t, STMT_COMMIT, "committing");
    if (rv != CKR_OK) {
        tok_rollback(t);
    } else {
        tok_spool_committed(t, true);
        tok_state_end(t, true);
    }
    /* Our own commits do not move the data version: cached counters go. */
    memset(t->counters, 0, sizeof(t->counters));
    return rv;
}

void tok_rollback(tok *t)
{
    tok_spool_committed(t, false);
    tok_state_end(t, false);
    /* Some errors (IOERR, FULL, NOMEM) have already rolled back. */
    if (sqlite3_get_autocommit(t->db))
        return;
    sqlite3_stmt *s = NULL;
    if (tok_stmt(t, STMT_ROLLBACK, &s) == CKR_OK) {
        sqlite3_step(s);
        sqlite3_reset(s);
    }
}

CK_RV tok_exec(tok *t, const char *sql, const char *what)
{
    int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CKR_OK : tok_db_error(t, rc, what);
}

/* Runs a pragma that returns one value and gives it as an integer. */
static CK_RV pragma_int(tok *t, const char *sql, sqlite3_int64 *value)
{
    sqlite3_stmt *s = NULL;
    CK_RV rv;
    int rc = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rv = tok_db_error(t, rc, "reading the database header");
        goto out;
    }
    rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rv = tok_db_error(t, rc, "reading the database header");
        goto out;
    }
    *value = sqlite3_column_int64(s, 0);
    rv = CKR_OK;
out:
    sqlite3_finalize(s);
    return rv;
}

CK_RV tok_db_open(tok *t, bool create)
{
    CK_RV rv;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX;
    if (create)
        flags |= SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(t->path, &t->db, flags, NULL);
    if (rc != SQLITE_OK) {
        rv = tok_db_error(t, rc, "opening");
        goto out;
    }
    sqlite3_busy_timeout(t->db, TOK_BUSY_TIMEOUT_MS);
    /* The file may come from anywhere: no schema tricks, no triggers or
     * views running functions, no writable schema. */
    sqlite3_db_config(t->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(t->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    sqlite3_db_config(t->db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
    sqlite3_db_config(t->db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
    /* A new file's page size is set before anything, transactions
     * included, touches it. */
    if (create) {
        char pragma[48];
        snprintf(pragma, sizeof(pragma), "PRAGMA page_size = %d", TOK_PAGE_SIZE);
        rv = tok_exec(t, pragma, "setting the page size");
        if (rv != CKR_OK)
            goto out;
    }
    /* secure_delete: freed pages (old wraps, destroyed objects) are zeroed. */
    rv = tok_exec(t,
                  "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
                  " PRAGMA secure_delete = ON",
                  "configuring the connection");
out:
    return rv;
}

CK_RV tok_db_create_schema(tok *t)
{
    char header[128];
    snprintf(header, sizeof(header), "PRAGMA application_id = %d; PRAGMA user_version = %d;",
             TOK_APPLICATION_ID, TOK_SCHEMA_VERSION);
    CK_RV rv = tok_exec(t, header, "writing the database header");
    if (rv == CKR_OK)
        rv = tok_exec(t, schema_sql, "creating the schema");
    return rv;
}

CK_RV tok_db_check_schema(tok *t)
{
    sqlite3_int64 application_id = 0, version = 0;
    /* Reading the header is the first access: a file that is not SQLite
     * at all fails here with "file is not a database". */
    CK_RV rv = pragma_int(t, "PRAGMA application_id", &application_id);
    if (rv != CKR_OK) {
        se_log(SE_LOG_ERROR, "token %s is not a softse token database or is damaged", t->path);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (application_id != TOK_APPLICATION_ID) {
        se_log(SE_LOG_ERROR, "token %s is not a softse token database (application id 0x%llx)",
               t->path, (unsigned long long)application_id);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    rv = pragma_int(t, "PRAGMA user_version", &version);
    if (rv != CKR_OK)
        goto out;
    if (version == TOK_SCHEMA_VERSION_NO_ROT) {
        se_log(SE_LOG_ERROR,
               "token %s was written by an earlier softse (store format 1, before the device "
               "root of trust); migrate it with: softse-tool migrate --serial %.16s --so-pin … "
               "[--pin …]",
               t->path, strrchr(t->path, '/') ? strrchr(t->path, '/') + 1 : t->path);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (version != TOK_SCHEMA_VERSION) {
        se_log(SE_LOG_ERROR, "token %s has store schema version %lld; this softse reads %d",
               t->path, (long long)version, TOK_SCHEMA_VERSION);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    /* Ours already; confirms WAL (and fails on a read-only file). */
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, "PRAGMA journal_mode = WAL", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    if (rc != SQLITE_ROW) {
        rv = tok_db_error(t, rc, "switching to WAL");
    } else if (strcmp((const char *)sqlite3_column_text(s, 0), "wal") != 0) {
        se_log(SE_LOG_ERROR, "token %s: cannot use WAL journaling (journal mode %s)", t->path,
               (const char *)sqlite3_column_text(s, 0));
        rv = CKR_DEVICE_ERROR;
    }
    sqlite3_finalize(s);
out:
    return rv;
}

void tok_db_close(tok *t)
{
    for (size_t i = 0; i < STMT_COUNT; i++)
        sqlite3_finalize(t->stmts[i]);
    for (size_t k = 0; k < 2; k++)
        for (size_t i = 0; i <= TOK_FIND_CACHED; i++)
            sqlite3_finalize(t->find_stmts[k][i]);
    sqlite3_finalize(t->audit_batch);
    t->audit_batch = NULL;
    memset(t->stmts, 0, sizeof(t->stmts));
    memset(t->find_stmts, 0, sizeof(t->find_stmts));
    sqlite3_close_v2(t->db);
    t->db = NULL;
    t->db_file = NULL;
}

/*
 * The first match attribute drives (a search of the lookup primary key
 * (type, key, object)); every other one is probed per candidate with the
 * full primary key.  tok_object_find puts the most selective attribute
 * first, so the cost follows the smallest candidate set, not the largest.
 * Parameters: ?(3i+1) type, ?(3i+2) plain key, ?(3i+3) hashed key (with
 * keys only).
 */
char *tok_find_sql(size_t count, bool with_keys)
{
    sqlite3_str *sql = sqlite3_str_new(NULL);
    for (size_t i = 0; i < count; i++) {
        int n = (int)(3 * i);
        if (i == 0)
            sqlite3_str_appendf(sql, "SELECT object FROM lookup WHERE type = ?%d AND ", n + 1);
        else
            sqlite3_str_appendf(sql,
                                " AND EXISTS (SELECT 1 FROM lookup AS probe WHERE"
                                " probe.object = lookup.object AND probe.type = ?%d AND probe.",
                                n + 1);
        if (with_keys)
            sqlite3_str_appendf(sql, "key IN (?%d, ?%d)", n + 2, n + 3);
        else
            sqlite3_str_appendf(sql, "key = ?%d", n + 2);
        if (i > 0)
            sqlite3_str_appendall(sql, ")");
    }
    sqlite3_str_appendall(sql, " ORDER BY object");
    return sqlite3_str_finish(sql);
}
