/*
 * gkea.c — the server side of CKM_SE_GKEA (docs/spec.md §4): see issuer-gkea.h.
 *
 * The order of issuer_gkea_verify is seed 001 §2 step 4 with the nonce of
 * §3: who made AK (the chain), what K is (EK with our private key), and
 * whether the card signed K for *our* key and nonce (TBS rebuilt here).
 * K leaves this file only when all three hold.
 */
#include "issuer-gkea.h"

#include <limits.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define GKEA_TBS_LABEL "SOFTSE-GKEA-1"
#define GKEA_ECDH_LABEL "SOFTSE-GKEA-ECDH-1"
#define GKEA_DIGEST "SHA2-256"
#define GKEA_PSS_SALT_LEN 32
#define GKEA_FIELD_MAX 0xFFFFu /* TBS fields carry a u16be length */
#define KWP_BLOCK 8            /* RFC 5649: 64-bit semiblocks, one of them the AIV */

const char *issuer_gkea_status_text(issuer_gkea_status status)
{
    switch (status) {
    case ISSUER_GKEA_OK:
        return "OK";
    case ISSUER_GKEA_BAD_INPUT:
        return "bad input";
    case ISSUER_GKEA_BAD_CHAIN:
        return "bad chain";
    case ISSUER_GKEA_DECRYPT_FAILED:
        return "decryption failed";
    case ISSUER_GKEA_BAD_ATTESTATION:
        return "bad attestation";
    case ISSUER_GKEA_INTERNAL:
    default:
        return "internal error";
    }
}

/* Records why, for people, and returns status. */
static issuer_gkea_status fail(issuer_gkea_status status, char *why, size_t why_len,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static issuer_gkea_status fail(issuer_gkea_status status, char *why, size_t why_len,
                               const char *fmt, ...)
{
    if (why && why_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, why_len, fmt, ap);
        va_end(ap);
    }
    ERR_clear_error();
    return status;
}

/* ---- TBS --------------------------------------------------------------------- */

static unsigned char *put_field(unsigned char *w, const unsigned char *data, size_t len)
{
    w[0] = (unsigned char)(len >> 8);
    w[1] = (unsigned char)len;
    if (len > 0)
        memcpy(w + 2, data, len);
    return w + 2 + len;
}

issuer_gkea_status issuer_gkea_tbs(const unsigned char *k, size_t k_len, const unsigned char *spki,
                                   size_t spki_len, const unsigned char *nonce, size_t nonce_len,
                                   const unsigned char *ek, size_t ek_len, unsigned char **tbs,
                                   size_t *tbs_len)
{
    if (k_len > GKEA_FIELD_MAX || spki_len > GKEA_FIELD_MAX || nonce_len > GKEA_FIELD_MAX ||
        ek_len > GKEA_FIELD_MAX)
        return ISSUER_GKEA_BAD_INPUT;
    size_t label_len = strlen(GKEA_TBS_LABEL);
    *tbs_len = label_len + 8 + k_len + spki_len + nonce_len + ek_len;
    *tbs = OPENSSL_malloc(*tbs_len);
    if (!*tbs)
        return ISSUER_GKEA_INTERNAL;
    unsigned char *w = *tbs;
    memcpy(w, GKEA_TBS_LABEL, label_len);
    w = put_field(w + label_len, k, k_len);
    w = put_field(w, spki, spki_len);
    w = put_field(w, nonce, nonce_len);
    put_field(w, ek, ek_len);
    return ISSUER_GKEA_OK;
}

/* ---- HKDF ---------------------------------------------------------------------- */

