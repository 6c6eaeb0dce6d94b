/*
 * tok_internal.h — what the files of the token store share: the tok
 * structure, the prepared-statement cache, transactions, and the crypto
 * helpers.  Not for the module core (it uses tok.h only); tests/store/
 * includes it to look at the database directly.
 *
 * Files of tokens/:
 *   store.c   token files: scan, create, open, close, delete, info, lifecycle
 *   db.c      schema, statement cache, transactions, SQLite error mapping
 *   seal.c    crypto: random, PBKDF2, HKDF, AES-256-GCM, attribute sealing,
 *             lookup keys
 *   pin.c     master key wraps, login, PIN changes, retry counters, reinit
 *   object.c  objects: create, load, update, destroy, find
 *   audit.c   the hash-chained audit log
 *   spool.c   audit notes in per-process spool files, drained into the log
 *             (shares spool.h with spool_thread.c, the drain thread)
 */
#ifndef SOFTSE_TOK_INTERNAL_H
#define SOFTSE_TOK_INTERNAL_H

#include "rot.h"
#include "tok.h"

#include <openssl/evp.h>
#include <sqlite3.h>
#include <sys/types.h>
#include <time.h>

/* The database's identity, checked on open: PRAGMA application_id and
 * PRAGMA user_version.  Bump TOK_SCHEMA_VERSION on any schema change. */
#define TOK_APPLICATION_ID 0x536f5345 /* "SoSE" */
#define TOK_SCHEMA_VERSION 2
/* Format 1: before the device root of trust (softse-tool migrate). */
#define TOK_SCHEMA_VERSION_NO_ROT 1

/* Pages of new token files.  Every page a commit or checkpoint moves is
 * a system call or two, and the audit log grows by a record per query:
 * larger pages cost the drain thread fewer calls per record.  But every
 * synchronous commit (an object made, a token initialized) writes whole
 * pages.  Measured in one run each (docs/performance.md): 16 KiB against
 * 4 KiB, SK3 queries 2-4 1.17x faster, object create+destroy 0.74x;
 * against 64 KiB, SK3 the same, object create+destroy 1.65x.  Files made
 * with another size keep theirs. */
#define TOK_PAGE_SIZE 16384

#define TOK_BUSY_TIMEOUT_MS 10000
/* PBKDF2 costs read from a file above this are damage (or a denial of
 * service planted in the file), not a setting: 100 × OWASP 2023's 600,000. */
#define TOK_MAX_PIN_KDF_ITERATIONS 60000000
#define TOK_DEFAULT_MAX_FAILURES 10
/* PBKDF2 cost when tok_params gives none: meson's pin_kdf_iterations. */
#ifdef SOFTSE_DEFAULT_PIN_KDF_ITERATIONS
#define TOK_DEFAULT_PIN_KDF_ITERATIONS SOFTSE_DEFAULT_PIN_KDF_ITERATIONS
#else
#define TOK_DEFAULT_PIN_KDF_ITERATIONS 600000
#endif

#define TOK_SALT_LEN 16
#define TOK_NONCE_LEN 12
#define TOK_TAG_LEN 16
#define TOK_SEAL_OVERHEAD (TOK_NONCE_LEN + TOK_TAG_LEN) /* nonce ‖ ciphertext ‖ tag */
#define TOK_HASH_LEN 32
#define TOK_KEY_CHECK_LEN 32
#define TOK_OBJSET_LEN 16 /* the object set's sum, mod 2^128 */

/* Lookup keys (table lookup): a tag byte, then the value itself (public,
 * short), SHA-256 of the value (public, long) or a truncated
 * HMAC-SHA256(keys->index, u64be(type) ‖ value) (private or secret). */
enum { TOK_LOOKUP_PLAIN = 0, TOK_LOOKUP_HASHED = 1, TOK_LOOKUP_DIGEST = 2 };
#define TOK_LOOKUP_PLAIN_MAX 64
#define TOK_LOOKUP_MAC_LEN 16
#define TOK_LOOKUP_KEY_MAX (1 + TOK_LOOKUP_PLAIN_MAX)

/* Rows of the pin table: the PKCS#11 user types. */
#define TOK_PIN_ROW(user) ((sqlite3_int64)(user))

