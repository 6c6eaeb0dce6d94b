/*
 * sk3_fixture.h — what the SK3 tests share (docs/spec.md §6): a C reference of
 * the protocol's formulas, the three-token world (server token S, host
 * tokens i and j) with provisioning through C_DeriveKey/C_WrapKey/
 * C_UnwrapKey, and one function per query.
 *
 * Nothing here asserts: every function returns a CK_RV, so forked
 * children (where cmocka cannot be used) call them too.  Include after
 * p11_fixture.h.
 */
#ifndef SOFTSE_SK3_FIXTURE_H
#define SOFTSE_SK3_FIXTURE_H

#include "p11_fixture.h"

#define SK3_LEN SOFTSE_SK3_LEN
#define SK3_ID_LEN SOFTSE_SK3_ID_LEN
#define SK3_VALUE_LEN (3 * SK3_LEN)
#define SK3_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Host names i and j: 16 bytes each, no NUL. */
extern const unsigned char sk3_host_i[SK3_ID_LEN];
extern const unsigned char sk3_host_j[SK3_ID_LEN];

/* ---- the C reference (OpenSSL HMAC-SHA-256) --------------------------------- */

void sk3_ref_f(const unsigned char *key, const void *data, size_t len, unsigned char *out);
/* K(id) ‖ K'(id) ‖ K''(id) of a server key K ‖ K' ‖ K''. */
void sk3_ref_host(const unsigned char *server, const unsigned char *id, unsigned char *out);
/* α(i,j), β(i,j). */
void sk3_ref_server(const unsigned char *server, const unsigned char *i, const unsigned char *j,
                    unsigned char *alpha, unsigned char *beta);
/* κ = K(j,i) from host j's value and peer i. */
void sk3_ref_kappa(const unsigned char *host_value, const unsigned char *peer, unsigned char *out);
/* f_κ(r_i ‖ r_j ‖ tag), tag "1", "01" or "00". */
void sk3_ref_session(const unsigned char *kappa, const unsigned char *ri, const unsigned char *rj,
                     const char *tag, unsigned char *out);

/* ---- the world ------------------------------------------------------------------ */

enum { SK3_S = 0, SK3_I = 1, SK3_J = 2 };

typedef struct sk3_world {
    CK_SLOT_ID slot[3];
    CK_SESSION_HANDLE session[3]; /* RW, user logged in */
    CK_OBJECT_HANDLE server;      /* on S */
    CK_OBJECT_HANDLE host[3];     /* host[SK3_I] on token i, host[SK3_J] on token j */
} sk3_world;

typedef struct sk3_world_opts {
    const unsigned char *server_value; /* 96 bytes; NULL: CKM_SE_SK3_KEY_GEN */
    CK_ULONG failure_limit;            /* used when limit_given */
    bool limit_given;
    bool extractable_hosts; /* host keys CKA_EXTRACTABLE TRUE (still sensitive) */
} sk3_world_opts;

/* Labels of the three tokens and of the keys on them. */
extern const char *const sk3_token_label[3];
#define SK3_KEY_LABEL "sk3-key"

/* Initializes three blank tokens (C_InitToken, C_InitPIN), makes the
 * server key on S and provisions host keys i and j (see sk3_provision).
 * The module is initialized. */
CK_RV sk3_world_make(sk3_world *w, const sk3_world_opts *opts);
/* In another process or after C_Initialize: finds the tokens by label,
 * opens sessions, logs in and finds the keys by label. */
CK_RV sk3_world_open(sk3_world *w);

/* HOST_DERIVE on S for id, wrapped with CKM_AES_KEY_WRAP_KWP under a
 * fresh transport key made on both tokens (C_CreateObject of the same
 * AES value, destroyed afterwards), unwrapped on token `host` as a
 * token CKK_SE_SK3_HOST key with CKA_SE_HOST_ID = id.  extra: more
 * attributes for the unwrap template (CKA_SE_FAILURE_LIMIT…). */
CK_RV sk3_provision(sk3_world *w, int host, const unsigned char *id, const CK_ATTRIBUTE *extra,
                    CK_ULONG extra_count, CK_OBJECT_HANDLE *out);

/* cmocka fixtures: *state is an sk3_state with a fresh store, the module
 * initialized and the world made (sk3_setup_world: KEY_GEN server key,
 * default limit).  sk3_setup_module stops before the world. */
typedef struct sk3_state {
    void *fx; /* p11_fixture's fx */
    sk3_world w;
} sk3_state;
int sk3_setup_module(void **state);
int sk3_setup_world(void **state);
int sk3_teardown(void **state);

/* ---- queries ------------------------------------------------------------------------ */

/* How σ is made: an AES-256 key for encryption (sensitive), or a generic
 * secret the test can read (extractable, not sensitive).  Session objects. */
typedef enum sk3_sigma { SK3_SIGMA_AES, SK3_SIGMA_READABLE } sk3_sigma;

CK_RV sk3_q1(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *ri, unsigned char *ci);
CK_RV sk3_server(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *i,
                 const unsigned char *j, unsigned char *alpha, unsigned char *beta);
/* sigma may be NULL when the caller does not keep σ (it is destroyed). */
CK_RV sk3_q2(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *peer,
             const unsigned char *ri, unsigned char *rj, unsigned char *tau, sk3_sigma kind,
             CK_OBJECT_HANDLE *sigma);
CK_RV sk3_q3(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_SE_SK3_Q3_PARAMS *params, sk3_sigma kind,
             CK_OBJECT_HANDLE *sigma);
CK_RV sk3_q4(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *peer,
             const unsigned char *ri, const unsigned char *rj, const unsigned char *rho,
             CK_ULONG rho_len);

/* One whole honest round on the world: Q1 on i, SERVER, Q2 on j, Q3 on i,
 * Q4 on j; σ_i and σ_j (when not NULL) as kind.  The first failing
 * call's CK_RV. */
CK_RV sk3_round(sk3_world *w, sk3_sigma kind, CK_OBJECT_HANDLE *sigma_i, CK_OBJECT_HANDLE *sigma_j);

/* ---- reading ------------------------------------------------------------------------ */

CK_RV sk3_failure_count(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_ULONG *count);
/* CKA_VALUE into out (at most *len bytes); *len = its length. */
CK_RV sk3_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *out, CK_ULONG *len);
/* Number of secret-key objects the session sees. */
CK_RV sk3_count_secret_keys(CK_SESSION_HANDLE s, CK_ULONG *count);

/* AES-GCM with a 12-byte IV: out = ciphertext ‖ 16-byte tag. */
CK_RV sk3_gcm_seal(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *iv,
                   const void *in, CK_ULONG in_len, unsigned char *out, CK_ULONG *out_len);
CK_RV sk3_gcm_open(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *iv,
                   const unsigned char *in, CK_ULONG in_len, unsigned char *out, CK_ULONG *out_len);

/* Moves the token to a lifecycle state in an SO session (docs/spec.md §3). */
CK_RV sk3_set_lifecycle(CK_SLOT_ID slot, unsigned char state);

/* Lower-case hex of len bytes into out (2 * len + 1). */
void sk3_hex(const unsigned char *in, size_t len, char *out);
/* Parses exactly len bytes of hex; false when malformed. */
bool sk3_unhex(const char *in, unsigned char *out, size_t len);

#endif