issuer_gkea_status issuer_gkea_hkdf(const unsigned char *key, size_t key_len,
                                    const unsigned char *salt, size_t salt_len,
                                    const unsigned char *info, size_t info_len, unsigned char *out,
                                    size_t out_len)
{
    if (!key || key_len == 0 || !out || out_len == 0 || (!salt && salt_len > 0) ||
        (!info && info_len > 0))
        return ISSUER_GKEA_BAD_INPUT;
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
    OSSL_PARAM params[6], *p = params;
    *p++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, GKEA_DIGEST, 0);
    *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, key_len);
    if (salt_len > 0) /* else RFC 5869 §2.2: HashLen zeros, as CKF_HKDF_SALT_NULL */
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    *p = OSSL_PARAM_construct_end();
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    issuer_gkea_status status = ISSUER_GKEA_OK;
    if (!ctx || EVP_KDF_derive(ctx, out, out_len, params) <= 0) {
        ERR_clear_error();
        status = ISSUER_GKEA_INTERNAL;
    }
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return status;
}

/* ---- recovering K ---------------------------------------------------------------- */

/* RSA: K = RSAES-OAEP-SHA256 decryption of EK. */
static issuer_gkea_status recover_rsa(EVP_PKEY *key, const unsigned char *ek, size_t ek_len,
                                      unsigned char *k, size_t *k_len, char *why, size_t why_len)
{
    issuer_gkea_status status = ISSUER_GKEA_OK;
    size_t modulus = (size_t)EVP_PKEY_get_size(key);
    unsigned char *plain = OPENSSL_malloc(modulus);
    size_t plain_len = modulus;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!plain || !ctx) {
        status = fail(ISSUER_GKEA_INTERNAL, why, why_len, "out of memory");
    } else if (ek_len != modulus) {
        status = fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len,
                      "EK has %zu bytes, the RSA modulus %zu", ek_len, modulus);
    } else if (EVP_PKEY_decrypt_init(ctx) <= 0 ||
               EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
               EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, GKEA_DIGEST, NULL) <= 0 ||
               EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, GKEA_DIGEST, NULL) <= 0 ||
               EVP_PKEY_decrypt(ctx, plain, &plain_len, ek, ek_len) <= 0) {
        status = fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len,
                      "EK is not RSA-OAEP-SHA256 for this key");
    } else if (plain_len < ISSUER_GKEA_K_MIN || plain_len > ISSUER_GKEA_K_MAX) {
        status =
            fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len, "EK holds %zu bytes, not a K of %d..%d",
                 plain_len, ISSUER_GKEA_K_MIN, ISSUER_GKEA_K_MAX);
    } else {
        memcpy(k, plain, plain_len);
        *k_len = plain_len;
    }
    EVP_PKEY_CTX_free(ctx);
    OPENSSL_clear_free(plain, modulus);
    return status;
}

/* E from EK, on the issuer key's curve; NULL when it is no point of it. */
static EVP_PKEY *ephemeral_point(EVP_PKEY *key, const unsigned char *ek, size_t ek_len)
{
    char group[64];
    size_t group_len = 0;
    if (!EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &group_len))
        return NULL;
    size_t field = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8; /* P-256/384/521: order = field */
    if (ek_len != 1 + 2 * field || ek[0] != POINT_CONVERSION_UNCOMPRESSED)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)ek, ek_len),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *point = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &point, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        point = NULL;
    EVP_PKEY_CTX_free(ctx);
    return point;
}

/* EC: Z = x(d · E), K = HKDF-SHA256(nonce, Z, label ‖ SPKI ‖ EK) of
 * ISSUER_GKEA_K_MAX bytes; a shorter K is a prefix of it (RFC 5869 §2.3:
 * T(1), T(2)… do not depend on the length asked for). */