enum tok_stmt {
    STMT_BEGIN,
    STMT_BEGIN_IMMEDIATE,
    STMT_COMMIT,
    STMT_ROLLBACK,
    STMT_TOKEN_GET,
    STMT_TOKEN_KEY_CHECK,
    STMT_TOKEN_SET_LIFECYCLE,
    STMT_TOKEN_REINIT,
    STMT_PIN_GET,
    STMT_PIN_SET_FAILURES,
    STMT_PIN_SET_WRAP,
    STMT_PIN_RESET,
    STMT_OBJECT_INSERT,
    STMT_OBJECT_GET,
    STMT_OBJECT_SET_PRIVATE,
    STMT_OBJECT_DELETE,
    STMT_OBJECT_DELETE_ALL,
    STMT_OBJECT_ALL,
    STMT_OBJECT_ALL_PUBLIC,
    STMT_ATTR_INSERT,
    STMT_ATTR_LIST,
    STMT_ATTR_DELETE,
    STMT_ATTR_DELETE_ALL,
    STMT_LOOKUP_INSERT,
    STMT_LOOKUP_DELETE,
    STMT_LOOKUP_DELETE_ALL,
    STMT_LOOKUP_ESTIMATE,
    STMT_AUDIT_LAST,
    STMT_AUDIT_INSERT,
    STMT_AUDIT_LIST,
    STMT_DATA_VERSION,
    STMT_COUNTER_GET,
    STMT_STATE_TOKEN,
    STMT_STATE_PINS,
    STMT_STATE_BUMP,
    STMT_STATE_DERIVED,
    STMT_STATE_SET_MAC,
    STMT_STATE_SET_OBJECTS,
    STMT_OBJECT_VERSIONS,
    STMT_OBJECT_SET_MAC,
    STMT_COUNTER_SET,
    STMT_COUNT
};

/* The two copies of the wal-index header at the start of the -shm
 * mapping (https://www.sqlite.org/walformat.html, "The WAL-Index Header"):
 * every commit by any connection rewrites them. */
#define TOK_WAL_INDEX_PAGE 32768

/* tok_object_find statements are cached for up to this many match
 * attributes, with and without keys. */
#define TOK_FIND_CACHED 8

typedef struct tok_spool tok_spool;

/* Failure counters read since the last change (tok_counter_get). */
#define TOK_COUNTER_CACHE 8
typedef struct tok_counter_entry {
    bool valid;
    tok_id id;
    CK_ATTRIBUTE_TYPE type;
    uint64_t version;
    unsigned long value;
} tok_counter_entry;

struct tok {
    sqlite3 *db;
    sqlite3_file *db_file; /* the main database file of db (store.c wal_header_read) */
    /* Region 0 of db's wal-index as the VFS mapped it (stored atomically;
     * SQLite's own WAL keeps the same pointer until the connection
     * closes): tok_wal_unchanged reads it without the caller's lock. */
    const volatile void *wal_region;
    char *path;
    dev_t file_dev; /* the file opened at path (tok_file_removed), */
    ino_t file_ino; /* 0 for a file being created */
    char serial[TOK_SERIAL_LEN];
    sqlite3_stmt *stmts[STMT_COUNT];
    sqlite3_stmt *find_stmts[2][TOK_FIND_CACHED + 1];
    sqlite3_stmt *audit_batch; /* audit.c tok_audit_append_batch */
    EVP_CIPHER *gcm;           /* AES-256-GCM, fetched once */
    EVP_MAC *hmac;             /* HMAC, fetched once */
    EVP_MD *sha256;            /* the audit chain's hash, fetched once */
    EVP_MD_CTX *audit_md;
    /* tok_data_version's fast path: the wal-index header seen when the
     * version was last read (see store.c). */
    bool version_known;
    uint64_t version;
    unsigned char wal_header[TOK_WAL_HEADER_LEN];
    unsigned long version_queries; /* PRAGMA data_version runs, for tests */
    tok_spool *spool;              /* this process's audit spool (spool.c) */
    bool spool_failed;             /* could not make one: notes are transactions */
    time_t audit_second;           /* tok_audit_now: the second audit_date shows */
    char audit_date[32];
    size_t audit_date_len;
    tok_counter_entry counters[TOK_COUNTER_CACHE];
    unsigned counter_next;
    /* The root of trust (state.c): keys derived from the DRK for this
     * token, and the state read by the current transaction. */
    rot *rot;
    const char *rot_provider;
    unsigned char rot_id[ROT_ID_LEN];
    unsigned char state_key[32]; /* MACs of the state, objects, counters */
    unsigned char wrap_key[32];  /* mixed into every PIN's KEK */
    EVP_MAC_CTX *state_mac;      /* keyed with state_key, duplicated per MAC */
    struct {
        unsigned char lifecycle;
        uint32_t counter_id;
        uint64_t counter_base, version, audit_seq, counters_total;
        unsigned char objects_sum[TOK_OBJSET_LEN];
        uint64_t anchored_seq; /* the audit head at the last raise of the version */
    } state;
    bool anchor_at_close; /* tok_open's handles, not the drain's */
    unsigned char set_key[32];    /* the object set's PRF key */
    EVP_CIPHER_CTX *set_cipher;   /* AES-256-ECB under set_key */
    bool objects_verified;        /* the object set was checked once by this handle */
    bool state_checked; /* in this transaction */
    bool state_fresh;   /* the version compared with the counter, in this transaction */
    bool state_dirty;   /* sealed again at commit */
    bool anchor_pending; /* raise the counter after the commit */
};

