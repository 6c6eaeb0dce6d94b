/*
 * keyconv.c — key material between PKCS#11 attributes, EVP_PKEYs and
 * PKCS#8 (see mech.h, "key conversions").  Private values only pass
 * through secure BIGNUMs, OSSL_PARAM secure blocks and buffers that are
 * cleansed before they are freed.
 *
 * Which attributes go where: mech_public_attrs gives a public-key
 * object's values; mech_private_attrs gives a private-key object's values,
 * that is the private values plus the public ones PKCS#11 puts on a
 * private key (CKA_MODULUS, CKA_PUBLIC_EXPONENT / CKA_EC_PARAMS,
 * CKA_PUBLIC_KEY_INFO), so each object needs one call.
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define ED25519_KEY_BYTES 32
#define MAX_EC_POINT_BYTES (1 + 2 * 66) /* uncompressed P-521 point */
#define MAX_BIGNUM_BYTES 1024           /* an RSA-8192 modulus: far above what we accept */

/* ---- reading attributes ------------------------------------------------- */

static CK_RV required_value(const attr_list *attrs, CK_ATTRIBUTE_TYPE type,
                            const CK_ATTRIBUTE **attr)
{
    *attr = attr_list_find(attrs, type);
    if (!*attr)
        return CKR_TEMPLATE_INCOMPLETE;
    if ((*attr)->ulValueLen == 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    return CKR_OK;
}

/* A big-endian integer attribute; secret ones go into secure memory. */
static CK_RV attr_bignum(const attr_list *attrs, CK_ATTRIBUTE_TYPE type, bool secret, BIGNUM **out)
{
    const CK_ATTRIBUTE *attr;
    CK_RV rv = required_value(attrs, type, &attr);
    if (rv != CKR_OK)
        return rv;
    if (attr->ulValueLen > MAX_BIGNUM_BYTES)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    BIGNUM *bn = secret ? BN_secure_new() : BN_new();
    if (!bn || !BN_bin2bn(attr->pValue, (int)attr->ulValueLen, bn)) {
        BN_free(bn);
        return CKR_HOST_MEMORY;
    }
    if (secret)
        BN_set_flags(bn, BN_FLG_CONSTTIME);
    *out = bn;
    return CKR_OK;
}

/* The content of a DER OCTET STRING that fills the whole value. */
static bool der_octet_string(const unsigned char *der, size_t der_len,
                             const unsigned char **content, size_t *len)
{
    const unsigned char *p = der;
    long length = 0;
    int tag = 0, cls = 0;
    int ret = ASN1_get_object(&p, &length, &tag, &cls, (long)der_len);
    if (ret != 0 || tag != V_ASN1_OCTET_STRING || cls != V_ASN1_UNIVERSAL ||
        p + length != der + der_len) {
        mech_openssl_error("EC point DER", CKR_OK);
        return false;
    }
    *content = p;
    *len = (size_t)length;
    return true;
}

/* A point or key value: the DER OCTET STRING PKCS#11 3.0 §2.3.3 specifies
 * for CKA_EC_POINT, or the bare bytes (bare_len long) that some
 * applications pass.  A DER value is always longer than the bare one, so
 * the length tells them apart. */
static void octets_of_attr(const CK_ATTRIBUTE *attr, size_t bare_len, const unsigned char **data,
                           size_t *len)
{
    const unsigned char *value = attr->pValue;
    if (attr->ulValueLen == bare_len || !der_octet_string(value, attr->ulValueLen, data, len)) {
        *data = value;
        *len = attr->ulValueLen;
    }
}

/* The curve of CKA_EC_PARAMS, which must belong to key type type.  An
 * EdDSA key without CKA_EC_PARAMS is taken as Ed25519, the only one. */
static CK_RV curve_of_attrs(const attr_list *attrs, CK_KEY_TYPE type, const mech_curve **curve)
{
    const CK_ATTRIBUTE *params = attr_list_find(attrs, CKA_EC_PARAMS);
    if (!params && type == CKK_EC_EDWARDS) {
        *curve = mech_curve_by_nid(NID_ED25519);
        return CKR_OK;
    }
    if (!params)
        return CKR_TEMPLATE_INCOMPLETE;
    CK_RV rv = mech_curve_from_params(params->pValue, params->ulValueLen, curve);
    if (rv == CKR_OK && (*curve)->key_type != type)
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    return rv;
}

/* ---- attributes → EVP_PKEY ---------------------------------------------- */

static CK_RV pkey_from_params(const char *type, int selection, OSSL_PARAM_BLD *bld, EVP_PKEY **out)
{
    CK_RV rv = CKR_HOST_MEMORY;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, mech_keytype(type), NULL);
    if (!params || !ctx)
        goto out;
    if (EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, out, selection, params) <= 0) {
        rv = mech_openssl_error("key import", CKR_ATTRIBUTE_VALUE_INVALID);
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params); /* cleanses the secure block holding private values */
    return rv;
}