static issuer_gkea_status recover_ec(EVP_PKEY *key, const unsigned char *spki, size_t spki_len,
                                     const unsigned char *nonce, size_t nonce_len,
                                     const unsigned char *ek, size_t ek_len, unsigned char *k,
                                     char *why, size_t why_len)
{
    issuer_gkea_status status;
    unsigned char *z = NULL, *info = NULL;
    size_t z_len = 0, label_len = strlen(GKEA_ECDH_LABEL);
    size_t info_len = label_len + spki_len + ek_len;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *point = ephemeral_point(key, ek, ek_len);
    if (!point) {
        status = fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len,
                      "EK is not an uncompressed point of the server key's curve");
        goto out;
    }
    ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0 || EVP_PKEY_derive_set_peer_ex(ctx, point, 1) <= 0 ||
        EVP_PKEY_derive(ctx, NULL, &z_len) <= 0) {
        status = fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len, "ECDH with EK failed");
        goto out;
    }
    z = OPENSSL_malloc(z_len);
    info = OPENSSL_malloc(info_len);
    if (!z || !info) {
        status = fail(ISSUER_GKEA_INTERNAL, why, why_len, "out of memory");
        goto out;
    }
    if (EVP_PKEY_derive(ctx, z, &z_len) <= 0) {
        status = fail(ISSUER_GKEA_DECRYPT_FAILED, why, why_len, "ECDH with EK failed");
        goto out;
    }
    memcpy(info, GKEA_ECDH_LABEL, label_len);
    memcpy(info + label_len, spki, spki_len);
    memcpy(info + label_len + spki_len, ek, ek_len);
    status = issuer_gkea_hkdf(z, z_len, nonce, nonce_len, info, info_len, k, ISSUER_GKEA_K_MAX);
    if (status != ISSUER_GKEA_OK)
        fail(status, why, why_len, "HKDF failed");
out:
    OPENSSL_clear_free(z, z_len);
    OPENSSL_free(info);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(point);
    return status;
}

/* ---- checking AK ------------------------------------------------------------------ */

/* 1: AK is the SE key's signature over tbs; 0: it is not; -1: failure. */
static int attestation_holds(EVP_PKEY *se_key, const unsigned char *tbs, size_t tbs_len,
                             const unsigned char *ak, size_t ak_len)
{
    int holds = -1;
    bool rsa = EVP_PKEY_get_base_id(se_key) == EVP_PKEY_RSA;
    unsigned char *der = NULL;
    int der_len = 0;
    ECDSA_SIG *sig = NULL;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md)
        goto out;
    if (rsa) {
        if (ak_len != (size_t)EVP_PKEY_get_size(se_key)) {
            holds = 0;
            goto out;
        }
    } else {
        /* raw r ‖ s, each as long as the group order (CKM_ECDSA's form) */
        size_t half = (size_t)(EVP_PKEY_get_bits(se_key) + 7) / 8;
        if (EVP_PKEY_get_base_id(se_key) != EVP_PKEY_EC || ak_len != 2 * half) {
            holds = 0;
            goto out;
        }
        sig = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(ak, (int)half, NULL), *s = BN_bin2bn(ak + half, (int)half, NULL);
        if (!sig || !r || !s || !ECDSA_SIG_set0(sig, r, s)) {
            BN_free(r);
            BN_free(s);
            goto out;
        }
        der_len = i2d_ECDSA_SIG(sig, &der);
        if (der_len <= 0)
            goto out;
    }
    if (EVP_DigestVerifyInit_ex(md, &pctx, GKEA_DIGEST, NULL, NULL, se_key, NULL) <= 0)
        goto out;
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, GKEA_PSS_SALT_LEN) <= 0 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, GKEA_DIGEST, NULL) <= 0))
        goto out;
    holds = EVP_DigestVerify(md, rsa ? ak : der, rsa ? ak_len : (size_t)der_len, tbs, tbs_len) == 1;
out:
    ERR_clear_error();
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    EVP_MD_CTX_free(md);
    return holds;
}

/* Tries K's candidate lengths (one for RSA) against AK; *k_len is the one
 * the card signed. */
static issuer_gkea_status check_attestation(EVP_PKEY *se_key, const unsigned char *k,
                                            size_t min_len, size_t max_len,
                                            const unsigned char *spki, size_t spki_len,
                                            const unsigned char *nonce, size_t nonce_len,
                                            const unsigned char *ek, size_t ek_len,
                                            const unsigned char *ak, size_t ak_len, size_t *k_len)
{
    for (size_t len = min_len; len <= max_len; len++) {
        unsigned char *tbs = NULL;
        size_t tbs_len = 0;
        issuer_gkea_status status =
            issuer_gkea_tbs(k, len, spki, spki_len, nonce, nonce_len, ek, ek_len, &tbs, &tbs_len);
        if (status != ISSUER_GKEA_OK)
            return status;
        int holds = attestation_holds(se_key, tbs, tbs_len, ak, ak_len);
        OPENSSL_clear_free(tbs, tbs_len);
        if (holds < 0)
            return ISSUER_GKEA_INTERNAL;
        if (holds) {
            *k_len = len;
            return ISSUER_GKEA_OK;
        }
    }
    return ISSUER_GKEA_BAD_ATTESTATION;
}

