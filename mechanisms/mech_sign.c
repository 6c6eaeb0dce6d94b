/*
 * mech_sign.c — signature and MAC mechanisms: RSA PKCS #1 v1.5 and PSS
 * (PKCS#11 3.0 §2.1), ECDSA (§2.3), EdDSA with Ed25519 (§2.3.14), HMAC
 * (§2.20…) and CMAC (§2.11) for AES and DES3 (mech_block.h).
 *
 * Mechanisms that hash (CKM_SHA256_RSA_PKCS…) keep the EVP_MD_CTX of
 * EVP_DigestSignInit / EVP_DigestVerifyInit and are multipart; those that
 * sign the caller's input as it is (CKM_RSA_PKCS, CKM_RSA_PKCS_PSS,
 * CKM_ECDSA) keep an EVP_PKEY_CTX; EdDSA signs the whole message in one
 * EVP_DigestSign.  These contexts hold their own reference to the key, so
 * the state outlives the caller's mech_key and nothing is re-imported
 * per call.  PKCS#11 ECDSA signatures are r ‖ s, each the size of the
 * curve's order; OpenSSL speaks DER, so they are converted here.
 *
 * Each row's data is its sign_mech (scheme and hash); the rows with a
 * hash are generated from the hash table (mech_hash.h).
 */
#include "mech.h"
#include "mech_block.h"
#include "mech_util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

/* Key sizes, in bits for RSA and EC keys and in bytes for secret keys. */
#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 4096
#define EC_MIN_BITS 256
#define EC_MAX_BITS 521
#define ED25519_BITS 256
#define HMAC_MIN_BYTES 1
#define HMAC_MAX_BYTES 512
#define AES_MIN_BYTES 16
#define AES_MAX_BYTES 32

#define RSA_PKCS1_OVERHEAD 11 /* RFC 8017 §8.2.1: input at most k − 11 bytes */
#define ECDSA_DER_MAX 160     /* a DER ECDSA-Sig-Value on P-521 is at most 139 bytes */

/* ---- asymmetric signatures ---------------------------------------------- */

typedef enum sign_scheme {
    SCHEME_RSA_PKCS,
    SCHEME_RSA_PSS,
    SCHEME_ECDSA,
    SCHEME_EDDSA,
    SCHEME_HMAC,
    SCHEME_CMAC,
} sign_scheme;

/* A row's data. */
typedef struct sign_mech {
    sign_scheme scheme;
    const mech_hash *hash; /* the token hashes the data with it; NULL: signs the input as given */
} sign_mech;

/* The sign_mech of a row of this file; NULL for any other mechanism. */
static const sign_mech *sign_mech_of(CK_MECHANISM_TYPE type, mech_op_kind kind)
{
    return mech_row_data(&mech_table_sign, type, kind == MECH_SIGN ? CKF_SIGN : CKF_VERIFY);
}

typedef struct sign_state {
    const sign_mech *mech;
    mech_op_kind kind;
    EVP_MD_CTX *md_ctx;     /* hashing mechanisms and EdDSA */
    EVP_PKEY_CTX *pkey_ctx; /* mechanisms that sign the input as given */
    size_t sig_len;         /* the exact size of a signature */
    size_t max_in;          /* CKM_RSA_PKCS: k − 11; else 0 */
    size_t exact_in;        /* CKM_RSA_PKCS_PSS: the hash length; else 0 */
} sign_state;

