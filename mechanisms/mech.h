/*
 * mech.h — the mechanism table.
 *
 * Every mechanism is one row: its PKCS#11 info (key sizes, flags) and the
 * callbacks that implement it.  C_GetMechanismList / C_GetMechanismInfo
 * and every C_*Init dispatch are generated from the same rows (mech.c).
 * Rows live next to their implementation: mechanisms/mech_*.c for the
 * standard mechanisms, the files of vendor-mechs/ for docs/spec.md's.
 *
 * The core (module/crypto_ops.c) owns the PKCS#11 conventions: session
 * state, the length query (NULL output → size; too small →
 * CKR_BUFFER_TOO_SMALL, operation kept), ending the operation on error,
 * checking the key's usage flags (CKA_SIGN…) and class.  A row checks its
 * parameter and the key's type and size, and does the cryptography
 * through OpenSSL EVP.
 */
#ifndef SOFTSE_MECH_H
#define SOFTSE_MECH_H

#include "attrs.h"
#include "p11.h"

#include <openssl/evp.h>

typedef enum mech_op_kind {
    MECH_DIGEST,
    MECH_SIGN,
    MECH_VERIFY,
    MECH_ENCRYPT,
    MECH_DECRYPT,
    MECH_SIGN_RECOVER,   /* C_SignRecover: single-part, the signature out */
    MECH_VERIFY_RECOVER, /* C_VerifyRecover: the signature in, the data out */
} mech_op_kind;
#define MECH_OP_KINDS (MECH_VERIFY_RECOVER + 1)

typedef enum mech_phase {
    MECH_PHASE_UPDATE,  /* output of update(in_len) */
    MECH_PHASE_FINAL,   /* output of final() after what was fed */
    MECH_PHASE_ONESHOT, /* output of a single-part call on in_len bytes */
} mech_phase;

/* Key material handed to a mechanism, built from a key object's
 * attributes by mech_key_from_attrs (keyconv.c). */
typedef struct mech_key {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    EVP_PKEY *pkey;        /* RSA, EC, EdDSA keys (public or private) */
    unsigned char *secret; /* secret keys: CKA_VALUE, cleansed on free */
    size_t secret_len;
    /* Of the key object's attributes, those a mechanism may read:
     * CKA_SE_INTERNAL_SECRET for vendor mechanisms and derivations, with
     * CKA_ALWAYS_SENSITIVE and CKA_NEVER_EXTRACTABLE for derivations
     * (crypto_ops.c lent_attrs); valid during the call only. */
    const attr_list *attrs;
    CK_OBJECT_HANDLE handle; /* the key object (for vendor_env.h services) */
    /* Optional, owned (freed by mech_key_free): a context of pkey with
     * the init of pkey_ctx_usage run on it (CKA_SIGN: EVP_PKEY_sign_init,
     * CKA_VERIFY, CKA_ENCRYPT, CKA_DECRYPT likewise), kept with a borrowed
     * key (module/key_cache.c) for mech_key_ctx to duplicate: making a
     * context fetches the operation's method, half of an ECDSA
     * C_SignInit's cost (issue 18). */
    EVP_PKEY_CTX *pkey_ctx;
    CK_ATTRIBUTE_TYPE pkey_ctx_usage;
} mech_key;

/* The core's services to mechanisms that need more than a key (vendor
 * mechanisms: the token's attestation key, persistent counters, audit).
 * It lives as long as the session, so an operation's state may keep the
 * pointer from init to its end.  Defined in module/core.h; standard
 * mechanisms ignore it. */
typedef struct mech_env mech_env;

