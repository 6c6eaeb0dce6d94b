/*
 * gkea.c — CKM_SE_GKEA, atomic generate-K-encrypt-and-attest (docs/spec.md §4,
 * seed 001).
 *
 * C_GenerateKey(CKM_SE_GKEA, CK_SE_GKEA_PARAMS) makes K inside the token,
 * lets it out only encrypted to the server (EK: RSA-OAEP of K, or the
 * ephemeral ECDH point K is derived from) and signs K, the server key as
 * passed, the nonce and EK with the attestation key (AK).  A server that
 * rebuilds the signed bytes with the key it sent itself notices a man in
 * the middle who swapped the key (seed 001 §3): he learns K, but cannot
 * make an AK for the swapped bytes.
 *
 * All or nothing (§4): every check and all the cryptography are done into
 * local buffers first; the caller's EK and AK buffers are written last,
 * when only storing K can still fail, and the core then calls
 * gkea_generate_failed, which erases them.
 */
#include "mech_util.h"
#include "param.h"
#include "vendor.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CKR_CURVE_NOT_SUPPORTED
#define CKR_CURVE_NOT_SUPPORTED 0x00000140UL /* PKCS#11 3.0 §5.1 */
#endif

#define GKEA_NAME "CKM_SE_GKEA"
#define GKEA_TBS_LABEL "SOFTSE-GKEA-1"       /* docs/spec.md §4 step 2 */
#define GKEA_ECDH_LABEL "SOFTSE-GKEA-ECDH-1" /* docs/spec.md §4 step 1: HKDF info prefix */
#define GKEA_KDF_DIGEST "SHA2-256"
#define GKEA_NONCE_MIN 16
#define GKEA_NONCE_MAX 64
#define GKEA_RSA_MIN_BITS 2048
#define GKEA_RSA_MAX_BITS OPENSSL_RSA_MAX_MODULUS_BITS
#define GKEA_PSS_SALT_LEN 32
#define GKEA_FIELD_MAX 0xFFFFu /* every TBS field is prefixed by a u16be length */
/* K (docs/spec.md §4): CKK_AES of 16, 24 or 32 bytes, CKK_GENERIC_SECRET of 16..64. */
#define GKEA_K_MIN 16
#define GKEA_K_MAX 64
#define GKEA_K_DEFAULT 32

typedef enum gkea_server_kind { GKEA_SERVER_RSA, GKEA_SERVER_EC } gkea_server_kind;

/* The server's public key as the card uses it. */
typedef struct gkea_server {
    EVP_PKEY *pkey;
    gkea_server_kind kind;
    const mech_curve *curve; /* EC: P-256, P-384 or P-521 */
    size_t ek_len;           /* RSA: modulus bytes; EC: 04 ‖ X ‖ Y */
} gkea_server;

/* What one call produces, before any of it reaches the caller. */
typedef struct gkea_result {
    unsigned char k[GKEA_K_MAX]; /* cleansed in gkea_result_clear */
    size_t k_len;
    unsigned char *ek;
    size_t ek_len;
    unsigned char *ak;
    size_t ak_len;
} gkea_result;

static void gkea_result_clear(gkea_result *r)
{
    OPENSSL_cleanse(r->k, sizeof(r->k));
    OPENSSL_clear_free(r->ek, r->ek_len);
    OPENSSL_clear_free(r->ak, r->ak_len);
    memset(r, 0, sizeof(*r));
}

/* ---- checks ----------------------------------------------------------------- */

/* The parameter structure and its output length pointers. */
static CK_RV gkea_params(const CK_MECHANISM *mech, const CK_SE_GKEA_PARAMS **params)
{
    const CK_SE_GKEA_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!p->pulEncryptedKeyLen || !p->pulAttestationLen)
        return CKR_ARGUMENTS_BAD;
    *params = p;
    return CKR_OK;
}

/* K's key type and length from the template.  Without CKA_KEY_TYPE, K is
 * CKK_GENERIC_SECRET: it is meant to have working keys derived from it
 * (seed 001 §4), not to be used as it is.  K is always sensitive and never
 * extractable (§4): a template asking otherwise is inconsistent. */