typedef struct bn_part {
    CK_ATTRIBUTE_TYPE type;
    const char *param;
} bn_part;

static const bn_part rsa_public_parts[] = {
    {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N},
    {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E},
};
static const bn_part rsa_private_exponent = {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D};
static const bn_part rsa_crt_parts[] = {
    {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
    {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},
    {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
    {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2},
    {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1},
};

/* The builder keeps a pointer to the BIGNUM: *slot must live until
 * OSSL_PARAM_BLD_to_param. */
static CK_RV push_bignum(OSSL_PARAM_BLD *bld, const attr_list *attrs, const bn_part *part,
                         bool secret, BIGNUM **slot)
{
    CK_RV rv = attr_bignum(attrs, part->type, secret, slot);
    if (rv == CKR_OK && !OSSL_PARAM_BLD_push_BN(bld, part->param, *slot))
        rv = CKR_HOST_MEMORY;
    return rv;
}

static bool has_all(const attr_list *attrs, const bn_part *parts, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (!attr_list_has(attrs, parts[i].type))
            return false;
    return true;
}

/* RSA from CKA_MODULUS and CKA_PUBLIC_EXPONENT, plus CKA_PRIVATE_EXPONENT
 * and, when all five are present, the CRT values. */
static CK_RV rsa_from_attrs(const attr_list *attrs, bool private_key, EVP_PKEY **out)
{
    BIGNUM *values[ARRAY_SIZE(rsa_public_parts) + 1 + ARRAY_SIZE(rsa_crt_parts)] = {NULL};
    size_t count = 0;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    CK_RV rv = bld ? CKR_OK : CKR_HOST_MEMORY;

    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(rsa_public_parts); i++)
        rv = push_bignum(bld, attrs, &rsa_public_parts[i], false, &values[count++]);
    if (rv == CKR_OK && private_key)
        rv = push_bignum(bld, attrs, &rsa_private_exponent, true, &values[count++]);
    if (rv == CKR_OK && private_key && has_all(attrs, rsa_crt_parts, ARRAY_SIZE(rsa_crt_parts)))
        for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(rsa_crt_parts); i++)
            rv = push_bignum(bld, attrs, &rsa_crt_parts[i], true, &values[count++]);
    if (rv == CKR_OK)
        rv =
            pkey_from_params("RSA", private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, out);
    for (size_t i = 0; i < count; i++)
        BN_clear_free(values[i]);
    OSSL_PARAM_BLD_free(bld);
    return rv;
}

/* The uncompressed public point d·G of a private scalar, which must be in
 * [1, order − 1].  *len: buffer size in, point size out. */
