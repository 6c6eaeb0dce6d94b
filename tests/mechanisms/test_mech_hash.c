/* mech_hash.c: every row of the hash table is complete and right (checked
 * against OpenSSL and an independent list of NIDs), the families' rows are
 * exactly those the table offers, and the parameters that name a hash
 * (OAEP, HKDF, HMAC key types) take exactly the hashes offered there. */
#include "mech_test.h"

#include "mech_hash.h"
#include "mech_util.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/rsa.h>

/* Written independently of the table. */
static const struct {
    CK_MECHANISM_TYPE mech;
    int nid;
} nids[] = {
    {CKM_SHA_1, NID_sha1},        {CKM_SHA224, NID_sha224},     {CKM_SHA256, NID_sha256},
    {CKM_SHA384, NID_sha384},     {CKM_SHA512, NID_sha512},     {CKM_SHA3_224, NID_sha3_224},
    {CKM_SHA3_256, NID_sha3_256}, {CKM_SHA3_384, NID_sha3_384}, {CKM_SHA3_512, NID_sha3_512},
};

#define ALL_USES                                                                                   \
    (MECH_HASH_DIGEST | MECH_HASH_SIGN | MECH_HASH_HMAC | MECH_HASH_OAEP | MECH_HASH_KDF)

static int nid_of(CK_MECHANISM_TYPE mech)
{
    for (size_t i = 0; i < ARRAY_SIZE(nids); i++)
        if (nids[i].mech == mech)
            return nids[i].nid;
    fail_msg("hash 0x%lx is not in the test's list", (unsigned long)mech);
    return 0;
}

static void every_row_is_complete(void **state)
{
    (void)state;
    assert_int_equal(MECH_HASH_COUNT, ARRAY_SIZE(nids));
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        assert_non_null(h->md_name);
        EVP_MD *md = EVP_MD_fetch(NULL, h->md_name, NULL);
        assert_non_null(md);
        assert_int_equal(EVP_MD_get_type(md), nid_of(h->mech));
        assert_int_equal((size_t)EVP_MD_get_size(md), h->len);
        EVP_MD_free(md);
        assert_int_equal(EVP_MD_get_type(mech_hash_evp(h)), nid_of(h->mech));
        assert_ptr_equal(mech_hash_evp(h), mech_hash_md(h->mech));
        assert_ptr_equal(mech_mgf1_md(h->mgf1), mech_hash_evp(h));
        assert_true(h->mgf1 && h->x963 && h->hmac && h->hmac_key && h->rsa_pkcs && h->rsa_pss &&
                    h->ecdsa);
        assert_int_equal(h->uses & ~(unsigned)ALL_USES, 0);
    }
    assert_null(mech_hash_evp(NULL));
    assert_null(mech_hash_md(CKM_MD5));
}

/* No two rows share a value in any column: each lookup has one answer. */
static void no_two_rows_share_a_column(void **state)
{
    (void)state;
    for (size_t i = 0; i < MECH_HASH_COUNT; i++)
        for (size_t j = i + 1; j < MECH_HASH_COUNT; j++) {
            const mech_hash *a = &mech_hashes[i], *b = &mech_hashes[j];
            assert_true(a->mech != b->mech && strcmp(a->md_name, b->md_name) != 0 &&
                        a->mgf1 != b->mgf1 && a->x963 != b->x963 && a->hmac != b->hmac &&
                        a->hmac_key != b->hmac_key && a->rsa_pkcs != b->rsa_pkcs &&
                        a->rsa_pss != b->rsa_pss && a->ecdsa != b->ecdsa);
        }
}

