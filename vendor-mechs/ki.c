/*
 * ki.c — in-card KI derivation (docs/spec.md §5, seed 000): the card makes its
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
#include "param.h"
#include "vendor.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define KI_RSA_MIN_BITS 2048
#define KI_RSA_MAX_BITS 8192
#define KI_EC_MIN_BITS 256 /* P-256 … P-521 */
#define KI_EC_MAX_BITS 521
#define KI_OAEP_SECRET_LEN 32 /* docs/spec.md §5: r = 32 random bytes */
#define KI_SPKI_MAX_LEN 4096  /* an RSA-8192 SubjectPublicKeyInfo is ~1.1 KB */
#define KI_C_MAX_LEN (KI_RSA_MAX_BITS / 8)
#define KI_AES_SHORT 16
#define KI_AES_MID 24
#define KI_AES_LONG 32
#define KI_POINT_MAX (1 + 2 * 66) /* P() of a P-521 point */
#define KI_PRINT_LEN (2 * 32)     /* hex SHA-256 */
#define KI_KEPT 4                 /* issuer keys kept checked */
/* r of CKM_SE_KI_RSA_RAW: candidates per RAND call, and at most this many
 * calls (a candidate is kept with probability about 1/2 at worst: n − 3 ≥
 * 2^(bits−1) − 2). */
#define KI_RAW_DRAWS 2
#define KI_RAW_CALLS 64

/* An issuer key that passed its check, with everything a derivation
 * needs from it beyond r.  A bureau sends one key to every card, so the
 * issuers in use are kept (see "kept issuers" below) and all this is done
 * once per key: the EC point check is a scalar multiplication, and P(g)
 * and P(h) cost a field inversion each.  (RSA encryption contexts are
 * kept by mech_rsa_enc_take.) */
typedef struct ki_issuer {
    unsigned refs;                 /* under issuers_lock: the calls using it, and the cache */
    EVP_PKEY *key;                 /* a reference */
    int key_type;                  /* EVP_PKEY_RSA or EVP_PKEY_EC */
    size_t c_len;                  /* |c| */
    char print[KI_PRINT_LEN + 1];  /* hex SHA-256 of the SPKI: the audit's fingerprint */
    unsigned char n[KI_C_MAX_LEN]; /* RSA: I2OSP(n, k), k = c_len */
    unsigned char n_minus_3[KI_C_MAX_LEN]; /* RSA: I2OSP(n − 3, k), the bound of r − 2 */
    unsigned char top_mask;                /* RSA: the bits of n's first octet */
    const EC_GROUP *group;                 /* EC: shared, read-only */
    EC_POINT *h;                           /* EC: read-only once checked */
    unsigned char g_h[2 * KI_POINT_MAX];   /* EC: P(g) ‖ P(h), the end of H's input */
    size_t g_h_len;
} ki_issuer;

/* One encryption scheme E_PK of the table above. */
typedef struct ki_scheme {
    const char *name; /* the row's name: the audit event */
    int key_type;     /* EVP_PKEY_RSA or EVP_PKEY_EC */
    /* Checks the issuer key beyond its type; fills c_len and what derive uses. */
    CK_RV (*check_key)(ki_issuer *issuer);
    /* Draws r, writes c (c_len bytes) and feeds H's input into hash. */
    CK_RV (*derive)(ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t c_len);
} ki_scheme;

/* What the template asks of KI. */
typedef struct ki_shape {
    CK_KEY_TYPE type;
    CK_ULONG len;
} ki_shape;

/* ---- parameter, template, issuer key -------------------------------------- */

static CK_RV ki_params(const CK_MECHANISM *mech, const CK_SE_KI_PARAMS **params)
{
    const CK_SE_KI_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p)
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

/* KI is always sensitive and never extractable (docs/spec.md §5); its length is
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
    /* Any AES length the hash fills (docs/spec.md §5): 16 or 32 from SHA-256, and
     * 24 too; only 16 from SHA-1, which the bound above already says. */
    if (aes && shape->len != KI_AES_SHORT && shape->len != KI_AES_MID && shape->len != KI_AES_LONG)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

/* ---- kept issuers ------------------------------------------------------------- */

/* The last KI_KEPT issuers that passed their check, by the EVP_PKEY that
 * mech_spki_decode keeps for the same DER.  That key is only ever handed
 * out for that one DER, and a kept issuer holds a reference to it, so its
 * address names the same bytes (and fingerprint) for as long as the entry
 * lives.  Calls hold references too: an entry replaced while in use is
 * freed by its last user. */