static CK_RV ec_public_point(const mech_curve *curve, const BIGNUM *d, unsigned char *point,
                             size_t *len)
{
    CK_RV rv = CKR_HOST_MEMORY;
    const EC_GROUP *group = mech_curve_group(curve);
    EC_POINT *public_point = group ? EC_POINT_new(group) : NULL;
    if (!public_point)
        goto out;
    rv = CKR_ATTRIBUTE_VALUE_INVALID;
    if (BN_is_zero(d) || BN_is_negative(d) || BN_cmp(d, EC_GROUP_get0_order(group)) >= 0)
        goto out;
    rv = CKR_FUNCTION_FAILED;
    if (!EC_POINT_mul(group, public_point, d, NULL, NULL, NULL))
        goto out;
    *len =
        EC_POINT_point2oct(group, public_point, POINT_CONVERSION_UNCOMPRESSED, point, *len, NULL);
    if (*len == 0)
        goto out;
    rv = CKR_OK;
out:
    if (rv != CKR_OK)
        mech_openssl_error("EC public point", rv);
    EC_POINT_free(public_point);
    return rv;
}

/* EC from CKA_EC_PARAMS and CKA_EC_POINT (public) or CKA_VALUE (private;
 * the public point is computed so that verification and ECDH work). */
static CK_RV ec_from_attrs(const attr_list *attrs, bool private_key, EVP_PKEY **out)
{
    const mech_curve *curve;
    CK_RV rv = curve_of_attrs(attrs, CKK_EC, &curve);
    if (rv != CKR_OK)
        return rv;

    unsigned char computed[MAX_EC_POINT_BYTES];
    const unsigned char *point = computed;
    size_t point_len = sizeof(computed);
    BIGNUM *d = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (!bld) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (private_key) {
        rv = attr_bignum(attrs, CKA_VALUE, true, &d);
        if (rv == CKR_OK)
            rv = ec_public_point(curve, d, computed, &point_len);
        if (rv == CKR_OK && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d))
            rv = CKR_HOST_MEMORY;
    } else {
        const CK_ATTRIBUTE *attr;
        rv = required_value(attrs, CKA_EC_POINT, &attr);
        if (rv == CKR_OK)
            octets_of_attr(attr, 1 + 2 * curve->field_bytes, &point, &point_len);
    }
    if (rv != CKR_OK)
        goto out;
    if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curve->name, 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, point_len)) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = pkey_from_params("EC", private_key ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, bld, out);
out:
    BN_clear_free(d);
    OSSL_PARAM_BLD_free(bld);
    return rv;
}

/* Ed25519 (RFC 8032 raw keys): CKA_EC_POINT for a public key, CKA_VALUE
 * for a private one, each the DER OCTET STRING or the bare 32 bytes. */
static CK_RV ed25519_from_attrs(const attr_list *attrs, bool private_key, EVP_PKEY **out)
{
    const mech_curve *curve;
    const CK_ATTRIBUTE *attr;
    CK_RV rv = curve_of_attrs(attrs, CKK_EC_EDWARDS, &curve);
    if (rv == CKR_OK)
        rv = required_value(attrs, private_key ? CKA_VALUE : CKA_EC_POINT, &attr);
    if (rv != CKR_OK)
        return rv;
    const unsigned char *bytes;
    size_t len;
    octets_of_attr(attr, ED25519_KEY_BYTES, &bytes, &len);
    if (len != ED25519_KEY_BYTES)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *out = private_key ? EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, bytes, len)
                       : EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, bytes, len);
    return *out ? CKR_OK : mech_openssl_error("Ed25519 key import", CKR_ATTRIBUTE_VALUE_INVALID);
}

/* Any secret key type (vendor ones included) is bytes; an AES key must
 * be 16, 24 or 32 of them (PKCS#11 3.0 §2.10.2), a DES2/DES3 key its
 * length with odd parity and not single DES (mech_des_key_check); single
 * DES keys softse does not hold (README, "no single DES"). */
static CK_RV secret_from_attrs(const attr_list *attrs, CK_KEY_TYPE type, mech_key *out)
{
    const CK_ATTRIBUTE *value;
    CK_RV rv = required_value(attrs, CKA_VALUE, &value);
    if (rv != CKR_OK)
        return rv;
    if (type == CKK_AES && value->ulValueLen != 16 && value->ulValueLen != 24 &&
        value->ulValueLen != 32)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (type == CKK_DES)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (mech_des_key_len(type)) {
        rv = mech_des_key_check(type, value->pValue, value->ulValueLen);
        if (rv != CKR_OK)
            return rv;
    }
    out->secret = malloc(value->ulValueLen);
    if (!out->secret)
        return CKR_HOST_MEMORY;
    memcpy(out->secret, value->pValue, value->ulValueLen);
    out->secret_len = value->ulValueLen;
    return CKR_OK;
}

