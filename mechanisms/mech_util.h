/*
 * mech_util.h — helpers shared by the mechanism files: the hash
 * mechanisms' EVP_MDs (fetched once per process), MGF1 types, the
 * elliptic curves softse supports and OpenSSL error reporting.
 */
#ifndef SOFTSE_MECH_UTIL_H
#define SOFTSE_MECH_UTIL_H

#include "attrs.h"
#include "mech_hash.h"
#include "p11.h"

#include <openssl/ec.h>
#include <openssl/evp.h>

/* The EVP_MD of a row of the hash table (mech_hash.h), fetched once and
 * kept for the life of the process; NULL when hash is NULL or the
 * provider lacks it. */
const EVP_MD *mech_hash_evp(const mech_hash *hash);
/* The same by the hash's mechanism (CKM_SHA_1 … CKM_SHA3_512), any row of
 * the table; NULL when the mechanism is not a hash there. */
const EVP_MD *mech_hash_md(CK_MECHANISM_TYPE hash);
/* For many short HMACs (HMAC signatures, SK3's queries): a context keyed
 * with key, from a small pool of contexts that stay keyed with the key
 * they were last used with (reset, not rekeyed, when the key comes again;
 * keys up to 64 bytes).  Give it back with mech_hmac_put; reusable false
 * after an OpenSSL failure.  A pooled context keeps OpenSSL's copy of its
 * key (the pool recognizes keys by a masked copy) until it is rekeyed,
 * or mech_keyed_forget or C_Finalize frees it, cleansed. */
typedef struct mech_hmac {
    EVP_MAC_CTX *ctx;
    struct hmac_slot *slot; /* NULL: not pooled */
} mech_hmac;
CK_RV mech_hmac_get(mech_hmac *mac, CK_MECHANISM_TYPE hash, const unsigned char *key,
                    size_t key_len);
void mech_hmac_put(mech_hmac *mac, bool reusable);
/* The key a context a session keeps (parked, mech.h) was keyed with,
 * recognized by a masked copy (XOR a random pad of the process, as the
 * pool does), and the count of mech_keyed_forget calls when it was
 * keyed: a context kept across the end of a login is never reused.
 * Zeroed: no key. */
typedef struct mech_key_mark {
    unsigned char masked[64];
    size_t len; /* 0: none (a key over 64 bytes is not marked) */
    uint64_t generation;
} mech_key_mark;
void mech_key_mark_set(mech_key_mark *mark, const unsigned char *key, size_t len);
/* Whether key is the marked one and no login ended since (constant time
 * in the key's bytes). */
bool mech_key_mark_is(const mech_key_mark *mark, const unsigned char *key, size_t len);
/* Whether a key is marked and no login ended since: a context may be parked. */
bool mech_key_mark_live(const mech_key_mark *mark);
void mech_key_mark_clear(mech_key_mark *mark);

/* A keyed HMAC context one session keeps between its HMAC operations
 * (the HMAC rows park it): no lock, no pool, no rekeying while the
 * session signs or verifies with the same key.  Zeroed: none kept. */
typedef struct mech_hmac_kept {
    EVP_MAC_CTX *ctx;
    size_t hash; /* index in mech_hashes */
    bool rested; /* in its keyed state: no trace of an operation */
    mech_key_mark mark;
} mech_hmac_kept;
/* Makes mac->ctx ready for an HMAC with key over hash: as parked when it
 * was keyed with the same key, else keyed anew. */
CK_RV mech_hmac_keep(mech_hmac_kept *mac, CK_MECHANISM_TYPE hash, const unsigned char *key,
                     size_t key_len);
/* Resets mac to its keyed state, for parking; false: it must go instead
 * (OpenSSL failed, its key is not marked, or a login ended since). */
bool mech_hmac_rest(mech_hmac_kept *mac);
/* Frees the context (OpenSSL cleanses its key) and the mark. */
void mech_hmac_drop(mech_hmac_kept *mac);
/* Frees every pooled context keyed with a key (cleansed), at the end of
 * a login: C_Logout, the last session's close.  A context in use goes
 * when it is given back; a session's kept context is dropped by the core
 * (sessions_drop_parked) or, in use now, refused by mech_hmac_rest. */
void mech_keyed_forget(void);
/* len random bytes from OpenSSL's DRBG, public (RAND_bytes) or secret
 * (RAND_priv_bytes), short draws taken from a block drawn at once: each
 * DRBG call costs a getpid system call (OpenSSL 3.0's fork check), more
 * than a 32-byte draw itself.  Bytes handed out are erased from the
 * block; a forked child starts with fresh blocks, C_Finalize erases them. */
CK_RV mech_random(void *out, size_t len, bool secret);
/* The EVP_MD of an MGF1 type (CKG_MGF1_SHA1 …, any row of the hash
 * table); NULL when unsupported. */
const EVP_MD *mech_mgf1_md(CK_RSA_PKCS_MGF_TYPE mgf);

