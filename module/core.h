/*
 * core.h — the module's internal model: global state, slots and tokens,
 * sessions, objects, operations.  entry.c turns each C_* call into one
 * call of a function declared here.
 *
 * Locking (no global lock is ever held across cryptography):
 *   module.lock   the slot list and the session table; held briefly.
 *   token->lock   the token's store connection, login state, object
 *                 cache and session objects.
 *   session->lock the session's active operations; held across the
 *                 crypto of that session only.
 * Order: module.lock → session->lock → token->lock; never the reverse.
 * slot_event.c's own lock (waiters and their wake-up) is taken last,
 * under module.lock or alone, and never held while waiting.
 */
#ifndef SOFTSE_CORE_H
#define SOFTSE_CORE_H

#include "attrs.h"
#include "config.h"
#include "mech.h"
#include "p11.h"
#include "secret.h"
#include "tok.h"

#include <sys/types.h>

/* ---- locks (CK_C_INITIALIZE_ARGS: OS locking or the caller's) ----- */

/* size bytes, zeroed, on cache lines of their own (free() frees them):
 * for what one thread writes on every call, so that another thread's
 * never shares its line. */
void *se_alloc_line(size_t size);

typedef struct se_mutex se_mutex;
CK_RV mutex_create(se_mutex **m);
void mutex_destroy(se_mutex *m);
void mutex_lock(se_mutex *m);
void mutex_unlock(se_mutex *m);

/* Registers the families built in beyond mechanisms/ (families.c):
 * C_Initialize calls it before anything reads a table. */
void families_register(void);

#define SE_PIN_MIN 4
#define SE_PIN_MAX 255
#define SE_MAX_SECRET_LEN 1024 /* bytes: the largest secret key or derived value */

/* ---- objects (object.c) ------------------------------------------- */

typedef struct se_object {
    CK_OBJECT_HANDLE handle;
    bool on_token;           /* token object (persistent) */
    tok_id id;               /* token objects: the store's id */
    CK_SESSION_HANDLE owner; /* session objects: the creating session */
    bool is_private;
    CK_OBJECT_CLASS cls;
    attr_list attrs; /* the store's sealed values (TOK_ATTR_SECRET) masked */
    unsigned char nonce[SECRET_NONCE_LEN]; /* masks them (secret.h) */
    bool sealed; /* public object whose secret values need a login */
    /* Built on first use: a secret key's type and length (never its value,
     * unmasked per use), an EVP_PKEY kept until the object leaves the
     * cache or, for a session object, until the login ends. */
    mech_key key;
    bool key_ready;
    struct se_object *next; /* hash chain / list link */
} se_object;

typedef struct se_token se_token;
typedef struct se_session se_session;

/* ---- tokens and slots (slot.c) ------------------------------------ */

typedef enum login_state { LOGIN_NONE, LOGIN_USER, LOGIN_SO } login_state;

struct se_token {
    se_mutex *lock;
    CK_SLOT_ID slot_id;
    tok *store;    /* NULL: the blank (uninitialized) token */
    bool pulled;   /* store's file was deleted or replaced: for good (module.lock) */
    bool event;    /* a slot event not yet reported by C_WaitForSlotEvent (module.lock) */
    tok_info info; /* refreshed under lock */
    login_state login;
    tok_keys keys;          /* valid while logged in; masked (token_keys_open) */
    unsigned char keys_nonce[SECRET_NONCE_LEN];
    unsigned long sessions; /* open sessions on this token */
    unsigned long rw_sessions;
    /* object cache: token objects by store id, and session objects */
    se_object **cache;
    size_t cache_size; /* buckets */
    size_t cache_count;
    uint64_t data_version;
    bool attestation_known; /* attestation_id is valid (cleared with the cache) */
    tok_id attestation_id;
    se_object *session_objects;
    CK_ULONG next_session_object;
    se_object *lifecycle_object; /* CKH_SE_LIFECYCLE, rebuilt after a change */
    struct key_cache *key_cache; /* keys borrowed by sessions (key_cache.c) */
    /* Raised with every key_cache_clear; a session's kept key is good while
     * it stays (atomic: read without the lock, key_cache.c key_kept_take). */
    uint64_t key_epoch;
};