CK_RV mech_key_from_attrs(const attr_list *attrs, mech_key *out)
{
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    memset(out, 0, sizeof(*out));
    CK_RV rv = attr_list_ulong(attrs, CKA_CLASS, &cls);
    if (rv == CKR_OK)
        rv = attr_list_ulong(attrs, CKA_KEY_TYPE, &type);
    if (rv != CKR_OK)
        return rv;
    out->cls = cls;
    out->type = type;
    out->attrs = attrs;

    if (cls == CKO_SECRET_KEY) {
        switch (type) {
        case CKK_RSA:
        case CKK_EC:
        case CKK_EC_EDWARDS:
        case CKK_EC_MONTGOMERY:
        case CKK_DSA:
        case CKK_DH:
            return CKR_KEY_TYPE_INCONSISTENT;
        default:
            return secret_from_attrs(attrs, type, out);
        }
    }
    if (cls != CKO_PUBLIC_KEY && cls != CKO_PRIVATE_KEY)
        return CKR_KEY_TYPE_INCONSISTENT;
    bool private_key = cls == CKO_PRIVATE_KEY;
    switch (type) {
    case CKK_RSA:
        return rsa_from_attrs(attrs, private_key, &out->pkey);
    case CKK_EC:
        return ec_from_attrs(attrs, private_key, &out->pkey);
    case CKK_EC_EDWARDS:
        return ed25519_from_attrs(attrs, private_key, &out->pkey);
    default:
        return CKR_KEY_TYPE_INCONSISTENT;
    }
}

/* A context of pkey with usage's init run on it; NULL (OpenSSL's error
 * queue telling why) when it cannot be made. */
static EVP_PKEY_CTX *pkey_ctx_new(EVP_PKEY *pkey, CK_ATTRIBUTE_TYPE usage)
{
    int (*init)(EVP_PKEY_CTX *) = usage == CKA_SIGN      ? EVP_PKEY_sign_init
                                  : usage == CKA_VERIFY  ? EVP_PKEY_verify_init
                                  : usage == CKA_ENCRYPT ? EVP_PKEY_encrypt_init
                                  : usage == CKA_DECRYPT ? EVP_PKEY_decrypt_init
                                                         : NULL;
    if (!init || !pkey)
        return NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx && init(ctx) > 0)
        return ctx;
    EVP_PKEY_CTX_free(ctx);
    return NULL;
}

EVP_PKEY_CTX *mech_pkey_template(EVP_PKEY *pkey, CK_ATTRIBUTE_TYPE usage)
{
    EVP_PKEY_CTX *ctx = pkey_ctx_new(pkey, usage);
    if (!ctx)
        ERR_clear_error(); /* no template: each init makes its own context */
    return ctx;
}

EVP_PKEY_CTX *mech_key_ctx(const mech_key *key, CK_ATTRIBUTE_TYPE usage)
{
    if (key->pkey_ctx && key->pkey_ctx_usage == usage &&
        EVP_PKEY_CTX_get0_pkey(key->pkey_ctx) == key->pkey) {
        EVP_PKEY_CTX *dup = EVP_PKEY_CTX_dup(key->pkey_ctx);
        if (dup)
            return dup;
        ERR_clear_error(); /* made anew below */
    }
    return pkey_ctx_new(key->pkey, usage);
}

void mech_key_free(mech_key *key)
{
    if (!key)
        return;
    EVP_PKEY_CTX_free(key->pkey_ctx);
    EVP_PKEY_free(key->pkey);
    if (key->secret) {
        OPENSSL_cleanse(key->secret, key->secret_len);
        free(key->secret);
    }
    memset(key, 0, sizeof(*key));
}

