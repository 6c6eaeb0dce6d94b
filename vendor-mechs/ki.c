/*
 * ki.c — in-card KI derivation (SPEC.md §5, seed 000): the card makes its
 * own secret KI = H(r, PK) and outputs only c = E_PK(r), so the bureau that
 * carries c from the card to the issuer never sees KI.
 *
 *   CKM_SE_KI_RSA_RAW     (paper §5.1)  c = r^e mod n          KI = H(I2OSP(r,k) ‖ I2OSP(n,k))
 *   CKM_SE_KI_RSA_OAEP    (paper §4.5)  c = RSAES-OAEP(r)      KI = H(r ‖ I2OSP(n,k))
 *   CKM_SE_KI_EC_ELGAMAL  (paper §5.2)  c = P(g^r)             KI = H(P(h^r) ‖ P(g) ‖ P(h))
 *
 * A bureau insider who substitutes its own key PK' learns KI', but the
 * issuer then recovers a different key and the card fails its first
 * challenge-response (paper §4.3): the card cannot prevent that, only make
 * it visible.  So every derivation is audited with the fingerprint of the
 * key the card was actually given.
 *
 * Errors: the issuer key travels in the mechanism parameter, not as a key
 * object, so a key of the wrong type, size or shape is
 * CKR_MECHANISM_PARAM_INVALID (CKR_KEY_TYPE_INCONSISTENT is about key
 * handles); a CKA_VALUE_LEN the hash cannot fill is
 * CKR_ATTRIBUTE_VALUE_INVALID, as for CKM_AES_KEY_GEN.
 */
#include "mech_util.h"
#include "vendor.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KI_RSA_MIN_BITS 2048
#define KI_RSA_MAX_BITS 8192
#define KI_EC_MIN_BITS 256 /* P-256 … P-521 */
#define KI_EC_MAX_BITS 521
#define KI_OAEP_SECRET_LEN 32 /* SPEC.md §5: r = 32 random bytes */
#define KI_SPKI_MAX_LEN 4096  /* an RSA-8192 SubjectPublicKeyInfo is ~1.1 KB */
#define KI_C_MAX_LEN (KI_RSA_MAX_BITS / 8)
#define KI_AES_SHORT 16
#define KI_AES_LONG 32

/* The issuer key and what its check found. */
typedef struct ki_issuer {
    EVP_PKEY *key;
    size_t c_len;                  /* |c| */
    unsigned char n[KI_C_MAX_LEN]; /* RSA: I2OSP(n, k), k = c_len */
} ki_issuer;

/* One encryption scheme E_PK of the table above. */
typedef struct ki_scheme {
    const char *name; /* the row's name: the audit event */
    int key_type;     /* EVP_PKEY_RSA or EVP_PKEY_EC */
    /* Checks the issuer key beyond its type; fills c_len (and n). */
    CK_RV (*check_key)(ki_issuer *issuer);
    /* Draws r, writes c (c_len bytes) and feeds H's input into hash. */
    CK_RV (*derive)(const ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t c_len);
} ki_scheme;

/* What the template asks of KI. */
typedef struct ki_shape {
    CK_KEY_TYPE type;
    CK_ULONG len;
} ki_shape;

/* ---- parameter, template, issuer key -------------------------------------- */

static CK_RV ki_params(const CK_MECHANISM *mech, const CK_SE_KI_PARAMS **params)
{
    const CK_SE_KI_PARAMS *p = mech->pParameter;
    if (!p || mech->ulParameterLen != sizeof(*p))
        return CKR_MECHANISM_PARAM_INVALID;
    if (!p->pulCiphertextLen)
        return CKR_ARGUMENTS_BAD; /* nowhere to report |c| */
    if (!p->pIssuerPublicKey || p->ulIssuerPublicKeyLen == 0 ||
        p->ulIssuerPublicKeyLen > KI_SPKI_MAX_LEN)
        return CKR_MECHANISM_PARAM_INVALID;
    *params = p;
    return CKR_OK;
}