static CK_RV check_sign_key(const sign_mech *mech, const mech_key *key, mech_op_kind kind)
{
    CK_KEY_TYPE key_type = CKK_RSA;
    int pkey_type = EVP_PKEY_RSA;
    CK_ULONG min = mech_rsa_min_bits(), max = RSA_MAX_BITS; /* rsa_min_bits (mech.h) */
    if (mech->scheme == SCHEME_ECDSA) {
        key_type = CKK_EC;
        pkey_type = EVP_PKEY_EC;
        min = EC_MIN_BITS;
        max = EC_MAX_BITS;
    } else if (mech->scheme == SCHEME_EDDSA) {
        key_type = CKK_EC_EDWARDS;
        pkey_type = EVP_PKEY_ED25519;
        min = max = ED25519_BITS;
    }
    if (!key || !key->pkey || key->type != key_type || EVP_PKEY_get_base_id(key->pkey) != pkey_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (kind == MECH_SIGN && key->cls != CKO_PRIVATE_KEY)
        return CKR_KEY_TYPE_INCONSISTENT;
    CK_ULONG size = mech_key_size(key);
    if (size < min || size > max)
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}

/* CKM_EDDSA: no parameter, or CK_EDDSA_PARAMS asking for plain Ed25519
 * (no prehash, no context: Ed25519ph and Ed25519ctx are not offered). */
static CK_RV check_eddsa_params(const CK_MECHANISM *mech)
{
    if (mech_param_absent(mech))
        return CKR_OK;
    if (!mech->pParameter || mech->ulParameterLen != sizeof(CK_EDDSA_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_EDDSA_PARAMS params;
    memcpy(&params, mech->pParameter, sizeof(params));
    if (params.phFlag != CK_FALSE || params.ulContextDataLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

/* CK_RSA_PKCS_PSS_PARAMS (PKCS#11 3.0 §2.1.13): a supported hash, which
 * must be the mechanism's own for CKM_SHAx_RSA_PKCS_PSS, an MGF1 type,
 * and a salt that fits the encoded message (RFC 8017 §9.1.1). */
static CK_RV configure_pss(const sign_mech *mech, const CK_MECHANISM *param, EVP_PKEY *pkey,
                           EVP_PKEY_CTX *pctx, size_t *hash_len)
{
    if (!param->pParameter || param->ulParameterLen != sizeof(CK_RSA_PKCS_PSS_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RSA_PKCS_PSS_PARAMS params;
    memcpy(&params, param->pParameter, sizeof(params));
    if (mech->hash && params.hashAlg != mech->hash->mech)
        return CKR_MECHANISM_PARAM_INVALID;
    const EVP_MD *md = mech_hash_md(params.hashAlg);
    const EVP_MD *mgf1 = mech_mgf1_md(params.mgf);
    if (!md || !mgf1)
        return CKR_MECHANISM_PARAM_INVALID;
    size_t md_len = (size_t)EVP_MD_get_size(md);
    size_t em_len = ((size_t)EVP_PKEY_get_bits(pkey) - 1 + 7) / 8;
    if (em_len < md_len + 2 || params.sLen > em_len - md_len - 2)
        return CKR_MECHANISM_PARAM_INVALID;
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, (int)params.sLen) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) <= 0 ||
        (!mech->hash && EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0))
        return mech_openssl_error("PSS parameters", CKR_FUNCTION_FAILED);
    *hash_len = md_len;
    return CKR_OK;
}

/* Sets up the EVP context for the scheme and fills in the sizes. */
static CK_RV configure(sign_state *s, const CK_MECHANISM *param, EVP_PKEY *pkey, EVP_PKEY_CTX *pctx)
{
    size_t key_bytes = (size_t)EVP_PKEY_get_size(pkey);
    switch (s->mech->scheme) {
    case SCHEME_RSA_PKCS:
        s->sig_len = key_bytes;
        if (!s->mech->hash)
            s->max_in = key_bytes - RSA_PKCS1_OVERHEAD;
        if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) <= 0)
            return mech_openssl_error("PKCS #1 padding", CKR_FUNCTION_FAILED);
        return CKR_OK;
    case SCHEME_RSA_PSS: {
        size_t hash_len = 0;
        CK_RV rv = configure_pss(s->mech, param, pkey, pctx, &hash_len);
        s->sig_len = key_bytes;
        if (!s->mech->hash)
            s->exact_in = hash_len;
        return rv;
    }
    case SCHEME_ECDSA:
        s->sig_len = 2 * (((size_t)EVP_PKEY_get_bits(pkey) + 7) / 8);
        return CKR_OK;
    case SCHEME_EDDSA:
        s->sig_len = key_bytes;
        return CKR_OK;
    case SCHEME_HMAC:
    case SCHEME_CMAC:
        break; /* mac_init's */
    }
    return CKR_MECHANISM_INVALID;
}

static void sign_free(void *state)
{
    sign_state *s = state;
    if (!s)
        return;
    EVP_MD_CTX_free(s->md_ctx);
    EVP_PKEY_CTX_free(s->pkey_ctx);
    free(s);
}

static CK_RV sign_init(const CK_MECHANISM *param, const mech_key *key, mech_op_kind kind,
                       const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_SIGN && kind != MECH_VERIFY)
        return CKR_MECHANISM_INVALID;
    const sign_mech *mech = sign_mech_of(param->mechanism, kind);
    if (!mech || mech->scheme == SCHEME_HMAC || mech->scheme == SCHEME_CMAC)
        return CKR_MECHANISM_INVALID;
    if (mech->scheme == SCHEME_EDDSA) {
        CK_RV rv = check_eddsa_params(param);
        if (rv != CKR_OK)
            return rv;
    } else if (mech->scheme != SCHEME_RSA_PSS && !mech_param_absent(param)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    CK_RV rv = check_sign_key(mech, key, kind);
    if (rv != CKR_OK)
        return rv;

    sign_state *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    s->mech = mech;
    s->kind = kind;
    EVP_PKEY_CTX *pctx = NULL;
    rv = CKR_HOST_MEMORY;
    const EVP_MD *md = mech->hash ? mech_hash_evp(mech->hash) : NULL;
    if (mech->scheme == SCHEME_EDDSA) {
        s->md_ctx = EVP_MD_CTX_new();
        if (!s->md_ctx)
            goto out;
        /* The _ex forms with no ENGINE: a process that made an ENGINE the
         * default for EdDSA (openssl -engine pkcs11) must not reroute us. */
        int ok = kind == MECH_SIGN
                     ? EVP_DigestSignInit_ex(s->md_ctx, &pctx, NULL, NULL, NULL, key->pkey, NULL)
                     : EVP_DigestVerifyInit_ex(s->md_ctx, &pctx, NULL, NULL, NULL, key->pkey, NULL);
        if (ok <= 0) {
            rv = mech_openssl_error("signature init", CKR_FUNCTION_FAILED);
            goto out;
        }
    } else {
        /* A hashing mechanism hashes here and signs the hash through the
         * key's context, as EVP_DigestSign does inside: the key's context
         * is then a duplicate of the one kept with the key (mech_key_ctx),
         * not a new one per C_SignInit (issue 18). */
        if (mech->hash && (!md || !(s->md_ctx = EVP_MD_CTX_new()) ||
                           !EVP_DigestInit_ex2(s->md_ctx, md, NULL))) {
            rv = mech_openssl_error("signature digest", CKR_FUNCTION_FAILED);
            goto out;
        }
        s->pkey_ctx = pctx = mech_key_ctx(key, kind == MECH_SIGN ? CKA_SIGN : CKA_VERIFY);
        if (!pctx) {
            rv = mech_openssl_error("signature init", CKR_FUNCTION_FAILED);
            goto out;
        }
    }
    rv = configure(s, param, key->pkey, pctx);
    if (rv == CKR_OK && md && EVP_PKEY_CTX_set_signature_md(pctx, md) <= 0)
        rv = mech_openssl_error("signature digest", CKR_FUNCTION_FAILED);
out:
    if (rv != CKR_OK)
        sign_free(s);
    else
        *state = s;
    return rv;
}

static CK_RV sign_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)in_len;
    const sign_state *s = state;
    *out_len = phase == MECH_PHASE_UPDATE ? 0 : s->sig_len;
    return CKR_OK;
}

