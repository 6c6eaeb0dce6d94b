/*
 * mech_derive.c — C_DeriveKey: CKM_ECDH1_DERIVE (with the ANSI X9.63
 * KDFs), CKM_HKDF_DERIVE and CKM_HKDF_DATA (RFC 5869), and
 * CKM_SP800_108_COUNTER_KDF with an HMAC PRF.  The KDFs are OpenSSL's
 * EVP_KDFs "X963KDF", "HKDF" and "KBKDF".
 */
#include "mech.h"
#include "mech_util.h"
#include "param.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>

#define EC_MIN_BITS 256
#define EC_MAX_BITS 521
#define SECRET_MIN_LEN 1
#define SECRET_MAX_LEN 1024

/* The hashes the KDFs take: those of the hash table offered for KDFs
 * (mech_hash.h), each mechanism naming them by its own column. */
static const mech_hash *kdf_hash(mech_hash_by by, CK_ULONG value)
{
    return mech_hash_find(by, value, MECH_HASH_KDF);
}

/* The derived value's length: the template's CKA_VALUE_LEN, else
 * natural_len (0: the mechanism has none).  An AES key always needs
 * CKA_VALUE_LEN, and one of 16, 24 or 32. */
static CK_RV derived_length(const attr_list *tmpl, size_t natural_len, size_t *len)
{
    CK_ULONG key_type = CKK_GENERIC_SECRET, value_len = 0;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, &key_type);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &value_len);
    if (rv == CKR_TEMPLATE_INCOMPLETE) {
        if (key_type == CKK_AES || natural_len == 0)
            return CKR_TEMPLATE_INCOMPLETE;
        *len = natural_len;
        return CKR_OK;
    }
    if (rv != CKR_OK)
        return rv;
    if (value_len == 0 ||
        (key_type == CKK_AES && value_len != 16 && value_len != 24 && value_len != 32))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    *len = value_len;
    return CKR_OK;
}

/* A key: CKA_VALUE, CKA_VALUE_LEN and, unless the template names one,
 * CKA_KEY_TYPE = CKK_GENERIC_SECRET.  CKM_HKDF_DATA: a CKO_DATA object's
 * CKA_CLASS and CKA_VALUE. */
static CK_RV set_derived(attr_list *out, const attr_list *tmpl, const unsigned char *value,
                         size_t len, bool data_object)
{
    CK_RV rv = attr_list_set(out, CKA_VALUE, value, (CK_ULONG)len);
    if (rv != CKR_OK)
        return rv;
    if (data_object)
        return attr_list_set_ulong(out, CKA_CLASS, CKO_DATA);
    rv = attr_list_set_ulong(out, CKA_VALUE_LEN, (CK_ULONG)len);
    if (rv == CKR_OK && !attr_list_has(tmpl, CKA_KEY_TYPE))
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    return rv;
}

static CK_RV run_kdf(const char *name, const OSSL_PARAM *params, unsigned char *out, size_t len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, name, NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    CK_RV rv = CKR_OK;
    if (!ctx || EVP_KDF_derive(ctx, out, len, params) <= 0)
        rv = mech_openssl_error(name, CKR_FUNCTION_FAILED);
    EVP_KDF_CTX_free(ctx); /* cleanses the key it copied */
    EVP_KDF_free(kdf);
    return rv;
}

/* Secret base keys of HKDF and SP 800-108. */
static CK_RV check_secret_base(const mech_key *base)
{
    if (!base || !base->secret)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (base->type != CKK_GENERIC_SECRET && base->type != CKK_AES && base->type != CKK_HKDF &&
        !mech_hash_find(MECH_HASH_BY_HMAC_KEY, base->type, MECH_HASH_HMAC))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (base->secret_len < SECRET_MIN_LEN || base->secret_len > SECRET_MAX_LEN)
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}

/* ---- CKM_ECDH1_DERIVE ------------------------------------------------------ */

/* The peer's SEC1 point: raw (04‖X‖Y, or compressed), or that wrapped in
 * a DER OCTET STRING.  A raw point's length is fixed by the curve and
 * always shorter than its DER form, so the two never mix up. */
static bool peer_point(const unsigned char *data, size_t len, size_t field_len,
                       const unsigned char **point, size_t *point_len)
{
    if ((len == 1 + 2 * field_len && data[0] == 0x04) ||
        (len == 1 + field_len && (data[0] == 0x02 || data[0] == 0x03))) {
        *point = data;
        *point_len = len;
        return true;
    }
    const unsigned char *p = data;
    long content_len = 0;
    int tag = 0, cls = 0;
    int flags = ASN1_get_object(&p, &content_len, &tag, &cls, (long)len);
    if ((flags & 0x80) || (flags & V_ASN1_CONSTRUCTED) || tag != V_ASN1_OCTET_STRING ||
        cls != V_ASN1_UNIVERSAL || p + content_len != data + len) {
        mech_openssl_error("ECDH public value DER", CKR_OK);
        return false;
    }
    *point = p;
    *point_len = (size_t)content_len;
    return true;
}

