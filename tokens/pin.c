/*
 * pin.c — PINs (docs/spec.md §7): the master key wrapped under a KEK derived
 * from each PIN, persistent retry counters, login, C_InitPIN, C_SetPIN
 * and C_InitToken on an initialized token.
 *
 * Counted PIN checks run inside BEGIN IMMEDIATE, so that two processes
 * cannot both spend the same try: the write lock is held from reading the
 * counter until the result (reset or increment plus its audit record) is
 * committed.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#define INFO_ENC "softse attribute encryption v1"
#define INFO_INDEX "softse lookup index v1"
#define INFO_CHECK "softse key check v1"
#define INFO_KEK "softse pin kek v2"
#define PIN_AAD_LABEL "softse-pin-v1"
#define PIN_AAD_LEN (sizeof(PIN_AAD_LABEL) - 1 + TOK_SERIAL_LEN + 1)
#define WRAPPED_LEN (TOK_MASTER_KEY_LEN + TOK_SEAL_OVERHEAD)

typedef struct pin_row {
    unsigned long failures, max_failures;
    bool has_pin;
    unsigned long iterations;
    unsigned char salt[TOK_SALT_LEN];
    unsigned char wrapped[WRAPPED_LEN];
} pin_row;

void tok_keys_clear(tok_keys *keys)
{
    if (keys)
        OPENSSL_cleanse(keys, sizeof(*keys));
}

static const char *user_name(CK_USER_TYPE user)
{
    return user == CKU_SO ? "SO" : "user";
}

CK_RV tok_keys_derive(tok *t, const unsigned char master[TOK_MASTER_KEY_LEN], tok_keys *keys,
                      unsigned char check[TOK_KEY_CHECK_LEN])
{
    CK_RV rv = CKR_OK;
    if (keys) {
        memcpy(keys->master, master, TOK_MASTER_KEY_LEN);
        rv = tok_hkdf(master, TOK_MASTER_KEY_LEN, t->serial, TOK_SERIAL_LEN, INFO_ENC, keys->enc,
                      sizeof(keys->enc));
        if (rv == CKR_OK)
            rv = tok_hkdf(master, TOK_MASTER_KEY_LEN, t->serial, TOK_SERIAL_LEN, INFO_INDEX,
                          keys->index, sizeof(keys->index));
    }
    if (rv == CKR_OK && check)
        rv = tok_hkdf(master, TOK_MASTER_KEY_LEN, t->serial, TOK_SERIAL_LEN, INFO_CHECK, check,
                      TOK_KEY_CHECK_LEN);
    if (rv != CKR_OK)
        tok_keys_clear(keys);
    return rv;
}

CK_RV tok_keys_current(tok *t, const tok_keys *keys)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool row;
    unsigned char check[TOK_KEY_CHECK_LEN];
    rv = tok_keys_derive(t, keys->master, NULL, check);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_TOKEN_KEY_CHECK, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the key check value");
    if (rv != CKR_OK)
        goto out;
    if (!row || sqlite3_column_bytes(s, 0) != TOK_KEY_CHECK_LEN) {
        se_log(SE_LOG_ERROR, "token %s: the token record is missing or damaged", t->path);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (CRYPTO_memcmp(sqlite3_column_blob(s, 0), check, TOK_KEY_CHECK_LEN) != 0) {
        se_log(SE_LOG_INFO, "token %s: keys from an earlier login (token re-initialized)", t->path);
        rv = CKR_USER_NOT_LOGGED_IN;
    }
out:
    if (s)
        sqlite3_reset(s);
    return rv;
}

static void pin_aad(const tok *t, CK_USER_TYPE user, unsigned char aad[PIN_AAD_LEN])
{
    size_t n = sizeof(PIN_AAD_LABEL) - 1;
    memcpy(aad, PIN_AAD_LABEL, n);
    memcpy(aad + n, t->serial, TOK_SERIAL_LEN);
    aad[n + TOK_SERIAL_LEN] = (unsigned char)user;
}

static CK_RV pin_read(tok *t, CK_USER_TYPE user, pin_row *pin)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool row;
    memset(pin, 0, sizeof(*pin));
    rv = tok_state_check(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_PIN_GET, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    rv = tok_step(t, s, &row, "reading the PIN record");
    if (rv != CKR_OK)
        goto out;
    if (!row) {
        se_log(SE_LOG_ERROR, "token %s: the %s PIN record is missing", t->path, user_name(user));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    pin->failures = (unsigned long)sqlite3_column_int64(s, 0);
    pin->max_failures = (unsigned long)sqlite3_column_int64(s, 1);
    pin->has_pin = sqlite3_column_type(s, 4) != SQLITE_NULL;
    if (!pin->has_pin)
        goto out;
    sqlite3_int64 iterations = sqlite3_column_int64(s, 2);
    if (iterations <= 0 || iterations > TOK_MAX_PIN_KDF_ITERATIONS ||
        sqlite3_column_bytes(s, 3) != TOK_SALT_LEN ||
        sqlite3_column_bytes(s, 4) != WRAPPED_LEN) {
        se_log(SE_LOG_ERROR, "token %s: the %s PIN record is damaged", t->path, user_name(user));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    pin->iterations = (unsigned long)iterations;
    memcpy(pin->salt, sqlite3_column_blob(s, 3), TOK_SALT_LEN);
    memcpy(pin->wrapped, sqlite3_column_blob(s, 4), WRAPPED_LEN);
out:
    if (s)
        sqlite3_reset(s);
    return rv;
}

/* A PIN's KEK needs the PIN and the device root key (docs/spec.md, "The
 * device root of trust", property 1): PBKDF2 of the PIN, then HKDF with
 * the token's DRK-derived wrap key.  Without the DRK a copied store
 * allows no offline guessing. */