/* Streaming operations (digest, sign, verify, encrypt, decrypt). */
typedef struct mech_ops {
    /* Checks the parameter (CKR_MECHANISM_PARAM_INVALID), the key's type
     * (CKR_KEY_TYPE_INCONSISTENT) and size (CKR_KEY_SIZE_RANGE) and sets
     * up *state.  key is NULL for digests.  The key's contents may be
     * copied or referenced (EVP_PKEY_up_ref); key itself is freed by the
     * caller after init returns. */
    CK_RV (*init)(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                  const mech_env *env, void **state);
    /* Bytes the next call will produce at most.  The core calls this
     * before update/final/oneshot and gives them a buffer at least that
     * large, so they never see a short buffer. */
    CK_RV (*out_size)(void *state, mech_phase phase, size_t in_len, size_t *out_len);
    /* Feeds data; encrypt/decrypt write output (*out_len = bytes written);
     * sign/verify/digest get out == NULL. */
    CK_RV (*update)(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                    size_t *out_len);
    /* Finishes digest, sign, encrypt or decrypt. */
    CK_RV (*final)(void *state, unsigned char *out, size_t *out_len);
    /* Finishes a verify: CKR_OK, CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE. */
    CK_RV (*verify_final)(void *state, const unsigned char *sig, size_t sig_len);
    /* Single-part call; NULL means the core does update + final. */
    CK_RV (*oneshot)(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                     size_t *out_len);
    /* Single-part verify; NULL means update + verify_final. */
    CK_RV (*verify_oneshot)(void *state, const unsigned char *in, size_t in_len,
                            const unsigned char *sig, size_t sig_len);
    void (*free)(void *state);
    /* Optional, both or neither: the session keeps one ended state per
     * operation kind for its next init of the same ops instead of freeing
     * it (a digest context kept, not made and freed per call; an HMAC
     * context kept keyed with its key: issue 18).  park wipes every trace
     * of the ended operation from the state (false: free it instead);
     * reuse is init on a parked state, with the borrowed key for a keyed
     * kind (on failure the core frees it).  A parked state that holds key
     * material must be refused by park once a login ended
     * (mech_key_mark_live); the core frees the parked states of a token's
     * sessions at C_Logout (sessions_drop_parked). */
    bool (*park)(void *state);
    CK_RV (*reuse)(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                   const mech_env *env, void *state);
} mech_ops;

typedef struct mech_row {
    CK_MECHANISM_TYPE type;
    const char *name;
    CK_MECHANISM_INFO info; /* sizes in bits (RSA, EC) or bytes (secret keys), CKF_* */
    bool multipart;         /* C_*Update allowed (else CKR_FUNCTION_NOT_SUPPORTED) */
    const mech_ops *ops;    /* streaming operations, or NULL */
    /* What the row's callbacks need to know about it (its hash, its
     * scheme…), so that rows that share callbacks need no side table;
     * the callbacks find it with mech_row_data.  NULL: nothing. */
    const void *data;

    /* C_GenerateKey: out receives CKA_KEY_TYPE, CKA_VALUE, CKA_VALUE_LEN
     * (and any other attribute the mechanism fixes); the core merges the
     * template and the defaults.  CKR_TEMPLATE_INCOMPLETE /
     * CKR_ATTRIBUTE_VALUE_INVALID for a bad CKA_VALUE_LEN. */
    CK_RV (*generate)(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                      attr_list *out);
    /* C_GenerateKeyPair: pub_out gets CKA_KEY_TYPE and the public values
     * (CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_MODULUS_BITS / CKA_EC_PARAMS,
     * CKA_EC_POINT / CKA_VALUE for EdDSA, CKA_PUBLIC_KEY_INFO); priv_out
     * gets the private values and the same public ones a consumer expects
     * on a private key (CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS,
     * CKA_PUBLIC_KEY_INFO). */
    CK_RV (*generate_pair)(const CK_MECHANISM *mech, const attr_list *pub_tmpl,
                           const attr_list *priv_tmpl, attr_list *pub_out, attr_list *priv_out);
    /* C_DeriveKey: out receives CKA_VALUE (sized from the template's
     * CKA_VALUE_LEN or the key type) and CKA_KEY_TYPE when the
     * mechanism decides it. */
    CK_RV (*derive)(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                    const mech_env *env, attr_list *out);
    /* C_WrapKey of key bytes (a secret value, or a PKCS#8 private key).
     * out NULL: *out_len = size needed. */
    CK_RV (*wrap)(const CK_MECHANISM *mech, const mech_key *wrapping, const unsigned char *in,
                  size_t in_len, unsigned char *out, size_t *out_len);
    /* C_UnwrapKey: *out is malloc'ed key bytes, cleansed and freed by the caller. */
    CK_RV (*unwrap)(const CK_MECHANISM *mech, const mech_key *unwrapping, const unsigned char *in,
                    size_t in_len, unsigned char **out, size_t *out_len);
    /* Called when generate succeeded but the key was not made after all:
     * a mechanism that already wrote outputs (GKEA's EK and AK) erases
     * them, so that either everything exists afterwards or nothing. */
    void (*generate_failed)(const CK_MECHANISM *mech, const mech_env *env);
    /* An RSA row: info.ulMinKeySize is a floor, and C_GetMechanismInfo
     * reports the configured minimum (mech_rsa_min_bits) in its place. */
    bool rsa_sized;
} mech_row;