/* The peer's public key on the base key's curve; OpenSSL refuses a point
 * that is not on it. */
static CK_RV peer_key(EVP_PKEY *base, const unsigned char *data, size_t len, EVP_PKEY **peer)
{
    char group[80];
    const unsigned char *point;
    size_t point_len;
    size_t field_len = ((size_t)EVP_PKEY_get_bits(base) + 7) / 8;
    if (!EVP_PKEY_get_utf8_string_param(base, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        NULL)) /* explicit curve parameters */
        return mech_openssl_error("ECDH base key group", CKR_KEY_TYPE_INCONSISTENT);
    if (!peer_point(data, len, field_len, &point, &point_len))
        return CKR_MECHANISM_PARAM_INVALID;
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, (void *)point, point_len),
        OSSL_PARAM_END,
    };
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, mech_keytype("EC"), NULL);
    CK_RV rv = CKR_OK;
    if (!ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, peer, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        rv = mech_openssl_error("ECDH peer point", CKR_MECHANISM_PARAM_INVALID);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

/* Z, the x-coordinate of the shared point (SEC 1 §3.3.1). */
static CK_RV ecdh_secret(EVP_PKEY *base, EVP_PKEY *peer, unsigned char **z, size_t *z_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, base, NULL);
    CK_RV rv = CKR_OK;
    *z = NULL;
    if (!ctx || EVP_PKEY_derive_init(ctx) <= 0) {
        rv = CKR_KEY_TYPE_INCONSISTENT;
    } else if (EVP_PKEY_derive_set_peer(ctx, peer) <= 0) {
        rv = CKR_MECHANISM_PARAM_INVALID;
    } else if (EVP_PKEY_derive(ctx, NULL, z_len) <= 0 || !(*z = malloc(*z_len))) {
        rv = CKR_HOST_MEMORY;
    } else if (EVP_PKEY_derive(ctx, *z, z_len) <= 0) {
        rv = CKR_FUNCTION_FAILED;
    }
    if (rv != CKR_OK) {
        mech_openssl_error("ECDH derive", rv);
        if (*z)
            OPENSSL_cleanse(*z, *z_len);
        free(*z);
        *z = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static CK_RV ecdh_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                         const mech_env *env, attr_list *out)
{
    (void)env;
    const CK_ECDH1_DERIVE_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p || !p->pPublicData || p->ulPublicDataLen == 0 ||
        (p->ulSharedDataLen > 0 && !p->pSharedData))
        return CKR_MECHANISM_PARAM_INVALID;
    const mech_hash *hash = NULL;
    if (p->kdf == CKD_NULL ? p->ulSharedDataLen != 0
                           : !(hash = kdf_hash(MECH_HASH_BY_X963, p->kdf)))
        return CKR_MECHANISM_PARAM_INVALID;
    if (!base || base->type != CKK_EC || !base->pkey || !EVP_PKEY_is_a(base->pkey, "EC"))
        return CKR_KEY_TYPE_INCONSISTENT;
    int bits = EVP_PKEY_get_bits(base->pkey);
    if (bits < EC_MIN_BITS || bits > EC_MAX_BITS)
        return CKR_KEY_SIZE_RANGE;

    EVP_PKEY *peer = NULL;
    unsigned char *z = NULL, *value = NULL;
    size_t z_len = 0, len = 0;
    CK_RV rv = peer_key(base->pkey, p->pPublicData, p->ulPublicDataLen, &peer);
    if (rv == CKR_OK)
        rv = ecdh_secret(base->pkey, peer, &z, &z_len);
    if (rv == CKR_OK)
        rv = derived_length(tmpl, hash ? 0 : z_len, &len);
    if (rv != CKR_OK)
        goto out;
    if (!hash) {
        /* CKD_NULL: Z itself; a shorter key keeps Z's low-order bytes, as
         * NSS and SoftHSMv2 do. */
        rv = len <= z_len ? set_derived(out, tmpl, z + z_len - len, len, false)
                          : CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (!(value = malloc(len))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)hash->md_name, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, z, z_len),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, p->pSharedData, p->ulSharedDataLen),
        OSSL_PARAM_END,
    };
    if (p->ulSharedDataLen == 0)
        params[2] = (OSSL_PARAM)OSSL_PARAM_END;
    rv = run_kdf(OSSL_KDF_NAME_X963KDF, params, value, len);
    if (rv == CKR_OK)
        rv = set_derived(out, tmpl, value, len, false);
out:
    if (z)
        OPENSSL_cleanse(z, z_len);
    if (value)
        OPENSSL_cleanse(value, len);
    free(z);
    free(value);
    EVP_PKEY_free(peer);
    return rv;
}

