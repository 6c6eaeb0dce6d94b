/*
 * tok.h — the protected token store (docs/spec.md §7).
 *
 * One SQLite database per token in a store directory.  This room knows
 * storage, encryption at rest, PINs, retry counters, lifecycle and the
 * audit log; it knows nothing of sessions, handles or C_* calling
 * conventions.  Attribute semantics (which attribute is secret, which is
 * indexed) are decided by the caller and passed as flags.
 *
 * Threading: a tok is one SQLite connection and is not thread-safe; the
 * caller serializes calls on one tok (the module holds its token lock).
 * Several processes may open the same file: every change is one
 * transaction (WAL, synchronous=FULL), and counters are updated inside
 * BEGIN IMMEDIATE transactions so that two processes cannot both spend
 * the same PIN try.
 */
#ifndef SOFTSE_TOK_H
#define SOFTSE_TOK_H

#include "p11.h"

typedef struct tok tok;
typedef uint64_t tok_id; /* an object's row id: stable, never reused */

#define TOK_LABEL_LEN 32
#define TOK_SERIAL_LEN 16
#define TOK_MASTER_KEY_LEN 32

/* Keys unlocked by a successful login; cleanse with tok_keys_clear(). */
typedef struct tok_keys {
    unsigned char master[TOK_MASTER_KEY_LEN]; /* the token master key */
    unsigned char enc[32];                    /* attribute encryption key, derived */
    unsigned char index[32];                  /* lookup-hash key for private objects, derived */
} tok_keys;
void tok_keys_clear(tok_keys *keys);

typedef struct tok_info {
    char label[TOK_LABEL_LEN];   /* blank padded, not NUL terminated */
    char serial[TOK_SERIAL_LEN]; /* 16 hex digits, fixed at creation */
    bool user_pin_initialized;
    unsigned long user_failures, user_max_failures; /* max: default 10 */
    unsigned long so_failures, so_max_failures;     /* max: default 10 */
    unsigned char lifecycle;                        /* SOFTSE_LIFECYCLE_* */
    unsigned long erasures; /* resets, terminations and re-initializations so far */
    unsigned long pin_kdf_iterations;
} tok_info;

typedef struct tok_params {
    unsigned long pin_kdf_iterations; /* PBKDF2-HMAC-SHA256 iterations for new PIN wraps */
    unsigned long user_max_failures;  /* 0: default 10 */
    unsigned long so_max_failures;    /* 0: default 10 */
} tok_params;

/* ---- the device root of trust (tokens/rot.h, state.c) ---------------- */

/* The root of trust that tok_create and tok_open use from now on: provider
 * "file" or "tpm" (NULL: file), its directory (NULL: SOFTSE_ROT_DIR, else
 * $XDG_CONFIG_HOME/softse/rot or ~/.config/softse/rot), the TPM's TCTI
 * (NULL: device:/dev/tpmrm0).  NULL settings fall back to SOFTSE_ROT_PROVIDER,
 * SOFTSE_ROT_DIR and SOFTSE_ROT_TCTI.  Opened on first use. */
CK_RV tok_rot_configure(const char *provider, const char *dir, const char *tcti);
/* Closes it (C_Finalize, after every token is closed). */
void tok_rot_release(void);

/* A token file of store format 1 (before the root of trust) made format 2
 * under the configured root of trust: needs the SO PIN, and the user PIN
 * when one is set (CKR_PIN_INCORRECT otherwise; no retry is counted, the
 * old format has no protected counter).  CKR_FUNCTION_REJECTED when the
 * file is not format 1. */
CK_RV tok_migrate(const char *path, const CK_UTF8CHAR *so_pin, CK_ULONG so_len,
                  const CK_UTF8CHAR *user_pin, CK_ULONG user_len);

/* ---- token files ---------------------------------------------------- */

/* Lists the token databases of dir ("<serial>.sqlite"), oldest token first
 * (creation time, then serial), so slot numbers are stable across restarts.
 * A missing dir is created (mode 0700).  Free with tok_free_paths(). */
CK_RV tok_scan(const char *dir, char ***paths, size_t *count);
/* As tok_scan, without the token files for which known(ctx, path) is true
 * (path formed as tok_path forms it): those are neither stat'ed nor opened,
 * so a rescan that knows the open tokens costs one directory read plus the
 * new files. */
CK_RV tok_scan_new(const char *dir, bool (*known)(void *ctx, const char *path), void *ctx,
                   char ***paths, size_t *count);
void tok_free_paths(char **paths, size_t count);

/* The store directory's identity and times, from one stat: files added,
 * removed or renamed in it change them.  A zeroed stamp is older than any. */
typedef struct tok_dir_stamp {
    uint64_t device, inode;
    int64_t modified_ns, changed_ns; /* st_mtim, st_ctim */
    int64_t taken_ns;                /* CLOCK_REALTIME when taken */
} tok_dir_stamp;
CK_RV tok_dir_stamp_take(const char *dir, tok_dir_stamp *stamp);
/* True only when no file can have been added, removed or renamed in the
 * directory between the two stamps: equal, and before was taken long
 * enough after the directory's last change for its times to tell. */