static CK_RV gkea_template(const attr_list *tmpl, CK_KEY_TYPE *type, size_t *len)
{
    CK_ULONG value;
    *type = CKK_GENERIC_SECRET;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, &value);
    if (rv == CKR_OK)
        *type = value;
    else if (rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (*type != CKK_AES && *type != CKK_GENERIC_SECRET)
        return CKR_TEMPLATE_INCONSISTENT;
    if (!attr_list_bool(tmpl, CKA_SENSITIVE, true) || attr_list_bool(tmpl, CKA_EXTRACTABLE, false))
        return CKR_TEMPLATE_INCONSISTENT;

    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &value);
    if (rv == CKR_TEMPLATE_INCOMPLETE) {
        *len = GKEA_K_DEFAULT;
        return CKR_OK;
    }
    if (rv != CKR_OK)
        return rv;
    bool valid = *type == CKK_AES ? value == 16 || value == 24 || value == 32
                                  : value >= GKEA_K_MIN && value <= GKEA_K_MAX;
    if (!valid)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *len = value;
    return CKR_OK;
}

static CK_RV gkea_check_nonce(const CK_SE_GKEA_PARAMS *p)
{
    if (!p->pNonce || p->ulNonceLen < GKEA_NONCE_MIN || p->ulNonceLen > GKEA_NONCE_MAX)
        return CKR_MECHANISM_PARAM_INVALID;
    return CKR_OK;
}

/* The server key: exactly one DER SubjectPublicKeyInfo of an RSA key of
 * at least 2048 bits or an EC key.  An EC key on another curve than P-256,
 * P-384 or P-521 is CKR_CURVE_NOT_SUPPORTED rather than
 * CKR_MECHANISM_PARAM_INVALID: the parameter is well formed, the token
 * just does not do that curve, and saying so lets a server retry with a
 * NIST curve.  Any other key type is CKR_MECHANISM_PARAM_INVALID. */
static CK_RV gkea_server_key(const CK_SE_GKEA_PARAMS *p, gkea_server *server)
{
    const unsigned char *der = p->pServerPublicKey;
    size_t der_len = p->ulServerPublicKeyLen;
    if (!der || der_len == 0 || der_len > GKEA_FIELD_MAX)
        return CKR_MECHANISM_PARAM_INVALID;
    server->pkey = mech_spki_decode(der, der_len);
    if (!server->pkey)
        return mech_openssl_error("GKEA server key", CKR_MECHANISM_PARAM_INVALID);

    switch (EVP_PKEY_get_base_id(server->pkey)) {
    case EVP_PKEY_RSA: {
        int bits = EVP_PKEY_get_bits(server->pkey);
        if (bits < GKEA_RSA_MIN_BITS || bits > GKEA_RSA_MAX_BITS)
            return CKR_MECHANISM_PARAM_INVALID;
        server->kind = GKEA_SERVER_RSA;
        server->ek_len = (size_t)EVP_PKEY_get_size(server->pkey);
        return CKR_OK;
    }
    case EVP_PKEY_EC:
        server->curve = mech_curve_of_pkey(server->pkey);
        if (!server->curve || server->curve->key_type != CKK_EC)
            return CKR_CURVE_NOT_SUPPORTED;
        server->kind = GKEA_SERVER_EC;
        server->ek_len = 1 + 2 * server->curve->field_bytes;
        return CKR_OK;
    default:
        return CKR_MECHANISM_PARAM_INVALID;
    }
}

/* AK's size (§4 step 3): r ‖ s as CKM_ECDSA_SHA256 returns it, or the
 * RSA modulus for PSS. */
static CK_RV gkea_attestation_size(EVP_PKEY *key, size_t *ak_len)
{
    const mech_curve *curve;
    switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_EC:
        curve = mech_curve_of_pkey(key);
        if (!curve)
            return CKR_KEY_TYPE_INCONSISTENT;
        *ak_len = 2 * curve->field_bytes;
        return CKR_OK;
    case EVP_PKEY_RSA:
        *ak_len = (size_t)EVP_PKEY_get_size(key);
        return CKR_OK;
    default:
        return CKR_KEY_TYPE_INCONSISTENT; /* an attestation key softse cannot sign with here */
    }
}

/* The length convention of docs/spec.md §1.3: a missing or short buffer gets
 * both sizes and CKR_BUFFER_TOO_SMALL; nothing is made. */
static CK_RV gkea_check_buffers(const CK_SE_GKEA_PARAMS *p, size_t ek_len, size_t ak_len)
{
    bool enough = p->pEncryptedKey && p->pAttestation && *p->pulEncryptedKeyLen >= ek_len &&
                  *p->pulAttestationLen >= ak_len;
    if (enough)
        return CKR_OK;
    *p->pulEncryptedKeyLen = ek_len;
    *p->pulAttestationLen = ak_len;
    return CKR_BUFFER_TOO_SMALL;
}

