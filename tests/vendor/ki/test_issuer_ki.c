/*
 * The issuer library of docs/spec.md §5 (tools/issuer/ki.c) on its own, no
 * module: c values made here with OpenSSL primitives from a chosen r must
 * give H exactly as the SPEC's table says; c values no card makes are
 * refused with their code; the challenge-response HMACs against RFC 4231
 * and RFC 2202 vectors.
 */
#include <pkcs11.h>

#include "issuer-ki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#define K 256 /* RSA-2048 */

static EVP_PKEY *rsa_key(unsigned long e)
{
    static EVP_PKEY *keys[2];
    EVP_PKEY **slot = &keys[e == 3 ? 0 : 1];
    if (*slot)
        return *slot;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *exponent = BN_new();
    assert_true(BN_set_word(exponent, e));
    assert_true(EVP_PKEY_keygen_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0);
    assert_true(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, exponent) > 0);
    assert_true(EVP_PKEY_generate(ctx, slot) > 0);
    BN_free(exponent);
    EVP_PKEY_CTX_free(ctx);
    return *slot;
}

static EVP_PKEY *ec_key(void)
{
    static EVP_PKEY *key;
    if (!key)
        key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(key);
    return key;
}

/* The same key without its private half. */
static EVP_PKEY *public_only(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(key, &der);
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, len);
    OPENSSL_free(der);
    assert_non_null(pub);
    return pub;
}

static void digest(const EVP_MD *md, const unsigned char *a, size_t a_len, const unsigned char *b,
                   size_t b_len, const unsigned char *c, size_t c_len, unsigned char *out)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_true(EVP_DigestInit_ex(ctx, md, NULL));
    assert_true(EVP_DigestUpdate(ctx, a, a_len));
    assert_true(EVP_DigestUpdate(ctx, b, b_len));
    if (c)
        assert_true(EVP_DigestUpdate(ctx, c, c_len));
    assert_true(EVP_DigestFinal_ex(ctx, out, NULL));
    EVP_MD_CTX_free(ctx);
}

static BIGNUM *modulus(EVP_PKEY *key, unsigned char n_octets[K])
{
    BIGNUM *n = NULL;
    assert_true(EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n));
    assert_int_equal(BN_bn2binpad(n, n_octets, K), K);
    return n;
}

static CK_RV recover(EVP_PKEY *key, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                     const unsigned char *c, size_t c_len, unsigned char *ki, size_t len)
{
    size_t ki_len = len;
    return issuer_ki_recover(key, mech, hash, c, c_len, ki, &ki_len);
}

/* ---- known answers ------------------------------------------------------------- */

/* c = r^e mod n for a chosen r; KI = H(I2OSP(r,k) ‖ I2OSP(n,k)). */
static void rsa_raw_known_answer(void **state)
{
    (void)state;
    EVP_PKEY *key = rsa_key(3);
    unsigned char n_octets[K], r_octets[K], c[K], expected[32], ki[32];
    BIGNUM *n = modulus(key, n_octets), *r = BN_new(), *e = BN_new(), *cb = BN_new();
    BN_CTX *bn = BN_CTX_new();
    assert_true(BN_rand_range(r, n) && BN_set_word(e, 3) && BN_mod_exp(cb, r, e, n, bn));
    assert_int_equal(BN_bn2binpad(r, r_octets, K), K);
    assert_int_equal(BN_bn2binpad(cb, c, K), K);

    digest(EVP_sha256(), r_octets, K, n_octets, K, NULL, 0, expected);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 32), CKR_OK);
    assert_memory_equal(ki, expected, 32);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 16), CKR_OK);
    assert_memory_equal(ki, expected, 16);
    digest(EVP_sha1(), r_octets, K, n_octets, K, NULL, 0, expected);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_RAW, CKM_SHA_1, c, K, ki, 20), CKR_OK);
    assert_memory_equal(ki, expected, 20);
    BN_free(n), BN_free(r), BN_free(e), BN_free(cb), BN_CTX_free(bn);
}

