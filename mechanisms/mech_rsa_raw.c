/*
 * mech_rsa_raw.c — RSA as cards use it: CKM_RSA_X_509 (raw RSA, PKCS#11
 * 3.0 current mechanisms §2.1.7) for encrypt, decrypt, sign, verify and
 * both recovery forms, and signatures with message recovery for
 * CKM_RSA_PKCS (§2.1.6; its other functions are rows of mech_sign.c and
 * mech_cipher.c).  docs/spec.md "RSA as cards use it".
 *
 * Raw RSA takes an input of at most k bytes (k: the modulus length), read
 * as a big-endian integer, so a shorter input is left-padded with zeros;
 * the integer must be less than the modulus.  OpenSSL's RSA_NO_PADDING
 * wants exactly k bytes, so the padding is done here, and so is the
 * comparison with the modulus, which gives the precise return value
 * (CKR_DATA_INVALID, CKR_ENCRYPTED_DATA_INVALID, CKR_SIGNATURE_INVALID)
 * where OpenSSL has only "data too large for modulus".  A raw verify
 * recovers the signed integer and compares it with the padded data.
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define PKCS1_V15_OVERHEAD 11 /* RFC 8017 §8.2.1, §9.2: at most k − 11 bytes of data */
#define K_MAX (MECH_RSA_MAX_BITS / 8)

typedef struct raw_state {
    EVP_PKEY_CTX *pctx; /* its own reference to the key */
    mech_op_kind kind;
    bool pkcs1; /* CKM_RSA_PKCS (recovery only); else CKM_RSA_X_509 */
    size_t k;
    unsigned char modulus[K_MAX]; /* n, big-endian in k bytes: for the "< n" checks */
} raw_state;

static void raw_free(void *state)
{
    raw_state *s = state;
    if (!s)
        return;
    EVP_PKEY_CTX_free(s->pctx);
    free(s);
}

/* The functions each mechanism of this file does, and whether a private key is needed. */
static bool kind_offered(bool pkcs1, mech_op_kind kind)
{
    if (kind == MECH_SIGN_RECOVER || kind == MECH_VERIFY_RECOVER)
        return true;
    return !pkcs1 && (kind == MECH_SIGN || kind == MECH_VERIFY || kind == MECH_ENCRYPT ||
                      kind == MECH_DECRYPT);
}

static bool needs_private(mech_op_kind kind)
{
    return kind == MECH_SIGN || kind == MECH_DECRYPT || kind == MECH_SIGN_RECOVER;
}

static CK_RV check_key(const mech_key *key, mech_op_kind kind)
{
    if (!key || key->type != CKK_RSA || !key->pkey || !EVP_PKEY_is_a(key->pkey, "RSA"))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (needs_private(kind) != (key->cls == CKO_PRIVATE_KEY))
        return CKR_KEY_TYPE_INCONSISTENT;
    return mech_rsa_check_size(key);
}

/* The EVP operation behind each function: a verify recovers and compares. */
static int evp_init(EVP_PKEY_CTX *pctx, mech_op_kind kind)
{
    switch (kind) {
    case MECH_SIGN:
    case MECH_SIGN_RECOVER:
        return EVP_PKEY_sign_init(pctx);
    case MECH_VERIFY:
    case MECH_VERIFY_RECOVER:
        return EVP_PKEY_verify_recover_init(pctx);
    case MECH_ENCRYPT:
        return EVP_PKEY_encrypt_init(pctx);
    case MECH_DECRYPT:
        return EVP_PKEY_decrypt_init(pctx);
    default:
        return 0;
    }
}

static CK_RV read_modulus(raw_state *s, const EVP_PKEY *pkey)
{
    BIGNUM *n = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n))
        return mech_openssl_error("RSA modulus", CKR_FUNCTION_FAILED);
    s->k = (size_t)BN_num_bytes(n);
    CK_RV rv = CKR_OK;
    if (s->k == 0 || s->k > sizeof(s->modulus) ||
        BN_bn2binpad(n, s->modulus, (int)s->k) != (int)s->k)
        rv = CKR_KEY_SIZE_RANGE;
    BN_free(n);
    return rv;
}