static CK_RV ki_hash(CK_MECHANISM_TYPE hash_alg, const EVP_MD **md)
{
    if (hash_alg != CKM_SHA_1 && hash_alg != CKM_SHA256)
        return CKR_MECHANISM_PARAM_INVALID;
    *md = mech_hash_md(hash_alg);
    return *md ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* KI is always sensitive and never extractable (SPEC.md §5); its length is
 * at most the hash's, by default all of it (for AES the largest key that
 * fits: AES-256 from SHA-256, AES-128 from SHA-1). */
static CK_RV ki_template(const attr_list *tmpl, size_t hash_len, ki_shape *shape)
{
    if (!attr_list_bool(tmpl, CKA_SENSITIVE, true) || attr_list_bool(tmpl, CKA_EXTRACTABLE, false))
        return CKR_TEMPLATE_INCONSISTENT;
    shape->type = CKK_GENERIC_SECRET;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, &shape->type);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (shape->type != CKK_GENERIC_SECRET && shape->type != CKK_AES)
        return CKR_TEMPLATE_INCONSISTENT;
    bool aes = shape->type == CKK_AES;
    shape->len = aes ? (hash_len >= KI_AES_LONG ? KI_AES_LONG : KI_AES_SHORT) : hash_len;
    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &shape->len);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (shape->len == 0 || shape->len > hash_len)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (aes && shape->len != KI_AES_SHORT && shape->len != KI_AES_LONG)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

/* Issuer keys that passed their check, by the EVP_PKEY that
 * mech_spki_decode keeps for the same DER (a bureau sends one key to
 * every card): the EC point check is a scalar multiplication and reading
 * n goes through OpenSSL's parameter copying, both per call otherwise.
 * Each entry holds a reference, so its address cannot be reused by
 * another key while it is here. */
#define KI_CHECKED 4
static ki_issuer checked[KI_CHECKED];
static unsigned checked_next;
static pthread_mutex_t checked_lock = PTHREAD_MUTEX_INITIALIZER;

static void checked_register(void) {}

static void checked_empty(void)
{
    pthread_mutex_lock(&checked_lock);
    for (size_t i = 0; i < KI_CHECKED; i++) {
        EVP_PKEY_free(checked[i].key);
        memset(&checked[i], 0, sizeof(checked[i]));
    }
    pthread_mutex_unlock(&checked_lock);
}

static mech_once checked_once = MECH_ONCE_INIT(checked_register, checked_empty);

static bool checked_find(ki_issuer *issuer)
{
    bool found = false;
    pthread_mutex_lock(&checked_lock);
    for (size_t i = 0; i < KI_CHECKED && !found; i++) {
        if (checked[i].key == issuer->key) {
            memcpy(issuer->n, checked[i].n, sizeof(issuer->n));
            issuer->c_len = checked[i].c_len;
            found = true;
        }
    }
    pthread_mutex_unlock(&checked_lock);
    return found;
}

static void checked_add(const ki_issuer *issuer)
{
    if (!mech_once_run(&checked_once) || !EVP_PKEY_up_ref(issuer->key))
        return;
    pthread_mutex_lock(&checked_lock);
    ki_issuer *e = &checked[checked_next++ % KI_CHECKED];
    EVP_PKEY_free(e->key);
    *e = *issuer;
    pthread_mutex_unlock(&checked_lock);
}

/* The DER SubjectPublicKeyInfo, whole, of the scheme's type, and valid
 * as the scheme's check_key says. */
static CK_RV ki_issuer_key(const ki_scheme *scheme, const CK_SE_KI_PARAMS *p, ki_issuer *issuer)
{
    issuer->key = mech_spki_decode(p->pIssuerPublicKey, p->ulIssuerPublicKeyLen);
    if (!issuer->key)
        return mech_openssl_error("KI issuer key DER", CKR_MECHANISM_PARAM_INVALID);
    if (EVP_PKEY_get_base_id(issuer->key) != scheme->key_type)
        return CKR_MECHANISM_PARAM_INVALID;
    if (checked_find(issuer))
        return CKR_OK;
    CK_RV rv = scheme->check_key(issuer);
    if (rv == CKR_OK)
        checked_add(issuer);
    return rv;
}

