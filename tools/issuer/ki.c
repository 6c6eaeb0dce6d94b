/*
 * ki.c — the issuer side of in-card KI derivation (issuer-ki.h, docs/spec.md
 * §5): undo E_PK with the private key, then the same H as the card.
 */
#include "p11.h"

#include "issuer-ki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>
#include <string.h>

#define KI_OAEP_SECRET_LEN 32         /* docs/spec.md §5 */
#define KI_POINT_MAX_LEN (1 + 2 * 66) /* P() on P-521 */

static const EVP_MD *ki_md(CK_MECHANISM_TYPE hash_alg)
{
    switch (hash_alg) {
    case CKM_SHA_1:
        return EVP_sha1();
    case CKM_SHA256:
        return EVP_sha256();
    default:
        return NULL;
    }
}

size_t issuer_ki_hash_len(CK_MECHANISM_TYPE hash_alg)
{
    const EVP_MD *md = ki_md(hash_alg);
    return md ? (size_t)EVP_MD_get_size(md) : 0;
}

CK_MECHANISM_TYPE issuer_ki_hmac_mechanism(CK_MECHANISM_TYPE hash_alg)
{
    switch (hash_alg) {
    case CKM_SHA_1:
        return CKM_SHA_1_HMAC;
    case CKM_SHA256:
        return CKM_SHA256_HMAC;
    default:
        return CKM_VENDOR_DEFINED;
    }
}

static CK_RV openssl_failed(const char *what, CK_RV rv)
{
    unsigned long err = ERR_peek_last_error();
    se_log(SE_LOG_DEBUG, "%s: %s", what, err ? ERR_reason_error_string(err) : "failed");
    ERR_clear_error();
    return rv;
}

/* ---- the issuer key ---------------------------------------------------------- */

/* The curve of an EC key as an EC_GROUP (the caller frees it). */
static EC_GROUP *key_group(EVP_PKEY *key)
{
    char name[64];
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), NULL))
        return NULL;
    int nid = OBJ_txt2nid(name);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(name);
    return nid == NID_undef ? NULL : EC_GROUP_new_by_curve_name(nid);
}

size_t issuer_ki_ciphertext_len(EVP_PKEY *issuer, CK_MECHANISM_TYPE mech)
{
    switch (mech) {
    case CKM_SE_KI_RSA_RAW:
    case CKM_SE_KI_RSA_OAEP:
        return EVP_PKEY_get_base_id(issuer) == EVP_PKEY_RSA ? (size_t)EVP_PKEY_get_size(issuer) : 0;
    case CKM_SE_KI_EC_ELGAMAL: {
        if (EVP_PKEY_get_base_id(issuer) != EVP_PKEY_EC)
            return 0;
        EC_GROUP *group = key_group(issuer);
        size_t len = group ? 1 + 2 * (size_t)((EC_GROUP_get_degree(group) + 7) / 8) : 0;
        EC_GROUP_free(group);
        return len;
    }
    default:
        return 0;
    }
}

/* ---- RSA ---------------------------------------------------------------------- */

/* r = D_SK(c): c^d mod n without padding, or OAEP-SHA-256 decoding. */
static CK_RV rsa_decrypt(EVP_PKEY *issuer, int padding, const unsigned char *c, size_t c_len,
                         unsigned char *r, size_t *r_len)
{
    CK_RV rv = CKR_HOST_MEMORY;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, issuer, NULL);
    if (!ctx)
        goto out;
    rv = CKR_FUNCTION_FAILED;
    if (EVP_PKEY_decrypt_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, padding) <= 0)
        goto out;
    if (padding == RSA_PKCS1_OAEP_PADDING &&
        (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) <= 0 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) <= 0))
        goto out;
    rv = EVP_PKEY_decrypt(ctx, r, r_len, c, c_len) > 0 ? CKR_OK : CKR_ENCRYPTED_DATA_INVALID;
out:
    EVP_PKEY_CTX_free(ctx);
    return rv == CKR_OK ? rv : openssl_failed("KI RSA decryption", rv);
}

/* The card draws r in [2, n−2]: anything else (c = 0, 1, n−1) was not made
 * by a card. */
static CK_RV check_r_range(const unsigned char *r, size_t k, const BIGNUM *n)
{
    BIGNUM *value = BN_secure_new(), *limit = BN_dup(n);
    CK_RV rv = CKR_HOST_MEMORY;
    if (value && limit && BN_bin2bn(r, (int)k, value) && BN_sub_word(limit, 2))
        rv = BN_cmp(value, BN_value_one()) > 0 && BN_cmp(value, limit) <= 0
                 ? CKR_OK
                 : CKR_ENCRYPTED_DATA_INVALID;
    BN_clear_free(value);
    BN_free(limit);
    return rv;
}