/* ---- CKM_HKDF_DERIVE, CKM_HKDF_DATA ---------------------------------------- */

static CK_RV hkdf_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                         const mech_env *env, attr_list *out)
{
    (void)env;
    const CK_HKDF_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p || (!p->bExtract && !p->bExpand) || (p->ulInfoLen > 0 && !p->pInfo))
        return CKR_MECHANISM_PARAM_INVALID;
    const mech_hash *hash = kdf_hash(MECH_HASH_BY_MECH, p->prfHashMechanism);
    if (!hash)
        return CKR_MECHANISM_PARAM_INVALID;
    if (p->bExtract) {
        switch (p->ulSaltType) {
        case CKF_HKDF_SALT_NULL: /* RFC 5869 §2.2: HashLen zeros */
            break;
        case CKF_HKDF_SALT_DATA:
            if (!p->pSalt || p->ulSaltLen == 0)
                return CKR_MECHANISM_PARAM_INVALID;
            break;
        case CKF_HKDF_SALT_KEY:
            /* Never seen here: the core resolves hSaltKey and passes the
             * key's value as CKF_HKDF_SALT_DATA (crypto_ops.c). */
        default:
            return CKR_MECHANISM_PARAM_INVALID;
        }
    }
    CK_RV rv = check_secret_base(base);
    if (rv != CKR_OK)
        return rv;

    /* Extract alone gives the PRK, HashLen bytes; expand gives up to
     * 255 × HashLen (RFC 5869 §2.3). */
    size_t len = 0;
    rv = derived_length(tmpl, p->bExpand ? 0 : hash->len, &len);
    if (rv != CKR_OK)
        return rv;
    if (p->bExpand ? len > 255 * hash->len : len != hash->len)
        return CKR_ATTRIBUTE_VALUE_INVALID;

    int mode = !p->bExpand    ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
               : !p->bExtract ? EVP_KDF_HKDF_MODE_EXPAND_ONLY
                              : EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
    OSSL_PARAM params[6], *param = params;
    *param++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    *param++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)hash->md_name, 0);
    *param++ =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, base->secret, base->secret_len);
    if (p->bExtract && p->ulSaltType == CKF_HKDF_SALT_DATA)
        *param++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, p->pSalt, p->ulSaltLen);
    if (p->bExpand && p->ulInfoLen > 0)
        *param++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, p->pInfo, p->ulInfoLen);
    *param = OSSL_PARAM_construct_end();

    unsigned char *value = malloc(len);
    if (!value)
        return CKR_HOST_MEMORY;
    rv = run_kdf(OSSL_KDF_NAME_HKDF, params, value, len);
    if (rv == CKR_OK)
        rv = set_derived(out, tmpl, value, len, mech->mechanism == CKM_HKDF_DATA);
    OPENSSL_cleanse(value, len);
    free(value);
    return rv;
}

/* ---- CKM_SP800_108_COUNTER_KDF -------------------------------------------- */

/* The PRF input OpenSSL's KBKDF computes in counter mode is
 *     [i]_32 ‖ label ‖ [0x00] ‖ context ‖ [L]_32     (big-endian)
 * so the layouts taken are exactly:
 *     ITERATION_VARIABLE (counter, 32-bit big-endian)
 *     BYTE_ARRAY × 0..n  (concatenated; label, 0x00 and context are just bytes)
 *     DKM_LENGTH × 0..1  (last; 32-bit big-endian, SUM_OF_KEYS or SUM_OF_SEGMENTS)
 * Every other order, width or endianness is CKR_MECHANISM_PARAM_INVALID. */
typedef struct kbkdf_layout {
    unsigned char *fixed; /* the byte arrays, concatenated */
    size_t fixed_len;
    bool has_dkm;
    bool dkm_segments; /* L counts whole PRF outputs */
} kbkdf_layout;

static bool kbkdf_counter_ok(const CK_PRF_DATA_PARAM *param)
{
    const CK_SP800_108_COUNTER_FORMAT *f = param->pValue;
    return param->type == CK_SP800_108_ITERATION_VARIABLE && f && param->ulValueLen == sizeof(*f) &&
           !f->bLittleEndian && f->ulWidthInBits == 32;
}

static bool kbkdf_dkm_ok(const CK_PRF_DATA_PARAM *param)
{
    const CK_SP800_108_DKM_LENGTH_FORMAT *f = param->pValue;
    return f && param->ulValueLen == sizeof(*f) && !f->bLittleEndian && f->ulWidthInBits == 32 &&
           (f->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS ||
            f->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS);
}

