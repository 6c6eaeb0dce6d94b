/*
 * mech_keygen.c — key generation: AES and generic secret keys
 * (C_GenerateKey) and RSA, EC and Ed25519 key pairs (C_GenerateKeyPair).
 * Secret values come from the private DRBG (mech_random); pairs from EVP_PKEY keygen,
 * turned into attributes by keyconv.c.
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>

/* Key sizes, in bytes for secret keys and in bits for pairs. */
#define AES_MIN_BYTES 16
#define AES_MAX_BYTES 32
#define GENERIC_MIN_BYTES 1
#define GENERIC_MAX_BYTES 512
#define RSA_DEFAULT_EXPONENT RSA_F4 /* 65537 */
#define RSA_MAX_EXPONENT_BITS 256
#define EC_MIN_BITS 256
#define EC_MAX_BITS 521
#define ED25519_BITS 256

/* The class and key type a template asks for must be the mechanism's:
 * CKR_TEMPLATE_INCONSISTENT otherwise.  *type is the template's key type
 * or dflt when absent. */
static CK_RV template_key_type(const attr_list *tmpl, CK_OBJECT_CLASS cls, CK_KEY_TYPE dflt,
                               CK_KEY_TYPE *type)
{
    CK_ULONG value;
    CK_RV rv;
    if (attr_list_has(tmpl, CKA_CLASS)) {
        rv = attr_list_ulong(tmpl, CKA_CLASS, &value);
        if (rv != CKR_OK)
            return rv;
        if (value != cls)
            return CKR_TEMPLATE_INCONSISTENT;
    }
    *type = dflt;
    if (attr_list_has(tmpl, CKA_KEY_TYPE)) {
        rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, type);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

static CK_RV check_template(const attr_list *tmpl, CK_OBJECT_CLASS cls, CK_KEY_TYPE type)
{
    CK_KEY_TYPE asked;
    CK_RV rv = template_key_type(tmpl, cls, type, &asked);
    if (rv == CKR_OK && asked != type)
        rv = CKR_TEMPLATE_INCONSISTENT;
    return rv;
}

/* ---- secret keys ------------------------------------------------------- */

static CK_RV generate_secret(CK_KEY_TYPE type, CK_ULONG len, attr_list *out)
{
    unsigned char *value = malloc(len);
    if (!value)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    /* The private DRBG in blocks (mech_random): a 32-byte key is a quarter
     * of a DRBG call's cost (issue 18: aes256-keygen). */
    rv = mech_random(value, len, true);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, type);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, value, len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, len);
    OPENSSL_cleanse(value, len);
    free(value);
    return rv;
}

/* CKA_VALUE_LEN is required (PKCS#11 3.0 §2.10.4, §2.8.3). */
static CK_RV value_len(const attr_list *tmpl, CK_ULONG min, CK_ULONG max, CK_ULONG *len)
{
    CK_RV rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, len);
    if (rv == CKR_OK && (*len < min || *len > max))
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    return rv;
}

static CK_RV aes_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                          attr_list *out)
{
    (void)env;
    CK_ULONG len;
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = check_template(tmpl, CKO_SECRET_KEY, CKK_AES);
    if (rv == CKR_OK)
        rv = value_len(tmpl, AES_MIN_BYTES, AES_MAX_BYTES, &len);
    if (rv == CKR_OK && len != 16 && len != 24 && len != 32) /* AES-128, -192, -256 */
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    if (rv == CKR_OK)
        rv = generate_secret(CKK_AES, len, out);
    return rv;
}

/* A generic secret, or a key typed for one HMAC when the template says so
 * (the HMAC key types of the hash table, mech_hash.h). */
static CK_RV generic_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                              attr_list *out)
{
    (void)env;
    CK_KEY_TYPE type;
    CK_ULONG len;
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = template_key_type(tmpl, CKO_SECRET_KEY, CKK_GENERIC_SECRET, &type);
    if (rv != CKR_OK)
        return rv;
    if (type != CKK_GENERIC_SECRET && !mech_hash_find(MECH_HASH_BY_HMAC_KEY, type, MECH_HASH_HMAC))
        return CKR_TEMPLATE_INCONSISTENT; /* an HMAC key type: one the hash table offers */
    rv = value_len(tmpl, GENERIC_MIN_BYTES, GENERIC_MAX_BYTES, &len);
    if (rv == CKR_OK)
        rv = generate_secret(type, len, out);
    return rv;
}

