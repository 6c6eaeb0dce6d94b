/*
 * state.c — the token's authenticated state (docs/spec.md, "The device
 * root of trust"): the token record, both PIN records, the failure
 * counters' total and the audit log's head, MACed together under a key
 * derived from the device root key (DRK), and the token's version tied to
 * a monotonic counter of the root-of-trust provider.
 *
 * The rule that keeps an edit from being laundered into a valid MAC: a
 * write transaction checks the state before it changes any of it
 * (tok_state_touch), and tok_commit seals the new state.  Events that a
 * rollback would undo (tok_state_event: a failed login, a PIN change, an
 * object destroyed or updated, a lifecycle move, a counted failure) raise
 * the version; after the commit the provider's counter is raised to it.
 * A file whose version is below the counter is an older copy: refused.
 * A file above the counter is a process killed between the commit and
 * the raise: the counter catches up.
 */
#include "tok_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>

#define TOKEN_KEY_LABEL "softse token key v2"
#define INFO_STATE "softse state mac v2"
#define INFO_WRAP "softse pin wrap v2"
#define INFO_SET "softse object set v2"
#define STATE_DOMAIN "softse token state v2"

/* ---- the process's root of trust ---------------------------------------- */

static pthread_mutex_t rot_lock = PTHREAD_MUTEX_INITIALIZER;
static rot *rot_instance;
static pid_t rot_pid;
static char *rot_settings[3]; /* provider, dir, tcti as configured (NULL: default) */
/* A forked child's parent's provider: not used (a TPM connection is the
 * parent's), not closed, kept reachable. */
static rot *volatile rot_inherited; /* volatile: written only, kept anyway */

static char *default_rot_dir(void)
{
    char *dir = NULL;
    const char *xdg = getenv("XDG_CONFIG_HOME");
    const char *home = getenv("HOME");
    if (xdg && *xdg) {
        if (asprintf(&dir, "%s/softse/rot", xdg) < 0)
            dir = NULL;
    } else if (home && *home) {
        if (asprintf(&dir, "%s/.config/softse/rot", home) < 0)
            dir = NULL;
    }
    return dir;
}

static const char *setting(int i, const char *env)
{
    if (rot_settings[i])
        return rot_settings[i];
    const char *value = getenv(env);
    return value && *value ? value : NULL;
}

CK_RV tok_rot_configure(const char *provider, const char *dir, const char *tcti)
{
    const char *values[3] = {provider, dir, tcti};
    pthread_mutex_lock(&rot_lock);
    for (int i = 0; i < 3; i++) {
        free(rot_settings[i]);
        rot_settings[i] = values[i] ? strdup(values[i]) : NULL;
    }
    /* The next use opens the provider as now configured. */
    if (rot_instance && rot_pid == getpid())
        rot_close(rot_instance);
    else if (rot_instance)
        rot_inherited = rot_instance;
    rot_instance = NULL;
    pthread_mutex_unlock(&rot_lock);
    return CKR_OK;
}

void tok_rot_release(void)
{
    pthread_mutex_lock(&rot_lock);
    /* A forked child does not close its parent's provider: a TPM
     * connection is the parent's to end. */
    if (rot_instance && rot_pid == getpid())
        rot_close(rot_instance);
    else if (rot_instance)
        rot_inherited = rot_instance;
    rot_instance = NULL;
    /* The settings go too: a module unloaded after C_Finalize leaves
     * nothing allocated (the next C_Initialize configures again). */
    for (int i = 0; i < 3; i++) {
        free(rot_settings[i]);
        rot_settings[i] = NULL;
    }
    pthread_mutex_unlock(&rot_lock);
}