/* ---- store.c ----------------------------------------------------------- */

/* A handle for path with its OpenSSL objects fetched and no connection. */
tok *tok_new(const char *path);

/* A blank-padded label as printable text, trailing blanks removed. */
void tok_label_text(const char label[TOK_LABEL_LEN], char out[TOK_LABEL_LEN + 1]);

/* A second connection to the token at path, for the background drain of
 * this process's spools (spool.c): no spool of its own, no sweep. */
CK_RV tok_open_drain_connection(const char *path, tok **out);

/* ---- db.c -------------------------------------------------------------- */

/* Logs the connection's error with what was being done and maps an SQLite
 * result code: BUSY/LOCKED (busy timeout expired) → CKR_FUNCTION_FAILED,
 * NOMEM → CKR_HOST_MEMORY, FULL/TOOBIG → CKR_DEVICE_MEMORY, anything else
 * (CORRUPT, NOTADB, IOERR, …) → CKR_DEVICE_ERROR. */
CK_RV tok_db_error(tok *t, int rc, const char *what);

/* A cached statement, reset and with cleared bindings.  Callers
 * sqlite3_reset() it when done so that no read snapshot stays open. */
CK_RV tok_stmt(tok *t, enum tok_stmt id, sqlite3_stmt **out);
/* Steps s expecting no row (SQLITE_DONE) and resets it. */
CK_RV tok_step_done(tok *t, sqlite3_stmt *s, const char *what);
/* Steps s: *row is true on SQLITE_ROW, false on SQLITE_DONE. */
CK_RV tok_step(tok *t, sqlite3_stmt *s, bool *row, const char *what);
CK_RV tok_bind_blob(tok *t, sqlite3_stmt *s, int index, const void *data, size_t len);
/* Runs SQL without results (sqlite3_exec), errors mapped as above. */
CK_RV tok_exec(tok *t, const char *sql, const char *what);

/* Transactions: every change is BEGIN IMMEDIATE … COMMIT (writers queue on
 * the busy timeout instead of failing to upgrade a read lock); multi-
 * statement reads use a deferred BEGIN for one consistent snapshot. */
CK_RV tok_begin(tok *t, bool immediate);
CK_RV tok_commit(tok *t);
void tok_rollback(tok *t); /* no-op outside a transaction */

/* Opens and configures a connection (busy timeout, WAL, synchronous=FULL,
 * foreign keys, secure_delete, defensive) and fills t->db.  create: make
 * the schema in a new empty file (journal mode set to WAL after the first
 * commit by the caller). */
CK_RV tok_db_open(tok *t, bool create);
CK_RV tok_db_create_schema(tok *t);
CK_RV tok_db_check_schema(tok *t);
void tok_db_close(tok *t);

/* The SQL of tok_object_find for count match attributes (0 < count),
 * with_keys selecting both plain and hashed lookup keys: the first
 * attribute drives, the others are probed.  Free with sqlite3_free(). */
char *tok_find_sql(size_t count, bool with_keys);

/* ---- seal.c ------------------------------------------------------------ */

CK_RV tok_random(void *buf, size_t len);
CK_RV tok_pbkdf2(const CK_UTF8CHAR *pin, CK_ULONG pin_len, const unsigned char *salt,
                 unsigned long iterations, unsigned char kek[32]);