static void find_by_each_column(void **state)
{
    (void)state;
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        assert_ptr_equal(mech_hash_find(MECH_HASH_BY_MECH, h->mech, 0), h);
        assert_ptr_equal(mech_hash_find(MECH_HASH_BY_MGF1, h->mgf1, 0), h);
        assert_ptr_equal(mech_hash_find(MECH_HASH_BY_X963, h->x963, 0), h);
        assert_ptr_equal(mech_hash_find(MECH_HASH_BY_HMAC, h->hmac, 0), h);
        assert_ptr_equal(mech_hash_find(MECH_HASH_BY_HMAC_KEY, h->hmac_key, 0), h);
        for (unsigned use = 1; use & ALL_USES; use <<= 1)
            assert_ptr_equal(mech_hash_find(MECH_HASH_BY_MECH, h->mech, use),
                             (h->uses & use) ? h : NULL);
    }
    assert_null(mech_hash_find(MECH_HASH_BY_MECH, CKM_MD5, 0));
    assert_null(mech_hash_find(MECH_HASH_BY_HMAC, CKM_MD5_HMAC, 0));
}

/* The row of type in table, or NULL. */
static const mech_row *row_in(const mech_table *table, CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->rows[i].type == type)
            return &table->rows[i];
    return NULL;
}

static void check_generated(const mech_table *table, CK_MECHANISM_TYPE type, bool offered,
                            CK_FLAGS flags)
{
    const mech_row *row = row_in(table, type);
    if (!offered) {
        assert_null(row);
        return;
    }
    if (!row)
        fail_msg("mechanism 0x%lx has no row", (unsigned long)type);
    assert_true(row->multipart);
    assert_int_equal(row->info.flags & flags, flags);
    assert_non_null(row->data);
}

/* The digest, hash-and-sign and HMAC rows are those the table offers. */
static void rows_follow_the_table(void **state)
{
    (void)state;
    size_t digests = 0, signs = 0, hmacs = 0;
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        bool digest = h->uses & MECH_HASH_DIGEST, sign = h->uses & MECH_HASH_SIGN,
             hmac = h->uses & MECH_HASH_HMAC;
        check_generated(&mech_table_digest, h->mech, digest, CKF_DIGEST);
        if (digest)
            assert_ptr_equal(row_in(&mech_table_digest, h->mech)->data, h);
        check_generated(&mech_table_sign, h->rsa_pkcs, sign, CKF_SIGN | CKF_VERIFY);
        check_generated(&mech_table_sign, h->rsa_pss, sign, CKF_SIGN | CKF_VERIFY);
        check_generated(&mech_table_sign, h->ecdsa, sign, CKF_SIGN | CKF_VERIFY);
        check_generated(&mech_table_sign, h->hmac, hmac, CKF_SIGN | CKF_VERIFY);
        digests += digest;
        signs += sign;
        hmacs += hmac;
    }
    assert_int_equal(mech_table_digest.count, digests);
    /* the raw RSA PKCS #1, PSS and ECDSA rows, EdDSA and CMAC besides */
    assert_int_equal(mech_table_sign.count, 3 * signs + hmacs + 5);
}

/* ---- the parameters that name a hash ------------------------------------------ */

static attr_list rsa_pub, rsa_priv;

static int make_rsa(void **state)
{
    (void)state;
    generate_rsa(2048, &rsa_pub, &rsa_priv);
    return 0;
}

static int free_rsa(void **state)
{
    (void)state;
    attr_list_free(&rsa_pub);
    attr_list_free(&rsa_priv);
    return 0;
}

static CK_RV oaep_init(CK_MECHANISM_TYPE hash, CK_RSA_PKCS_MGF_TYPE mgf)
{
    CK_RSA_PKCS_OAEP_PARAMS params = {hash, mgf, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
    mech_key key;
    load_key(&rsa_pub, &key);
    void *op = NULL;
    const mech_row *row = row_of(&mech_table_cipher, CKM_RSA_PKCS_OAEP);
    CK_RV rv = row->ops->init(&mech, &key, MECH_ENCRYPT, NULL, &op);
    if (rv == CKR_OK)
        row->ops->free(op);
    mech_key_free(&key);
    return rv;
}

static void oaep_takes_the_hashes_offered(void **state)
{
    (void)state;
    const mech_hash *sha256 = mech_hash_find(MECH_HASH_BY_MECH, CKM_SHA256, MECH_HASH_OAEP);
    assert_non_null(sha256);
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        CK_RV expected = (h->uses & MECH_HASH_OAEP) ? CKR_OK : CKR_MECHANISM_PARAM_INVALID;
        assert_int_equal(oaep_init(h->mech, h->mgf1), expected);
        assert_int_equal(oaep_init(h->mech, sha256->mgf1), expected); /* hash and MGF1 differ */
        assert_int_equal(oaep_init(sha256->mech, h->mgf1), expected);
    }
    assert_int_equal(oaep_init(CKM_MD5, sha256->mgf1), CKR_MECHANISM_PARAM_INVALID);
}