/* ---- the protocol ------------------------------------------------------------ */

/* §4 step 1, RSA: K random, EK = RSAES-OAEP(SHA-256, MGF1-SHA-256, no label). */
static CK_RV gkea_encrypt_rsa(const gkea_server *server, gkea_result *r)
{
    size_t written = r->ek_len;
    CK_RV rv = mech_random(r->k, r->k_len, true);
    if (rv != CKR_OK)
        return rv;
    EVP_PKEY_CTX *ctx = mech_rsa_enc_take(server->pkey, MECH_RSA_ENC_OAEP_SHA256);
    if (!ctx || EVP_PKEY_encrypt(ctx, r->ek, &written, r->k, r->k_len) <= 0 ||
        written != r->ek_len) {
        EVP_PKEY_CTX_free(ctx); /* not reused after an error */
        return mech_openssl_error("GKEA RSA-OAEP", CKR_FUNCTION_FAILED);
    }
    mech_rsa_enc_give(server->pkey, MECH_RSA_ENC_OAEP_SHA256, ctx);
    return CKR_OK;
}

/* K = HKDF-SHA256(salt = nonce, IKM = Z, info = label ‖ SPKI ‖ EK). */
static CK_RV gkea_kdf(const CK_SE_GKEA_PARAMS *p, const unsigned char *z, size_t z_len,
                      gkea_result *r)
{
    size_t label_len = strlen(GKEA_ECDH_LABEL);
    size_t info_len = label_len + p->ulServerPublicKeyLen + r->ek_len;
    unsigned char *info = malloc(info_len);
    if (!info)
        return CKR_HOST_MEMORY;
    memcpy(info, GKEA_ECDH_LABEL, label_len);
    memcpy(info + label_len, p->pServerPublicKey, p->ulServerPublicKeyLen);
    memcpy(info + label_len + p->ulServerPublicKeyLen, r->ek, r->ek_len);

    int mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, GKEA_KDF_DIGEST, 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, z_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, p->pNonce, p->ulNonceLen),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len),
        OSSL_PARAM_construct_end(),
    };
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    CK_RV rv = CKR_OK;
    if (!ctx || EVP_KDF_derive(ctx, r->k, r->k_len, params) <= 0)
        rv = mech_openssl_error("GKEA HKDF", CKR_FUNCTION_FAILED);
    EVP_KDF_CTX_free(ctx); /* cleanses its copy of Z */
    EVP_KDF_free(kdf);
    free(info);
    return rv;
}

/* §4 step 1, EC: an ephemeral pair (e, E) on the server's group; EK = E
 * uncompressed; Z = x(e · server point), OpenSSL's plain ECDH output. */
static CK_RV gkea_agree_ec(const gkea_server *server, const CK_SE_GKEA_PARAMS *p, gkea_result *r)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    EVP_PKEY *ephemeral = NULL;
    EVP_PKEY_CTX *derive = NULL;
    unsigned char *z = NULL;
    size_t z_len = 0, point_len = 0;
    EVP_PKEY_CTX *gen = EVP_PKEY_CTX_new_from_pkey(NULL, server->pkey, NULL);
    if (!gen || EVP_PKEY_keygen_init(gen) <= 0 || EVP_PKEY_keygen(gen, &ephemeral) <= 0) {
        rv = mech_openssl_error("GKEA ephemeral key", CKR_FUNCTION_FAILED);
        goto out;
    }
    if (!EVP_PKEY_get_octet_string_param(ephemeral, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, r->ek,
                                         r->ek_len, &point_len) ||
        point_len != r->ek_len || r->ek[0] != POINT_CONVERSION_UNCOMPRESSED) {
        rv = mech_openssl_error("GKEA ephemeral point", CKR_FUNCTION_FAILED);
        goto out;
    }
    derive = EVP_PKEY_CTX_new_from_pkey(NULL, ephemeral, NULL);
    if (!derive || EVP_PKEY_derive_init(derive) <= 0 ||
        EVP_PKEY_derive_set_peer_ex(derive, server->pkey, 1) <= 0 ||
        EVP_PKEY_derive(derive, NULL, &z_len) <= 0) {
        rv = mech_openssl_error("GKEA ECDH", CKR_MECHANISM_PARAM_INVALID);
        goto out;
    }
    z = OPENSSL_malloc(z_len);
    if (!z) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (EVP_PKEY_derive(derive, z, &z_len) <= 0) {
        rv = mech_openssl_error("GKEA ECDH", CKR_FUNCTION_FAILED);
        goto out;
    }
    rv = gkea_kdf(p, z, z_len, r);