/* CKM_RSA_PKCS takes 1 to k − 11 bytes: OpenSSL cannot verify a
 * signature over nothing, so none is made either. */
static CK_RV check_input(const sign_state *s, size_t in_len)
{
    if (s->max_in && (in_len == 0 || in_len > s->max_in))
        return CKR_DATA_LEN_RANGE;
    if (s->exact_in && in_len != s->exact_in)
        return CKR_DATA_LEN_RANGE;
    return CKR_OK;
}

/* r ‖ s → DER, for OpenSSL's verification. */
static CK_RV ecdsa_raw_to_der(const unsigned char *raw, size_t half, unsigned char *der,
                              size_t *der_len)
{
    CK_RV rv = CKR_HOST_MEMORY;
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(raw + half, (int)half, NULL);
    if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    int len = i2d_ECDSA_SIG(sig, NULL);
    unsigned char *p = der;
    if (len <= 0 || (size_t)len > *der_len || i2d_ECDSA_SIG(sig, &p) != len) {
        rv = mech_openssl_error("ECDSA signature encoding", CKR_FUNCTION_FAILED);
        goto out;
    }
    *der_len = (size_t)len;
    rv = CKR_OK;
out:
    ECDSA_SIG_free(sig);
    return rv;
}

static CK_RV sign_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    (void)out;
    sign_state *s = state;
    if (out_len)
        *out_len = 0;
    return EVP_DigestUpdate(s->md_ctx, in, in_len) > 0
               ? CKR_OK
               : mech_openssl_error("signature update", CKR_FUNCTION_FAILED);
}