/* ---- RSA (paper §5.1 and §4.5) ------------------------------------------------ */

/* RSA ≥ 2048 bits, odd n, odd e ≥ 3 (e = 3 is the paper's choice).
 * Not EVP_PKEY_public_check: its SP 800-56B test runs Miller-Rabin on n,
 * ~7 ms, nine tenths of a derivation, and guards nothing here: whoever
 * supplies PK can decrypt c anyway, a broken n only hurts that party. */
static CK_RV rsa_check_key(ki_issuer *issuer)
{
    BIGNUM *n = NULL, *e = NULL;
    int bits = EVP_PKEY_get_bits(issuer->key);
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    if (bits < KI_RSA_MIN_BITS || bits > KI_RSA_MAX_BITS)
        goto out;
    if (!EVP_PKEY_get_bn_param(issuer->key, OSSL_PKEY_PARAM_RSA_N, &n) ||
        !EVP_PKEY_get_bn_param(issuer->key, OSSL_PKEY_PARAM_RSA_E, &e)) {
        rv = mech_openssl_error("KI issuer key", CKR_MECHANISM_PARAM_INVALID);
        goto out;
    }
    if (!BN_is_odd(n) || !BN_is_odd(e) || BN_cmp(e, BN_value_one()) <= 0)
        goto out;
    issuer->c_len = (size_t)EVP_PKEY_get_size(issuer->key); /* k */
    if (issuer->c_len > sizeof(issuer->n) ||
        BN_bn2binpad(n, issuer->n, (int)issuer->c_len) != (int)issuer->c_len)
        goto out;
    rv = CKR_OK;
out:
    BN_free(n);
    BN_free(e);
    return rv;
}

/* I2OSP(n, k) into H. */
static CK_RV hash_modulus(const ki_issuer *issuer, EVP_MD_CTX *hash, size_t k)
{
    if (k != issuer->c_len || !EVP_DigestUpdate(hash, issuer->n, k))
        return mech_openssl_error("KI modulus", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

/* c = RSA public operation on block (k bytes or the OAEP message). */
static CK_RV rsa_encrypt(EVP_PKEY *issuer, int padding, const unsigned char *block, size_t len,
                         unsigned char *c, size_t c_len)
{
    CK_RV rv = CKR_FUNCTION_FAILED;
    size_t written = c_len;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, issuer, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    if (EVP_PKEY_encrypt_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, padding) <= 0)
        goto out;
    /* RSAES-OAEP with SHA-256, MGF1-SHA-256 and the empty label (SPEC.md §5). */
    if (padding == RSA_PKCS1_OAEP_PADDING &&
        (EVP_PKEY_CTX_set_rsa_oaep_md(ctx, mech_hash_md(CKM_SHA256)) <= 0 ||
         EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, mech_hash_md(CKM_SHA256)) <= 0))
        goto out;
    if (EVP_PKEY_encrypt(ctx, c, &written, block, len) <= 0 || written != c_len)
        goto out;
    rv = CKR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    return rv == CKR_OK ? rv : mech_openssl_error("KI RSA encryption", rv);
}

/* r uniform in [2, n−2]: BN_priv_rand_range draws below n−3 by rejection
 * sampling (no modulo bias), then + 2. */
