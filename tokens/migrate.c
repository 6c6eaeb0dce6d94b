/*
 * migrate.c — store format 1 (before the device root of trust) to format 2
 * (docs/spec.md, "The device root of trust"): with both PINs the master
 * key is unwrapped the old way (PBKDF2 alone), the new columns are added,
 * the token is bound to this process's root of trust and a fresh counter,
 * the PINs are wrapped again under KEKs that need the DRK, and every
 * object and counter gets its MAC.  One transaction: a failure leaves the
 * file as it was.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

static const char *const add_columns[] = {
    "ALTER TABLE token ADD COLUMN rot TEXT",
    "ALTER TABLE token ADD COLUMN rot_id BLOB",
    "ALTER TABLE token ADD COLUMN counter_id INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN counter_base INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN audit_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN counters_total INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN objects_sum BLOB",
    "ALTER TABLE token ADD COLUMN anchored_seq INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN erasures INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE token ADD COLUMN mac BLOB",
    "ALTER TABLE object ADD COLUMN version INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE object ADD COLUMN mac BLOB",
    "ALTER TABLE counter ADD COLUMN mac BLOB",
};

static CK_RV query_int(tok *t, const char *sql, sqlite3_int64 *value)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    CK_RV rv = rc == SQLITE_ROW ? CKR_OK : tok_db_error(t, rc, sql);
    sqlite3_finalize(s);
    return rv;
}

static CK_RV read_serial_v1(tok *t)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, "SELECT serial FROM token WHERE id = 1", -1, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    CK_RV rv = CKR_OK;
    if (rc != SQLITE_ROW || sqlite3_column_bytes(s, 0) != TOK_SERIAL_LEN) {
        se_log(SE_LOG_ERROR, "token %s: no token record to migrate", t->path);
        rv = CKR_DEVICE_ERROR;
    } else {
        memcpy(t->serial, sqlite3_column_text(s, 0), TOK_SERIAL_LEN);
    }
    sqlite3_finalize(s);
    return rv;
}

/* The format-1 unwrap: KEK = PBKDF2 of the PIN.  *has_pin false when the
 * user has none (nothing to check). */