static bool has_private_exponent(EVP_PKEY *issuer)
{
    BIGNUM *d = NULL;
    bool has = EVP_PKEY_get_bn_param(issuer, OSSL_PKEY_PARAM_RSA_D, &d) == 1;
    BN_clear_free(d);
    ERR_clear_error();
    return has;
}

static CK_RV rsa_recover(EVP_PKEY *issuer, CK_MECHANISM_TYPE mech, const unsigned char *c,
                         size_t c_len, EVP_MD_CTX *hash)
{
    size_t k = (size_t)EVP_PKEY_get_size(issuer);
    unsigned char *r = OPENSSL_secure_malloc(k), *n_octets = OPENSSL_malloc(k);
    size_t r_len = k;
    BIGNUM *n = NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    bool raw = mech == CKM_SE_KI_RSA_RAW;
    if (!r || !n_octets)
        goto out;
    if (!has_private_exponent(issuer)) {
        rv = CKR_KEY_TYPE_INCONSISTENT; /* a public key cannot decrypt */
        goto out;
    }
    if (!EVP_PKEY_get_bn_param(issuer, OSSL_PKEY_PARAM_RSA_N, &n) ||
        BN_bn2binpad(n, n_octets, (int)k) != (int)k) {
        rv = openssl_failed("KI modulus", CKR_FUNCTION_FAILED);
        goto out;
    }
    rv = rsa_decrypt(issuer, raw ? RSA_NO_PADDING : RSA_PKCS1_OAEP_PADDING, c, c_len, r, &r_len);
    if (rv != CKR_OK)
        goto out;
    if (raw)
        rv = r_len == k ? check_r_range(r, k, n) : CKR_ENCRYPTED_DATA_INVALID;
    else if (r_len != KI_OAEP_SECRET_LEN)
        rv = CKR_ENCRYPTED_DATA_INVALID;
    if (rv == CKR_OK && (!EVP_DigestUpdate(hash, r, r_len) || !EVP_DigestUpdate(hash, n_octets, k)))
        rv = CKR_FUNCTION_FAILED;
out:
    OPENSSL_secure_clear_free(r, k);
    OPENSSL_free(n_octets);
    BN_free(n);
    return rv;
}

/* ---- EC ElGamal ------------------------------------------------------------------ */

static CK_RV hash_point(const EC_GROUP *group, const EC_POINT *point, EVP_MD_CTX *hash, BN_CTX *bn)
{
    unsigned char octets[KI_POINT_MAX_LEN];
    size_t len =
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, octets, sizeof(octets), bn);
    CK_RV rv = len > 0 && EVP_DigestUpdate(hash, octets, len) ? CKR_OK : CKR_FUNCTION_FAILED;
    OPENSSL_cleanse(octets, sizeof(octets));
    return rv;
}

/* h = x·g: from the key's public part, or computed when the file held
 * only x. */
static CK_RV issuer_point(EVP_PKEY *issuer, const EC_GROUP *group, const BIGNUM *x, EC_POINT *h,
                          BN_CTX *bn)
{
    unsigned char octets[KI_POINT_MAX_LEN];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(issuer, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, octets,
                                        sizeof(octets), &len) &&
        EC_POINT_oct2point(group, h, octets, len, bn))
        return CKR_OK;
    ERR_clear_error();
    return EC_POINT_mul(group, h, x, NULL, NULL, bn) ? CKR_OK : CKR_FUNCTION_FAILED;
}

static CK_RV ec_recover(EVP_PKEY *issuer, const unsigned char *c, size_t c_len, EVP_MD_CTX *hash)
{
    EC_GROUP *group = key_group(issuer);
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *x = NULL;
    EC_POINT *g_r = NULL, *h_r = NULL, *h = NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    if (!group || !bn || !(g_r = EC_POINT_new(group)) || !(h_r = EC_POINT_new(group)) ||
        !(h = EC_POINT_new(group)))
        goto out;
    if (c_len != 1 + 2 * (size_t)((EC_GROUP_get_degree(group) + 7) / 8)) {
        rv = CKR_ENCRYPTED_DATA_LEN_RANGE;
        goto out;
    }
    /* g^r as the card sends it: uncompressed, on the curve, not infinity. */
    if (c[0] != POINT_CONVERSION_UNCOMPRESSED || !EC_POINT_oct2point(group, g_r, c, c_len, bn) ||
        EC_POINT_is_at_infinity(group, g_r)) {
        rv = openssl_failed("KI ElGamal c", CKR_ENCRYPTED_DATA_INVALID);
        goto out;
    }
    rv = CKR_KEY_TYPE_INCONSISTENT;
    if (!EVP_PKEY_get_bn_param(issuer, OSSL_PKEY_PARAM_PRIV_KEY, &x))
        goto out;
    BN_set_flags(x, BN_FLG_CONSTTIME);
    rv = issuer_point(issuer, group, x, h, bn);
    if (rv == CKR_OK && !EC_POINT_mul(group, h_r, NULL, g_r, x, bn)) /* (g^r)^x = h^r */
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = hash_point(group, h_r, hash, bn);
    if (rv == CKR_OK)
        rv = hash_point(group, EC_GROUP_get0_generator(group), hash, bn);
    if (rv == CKR_OK)
        rv = hash_point(group, h, hash, bn);
out:
    EC_POINT_clear_free(h_r);
    EC_POINT_free(g_r);
    EC_POINT_free(h);
    BN_clear_free(x);
    BN_CTX_free(bn);
    EC_GROUP_free(group);
    return rv;
}

