/*
 * seal.c — the crypto of the store, all through OpenSSL EVP: random
 * bytes, PBKDF2 and HKDF, AES-256-GCM sealing of attribute values and
 * master key wraps, and the keyed lookup hash (docs/spec.md §7).
 */
#include "tok_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

static CK_RV crypto_failed(const char *what)
{
    se_log(SE_LOG_ERROR, "token store: %s failed in OpenSSL", what);
    return CKR_FUNCTION_FAILED;
}

CK_RV tok_random(void *buf, size_t len)
{
    if (len > INT_MAX || RAND_bytes(buf, (int)len) != 1)
        return crypto_failed("drawing random bytes");
    return CKR_OK;
}

CK_RV tok_pbkdf2(const CK_UTF8CHAR *pin, CK_ULONG pin_len, const unsigned char *salt,
                 unsigned long iterations, unsigned char kek[32])
{
    if ((pin == NULL && pin_len > 0) || pin_len > INT_MAX || iterations == 0 ||
        iterations > INT_MAX)
        return CKR_ARGUMENTS_BAD;
    const char *pass = pin_len ? (const char *)pin : "";
    if (PKCS5_PBKDF2_HMAC(pass, (int)pin_len, salt, TOK_SALT_LEN, (int)iterations, EVP_sha256(), 32,
                          kek) != 1)
        return crypto_failed("PBKDF2");
    return CKR_OK;
}

CK_RV tok_hkdf(const unsigned char *ikm, size_t ikm_len, const void *salt, size_t salt_len,
               const char *info, unsigned char *out, size_t out_len)
{
    CK_RV rv = CKR_OK;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx == NULL) {
        rv = crypto_failed("HKDF setup");
        goto out;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, strlen(info)),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
        rv = crypto_failed("HKDF");
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rv;
}