/* c = RSAES-OAEP-SHA256(r) for 32 chosen bytes; KI = H(r ‖ I2OSP(n,k)). */
static size_t oaep_encrypt(EVP_PKEY *key, const EVP_MD *md, const unsigned char *r, size_t r_len,
                           unsigned char c[K])
{
    size_t c_len = K;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    assert_true(EVP_PKEY_encrypt_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, md) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, md) > 0);
    assert_true(EVP_PKEY_encrypt(ctx, c, &c_len, r, r_len) > 0);
    EVP_PKEY_CTX_free(ctx);
    return c_len;
}

static void rsa_oaep_known_answer(void **state)
{
    (void)state;
    EVP_PKEY *key = rsa_key(65537);
    unsigned char n_octets[K], r[33], c[K], expected[32], ki[32];
    BIGNUM *n = modulus(key, n_octets);
    assert_int_equal(RAND_bytes(r, sizeof(r)), 1);
    assert_int_equal(oaep_encrypt(key, EVP_sha256(), r, 32, c), K);
    digest(EVP_sha256(), r, 32, n_octets, K, NULL, 0, expected);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_OAEP, CKM_SHA256, c, K, ki, 32), CKR_OK);
    assert_memory_equal(ki, expected, 32);

    /* Not what a card sends: 33 bytes, or OAEP with SHA-1. */
    oaep_encrypt(key, EVP_sha256(), r, 33, c);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_OAEP, CKM_SHA256, c, K, ki, 32),
                     CKR_ENCRYPTED_DATA_INVALID);
    oaep_encrypt(key, EVP_sha1(), r, 32, c);
    assert_int_equal(recover(key, CKM_SE_KI_RSA_OAEP, CKM_SHA256, c, K, ki, 32),
                     CKR_ENCRYPTED_DATA_INVALID);
    BN_free(n);
}

static size_t point(const EC_GROUP *group, const EC_POINT *p, point_conversion_form_t form,
                    unsigned char *out)
{
    return EC_POINT_point2oct(group, p, form, out, 1 + 2 * 66, NULL);
}

/* c = P(g^r) for a chosen r; KI = H(P(h^r) ‖ P(g) ‖ P(h)). */
static void ec_elgamal_known_answer(void **state)
{
    (void)state;
    EVP_PKEY *key = ec_key();
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    unsigned char h_octets[65], c[65], h_r[65], g[65], expected[32], ki[32];
    size_t h_len = 0;
    BIGNUM *r = BN_new();
    EC_POINT *h = EC_POINT_new(group), *g_r = EC_POINT_new(group), *hr = EC_POINT_new(group);
    assert_true(EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, h_octets,
                                                sizeof(h_octets), &h_len));
    assert_true(EC_POINT_oct2point(group, h, h_octets, h_len, NULL));
    assert_true(BN_rand_range(r, EC_GROUP_get0_order(group)));
    assert_true(EC_POINT_mul(group, g_r, r, NULL, NULL, NULL));
    assert_true(EC_POINT_mul(group, hr, NULL, h, r, NULL));
    assert_int_equal(point(group, g_r, POINT_CONVERSION_UNCOMPRESSED, c), 65);
    assert_int_equal(point(group, hr, POINT_CONVERSION_UNCOMPRESSED, h_r), 65);
    assert_int_equal(point(group, EC_GROUP_get0_generator(group), POINT_CONVERSION_UNCOMPRESSED, g),
                     65);
    assert_int_equal(point(group, h, POINT_CONVERSION_UNCOMPRESSED, h_octets), 65);

    digest(EVP_sha256(), h_r, 65, g, 65, h_octets, 65, expected);
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, 65, ki, 32), CKR_OK);
    assert_memory_equal(ki, expected, 32);
    digest(EVP_sha1(), h_r, 65, g, 65, h_octets, 65, expected);
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA_1, c, 65, ki, 20), CKR_OK);
    assert_memory_equal(ki, expected, 20);

    /* Not what a card sends: compressed, off the curve, other lengths. */
    unsigned char compressed[33];
    assert_int_equal(point(group, g_r, POINT_CONVERSION_COMPRESSED, compressed), 33);
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, compressed, 33, ki, 32),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    c[64] ^= 1;
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, 65, ki, 32),
                     CKR_ENCRYPTED_DATA_INVALID);
    c[64] ^= 1;
    c[0] = POINT_CONVERSION_HYBRID | (c[64] & 1);
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, 65, ki, 32),
                     CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(recover(key, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, 64, ki, 32),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    EC_POINT_free(h), EC_POINT_free(g_r), EC_POINT_free(hr), BN_free(r), EC_GROUP_free(group);
}

