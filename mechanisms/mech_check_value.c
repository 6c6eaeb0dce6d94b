/*
 * mech_check_value.c — CKA_CHECK_VALUE of secret keys (PKCS#11 3.0,
 * "Secret key objects" and the key types' sections): the first three
 * bytes of the ECB encryption of one zero block for AES, DES2 and DES3
 * keys, of the SHA-1 hash of CKA_VALUE for generic secrets.  The core
 * asks for it whenever a secret key is made (module/object.c for
 * C_CreateObject, module/crypto_ops.c for generated, derived and
 * unwrapped keys); docs/spec.md §10 has the rules.
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#define ZERO_BLOCK_MAX 16

/* The ECB encryption of a zero block under name's cipher. */
static CK_RV zero_block(const char *name, const unsigned char *key, size_t block,
                        unsigned char *out)
{
    static const unsigned char zeros[ZERO_BLOCK_MAX];
    EVP_CIPHER *cipher = EVP_CIPHER_fetch(NULL, name, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    CK_RV rv = CKR_OK;
    if (!cipher || !ctx || !EVP_EncryptInit_ex2(ctx, cipher, key, NULL, NULL) ||
        !EVP_CIPHER_CTX_set_padding(ctx, 0) || !EVP_EncryptUpdate(ctx, out, &n, zeros, (int)block) ||
        (size_t)n != block)
        rv = mech_openssl_error("check value", CKR_FUNCTION_FAILED);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    EVP_CIPHER_free(cipher);
    return rv;
}

/* *defined false: PKCS#11 gives the key type no check value. */
static CK_RV compute(CK_KEY_TYPE type, const unsigned char *value, size_t len,
                     unsigned char out[MECH_CHECK_VALUE_LEN], bool *defined)
{
    unsigned char block[EVP_MAX_MD_SIZE];
    unsigned char key24[24];
    size_t md_len = 0;
    CK_RV rv = CKR_OK;
    *defined = true;
    if (type == CKK_AES && (len == 16 || len == 24 || len == 32)) {
        const char *name = len == 16 ? "AES-128-ECB" : len == 24 ? "AES-192-ECB" : "AES-256-ECB";
        rv = zero_block(name, value, 16, block);
    } else if (mech_des_key_len(type) != 0 && len == mech_des_key_len(type)) {
        mech_des3_key24(value, len, key24);
        rv = zero_block("DES-EDE3-ECB", key24, MECH_DES_BLOCK, block);
        OPENSSL_cleanse(key24, sizeof(key24));
    } else if (type == CKK_GENERIC_SECRET) {
        if (!EVP_Q_digest(NULL, "SHA1", NULL, value, len, block, &md_len))
            rv = mech_openssl_error("check value", CKR_FUNCTION_FAILED);
    } else {
        *defined = false;
    }
    if (rv == CKR_OK && *defined)
        memcpy(out, block, MECH_CHECK_VALUE_LEN);
    OPENSSL_cleanse(block, sizeof(block));
    return rv;
}

CK_RV mech_set_check_value(attr_list *attrs)
{
    CK_KEY_TYPE type;
    const CK_ATTRIBUTE *value = attr_list_find(attrs, CKA_VALUE);
    if (attr_list_ulong(attrs, CKA_KEY_TYPE, &type) != CKR_OK || !value) {
        /* no key bytes here (an in-card secret): nothing to compute or check */
        attr_list_remove(attrs, CKA_CHECK_VALUE);
        return CKR_OK;
    }
    unsigned char computed[MECH_CHECK_VALUE_LEN];
    bool defined;
    CK_RV rv = compute(type, value->pValue, value->ulValueLen, computed, &defined);
    if (rv != CKR_OK)
        return rv;
    const CK_ATTRIBUTE *given = attr_list_find(attrs, CKA_CHECK_VALUE);
    if (!defined) {
        /* A value softse cannot check is not kept (PKCS#11 3.0: a library
         * that does not support the attribute ignores it). */
        attr_list_remove(attrs, CKA_CHECK_VALUE);
        return CKR_OK;
    }
    if (given && given->ulValueLen == 0)
        return CKR_OK; /* the caller asked for no check value: it stays empty */
    if (given && (given->ulValueLen != MECH_CHECK_VALUE_LEN ||
                  CRYPTO_memcmp(given->pValue, computed, MECH_CHECK_VALUE_LEN) != 0))
        return CKR_ATTRIBUTE_VALUE_INVALID; /* PKCS#11 3.0: it must match */
    return attr_list_set(attrs, CKA_CHECK_VALUE, computed, MECH_CHECK_VALUE_LEN);
}