CK_ULONG mech_key_size(const mech_key *key)
{
    if (key->cls == CKO_SECRET_KEY)
        return key->secret_len;
    if (!key->pkey)
        return 0;
    /* RSA: modulus bits; EC: order bits, which is the field size of the
     * supported curves; Ed25519: 256. */
    int bits = EVP_PKEY_get_bits(key->pkey);
    return bits > 0 ? (CK_ULONG)bits : 0;
}

/* ---- EVP_PKEY → attributes ---------------------------------------------- */

/* A big-endian value, left-padded to pad bytes (0: minimal length). */
static CK_RV set_bignum(attr_list *out, CK_ATTRIBUTE_TYPE type, const BIGNUM *bn, size_t pad)
{
    size_t len = (size_t)BN_num_bytes(bn);
    if (pad > len)
        len = pad;
    if (len == 0)
        len = 1; /* zero is one zero byte */
    unsigned char *bytes = malloc(len);
    if (!bytes)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_FUNCTION_FAILED;
    if (BN_bn2binpad(bn, bytes, (int)len) == (int)len)
        rv = attr_list_set(out, type, bytes, len);
    OPENSSL_cleanse(bytes, len);
    free(bytes);
    return rv;
}

/* CKR_KEY_TYPE_INCONSISTENT when the key lacks the value (a public key
 * handed to mech_private_attrs). */
static CK_RV set_key_bignum(attr_list *out, EVP_PKEY *pkey, const bn_part *part, size_t pad)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, part->param, &bn))
        return mech_openssl_error(part->param, CKR_KEY_TYPE_INCONSISTENT);
    CK_RV rv = set_bignum(out, part->type, bn, pad);
    BN_clear_free(bn);
    return rv;
}

/* A DER OCTET STRING around data (PKCS#11 3.0 §2.3.3 for CKA_EC_POINT):
 * a short header written here rather than an ASN1_OCTET_STRING
 * allocated, encoded and freed for each key. */
static CK_RV set_octet_string(attr_list *out, CK_ATTRIBUTE_TYPE type, const unsigned char *data,
                              size_t len)
{
    unsigned char der[4 + MAX_EC_POINT_BYTES];
    size_t header = 2;
    if (len > MAX_EC_POINT_BYTES)
        return CKR_FUNCTION_FAILED;
    der[0] = V_ASN1_OCTET_STRING;
    if (len < 0x80) {
        der[1] = (unsigned char)len;
    } else { /* at most 255 bytes here: one length octet */
        der[1] = 0x81;
        der[2] = (unsigned char)len;
        header = 3;
    }
    memcpy(der + header, data, len);
    return attr_list_set(out, type, der, (CK_ULONG)(header + len));
}

/* Any key type: OpenSSL's encoder, found by a provider lookup on each call. */
static CK_RV set_public_key_info(attr_list *out, EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(pkey, &der);
    if (len <= 0)
        return mech_openssl_error("SubjectPublicKeyInfo", CKR_FUNCTION_FAILED);
    CK_RV rv = attr_list_set(out, CKA_PUBLIC_KEY_INFO, der, (CK_ULONG)len);
    OPENSSL_free(der);
    return rv;
}

/* The SubjectPublicKeyInfo of a named-curve EC key (RFC 5480 §2) or an
 * Ed25519 key (RFC 8410 §4) is a constant prefix — the outer SEQUENCE
 * header, the AlgorithmIdentifier, the BIT STRING header with no unused
 * bits — then the uncompressed point or the raw key.  Writing that prefix
 * gives the bytes i2d_PUBKEY gives (tests/unit/test_keyconv_spki.c
 * compares them) without the OSSL_ENCODER lookup, which cost most of a
 * P-256 key pair generation. */