static CK_RV raw_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                      const mech_env *env, void **state)
{
    (void)env;
    bool pkcs1 = mech->mechanism == CKM_RSA_PKCS;
    if ((!pkcs1 && mech->mechanism != CKM_RSA_X_509) || !kind_offered(pkcs1, kind))
        return CKR_MECHANISM_INVALID;
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = check_key(key, kind);
    if (rv != CKR_OK)
        return rv;

    raw_state *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    s->kind = kind;
    s->pkcs1 = pkcs1;
    rv = read_modulus(s, key->pkey);
    if (rv != CKR_OK)
        goto out;
    /* The _ex form with no ENGINE, as in mech_sign.c. */
    s->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (!s->pctx) {
        rv = mech_openssl_error("RSA context", CKR_HOST_MEMORY);
        goto out;
    }
    if (evp_init(s->pctx, kind) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(s->pctx, pkcs1 ? RSA_PKCS1_PADDING : RSA_NO_PADDING) <= 0)
        rv = mech_openssl_error("RSA init", CKR_FUNCTION_FAILED);
out:
    if (rv != CKR_OK)
        raw_free(s);
    else
        *state = s;
    return rv;
}

/* Every output is k bytes but a CKM_RSA_PKCS verify-recover's, which is
 * at most k − 11: its exact length is known only once recovered. */
static CK_RV raw_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)phase;
    (void)in_len;
    const raw_state *s = state;
    *out_len = s->pkcs1 && s->kind == MECH_VERIFY_RECOVER ? s->k - PKCS1_V15_OVERHEAD : s->k;
    return CKR_OK;
}

/* An input of in_len ≤ k bytes as the k-byte integer it stands for. */
static CK_RV pad_input(const raw_state *s, const unsigned char *in, size_t in_len,
                       unsigned char *block)
{
    if (in_len > s->k)
        return CKR_DATA_LEN_RANGE;
    memset(block, 0, s->k - in_len);
    if (in_len > 0)
        memcpy(block + s->k - in_len, in, in_len);
    return CKR_OK;
}

/* Whether a k-byte big-endian integer is less than the modulus (public
 * values only: inputs and signatures, so a plain comparison). */
static bool below_modulus(const raw_state *s, const unsigned char *block)
{
    return memcmp(block, s->modulus, s->k) < 0;
}

/* Raw encryption or signature (the private operation); also the raw
 * sign-recover, which is the same signature. */
static CK_RV raw_forward(raw_state *s, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    unsigned char block[K_MAX];
    CK_RV rv = pad_input(s, in, in_len, block);
    if (rv == CKR_OK && !below_modulus(s, block))
        rv = CKR_DATA_INVALID;
    size_t n = s->k;
    if (rv == CKR_OK) {
        int ok = s->kind == MECH_ENCRYPT ? EVP_PKEY_encrypt(s->pctx, out, &n, block, s->k)
                                         : EVP_PKEY_sign(s->pctx, out, &n, block, s->k);
        if (ok <= 0)
            rv = mech_openssl_error("raw RSA", CKR_FUNCTION_FAILED);
    }
    if (rv == CKR_OK)
        *out_len = n;
    OPENSSL_cleanse(block, sizeof(block)); /* a plaintext */
    return rv;
}

static CK_RV raw_decrypt(raw_state *s, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    if (in_len != s->k)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    if (!below_modulus(s, in))
        return CKR_ENCRYPTED_DATA_INVALID;
    size_t n = s->k;
    if (EVP_PKEY_decrypt(s->pctx, out, &n, in, in_len) <= 0)
        return mech_openssl_error("raw RSA decryption", CKR_FUNCTION_FAILED);
    *out_len = n;
    return CKR_OK;
}

/* The public operation on a signature: the k-byte integer (raw) or the
 * data under PKCS #1 type 1 padding, into recovered (k bytes). */
static CK_RV recover(raw_state *s, const unsigned char *sig, size_t sig_len,
                     unsigned char *recovered, size_t *recovered_len)
{
    if (sig_len != s->k)
        return CKR_SIGNATURE_LEN_RANGE;
    if (!below_modulus(s, sig))
        return CKR_SIGNATURE_INVALID;
    size_t n = s->k;
    if (EVP_PKEY_verify_recover(s->pctx, recovered, &n, sig, sig_len) <= 0) {
        ERR_clear_error(); /* a bad padding: what a wrong key or signature gives */
        return CKR_SIGNATURE_INVALID;
    }
    *recovered_len = n;
    return CKR_OK;
}