static CK_RV sign_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                          size_t *out_len)
{
    sign_state *s = state;
    CK_RV rv = check_input(s, in_len);
    if (rv != CKR_OK)
        return rv;
    size_t len = s->sig_len;
    if (s->mech->scheme == SCHEME_EDDSA) {
        if (EVP_DigestSign(s->md_ctx, out, &len, in, in_len) <= 0)
            return mech_openssl_error("EdDSA signature", CKR_FUNCTION_FAILED);
    } else if (s->mech->scheme == SCHEME_ECDSA) {
        unsigned char der[ECDSA_DER_MAX];
        size_t der_len = sizeof(der);
        if (EVP_PKEY_sign(s->pkey_ctx, der, &der_len, in, in_len) <= 0)
            return mech_openssl_error("ECDSA signature", CKR_FUNCTION_FAILED);
        rv = mech_ecdsa_der_to_raw(der, der_len, s->sig_len / 2, out);
    } else if (EVP_PKEY_sign(s->pkey_ctx, out, &len, in, in_len) <= 0) {
        return mech_openssl_error("RSA signature", CKR_FUNCTION_FAILED);
    }
    *out_len = len;
    return rv;
}

/* OpenSSL reports a malformed signature sometimes as 0, sometimes as an
 * error: to the caller both are an invalid signature. */
static CK_RV verify_result(int ok)
{
    if (ok == 1)
        return CKR_OK;
    return mech_openssl_error("signature verification", CKR_SIGNATURE_INVALID);
}

static CK_RV sign_verify_oneshot(void *state, const unsigned char *in, size_t in_len,
                                 const unsigned char *sig, size_t sig_len)
{
    sign_state *s = state;
    CK_RV rv = check_input(s, in_len);
    if (rv != CKR_OK)
        return rv;
    if (sig_len != s->sig_len)
        return CKR_SIGNATURE_LEN_RANGE;
    if (s->mech->scheme == SCHEME_EDDSA)
        return verify_result(EVP_DigestVerify(s->md_ctx, sig, sig_len, in, in_len));
    if (s->mech->scheme != SCHEME_ECDSA)
        return verify_result(EVP_PKEY_verify(s->pkey_ctx, sig, sig_len, in, in_len));
    unsigned char der[ECDSA_DER_MAX];
    size_t der_len = sizeof(der);
    rv = ecdsa_raw_to_der(sig, sig_len / 2, der, &der_len);
    if (rv != CKR_OK)
        return rv;
    return verify_result(EVP_PKEY_verify(s->pkey_ctx, der, der_len, in, in_len));
}