bool tok_dir_unchanged(const tok_dir_stamp *before, const tok_dir_stamp *now);

/* Opens a token database; CKR_DEVICE_ERROR (with a message logged) when
 * it is not a softse store or is damaged; CKR_TOKEN_NOT_PRESENT when the
 * file is gone. */
CK_RV tok_open(const char *path, tok **out);
void tok_close(tok *t);
const char *tok_path(const tok *t);
/* Whether the token's file was deleted or replaced since it was opened:
 * the card was pulled.  One stat(); any thread. */
bool tok_file_removed(const tok *t);

/* Creates a new token file in dir with a fresh serial, a fresh master key
 * wrapped under the SO PIN, no user PIN, lifecycle PERSONALIZATION. */
CK_RV tok_create(const char *dir, const char label[TOK_LABEL_LEN], const CK_UTF8CHAR *so_pin,
                 CK_ULONG so_pin_len, const tok_params *params, tok **out);

/* C_InitToken on an initialized token: checks the SO PIN (counting a
 * failure: CKR_PIN_INCORRECT / CKR_PIN_LOCKED), then in one transaction
 * erases every object, draws a new master key, rewraps it under the SO
 * PIN, removes the user PIN and sets the label.  The serial is kept. */
CK_RV tok_reinit(tok *t, const char label[TOK_LABEL_LEN], const CK_UTF8CHAR *so_pin,
                 CK_ULONG so_pin_len, const tok_params *params);

/* Deletes the token file (and its -wal/-shm) and closes t. */
CK_RV tok_delete(tok *t);

CK_RV tok_get_info(tok *t, tok_info *info);

/* ---- PINs ------------------------------------------------------------ */

/* Unwraps the master key with the PIN of user (CKU_SO or CKU_USER).
 * CKR_PIN_INCORRECT (failure counter incremented, an audit record
 * appended), CKR_PIN_LOCKED (counter at its maximum; the PIN is not even
 * tried), CKR_USER_PIN_NOT_INITIALIZED.  Success resets that counter. */
CK_RV tok_login(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *pin, CK_ULONG pin_len,
                tok_keys *keys);

/* Sets the user PIN (C_InitPIN, by a logged-in SO holding keys): wraps the
 * master key under it and resets the user failure counter. */
CK_RV tok_init_pin(tok *t, const tok_keys *keys, const CK_UTF8CHAR *pin, CK_ULONG pin_len);

/* C_SetPIN: checks old_pin for user like tok_login (counting failures),
 * then rewraps the master key under new_pin. */
CK_RV tok_set_pin(tok *t, CK_USER_TYPE user, const CK_UTF8CHAR *old_pin, CK_ULONG old_len,
                  const CK_UTF8CHAR *new_pin, CK_ULONG new_len);

/* ---- objects --------------------------------------------------------- */

#define TOK_ATTR_SECRET 0x1u /* encrypted even on a public object (key material) */
#define TOK_ATTR_LOOKUP 0x2u /* indexed: tok_object_find can select on it */
#define TOK_ATTR_LOCKED 0x4u /* out only: encrypted and no keys given; value NULL */

typedef struct tok_attr {
    CK_ATTRIBUTE_TYPE type;
    unsigned char *value; /* owned in lists returned by the store */
    CK_ULONG len;
    unsigned flags; /* TOK_ATTR_* */
} tok_attr;

/* Frees (and cleanses) a list returned by tok_object_load. */
void tok_attrs_free(tok_attr *attrs, size_t count);

/* Stores a new object in one transaction.  For a private object every
 * attribute is encrypted (AES-256-GCM under keys->enc, AAD binding token
 * serial, object id and attribute type) and LOOKUP attributes are indexed
 * by a keyed hash (keys->index); for a public one, SECRET attributes are
 * encrypted and the others stored in clear, LOOKUP ones indexed by value.
 * keys may be NULL only when nothing needs encrypting (else
 * CKR_USER_NOT_LOGGED_IN).  audit, when not NULL, is appended to the
 * audit log in the same transaction. */
CK_RV tok_object_create(tok *t, const tok_keys *keys, bool is_private, const tok_attr *attrs,
                        size_t count, const char *audit, tok_id *id);

/* Loads every attribute of an object.  CKR_OBJECT_HANDLE_INVALID when it
 * does not exist (or no longer does).  Without keys, a private object gives
 * CKR_USER_NOT_LOGGED_IN and a public one returns its encrypted attributes
 * with TOK_ATTR_LOCKED and no value.  A value that fails authentication
 * gives CKR_DEVICE_ERROR and a logged message: never wrong bytes. */
CK_RV tok_object_load(tok *t, const tok_keys *keys, tok_id id, bool *is_private, tok_attr **attrs,
                      size_t *count);

/* Replaces every attribute of an object, in one transaction. */
CK_RV tok_object_update(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                        const tok_attr *attrs, size_t count, const char *audit);