CK_RV tok_rot_get(rot **out)
{
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&rot_lock);
    if (rot_instance && rot_pid != getpid()) {
        rot_inherited = rot_instance; /* the parent's (see tok_rot_release) */
        rot_instance = NULL;
    }
    if (!rot_instance) {
        char *fallback = NULL;
        rot_config cfg = {
            .provider = setting(0, "SOFTSE_ROT_PROVIDER"),
            .dir = setting(1, "SOFTSE_ROT_DIR"),
            .tcti = setting(2, "SOFTSE_ROT_TCTI"),
        };
        if (!cfg.dir)
            cfg.dir = fallback = default_rot_dir();
        if (!cfg.dir) {
            se_log(SE_LOG_ERROR, "no root-of-trust directory: set rot_dir, HOME or "
                                 "XDG_CONFIG_HOME");
            rv = CKR_DEVICE_ERROR;
        } else {
            rv = rot_open(&cfg, &rot_instance);
            rot_pid = getpid();
        }
        free(fallback);
    }
    *out = rot_instance;
    pthread_mutex_unlock(&rot_lock);
    return rv;
}

/* ---- keys ------------------------------------------------------------ */

CK_RV tok_state_keys(tok *t)
{
    rot *r;
    unsigned char input[sizeof(TOKEN_KEY_LABEL) - 1 + TOK_SERIAL_LEN], token_key[ROT_MAC_LEN];
    CK_RV rv = tok_rot_get(&r);
    if (rv != CKR_OK)
        return rv;
    memcpy(input, TOKEN_KEY_LABEL, sizeof(TOKEN_KEY_LABEL) - 1);
    memcpy(input + sizeof(TOKEN_KEY_LABEL) - 1, t->serial, TOK_SERIAL_LEN);
    rv = rot_mac(r, input, sizeof(input), token_key);
    if (rv == CKR_OK)
        rv = rot_id(r, t->rot_id);
    if (rv == CKR_OK)
        rv = tok_hkdf(token_key, sizeof(token_key), t->serial, TOK_SERIAL_LEN, INFO_STATE,
                      t->state_key, sizeof(t->state_key));
    if (rv == CKR_OK)
        rv = tok_hkdf(token_key, sizeof(token_key), t->serial, TOK_SERIAL_LEN, INFO_WRAP,
                      t->wrap_key, sizeof(t->wrap_key));
    if (rv == CKR_OK)
        rv = tok_hkdf(token_key, sizeof(token_key), t->serial, TOK_SERIAL_LEN, INFO_SET,
                      t->set_key, sizeof(t->set_key));
    if (rv == CKR_OK) {
        EVP_CIPHER_CTX_free(t->set_cipher);
        t->set_cipher = EVP_CIPHER_CTX_new();
        if (!t->set_cipher ||
            !EVP_EncryptInit_ex(t->set_cipher, EVP_aes_256_ecb(), NULL, t->set_key, NULL) ||
            !EVP_CIPHER_CTX_set_padding(t->set_cipher, 0))
            rv = CKR_FUNCTION_FAILED;
    }
    OPENSSL_cleanse(token_key, sizeof(token_key));
    if (rv == CKR_OK) {
        t->rot_provider = rot_provider(r);
        t->rot = r;
        EVP_MAC_CTX_free(t->state_mac);
        t->state_mac = EVP_MAC_CTX_new(t->hmac);
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
            OSSL_PARAM_construct_end(),
        };
        if (!t->state_mac || !EVP_MAC_init(t->state_mac, t->state_key, 32, params))
            rv = CKR_FUNCTION_FAILED;
    }
    return rv;
}

/* ---- MACs of rows ------------------------------------------------------ */

CK_RV tok_mac_begin(tok *t, const char *domain, EVP_MAC_CTX **out)
{
    EVP_MAC_CTX *ctx = t->state_mac ? EVP_MAC_CTX_dup(t->state_mac) : NULL;
    if (!ctx) {
        se_log(SE_LOG_ERROR, "token %s: no state key (MAC context)", t->path);
        return CKR_FUNCTION_FAILED;
    }
    tok_mac_bytes(ctx, domain, strlen(domain));
    tok_mac_bytes(ctx, t->serial, TOK_SERIAL_LEN);
    *out = ctx;
    return CKR_OK;
}

void tok_mac_bytes(EVP_MAC_CTX *ctx, const void *data, size_t len)
{
    unsigned char head[5] = {'b'};
    tok_put_u32(head + 1, (uint32_t)len);
    EVP_MAC_update(ctx, head, sizeof(head));
    if (len)
        EVP_MAC_update(ctx, data, len);
}