CK_RV tok_gcm_seal(tok *t, const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                   const unsigned char *in, size_t in_len, unsigned char *out)
{
    CK_RV rv;
    int len = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    if (in_len > INT_MAX - TOK_SEAL_OVERHEAD || aad_len > INT_MAX) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    rv = tok_random(out, TOK_NONCE_LEN);
    if (rv != CKR_OK)
        goto out;
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    unsigned char *ciphertext = out + TOK_NONCE_LEN;
    if (EVP_EncryptInit_ex2(ctx, t->gcm, key, out, NULL) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1 ||
        (in_len > 0 && EVP_EncryptUpdate(ctx, ciphertext, &len, in, (int)in_len) != 1) ||
        EVP_EncryptFinal_ex(ctx, ciphertext + in_len, &len) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, TOK_TAG_LEN, ciphertext + in_len) != 1) {
        rv = crypto_failed("AES-256-GCM encryption");
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

CK_RV tok_gcm_open(tok *t, const unsigned char key[32], const unsigned char *aad, size_t aad_len,
                   const unsigned char *blob, size_t blob_len, unsigned char *out)
{
    CK_RV rv;
    int len = 0;
    EVP_CIPHER_CTX *ctx = NULL;
    if (blob_len < TOK_SEAL_OVERHEAD || blob_len > INT_MAX || aad_len > INT_MAX) {
        rv = CKR_ENCRYPTED_DATA_INVALID;
        goto out;
    }
    size_t ct_len = blob_len - TOK_SEAL_OVERHEAD;
    const unsigned char *ciphertext = blob + TOK_NONCE_LEN;
    unsigned char tag[TOK_TAG_LEN];
    memcpy(tag, ciphertext + ct_len, TOK_TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    if (EVP_DecryptInit_ex2(ctx, t->gcm, key, blob, NULL) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aad_len) != 1 ||
        (ct_len > 0 && EVP_DecryptUpdate(ctx, out, &len, ciphertext, (int)ct_len) != 1) ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, TOK_TAG_LEN, tag) != 1) {
        rv = crypto_failed("AES-256-GCM decryption");
        goto out;
    }
    if (EVP_DecryptFinal_ex(ctx, out + ct_len, &len) != 1) {
        OPENSSL_cleanse(out, ct_len);
        rv = CKR_ENCRYPTED_DATA_INVALID;
        goto out;
    }
    rv = CKR_OK;
out:
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

#define ATTR_AAD_LABEL "softse-attr-v1"
#define ATTR_AAD_LEN (sizeof(ATTR_AAD_LABEL) - 1 + TOK_SERIAL_LEN + 8 + 8 + 1)

static void attr_aad(const tok *t, tok_id id, bool is_private, CK_ATTRIBUTE_TYPE type,
                     unsigned char aad[ATTR_AAD_LEN])
{
    size_t n = sizeof(ATTR_AAD_LABEL) - 1;
    memcpy(aad, ATTR_AAD_LABEL, n);
    memcpy(aad + n, t->serial, TOK_SERIAL_LEN);
    n += TOK_SERIAL_LEN;
    tok_put_u64(aad + n, id);
    tok_put_u64(aad + n + 8, type);
    aad[n + 16] = is_private ? 1 : 0;
}

CK_RV tok_seal_attr(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                    CK_ATTRIBUTE_TYPE type, const unsigned char *value, size_t len,
                    unsigned char **blob, size_t *blob_len)
{
    CK_RV rv;
    unsigned char aad[ATTR_AAD_LEN];
    unsigned char *sealed = NULL;
    if (len > SIZE_MAX - TOK_SEAL_OVERHEAD) {
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
        goto out;
    }
    sealed = malloc(len + TOK_SEAL_OVERHEAD);
    if (sealed == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    attr_aad(t, id, is_private, type, aad);
    rv = tok_gcm_seal(t, keys->enc, aad, sizeof(aad), value, len, sealed);
    if (rv != CKR_OK)
        goto out;
    *blob = sealed;
    *blob_len = len + TOK_SEAL_OVERHEAD;
    sealed = NULL;
out:
    free(sealed);
    return rv;
}

CK_RV tok_open_attr(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                    CK_ATTRIBUTE_TYPE type, const unsigned char *blob, size_t blob_len,
                    unsigned char **value, size_t *len)
{
    CK_RV rv;
    unsigned char aad[ATTR_AAD_LEN];
    unsigned char *plain = NULL;
    size_t plain_len = blob_len >= TOK_SEAL_OVERHEAD ? blob_len - TOK_SEAL_OVERHEAD : 0;
    /* One byte more so that an empty value still has a buffer. */
    plain = malloc(plain_len + 1);
    if (plain == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    attr_aad(t, id, is_private, type, aad);
    rv = tok_gcm_open(t, keys->enc, aad, sizeof(aad), blob, blob_len, plain);
    if (rv == CKR_ENCRYPTED_DATA_INVALID) {
        se_log(SE_LOG_ERROR,
               "token %s: object %llu attribute 0x%lx fails authentication"
               " (changed, moved or damaged in the store)",
               t->path, (unsigned long long)id, (unsigned long)type);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv != CKR_OK)
        goto out;
    *value = plain;
    *len = plain_len;
    plain = NULL;
out:
    if (plain) {
        OPENSSL_cleanse(plain, plain_len);
        free(plain);
    }
    return rv;
}

CK_RV tok_lookup_key(tok *t, const unsigned char *index_key, CK_ATTRIBUTE_TYPE type,
                     const unsigned char *value, size_t len, unsigned char *out, size_t *out_len)
{
    CK_RV rv = CKR_OK;
    EVP_MAC_CTX *ctx = NULL;
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    unsigned char type_be[8];
    tok_put_u64(type_be, type);
    if (index_key == NULL && len <= TOK_LOOKUP_PLAIN_MAX) {
        out[0] = TOK_LOOKUP_PLAIN;
        if (len > 0)
            memcpy(out + 1, value, len);
        *out_len = 1 + len;
        goto out;
    }
    if (index_key == NULL) {
        /* Long public values: the index holds their digest, not the value. */
        unsigned int digest_len = 0;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, type_be, sizeof(type_be)) != 1 ||
            EVP_DigestUpdate(md, value, len) != 1 || EVP_DigestFinal_ex(md, mac, &digest_len) != 1)
            rv = crypto_failed("SHA-256");
        EVP_MD_CTX_free(md);
        if (rv != CKR_OK)
            goto out;
        out[0] = TOK_LOOKUP_DIGEST;
        memcpy(out + 1, mac, TOK_HASH_LEN);
        *out_len = 1 + TOK_HASH_LEN;
        goto out;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    ctx = EVP_MAC_CTX_new(t->hmac);
    if (ctx == NULL || EVP_MAC_init(ctx, index_key, 32, params) != 1 ||
        EVP_MAC_update(ctx, type_be, sizeof(type_be)) != 1 ||
        (len > 0 && EVP_MAC_update(ctx, value, len) != 1) ||
        EVP_MAC_final(ctx, mac, &mac_len, sizeof(mac)) != 1) {
        rv = crypto_failed("HMAC-SHA256");
        goto out;
    }
    out[0] = TOK_LOOKUP_HASHED;
    memcpy(out + 1, mac, TOK_LOOKUP_MAC_LEN);
    *out_len = 1 + TOK_LOOKUP_MAC_LEN;
out:
    EVP_MAC_CTX_free(ctx);
    OPENSSL_cleanse(mac, sizeof(mac));
    return rv;
}