/* OAEP with each hash offered: what the row encrypts, OpenSSL decrypts
 * with the digest found by NID. */
static void oaep_rows_match_openssl(void **state)
{
    (void)state;
    static const unsigned char message[] = "one row per hash";
    const mech_row *row = row_of(&mech_table_cipher, CKM_RSA_PKCS_OAEP);
    mech_key pub, priv;
    load_key(&rsa_pub, &pub);
    load_key(&rsa_priv, &priv);
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        if (!(h->uses & MECH_HASH_OAEP))
            continue;
        CK_RSA_PKCS_OAEP_PARAMS params = {h->mech, h->mgf1, CKZ_DATA_SPECIFIED, NULL, 0};
        CK_MECHANISM mech = {CKM_RSA_PKCS_OAEP, &params, sizeof(params)};
        buf cipher;
        assert_int_equal(
            run_row(row, &mech, &pub, MECH_ENCRYPT, message, sizeof(message), NULL, 0, &cipher),
            CKR_OK);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, priv.pkey, NULL);
        const EVP_MD *md = EVP_get_digestbynid(nid_of(h->mech));
        unsigned char plain[512];
        size_t plain_len = sizeof(plain);
        assert_non_null(ctx);
        assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md), 1);
        assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md), 1);
        assert_int_equal(EVP_PKEY_decrypt(ctx, plain, &plain_len, cipher.data, cipher.len), 1);
        assert_int_equal(plain_len, sizeof(message));
        assert_memory_equal(plain, message, sizeof(message));
        EVP_PKEY_CTX_free(ctx);
        buf_free(&cipher);
    }
    mech_key_free(&pub);
    mech_key_free(&priv);
}

/* Each HMAC row, with a key of its own HMAC key type, against OpenSSL's
 * HMAC with the digest found by NID; a changed MAC does not verify. */
static void hmac_rows_match_openssl(void **state)
{
    (void)state;
    unsigned char key_bytes[20], data[100];
    memset(key_bytes, 0x0b, sizeof(key_bytes));
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(3 * i + 1);
    buf key_buf = {key_bytes, sizeof(key_bytes)};
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        if (!(h->uses & MECH_HASH_HMAC))
            continue;
        mech_key key = secret_key(h->hmac_key, &key_buf);
        CK_MECHANISM mech = {h->hmac, NULL, 0};
        unsigned char mac[EVP_MAX_MD_SIZE], expected[EVP_MAX_MD_SIZE];
        size_t mac_len = sizeof(mac), expected_len = 0;
        assert_int_equal(run_sign(&mech_table_sign, &mech, &key, data, sizeof(data), mac, &mac_len),
                         CKR_OK);
        assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, OBJ_nid2sn(nid_of(h->mech)), NULL, key_bytes,
                                  sizeof(key_bytes), data, sizeof(data), expected, sizeof(expected),
                                  &expected_len));
        assert_int_equal(mac_len, expected_len);
        assert_memory_equal(mac, expected, expected_len);
        assert_int_equal(
            run_verify(&mech_table_sign, &mech, &key, data, sizeof(data), mac, mac_len), CKR_OK);
        mac[0] ^= 1;
        assert_int_equal(
            run_verify(&mech_table_sign, &mech, &key, data, sizeof(data), mac, mac_len),
            CKR_SIGNATURE_INVALID);
    }
}