CK_RV tok_hkdf(const unsigned char *ikm, size_t ikm_len, const void *salt, size_t salt_len,
               const char *info, unsigned char *out, size_t out_len);
/* out receives nonce ‖ ciphertext ‖ tag: in_len + TOK_SEAL_OVERHEAD bytes. */
CK_RV tok_gcm_seal(tok *t, const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                   const unsigned char *in, size_t in_len, unsigned char *out);
/* out receives blob_len - TOK_SEAL_OVERHEAD bytes; CKR_ENCRYPTED_DATA_INVALID
 * when the blob fails authentication (wrong key, changed bytes or AAD). */
CK_RV tok_gcm_open(tok *t, const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                   const unsigned char *blob, size_t blob_len, unsigned char *out);

/* Attribute values at rest (docs/spec.md §7): AES-256-GCM under keys->enc,
 * AAD = "softse-attr-v1" ‖ serial ‖ u64be(id) ‖ u64be(type) ‖ u8(private). */
CK_RV tok_seal_attr(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                    CK_ATTRIBUTE_TYPE type, const unsigned char *value, size_t len,
                    unsigned char **blob, size_t *blob_len);
CK_RV tok_open_attr(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                    CK_ATTRIBUTE_TYPE type, const unsigned char *blob, size_t blob_len,
                    unsigned char **value, size_t *len);

/* The lookup key of a value: hashed under keys->index when index_key is
 * not NULL, else plain.  out holds TOK_LOOKUP_KEY_MAX bytes. */
CK_RV tok_lookup_key(tok *t, const unsigned char *index_key, CK_ATTRIBUTE_TYPE type,
                     const unsigned char *value, size_t len, unsigned char *out, size_t *out_len);

/* ---- pin.c ------------------------------------------------------------- */

/* Derives enc, index and the stored key check value from a master key. */
CK_RV tok_keys_derive(tok *t, const unsigned char master[TOK_MASTER_KEY_LEN], tok_keys *keys,
                      unsigned char check[TOK_KEY_CHECK_LEN]);
/* Inside a transaction: CKR_USER_NOT_LOGGED_IN when keys are not this
 * token's current keys (e.g. the token was re-initialized since login). */
CK_RV tok_keys_current(tok *t, const tok_keys *keys);
/* Inside a write transaction: wraps master under pin for user and resets
 * that user's failure counter. */
CK_RV tok_pin_wrap(tok *t, CK_USER_TYPE user, const unsigned char master[TOK_MASTER_KEY_LEN],
                   const CK_UTF8CHAR *pin, CK_ULONG pin_len, unsigned long iterations);

/* ---- audit.c ----------------------------------------------------------- */

/* Inside a write transaction: appends one record (after this process's
 * spooled records). */
CK_RV tok_audit_append_locked(tok *t, const char *event, const char *detail);
/* Inside a write transaction: appends one record made at time when
 * (tok_audit_now's format; NULL: now), spool or no spool. */
CK_RV tok_audit_append_at(tok *t, const char *when, const char *event, const char *detail);
/* For many records in one transaction: the chain's end, read once. */
typedef struct tok_audit_cursor {
    bool loaded; /* false: read seq and hash from the table first */
    uint64_t seq;
    unsigned char hash[TOK_HASH_LEN];
} tok_audit_cursor;
CK_RV tok_audit_append_cursor(tok *t, tok_audit_cursor *cursor, const char *when, const char *event,
                              const char *detail);
/* A spool drain's records, appended TOK_AUDIT_BATCH at a time with one
 * statement (fewer: one by one); the strings must outlive the call. */
#define TOK_AUDIT_BATCH 16
typedef struct tok_audit_entry {
    const char *time, *event, *detail;
} tok_audit_entry;
CK_RV tok_audit_append_batch(tok *t, tok_audit_cursor *cursor, const tok_audit_entry *entries,
                             size_t count);
#define TOK_AUDIT_TIME_LEN 32
/* "YYYY-MM-DDTHH:MM:SS.uuuuuuZ", UTC. */
void tok_audit_now(tok *t, char out[TOK_AUDIT_TIME_LEN]);

/* object.c, inside a write transaction: an object's MAC over its stored
 * attribute rows, with its version (after the rows are written); every
 * object again (tok_terminate). */
CK_RV tok_object_seal(tok *t, tok_id id, bool is_private, uint64_t version);
CK_RV tok_object_seal_all(tok *t);
/* lifecycle.c, inside a write transaction: every counter row MACed (tok_migrate). */
CK_RV tok_counter_seal_all(tok *t);