/* ---- key pairs ------------------------------------------------------------ */

/* Both objects' attributes.  ec_params, when given, is the caller's
 * CKA_EC_PARAMS, kept as written (OID or curve name) on both objects. */
static CK_RV pair_outputs(EVP_PKEY *pkey, const CK_ATTRIBUTE *ec_params, attr_list *pub_out,
                          attr_list *priv_out)
{
    CK_RV rv = mech_public_attrs(pkey, pub_out);
    if (rv == CKR_OK)
        rv = mech_private_attrs(pkey, priv_out);
    if (rv == CKR_OK && ec_params)
        rv = attr_list_set(pub_out, CKA_EC_PARAMS, ec_params->pValue, ec_params->ulValueLen);
    if (rv == CKR_OK && ec_params)
        rv = attr_list_set(priv_out, CKA_EC_PARAMS, ec_params->pValue, ec_params->ulValueLen);
    return rv;
}

static CK_RV check_pair_templates(const CK_MECHANISM *mech, const attr_list *pub_tmpl,
                                  const attr_list *priv_tmpl, CK_KEY_TYPE type)
{
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = check_template(pub_tmpl, CKO_PUBLIC_KEY, type);
    if (rv == CKR_OK)
        rv = check_template(priv_tmpl, CKO_PRIVATE_KEY, type);
    return rv;
}

/* CKA_PUBLIC_EXPONENT from the public template, or 65537.  Only 3 and
 * 65537, the exponents card profiles use (EMV certifies card keys with
 * e = 3): any other value is CKR_ATTRIBUTE_VALUE_INVALID (PKCS#11 3.0
 * §4.1.2: an invalid value for a valid attribute). */
static CK_RV rsa_exponent(const attr_list *pub_tmpl, BIGNUM **e)
{
    const CK_ATTRIBUTE *attr = attr_list_find(pub_tmpl, CKA_PUBLIC_EXPONENT);
    *e = BN_new();
    if (!*e)
        return CKR_HOST_MEMORY;
    if (!attr)
        return BN_set_word(*e, RSA_DEFAULT_EXPONENT) ? CKR_OK : CKR_HOST_MEMORY;
    if (attr->ulValueLen == 0 || attr->ulValueLen > RSA_MAX_EXPONENT_BITS / 8)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (!BN_bin2bn(attr->pValue, (int)attr->ulValueLen, *e))
        return CKR_HOST_MEMORY;
    if (!BN_is_word(*e, 3) && !BN_is_word(*e, RSA_F4))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

static CK_RV rsa_generate_pair(const CK_MECHANISM *mech, const attr_list *pub_tmpl,
                               const attr_list *priv_tmpl, attr_list *pub_out, attr_list *priv_out)
{
    CK_ULONG bits;
    BIGNUM *e = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    EVP_PKEY *pkey = NULL;
    CK_RV rv = check_pair_templates(mech, pub_tmpl, priv_tmpl, CKK_RSA);
    if (rv == CKR_OK)
        rv = attr_list_ulong(pub_tmpl, CKA_MODULUS_BITS, &bits);
    if (rv == CKR_OK && (bits < mech_rsa_min_bits() || bits > MECH_RSA_MAX_BITS))
        rv = CKR_KEY_SIZE_RANGE; /* rsa_min_bits: the configured minimum (mech.h) */
    if (rv == CKR_OK)
        rv = rsa_exponent(pub_tmpl, &e);
    if (rv != CKR_OK)
        goto out;

    rv = CKR_HOST_MEMORY;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, mech_keytype("RSA"), NULL);
    if (!ctx)
        goto out;
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) <= 0 ||
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) <= 0 || EVP_PKEY_generate(ctx, &pkey) <= 0) {
        rv = mech_openssl_error("RSA key generation", CKR_FUNCTION_FAILED);
        goto out;
    }
    rv = pair_outputs(pkey, NULL, pub_out, priv_out);