static CK_RV rsa_raw_derive(const ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t k)
{
    BIGNUM *n = NULL, *range = BN_new(), *r = BN_secure_new();
    unsigned char r_octets[KI_C_MAX_LEN];
    CK_RV rv = CKR_HOST_MEMORY;
    if (!range || !r)
        goto out;
    rv = CKR_FUNCTION_FAILED;
    if (!(n = BN_bin2bn(issuer->n, (int)k, NULL)) || !BN_copy(range, n) || !BN_sub_word(range, 3) ||
        !BN_priv_rand_range(r, range) || !BN_add_word(r, 2) ||
        BN_bn2binpad(r, r_octets, (int)k) != (int)k) {
        rv = mech_openssl_error("KI random r", rv);
        goto out;
    }
    rv = rsa_encrypt(issuer->key, RSA_NO_PADDING, r_octets, k, c, k);
    if (rv == CKR_OK && !EVP_DigestUpdate(hash, r_octets, k))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = hash_modulus(issuer, hash, k);
out:
    OPENSSL_cleanse(r_octets, sizeof(r_octets));
    BN_clear_free(r);
    BN_free(range);
    BN_free(n);
    return rv;
}

static CK_RV rsa_oaep_derive(const ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t k)
{
    unsigned char r[KI_OAEP_SECRET_LEN];
    CK_RV rv = CKR_OK;
    if (RAND_priv_bytes(r, sizeof(r)) != 1)
        rv = mech_openssl_error("KI random r", CKR_FUNCTION_FAILED);
    if (rv == CKR_OK)
        rv = rsa_encrypt(issuer->key, RSA_PKCS1_OAEP_PADDING, r, sizeof(r), c, k);
    if (rv == CKR_OK && !EVP_DigestUpdate(hash, r, sizeof(r)))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = hash_modulus(issuer, hash, k);
    OPENSSL_cleanse(r, sizeof(r));
    return rv;
}

/* ---- EC ElGamal (paper §5.2) ---------------------------------------------------- */

/* P-256, P-384 or P-521, and EVP_PKEY_public_check: h on the curve, not
 * at infinity (an h of small order would leave few possible h^r). */
static CK_RV ec_check_key(ki_issuer *issuer)
{
    const mech_curve *curve = mech_curve_of_pkey(issuer->key);
    if (!curve || curve->key_type != CKK_EC)
        return CKR_MECHANISM_PARAM_INVALID;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, issuer->key, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    if (EVP_PKEY_public_check(ctx) != 1)
        rv = mech_openssl_error("KI issuer point", CKR_MECHANISM_PARAM_INVALID);
    EVP_PKEY_CTX_free(ctx);
    issuer->c_len = 1 + 2 * curve->field_bytes; /* P(): 04 ‖ X ‖ Y */
    return rv;
}

/* P(point) into H; buffers that held a secret point are cleansed. */
static CK_RV hash_point(const EC_GROUP *group, const EC_POINT *point, EVP_MD_CTX *hash, BN_CTX *bn)
{
    unsigned char octets[1 + 2 * 66];
    size_t len =
        EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, octets, sizeof(octets), bn);
    CK_RV rv = len > 0 && EVP_DigestUpdate(hash, octets, len) ? CKR_OK : CKR_FUNCTION_FAILED;
    OPENSSL_cleanse(octets, sizeof(octets));
    return rv;
}

/* r uniform in [1, q−1]; g^r and h^r with EC_POINT_mul, which takes the
 * constant-time ladder for a single scalar. */