CK_RV slot_refresh(void); /* new token files; module.lock held */
/* The poll of C_WaitForSlotEvent: as slot_refresh, but a file that could
 * not be opened is tried again only when the directory changed (its
 * warning is not repeated five times a second), and a changed directory
 * is also checked for open tokens' files replaced under their name. */
CK_RV slot_refresh_for_wait(void);
/* A blank card is present; a token whose file was deleted or replaced
 * while open is a pulled card, for good: its sessions are closed (and its
 * slot's event flag set) when that is first seen.  module.lock held. */
bool token_present(se_token *t);
se_token *slot_token(CK_SLOT_ID slot); /* NULL: invalid slot; module.lock held */
CK_RV slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count);
CK_RV slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info);
CK_RV token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info);
CK_RV token_init(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label);
CK_RV token_init_pin(se_session *s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV token_set_pin(se_session *s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                    CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len);
CK_RV token_login(se_session *s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len);
CK_RV token_logout(se_session *s);
/* The store keys in clear for one call into the store: *keys is NULL when
 * not logged in (or not as the user, with user_only), else clear.  Cleanse
 * clear with tok_keys_clear right after the call. */
CK_RV token_keys_open(const se_token *t, bool user_only, tok_keys *clear, const tok_keys **keys);
/* Ends the application's login on t (C_Logout, the last session's close):
 * forgets the store keys, the cached objects and every clear copy of a
 * key kept for speed (session objects' EVP_PKEYs, keyed contexts); token->lock held. */
void token_forget_login(se_token *t);
void slots_free(void);
/* Whether the token's logged-in state lets this session see private objects. */
bool token_user_logged_in(const se_token *t);

/* ---- sessions (session.c) ----------------------------------------- */

typedef struct se_operation {
    bool active;
    const mech_row *row;
    mech_op_kind kind;
    void *state;
    bool updated;             /* a C_*Update was made: single-part calls are refused */
    bool needs_context_login; /* CKA_ALWAYS_AUTHENTICATE: C_Login(CKU_CONTEXT_SPECIFIC) first */
    /* An ended state kept for the next init of the same ops (mech_ops.park). */
    const mech_ops *parked_ops;
    void *parked;
} se_operation;

typedef struct se_find {
    bool active;
    CK_OBJECT_HANDLE *handles;
    size_t count, next;
} se_find;

struct mech_env {
    se_session *session;
};

struct se_session {
    CK_SESSION_HANDLE handle;
    mech_env env; /* handed to mechanisms: lives as long as the session */
    se_token *token;
    CK_FLAGS flags; /* CKF_RW_SESSION | CKF_SERIAL_SESSION */
    se_mutex *lock;
    /* The table position's structure for the module's life (session.c):
     * atomics, as session_get reads them without module.lock. */
    unsigned refs; /* the table's while open + callers holding it */
    bool open;     /* in the table: session_get finds it */
    int fate;      /* SESSION_LIVE, _RETIRED (free for session_open), _ORPHAN (session.c) */
    se_operation ops[MECH_OP_KINDS];
    se_find find;
    struct key_kept *kept; /* its last borrowed secret key (key_cache.c); lock held */
};

CK_RV session_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out);
CK_RV session_close(CK_SESSION_HANDLE h);
CK_RV session_close_all(CK_SLOT_ID slot);
/* Finds a session and takes a reference; release with session_put. */
CK_RV session_get(CK_SESSION_HANDLE h, se_session **out);
void session_put(se_session *s);
CK_RV session_info(se_session *s, CK_SESSION_INFO_PTR info);
bool session_is_rw(const se_session *s);
/* Ends the operation (its state parked or freed); the parked state stays. */
void session_end_operation(se_operation *op);
/* The parked state of the init of row: NULL when none fits (then none is kept). */
void *session_unpark(se_operation *op, const mech_row *row);
void sessions_free(void);
/* Frees the states parked by the token's sessions (keyed HMAC contexts
 * among them) and their kept keys, at the end of a login; takes
 * module.lock and each session's lock, so no other lock may be held. */