out:
    EVP_PKEY_free(pkey);
    EVP_PKEY_CTX_free(ctx);
    BN_free(e);
    return rv;
}

/* A curve of the family type from CKA_EC_PARAMS in the public template;
 * *params is NULL when absent. */
static CK_RV template_curve(const attr_list *pub_tmpl, CK_KEY_TYPE type,
                            const CK_ATTRIBUTE **params, const mech_curve **curve)
{
    *params = attr_list_find(pub_tmpl, CKA_EC_PARAMS);
    if (!*params)
        return CKR_TEMPLATE_INCOMPLETE;
    CK_RV rv = mech_curve_from_params((*params)->pValue, (*params)->ulValueLen, curve);
    if (rv == CKR_OK && (*curve)->key_type != type)
        rv = CKR_CURVE_NOT_SUPPORTED;
    return rv;
}

/* Key generation contexts kept for reuse, a few per curve.  A context
 * builds its curve's EC_GROUP from the name on its first key and keeps
 * it; a new context for every key built it again each time (Montgomery
 * contexts, generator), a quarter of a P-256 pair's cost.  A context serves
 * one call at a time: taking and returning one are atomic exchanges on
 * the slots, so no lock is held (nor left held in a forked child). */
#define CURVE_POOLS 8
#define POOL_SLOTS 4

static struct curve_pool {
    const mech_curve *curve; /* claimed once, NULL while unused */
    EVP_PKEY_CTX *slots[POOL_SLOTS];
} curve_pools[CURVE_POOLS];

/* C_Finalize: no call is in progress, so every context is in a slot. */
static void empty_pools(void)
{
    for (size_t i = 0; i < CURVE_POOLS; i++)
        for (size_t j = 0; j < POOL_SLOTS; j++) {
            EVP_PKEY_CTX_free(curve_pools[i].slots[j]);
            curve_pools[i].slots[j] = NULL;
        }
}

static mech_once pools_once = MECH_ONCE_INIT(NULL, empty_pools);

/* The curve's pool, claimed on first use; NULL when all are taken. */
static struct curve_pool *pool_of(const mech_curve *curve)
{
    if (!mech_once_run(&pools_once))
        return NULL;
    for (size_t i = 0; i < CURVE_POOLS; i++) {
        const mech_curve *owner = NULL;
        if (__atomic_compare_exchange_n(&curve_pools[i].curve, &owner, curve, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE) ||
            owner == curve)
            return &curve_pools[i];
    }
    return NULL;
}

static EVP_PKEY_CTX *new_keygen_ctx(const mech_curve *curve)
{
    /* Ed25519 has no legacy ENGINE route; EC goes by OID (mech_keytype). */
    EVP_PKEY_CTX *ctx = curve->key_type == CKK_EC
                            ? EVP_PKEY_CTX_new_from_name(NULL, mech_keytype("EC"), NULL)
                            : EVP_PKEY_CTX_new_from_name(NULL, curve->name, NULL);
    OSSL_PARAM group[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, (char *)curve->name, 0),
        OSSL_PARAM_construct_end()};
    if (ctx && EVP_PKEY_keygen_init(ctx) > 0 &&
        (curve->key_type != CKK_EC || EVP_PKEY_CTX_set_params(ctx, group) > 0))
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

static EVP_PKEY_CTX *take_keygen_ctx(struct curve_pool *pool, const mech_curve *curve)
{
    for (size_t i = 0; pool && i < POOL_SLOTS; i++) {
        EVP_PKEY_CTX *ctx = __atomic_exchange_n(&pool->slots[i], NULL, __ATOMIC_ACQ_REL);
        if (ctx)
            return ctx;
    }
    return new_keygen_ctx(curve);
}