/* HKDF over each hash: refused unless offered for KDFs, and then the
 * same bytes as OpenSSL's HKDF with the digest found by NID. */
static void hkdf_takes_the_hashes_offered(void **state)
{
    (void)state;
    unsigned char ikm[22], salt[13], info[10], expected[42];
    memset(ikm, 0x0b, sizeof(ikm));
    memset(salt, 0x5a, sizeof(salt));
    memset(info, 0xf0, sizeof(info));
    buf ikm_buf = {ikm, sizeof(ikm)};
    mech_key base = secret_key(CKK_GENERIC_SECRET, &ikm_buf);
    attr_list tmpl;
    attr_list_init(&tmpl);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, sizeof(expected)), CKR_OK);
    const mech_row *row = row_of(&mech_table_derive, CKM_HKDF_DERIVE);
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        CK_HKDF_PARAMS params = {CK_TRUE,      CK_TRUE,           h->mech, CKF_HKDF_SALT_DATA, salt,
                                 sizeof(salt), CK_INVALID_HANDLE, info,    sizeof(info)};
        CK_MECHANISM mech = {CKM_HKDF_DERIVE, &params, sizeof(params)};
        attr_list out;
        attr_list_init(&out);
        CK_RV rv = row->derive(&mech, &base, &tmpl, NULL, &out);
        if (!(h->uses & MECH_HASH_KDF)) {
            assert_int_equal(rv, CKR_MECHANISM_PARAM_INVALID);
            attr_list_free(&out);
            continue;
        }
        assert_int_equal(rv, CKR_OK);
        EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
        EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
        OSSL_PARAM p[] = {
            OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)OBJ_nid2sn(nid_of(h->mech)), 0),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, ikm, sizeof(ikm)),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, salt, sizeof(salt)),
            OSSL_PARAM_octet_string(OSSL_KDF_PARAM_INFO, info, sizeof(info)),
            OSSL_PARAM_END,
        };
        assert_int_equal(EVP_KDF_derive(ctx, expected, sizeof(expected), p), 1);
        EVP_KDF_CTX_free(ctx);
        EVP_KDF_free(kdf);
        const CK_ATTRIBUTE *value = attr_of(&out, CKA_VALUE);
        assert_int_equal(value->ulValueLen, sizeof(expected));
        assert_memory_equal(value->pValue, expected, sizeof(expected));
        attr_list_free(&out);
    }
    attr_list_free(&tmpl);
}

/* A generic secret key may be typed for an HMAC the table offers, only. */
static void hmac_key_types_are_those_offered(void **state)
{
    (void)state;
    const mech_row *row = row_of(&mech_table_keygen, CKM_GENERIC_SECRET_KEY_GEN);
    CK_MECHANISM mech = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *h = &mech_hashes[i];
        attr_list tmpl, out;
        attr_list_init(&tmpl);
        attr_list_init(&out);
        assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, 32), CKR_OK);
        assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, h->hmac_key), CKR_OK);
        assert_int_equal(row->generate(&mech, &tmpl, NULL, &out),
                         (h->uses & MECH_HASH_HMAC) ? CKR_OK : CKR_TEMPLATE_INCONSISTENT);
        attr_list_free(&tmpl);
        attr_list_free(&out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_is_complete),
        cmocka_unit_test(no_two_rows_share_a_column),
        cmocka_unit_test(find_by_each_column),
        cmocka_unit_test(rows_follow_the_table),
        cmocka_unit_test_setup_teardown(oaep_takes_the_hashes_offered, make_rsa, NULL),
        cmocka_unit_test_setup_teardown(oaep_rows_match_openssl, NULL, free_rsa),
        cmocka_unit_test(hkdf_takes_the_hashes_offered),
        cmocka_unit_test(hmac_key_types_are_those_offered),
        cmocka_unit_test(hmac_rows_match_openssl),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