static CK_RV pin_kek(tok *t, const CK_UTF8CHAR *pin, CK_ULONG pin_len, const unsigned char *salt,
                     unsigned long iterations, unsigned char kek[32])
{
    unsigned char stretched[32];
    CK_RV rv = tok_pbkdf2(pin, pin_len, salt, iterations, stretched);
    if (rv == CKR_OK)
        rv = tok_hkdf(stretched, sizeof(stretched), t->wrap_key, sizeof(t->wrap_key), INFO_KEK,
                      kek, 32);
    OPENSSL_cleanse(stretched, sizeof(stretched));
    return rv;
}

/* CKR_PIN_INCORRECT when the GCM tag does not verify under the PIN's KEK. */
static CK_RV pin_unwrap(tok *t, CK_USER_TYPE user, const pin_row *pin, const CK_UTF8CHAR *pin_value,
                        CK_ULONG pin_len, unsigned char master[TOK_MASTER_KEY_LEN])
{
    unsigned char kek[32], aad[PIN_AAD_LEN];
    pin_aad(t, user, aad);
    CK_RV rv = pin_kek(t, pin_value, pin_len, pin->salt, pin->iterations, kek);
    if (rv == CKR_OK)
        rv = tok_gcm_open(t, kek, aad, sizeof(aad), pin->wrapped, WRAPPED_LEN, master);
    if (rv == CKR_ENCRYPTED_DATA_INVALID)
        rv = CKR_PIN_INCORRECT;
    OPENSSL_cleanse(kek, sizeof(kek));
    return rv;
}

CK_RV tok_pin_wrap(tok *t, CK_USER_TYPE user, const unsigned char master[TOK_MASTER_KEY_LEN],
                   const CK_UTF8CHAR *pin, CK_ULONG pin_len, unsigned long iterations)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    unsigned char kek[32], aad[PIN_AAD_LEN], salt[TOK_SALT_LEN], wrapped[WRAPPED_LEN];
    pin_aad(t, user, aad);
    rv = tok_state_event(t); /* a PIN set or changed: an older file must not come back */
    if (rv == CKR_OK)
        rv = tok_random(salt, sizeof(salt));
    if (rv == CKR_OK)
        rv = pin_kek(t, pin, pin_len, salt, iterations, kek);
    if (rv == CKR_OK)
        rv = tok_gcm_seal(t, kek, aad, sizeof(aad), master, TOK_MASTER_KEY_LEN, wrapped);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_PIN_SET_WRAP, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    sqlite3_bind_int64(s, 2, (sqlite3_int64)iterations);
    sqlite3_bind_blob(s, 3, salt, sizeof(salt), SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, wrapped, sizeof(wrapped), SQLITE_STATIC);
    rv = tok_step_done(t, s, "storing a PIN");
    if (rv == CKR_OK && sqlite3_changes(t->db) != 1) {
        se_log(SE_LOG_ERROR, "token %s: the %s PIN record is missing", t->path, user_name(user));
        rv = CKR_DEVICE_ERROR;
    }