/* Hashing mechanisms (not EdDSA) finish with the hash of everything given
 * to sign_update, then the single-part operation on it through the key's
 * context (sign_init).  hash holds EVP_MAX_MD_SIZE bytes. */
static CK_RV sign_hash(sign_state *s, unsigned char *hash, size_t *hash_len)
{
    unsigned len = 0;
    if (EVP_DigestFinal_ex(s->md_ctx, hash, &len) <= 0)
        return mech_openssl_error("signature digest", CKR_FUNCTION_FAILED);
    *hash_len = len;
    return CKR_OK;
}

static CK_RV sign_final(void *state, unsigned char *out, size_t *out_len)
{
    unsigned char hash[EVP_MAX_MD_SIZE];
    size_t hash_len = 0;
    CK_RV rv = sign_hash(state, hash, &hash_len);
    return rv == CKR_OK ? sign_oneshot(state, hash, hash_len, out, out_len) : rv;
}

static CK_RV sign_verify_final(void *state, const unsigned char *sig, size_t sig_len)
{
    sign_state *s = state;
    if (sig_len != s->sig_len)
        return CKR_SIGNATURE_LEN_RANGE;
    unsigned char hash[EVP_MAX_MD_SIZE];
    size_t hash_len = 0;
    CK_RV rv = sign_hash(s, hash, &hash_len);
    return rv == CKR_OK ? sign_verify_oneshot(state, hash, hash_len, sig, sig_len) : rv;
}

/* Hashing mechanisms: multipart; a single-part call is update + final. */
static const mech_ops hashed_sign_ops = {
    .init = sign_init,
    .out_size = sign_out_size,
    .update = sign_update,
    .final = sign_final,
    .verify_final = sign_verify_final,
    .free = sign_free,
};

/* Mechanisms over the caller's input as given: single-part only. */
static const mech_ops single_sign_ops = {
    .init = sign_init,
    .out_size = sign_out_size,
    .oneshot = sign_oneshot,
    .verify_oneshot = sign_verify_oneshot,
    .free = sign_free,
};

/* ---- MACs: HMAC and CMAC, one EVP_MAC path ------------------------------- */

typedef struct mac_state {
    mech_op_kind kind;
    EVP_MAC_CTX *ctx;
    mech_hmac_kept hmac; /* HMAC: ctx is hmac.ctx, kept keyed with the session's state */
    size_t full_len; /* what EVP_MAC_final gives */
    size_t mac_len;  /* what the caller gets: full_len, less for a _GENERAL CMAC */
} mac_state;

/* Fetched once, like the digests (mech_util.c). */
static EVP_MAC *cmac_impl;
static void fetch_macs(void)
{
    cmac_impl = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_CMAC, NULL);
    ERR_clear_error();
}

static void free_macs(void)
{
    EVP_MAC_free(cmac_impl);
    cmac_impl = NULL;
}

static mech_once mac_once = MECH_ONCE_INIT(fetch_macs, free_macs);

/* HMAC takes a generic secret or any HMAC key type offered (PKCS#11 3.0
 * §2.20). */
static CK_RV check_hmac_key(const mech_key *key)
{
    if (!key || key->cls != CKO_SECRET_KEY || !key->secret)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (key->type != CKK_GENERIC_SECRET &&
        !mech_hash_find(MECH_HASH_BY_HMAC_KEY, key->type, MECH_HASH_HMAC))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (key->secret_len < HMAC_MIN_BYTES || key->secret_len > HMAC_MAX_BYTES)
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}

static void mac_free(void *state)
{
    mac_state *s = state;
    if (!s)
        return;
    if (s->hmac.ctx)
        mech_hmac_drop(&s->hmac); /* OpenSSL cleanses its key */
    else
        EVP_MAC_CTX_free(s->ctx); /* cleanses the key schedule */
    free(s);
}