static CK_RV kbkdf_parse(const CK_SP800_108_KDF_PARAMS *p, kbkdf_layout *layout)
{
    const CK_PRF_DATA_PARAM *params = p->pDataParams;
    size_t count = p->ulNumberOfDataParams, i = 1;
    memset(layout, 0, sizeof(*layout));
    if (!params || count == 0 || !kbkdf_counter_ok(&params[0]))
        return CKR_MECHANISM_PARAM_INVALID;
    size_t total = 0;
    for (; i < count && params[i].type == CK_SP800_108_BYTE_ARRAY; i++) {
        if ((params[i].ulValueLen > 0 && !params[i].pValue) ||
            params[i].ulValueLen > SIZE_MAX - total)
            return CKR_MECHANISM_PARAM_INVALID;
        total += params[i].ulValueLen;
    }
    size_t arrays_end = i;
    if (i < count && params[i].type == CK_SP800_108_DKM_LENGTH) {
        if (!kbkdf_dkm_ok(&params[i]))
            return CKR_MECHANISM_PARAM_INVALID;
        const CK_SP800_108_DKM_LENGTH_FORMAT *f = params[i].pValue;
        layout->has_dkm = true;
        layout->dkm_segments = f->dkmLengthMethod == CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS;
        i++;
    }
    if (i != count)
        return CKR_MECHANISM_PARAM_INVALID;
    if (total > 0 && !(layout->fixed = malloc(total)))
        return CKR_HOST_MEMORY;
    for (size_t j = 1; j < arrays_end; j++) {
        if (params[j].ulValueLen > 0)
            memcpy(layout->fixed + layout->fixed_len, params[j].pValue, params[j].ulValueLen);
        layout->fixed_len += params[j].ulValueLen;
    }
    return CKR_OK;
}

static CK_RV kbkdf_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                          const mech_env *env, attr_list *out)
{
    (void)env;
    const CK_SP800_108_KDF_PARAMS *p = se_param_struct(mech, sizeof(*p));
    const mech_hash *hash = p ? kdf_hash(MECH_HASH_BY_HMAC, p->prfType) : NULL;
    if (!hash || p->ulAdditionalDerivedKeys != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    kbkdf_layout layout;
    CK_RV rv = kbkdf_parse(p, &layout);
    if (rv != CKR_OK)
        return rv;
    unsigned char *value = NULL;
    size_t len = 0, prf_len = 0;
    if ((rv = check_secret_base(base)) != CKR_OK || (rv = derived_length(tmpl, 0, &len)) != CKR_OK)
        goto out;
    /* L = SUM_OF_SEGMENTS counts whole PRF outputs: derive those, keep len. */
    prf_len = layout.dkm_segments ? (len + hash->len - 1) / hash->len * hash->len : len;
    if (prf_len < len || prf_len > UINT32_MAX / 8) { /* L is 32 bits, in bits */
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    if (!(value = malloc(prf_len))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    int use_l = layout.has_dkm, use_separator = 0;
    OSSL_PARAM params[8], *param = params;
    *param++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, "COUNTER", 0);
    *param++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, "HMAC", 0);
    *param++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)hash->md_name, 0);
    *param++ =
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, base->secret, base->secret_len);
    if (layout.fixed_len > 0)
        *param++ =
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, layout.fixed, layout.fixed_len);
    *param++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_L, &use_l);
    *param++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_KBKDF_USE_SEPARATOR, &use_separator);
    *param = OSSL_PARAM_construct_end();
    rv = run_kdf(OSSL_KDF_NAME_KBKDF, params, value, prf_len);
    if (rv == CKR_OK)
        rv = set_derived(out, tmpl, value, len, false);
out:
    if (value)
        OPENSSL_cleanse(value, prf_len);
    free(value);
    free(layout.fixed); /* public data */
    return rv;
}

/* ---- rows ----------------------------------------------------------------- */

static const mech_row rows[] = {
    {.type = CKM_ECDH1_DERIVE,
     .name = "ECDH1-DERIVE",
     .info = {EC_MIN_BITS, EC_MAX_BITS,
              CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS | CKF_EC_COMPRESS},
     .derive = ecdh_derive},
    {.type = CKM_HKDF_DERIVE,
     .name = "HKDF-DERIVE",
     .info = {SECRET_MIN_LEN, SECRET_MAX_LEN, CKF_DERIVE},
     .derive = hkdf_derive},
    {.type = CKM_HKDF_DATA,
     .name = "HKDF-DATA",
     .info = {SECRET_MIN_LEN, SECRET_MAX_LEN, CKF_DERIVE},
     .derive = hkdf_derive},
    {.type = CKM_SP800_108_COUNTER_KDF,
     .name = "SP800-108-COUNTER-KDF",
     .info = {SECRET_MIN_LEN, SECRET_MAX_LEN, CKF_DERIVE},
     .derive = kbkdf_derive},
};

const mech_table mech_table_derive = {rows, ARRAY_SIZE(rows)};