out:
    OPENSSL_cleanse(kek, sizeof(kek));
    return rv;
}

/* A failure is an event (an older file would give the try back); a reset
 * after a good PIN is not. */
static CK_RV pin_set_failures(tok *t, CK_USER_TYPE user, unsigned long failures)
{
    sqlite3_stmt *s;
    CK_RV rv = failures > 0 ? tok_state_event(t) : tok_state_touch(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_PIN_SET_FAILURES, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    sqlite3_bind_int64(s, 2, (sqlite3_int64)failures);
    return tok_step_done(t, s, "updating the PIN retry counter");
}

/*
 * Inside BEGIN IMMEDIATE: checks pin for user, counting a failure.
 * CKR_OK (master filled, counter reset), CKR_PIN_INCORRECT (counter
 * incremented, audit appended), CKR_PIN_LOCKED (not tried, audit
 * appended), CKR_USER_PIN_NOT_INITIALIZED.  After INCORRECT and LOCKED
 * the caller commits: see end_counted().
 */
static CK_RV pin_check(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin_value, CK_ULONG pin_len,
                       const char *operation, unsigned char master[TOK_MASTER_KEY_LEN])
{
    CK_RV rv;
    pin_row pin;
    char detail[128];
    rv = pin_read(t, user, &pin);
    if (rv != CKR_OK)
        goto out;
    if (!pin.has_pin) {
        if (user == CKU_USER) {
            rv = CKR_USER_PIN_NOT_INITIALIZED;
        } else {
            se_log(SE_LOG_ERROR, "token %s has no SO PIN", t->path);
            rv = CKR_DEVICE_ERROR;
        }
        goto out;
    }
    if (pin.failures >= pin.max_failures) {
        snprintf(detail, sizeof(detail), "%s: %s PIN locked after %lu failures", operation,
                 user_name(user), pin.failures);
        rv = tok_audit_append_locked(t, "pin-locked", detail);
        if (rv == CKR_OK)
            rv = CKR_PIN_LOCKED;
        goto out;
    }
    /* Before the PIN is tried: a wrong one must be countable (the root of
     * trust reachable, the file not rolled back), or it is not tried. */
    rv = tok_state_fresh(t);
    if (rv == CKR_OK)
        rv = pin_unwrap(t, user, &pin, pin_value, pin_len, master);
    if (rv == CKR_PIN_INCORRECT) {
        snprintf(detail, sizeof(detail), "%s: %s PIN incorrect (failure %lu of %lu)", operation,
                 user_name(user), pin.failures + 1, pin.max_failures);
        rv = pin_set_failures(t, user, pin.failures + 1);
        if (rv == CKR_OK)
            rv = tok_audit_append_locked(t, "pin-incorrect", detail);
        if (rv == CKR_OK)
            rv = CKR_PIN_INCORRECT;
        goto out;
    }
    if (rv == CKR_OK && pin.failures > 0)
        rv = pin_set_failures(t, user, 0);
out:
    OPENSSL_cleanse(&pin, sizeof(pin));
    if (rv != CKR_OK)
        OPENSSL_cleanse(master, TOK_MASTER_KEY_LEN);
    return rv;
}

/* A counted failure is committed before it is reported: a commit error
 * replaces it, so that no try is ever reported but not spent. */
static CK_RV end_counted(tok *t, CK_RV rv)
{
    if (rv != CKR_PIN_INCORRECT && rv != CKR_PIN_LOCKED)
        return rv;
    CK_RV commit = tok_commit(t);
    return commit == CKR_OK ? rv : commit;
}

static CK_RV check_user(CK_USER_TYPE user)
{
    return user == CKU_SO || user == CKU_USER ? CKR_OK : CKR_USER_TYPE_INVALID;
}

static CK_RV token_iterations(tok *t, unsigned long *iterations)
{
    sqlite3_stmt *s;
    bool row;
    CK_RV rv = tok_state_check(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_TOKEN_GET, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the token record");
    if (rv != CKR_OK)
        return rv;
    sqlite3_int64 value = row ? sqlite3_column_int64(s, 4) : 0;
    sqlite3_reset(s);
    if (value <= 0 || value > TOK_MAX_PIN_KDF_ITERATIONS) {
        se_log(SE_LOG_ERROR, "token %s: the token record is missing or damaged", t->path);
        return CKR_DEVICE_ERROR;
    }
    *iterations = (unsigned long)value;
    return CKR_OK;
}

CK_RV tok_login(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG pin_len, tok_keys *keys)
{
    CK_RV rv;
    unsigned char master[TOK_MASTER_KEY_LEN];
    if (t == NULL || keys == NULL || (pin == NULL && pin_len > 0))
        return CKR_ARGUMENTS_BAD;
    rv = check_user(user);
    if (rv == CKR_OK)
        rv = tok_begin(t, true);
    if (rv != CKR_OK)
        goto out;
    rv = end_counted(t, pin_check(t, user, pin, pin_len, "login", master));
    if (rv == CKR_OK)
        rv = tok_keys_derive(t, master, keys, NULL);
    if (rv == CKR_OK) {
        /* The wrap opened with this PIN, so a master key that does not
         * match the stored check value means the store was altered. */
        rv = tok_keys_current(t, keys);
        if (rv == CKR_USER_NOT_LOGGED_IN) {
            se_log(SE_LOG_ERROR, "token %s: the key check value does not match the master key",
                   t->path);
            rv = CKR_DEVICE_ERROR;
        }
    }
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    tok_rollback(t);
    OPENSSL_cleanse(master, sizeof(master));
    if (rv != CKR_OK)
        tok_keys_clear(keys);
    return rv;
}

CK_RV tok_init_pin(tok *t, const tok_keys *keys, const CK_UTF8CHAR *pin, CK_ULONG pin_len)
{
    CK_RV rv;
    unsigned long iterations = 0;
    if (t == NULL || keys == NULL || (pin == NULL && pin_len > 0))
        return CKR_ARGUMENTS_BAD;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_keys_current(t, keys);
    if (rv == CKR_OK)
        rv = token_iterations(t, &iterations);
    if (rv == CKR_OK)
        rv = tok_pin_wrap(t, CKU_USER, keys->master, pin, pin_len, iterations);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "user-pin-initialized", "user PIN set by the SO");
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    return rv;
}

CK_RV tok_set_pin(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                  const CK_UTF8CHAR *new_pin, CK_ULONG new_len)
{
    CK_RV rv;
    unsigned char master[TOK_MASTER_KEY_LEN];
    unsigned long iterations = 0;
    char detail[64];
    if (t == NULL || (old_pin == NULL && old_len > 0) || (new_pin == NULL && new_len > 0))
        return CKR_ARGUMENTS_BAD;
    rv = check_user(user);
    if (rv == CKR_OK)
        rv = tok_begin(t, true);
    if (rv != CKR_OK)
        goto out;
    rv = end_counted(t, pin_check(t, user, old_pin, old_len, "set-pin", master));
    if (rv == CKR_OK)
        rv = token_iterations(t, &iterations);
    if (rv == CKR_OK)
        rv = tok_pin_wrap(t, user, master, new_pin, new_len, iterations);
    snprintf(detail, sizeof(detail), "%s PIN changed", user_name(user));
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "pin-changed", detail);
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    tok_rollback(t);
    OPENSSL_cleanse(master, sizeof(master));
    return rv;
}