/* The state around a keyed ctx (taken over, freed on failure). */
static CK_RV mac_start(mac_state *s, size_t mac_len, void **state)
{
    s->full_len = EVP_MAC_CTX_get_mac_size(s->ctx);
    s->mac_len = mac_len ? mac_len : s->full_len;
    if (!s->full_len || s->mac_len > s->full_len) {
        mac_free(s);
        return CKR_FUNCTION_FAILED;
    }
    *state = s;
    return CKR_OK;
}

/* Sets s up for an HMAC with key: the session's kept context, reset
 * when it was keyed with the same key, else keyed (mech_hmac_keep).  The
 * MAC length is the hash's (asking the context costs a parameter query). */
static CK_RV hmac_setup(const CK_MECHANISM *param, const mech_key *key, mech_op_kind kind,
                        mac_state *s)
{
    if (kind != MECH_SIGN && kind != MECH_VERIFY)
        return CKR_MECHANISM_INVALID;
    const sign_mech *mech = sign_mech_of(param->mechanism, kind);
    if (!mech || mech->scheme != SCHEME_HMAC)
        return CKR_MECHANISM_INVALID;
    if (!mech_param_absent(param))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = check_hmac_key(key);
    if (rv != CKR_OK)
        return rv;
    rv = mech_hmac_keep(&s->hmac, mech->hash->mech, key->secret, key->secret_len);
    if (rv != CKR_OK)
        return rv;
    s->kind = kind;
    s->ctx = s->hmac.ctx;
    s->full_len = s->mac_len = mech->hash->len;
    return CKR_OK;
}

static CK_RV hmac_init(const CK_MECHANISM *param, const mech_key *key, mech_op_kind kind,
                       const mech_env *env, void **state)
{
    (void)env;
    mac_state *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    CK_RV rv = hmac_setup(param, key, kind, s);
    if (rv != CKR_OK) {
        mac_free(s);
        return rv;
    }
    *state = s;
    return CKR_OK;
}

/* The session's parked HMAC state: its context may still be keyed with
 * this key (on failure the core frees the state). */
static CK_RV hmac_reuse(const CK_MECHANISM *param, const mech_key *key, mech_op_kind kind,
                        const mech_env *env, void *state)
{
    (void)env;
    return hmac_setup(param, key, kind, state);
}

/* An ended HMAC: its context back to the keyed state, which wipes the
 * data; kept only while the key is recognizable and no login ended. */
static bool hmac_park(void *state)
{
    mac_state *s = state;
    s->ctx = NULL;
    return mech_hmac_rest(&s->hmac);
}

/* The block cipher whose CMAC the mechanism is, and the MAC length it
 * asks for (0: a whole block). */
static const mech_block_cipher *cmac_cipher(const CK_MECHANISM *param, size_t *mac_len, CK_RV *rv)
{
    static const mech_block_cipher *const ciphers[] = {&mech_block_aes, &mech_block_des3};
    *rv = CKR_OK;
    *mac_len = 0;
    for (size_t i = 0; i < ARRAY_SIZE(ciphers); i++) {
        const mech_block_cipher *cipher = ciphers[i];
        if (param->mechanism == cipher->cmac) {
            if (!mech_param_absent(param))
                *rv = CKR_MECHANISM_PARAM_INVALID;
            return cipher;
        }
        if (param->mechanism == cipher->cmac_general) {
            *rv = mech_mac_general_len(param, cipher->block, mac_len);
            return cipher;
        }
    }
    *rv = CKR_MECHANISM_INVALID;
    return NULL;
}