/* ---- recovery and challenge-response --------------------------------------------------- */

CK_RV issuer_ki_recover(EVP_PKEY *issuer_priv, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash_alg,
                        const unsigned char *c, size_t c_len, unsigned char *ki, size_t *ki_len)
{
    if (!issuer_priv || !c || !ki_len)
        return CKR_ARGUMENTS_BAD;
    if (mech != CKM_SE_KI_RSA_RAW && mech != CKM_SE_KI_RSA_OAEP && mech != CKM_SE_KI_EC_ELGAMAL)
        return CKR_MECHANISM_INVALID;
    int key_type = mech == CKM_SE_KI_EC_ELGAMAL ? EVP_PKEY_EC : EVP_PKEY_RSA;
    const EVP_MD *md = ki_md(hash_alg);
    if (!md)
        return CKR_MECHANISM_PARAM_INVALID;
    size_t hash_len = (size_t)EVP_MD_get_size(md);
    if (!ki) {
        *ki_len = hash_len;
        return CKR_OK;
    }
    if (*ki_len == 0 || *ki_len > hash_len)
        return CKR_ARGUMENTS_BAD; /* not a length a card makes (docs/spec.md §5) */
    if (EVP_PKEY_get_base_id(issuer_priv) != key_type)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (key_type == EVP_PKEY_RSA && c_len != (size_t)EVP_PKEY_get_size(issuer_priv))
        return CKR_ENCRYPTED_DATA_LEN_RANGE;

    unsigned char full[EVP_MAX_MD_SIZE];
    EVP_MD_CTX *hash = EVP_MD_CTX_new();
    CK_RV rv = CKR_HOST_MEMORY;
    if (!hash || !EVP_DigestInit_ex(hash, md, NULL))
        goto out;
    rv = key_type == EVP_PKEY_EC ? ec_recover(issuer_priv, c, c_len, hash)
                                 : rsa_recover(issuer_priv, mech, c, c_len, hash);
    if (rv == CKR_OK && !EVP_DigestFinal_ex(hash, full, NULL))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        memcpy(ki, full, *ki_len); /* KI is the first CKA_VALUE_LEN bytes of H */
out:
    OPENSSL_cleanse(full, sizeof(full));
    EVP_MD_CTX_free(hash);
    return rv;
}

CK_RV issuer_ki_response(CK_MECHANISM_TYPE hash_alg, const unsigned char *ki, size_t ki_len,
                         const unsigned char *challenge, size_t challenge_len, unsigned char *out,
                         size_t *out_len)
{
    const EVP_MD *md = ki_md(hash_alg);
    if (!ki || ki_len == 0 || (!challenge && challenge_len > 0) || !out || !out_len)
        return CKR_ARGUMENTS_BAD;
    if (!md)
        return CKR_MECHANISM_PARAM_INVALID;
    if (*out_len < (size_t)EVP_MD_get_size(md))
        return CKR_BUFFER_TOO_SMALL;
    unsigned int len = 0;
    static const unsigned char empty[1];
    if (!HMAC(md, ki, (int)ki_len, challenge ? challenge : empty, challenge_len, out, &len))
        return openssl_failed("KI HMAC", CKR_FUNCTION_FAILED);
    *out_len = len;
    return CKR_OK;
}

CK_RV issuer_ki_check_response(CK_MECHANISM_TYPE hash_alg, const unsigned char *ki, size_t ki_len,
                               const unsigned char *challenge, size_t challenge_len,
                               const unsigned char *response, size_t response_len)
{
    unsigned char expected[EVP_MAX_MD_SIZE];
    size_t expected_len = sizeof(expected);
    if (!response && response_len > 0)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv =
        issuer_ki_response(hash_alg, ki, ki_len, challenge, challenge_len, expected, &expected_len);
    if (rv == CKR_OK &&
        (response_len != expected_len || CRYPTO_memcmp(expected, response, expected_len) != 0))
        rv = CKR_SIGNATURE_INVALID;
    OPENSSL_cleanse(expected, sizeof(expected));
    return rv;
}
