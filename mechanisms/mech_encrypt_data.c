/*
 * mech_encrypt_data.c — key diversification by encryption (C_DeriveKey):
 * CKM_DES3_ECB_ENCRYPT_DATA, CKM_DES3_CBC_ENCRYPT_DATA,
 * CKM_AES_ECB_ENCRYPT_DATA and CKM_AES_CBC_ENCRYPT_DATA (PKCS#11 3.0,
 * "Key derivation by data encryption").  The derived key's value is the
 * encryption of the caller's data under the base key, no padding: how
 * EMV card master keys come from an issuer master key ("Option A") and
 * GlobalPlatform card keys from a master key (docs/consumers.md).
 *
 * The derived key's length follows the template: a DES2/DES3 key type
 * fixes it (16/24 bytes, parity then set), an AES key needs CKA_VALUE_LEN
 * of 16, 24 or 32, a generic secret takes CKA_VALUE_LEN or the whole
 * output.  Output longer than the key keeps its first bytes; shorter is
 * CKR_DATA_LEN_RANGE.  Sensitivity follows the base key (module/
 * crypto_ops.c key_derive, docs/spec.md §7.2).
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#define AES_BLOCK 16
#define DES3_BYTES 24
#define DATA_MAX 1024 /* the largest secret key softse holds (SE_MAX_SECRET_LEN) */

/* What one mechanism takes: its base key type(s), block, parameter shape. */
typedef struct encrypt_data {
    bool des;   /* base CKK_DES2/CKK_DES3, else CKK_AES */
    bool cbc;   /* parameter with an IV, else CK_KEY_DERIVATION_STRING_DATA */
    size_t block;
} encrypt_data;

static CK_RV mechanism_shape(CK_MECHANISM_TYPE type, encrypt_data *shape)
{
    switch (type) {
    case CKM_DES3_ECB_ENCRYPT_DATA:
        *shape = (encrypt_data){true, false, MECH_DES_BLOCK};
        return CKR_OK;
    case CKM_DES3_CBC_ENCRYPT_DATA:
        *shape = (encrypt_data){true, true, MECH_DES_BLOCK};
        return CKR_OK;
    case CKM_AES_ECB_ENCRYPT_DATA:
        *shape = (encrypt_data){false, false, AES_BLOCK};
        return CKR_OK;
    case CKM_AES_CBC_ENCRYPT_DATA:
        *shape = (encrypt_data){false, true, AES_BLOCK};
        return CKR_OK;
    default:
        return CKR_MECHANISM_INVALID;
    }
}

/* The data and IV of the parameter.  A missing or misshapen parameter is
 * CKR_MECHANISM_PARAM_INVALID; data that is empty or not whole blocks is
 * CKR_DATA_LEN_RANGE (the mechanisms do not pad). */
static CK_RV read_param(const CK_MECHANISM *mech, const encrypt_data *shape,
                        const unsigned char **data, size_t *len, const unsigned char **iv)
{
    *iv = NULL;
    if (!mech->pParameter)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!shape->cbc) {
        const CK_KEY_DERIVATION_STRING_DATA *p = mech->pParameter;
        if (mech->ulParameterLen != sizeof(*p))
            return CKR_MECHANISM_PARAM_INVALID;
        *data = p->pData;
        *len = p->ulLen;
    } else if (shape->des) {
        const CK_DES_CBC_ENCRYPT_DATA_PARAMS *p = mech->pParameter;
        if (mech->ulParameterLen != sizeof(*p))
            return CKR_MECHANISM_PARAM_INVALID;
        *data = p->pData;
        *len = p->length;
        *iv = p->iv;
    } else {
        const CK_AES_CBC_ENCRYPT_DATA_PARAMS *p = mech->pParameter;
        if (mech->ulParameterLen != sizeof(*p))
            return CKR_MECHANISM_PARAM_INVALID;
        *data = p->pData;
        *len = p->length;
        *iv = p->iv;
    }
    if (!*data && *len > 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (*len == 0 || *len % shape->block != 0 || *len > DATA_MAX)
        return CKR_DATA_LEN_RANGE;
    return CKR_OK;
}

static CK_RV check_base(const encrypt_data *shape, const mech_key *base)
{
    if (!base || base->cls != CKO_SECRET_KEY || !base->secret)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (shape->des) {
        if (!mech_des_key_len(base->type))
            return CKR_KEY_TYPE_INCONSISTENT;
        return base->secret_len == mech_des_key_len(base->type) ? CKR_OK : CKR_KEY_SIZE_RANGE;
    }
    if (base->type != CKK_AES)
        return CKR_KEY_TYPE_INCONSISTENT;
    size_t n = base->secret_len;
    return n == 16 || n == 24 || n == 32 ? CKR_OK : CKR_KEY_SIZE_RANGE;
}