/* ---- the whole check ---------------------------------------------------------------- */

/* The SPKI this server sent: exactly spki_sent, which must be issuer_key's
 * public key, or issuer_key's own DER. */
static issuer_gkea_status own_spki(EVP_PKEY *issuer_key, const unsigned char *spki_sent,
                                   size_t spki_len, unsigned char **spki, size_t *len, char *why,
                                   size_t why_len)
{
    if (!spki_sent) {
        int n = i2d_PUBKEY(issuer_key, spki);
        if (n <= 0)
            return fail(ISSUER_GKEA_INTERNAL, why, why_len, "cannot encode the issuer key");
        *len = (size_t)n;
        return ISSUER_GKEA_OK;
    }
    const unsigned char *p = spki_sent;
    EVP_PKEY *sent = d2i_PUBKEY(NULL, &p, (long)spki_len);
    bool same = sent && p == spki_sent + spki_len && EVP_PKEY_eq(sent, issuer_key) == 1;
    EVP_PKEY_free(sent);
    if (!same)
        return fail(ISSUER_GKEA_BAD_INPUT, why, why_len,
                    "the SPKI given is not the public key of the issuer key");
    *spki = OPENSSL_memdup(spki_sent, spki_len);
    *len = spki_len;
    return *spki ? ISSUER_GKEA_OK : fail(ISSUER_GKEA_INTERNAL, why, why_len, "out of memory");
}