#define SPKI_PREFIX_MAX 26
#define ID_EC_PUBLIC_KEY 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01 /* RFC 5480 */
static const struct spki_prefix {
    int nid;
    size_t public_len; /* bytes of the point or key after the prefix */
    size_t len;
    unsigned char der[SPKI_PREFIX_MAX];
} spki_prefixes[] = {
    {NID_X9_62_prime256v1,
     1 + 2 * 32,
     26,
     {0x30, 0x59, 0x30, 0x13, ID_EC_PUBLIC_KEY, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03,
      0x01, 0x07, 0x03, 0x42, 0x00}},
    {NID_secp384r1,
     1 + 2 * 48,
     23,
     {0x30, 0x76, 0x30, 0x10, ID_EC_PUBLIC_KEY, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22, 0x03,
      0x62, 0x00}},
    {NID_secp521r1,
     1 + 2 * 66,
     25,
     {0x30, 0x81, 0x9b, 0x30, 0x10, ID_EC_PUBLIC_KEY, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23,
      0x03, 0x81, 0x86, 0x00}},
    {NID_ED25519,
     ED25519_KEY_BYTES,
     12,
     {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00}},
};

/* False when the curve has no prefix or the key is not the expected length. */
static bool spki_prefix_of(const mech_curve *curve, size_t public_len,
                           const struct spki_prefix **prefix)
{
    for (size_t i = 0; i < ARRAY_SIZE(spki_prefixes); i++)
        if (spki_prefixes[i].nid == curve->nid) {
            *prefix = &spki_prefixes[i];
            return spki_prefixes[i].public_len == public_len;
        }
    return false;
}

static CK_RV set_curve_public_key_info(attr_list *out, const struct spki_prefix *prefix,
                                       const unsigned char *public_key)
{
    unsigned char der[SPKI_PREFIX_MAX + MAX_EC_POINT_BYTES];
    memcpy(der, prefix->der, prefix->len);
    memcpy(der + prefix->len, public_key, prefix->public_len);
    return attr_list_set(out, CKA_PUBLIC_KEY_INFO, der,
                         (CK_ULONG)(prefix->len + prefix->public_len));
}

static CK_RV rsa_attrs(EVP_PKEY *pkey, bool private_key, attr_list *out)
{
    CK_RV rv = attr_list_set_ulong(out, CKA_KEY_TYPE, CKK_RSA);
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(rsa_public_parts); i++)
        rv = set_key_bignum(out, pkey, &rsa_public_parts[i], 0);
    if (rv != CKR_OK)
        return rv;
    if (!private_key)
        return attr_list_set_ulong(out, CKA_MODULUS_BITS, (CK_ULONG)EVP_PKEY_get_bits(pkey));
    rv = set_key_bignum(out, pkey, &rsa_private_exponent, 0);
    /* A key imported without its CRT values has none to give. */
    BIGNUM *probe = NULL;
    if (rv != CKR_OK)
        return rv;
    if (!EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, &probe)) {
        ERR_clear_error();
        return CKR_OK;
    }
    BN_clear_free(probe);
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(rsa_crt_parts); i++)
        rv = set_key_bignum(out, pkey, &rsa_crt_parts[i], 0);
    return rv;
}

/* An EC or Ed25519 key's public value as the key keeps it: the encoded
 * point (uncompressed for a generated key; a decoded PKCS#8 key may keep
 * a compressed one) or the raw Ed25519 key.  named: its curve is encoded
 * by name, not by explicit parameters (a decoded PKCS#8 key may have
 * those), so that SubjectPublicKeyInfo is the constant prefix and it. */
typedef struct curve_public {
    unsigned char bytes[MAX_EC_POINT_BYTES];
    size_t len;
    bool named;
} curve_public;