out:
    OPENSSL_clear_free(z, z_len);
    EVP_PKEY_CTX_free(derive);
    EVP_PKEY_CTX_free(gen);
    EVP_PKEY_free(ephemeral); /* the scalar e is cleared on free */
    return rv;
}

static unsigned char *put_field(unsigned char *w, const void *data, size_t len)
{
    w[0] = (unsigned char)(len >> 8);
    w[1] = (unsigned char)len;
    memcpy(w + 2, data, len);
    return w + 2 + len;
}

/* §4 step 2: TBS = "SOFTSE-GKEA-1" ‖ u16be(|K|) ‖ K ‖ u16be(|SPKI|) ‖ SPKI ‖
 * u16be(|nonce|) ‖ nonce ‖ u16be(|EK|) ‖ EK.  It holds K: the caller
 * clear-frees it. */
static CK_RV gkea_tbs(const CK_SE_GKEA_PARAMS *p, const gkea_result *r, unsigned char **tbs,
                      size_t *tbs_len)
{
    size_t label_len = strlen(GKEA_TBS_LABEL);
    *tbs_len = label_len + 8 + r->k_len + p->ulServerPublicKeyLen + p->ulNonceLen + r->ek_len;
    *tbs = OPENSSL_malloc(*tbs_len);
    if (!*tbs)
        return CKR_HOST_MEMORY;
    unsigned char *w = *tbs;
    memcpy(w, GKEA_TBS_LABEL, label_len);
    w = put_field(w + label_len, r->k, r->k_len);
    w = put_field(w, p->pServerPublicKey, p->ulServerPublicKeyLen);
    w = put_field(w, p->pNonce, p->ulNonceLen);
    put_field(w, r->ek, r->ek_len);
    return CKR_OK;
}

/* §4 step 3: ECDSA-SHA256 (raw r ‖ s) or RSASSA-PSS SHA-256, MGF1-SHA-256, salt 32. */
static CK_RV gkea_sign(EVP_PKEY *key, const unsigned char *tbs, size_t tbs_len, gkea_result *r)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    bool rsa = EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestSignInit_ex(md, &pctx, GKEA_KDF_DIGEST, NULL, NULL, key, NULL) <= 0)
        goto failed;
    if (rsa && (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) <= 0 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, GKEA_PSS_SALT_LEN) <= 0 ||
                EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, GKEA_KDF_DIGEST, NULL) <= 0))
        goto failed;
    if (EVP_DigestSign(md, NULL, &sig_len, tbs, tbs_len) <= 0)
        goto failed;
    sig = OPENSSL_malloc(sig_len);
    if (!sig) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (EVP_DigestSign(md, sig, &sig_len, tbs, tbs_len) <= 0)
        goto failed;
    if (!rsa) {
        rv = mech_ecdsa_der_to_raw(sig, sig_len, r->ak_len / 2, r->ak);
    } else if (sig_len == r->ak_len) {
        memcpy(r->ak, sig, sig_len);
        rv = CKR_OK;
    }
    goto out;
failed:
    rv = mech_openssl_error("GKEA attestation signature", CKR_FUNCTION_FAILED);
out:
    OPENSSL_free(sig);
    EVP_MD_CTX_free(md);
    return rv;
}

/* K's attributes for the core; the template cannot weaken them (§4). */
static CK_RV gkea_key_attrs(CK_KEY_TYPE type, const gkea_result *r, attr_list *out)
{
    CK_RV rv = attr_list_set_ulong(out, CKA_KEY_TYPE, type);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, r->k, (CK_ULONG)r->k_len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, (CK_ULONG)r->k_len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_EXTRACTABLE, false);
    return rv;
}