void sessions_drop_parked(se_token *t);
/* Closes every session of a pulled token (PKCS#11 3.0 §5.1.2: removing a
 * token closes all sessions with it); module.lock held. */
void sessions_close_token(se_token *t);

/* ---- objects (object.c) ------------------------------------------- */

/* Resolves a handle visible to s; token->lock must be held.
 * CKR_OBJECT_HANDLE_INVALID when unknown or invisible (private, not logged in). */
CK_RV object_lookup(se_session *s, CK_OBJECT_HANDLE h, se_object **out);
/* Stores a new object built from a complete attribute list (already
 * checked by the policy); token->lock must be held. */
CK_RV object_store(se_session *s, attr_list *attrs, const char *audit, CK_OBJECT_HANDLE *out);
CK_RV object_create(se_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR out);
CK_RV object_copy(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                  CK_OBJECT_HANDLE_PTR out);
CK_RV object_destroy(se_session *s, CK_OBJECT_HANDLE h);
CK_RV object_size(se_session *s, CK_OBJECT_HANDLE h, CK_ULONG_PTR size);
CK_RV object_get_attributes(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count);
CK_RV object_set_attributes(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count);
CK_RV object_find_init(se_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count);
CK_RV object_find(se_session *s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count);
CK_RV object_find_final(se_session *s);
/* Key material of a key object for an operation, checking the usage
 * attribute (CKA_SIGN…); token->lock must be held and object_sync called
 * under it (by the lifecycle check).  *key is the caller's, freed with
 * mech_key_free: a reference to the cached EVP_PKEY, or a secret key's
 * value unmasked for this use.  key->attrs is the object's list, valid
 * while the lock is held, sealed values masked: read them with
 * object_key_attrs. */
CK_RV object_key(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, mech_key *key,
                 bool *always_authenticate);
/* Adds to out clear copies of the key object's attributes among
 * types[0..count) (those it has); token->lock held. */
CK_RV object_key_attrs(se_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE_TYPE *types,
                       size_t count, attr_list *out);
/* Builds o->key unless built (from the attributes unmasked for the
 * call): a key object's EVP_PKEY, or a secret key's type and length. */
CK_RV object_build_key(se_object *o);
/* Frees the key material built from session objects (the end of a login). */
void object_forget_keys(se_token *t);
/* XORs list's masked values (those the store seals, object class cls)
 * with the keystream of nonce: masks a clear list, unmasks a copy of a
 * masked one (secret.h).  A failure leaves list unusable. */
CK_RV object_xor_masked(CK_OBJECT_CLASS cls, const unsigned char *nonce, attr_list *list);
/* Drops a session's session objects (on close); token->lock held.  true
 * when a secret key was among them (its kept HMAC contexts must go:
 * sessions_drop_parked, outside the locks). */
bool object_drop_session(se_token *t, CK_SESSION_HANDLE owner);
/* Drops every cached object (re-init, logout of private objects). */
void object_cache_clear(se_token *t, bool session_objects_too);

/* Handle of a token object; the store's id of the lifecycle object. */
CK_OBJECT_HANDLE object_token_handle(const se_token *t, tok_id id);
/* Drops cached objects if another connection changed the store, and
 * refreshes t->info (lifecycle, PIN counters); token->lock held. */
CK_RV object_sync(se_token *t);

/* ---- lifecycle and identity (lifecycle.c, identity.c) -------------- */

#include "vendor_env.h"

/* CKR_OK or CKR_SE_LIFECYCLE: the one table of docs/spec.md §3. */
CK_RV lifecycle_check(const se_token *t, lifecycle_action action);
/* The attributes of the CKH_SE_LIFECYCLE hardware-feature object. */
CK_RV lifecycle_attrs(const se_token *t, attr_list *out);
/* An SO's C_SetAttributeValue on that object; token->lock held. */
CK_RV lifecycle_transition(se_session *s, const CK_ATTRIBUTE *change);
/* C_GenerateKeyPair asking for CKA_SE_ATTESTATION: checks and strips. */
CK_RV identity_prepare(se_session *s, attr_list *pub_tmpl, attr_list *priv_tmpl);
/* Forces the identity key pair's attributes after assembly. */
CK_RV identity_finish(attr_list *pub, attr_list *priv);
/* Whether attrs carry one of the identity's reserved labels. */
bool identity_label(const attr_list *attrs);
/* Store ids of every identity object (CKA_SE_ATTESTATION TRUE); token->lock held. */
CK_RV identity_ids(se_token *t, tok_id **ids, size_t *count);