static CK_RV ec_elgamal_derive(const ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c,
                               size_t c_len)
{
    const EC_GROUP *group = mech_curve_group(mech_curve_of_pkey(issuer->key));
    unsigned char h_octets[1 + 2 * 66];
    size_t h_len = 0;
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *range = BN_new(), *r = BN_secure_new();
    EC_POINT *h = NULL, *g_r = NULL, *h_r = NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    if (!group || !bn || !range || !r || !(h = EC_POINT_new(group)) ||
        !(g_r = EC_POINT_new(group)) || !(h_r = EC_POINT_new(group)))
        goto out;
    rv = CKR_FUNCTION_FAILED;
    if (!EVP_PKEY_get_octet_string_param(issuer->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, h_octets,
                                         sizeof(h_octets), &h_len) ||
        !EC_POINT_oct2point(group, h, h_octets, h_len, bn))
        goto out;
    BN_set_flags(r, BN_FLG_CONSTTIME);
    if (!BN_copy(range, EC_GROUP_get0_order(group)) || !BN_sub_word(range, 1) ||
        !BN_priv_rand_range(r, range) || !BN_add_word(r, 1))
        goto out;
    if (!EC_POINT_mul(group, g_r, r, NULL, NULL, bn) || !EC_POINT_mul(group, h_r, NULL, h, r, bn))
        goto out;
    if (EC_POINT_point2oct(group, g_r, POINT_CONVERSION_UNCOMPRESSED, c, c_len, bn) != c_len)
        goto out;
    rv = hash_point(group, h_r, hash, bn);
    if (rv == CKR_OK)
        rv = hash_point(group, EC_GROUP_get0_generator(group), hash, bn);
    if (rv == CKR_OK)
        rv = hash_point(group, h, hash, bn); /* uncompressed even if the SPKI was not */
out:
    if (rv == CKR_FUNCTION_FAILED)
        mech_openssl_error("KI ElGamal", rv);
    EC_POINT_clear_free(h_r);
    EC_POINT_clear_free(g_r);
    EC_POINT_free(h);
    BN_clear_free(r);
    BN_free(range);
    BN_CTX_free(bn);
    return rv;
}

/* ---- the derivation ---------------------------------------------------------------- */

/* "hash SHA-256, issuer key sha256:<SHA-256 of the SPKI>": which key the
 * card was given is what tells a substituted key (paper §4.3) afterwards. */
static CK_RV ki_audit(const ki_scheme *scheme, const mech_env *env, const CK_SE_KI_PARAMS *p)
{
    unsigned char print[32];
    char detail[160];
    unsigned int print_len = 0;
    if (!EVP_Digest(p->pIssuerPublicKey, p->ulIssuerPublicKeyLen, print, &print_len,
                    mech_hash_md(CKM_SHA256), NULL))
        return mech_openssl_error("KI audit fingerprint", CKR_FUNCTION_FAILED);
    int n = snprintf(detail, sizeof(detail),
                     "hash %s, issuer key sha256:", p->hashAlg == CKM_SHA_1 ? "SHA-1" : "SHA-256");
    for (unsigned int i = 0; i < print_len && n > 0 && (size_t)n + 3 < sizeof(detail); i++)
        n += snprintf(detail + n, sizeof(detail) - (size_t)n, "%02x", print[i]);
    return env_audit(env, scheme->name, detail);
}

static CK_RV ki_outputs(const ki_shape *shape, const unsigned char *ki, attr_list *out)
{
    CK_RV rv = attr_list_set_ulong(out, CKA_KEY_TYPE, shape->type);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, ki, shape->len); /* the first bytes of H */
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, shape->len);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_SENSITIVE, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_EXTRACTABLE, false);
    return rv;
}

/* Checks everything, answers the length query, then computes KI and c.
 * c reaches the caller's buffer only once KI exists; the core calls
 * ki_generate_failed if KI cannot be stored. */