static issuer_gkea_status check_chain(X509 *se_cert, STACK_OF(X509) * chain, X509_STORE *trusted,
                                      char *why, size_t why_len)
{
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (!ctx || !X509_STORE_CTX_init(ctx, trusted, se_cert, chain)) {
        X509_STORE_CTX_free(ctx);
        return fail(ISSUER_GKEA_INTERNAL, why, why_len, "out of memory");
    }
    issuer_gkea_status status = ISSUER_GKEA_OK;
    if (X509_verify_cert(ctx) != 1)
        status = fail(ISSUER_GKEA_BAD_CHAIN, why, why_len,
                      "the SE certificate does not chain to the manufacturer CA: %s",
                      X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
    X509_STORE_CTX_free(ctx);
    return status;
}

issuer_gkea_status issuer_gkea_verify(EVP_PKEY *issuer_key, const unsigned char *spki_sent,
                                      size_t spki_len, X509 *se_cert, STACK_OF(X509) * chain,
                                      X509_STORE *trusted, const unsigned char *nonce,
                                      size_t nonce_len, const unsigned char *ek, size_t ek_len,
                                      const unsigned char *ak, size_t ak_len, unsigned char *k_out,
                                      size_t *k_len, char *why, size_t why_len)
{
    if (why && why_len > 0)
        why[0] = '\0';
    if (!issuer_key || !se_cert || !trusted || !nonce || !ek || !ak || !k_out || !k_len)
        return fail(ISSUER_GKEA_BAD_INPUT, why, why_len, "missing argument");
    size_t asked = *k_len;
    if (nonce_len < ISSUER_GKEA_NONCE_MIN || nonce_len > ISSUER_GKEA_NONCE_MAX)
        return fail(ISSUER_GKEA_BAD_INPUT, why, why_len, "the nonce must have %d..%d bytes",
                    ISSUER_GKEA_NONCE_MIN, ISSUER_GKEA_NONCE_MAX);
    if (asked != 0 && (asked < ISSUER_GKEA_K_MIN || asked > ISSUER_GKEA_K_MAX))
        return fail(ISSUER_GKEA_BAD_INPUT, why, why_len, "K has %d..%d bytes", ISSUER_GKEA_K_MIN,
                    ISSUER_GKEA_K_MAX);

    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t found = 0, min_len = asked ? asked : ISSUER_GKEA_K_MIN;
    size_t max_len = asked ? asked : ISSUER_GKEA_K_MAX;
    unsigned char *spki = NULL;
    size_t own_len = 0;
    issuer_gkea_status status =
        own_spki(issuer_key, spki_sent, spki_len, &spki, &own_len, why, why_len);
    if (status == ISSUER_GKEA_OK)
        status = check_chain(se_cert, chain, trusted, why, why_len);
    if (status != ISSUER_GKEA_OK)
        goto out;

    switch (EVP_PKEY_get_base_id(issuer_key)) {
    case EVP_PKEY_RSA:
        status = recover_rsa(issuer_key, ek, ek_len, k, &found, why, why_len);
        if (status == ISSUER_GKEA_OK && asked && found != asked)
            status = fail(ISSUER_GKEA_BAD_ATTESTATION, why, why_len,
                          "K has %zu bytes, %zu were asked for", found, asked);
        min_len = max_len = found;
        break;
    case EVP_PKEY_EC:
        status =
            recover_ec(issuer_key, spki, own_len, nonce, nonce_len, ek, ek_len, k, why, why_len);
        break;
    default:
        status = fail(ISSUER_GKEA_BAD_INPUT, why, why_len, "the issuer key is neither RSA nor EC");
    }
    if (status != ISSUER_GKEA_OK)
        goto out;

    EVP_PKEY *se_key = X509_get0_pubkey(se_cert);
    if (!se_key) {
        status = fail(ISSUER_GKEA_BAD_CHAIN, why, why_len, "the SE certificate has no usable key");
        goto out;
    }
    status = check_attestation(se_key, k, min_len, max_len, spki, own_len, nonce, nonce_len, ek,
                               ek_len, ak, ak_len, &found);
    if (status == ISSUER_GKEA_BAD_ATTESTATION)
        fail(status, why, why_len,
             "AK is not the SE's signature over K, this server's key, the nonce and EK");
    else if (status != ISSUER_GKEA_OK)
        fail(status, why, why_len, "signature verification failed");
    if (status == ISSUER_GKEA_OK) {
        memcpy(k_out, k, found);
        *k_len = found;
    }
out:
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_free(spki);
    return status;
}

/* ---- secrets for the card ----------------------------------------------------------- */

static const char *aes_name(issuer_wrap_mech mech, size_t key_len)
{
    static const char *const names[][3] = {
        [ISSUER_WRAP_GCM] = {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
        [ISSUER_WRAP_KWP] = {"AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD"},
    };
    if ((mech != ISSUER_WRAP_GCM && mech != ISSUER_WRAP_KWP) ||
        (key_len != 16 && key_len != 24 && key_len != 32))
        return NULL;
    return names[mech][(key_len - 16) / 8];
}

/* One EVP cipher pass: GCM (tag handled by the caller) or KWP. */
static issuer_gkea_status aes_pass(issuer_wrap_mech mech, const unsigned char *key, size_t key_len,
                                   const unsigned char *iv, bool encrypt, const unsigned char *in,
                                   size_t in_len, const unsigned char *tag, unsigned char *out,
                                   size_t *out_len)
{
    issuer_gkea_status status = ISSUER_GKEA_INTERNAL;
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, aes_name(mech, key_len), NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, last = 0;
    if (!cipher || !ctx)
        goto out;
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (!EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt ? 1 : 0, NULL))
        goto out;
    if (mech == ISSUER_WRAP_GCM && !encrypt &&
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, ISSUER_GCM_TAG_LEN, (void *)tag))
        goto out;
    if (!EVP_CipherUpdate(ctx, out, &n, in, (int)in_len) ||
        !EVP_CipherFinal_ex(ctx, out + n, &last)) {
        status = encrypt ? ISSUER_GKEA_INTERNAL : ISSUER_GKEA_DECRYPT_FAILED;
        goto out;
    }
    *out_len = (size_t)n + (size_t)last;
    status = ISSUER_GKEA_OK;
    if (mech == ISSUER_WRAP_GCM && encrypt &&
        !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, ISSUER_GCM_TAG_LEN, out + *out_len))
        status = ISSUER_GKEA_INTERNAL;
