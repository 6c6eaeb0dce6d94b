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
#include "mech_block.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>

#define ZERO_BLOCK_MAX 16

/* The ECB encryption of one zero block under a block cipher family's ECB
 * cipher (fetched once, mech_block.h): fetching per key was a third of a
 * derived key's cost (issue 18). */
static CK_RV zero_block(const mech_block_cipher *family, const unsigned char *key, size_t len,
                        unsigned char *out)
{
    static const unsigned char zeros[ZERO_BLOCK_MAX];
    mech_key k = {.cls = CKO_SECRET_KEY, .secret = (unsigned char *)key, .secret_len = len};
    unsigned char evp_key[MECH_BLOCK_KEY_MAX];
    const unsigned char *use = key;
    if (family->evp_key) {
        family->evp_key(&k, evp_key);
        use = evp_key;
    }
    const EVP_CIPHER *cipher = family->evp(false, &k);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0;
    CK_RV rv = CKR_OK;
    if (!cipher || !ctx || !EVP_EncryptInit_ex2(ctx, cipher, use, NULL, NULL) ||
        !EVP_CIPHER_CTX_set_padding(ctx, 0) ||
        !EVP_EncryptUpdate(ctx, out, &n, zeros, (int)family->block) || (size_t)n != family->block)
        rv = mech_openssl_error("check value", CKR_FUNCTION_FAILED);
    EVP_CIPHER_CTX_free(ctx); /* cleanses the key schedule */
    OPENSSL_cleanse(evp_key, sizeof(evp_key));
    return rv;
}

/* *defined false: PKCS#11 gives the key type no check value. */
static CK_RV compute(CK_KEY_TYPE type, const unsigned char *value, size_t len,
                     unsigned char out[MECH_CHECK_VALUE_LEN], bool *defined)
{
    unsigned char block[EVP_MAX_MD_SIZE];
    const EVP_MD *sha1;
    CK_RV rv = CKR_OK;
    *defined = true;
    if (type == CKK_AES && (len == 16 || len == 24 || len == 32)) {
        rv = zero_block(&mech_block_aes, value, len, block);
    } else if (mech_des_key_len(type) != 0 && len == mech_des_key_len(type)) {
        rv = zero_block(&mech_block_des3, value, len, block);
    } else if (type == CKK_GENERIC_SECRET) {
        if (!(sha1 = mech_hash_md(CKM_SHA_1)) || !EVP_Digest(value, len, block, NULL, sha1, NULL))
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