static CK_RV reset_pins(tok *t, const tok_params *params)
{
    static const CK_USER_TYPE users[] = {CKU_SO, CKU_USER};
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < ARRAY_SIZE(users) && rv == CKR_OK; i++) {
        pin_row old;
        unsigned long max =
            users[i] == CKU_SO ? params->so_max_failures : params->user_max_failures;
        rv = pin_read(t, users[i], &old);
        if (rv != CKR_OK)
            break;
        if (max == 0)
            max = old.max_failures ? old.max_failures : TOK_DEFAULT_MAX_FAILURES;
        OPENSSL_cleanse(&old, sizeof(old));
        sqlite3_stmt *s;
        rv = tok_stmt(t, STMT_PIN_RESET, &s);
        if (rv != CKR_OK)
            break;
        sqlite3_bind_int64(s, 1, TOK_PIN_ROW(users[i]));
        sqlite3_bind_int64(s, 2, (sqlite3_int64)max);
        rv = tok_step_done(t, s, "resetting a PIN record");
    }
    return rv;
}

static CK_RV erase_objects(tok *t)
{
    static const enum tok_stmt erase[] = {STMT_LOOKUP_DELETE_ALL, STMT_ATTR_DELETE_ALL,
                                          STMT_OBJECT_DELETE_ALL};
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < ARRAY_SIZE(erase) && rv == CKR_OK; i++) {
        sqlite3_stmt *s;
        rv = tok_stmt(t, erase[i], &s);
        if (rv == CKR_OK)
            rv = tok_step_done(t, s, "erasing objects");
    }
    return rv;
}