static CK_RV curve_public_of(EVP_PKEY *pkey, const mech_curve *curve, curve_public *pub)
{
    pub->len = sizeof(pub->bytes);
    pub->named = true;
    if (curve->key_type == CKK_EC_EDWARDS)
        return EVP_PKEY_get_raw_public_key(pkey, pub->bytes, &pub->len)
                   ? CKR_OK
                   : mech_openssl_error("Ed25519 public key", CKR_FUNCTION_FAILED);
    /* Both in one provider call: each call allocates a BN_CTX. */
    char encoding[sizeof(OSSL_PKEY_EC_ENCODING_GROUP)] = ""; /* the longer name */
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, pub->bytes, sizeof(pub->bytes)),
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING, encoding, sizeof(encoding)),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_PKEY_get_params(pkey, params) && OSSL_PARAM_modified(&params[0]) &&
        params[0].return_size != 0) {
        pub->len = params[0].return_size;
        pub->named =
            OSSL_PARAM_modified(&params[1]) && strcmp(encoding, OSSL_PKEY_EC_ENCODING_GROUP) == 0;
        return CKR_OK;
    }
    /* A key that cannot tell its encoding (a legacy EC_KEY): the point
     * alone, and SubjectPublicKeyInfo from OpenSSL's encoder. */
    ERR_clear_error();
    pub->named = false;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub->bytes,
                                         sizeof(pub->bytes), &pub->len) ||
        pub->len == 0)
        return mech_openssl_error("EC public point", CKR_KEY_TYPE_INCONSISTENT);
    return CKR_OK;
}

static bool is_uncompressed(const curve_public *pub, const mech_curve *curve)
{
    return curve->key_type != CKK_EC || (pub->bytes[0] == POINT_CONVERSION_UNCOMPRESSED &&
                                         pub->len == 1 + 2 * curve->field_bytes);
}

/* CKA_EC_POINT: the uncompressed point whatever form the key keeps it in,
 * or the Ed25519 key (PKCS#11 3.0 §2.3.3, §2.3.6), as a DER OCTET STRING. */
static CK_RV set_ec_point(attr_list *out, const mech_curve *curve, const curve_public *pub)
{
    if (is_uncompressed(pub, curve))
        return set_octet_string(out, CKA_EC_POINT, pub->bytes, pub->len);
    unsigned char point[MAX_EC_POINT_BYTES];
    size_t len = 0;
    CK_RV rv = CKR_HOST_MEMORY;
    const EC_GROUP *group = mech_curve_group(curve);
    EC_POINT *decoded = group ? EC_POINT_new(group) : NULL;
    if (!decoded)
        goto out;
    rv = CKR_FUNCTION_FAILED;
    if (!EC_POINT_oct2point(group, decoded, pub->bytes, pub->len, NULL))
        goto out;
    len = EC_POINT_point2oct(group, decoded, POINT_CONVERSION_UNCOMPRESSED, point, sizeof(point),
                             NULL);
    if (len != 0)
        rv = set_octet_string(out, CKA_EC_POINT, point, len);
out:
    if (rv == CKR_FUNCTION_FAILED)
        mech_openssl_error("EC point conversion", rv);
    EC_POINT_free(decoded);
    return rv;
}

/* CKA_PUBLIC_KEY_INFO from the constant prefix when the key has the form
 * the prefix is for, else from OpenSSL's encoder (same bytes, slower). */
static CK_RV set_ec_public_key_info(attr_list *out, EVP_PKEY *pkey, const mech_curve *curve,
                                    const curve_public *pub)
{
    const struct spki_prefix *prefix;
    if (pub->named && is_uncompressed(pub, curve) && spki_prefix_of(curve, pub->len, &prefix))
        return set_curve_public_key_info(out, prefix, pub->bytes);
    return set_public_key_info(out, pkey);
}

static CK_RV ec_private_value(EVP_PKEY *pkey, const mech_curve *curve, attr_list *out)
{
    if (curve->key_type == CKK_EC) {
        static const bn_part scalar = {CKA_VALUE, OSSL_PKEY_PARAM_PRIV_KEY};
        return set_key_bignum(out, pkey, &scalar, curve->field_bytes);
    }
    unsigned char raw[ED25519_KEY_BYTES];
    size_t len = sizeof(raw);
    CK_RV rv = CKR_KEY_TYPE_INCONSISTENT;
    if (EVP_PKEY_get_raw_private_key(pkey, raw, &len))
        rv = attr_list_set(out, CKA_VALUE, raw, (CK_ULONG)len);
    else
        mech_openssl_error("Ed25519 private key", rv);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rv;
}