/* ---- refusals -------------------------------------------------------------------- */

/* r = c^d is outside [2, n−2] for c = 0, 1, n−1; c ≥ n does not decrypt. */
static void rsa_raw_not_from_a_card(void **state)
{
    (void)state;
    EVP_PKEY *key = rsa_key(3);
    unsigned char n_octets[K], c[K], ki[32];
    BIGNUM *n = modulus(key, n_octets), *value = BN_new();
    static const long offsets[] = {0, 1, -1, 0};
    for (size_t i = 0; i < 4; i++) {
        if (i == 3) {
            memcpy(c, n_octets, K); /* c = n */
        } else {
            assert_true(offsets[i] >= 0 ? BN_set_word(value, (BN_ULONG)offsets[i])
                                        : (BN_copy(value, n) && BN_sub_word(value, 1)));
            assert_int_equal(BN_bn2binpad(value, c, K), K);
        }
        assert_int_equal(recover(key, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 32),
                         CKR_ENCRYPTED_DATA_INVALID);
    }
    assert_int_equal(recover(key, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K - 1, ki, 32),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    BN_free(n), BN_free(value);
}

static void arguments(void **state)
{
    (void)state;
    EVP_PKEY *rsa = rsa_key(3), *ec = ec_key();
    unsigned char c[K] = {0, 2}, ki[64];
    size_t len = 0;
    assert_int_equal(issuer_ki_recover(NULL, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, &len),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(issuer_ki_recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA256, NULL, K, ki, &len),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(issuer_ki_recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, NULL),
                     CKR_ARGUMENTS_BAD);
    assert_int_equal(recover(rsa, CKM_SE_GKEA, CKM_SHA256, c, K, ki, 32), CKR_MECHANISM_INVALID);
    assert_int_equal(recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA384, c, K, ki, 32),
                     CKR_MECHANISM_PARAM_INVALID);
    /* The length query, and lengths no card makes. */
    assert_int_equal(issuer_ki_recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA_1, c, K, NULL, &len),
                     CKR_OK);
    assert_int_equal(len, 20);
    assert_int_equal(recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 0), CKR_ARGUMENTS_BAD);
    assert_int_equal(recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 33), CKR_ARGUMENTS_BAD);
    assert_int_equal(recover(rsa, CKM_SE_KI_RSA_RAW, CKM_SHA_1, c, K, ki, 21), CKR_ARGUMENTS_BAD);
    /* The key must fit the mechanism and be private. */
    assert_int_equal(recover(ec, CKM_SE_KI_RSA_OAEP, CKM_SHA256, c, K, ki, 32),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(recover(rsa, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, 65, ki, 32),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY *rsa_pub = public_only(rsa), *ec_pub = public_only(ec);
    assert_int_equal(recover(rsa_pub, CKM_SE_KI_RSA_RAW, CKM_SHA256, c, K, ki, 32),
                     CKR_KEY_TYPE_INCONSISTENT);
    unsigned char g[65];
    EC_GROUP *group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    point(group, EC_GROUP_get0_generator(group), POINT_CONVERSION_UNCOMPRESSED, g);
    assert_int_equal(recover(ec_pub, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, g, 65, ki, 32),
                     CKR_KEY_TYPE_INCONSISTENT);
    EC_GROUP_free(group);

    assert_int_equal(issuer_ki_ciphertext_len(rsa, CKM_SE_KI_RSA_RAW), K);
    assert_int_equal(issuer_ki_ciphertext_len(rsa_pub, CKM_SE_KI_RSA_OAEP), K);
    assert_int_equal(issuer_ki_ciphertext_len(ec, CKM_SE_KI_EC_ELGAMAL), 65);
    assert_int_equal(issuer_ki_ciphertext_len(ec, CKM_SE_KI_RSA_RAW), 0);
    assert_int_equal(issuer_ki_ciphertext_len(rsa, CKM_SE_KI_EC_ELGAMAL), 0);
    assert_int_equal(issuer_ki_hash_len(CKM_SHA256), 32);
    assert_int_equal(issuer_ki_hash_len(CKM_SHA_1), 20);
    assert_int_equal(issuer_ki_hash_len(CKM_MD5), 0);
    EVP_PKEY_free(rsa_pub);
    EVP_PKEY_free(ec_pub);
}

/* ---- challenge-response ------------------------------------------------------------ */

static void responses(void **state)
{
    (void)state;
    unsigned char key[20], out[32];
    memset(key, 0x0b, sizeof(key));
    static const char data[] = "Hi There";
    static const unsigned char sha256[32] = {/* RFC 4231 test case 1 */
                                             0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
                                             0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
                                             0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
                                             0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7};
    static const unsigned char sha1[20] = {/* RFC 2202 test case 1 */
                                           0xb6, 0x17, 0x31, 0x86, 0x55, 0x05, 0x72,
                                           0x64, 0xe2, 0x8b, 0xc0, 0xb6, 0xfb, 0x37,
                                           0x8c, 0x8e, 0xf1, 0x46, 0xbe, 0x00};
    const unsigned char *challenge = (const unsigned char *)data;
    size_t len = sizeof(out);
    assert_int_equal(issuer_ki_response(CKM_SHA256, key, 20, challenge, 8, out, &len), CKR_OK);
    assert_int_equal(len, 32);
    assert_memory_equal(out, sha256, 32);
    len = sizeof(out);
    assert_int_equal(issuer_ki_response(CKM_SHA_1, key, 20, challenge, 8, out, &len), CKR_OK);
    assert_int_equal(len, 20);
    assert_memory_equal(out, sha1, 20);
    len = 19;
    assert_int_equal(issuer_ki_response(CKM_SHA_1, key, 20, challenge, 8, out, &len),
                     CKR_BUFFER_TOO_SMALL);

    assert_int_equal(issuer_ki_check_response(CKM_SHA256, key, 20, challenge, 8, sha256, 32),
                     CKR_OK);
    unsigned char wrong[32];
    memcpy(wrong, sha256, 32);
    wrong[31] ^= 1;
    assert_int_equal(issuer_ki_check_response(CKM_SHA256, key, 20, challenge, 8, wrong, 32),
                     CKR_SIGNATURE_INVALID);
    assert_int_equal(issuer_ki_check_response(CKM_SHA256, key, 20, challenge, 8, sha256, 31),
                     CKR_SIGNATURE_INVALID);
    assert_int_equal(issuer_ki_check_response(CKM_SHA256, key, 19, challenge, 8, sha256, 32),
                     CKR_SIGNATURE_INVALID);
    assert_int_equal(issuer_ki_check_response(CKM_SHA_1, key, 20, challenge, 8, sha1, 20), CKR_OK);

    assert_int_equal(issuer_ki_hmac_mechanism(CKM_SHA256), CKM_SHA256_HMAC);
    assert_int_equal(issuer_ki_hmac_mechanism(CKM_SHA_1), CKM_SHA_1_HMAC);
    assert_int_equal(issuer_ki_hmac_mechanism(CKM_SHA512), CKM_VENDOR_DEFINED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_raw_known_answer),
        cmocka_unit_test(rsa_oaep_known_answer),
        cmocka_unit_test(ec_elgamal_known_answer),
        cmocka_unit_test(rsa_raw_not_from_a_card),
        cmocka_unit_test(arguments),
        cmocka_unit_test(responses),
    };
    return cmocka_run_group_tests_name("issuer-ki", tests, NULL, NULL);
}