/* Every call is audited (docs/spec.md §3), refused ones too. */
static CK_RV gkea_audit(const mech_env *env, CK_RV rv, CK_KEY_TYPE type, const gkea_server *server,
                        const gkea_result *r)
{
    char detail[160];
    if (rv == CKR_OK)
        snprintf(detail, sizeof(detail), "K %s %zu bytes to %s-%d server key; EK %zu, AK %zu bytes",
                 type == CKK_AES ? "AES" : "generic", r->k_len,
                 server->kind == GKEA_SERVER_RSA ? "RSA" : "EC", EVP_PKEY_get_bits(server->pkey),
                 r->ek_len, r->ak_len);
    else if (rv == CKR_BUFFER_TOO_SMALL)
        snprintf(detail, sizeof(detail), "size query");
    else
        snprintf(detail, sizeof(detail), "refused: CKR 0x%08lx", (unsigned long)rv);
    return env_audit(env, GKEA_NAME, detail);
}

static CK_RV gkea_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                           attr_list *out)
{
    const CK_SE_GKEA_PARAMS *p = NULL;
    gkea_server server = {0};
    gkea_result r = {0};
    EVP_PKEY *attestation = NULL;
    unsigned char *tbs = NULL;
    size_t tbs_len = 0;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;

    CK_RV rv = gkea_params(mech, &p);
    if (rv == CKR_OK)
        rv = env_lifecycle_allows(env, LC_GKEA);
    if (rv == CKR_OK)
        rv = gkea_template(tmpl, &type, &r.k_len);
    if (rv == CKR_OK)
        rv = gkea_check_nonce(p);
    if (rv == CKR_OK)
        rv = gkea_server_key(p, &server);
    if (rv == CKR_OK)
        rv = env_attestation_key(env, p->hAttestationKey, &attestation);
    if (rv == CKR_OK)
        rv = gkea_attestation_size(attestation, &r.ak_len);
    if (rv == CKR_OK)
        rv = gkea_check_buffers(p, server.ek_len, r.ak_len);
    if (rv != CKR_OK)
        goto out;

    r.ek_len = server.ek_len;
    r.ek = OPENSSL_zalloc(r.ek_len);
    r.ak = OPENSSL_zalloc(r.ak_len);
    if (!r.ek || !r.ak) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = server.kind == GKEA_SERVER_RSA ? gkea_encrypt_rsa(&server, &r)
                                        : gkea_agree_ec(&server, p, &r);
    if (rv == CKR_OK)
        rv = gkea_tbs(p, &r, &tbs, &tbs_len);
    if (rv == CKR_OK)
        rv = gkea_sign(attestation, tbs, tbs_len, &r);
    if (rv == CKR_OK)
        rv = gkea_key_attrs(type, &r, out);
    if (rv == CKR_OK)
        rv = gkea_audit(env, rv, type, &server, &r);
    if (rv == CKR_OK) {
        /* Nothing below fails: the outputs appear together with K. */
        memcpy(p->pEncryptedKey, r.ek, r.ek_len);
        *p->pulEncryptedKeyLen = r.ek_len;
        memcpy(p->pAttestation, r.ak, r.ak_len);
        *p->pulAttestationLen = r.ak_len;
    }
out:
    if (rv != CKR_OK)
        gkea_audit(env, rv, type, &server, &r); /* the call's own error wins */
    OPENSSL_clear_free(tbs, tbs_len);
    gkea_result_clear(&r);
    EVP_PKEY_free(attestation);
    EVP_PKEY_free(server.pkey);
    return rv;
}

/* K could not be stored: EK and AK must not outlive it (§4 "or none"). */
static void gkea_generate_failed(const CK_MECHANISM *mech, const mech_env *env)
{
    env_audit(env, GKEA_NAME, "rolled back: K was not stored, EK and AK erased");
    const CK_SE_GKEA_PARAMS *p;
    if (gkea_params(mech, &p) != CKR_OK)
        return;
    if (p->pEncryptedKey)
        OPENSSL_cleanse(p->pEncryptedKey, *p->pulEncryptedKeyLen);
    if (p->pAttestation)
        OPENSSL_cleanse(p->pAttestation, *p->pulAttestationLen);
    *p->pulEncryptedKeyLen = 0;
    *p->pulAttestationLen = 0;
}

static const mech_row rows[] = {
    {.type = CKM_SE_GKEA,
     .name = GKEA_NAME,
     .info = {GKEA_K_MIN, GKEA_K_MAX, CKF_GENERATE},
     .generate = gkea_generate,
     .generate_failed = gkea_generate_failed},
};

const mech_table mech_table_gkea = {rows, ARRAY_SIZE(rows)};