/* ---- attribute policy (attr_policy.c, its table attr_table.h) ------ */

#include "attr_table.h"

typedef enum policy_origin {
    ORIGIN_CREATE,   /* C_CreateObject */
    ORIGIN_GENERATE, /* C_GenerateKey(Pair) */
    ORIGIN_DERIVE,   /* C_DeriveKey */
    ORIGIN_UNWRAP,   /* C_UnwrapKey */
    ORIGIN_COPY,     /* C_CopyObject template */
} policy_origin;

/* Checks a caller's template for an object being made, before defaults
 * are merged: read-only, invalid and inconsistent attributes. */
CK_RV policy_check_template(CK_OBJECT_CLASS cls, const attr_list *tmpl, policy_origin origin);
/* CKR_ATTRIBUTE_VALUE_INVALID for a CKA_VALUE_LEN of 0 or above
 * SE_MAX_SECRET_LEN, before any mechanism allocates that much. */
CK_RV policy_check_value_len(const attr_list *tmpl);
/* Adds the defaults of the class to a complete attribute list and sets
 * CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE for the origin. */
CK_RV policy_apply_defaults(attr_list *attrs, policy_origin origin);
/* Checks one C_SetAttributeValue change against the current attributes. */
CK_RV policy_check_set(const attr_list *current, const CK_ATTRIBUTE *change, bool so);
/* Checks a C_CopyObject template against the copied object (class cls):
 * the template rules, then each change but the copy-only ones as a set. */
CK_RV policy_check_copy(CK_OBJECT_CLASS cls, const attr_list *current, const attr_list *changes,
                        bool so);
/* Whether C_GetAttributeValue may reveal the attribute:
 * CKR_OK, CKR_ATTRIBUTE_SENSITIVE or CKR_ATTRIBUTE_TYPE_INVALID. */
CK_RV policy_check_read(const attr_list *attrs, CK_ATTRIBUTE_TYPE type);
/* Whether every attribute of want is readable in attrs with the same
 * value: C_FindObjects never matches on what it could not return. */
bool policy_matches(const attr_list *attrs, const attr_list *want);
/* docs/spec.md §7.2.  A new or changed key that both wraps/unwraps and
 * encrypts/decrypts under strict separation: CKR_TEMPLATE_INCONSISTENT. */
CK_RV policy_check_separation(const attr_list *attrs);
/* The usage attribute a key needs TRUE for role (the row whose roles
 * name it: CKA_DERIVE for ROLE_HKDF_SALT…); 0 for ROLE_NONE. */
CK_ATTRIBUTE_TYPE policy_role_usage(policy_role role);
/* A key used for usage (CKA_SIGN…, 0: none): the attribute is TRUE and
 * separation holds, else CKR_KEY_FUNCTION_NOT_PERMITTED. */
CK_RV policy_check_usage(const attr_list *attrs, CK_ATTRIBUTE_TYPE usage);
/* A key about to be wrapped by wrapping: CKA_WRAP_WITH_TRUSTED needs a
 * CKA_TRUSTED wrapping key, CKA_WRAP_TEMPLATE must match; else
 * CKR_KEY_NOT_WRAPPABLE. */
CK_RV policy_check_wrap(const attr_list *wrapping, const attr_list *key);
/* Merges key's CKA_UNWRAP_TEMPLATE or CKA_DERIVE_TEMPLATE (which) into the
 * caller's template: CKR_TEMPLATE_INCONSISTENT when they disagree. */
CK_RV policy_apply_key_template(attr_list *given, const attr_list *key, CK_ATTRIBUTE_TYPE which);
/* Derivation never lowers protection: made (class cls) from an input key
 * whose value is unreadable must be a key at least as protected
 * (CKR_TEMPLATE_INCONSISTENT), never data (CKR_KEY_FUNCTION_NOT_PERMITTED). */