/* Each mech_*.c exports its rows as one of these. */
typedef struct mech_table {
    const mech_row *rows;
    size_t count;
} mech_table;

extern const mech_table mech_table_digest;  /* mechanisms/mech_digest.c */
extern const mech_table mech_table_sign;    /* mechanisms/mech_sign.c: RSA, ECDSA, EdDSA, HMAC, CMAC */
extern const mech_table mech_table_cipher;  /* mechanisms/mech_cipher.c: AES modes, RSA encryption */
extern const mech_table mech_table_keygen;  /* mechanisms/mech_keygen.c */
extern const mech_table mech_table_wrap;    /* mechanisms/mech_wrap.c: AES-KW, KWP */
extern const mech_table mech_table_derive;  /* mechanisms/mech_derive.c: ECDH, HKDF, SP800-108 */
extern const mech_table mech_table_rsa_raw; /* mechanisms/mech_rsa_raw.c: CKM_RSA_X_509, recovery */
extern const mech_table mech_table_des3;    /* mechanisms/mech_des3.c: Triple DES */
extern const mech_table mech_table_encrypt_data; /* mechanisms/mech_encrypt_data.c: *_ENCRYPT_DATA */

/* A family outside mechanisms/ (the vendor room, vendor-mechs/vendor.c)
 * adds its rows after the standard ones: once, before the first lookup
 * (module/families.c runs every registration from C_Initialize).  False
 * once mech_find has built its index, or when MECH_TABLES_MAX is reached. */
#define MECH_TABLES_MAX 16
bool mech_register(const mech_table *table);

/* A row's data, for its callbacks (which get the CK_MECHANISM, not the
 * row): the row of type in table that has every flag of needed (the
 * callback's own: CKF_SIGN, CKF_GENERATE…).  Searches that one table
 * only, so a family's rows work without the others (tests compile a
 * family alone).  NULL when there is no such row or it has no data. */
static inline const void *mech_row_data(const mech_table *table, CK_MECHANISM_TYPE type,
                                        CK_FLAGS needed)
{
    for (const mech_row *row = table->rows; row < table->rows + table->count; row++)
        if (row->type == type && (row->info.flags & needed) == needed)
            return row->data;
    return NULL;
}

/* The row of a mechanism that has every flag of needed (CKF_SIGN…);
 * NULL when the mechanism does not do that. */
const mech_row *mech_find(CK_MECHANISM_TYPE type, CK_FLAGS needed);
/* C_GetMechanismInfo: the union of the mechanism's rows; false if none. */
bool mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info);
/* Fills list (or counts when list is NULL) of every supported mechanism, once each. */
size_t mech_list(CK_MECHANISM_TYPE *list, size_t max);
/* Calls visit on every row of every table, in table order (the tests that
 * check the tables' consistency: tests/mechanisms/test_mech.c). */
void mech_each_row(void (*visit)(const mech_row *row, void *arg), void *arg);

/* ---- RSA key sizes (mechanisms/mech_rsa_size.c) ------------------------- */

/* RSA moduli from MECH_RSA_MIN_BITS (card profiles certify 1024-bit keys)
 * to MECH_RSA_MAX_BITS.  The configuration may raise the minimum
 * (rsa_min_bits, docs/spec.md "RSA as cards use it"); C_Initialize sets
 * it before any operation, and every RSA generation, import and use
 * checks against it. */
#define MECH_RSA_MIN_BITS 1024
#define MECH_RSA_MAX_BITS 4096
void mech_rsa_set_min_bits(CK_ULONG bits);
CK_ULONG mech_rsa_min_bits(void);
/* CKR_KEY_SIZE_RANGE for an RSA key (public or private) outside
 * mech_rsa_min_bits()..MECH_RSA_MAX_BITS; CKR_OK for any other key. */