/* ---- state.c ----------------------------------------------------------- */

/* The process's root of trust, opened on first use from the configured
 * settings (tok_rot_configure), else SOFTSE_ROT_PROVIDER / SOFTSE_ROT_DIR /
 * SOFTSE_ROT_TCTI, else the file provider in $XDG_CONFIG_HOME/softse/rot. */
CK_RV tok_rot_get(rot **out);
/* Derives the token's keys from the DRK (t->serial set). */
CK_RV tok_state_keys(tok *t);
/* tok_open: keys, the state checked, the version against the counter. */
CK_RV tok_state_open(tok *t);
/* A new token's first transaction: binds it to the root of trust and a
 * fresh counter. */
CK_RV tok_state_init(tok *t);
/* tok_delete: releases the token's counter. */
CK_RV tok_state_forget(tok *t);
/* Inside a transaction: CKR_DEVICE_ERROR (logged) unless the state is
 * authentic; once per transaction.  Fills t->state. */
CK_RV tok_state_check(tok *t);
/* Before a write changes the token record, a PIN record, a counter or the
 * audit log: checks, and marks the state to be sealed at commit. */
CK_RV tok_state_touch(tok *t);
/* As touch, for an event a rollback must not undo: refuses a file older
 * than the counter, raises the version (the counter follows the commit). */
CK_RV tok_state_event(tok *t);
/* Inside a write transaction: checks the state and that the file is not
 * older than its counter (CKR_DEVICE_ERROR when the counter cannot be
 * read).  A PIN is tried only after this: a failure that could not be
 * counted must not answer the guess. */
CK_RV tok_state_fresh(tok *t);
/* A reset, termination or re-initialization erased keys: counted in the
 * state (tok_info.erasures), so that every process ends its copies. */
CK_RV tok_state_erased(tok *t);
/* tok_commit, before COMMIT when the state was touched. */
CK_RV tok_state_seal(tok *t);
/* After COMMIT or ROLLBACK. */
void tok_state_end(tok *t, bool committed);
/* tok_close: when audit records were chained since the version was last
 * raised, raises it (an event), so that a restored older file cannot drop
 * them once the process that made them is done. */
void tok_state_anchor_audit(tok *t);

/* The set of current (object, version) pairs, anchored in the state
 * (docs/spec.md, "The device root of trust"): a sum mod 2^128 of
 * AES-256(set_key, u64be(id) ‖ u64be(version)) over every object.  Writes
 * keep it (tok_objset_change: had/has say whether the object existed
 * before/after); tok_objset_reset recomputes it inside a write transaction
 * after bulk changes; tok_objset_verify compares it with the objects in
 * the file, once per handle, before the first object is loaded or found. */
CK_RV tok_objset_change(tok *t, tok_id id, bool had, uint64_t old_version, bool has,
                        uint64_t new_version);
CK_RV tok_objset_reset(tok *t);
CK_RV tok_objset_verify(tok *t);

/* MACs under the state key: domain and serial first, then fields, each
 * tagged with its type and length. */
CK_RV tok_mac_begin(tok *t, const char *domain, EVP_MAC_CTX **out);
void tok_mac_bytes(EVP_MAC_CTX *ctx, const void *data, size_t len);
void tok_mac_u64(EVP_MAC_CTX *ctx, uint64_t value);
void tok_mac_columns(EVP_MAC_CTX *ctx, sqlite3_stmt *s, int first, int count);
CK_RV tok_mac_end(EVP_MAC_CTX *ctx, unsigned char out[TOK_HASH_LEN]);

/* ---- spool.c ----------------------------------------------------------- */

/* tok_open: drains the spools of processes that are gone. */
void tok_spool_open(tok *t);
/* tok_close: drains and removes this process's spool. */
void tok_spool_close(tok *t);
/* Inside a write transaction: drains this process's spool into it;
 * tok_commit/tok_rollback tell the spool whether that landed. */
CK_RV tok_spool_drain_own_locked(tok *t);
void tok_spool_committed(tok *t, bool committed);
/* tok_delete: removes every spool file of the token at token_path. */
void tok_spool_unlink_all(const char *token_path);

/* Big-endian encoders shared by the AAD and hash encodings. */
static inline void tok_put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

static inline void tok_put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (unsigned char)v;
}

#endif