static CK_RV raw_verify_recover(raw_state *s, const unsigned char *sig, size_t sig_len,
                                unsigned char *out, size_t *out_len)
{
    unsigned char recovered[K_MAX];
    size_t n = 0;
    CK_RV rv = recover(s, sig, sig_len, recovered, &n);
    if (rv == CKR_OK && n > *out_len) /* never: out_size is the most there is */
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK) {
        memcpy(out, recovered, n);
        *out_len = n;
    }
    OPENSSL_cleanse(recovered, sizeof(recovered));
    return rv;
}

static CK_RV raw_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    raw_state *s = state;
    switch (s->kind) {
    case MECH_ENCRYPT:
    case MECH_SIGN:
        return raw_forward(s, in, in_len, out, out_len);
    case MECH_SIGN_RECOVER:
        if (!s->pkcs1)
            return raw_forward(s, in, in_len, out, out_len);
        /* As CKM_RSA_PKCS's C_Sign (mech_sign.c): 1 to k − 11 bytes. */
        if (in_len == 0 || in_len > s->k - PKCS1_V15_OVERHEAD)
            return CKR_DATA_LEN_RANGE;
        *out_len = s->k;
        if (EVP_PKEY_sign(s->pctx, out, out_len, in, in_len) <= 0)
            return mech_openssl_error("RSA PKCS #1 signature", CKR_FUNCTION_FAILED);
        return CKR_OK;
    case MECH_DECRYPT:
        return raw_decrypt(s, in, in_len, out, out_len);
    case MECH_VERIFY_RECOVER:
        return raw_verify_recover(s, in, in_len, out, out_len);
    default:
        return CKR_FUNCTION_NOT_SUPPORTED;
    }
}

/* CKM_RSA_X_509's C_Verify: the signature's integer is the padded data. */
static CK_RV raw_verify(void *state, const unsigned char *in, size_t in_len,
                        const unsigned char *sig, size_t sig_len)
{
    raw_state *s = state;
    unsigned char block[K_MAX], recovered[K_MAX];
    size_t n = 0;
    CK_RV rv = pad_input(s, in, in_len, block);
    if (rv == CKR_OK && !below_modulus(s, block))
        rv = CKR_DATA_INVALID;
    if (rv == CKR_OK)
        rv = recover(s, sig, sig_len, recovered, &n);
    if (rv == CKR_OK && (n != s->k || CRYPTO_memcmp(recovered, block, s->k) != 0))
        rv = CKR_SIGNATURE_INVALID;
    OPENSSL_cleanse(block, sizeof(block));
    OPENSSL_cleanse(recovered, sizeof(recovered));
    return rv;
}

static const mech_ops raw_ops = {
    .init = raw_init,
    .out_size = raw_out_size,
    /* single-part only: the core refuses C_*Update and C_*Final */
    .oneshot = raw_oneshot,
    .verify_oneshot = raw_verify,
    .free = raw_free,
};

/* ---- the rows ------------------------------------------------------------- */

#define RECOVER_FLAGS (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER)

static const mech_row rows[] = {
    {.type = CKM_RSA_X_509,
     .name = "CKM_RSA_X_509",
     .info = {MECH_RSA_MIN_BITS, MECH_RSA_MAX_BITS,
              CKF_ENCRYPT | CKF_DECRYPT | CKF_SIGN | CKF_VERIFY | RECOVER_FLAGS},
     .ops = &raw_ops,
     .rsa_sized = true},
    /* CKM_RSA_PKCS's recovery forms; C_GetMechanismInfo joins them to its
     * signature and encryption rows. */
    {.type = CKM_RSA_PKCS,
     .name = "CKM_RSA_PKCS",
     .info = {MECH_RSA_MIN_BITS, MECH_RSA_MAX_BITS, RECOVER_FLAGS},
     .ops = &raw_ops,
     .rsa_sized = true},
};

const mech_table mech_table_rsa_raw = {rows, ARRAY_SIZE(rows)};