CK_RV tok_object_destroy(tok *t, tok_id id, const char *audit);

/* Candidate ids of objects that have every attribute of match with that
 * value (match holds only attributes the caller stored as LOOKUP).  An
 * empty match lists every object.  Without keys only public objects are
 * listed.  Served by indexes: no object is loaded or decrypted.  The
 * caller checks the remaining template on the loaded objects.  *ids is
 * sorted ascending, NULL when *found is 0, and freed with free(). */
CK_RV tok_object_find(tok *t, const tok_keys *keys, const tok_attr *match, size_t count,
                      tok_id **ids, size_t *found);

/* A number that changes whenever another connection commits a change to
 * this token (PRAGMA data_version): lets the caller keep caches. */
CK_RV tok_data_version(tok *t, uint64_t *version);

/* The two copies of the wal-index header at the start of the -shm
 * mapping (https://www.sqlite.org/walformat.html, "The WAL-Index Header"):
 * every commit by any connection rewrites them. */
#define TOK_WAL_HEADER_LEN 96
/* The header the last tok_data_version found unchanged or read with the
 * version (under the caller's lock, as tok_data_version): false when there
 * is none, a store without shared memory, whose every look queries. */
bool tok_wal_snapshot(const tok *t, unsigned char out[TOK_WAL_HEADER_LEN]);
/* Whether no connection committed since snap was taken: the header read
 * again and compared.  Takes no lock and touches nothing but the mapped
 * header, so any thread may ask while another uses t; false when unsure. */
bool tok_wal_unchanged(const tok *t, const unsigned char snap[TOK_WAL_HEADER_LEN]);

/* ---- lifecycle and audit (docs/spec.md §3) --------------------------- */

CK_RV tok_set_lifecycle(tok *t, unsigned char state, const char *audit);

/* Appends one record: seq, time, event, detail, SHA-256 of the previous
 * record, its own hash.  Use for events that change nothing else. */
CK_RV tok_audit_append(tok *t, const char *event, const char *detail);

/* As tok_audit_append for an event that changes no other state (an SK3
 * query, a session key): written to this process's spool file (a shared
 * mapping; no system call) and drained into the chain in batches, before
 * this process's next transactional record and at close — safe against a
 * killed process (the next tok_open drains its spool), like a commit
 * without an fsync against an operating-system crash (spool.c). */
CK_RV tok_audit_note(tok *t, const char *event, const char *detail);

/* Whether this process may chain its spooled records from a thread of
 * its own (one for all tokens, started with the first spool, each token
 * drained over a second connection): the caller of tok_audit_note then
 * only copies the record.  false (the default) stops and joins the
 * thread; spools left to it go back to their owners. */
void tok_audit_thread(bool allowed);

/* Drains every spool of the token (this process's and other processes',
 * live or gone) into the audit table, so that it holds every record made
 * so far.  tok_audit_verify calls it first. */
CK_RV tok_audit_flush(tok *t);

/* Walks the audit log in seq order, calling print (when not NULL) for
 * every record, and checks the chain: seq runs 1, 2, 3…; each prev_hash is
 * the previous record's hash (32 zero bytes for the first); each hash is
 *   SHA-256(u64be(seq) ‖ u32be(|time|) ‖ time ‖ u32be(|event|) ‖ event ‖
 *           u32be(|detail|) ‖ detail ‖ prev_hash)
 * with time "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC) and strings in UTF-8
 * without NUL.  CKR_OK, or CKR_DEVICE_ERROR (logged) with *broken_seq (may
 * be NULL) the seq of the first record whose hash, link or number is wrong.
 * print runs inside a read transaction: it must not call back into t. */
CK_RV tok_audit_verify(tok *t,
                       void (*print)(void *ctx, unsigned long seq, const char *time,
                                     const char *event, const char *detail),
                       void *ctx, unsigned long *broken_seq);

/* ---- lifecycle erasure and counters (tokens/lifecycle.c) ------------- */

/* TERMINATED (docs/spec.md §3): in one transaction, erases every attribute
 * stored as TOK_ATTR_SECRET (key values) of every object, sets the state
 * and appends the audit record; then checkpoints the WAL so no old page
 * keeps a sealed value. */
CK_RV tok_terminate(tok *t, const char *audit);

/* Reset OPERATIONAL → PERSONALIZATION: in one transaction, destroys every
 * object except the keep ids (the device identity), sets the state and
 * appends the audit record. */
CK_RV tok_reset(tok *t, const tok_id *keep, size_t count, const char *audit);

/* Persistent counters of an object (CKA_SE_FAILURE_COUNT), outside the
 * sealed attributes so that an increment is one atomic update across
 * processes; destroyed with the object.  A counter never set reads 0.
 * tok_counter_add appends an audit record (detail = audit) in the same
 * transaction. */
CK_RV tok_counter_get(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long *value);
CK_RV tok_counter_add(tok *t, tok_id id, CK_ATTRIBUTE_TYPE type, unsigned long delta,
                      unsigned long *value, const char *audit);

#endif