static ki_issuer *kept[KI_KEPT];
static unsigned kept_next;
static pthread_mutex_t issuers_lock = PTHREAD_MUTEX_INITIALIZER;

static void issuer_free(ki_issuer *issuer)
{
    if (!issuer)
        return;
    EC_POINT_free(issuer->h);
    EVP_PKEY_free(issuer->key);
    free(issuer);
}

/* Drops one reference; the last frees, outside the lock. */
static void issuer_put(ki_issuer *issuer)
{
    if (!issuer)
        return;
    pthread_mutex_lock(&issuers_lock);
    bool last = --issuer->refs == 0;
    pthread_mutex_unlock(&issuers_lock);
    if (last)
        issuer_free(issuer);
}

static void kept_empty(void)
{
    ki_issuer *dropped[KI_KEPT];
    pthread_mutex_lock(&issuers_lock);
    memcpy(dropped, kept, sizeof(dropped));
    memset(kept, 0, sizeof(kept));
    pthread_mutex_unlock(&issuers_lock);
    for (size_t i = 0; i < KI_KEPT; i++)
        issuer_put(dropped[i]);
}

static mech_once kept_once = MECH_ONCE_INIT(NULL, kept_empty);

/* The kept issuer of key, with a reference for the caller; NULL when none. */
static ki_issuer *kept_find(const EVP_PKEY *key)
{
    ki_issuer *found = NULL;
    pthread_mutex_lock(&issuers_lock);
    for (size_t i = 0; i < KI_KEPT && !found; i++) {
        if (kept[i] && kept[i]->key == key) {
            found = kept[i];
            found->refs++;
        }
    }
    pthread_mutex_unlock(&issuers_lock);
    return found;
}

/* Keeps a newly checked issuer, unless another call just kept the same key. */
static void kept_add(ki_issuer *issuer)
{
    ki_issuer *replaced = NULL;
    if (!mech_once_run(&kept_once))
        return;
    pthread_mutex_lock(&issuers_lock);
    bool known = false;
    for (size_t i = 0; i < KI_KEPT; i++)
        known = known || (kept[i] && kept[i]->key == issuer->key);
    if (!known) {
        ki_issuer **slot = &kept[kept_next++ % KI_KEPT];
        replaced = *slot;
        *slot = issuer;
        issuer->refs++;
    }
    pthread_mutex_unlock(&issuers_lock);
    issuer_put(replaced);
}

/* "sha256:" of the audit: the hex SHA-256 of the SPKI as passed. */
static CK_RV issuer_fingerprint(const CK_SE_KI_PARAMS *p, ki_issuer *issuer)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char print[32];
    unsigned int print_len = 0;
    if (!EVP_Digest(p->pIssuerPublicKey, p->ulIssuerPublicKeyLen, print, &print_len,
                    mech_hash_md(CKM_SHA256), NULL) ||
        print_len != sizeof(print))
        return mech_openssl_error("KI audit fingerprint", CKR_FUNCTION_FAILED);
    for (size_t i = 0; i < sizeof(print); i++) {
        issuer->print[2 * i] = hex[print[i] >> 4];
        issuer->print[2 * i + 1] = hex[print[i] & 0xf];
    }
    issuer->print[KI_PRINT_LEN] = '\0';
    return CKR_OK;
}

/* The DER SubjectPublicKeyInfo, whole, of the scheme's type, and valid
 * as the scheme's check_key says; the caller puts the issuer back. */