/* CMAC's block cipher follows the key: AES-128/192/256-CBC, DES-EDE3-CBC. */
static CK_RV cmac_key(mac_state *s, const mech_block_cipher *cipher, const mech_key *key)
{
    if (!(s->ctx = EVP_MAC_CTX_new(cmac_impl)))
        return CKR_HOST_MEMORY;
    unsigned char expanded[MECH_BLOCK_KEY_MAX];
    const unsigned char *evp_key = key->secret;
    size_t evp_key_len = key->secret_len;
    if (cipher->evp_key) {
        evp_key_len = cipher->evp_key(key, expanded);
        evp_key = expanded;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, (char *)cipher->cbc_name(key), 0),
        OSSL_PARAM_construct_end()};
    int ok = EVP_MAC_init(s->ctx, evp_key, evp_key_len, params);
    OPENSSL_cleanse(expanded, sizeof(expanded));
    return ok ? CKR_OK : mech_openssl_error("MAC init", CKR_FUNCTION_FAILED);
}

static CK_RV cmac_init(const CK_MECHANISM *param, const mech_key *key, mech_op_kind kind,
                       const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_SIGN && kind != MECH_VERIFY)
        return CKR_MECHANISM_INVALID;
    size_t mac_len = 0;
    CK_RV rv;
    const mech_block_cipher *cipher = cmac_cipher(param, &mac_len, &rv);
    if (rv == CKR_OK && (!key || key->cls != CKO_SECRET_KEY))
        rv = CKR_KEY_TYPE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = cipher->check_key(key);
    if (rv != CKR_OK)
        return rv;
    if (!mech_once_run(&mac_once) || !cmac_impl)
        return CKR_MECHANISM_INVALID;
    mac_state *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    s->kind = kind;
    rv = cmac_key(s, cipher, key);
    if (rv != CKR_OK) {
        mac_free(s);
        return rv;
    }
    return mac_start(s, mac_len, state);
}

static CK_RV mac_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)in_len;
    const mac_state *s = state;
    *out_len = phase == MECH_PHASE_UPDATE ? 0 : s->mac_len;
    return CKR_OK;
}