static const char *cipher_name(const encrypt_data *shape, size_t key_len)
{
    if (shape->des)
        return shape->cbc ? "DES-EDE3-CBC" : "DES-EDE3-ECB";
    static const char *const aes[2][3] = {{"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"},
                                          {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"}};
    return aes[shape->cbc][(key_len - 16) / 8];
}

/* out (len bytes) = the encryption of data under base, no padding. */
static CK_RV encrypt(const encrypt_data *shape, const mech_key *base, const unsigned char *iv,
                     const unsigned char *data, size_t len, unsigned char *out)
{
    unsigned char key24[DES3_BYTES];
    const unsigned char *key = base->secret;
    if (shape->des) {
        mech_des3_key24(base->secret, base->secret_len, key24);
        key = key24;
    }
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, cipher_name(shape, base->secret_len), NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    CK_RV rv = CKR_OK;
    if (!cipher || !ctx || !EVP_EncryptInit_ex2(ctx, cipher, key, iv, NULL) ||
        !EVP_CIPHER_CTX_set_padding(ctx, 0) || !EVP_EncryptUpdate(ctx, out, &n, data, (int)len) ||
        (size_t)n != len)
        rv = mech_openssl_error("encrypt-data derivation", CKR_FUNCTION_FAILED);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    EVP_CIPHER_free(cipher);
    OPENSSL_cleanse(key24, sizeof(key24));
    return rv;
}

/* The derived key's type and length from the template (see the head). */
static CK_RV derived_size(const attr_list *tmpl, size_t output_len, CK_KEY_TYPE *type,
                          size_t *len)
{
    CK_ULONG value_len = 0;
    *type = CKK_GENERIC_SECRET;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, type);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &value_len);
    bool given = rv == CKR_OK;
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (mech_des_key_len(*type)) {
        *len = mech_des_key_len(*type);
        if (given && value_len != *len)
            return CKR_TEMPLATE_INCONSISTENT;
    } else if (*type == CKK_AES) {
        if (!given)
            return CKR_TEMPLATE_INCOMPLETE;
        if (value_len != 16 && value_len != 24 && value_len != 32)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        *len = value_len;
    } else if (*type == CKK_GENERIC_SECRET) {
        *len = given ? value_len : output_len;
    } else {
        return CKR_TEMPLATE_INCONSISTENT; /* a key type that is not a plain secret */
    }
    return *len > output_len ? CKR_DATA_LEN_RANGE : CKR_OK;
}

static CK_RV encrypt_data_derive(const CK_MECHANISM *mech, const mech_key *base,
                                 const attr_list *tmpl, const mech_env *env, attr_list *out)
{
    (void)env;
    encrypt_data shape;
    const unsigned char *data, *iv;
    size_t data_len, key_len;
    CK_KEY_TYPE type;
    CK_RV rv = mechanism_shape(mech->mechanism, &shape);
    if (rv == CKR_OK)
        rv = read_param(mech, &shape, &data, &data_len, &iv);
    if (rv == CKR_OK)
        rv = check_base(&shape, base);
    if (rv == CKR_OK)
        rv = derived_size(tmpl, data_len, &type, &key_len);
    if (rv != CKR_OK)
        return rv;
    unsigned char *value = malloc(data_len);
    if (!value)
        return CKR_HOST_MEMORY;
    rv = encrypt(&shape, base, iv, data, data_len, value);
    if (rv == CKR_OK && mech_des_key_len(type)) {
        mech_des_set_parity(value, key_len);
        /* data that derives a key collapsing to single DES is refused */
        if (mech_des_key_check(type, value, key_len) != CKR_OK)
            rv = CKR_MECHANISM_PARAM_INVALID;
    }
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, value, (CK_ULONG)key_len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, (CK_ULONG)key_len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, type);
    OPENSSL_cleanse(value, data_len);
    free(value);
    return rv;
}

#define ROW(mech, min, max)                                                                        \
    {                                                                                              \
        .type = mech, .name = #mech, .info = {min, max, CKF_DERIVE}, .derive = encrypt_data_derive \
    }

static const mech_row rows[] = {
    ROW(CKM_DES3_ECB_ENCRYPT_DATA, 16, 24),
    ROW(CKM_DES3_CBC_ENCRYPT_DATA, 16, 24),
    ROW(CKM_AES_ECB_ENCRYPT_DATA, 16, 32),
    ROW(CKM_AES_CBC_ENCRYPT_DATA, 16, 32),
};

const mech_table mech_table_encrypt_data = {rows, ARRAY_SIZE(rows)};