static CK_RV ec_attrs(EVP_PKEY *pkey, bool private_key, attr_list *out)
{
    const mech_curve *curve = mech_curve_of_pkey(pkey);
    if (!curve)
        return CKR_CURVE_NOT_SUPPORTED;
    curve_public pub;
    CK_RV rv = attr_list_set_ulong(out, CKA_KEY_TYPE, curve->key_type);
    if (rv == CKR_OK)
        rv = mech_set_ec_params(out, curve);
    if (rv == CKR_OK && private_key)
        rv = ec_private_value(pkey, curve, out);
    if (rv == CKR_OK)
        rv = curve_public_of(pkey, curve, &pub);
    if (rv == CKR_OK && !private_key)
        rv = set_ec_point(out, curve, &pub);
    if (rv == CKR_OK)
        rv = set_ec_public_key_info(out, pkey, curve, &pub);
    return rv;
}

static CK_RV key_attrs(EVP_PKEY *pkey, bool private_key, attr_list *out)
{
    CK_RV rv;
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
        rv = rsa_attrs(pkey, private_key, out);
        if (rv == CKR_OK)
            rv = set_public_key_info(out, pkey);
        return rv;
    case EVP_PKEY_EC:
    case EVP_PKEY_ED25519:
        return ec_attrs(pkey, private_key, out);
    default:
        return CKR_KEY_TYPE_INCONSISTENT;
    }
}

CK_RV mech_public_attrs(EVP_PKEY *pkey, attr_list *out)
{
    return key_attrs(pkey, false, out);
}

CK_RV mech_private_attrs(EVP_PKEY *pkey, attr_list *out)
{
    return key_attrs(pkey, true, out);
}

/* ---- PKCS#8 --------------------------------------------------------------- */

/* *der is malloc'ed; the caller cleanses and frees it. */
CK_RV mech_key_to_pkcs8(const mech_key *key, unsigned char **der, size_t *der_len)
{
    if (key->cls != CKO_PRIVATE_KEY || !key->pkey)
        return CKR_KEY_NOT_WRAPPABLE;
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(key->pkey);
    if (!info)
        return mech_openssl_error("PKCS#8 encoding", CKR_KEY_NOT_WRAPPABLE);
    CK_RV rv = CKR_HOST_MEMORY;
    int len = i2d_PKCS8_PRIV_KEY_INFO(info, NULL);
    unsigned char *buffer = len > 0 ? malloc((size_t)len) : NULL;
    unsigned char *p = buffer;
    if (buffer && i2d_PKCS8_PRIV_KEY_INFO(info, &p) == len) {
        *der = buffer;
        *der_len = (size_t)len;
        rv = CKR_OK;
    } else if (buffer) {
        OPENSSL_cleanse(buffer, (size_t)len);
        free(buffer);
        rv = mech_openssl_error("PKCS#8 encoding", CKR_FUNCTION_FAILED);
    }
    PKCS8_PRIV_KEY_INFO_free(info); /* cleanses the private key octets */
    return rv;
}

CK_RV mech_attrs_from_pkcs8(const unsigned char *der, size_t der_len, attr_list *out)
{
    const unsigned char *p = der;
    EVP_PKEY *pkey = NULL;
    CK_RV rv = CKR_WRAPPED_KEY_INVALID;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
    if (!info || p != der + der_len)
        goto out;
    pkey = EVP_PKCS82PKEY(info);
    if (!pkey)
        goto out;
    switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_EC:
    case EVP_PKEY_ED25519:
        rv = mech_private_attrs(pkey, out);
        break;
    default:
        break; /* a key type softse does not hold */
    }
out:
    if (rv == CKR_WRAPPED_KEY_INVALID)
        mech_openssl_error("PKCS#8 decoding", rv);
    EVP_PKEY_free(pkey);
    PKCS8_PRIV_KEY_INFO_free(info);
    return rv;
}