void tok_mac_u64(EVP_MAC_CTX *ctx, uint64_t value)
{
    unsigned char buf[9] = {'i'};
    tok_put_u64(buf + 1, value);
    EVP_MAC_update(ctx, buf, sizeof(buf));
}

/* Every column of the current row, each tagged with its type. */
void tok_mac_columns(EVP_MAC_CTX *ctx, sqlite3_stmt *s, int first, int count)
{
    for (int i = first; i < first + count; i++) {
        switch (sqlite3_column_type(s, i)) {
        case SQLITE_INTEGER:
            tok_mac_u64(ctx, (uint64_t)sqlite3_column_int64(s, i));
            break;
        case SQLITE_NULL:
            EVP_MAC_update(ctx, (const unsigned char *)"n", 1);
            break;
        default: {
            const void *blob = sqlite3_column_blob(s, i);
            tok_mac_bytes(ctx, blob, (size_t)sqlite3_column_bytes(s, i));
        }
        }
    }
}

CK_RV tok_mac_end(EVP_MAC_CTX *ctx, unsigned char out[TOK_HASH_LEN])
{
    size_t len = 0;
    int ok = EVP_MAC_final(ctx, out, &len, TOK_HASH_LEN);
    EVP_MAC_CTX_free(ctx);
    return ok && len == TOK_HASH_LEN ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* ---- the state --------------------------------------------------------- */

/* Columns of STMT_STATE_TOKEN: the MAC covers 0..STATE_MACED-1. */
enum {
    COL_ROT = 7,
    COL_ROT_ID,
    COL_COUNTER_ID,
    COL_COUNTER_BASE,
    COL_VERSION,
    COL_AUDIT_SEQ,
    COL_COUNTERS_TOTAL,
    COL_OBJECTS_SUM,
    COL_ANCHORED_SEQ,
    COL_ERASURES,
    STATE_MACED,
    COL_MAC = STATE_MACED
};

static CK_RV damaged(tok *t, const char *what)
{
    se_log(SE_LOG_ERROR, "token %s: %s; the token is refused", t->path, what);
    return CKR_DEVICE_ERROR;
}

/* The MAC of the state as it is in the file now; the token row's
 * columns are left in t->state. */
static CK_RV state_compute(tok *t, unsigned char mac[TOK_HASH_LEN], unsigned char stored[TOK_HASH_LEN],
                           bool *has_stored)
{
    sqlite3_stmt *s = NULL;
    EVP_MAC_CTX *ctx = NULL;
    bool row;
    CK_RV rv = tok_stmt(t, STMT_STATE_TOKEN, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the token state");
    if (rv != CKR_OK)
        goto out;
    if (!row) {
        rv = damaged(t, "the token record is missing");
        goto out;
    }
    const char *provider = (const char *)sqlite3_column_text(s, COL_ROT);
    if (!provider || strcmp(provider, t->rot_provider) != 0) {
        se_log(SE_LOG_ERROR,
               "token %s was made under the root of trust \"%s\"; this configuration uses "
               "\"%s\" (set rot_provider): refused",
               t->path, provider ? provider : "(none)", t->rot_provider);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    if (sqlite3_column_bytes(s, COL_ROT_ID) != ROT_ID_LEN ||
        CRYPTO_memcmp(sqlite3_column_blob(s, COL_ROT_ID), t->rot_id, ROT_ID_LEN) != 0) {
        se_log(SE_LOG_ERROR,
               "token %s belongs to another device root key (a copy from another machine or "
               "root-of-trust configuration): refused",
               t->path);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    t->state.lifecycle = (unsigned char)sqlite3_column_int(s, 3);
    t->state.counter_id = (uint32_t)sqlite3_column_int64(s, COL_COUNTER_ID);
    t->state.counter_base = (uint64_t)sqlite3_column_int64(s, COL_COUNTER_BASE);
    t->state.version = (uint64_t)sqlite3_column_int64(s, COL_VERSION);
    t->state.audit_seq = (uint64_t)sqlite3_column_int64(s, COL_AUDIT_SEQ);
    t->state.counters_total = (uint64_t)sqlite3_column_int64(s, COL_COUNTERS_TOTAL);
    t->state.anchored_seq = (uint64_t)sqlite3_column_int64(s, COL_ANCHORED_SEQ);
    memset(t->state.objects_sum, 0, TOK_OBJSET_LEN);
    if (sqlite3_column_bytes(s, COL_OBJECTS_SUM) == TOK_OBJSET_LEN)
        memcpy(t->state.objects_sum, sqlite3_column_blob(s, COL_OBJECTS_SUM), TOK_OBJSET_LEN);
    *has_stored = sqlite3_column_bytes(s, COL_MAC) == TOK_HASH_LEN;
    if (*has_stored)
        memcpy(stored, sqlite3_column_blob(s, COL_MAC), TOK_HASH_LEN);
    rv = tok_mac_begin(t, STATE_DOMAIN, &ctx);
    if (rv != CKR_OK)
        goto out;
    tok_mac_columns(ctx, s, 0, STATE_MACED);
    sqlite3_reset(s);
    rv = tok_stmt(t, STMT_STATE_PINS, &s);
    while (rv == CKR_OK && (rv = tok_step(t, s, &row, "reading the PIN records")) == CKR_OK && row)
        tok_mac_columns(ctx, s, 0, 6);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_AUDIT_LAST, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the audit log");
    if (rv == CKR_OK && row)
        tok_mac_columns(ctx, s, 0, 2);
    if (rv == CKR_OK) {
        rv = tok_mac_end(ctx, mac);
        ctx = NULL;
    }
out:
    EVP_MAC_CTX_free(ctx);
    if (s)
        sqlite3_reset(s);
    return rv;
}

static CK_RV scalar(tok *t, const char *sql, sqlite3_int64 *value)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v3(t->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(s);
    *value = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    CK_RV rv = rc == SQLITE_ROW ? CKR_OK : tok_db_error(t, rc, sql);
    sqlite3_finalize(s);
    return rv;
}

/* The audit head and the counters' total as the file holds them. */
static CK_RV state_derived(tok *t, sqlite3_int64 *audit_seq, sqlite3_int64 *counters)
{
    CK_RV rv = scalar(t, "SELECT coalesce(max(seq), 0) FROM audit", audit_seq);
    if (rv == CKR_OK)
        rv = scalar(t, "SELECT coalesce(sum(value), 0) FROM counter", counters);
    return rv;
}

CK_RV tok_state_check(tok *t)
{
    unsigned char mac[TOK_HASH_LEN], stored[TOK_HASH_LEN];
    bool has_stored = false;
    sqlite3_int64 audit_seq, counters;
    if (t->state_checked)
        return CKR_OK;
    CK_RV rv = state_compute(t, mac, stored, &has_stored);
    if (rv == CKR_OK)
        rv = state_derived(t, &audit_seq, &counters);
    if (rv != CKR_OK)
        return rv;
    if ((uint64_t)audit_seq != t->state.audit_seq) {
        se_log(SE_LOG_ERROR,
               "token %s: the audit log ends at record %lld but the token state says %llu: "
               "records cut or added outside softse; the token is refused",
               t->path, (long long)audit_seq, (unsigned long long)t->state.audit_seq);
        return CKR_DEVICE_ERROR;
    }
    if (!has_stored || CRYPTO_memcmp(mac, stored, TOK_HASH_LEN) != 0)
        return damaged(t, "the token state (lifecycle, PIN records and counters, audit head) "
                          "fails authentication: edited, or from another token");
    if ((uint64_t)counters != t->state.counters_total)
        return damaged(t, "a failure counter was edited or rolled back");
    t->state_checked = true;
    return CKR_OK;
}

CK_RV tok_state_touch(tok *t)
{
    CK_RV rv = tok_state_check(t);
    if (rv == CKR_OK)
        t->state_dirty = true;
    return rv;
}

static CK_RV counter_read(tok *t, uint64_t *counter)
{
    CK_RV rv = rot_counter_read(t->rot, t->state.counter_id, counter);
    return rv == CKR_OK ? rv : damaged(t, "its root-of-trust counter cannot be read");
}

/* The version against the provider's counter: below it, the file is an
 * older copy (refused); above it, the counter catches up. */
static CK_RV state_compare(tok *t, uint64_t counter, bool catch_up)
{
    uint64_t expected = t->state.counter_base + t->state.version;
    if (counter > expected) {
        se_log(SE_LOG_ERROR,
               "token %s: the file is older than its device counter (version %llu, counter "
               "says %llu): a restored copy; the token is refused",
               t->path, (unsigned long long)t->state.version,
               (unsigned long long)(counter - t->state.counter_base));
        return CKR_DEVICE_ERROR;
    }
    if (counter < expected && catch_up) {
        se_log(SE_LOG_INFO, "token %s: the device counter catches up with the file (%llu -> %llu)",
               t->path, (unsigned long long)counter, (unsigned long long)expected);
        return rot_counter_raise(t->rot, t->state.counter_id, expected, NULL);
    }
    return CKR_OK;
}

/* Inside a write transaction the snapshot is the newest: every commit
 * whose counter raise can be seen is in it.  Once per transaction. */
static CK_RV state_fresh(tok *t)
{
    uint64_t counter = 0;
    if (t->state_fresh)
        return CKR_OK;
    CK_RV rv = counter_read(t, &counter);
    if (rv == CKR_OK)
        rv = state_compare(t, counter, false);
    t->state_fresh = rv == CKR_OK;
    return rv;
}

CK_RV tok_state_fresh(tok *t)
{
    CK_RV rv = tok_state_check(t);
    return rv == CKR_OK ? state_fresh(t) : rv;
}

CK_RV tok_state_event(tok *t)
{
    sqlite3_stmt *s;
    CK_RV rv = tok_state_touch(t);
    if (rv == CKR_OK)
        rv = state_fresh(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_STATE_BUMP, &s);
    if (rv == CKR_OK)
        rv = tok_step_done(t, s, "raising the token version");
    if (rv == CKR_OK) {
        t->state.version++;
        t->anchor_pending = true;
    }
    return rv;
}

CK_RV tok_state_seal(tok *t)
{
    unsigned char mac[TOK_HASH_LEN], ignored[TOK_HASH_LEN];
    bool has_stored;
    sqlite3_int64 audit_seq, counters;
    sqlite3_stmt *s;
    CK_RV rv = state_derived(t, &audit_seq, &counters);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_STATE_DERIVED, &s);
    if (rv == CKR_OK) {
        sqlite3_bind_int64(s, 1, audit_seq);
        sqlite3_bind_int64(s, 2, counters);
        sqlite3_bind_int(s, 3, t->anchor_pending);
        rv = tok_step_done(t, s, "updating the token state");
    }
    if (rv == CKR_OK)
        rv = state_compute(t, mac, ignored, &has_stored);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_STATE_SET_MAC, &s);
    if (rv == CKR_OK) {
        sqlite3_bind_blob(s, 1, mac, TOK_HASH_LEN, SQLITE_STATIC);
        rv = tok_step_done(t, s, "sealing the token state");
    }
    return rv;
}

void tok_state_end(tok *t, bool committed)
{
    if (committed && t->anchor_pending) {
        /* The file is ahead of the counter until this returns; a process
         * killed here leaves a token that tok_open accepts and catches
         * up (state_fresh). */
        if (rot_counter_raise(t->rot, t->state.counter_id,
                              t->state.counter_base + t->state.version, NULL) != CKR_OK)
            se_log(SE_LOG_ERROR, "token %s: the device counter could not be raised", t->path);
    }
    t->anchor_pending = false;
    t->state_dirty = false;
    t->state_checked = false;
    t->state_fresh = false;
}

CK_RV tok_state_erased(tok *t)
{
    CK_RV rv = tok_state_touch(t);
    return rv == CKR_OK ? tok_exec(t, "UPDATE token SET erasures = erasures + 1 WHERE id = 1",
                                   "counting an erasure")
                        : rv;
}

void tok_state_anchor_audit(tok *t)
{
    if (!t->anchor_at_close || tok_begin(t, true) != CKR_OK)
        return;
    CK_RV rv = tok_state_check(t);
    if (rv == CKR_OK && t->state.audit_seq != t->state.anchored_seq) {
        rv = tok_state_event(t);
        if (rv == CKR_OK)
            rv = tok_commit(t);
        if (rv != CKR_OK)
            se_log(SE_LOG_WARN, "token %s: the audit log's head could not be anchored at close",
                   t->path);
    }
    tok_rollback(t);
}

/* A read snapshot may predate a commit whose counter raise is already
 * visible: when the counter is ahead of the first look, a second snapshot,
 * taken after the counter was read, holds every such commit. */
CK_RV tok_state_open(tok *t)
{
    uint64_t counter = 0;
    CK_RV rv = tok_state_keys(t);
    for (int look = 0; rv == CKR_OK && look < 2; look++) {
        rv = tok_begin(t, false);
        if (rv == CKR_OK)
            rv = tok_state_check(t);
        if (rv == CKR_OK && look == 0)
            rv = counter_read(t, &counter);
        tok_rollback(t);
        if (rv == CKR_OK && (look == 1 || counter <= t->state.counter_base + t->state.version))
            return state_compare(t, counter, true);
    }
    return rv;
}

/* The state columns of a new token (inside its first transaction). */
CK_RV tok_state_init(tok *t)
{
    uint32_t id;
    uint64_t value;
    sqlite3_stmt *s = NULL;
    CK_RV rv = tok_state_keys(t);
    if (rv == CKR_OK)
        rv = rot_counter_new(t->rot, &id, &value);
    if (rv != CKR_OK)
        return rv;
    int rc = sqlite3_prepare_v2(t->db,
                                "UPDATE token SET rot = ?1, rot_id = ?2, counter_id = ?3,"
                                " counter_base = ?4, version = 0 WHERE id = 1",
                                -1, &s, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(s, 1, t->rot_provider, -1, SQLITE_STATIC);
        sqlite3_bind_blob(s, 2, t->rot_id, ROT_ID_LEN, SQLITE_STATIC);
        sqlite3_bind_int64(s, 3, id);
        sqlite3_bind_int64(s, 4, (sqlite3_int64)value);
        rc = sqlite3_step(s);
    }
    rv = rc == SQLITE_DONE ? CKR_OK : tok_db_error(t, rc, "binding the token to its root of trust");
    sqlite3_finalize(s);
    if (rv != CKR_OK)
        rot_counter_free(t->rot, id);
    t->state.counter_id = id;
    t->state.counter_base = value;
    t->state.version = 0;
    t->state_checked = true; /* new: nothing to check */
    t->state_dirty = true;
    return rv;
}

CK_RV tok_state_forget(tok *t)
{
    return t->rot ? rot_counter_free(t->rot, t->state.counter_id) : CKR_OK;
}

/* ---- the object set ------------------------------------------------------ */

/* How many (id, version) blocks one AES call takes. */
#define OBJSET_BATCH 1024

/* sum ± every 16-byte element of blocks, as little-endian 128-bit numbers. */
static void objset_fold(unsigned char sum[TOK_OBJSET_LEN], const unsigned char *blocks,
                        size_t count, bool subtract)
{
    uint64_t lo = 0, hi = 0;
    for (int i = 7; i >= 0; i--) {
        lo = lo << 8 | sum[i];
        hi = hi << 8 | sum[8 + i];
    }
    for (size_t n = 0; n < count; n++) {
        const unsigned char *e = blocks + 16 * n;
        uint64_t elo = 0, ehi = 0;
        for (int i = 7; i >= 0; i--) {
            elo = elo << 8 | e[i];
            ehi = ehi << 8 | e[8 + i];
        }
        if (subtract) {
            uint64_t borrow = lo < elo;
            lo -= elo;
            hi -= ehi + borrow;
        } else {
            lo += elo;
            hi += ehi + (lo < elo);
        }
    }
    for (int i = 0; i < 8; i++, lo >>= 8, hi >>= 8) {
        sum[i] = (unsigned char)lo;
        sum[8 + i] = (unsigned char)hi;
    }
}

/* blocks hold count (id, version) encodings; encrypted in place. */
static CK_RV objset_encrypt(tok *t, unsigned char *blocks, size_t count)
{
    int len = 0;
    if (!t->set_cipher ||
        !EVP_EncryptUpdate(t->set_cipher, blocks, &len, blocks, (int)(16 * count)) ||
        len != (int)(16 * count))
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

static void objset_block(unsigned char block[16], tok_id id, uint64_t version)
{
    tok_put_u64(block, id);
    tok_put_u64(block + 8, version);
}

static CK_RV objset_write(tok *t)
{
    sqlite3_stmt *s;
    CK_RV rv = tok_stmt(t, STMT_STATE_SET_OBJECTS, &s);
    if (rv == CKR_OK) {
        sqlite3_bind_blob(s, 1, t->state.objects_sum, TOK_OBJSET_LEN, SQLITE_STATIC);
        rv = tok_step_done(t, s, "updating the object set");
    }
    return rv;
}

CK_RV tok_objset_change(tok *t, tok_id id, bool had, uint64_t old_version, bool has,
                        uint64_t new_version)
{
    unsigned char blocks[2][16];
    CK_RV rv = tok_state_touch(t);
    if (rv != CKR_OK)
        return rv;
    objset_block(blocks[0], id, old_version);
    objset_block(blocks[1], id, new_version);
    rv = objset_encrypt(t, blocks[0], 2);
    if (rv != CKR_OK)
        return rv;
    if (had)
        objset_fold(t->state.objects_sum, blocks[0], 1, true);
    if (has)
        objset_fold(t->state.objects_sum, blocks[1], 1, false);
    return objset_write(t);
}

/* The sum of the objects the file holds now. */
static CK_RV objset_compute(tok *t, unsigned char sum[TOK_OBJSET_LEN])
{
    sqlite3_stmt *s;
    bool row;
    unsigned char *blocks = malloc(16 * OBJSET_BATCH);
    size_t n = 0;
    memset(sum, 0, TOK_OBJSET_LEN);
    CK_RV rv = blocks ? tok_stmt(t, STMT_OBJECT_VERSIONS, &s) : CKR_HOST_MEMORY;
    while (rv == CKR_OK) {
        rv = tok_step(t, s, &row, "reading the object set");
        if (rv == CKR_OK && row)
            objset_block(blocks + 16 * n++, (tok_id)sqlite3_column_int64(s, 0),
                         (uint64_t)sqlite3_column_int64(s, 1));
        if (rv == CKR_OK && n > 0 && (!row || n == OBJSET_BATCH)) {
            rv = objset_encrypt(t, blocks, n);
            objset_fold(sum, blocks, n, false);
            n = 0;
        }
        if (!row)
            break;
    }
    if (rv != CKR_OK && blocks)
        sqlite3_reset(s);
    free(blocks);
    return rv;
}

CK_RV tok_objset_reset(tok *t)
{
    CK_RV rv = tok_state_touch(t);
    if (rv == CKR_OK)
        rv = objset_compute(t, t->state.objects_sum);
    if (rv == CKR_OK)
        rv = objset_write(t);
    return rv;
}

/* Every object against the anchored set: an older version of an object
 * (all its rows with their MAC) or a destroyed object put back from an
 * older copy changes the sum.  A scan of the object table, once per
 * handle: 1,000,000 objects cost about a quarter of a second
 * (docs/performance.md). */
CK_RV tok_objset_verify(tok *t)
{
    unsigned char sum[TOK_OBJSET_LEN];
    if (t->objects_verified)
        return CKR_OK;
    CK_RV rv = tok_begin(t, false);
    if (rv == CKR_OK)
        rv = tok_state_check(t);
    if (rv == CKR_OK)
        rv = objset_compute(t, sum);
    if (rv == CKR_OK && CRYPTO_memcmp(sum, t->state.objects_sum, TOK_OBJSET_LEN) != 0)
        rv = damaged(t, "its objects do not match the anchored object set (an object put back "
                        "from an older copy, or removed)");
    tok_rollback(t);
    if (rv == CKR_OK)
        t->objects_verified = true;
    return rv;
}