CK_RV policy_check_derived(const attr_list *input, CK_OBJECT_CLASS cls, const attr_list *made);
/* Store flags (TOK_ATTR_SECRET / TOK_ATTR_LOOKUP) for an attribute. */
unsigned policy_store_flags(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);
/* Whether the attribute is key material (not given by C_GenerateKey templates). */
bool policy_is_key_material(CK_ATTRIBUTE_TYPE type);

/* ---- operations (crypto_ops.c) ------------------------------------ */

CK_RV op_init(se_session *s, mech_op_kind kind, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key);
/* C_SignRecover / C_VerifyRecover are op_single with MECH_SIGN_RECOVER /
 * MECH_VERIFY_RECOVER (the signature is the input of a verify-recover). */
CK_RV op_single(se_session *s, mech_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len);
CK_RV op_update(se_session *s, mech_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len);
CK_RV op_final(se_session *s, mech_op_kind kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV op_verify(se_session *s, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                CK_ULONG sig_len);
CK_RV op_verify_final(se_session *s, CK_BYTE_PTR sig, CK_ULONG sig_len);
CK_RV op_digest_key(se_session *s, CK_OBJECT_HANDLE key);
CK_RV op_context_login(se_session *s);

/* ---- making keys (key_ops.c) ------------------------------------------ */

CK_RV key_generate(se_session *s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                   CK_OBJECT_HANDLE_PTR out);
CK_RV key_generate_pair(se_session *s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                        CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count,
                        CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out);
CK_RV key_derive(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR tmpl,
                 CK_ULONG count, CK_OBJECT_HANDLE_PTR out);
CK_RV key_wrap(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
               CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len);
CK_RV key_unwrap(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR in,
                 CK_ULONG in_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR out);
CK_RV random_generate(CK_BYTE_PTR out, CK_ULONG len);
CK_RV random_seed(CK_BYTE_PTR seed, CK_ULONG len);

/* ---- slot events (slot_event.c) ----------------------------------- */

/* Sets t's slot event flag (a card inserted into, pulled from or changed
 * in slot t->slot_id) and wakes a waiter; module.lock held.  Nothing
 * between C_Finalize and the end of the next C_Initialize (§5.5: that
 * starts with every flag clear). */
void slot_event_note(se_token *t);
/* C_WaitForSlotEvent. */
CK_RV slot_event_wait(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved);
/* The end of C_Initialize: waits may start. */
void slot_events_start(void);
/* The start of C_Finalize: a blocked wait returns
 * CKR_CRYPTOKI_NOT_INITIALIZED; returns once no thread is inside one. */
void slot_events_stop(void);
/* A forked child: the parent's waiters are not threads of it. */
void slot_events_forget(void);

/* ---- the module (module.c) ---------------------------------------- */

#define SESSION_CHUNK 64
#define SESSION_CHUNKS 4096 /* at most 262,144 sessions open at once */

typedef struct se_module {
    bool initialized;
    pid_t pid; /* the process that called C_Initialize */
    se_mutex *lock;
    se_config config;
    se_token **slots; /* slot id = index; the last is the blank token */
    size_t slot_count;
    const char **token_paths; /* tok_path of every open token, sorted (slot.c) */
    size_t token_path_count, token_path_cap;
    tok_dir_stamp store_stamp; /* the store directory when slot_refresh last read it */
    size_t unusable_files;     /* token-named files that read could not open */
    /* The session table (session.c): handle = index + 1, index =
     * chunk * SESSION_CHUNK + position; chunks are never moved or freed
     * while initialized, so session_get reads them without module.lock. */
    se_session **session_chunks[SESSION_CHUNKS];
    size_t session_cap; /* positions in the chunks made so far */
} se_module;

extern se_module module;

CK_RV module_initialize(CK_VOID_PTR args);
CK_RV module_finalize(CK_VOID_PTR reserved);
/* CKR_OK when initialized in this process (a forked child must call C_Initialize). */
CK_RV module_check(void);

#endif