static CK_RV mac_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    (void)out;
    mac_state *s = state;
    if (out_len)
        *out_len = 0;
    if (!EVP_MAC_update(s->ctx, in, in_len))
        return mech_openssl_error("MAC update", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

/* The whole MAC into mac (EVP_MAX_MD_SIZE bytes). */
static CK_RV mac_whole(void *state, unsigned char *mac)
{
    mac_state *s = state;
    size_t len = 0;
    if (!EVP_MAC_final(s->ctx, mac, &len, EVP_MAX_MD_SIZE) || len != s->full_len)
        return mech_openssl_error("MAC final", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

static CK_RV mac_final(void *state, unsigned char *out, size_t *out_len)
{
    mac_state *s = state;
    size_t len = 0;
    if (s->mac_len != s->full_len) /* a _GENERAL MAC: the leading bytes */
        return mech_mac_final(mac_whole, s, s->mac_len, out, out_len);
    if (!EVP_MAC_final(s->ctx, out, &len, s->mac_len)) /* straight into out */
        return mech_openssl_error("MAC final", CKR_FUNCTION_FAILED);
    *out_len = len;
    return CKR_OK;
}

static CK_RV mac_verify_final(void *state, const unsigned char *sig, size_t sig_len)
{
    mac_state *s = state;
    return mech_mac_verify(mac_whole, s, s->mac_len, sig, sig_len);
}

static const mech_ops hmac_ops = {
    .init = hmac_init,
    .out_size = mac_out_size,
    .update = mac_update,
    .final = mac_final,
    .verify_final = mac_verify_final,
    .free = mac_free,
    .park = hmac_park,
    .reuse = hmac_reuse,
};
const mech_ops mech_cmac_ops = {
    .init = cmac_init,
    .out_size = mac_out_size,
    .update = mac_update,
    .final = mac_final,
    .verify_final = mac_verify_final,
    .free = mac_free,
};

/* ---- the rows ------------------------------------------------------------- */

#define SIGN_FLAGS (CKF_SIGN | CKF_VERIFY)
#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

/* clang-format off */
#define RSA_INFO {RSA_MIN_BITS, RSA_MAX_BITS, SIGN_FLAGS}
#define ECDSA_INFO {EC_MIN_BITS, EC_MAX_BITS, SIGN_FLAGS | EC_FLAGS}
#define EDDSA_INFO {ED25519_BITS, ED25519_BITS, SIGN_FLAGS}
#define HMAC_INFO {HMAC_MIN_BYTES, HMAC_MAX_BYTES, SIGN_FLAGS}
#define CMAC_INFO {AES_MIN_BYTES, AES_MAX_BYTES, SIGN_FLAGS}
/* clang-format on */

/* The info comes last: its braces hold commas. */
#define ROW(mech, mech_name, multi, row_ops, scheme, hash, ...)                                    \
    {                                                                                              \
        .type = mech, .name = mech_name, .info = __VA_ARGS__, .multipart = multi, .ops = row_ops,  \
        .data = &(const sign_mech){scheme, hash},                                                  \
        .rsa_sized = (scheme) == SCHEME_RSA_PKCS || (scheme) == SCHEME_RSA_PSS,                    \
    }
/* Mechanisms over the caller's input as given, single-part. */
#define RAW_ROW(mech, scheme, ...)                                                                 \
    ROW(mech, #mech, false, &single_sign_ops, scheme, NULL, __VA_ARGS__)

/* A family's row for each hash of the table that offers it, expanded by
 * MECH_HASHES(family). */
#define RSA_PKCS_HASHED(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss,    \
                        ecdsa, on_digest, on_sign, on_hmac, on_oaep, on_kdf)                       \
    MECH_IF(on_sign,                                                                               \
            ROW(rsa_pkcs, #rsa_pkcs, true, &hashed_sign_ops, SCHEME_RSA_PKCS,                      \
                &mech_hashes[mech_hash_at_##digest], RSA_INFO), )
#define RSA_PSS_HASHED(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss,     \
                       ecdsa, on_digest, on_sign, on_hmac, on_oaep, on_kdf)                        \
    MECH_IF(on_sign,                                                                               \
            ROW(rsa_pss, #rsa_pss, true, &hashed_sign_ops, SCHEME_RSA_PSS,                         \
                &mech_hashes[mech_hash_at_##digest], RSA_INFO), )
#define ECDSA_HASHED(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss,       \
                     ecdsa, on_digest, on_sign, on_hmac, on_oaep, on_kdf)                          \
    MECH_IF(on_sign,                                                                               \
            ROW(ecdsa, #ecdsa, true, &hashed_sign_ops, SCHEME_ECDSA,                               \
                &mech_hashes[mech_hash_at_##digest], ECDSA_INFO), )
#define HMAC_HASHED(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss, ecdsa, \
                    on_digest, on_sign, on_hmac, on_oaep, on_kdf)                                  \
    MECH_IF(on_hmac,                                                                               \
            ROW(hmac, #hmac, true, &hmac_ops, SCHEME_HMAC, &mech_hashes[mech_hash_at_##digest],    \
                HMAC_INFO), )

/* Each raw row, then the rows its family has for the hashes. */
/* clang-format off */
static const mech_row rows[] = {
    RAW_ROW(CKM_RSA_PKCS, SCHEME_RSA_PKCS, RSA_INFO),
    MECH_HASHES(RSA_PKCS_HASHED)
    RAW_ROW(CKM_RSA_PKCS_PSS, SCHEME_RSA_PSS, RSA_INFO),
    MECH_HASHES(RSA_PSS_HASHED)
    RAW_ROW(CKM_ECDSA, SCHEME_ECDSA, ECDSA_INFO),
    MECH_HASHES(ECDSA_HASHED)
    RAW_ROW(CKM_EDDSA, SCHEME_EDDSA, EDDSA_INFO),
    MECH_HASHES(HMAC_HASHED)
    ROW(CKM_AES_CMAC, "CKM_AES_CMAC", true, &mech_cmac_ops, SCHEME_CMAC, NULL, CMAC_INFO),
};
/* clang-format on */

const mech_table mech_table_sign = {rows, ARRAY_SIZE(rows)};