CK_RV tok_reinit(tok *t, const char label[TOK_LABEL_LEN], const CK_UTF8CHAR *so_pin,
                 CK_ULONG so_pin_len, const tok_params *params)
{
    CK_RV rv;
    unsigned char master[TOK_MASTER_KEY_LEN], check[TOK_KEY_CHECK_LEN];
    tok_params resolved = {0};
    char label_text[TOK_LABEL_LEN + 1], detail[TOK_LABEL_LEN + 16];
    sqlite3_stmt *s;
    if (t == NULL || label == NULL || (so_pin == NULL && so_pin_len > 0))
        return CKR_ARGUMENTS_BAD;
    if (params)
        resolved = *params;
    rv = tok_begin(t, true);
    if (rv != CKR_OK)
        goto out;
    rv = end_counted(t, pin_check(t, CKU_SO, so_pin, so_pin_len, "reinit", master));
    if (rv != CKR_OK)
        goto out;
    /* A new master key: whatever was sealed under the old one is gone
     * with the objects, and old wraps are overwritten (secure_delete). */
    if (resolved.pin_kdf_iterations == 0)
        rv = token_iterations(t, &resolved.pin_kdf_iterations);
    if (rv == CKR_OK)
        rv = tok_state_event(t);
    if (rv == CKR_OK)
        rv = erase_objects(t);
    if (rv == CKR_OK)
        rv = tok_state_erased(t);
    if (rv == CKR_OK)
        rv = tok_objset_reset(t);
    if (rv == CKR_OK)
        rv = reset_pins(t, &resolved);
    if (rv == CKR_OK)
        rv = tok_random(master, sizeof(master));
    if (rv == CKR_OK)
        rv = tok_keys_derive(t, master, NULL, check);
    if (rv == CKR_OK)
        rv = tok_pin_wrap(t, CKU_SO, master, so_pin, so_pin_len, resolved.pin_kdf_iterations);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_TOKEN_REINIT, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_blob(s, 1, label, TOK_LABEL_LEN, SQLITE_STATIC);
    sqlite3_bind_int(s, 2, SOFTSE_LIFECYCLE_PERSONALIZATION);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)resolved.pin_kdf_iterations);
    sqlite3_bind_blob(s, 4, check, sizeof(check), SQLITE_STATIC);
    rv = tok_step_done(t, s, "re-initializing the token record");
    tok_label_text(label, label_text);
    snprintf(detail, sizeof(detail), "label \"%s\"", label_text);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "token-reinitialized", detail);
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    tok_rollback(t);
    OPENSSL_cleanse(master, sizeof(master));
    return rv;
}