out:
    ERR_clear_error();
    EVP_CIPHER_CTX_free(ctx);
    EVP_CIPHER_free(cipher);
    return status;
}

issuer_gkea_status issuer_gkea_wrap(issuer_wrap_mech mech, const unsigned char *key, size_t key_len,
                                    const unsigned char *iv, const unsigned char *secret,
                                    size_t secret_len, unsigned char **out, size_t *out_len)
{
    if (!aes_name(mech, key_len) || !key || !secret || secret_len == 0 || secret_len > INT_MAX / 2)
        return ISSUER_GKEA_BAD_INPUT;
    bool gcm = mech == ISSUER_WRAP_GCM;
    size_t cap = gcm ? ISSUER_GCM_IV_LEN + secret_len + ISSUER_GCM_TAG_LEN
                     : (secret_len + KWP_BLOCK - 1) / KWP_BLOCK * KWP_BLOCK + 2 * KWP_BLOCK;
    unsigned char *buf = OPENSSL_malloc(cap);
    if (!buf)
        return ISSUER_GKEA_INTERNAL;
    size_t head = 0, body = 0;
    issuer_gkea_status status = ISSUER_GKEA_OK;
    if (gcm) {
        head = ISSUER_GCM_IV_LEN;
        if (iv)
            memcpy(buf, iv, ISSUER_GCM_IV_LEN);
        else if (RAND_bytes(buf, ISSUER_GCM_IV_LEN) != 1)
            status = ISSUER_GKEA_INTERNAL;
    }
    if (status == ISSUER_GKEA_OK)
        status = aes_pass(mech, key, key_len, gcm ? buf : NULL, true, secret, secret_len, NULL,
                          buf + head, &body);
    if (status != ISSUER_GKEA_OK) {
        OPENSSL_clear_free(buf, cap);
        return status;
    }
    *out = buf;
    *out_len = head + body + (gcm ? ISSUER_GCM_TAG_LEN : 0);
    return ISSUER_GKEA_OK;
}

issuer_gkea_status issuer_gkea_unwrap(issuer_wrap_mech mech, const unsigned char *key,
                                      size_t key_len, const unsigned char *in, size_t in_len,
                                      unsigned char **out, size_t *out_len)
{
    if (!aes_name(mech, key_len) || !key || !in || in_len > INT_MAX / 2)
        return ISSUER_GKEA_BAD_INPUT;
    bool gcm = mech == ISSUER_WRAP_GCM;
    if (gcm ? in_len < ISSUER_GCM_IV_LEN + ISSUER_GCM_TAG_LEN
            : in_len < 2 * KWP_BLOCK || in_len % KWP_BLOCK != 0)
        return ISSUER_GKEA_DECRYPT_FAILED;
    const unsigned char *body = gcm ? in + ISSUER_GCM_IV_LEN : in;
    size_t body_len = gcm ? in_len - ISSUER_GCM_IV_LEN - ISSUER_GCM_TAG_LEN : in_len;
    size_t cap = body_len + KWP_BLOCK;
    unsigned char *buf = OPENSSL_malloc(cap);
    if (!buf)
        return ISSUER_GKEA_INTERNAL;
    size_t len = 0;
    issuer_gkea_status status = aes_pass(mech, key, key_len, gcm ? in : NULL, false, body, body_len,
                                         gcm ? in + in_len - ISSUER_GCM_TAG_LEN : NULL, buf, &len);
    if (status != ISSUER_GKEA_OK) {
        OPENSSL_clear_free(buf, cap);
        return status;
    }
    *out = buf;
    *out_len = len;
    return ISSUER_GKEA_OK;
}