static CK_RV ki_generate(const ki_scheme *scheme, const CK_MECHANISM *mech, const attr_list *tmpl,
                         const mech_env *env, attr_list *out)
{
    const CK_SE_KI_PARAMS *p = NULL;
    const EVP_MD *md = NULL;
    ki_shape shape;
    ki_issuer issuer = {NULL, 0, {0}};
    EVP_MD_CTX *hash = NULL;
    unsigned char c[KI_C_MAX_LEN];
    unsigned char ki[EVP_MAX_MD_SIZE];
    CK_RV rv = ki_params(mech, &p);
    if (rv == CKR_OK)
        rv = env_lifecycle_allows(env, LC_KI_DERIVE); /* PERSONALIZATION only (SPEC.md §3) */
    if (rv == CKR_OK)
        rv = ki_hash(p->hashAlg, &md);
    if (rv == CKR_OK)
        rv = ki_template(tmpl, (size_t)EVP_MD_get_size(md), &shape);
    if (rv == CKR_OK)
        rv = ki_issuer_key(scheme, p, &issuer);
    if (rv != CKR_OK)
        goto out;
    size_t c_len = issuer.c_len;
    /* SPEC.md §1: a NULL or short buffer gets the size and nothing is made. */
    if (!p->pCiphertext || *p->pulCiphertextLen < c_len) {
        *p->pulCiphertextLen = c_len;
        rv = CKR_BUFFER_TOO_SMALL;
        goto out;
    }
    hash = EVP_MD_CTX_new();
    if (!hash || !EVP_DigestInit_ex(hash, md, NULL)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = scheme->derive(&issuer, hash, c, c_len);
    if (rv == CKR_OK && !EVP_DigestFinal_ex(hash, ki, NULL))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = ki_outputs(&shape, ki, out);
    if (rv == CKR_OK)
        rv = ki_audit(scheme, env, p);
    if (rv != CKR_OK)
        goto out;
    memcpy(p->pCiphertext, c, c_len);
    *p->pulCiphertextLen = c_len;
out:
    OPENSSL_cleanse(ki, sizeof(ki));
    EVP_MD_CTX_free(hash); /* cleanses the hash state */
    EVP_PKEY_free(issuer.key);
    return rv;
}

/* KI could not be stored: c must not survive it (SPEC.md §1, all or nothing). */
static void ki_generate_failed(const CK_MECHANISM *mech, const mech_env *env)
{
    env_audit(env, "KI", "rolled back: KI was not stored, c erased");
    const CK_SE_KI_PARAMS *p = NULL;
    if (ki_params(mech, &p) == CKR_OK && p->pCiphertext)
        OPENSSL_cleanse(p->pCiphertext, *p->pulCiphertextLen);
}

static const ki_scheme rsa_raw = {"CKM_SE_KI_RSA_RAW", EVP_PKEY_RSA, rsa_check_key, rsa_raw_derive};
static const ki_scheme rsa_oaep = {"CKM_SE_KI_RSA_OAEP", EVP_PKEY_RSA, rsa_check_key,
                                   rsa_oaep_derive};
static const ki_scheme ec_elgamal = {"CKM_SE_KI_EC_ELGAMAL", EVP_PKEY_EC, ec_check_key,
                                     ec_elgamal_derive};

static CK_RV rsa_raw_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                              attr_list *out)
{
    return ki_generate(&rsa_raw, mech, tmpl, env, out);
}

static CK_RV rsa_oaep_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                               attr_list *out)
{
    return ki_generate(&rsa_oaep, mech, tmpl, env, out);
}

static CK_RV ec_elgamal_generate(const CK_MECHANISM *mech, const attr_list *tmpl,
                                 const mech_env *env, attr_list *out)
{
    return ki_generate(&ec_elgamal, mech, tmpl, env, out);
}

static const mech_row rows[] = {
    {.type = CKM_SE_KI_RSA_RAW,
     .name = "CKM_SE_KI_RSA_RAW",
     .info = {KI_RSA_MIN_BITS, KI_RSA_MAX_BITS, CKF_GENERATE},
     .generate = rsa_raw_generate,
     .generate_failed = ki_generate_failed},
    {.type = CKM_SE_KI_RSA_OAEP,
     .name = "CKM_SE_KI_RSA_OAEP",
     .info = {KI_RSA_MIN_BITS, KI_RSA_MAX_BITS, CKF_GENERATE},
     .generate = rsa_oaep_generate,
     .generate_failed = ki_generate_failed},
    {.type = CKM_SE_KI_EC_ELGAMAL,
     .name = "CKM_SE_KI_EC_ELGAMAL",
     .info = {KI_EC_MIN_BITS, KI_EC_MAX_BITS,
              CKF_GENERATE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS},
     .generate = ec_elgamal_generate,
     .generate_failed = ki_generate_failed},
};

const mech_table mech_table_ki = {rows, ARRAY_SIZE(rows)};