static CK_RV ki_issuer_get(const ki_scheme *scheme, const CK_SE_KI_PARAMS *p, ki_issuer **out)
{
    ki_issuer *issuer = NULL;
    EVP_PKEY *key = mech_spki_decode(p->pIssuerPublicKey, p->ulIssuerPublicKeyLen);
    CK_RV rv = CKR_MECHANISM_PARAM_INVALID;
    if (!key)
        return mech_openssl_error("KI issuer key DER", CKR_MECHANISM_PARAM_INVALID);
    if ((issuer = kept_find(key)) != NULL) {
        if (issuer->key_type == scheme->key_type) { /* RSA issuers serve both RSA schemes */
            *out = issuer;
            issuer = NULL;
            rv = CKR_OK;
        }
        goto out;
    }
    if (EVP_PKEY_get_base_id(key) != scheme->key_type)
        goto out;
    if (!(issuer = calloc(1, sizeof(*issuer)))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    issuer->refs = 1;
    issuer->key = key;
    issuer->key_type = scheme->key_type;
    key = NULL;
    rv = scheme->check_key(issuer);
    if (rv == CKR_OK)
        rv = issuer_fingerprint(p, issuer);
    if (rv != CKR_OK)
        goto out;
    kept_add(issuer);
    *out = issuer;
    issuer = NULL;
out:
    issuer_put(issuer);
    EVP_PKEY_free(key);
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
    int k = (int)issuer->c_len, top_bits = BN_num_bits(n) - 8 * (k - 1);
    if (issuer->c_len > sizeof(issuer->n) || top_bits < 1 || top_bits > 8 ||
        BN_bn2binpad(n, issuer->n, k) != k || !BN_sub_word(n, 3) ||
        BN_bn2binpad(n, issuer->n_minus_3, k) != k)
        goto out;
    issuer->top_mask = (unsigned char)(0xff >> (8 - top_bits));
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
static CK_RV rsa_encrypt(ki_issuer *issuer, mech_rsa_enc padding, const unsigned char *block,
                         size_t len, unsigned char *c, size_t c_len)
{
    size_t written = c_len;
    EVP_PKEY_CTX *ctx = mech_rsa_enc_take(issuer->key, padding);
    if (!ctx)
        return mech_openssl_error("KI RSA encryption", CKR_FUNCTION_FAILED);
    if (EVP_PKEY_encrypt(ctx, c, &written, block, len) <= 0 || written != c_len) {
        EVP_PKEY_CTX_free(ctx); /* not reused after an error */
        return mech_openssl_error("KI RSA encryption", CKR_FUNCTION_FAILED);
    }
    mech_rsa_enc_give(issuer->key, padding, ctx);
    return CKR_OK;
}

/* x < bound, both k octets big-endian, in constant time: the borrow of
 * x − bound. */
static unsigned octets_below(const unsigned char *x, const unsigned char *bound, size_t k)
{
    unsigned borrow = 0;
    for (size_t i = k; i-- > 0;)
        borrow = ((unsigned)x[i] - bound[i] - borrow) >> 8 & 1;
    return borrow;
}

/* r uniform in [2, n−2] by rejection sampling (no modulo bias): a draw x
 * of n's bit length is kept when x < n − 3, and r = x + 2.  Done on the
 * octets r is used as: BN_priv_rand_range makes one RAND call per draw,
 * and in OpenSSL 3.0 each call costs a getpid() system call (the DRBG's
 * fork check) besides the bytes, so here one call brings KI_RAW_DRAWS
 * candidates, which are all examined in constant time. */
static CK_RV rsa_raw_random(const ki_issuer *issuer, unsigned char *r)
{
    unsigned char draws[KI_RAW_DRAWS * KI_C_MAX_LEN];
    size_t k = issuer->c_len;
    unsigned found = 0;
    CK_RV rv = CKR_OK;
    memset(r, 0, k);
    for (int call = 0; call < KI_RAW_CALLS && !found && rv == CKR_OK; call++) {
        rv = mech_random(draws, KI_RAW_DRAWS * k, true);
        if (rv != CKR_OK)
            break;
        for (unsigned char *x = draws; x < draws + KI_RAW_DRAWS * k; x += k) {
            x[0] &= issuer->top_mask;
            /* keep = all ones for the first draw below n − 3, else zero */
            unsigned char keep =
                (unsigned char)(0u - (octets_below(x, issuer->n_minus_3, k) & ~found & 1));
            for (size_t i = 0; i < k; i++)
                r[i] = (unsigned char)((r[i] & ~keep) | (x[i] & keep));
            found |= keep & 1;
        }
    }
    if (rv == CKR_OK && !found)
        rv = CKR_FUNCTION_FAILED; /* 2^-128: the DRBG is broken */
    for (unsigned carry = 2, i = (unsigned)k; rv == CKR_OK && i-- > 0;) {
        carry += r[i];
        r[i] = (unsigned char)carry;
        carry >>= 8;
    }
    OPENSSL_cleanse(draws, sizeof(draws));
    return rv;
}

static CK_RV rsa_raw_derive(ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t k)
{
    unsigned char r[KI_C_MAX_LEN];
    CK_RV rv = rsa_raw_random(issuer, r);
    if (rv == CKR_OK)
        rv = rsa_encrypt(issuer, MECH_RSA_ENC_RAW, r, k, c, k);
    if (rv == CKR_OK && !EVP_DigestUpdate(hash, r, k))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = hash_modulus(issuer, hash, k);
    OPENSSL_cleanse(r, sizeof(r));
    return rv;
}

static CK_RV rsa_oaep_derive(ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t k)
{
    unsigned char r[KI_OAEP_SECRET_LEN];
    CK_RV rv = mech_random(r, sizeof(r), true);
    if (rv == CKR_OK)
        rv = rsa_encrypt(issuer, MECH_RSA_ENC_OAEP_SHA256, r, sizeof(r), c, k);
    if (rv == CKR_OK && !EVP_DigestUpdate(hash, r, sizeof(r)))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = hash_modulus(issuer, hash, k);
    OPENSSL_cleanse(r, sizeof(r));
    return rv;
}

/* ---- EC ElGamal (paper §5.2) ---------------------------------------------------- */

/* P-256, P-384 or P-521, and EVP_PKEY_public_check: h on the curve, not
 * at infinity (an h of small order would leave few possible h^r).  Then
 * h as a point, and P(g) ‖ P(h) (uncompressed even if the SPKI was not). */
static CK_RV ec_check_key(ki_issuer *issuer)
{
    const mech_curve *curve = mech_curve_of_pkey(issuer->key);
    unsigned char h_octets[KI_POINT_MAX];
    size_t h_len = 0;
    if (!curve || curve->key_type != CKK_EC)
        return CKR_MECHANISM_PARAM_INVALID;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, issuer->key, NULL);
    if (!ctx)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    if (EVP_PKEY_public_check(ctx) != 1)
        rv = mech_openssl_error("KI issuer point", CKR_MECHANISM_PARAM_INVALID);
    EVP_PKEY_CTX_free(ctx);
    if (rv != CKR_OK)
        return rv;
    issuer->c_len = 1 + 2 * curve->field_bytes; /* P(): 04 ‖ X ‖ Y */
    const EC_GROUP *group = issuer->group = mech_curve_group(curve);
    if (!group || !(issuer->h = EC_POINT_new(group)))
        return CKR_HOST_MEMORY;
    if (!EVP_PKEY_get_octet_string_param(issuer->key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, h_octets,
                                         sizeof(h_octets), &h_len) ||
        !EC_POINT_oct2point(group, issuer->h, h_octets, h_len, NULL) ||
        EC_POINT_point2oct(group, EC_GROUP_get0_generator(group), POINT_CONVERSION_UNCOMPRESSED,
                           issuer->g_h, issuer->c_len, NULL) != issuer->c_len ||
        EC_POINT_point2oct(group, issuer->h, POINT_CONVERSION_UNCOMPRESSED,
                           issuer->g_h + issuer->c_len, issuer->c_len, NULL) != issuer->c_len)
        return mech_openssl_error("KI issuer point", CKR_FUNCTION_FAILED);
    issuer->g_h_len = 2 * issuer->c_len;
    return CKR_OK;
}

/* r uniform in [1, q−1]; g^r and h^r with EC_POINT_mul, which takes the
 * constant-time ladder for a single scalar; H gets P(h^r) ‖ P(g) ‖ P(h). */
static CK_RV ec_elgamal_derive(ki_issuer *issuer, EVP_MD_CTX *hash, unsigned char *c, size_t c_len)
{
    const EC_GROUP *group = issuer->group;
    unsigned char h_r_octets[KI_POINT_MAX];
    BN_CTX *bn = BN_CTX_secure_new();
    BIGNUM *range = BN_new(), *r = BN_secure_new();
    EC_POINT *g_r = NULL, *h_r = NULL;
    CK_RV rv = CKR_HOST_MEMORY;
    if (!bn || !range || !r || !(g_r = EC_POINT_new(group)) || !(h_r = EC_POINT_new(group)))
        goto out;
    rv = CKR_FUNCTION_FAILED;
    BN_set_flags(r, BN_FLG_CONSTTIME);
    if (!BN_copy(range, EC_GROUP_get0_order(group)) || !BN_sub_word(range, 1) ||
        !BN_priv_rand_range(r, range) || !BN_add_word(r, 1))
        goto out;
    if (!EC_POINT_mul(group, g_r, r, NULL, NULL, bn) ||
        !EC_POINT_mul(group, h_r, NULL, issuer->h, r, bn))
        goto out;
    if (EC_POINT_point2oct(group, g_r, POINT_CONVERSION_UNCOMPRESSED, c, c_len, bn) != c_len ||
        EC_POINT_point2oct(group, h_r, POINT_CONVERSION_UNCOMPRESSED, h_r_octets, c_len, bn) !=
            c_len)
        goto out;
    if (EVP_DigestUpdate(hash, h_r_octets, c_len) &&
        EVP_DigestUpdate(hash, issuer->g_h, issuer->g_h_len))
        rv = CKR_OK;
out:
    if (rv == CKR_FUNCTION_FAILED)
        mech_openssl_error("KI ElGamal", rv);
    OPENSSL_cleanse(h_r_octets, sizeof(h_r_octets));
    EC_POINT_clear_free(h_r);
    EC_POINT_clear_free(g_r);
    BN_clear_free(r);
    BN_free(range);
    BN_CTX_free(bn);
    return rv;
}

/* ---- the derivation ---------------------------------------------------------------- */

/* "hash SHA-256, issuer key sha256:<SHA-256 of the SPKI>": which key the
 * card was given is what tells a substituted key (paper §4.3) afterwards. */
static CK_RV ki_audit(const ki_scheme *scheme, const mech_env *env, const CK_SE_KI_PARAMS *p,
                      const ki_issuer *issuer)
{
    static const char sha1[] = "hash SHA-1, issuer key sha256:";
    static const char sha256[] = "hash SHA-256, issuer key sha256:";
    const char *prefix = p->hashAlg == CKM_SHA_1 ? sha1 : sha256;
    size_t len = strlen(prefix);
    char detail[sizeof(sha256) + KI_PRINT_LEN];
    memcpy(detail, prefix, len);
    memcpy(detail + len, issuer->print, sizeof(issuer->print)); /* with its NUL */
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
    ki_issuer *issuer = NULL;
    EVP_MD_CTX *hash = NULL;
    unsigned char c[KI_C_MAX_LEN];
    unsigned char ki[EVP_MAX_MD_SIZE];
    CK_RV rv = ki_params(mech, &p);
    if (rv == CKR_OK)
        rv = env_lifecycle_allows(env, LC_KI_DERIVE); /* PERSONALIZATION only (docs/spec.md §3) */
    if (rv == CKR_OK)
        rv = ki_hash(p->hashAlg, &md);
    if (rv == CKR_OK)
        rv = ki_template(tmpl, (size_t)EVP_MD_get_size(md), &shape);
    if (rv == CKR_OK)
        rv = ki_issuer_get(scheme, p, &issuer);
    if (rv != CKR_OK)
        goto out;
    size_t c_len = issuer->c_len;
    /* docs/spec.md §1.3: a NULL or short buffer gets the size and nothing is made. */
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
    rv = scheme->derive(issuer, hash, c, c_len);
    if (rv == CKR_OK && !EVP_DigestFinal_ex(hash, ki, NULL))
        rv = CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = ki_outputs(&shape, ki, out);
    if (rv == CKR_OK)
        rv = ki_audit(scheme, env, p, issuer);
    if (rv != CKR_OK)
        goto out;
    memcpy(p->pCiphertext, c, c_len);
    *p->pulCiphertextLen = c_len;
out:
    OPENSSL_cleanse(ki, sizeof(ki));
    EVP_MD_CTX_free(hash); /* cleanses the hash state */
    issuer_put(issuer);
    return rv;
}

/* KI could not be stored: c must not survive it (docs/spec.md §1.3, all or nothing). */
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

/* C_GenerateKey of the three rows: the row's data is its scheme. */
static CK_RV ki_row_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                             attr_list *out)
{
    const ki_scheme *scheme = mech_row_data(&mech_table_ki, mech->mechanism, CKF_GENERATE);
    if (!scheme)
        return CKR_MECHANISM_INVALID;
    return ki_generate(scheme, mech, tmpl, env, out);
}

static const mech_row rows[] = {
    {.type = CKM_SE_KI_RSA_RAW,
     .name = "CKM_SE_KI_RSA_RAW",
     .info = {KI_RSA_MIN_BITS, KI_RSA_MAX_BITS, CKF_GENERATE},
     .data = &rsa_raw,
     .generate = ki_row_generate,
     .generate_failed = ki_generate_failed},
    {.type = CKM_SE_KI_RSA_OAEP,
     .name = "CKM_SE_KI_RSA_OAEP",
     .info = {KI_RSA_MIN_BITS, KI_RSA_MAX_BITS, CKF_GENERATE},
     .data = &rsa_oaep,
     .generate = ki_row_generate,
     .generate_failed = ki_generate_failed},
    {.type = CKM_SE_KI_EC_ELGAMAL,
     .name = "CKM_SE_KI_EC_ELGAMAL",
     .info = {KI_EC_MIN_BITS, KI_EC_MAX_BITS,
              CKF_GENERATE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS},
     .data = &ec_elgamal,
     .generate = ki_row_generate,
     .generate_failed = ki_generate_failed},
};

const mech_table mech_table_ki = {rows, ARRAY_SIZE(rows)};