static void return_keygen_ctx(struct curve_pool *pool, EVP_PKEY_CTX *ctx)
{
    for (size_t i = 0; pool && i < POOL_SLOTS; i++) {
        EVP_PKEY_CTX *empty = NULL;
        if (__atomic_compare_exchange_n(&pool->slots[i], &empty, ctx, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return;
    }
    EVP_PKEY_CTX_free(ctx);
}

static CK_RV curve_generate_pair(const mech_curve *curve, const CK_ATTRIBUTE *params,
                                 attr_list *pub_out, attr_list *priv_out)
{
    EVP_PKEY *pkey = NULL;
    struct curve_pool *pool = pool_of(curve);
    EVP_PKEY_CTX *ctx = take_keygen_ctx(pool, curve);
    if (!ctx || EVP_PKEY_generate(ctx, &pkey) <= 0) {
        EVP_PKEY_CTX_free(ctx); /* in an unknown state */
        return mech_openssl_error("EC key generation", CKR_FUNCTION_FAILED);
    }
    return_keygen_ctx(pool, ctx);
    CK_RV rv = pair_outputs(pkey, params, pub_out, priv_out);
    EVP_PKEY_free(pkey);
    return rv;
}

/* CKA_EC_PARAMS (PKCS#11 3.0 §2.3.3) is required in the public template. */
static CK_RV ec_generate_pair(const CK_MECHANISM *mech, const attr_list *pub_tmpl,
                              const attr_list *priv_tmpl, attr_list *pub_out, attr_list *priv_out)
{
    const CK_ATTRIBUTE *params;
    const mech_curve *curve;
    CK_RV rv = check_pair_templates(mech, pub_tmpl, priv_tmpl, CKK_EC);
    if (rv == CKR_OK)
        rv = template_curve(pub_tmpl, CKK_EC, &params, &curve);
    if (rv == CKR_OK)
        rv = curve_generate_pair(curve, params, pub_out, priv_out);
    return rv;
}

/* Ed25519, the only Edwards curve offered: CKA_EC_PARAMS may be omitted. */
static CK_RV eddsa_generate_pair(const CK_MECHANISM *mech, const attr_list *pub_tmpl,
                                 const attr_list *priv_tmpl, attr_list *pub_out,
                                 attr_list *priv_out)
{
    const CK_ATTRIBUTE *params;
    const mech_curve *curve;
    CK_RV rv = check_pair_templates(mech, pub_tmpl, priv_tmpl, CKK_EC_EDWARDS);
    if (rv != CKR_OK)
        return rv;
    rv = template_curve(pub_tmpl, CKK_EC_EDWARDS, &params, &curve);
    if (rv == CKR_TEMPLATE_INCOMPLETE) {
        curve = mech_curve_by_nid(NID_ED25519);
        rv = CKR_OK;
    }
    if (rv == CKR_OK)
        rv = curve_generate_pair(curve, params, pub_out, priv_out);
    return rv;
}

/* ---- the rows ------------------------------------------------------------- */

#define EC_FLAGS (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS)

static const mech_row rows[] = {
    {.type = CKM_AES_KEY_GEN,
     .name = "CKM_AES_KEY_GEN",
     .info = {AES_MIN_BYTES, AES_MAX_BYTES, CKF_GENERATE},
     .generate = aes_generate},
    {.type = CKM_GENERIC_SECRET_KEY_GEN,
     .name = "CKM_GENERIC_SECRET_KEY_GEN",
     .info = {GENERIC_MIN_BYTES, GENERIC_MAX_BYTES, CKF_GENERATE},
     .generate = generic_generate},
    {.type = CKM_RSA_PKCS_KEY_PAIR_GEN,
     .name = "CKM_RSA_PKCS_KEY_PAIR_GEN",
     .info = {MECH_RSA_MIN_BITS, MECH_RSA_MAX_BITS, CKF_GENERATE_KEY_PAIR},
     .generate_pair = rsa_generate_pair,
     .rsa_sized = true},
    {.type = CKM_EC_KEY_PAIR_GEN,
     .name = "CKM_EC_KEY_PAIR_GEN",
     .info = {EC_MIN_BITS, EC_MAX_BITS, CKF_GENERATE_KEY_PAIR | EC_FLAGS},
     .generate_pair = ec_generate_pair},
    {.type = CKM_EC_EDWARDS_KEY_PAIR_GEN,
     .name = "CKM_EC_EDWARDS_KEY_PAIR_GEN",
     .info = {ED25519_BITS, ED25519_BITS, CKF_GENERATE_KEY_PAIR},
     .generate_pair = eddsa_generate_pair},
};

const mech_table mech_table_keygen = {rows, ARRAY_SIZE(rows)};