CK_RV mech_rsa_check_size(const mech_key *key);

/* ---- key conversions (mechanisms/keyconv.c) ------------------------------ */

/* Builds key material from a key object's attributes (RSA from modulus,
 * exponents and CRT values; EC from CKA_EC_PARAMS with CKA_VALUE or
 * CKA_EC_POINT; EdDSA; secret keys from CKA_VALUE).  Errors:
 * CKR_KEY_TYPE_INCONSISTENT, CKR_TEMPLATE_INCOMPLETE, CKR_ATTRIBUTE_VALUE_INVALID. */
CK_RV mech_key_from_attrs(const attr_list *attrs, mech_key *out);
void mech_key_free(mech_key *key); /* frees pkey and pkey_ctx, cleanses secret */

/* A context of pkey with usage's init run on it (CKA_SIGN, CKA_VERIFY,
 * CKA_ENCRYPT, CKA_DECRYPT), for mech_key.pkey_ctx; NULL for another usage,
 * or when the key type has no such EVP_PKEY operation (EdDSA signs through
 * a digest context) or OpenSSL fails (its error queue cleared). */
EVP_PKEY_CTX *mech_pkey_template(EVP_PKEY *pkey, CK_ATTRIBUTE_TYPE usage);
/* A context of key->pkey ready for usage (as mech_pkey_template): a
 * duplicate of key->pkey_ctx when that was made for the same key and
 * usage, else a new one; NULL when OpenSSL fails.  The caller frees it and
 * sets up everything the mechanism needs (padding, digests) on it. */
EVP_PKEY_CTX *mech_key_ctx(const mech_key *key, CK_ATTRIBUTE_TYPE usage);

/* Private key object attributes → PKCS#8 DER (for C_WrapKey), and back
 * (for C_UnwrapKey: fills CKA_KEY_TYPE and the key values into out). */
CK_RV mech_key_to_pkcs8(const mech_key *key, unsigned char **der, size_t *der_len);
CK_RV mech_attrs_from_pkcs8(const unsigned char *der, size_t der_len, attr_list *out);

/* Public values of an EVP_PKEY as PKCS#11 attributes (CKA_KEY_TYPE,
 * CKA_MODULUS…/CKA_EC_PARAMS, CKA_EC_POINT…, CKA_PUBLIC_KEY_INFO). */
CK_RV mech_public_attrs(EVP_PKEY *pkey, attr_list *out);
/* Private values (CKA_PRIVATE_EXPONENT, primes… / CKA_VALUE). */
CK_RV mech_private_attrs(EVP_PKEY *pkey, attr_list *out);

/* Bits of an RSA/EC key, or bytes of a secret key: for CKR_KEY_SIZE_RANGE. */
CK_ULONG mech_key_size(const mech_key *key);

/* ---- Triple DES keys (mechanisms/mech_des3.c) ------------------------------ */

#define MECH_DES_BLOCK 8
/* 16 for CKK_DES2, 24 for CKK_DES3, 0 for any other key type. */
size_t mech_des_key_len(CK_KEY_TYPE type);
/* A DES2/DES3 value as softse takes one: its type's length, odd parity in
 * every byte (PKCS#11 3.0), and no single DES in disguise (K1 = K2, or
 * K2 = K3).  CKR_ATTRIBUTE_VALUE_INVALID otherwise. */
CK_RV mech_des_key_check(CK_KEY_TYPE type, const unsigned char *value, size_t len);
/* Sets each byte's low bit for odd parity (FIPS 46-3). */
void mech_des_set_parity(unsigned char *value, size_t len);
/* The DES-EDE3 key of a DES2 (K1‖K2‖K1) or DES3 value of len bytes. */
void mech_des3_key24(const unsigned char *value, size_t len, unsigned char out[24]);

/* ---- check values (mechanisms/mech_check_value.c) -------------------------- */

#define MECH_CHECK_VALUE_LEN 3
/* A new secret key's CKA_CHECK_VALUE (docs/spec.md §10): computed from
 * CKA_KEY_TYPE and CKA_VALUE in attrs and set; a value the caller gave
 * must match (else CKR_ATTRIBUTE_VALUE_INVALID), an empty one is kept
 * empty; a key type without a check value keeps none. */
CK_RV mech_set_check_value(attr_list *attrs);

#endif