static CK_RV unwrap_v1(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                       unsigned char master[TOK_MASTER_KEY_LEN], unsigned long *iterations,
                       bool *has_pin)
{
    sqlite3_stmt *s = NULL;
    unsigned char kek[32], aad[13 + TOK_SERIAL_LEN + 1];
    CK_RV rv = tok_stmt(t, STMT_PIN_GET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    bool row;
    rv = tok_step(t, s, &row, "reading a PIN record");
    *has_pin = rv == CKR_OK && row && sqlite3_column_type(s, 4) != SQLITE_NULL;
    if (rv != CKR_OK || !*has_pin)
        goto out;
    sqlite3_int64 n = sqlite3_column_int64(s, 2);
    if (n <= 0 || n > TOK_MAX_PIN_KDF_ITERATIONS || sqlite3_column_bytes(s, 3) != TOK_SALT_LEN ||
        sqlite3_column_bytes(s, 4) != TOK_MASTER_KEY_LEN + TOK_SEAL_OVERHEAD) {
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    *iterations = (unsigned long)n;
    if (pin == NULL) {
        rv = CKR_PIN_INCORRECT;
        goto out;
    }
    memcpy(aad, "softse-pin-v1", 13);
    memcpy(aad + 13, t->serial, TOK_SERIAL_LEN);
    aad[13 + TOK_SERIAL_LEN] = (unsigned char)user;
    rv = tok_pbkdf2(pin, pin_len, sqlite3_column_blob(s, 3), *iterations, kek);
    if (rv == CKR_OK)
        rv = tok_gcm_open(t, kek, aad, sizeof(aad), sqlite3_column_blob(s, 4),
                          (size_t)sqlite3_column_bytes(s, 4), master);
    if (rv == CKR_ENCRYPTED_DATA_INVALID)
        rv = CKR_PIN_INCORRECT;
out:
    OPENSSL_cleanse(kek, sizeof(kek));
    sqlite3_reset(s);
    return rv;
}

/* Both PINs open the same master key (the user's when it has a PIN). */
static CK_RV unwrap_both(tok *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                         const CK_UTF8CHAR *user_pin, CK_ULONG user_len,
                         unsigned char master[TOK_MASTER_KEY_LEN], unsigned long iterations[2],
                         bool *user_has_pin)
{
    unsigned char other[TOK_MASTER_KEY_LEN];
    bool so_has_pin;
    CK_RV rv = unwrap_v1(t, CKU_SO, so_pin, so_len, master, &iterations[0], &so_has_pin);
    if (rv == CKR_OK && !so_has_pin)
        rv = CKR_DEVICE_ERROR;
    if (rv == CKR_OK)
        rv = unwrap_v1(t, CKU_USER, user_pin, user_len, other, &iterations[1], user_has_pin);
    if (rv == CKR_OK && *user_has_pin && CRYPTO_memcmp(master, other, TOK_MASTER_KEY_LEN) != 0)
        rv = CKR_DEVICE_ERROR;
    OPENSSL_cleanse(other, sizeof(other));
    return rv;
}

static CK_RV migrate_locked(tok *t, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                            const CK_UTF8CHAR *user_pin, CK_ULONG user_len)
{
    unsigned char master[TOK_MASTER_KEY_LEN];
    unsigned long iterations[2] = {0, 0};
    bool user_has_pin = false;
    CK_RV rv = unwrap_both(t, so_pin, so_len, user_pin, user_len, master, iterations,
                           &user_has_pin);
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(add_columns); i++)
        rv = tok_exec(t, add_columns[i], "adding the root-of-trust columns");
    if (rv == CKR_OK)
        rv = tok_state_init(t);
    if (rv == CKR_OK)
        rv = tok_pin_wrap(t, CKU_SO, master, so_pin, so_len, iterations[0]);
    if (rv == CKR_OK && user_has_pin)
        rv = tok_pin_wrap(t, CKU_USER, master, user_pin, user_len, iterations[1]);
    if (rv == CKR_OK)
        rv = tok_object_seal_all(t);
    if (rv == CKR_OK)
        rv = tok_counter_seal_all(t);
    if (rv == CKR_OK)
        rv = tok_objset_reset(t);
    if (rv == CKR_OK)
        rv = tok_exec(t, "PRAGMA user_version = 2", "marking the store format");
    if (rv == CKR_OK)
        rv = tok_audit_append_at(t, NULL, "token-migrated",
                                 "store format 1 -> 2: bound to the device root of trust");
    OPENSSL_cleanse(master, sizeof(master));
    return rv;
}

CK_RV tok_migrate(const char *path, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                  const CK_UTF8CHAR *user_pin, CK_ULONG user_len)
{
    if (path == NULL || (so_pin == NULL && so_len > 0) || (user_pin == NULL && user_len > 0))
        return CKR_ARGUMENTS_BAD;
    tok *t = tok_new(path);
    if (t == NULL)
        return CKR_HOST_MEMORY;
    sqlite3_int64 version = 0;
    CK_RV rv = tok_db_open(t, false);
    if (rv == CKR_OK)
        rv = query_int(t, "PRAGMA user_version", &version);
    if (rv == CKR_OK && version != TOK_SCHEMA_VERSION_NO_ROT) {
        se_log(SE_LOG_ERROR, "token %s has store format %lld: nothing to migrate", path,
               (long long)version);
        rv = CKR_FUNCTION_REJECTED;
    }
    if (rv == CKR_OK)
        rv = read_serial_v1(t);
    if (rv == CKR_OK)
        rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = migrate_locked(t, so_pin, so_len, user_pin, user_len);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    if (rv != CKR_OK && t->state.counter_id && t->rot)
        rot_counter_free(t->rot, t->state.counter_id);
    tok_close(t);
    return rv;
}