/* A curve softse supports (P-256, P-384, P-521, Ed25519). */
typedef struct mech_curve {
    int nid;              /* NID_X9_62_prime256v1 … NID_ED25519 */
    CK_KEY_TYPE key_type; /* CKK_EC or CKK_EC_EDWARDS */
    const char *name;     /* OpenSSL group name (EC) or key type name (EdDSA) */
    CK_ULONG bits;        /* what mech_key_size reports */
    size_t field_bytes;   /* size of a coordinate, of r or s, of a scalar */
} mech_curve;

/* Reads a CKA_EC_PARAMS value: the DER of a named-curve OID, or of a
 * PrintableString curve name (PKCS#11 3.0 §2.3.3).  Malformed DER →
 * CKR_ATTRIBUTE_VALUE_INVALID; well-formed but not supported (other
 * curves, explicit parameters) → CKR_CURVE_NOT_SUPPORTED. */
CK_RV mech_curve_from_params(const void *der, size_t der_len, const mech_curve **curve);
/* NULL when the curve is not supported. */
const mech_curve *mech_curve_by_nid(int nid);
/* The curve of an EC or Ed25519 EVP_PKEY; NULL when not supported. */
const mech_curve *mech_curve_of_pkey(const EVP_PKEY *pkey);
/* The curve's EC_GROUP (CKK_EC curves only), built once per process and
 * shared read-only: building one costs about as much as a signature. */
const EC_GROUP *mech_curve_group(const mech_curve *curve);
/* Sets CKA_EC_PARAMS to the DER of the curve's OID. */
CK_RV mech_set_ec_params(attr_list *out, const mech_curve *curve);

/* True when the mechanism carries no parameter (ulParameterLen 0; some
 * callers pass a non-NULL pointer with it). */
bool mech_param_absent(const CK_MECHANISM *mech);

/* Logs and clears OpenSSL's error queue after a failed call; returns rv. */
CK_RV mech_openssl_error(const char *what, CK_RV rv);

/* The provider key-type name to fetch with ("RSA", "EC" → their OIDs): a
 * name with a legacy NID makes OpenSSL 3.0 use the ENGINE registered as
 * the process default for that type (openssl -engine pkcs11 does that)
 * and fail; an OID skips that lookup and fetches the provider directly. */
const char *mech_keytype(const char *name);

/* A cache of fetched OpenSSL objects, filled on first use and emptied by
 * C_Finalize (mech_caches_release): a module that is unloaded after
 * C_Finalize leaks nothing, and one initialized again fetches anew.  (An
 * ELF destructor cannot do this: at process exit OpenSSL has already
 * cleaned up by then.) */
typedef struct mech_once {
    pthread_mutex_t lock;
    bool done;
    void (*fill)(void); /* NULL: a cache filled by its users, only emptied here */
    void (*empty)(void);
    struct mech_once *next;
} mech_once;

#define MECH_ONCE_INIT(fill, empty)                                                                \
    {                                                                                              \
        PTHREAD_MUTEX_INITIALIZER, false, fill, empty, NULL                                        \
    }

/* A DER SubjectPublicKeyInfo, whole (no trailing bytes), as a key; NULL
 * when it does not parse.  The last few distinct keys are kept parsed
 * (OpenSSL 3.0's decoder costs ~100 µs; an issuer sends the same server
 * key to every card).  Free the result with EVP_PKEY_free. */
EVP_PKEY *mech_spki_decode(const unsigned char *der, size_t len);

/* OpenSSL's DER ECDSA-Sig-Value as CKM_ECDSA's r ‖ s, each half bytes
 * (left-padded); CKR_FUNCTION_FAILED when it does not decode or a half
 * does not fit. */
CK_RV mech_ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t half,
                            unsigned char *out);

/* RSA public-key encryption contexts set up for a key: the raw RSA
 * operation, or RSAES-OAEP with SHA-256, MGF1-SHA-256 and the empty label.
 * Issuers and servers send the same key (mech_spki_decode's EVP_PKEY) to
 * every card, and setting a context up costs a tenth of an RSA call, so
 * contexts given back are kept for the next call with that key.  A
 * context holds only the public key and the padding; one call at a time
 * uses it.  NULL on failure; a context that failed is freed, not given. */
typedef enum mech_rsa_enc { MECH_RSA_ENC_RAW, MECH_RSA_ENC_OAEP_SHA256 } mech_rsa_enc;
EVP_PKEY_CTX *mech_rsa_enc_take(EVP_PKEY *key, mech_rsa_enc kind);
void mech_rsa_enc_give(EVP_PKEY *key, mech_rsa_enc kind, EVP_PKEY_CTX *ctx);

/* Fills the cache unless it is already; true when it is filled. */
bool mech_once_run(mech_once *once);
/* Empties every cache filled so far (C_Finalize: no call is in progress). */
void mech_caches_release(void);

#endif
