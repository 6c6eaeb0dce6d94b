/* mech_sign.c: every sign/verify/MAC row, verified independently with
 * plain OpenSSL or against RFC vectors, and the error paths. */
#include "mech_test.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <string.h>

#define RFC8032_SECRET "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC8032_SIGNATURE                                                                          \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9" \
    "b46bd25bf5f0595bbe24655141438e7a100b"
/* DER DigestInfo prefix of SHA-256 (RFC 8017 §9.2, note 1). */
#define SHA256_DIGEST_INFO "3031300d060960864801650304020105000420"

static const unsigned char message[] = "The quick brown fox jumps over the lazy dog, twice over.";
#define MESSAGE_LEN (sizeof(message) - 1)

/* Keys generated once by the keygen rows for the whole file. */
static struct {
    attr_list rsa_pub, rsa_priv;
    attr_list ec_pub[3], ec_priv[3];
    attr_list ed_pub, ed_priv;
} keys;

static const struct {
    const unsigned char *oid;
    size_t oid_len;
    size_t field_bytes;
} curves[] = {
    {oid_p256, sizeof(oid_p256), 32},
    {oid_p384, sizeof(oid_p384), 48},
    {oid_p521, sizeof(oid_p521), 66},
};

static int setup(void **state)
{
    (void)state;
    generate_rsa(2048, &keys.rsa_pub, &keys.rsa_priv);
    for (size_t i = 0; i < 3; i++)
        generate_ec(curves[i].oid, curves[i].oid_len, &keys.ec_pub[i], &keys.ec_priv[i]);
    generate_ed25519(&keys.ed_pub, &keys.ed_priv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    attr_list_free(&keys.rsa_pub);
    attr_list_free(&keys.rsa_priv);
    for (size_t i = 0; i < 3; i++) {
        attr_list_free(&keys.ec_pub[i]);
        attr_list_free(&keys.ec_priv[i]);
    }
    attr_list_free(&keys.ed_pub);
    attr_list_free(&keys.ed_priv);
    return 0;
}

/* Signs with the private attributes and checks the row's own verify,
 * a flipped bit and a wrong length, with the public attributes. */
static size_t sign_and_self_check(const CK_MECHANISM *mech, const attr_list *priv,
                                  const attr_list *pub, const void *data, size_t len,
                                  unsigned char *sig)
{
    mech_key key;
    size_t sig_len = 1024;
    load_key(priv, &key);
    assert_int_equal(run_sign(&mech_table_sign, mech, &key, data, len, sig, &sig_len), CKR_OK);
    mech_key_free(&key);

    load_key(pub, &key);
    assert_int_equal(run_verify(&mech_table_sign, mech, &key, data, len, sig, sig_len), CKR_OK);
    sig[sig_len / 2] ^= 0x01;
    assert_int_equal(run_verify(&mech_table_sign, mech, &key, data, len, sig, sig_len),
                     CKR_SIGNATURE_INVALID);
    sig[sig_len / 2] ^= 0x01;
    assert_int_equal(run_verify(&mech_table_sign, mech, &key, data, len, sig, sig_len - 1),
                     CKR_SIGNATURE_LEN_RANGE);
    mech_key_free(&key);
    return sig_len;
}

static void table_shape(void **state)
{
    (void)state;
    for (size_t i = 0; i < mech_table_sign.count; i++) {
        const mech_row *row = &mech_table_sign.rows[i];
        assert_non_null(row->name);
        assert_non_null(row->ops);
        assert_int_equal(row->info.flags & (CKF_SIGN | CKF_VERIFY), CKF_SIGN | CKF_VERIFY);
        assert_true(row->info.ulMinKeySize <= row->info.ulMaxKeySize);
        if (row->multipart)
            assert_true(row->ops->update && row->ops->final && row->ops->verify_final);
        else
            assert_true(row->ops->oneshot && row->ops->verify_oneshot);
        for (size_t j = i + 1; j < mech_table_sign.count; j++)
            assert_int_not_equal(row->type, mech_table_sign.rows[j].type);
    }
    assert_false(row_of(&mech_table_sign, CKM_RSA_PKCS)->multipart);
    assert_false(row_of(&mech_table_sign, CKM_ECDSA)->multipart);
    assert_false(row_of(&mech_table_sign, CKM_EDDSA)->multipart);
    assert_true(row_of(&mech_table_sign, CKM_SHA256_RSA_PKCS)->multipart);
    assert_true(row_of(&mech_table_sign, CKM_SHA256_HMAC)->multipart);
}

static void rsa_pkcs_hashed(void **state)
{
    (void)state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *md;
    } cases[] = {
        {CKM_SHA1_RSA_PKCS, "SHA1"},     {CKM_SHA224_RSA_PKCS, "SHA224"},
        {CKM_SHA256_RSA_PKCS, "SHA256"}, {CKM_SHA384_RSA_PKCS, "SHA384"},
        {CKM_SHA512_RSA_PKCS, "SHA512"},
    };
    EVP_PKEY *pub = independent_public_key(&keys.rsa_pub);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_MECHANISM mech = {cases[i].mech, NULL, 0};
        unsigned char sig[1024];
        size_t sig_len =
            sign_and_self_check(&mech, &keys.rsa_priv, &keys.rsa_pub, message, MESSAGE_LEN, sig);
        assert_int_equal(sig_len, 256);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit_ex(ctx, NULL, cases[i].md, NULL, NULL, pub, NULL), 1);
        assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, message, MESSAGE_LEN), 1);
        EVP_MD_CTX_free(ctx);
    }
    EVP_PKEY_free(pub);
}

static void rsa_pkcs_raw(void **state)
{
    (void)state;
    unsigned char info[19 + 32], hashed_sig[256], raw_sig[256], recovered[256];
    size_t prefix = from_hex(SHA256_DIGEST_INFO, info);
    assert_int_equal(EVP_Digest(message, MESSAGE_LEN, info + prefix, NULL, EVP_sha256(), NULL), 1);

    CK_MECHANISM hashed = {CKM_SHA256_RSA_PKCS, NULL, 0}, raw = {CKM_RSA_PKCS, NULL, 0};
    sign_and_self_check(&hashed, &keys.rsa_priv, &keys.rsa_pub, message, MESSAGE_LEN, hashed_sig);
    size_t len =
        sign_and_self_check(&raw, &keys.rsa_priv, &keys.rsa_pub, info, sizeof(info), raw_sig);
    /* PKCS #1 v1.5 is deterministic: the same signature both ways. */
    assert_int_equal(len, 256);
    assert_memory_equal(raw_sig, hashed_sig, 256);

    EVP_PKEY *pub = independent_public_key(&keys.rsa_pub);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
    size_t recovered_len = sizeof(recovered);
    assert_int_equal(EVP_PKEY_verify_recover_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
    assert_int_equal(EVP_PKEY_verify_recover(ctx, recovered, &recovered_len, raw_sig, len), 1);
    assert_int_equal(recovered_len, sizeof(info));
    assert_memory_equal(recovered, info, sizeof(info));
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pub);

    /* At most k − 11 bytes of input. */
    unsigned char big[256] = {0};
    mech_key key;
    size_t sig_len = sizeof(raw_sig);
    load_key(&keys.rsa_priv, &key);
    assert_int_equal(run_sign(&mech_table_sign, &raw, &key, big, 245, raw_sig, &sig_len), CKR_OK);
    sig_len = sizeof(raw_sig);
    assert_int_equal(run_sign(&mech_table_sign, &raw, &key, NULL, 0, raw_sig, &sig_len),
                     CKR_DATA_LEN_RANGE);
    sig_len = sizeof(raw_sig);
    assert_int_equal(run_sign(&mech_table_sign, &raw, &key, big, 246, raw_sig, &sig_len),
                     CKR_DATA_LEN_RANGE);
    mech_key_free(&key);
    load_key(&keys.rsa_pub, &key);
    assert_int_equal(run_verify(&mech_table_sign, &raw, &key, big, 246, raw_sig, 256),
                     CKR_DATA_LEN_RANGE);
    mech_key_free(&key);
}

static void verify_pss(EVP_PKEY *pub, const char *md, const char *mgf1, int salt,
                       const unsigned char *data, size_t len, bool prehashed,
                       const unsigned char *sig, size_t sig_len)
{
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx = NULL;
    if (prehashed) {
        pctx = EVP_PKEY_CTX_new(pub, NULL);
        assert_int_equal(EVP_PKEY_verify_init(pctx), 1);
        assert_int_equal(EVP_PKEY_CTX_set_signature_md(pctx, EVP_get_digestbyname(md)), 1);
    } else {
        ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pub, NULL), 1);
    }
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, salt), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, mgf1, NULL), 1);
    if (prehashed) {
        assert_int_equal(EVP_PKEY_verify(pctx, sig, sig_len, data, len), 1);
        EVP_PKEY_CTX_free(pctx);
    } else {
        assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, data, len), 1);
        EVP_MD_CTX_free(ctx);
    }
}

static void rsa_pss(void **state)
{
    (void)state;
    EVP_PKEY *pub = independent_public_key(&keys.rsa_pub);
    unsigned char sig[1024];

    CK_RSA_PKCS_PSS_PARAMS p256 = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS_PSS, &p256, sizeof(p256)};
    size_t len =
        sign_and_self_check(&mech, &keys.rsa_priv, &keys.rsa_pub, message, MESSAGE_LEN, sig);
    verify_pss(pub, "SHA256", "SHA256", 32, message, MESSAGE_LEN, false, sig, len);

    CK_RSA_PKCS_PSS_PARAMS p384 = {CKM_SHA384, CKG_MGF1_SHA1, 0};
    mech = (CK_MECHANISM){CKM_SHA384_RSA_PKCS_PSS, &p384, sizeof(p384)};
    len = sign_and_self_check(&mech, &keys.rsa_priv, &keys.rsa_pub, message, MESSAGE_LEN, sig);
    verify_pss(pub, "SHA384", "SHA1", 0, message, MESSAGE_LEN, false, sig, len);

    CK_RSA_PKCS_PSS_PARAMS p512 = {CKM_SHA512, CKG_MGF1_SHA512, 64};
    mech = (CK_MECHANISM){CKM_SHA512_RSA_PKCS_PSS, &p512, sizeof(p512)};
    len = sign_and_self_check(&mech, &keys.rsa_priv, &keys.rsa_pub, message, MESSAGE_LEN, sig);
    verify_pss(pub, "SHA512", "SHA512", 64, message, MESSAGE_LEN, false, sig, len);

    /* CKM_RSA_PKCS_PSS signs a hash the caller computed. */
    unsigned char hash[64];
    assert_int_equal(EVP_Digest(message, MESSAGE_LEN, hash, NULL, EVP_sha512(), NULL), 1);
    mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &p512, sizeof(p512)};
    len = sign_and_self_check(&mech, &keys.rsa_priv, &keys.rsa_pub, hash, sizeof(hash), sig);
    verify_pss(pub, "SHA512", "SHA512", 64, hash, sizeof(hash), true, sig, len);

    /* Verifying with another salt length fails. */
    mech_key key;
    load_key(&keys.rsa_pub, &key);
    CK_RSA_PKCS_PSS_PARAMS other_salt = {CKM_SHA512, CKG_MGF1_SHA512, 20};
    CK_MECHANISM other = {CKM_RSA_PKCS_PSS, &other_salt, sizeof(other_salt)};
    assert_int_equal(run_verify(&mech_table_sign, &other, &key, hash, sizeof(hash), sig, len),
                     CKR_SIGNATURE_INVALID);
    /* The input must be exactly one hash long. */
    assert_int_equal(run_verify(&mech_table_sign, &mech, &key, hash, 32, sig, len),
                     CKR_DATA_LEN_RANGE);
    mech_key_free(&key);
    load_key(&keys.rsa_priv, &key);
    size_t sig_len = sizeof(sig);
    assert_int_equal(run_sign(&mech_table_sign, &mech, &key, hash, 63, sig, &sig_len),
                     CKR_DATA_LEN_RANGE);
    mech_key_free(&key);
    EVP_PKEY_free(pub);
}

static void rsa_pss_bad_params(void **state)
{
    (void)state;
    mech_key key;
    load_key(&keys.rsa_priv, &key);
    const mech_row *row = row_of(&mech_table_sign, CKM_SHA256_RSA_PKCS_PSS);
    void *st = NULL;
    static const CK_RSA_PKCS_PSS_PARAMS bad[] = {
        {CKM_SHA384, CKG_MGF1_SHA256, 32},  /* hash is not the mechanism's */
        {CKM_SHA256, 0x999, 32},            /* unknown MGF */
        {CKM_SHA256, CKG_MGF1_SHA256, 223}, /* salt too long for 2048 bits: max 256 − 32 − 2 */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS_PSS, (void *)&bad[i], sizeof(bad[i])};
        assert_int_equal(row->ops->init(&mech, &key, MECH_SIGN, NULL, &st),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    CK_RSA_PKCS_PSS_PARAMS max_salt = {CKM_SHA256, CKG_MGF1_SHA256, 222};
    CK_MECHANISM mech = {CKM_SHA256_RSA_PKCS_PSS, &max_salt, sizeof(max_salt)};
    assert_int_equal(row->ops->init(&mech, &key, MECH_SIGN, NULL, &st), CKR_OK);
    row->ops->free(st);
    mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, NULL, 0};
    assert_int_equal(row->ops->init(&mech, &key, MECH_SIGN, NULL, &st),
                     CKR_MECHANISM_PARAM_INVALID);
    mech = (CK_MECHANISM){CKM_SHA256_RSA_PKCS_PSS, &max_salt, sizeof(max_salt) - 1};
    assert_int_equal(row->ops->init(&mech, &key, MECH_SIGN, NULL, &st),
                     CKR_MECHANISM_PARAM_INVALID);
    CK_RSA_PKCS_PSS_PARAMS unknown_hash = {CKM_MD5, CKG_MGF1_SHA256, 0};
    mech = (CK_MECHANISM){CKM_RSA_PKCS_PSS, &unknown_hash, sizeof(unknown_hash)};
    assert_int_equal(
        row_of(&mech_table_sign, CKM_RSA_PKCS_PSS)->ops->init(&mech, &key, MECH_SIGN, NULL, &st),
        CKR_MECHANISM_PARAM_INVALID);
    mech_key_free(&key);
}

/* r ‖ s → DER, done here with OpenSSL to check the row's encoding. */
static size_t raw_to_der(const unsigned char *sig, size_t len, unsigned char *der)
{
    ECDSA_SIG *s = ECDSA_SIG_new();
    assert_int_equal(ECDSA_SIG_set0(s, BN_bin2bn(sig, (int)len / 2, NULL),
                                    BN_bin2bn(sig + len / 2, (int)len / 2, NULL)),
                     1);
    unsigned char *p = der;
    int der_len = i2d_ECDSA_SIG(s, &p);
    ECDSA_SIG_free(s);
    assert_true(der_len > 0);
    return (size_t)der_len;
}

static void ecdsa_hashed(void **state)
{
    (void)state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *md;
    } cases[] = {
        {CKM_ECDSA_SHA1, "SHA1"},     {CKM_ECDSA_SHA224, "SHA224"}, {CKM_ECDSA_SHA256, "SHA256"},
        {CKM_ECDSA_SHA384, "SHA384"}, {CKM_ECDSA_SHA512, "SHA512"},
    };
    for (size_t c = 0; c < 3; c++) {
        EVP_PKEY *pub = independent_public_key(&keys.ec_pub[c]);
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            CK_MECHANISM mech = {cases[i].mech, NULL, 0};
            unsigned char sig[1024], der[256];
            size_t len = sign_and_self_check(&mech, &keys.ec_priv[c], &keys.ec_pub[c], message,
                                             MESSAGE_LEN, sig);
            assert_int_equal(len, 2 * curves[c].field_bytes);
            size_t der_len = raw_to_der(sig, len, der);
            EVP_MD_CTX *ctx = EVP_MD_CTX_new();
            assert_int_equal(EVP_DigestVerifyInit_ex(ctx, NULL, cases[i].md, NULL, NULL, pub, NULL),
                             1);
            assert_int_equal(EVP_DigestVerify(ctx, der, der_len, message, MESSAGE_LEN), 1);
            EVP_MD_CTX_free(ctx);
        }
        EVP_PKEY_free(pub);
    }
}

static void ecdsa_raw(void **state)
{
    (void)state;
    /* A SHA-512 hash on P-256 is truncated to the order's 256 bits (SEC 1
     * §4.1.3); a SHA-1 hash on P-521 is used whole. */
    unsigned char hash[64];
    assert_int_equal(EVP_Digest(message, MESSAGE_LEN, hash, NULL, EVP_sha512(), NULL), 1);
    const size_t lengths[] = {64, 20, 20};
    const size_t curve_index[] = {0, 2, 1};
    for (size_t i = 0; i < 3; i++) {
        size_t c = curve_index[i];
        CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
        unsigned char sig[1024], der[256];
        size_t len =
            sign_and_self_check(&mech, &keys.ec_priv[c], &keys.ec_pub[c], hash, lengths[i], sig);
        assert_int_equal(len, 2 * curves[c].field_bytes);
        size_t der_len = raw_to_der(sig, len, der);
        EVP_PKEY *pub = independent_public_key(&keys.ec_pub[c]);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
        assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
        assert_int_equal(EVP_PKEY_verify(ctx, der, der_len, hash, lengths[i]), 1);
        EVP_PKEY_CTX_free(ctx);
        EVP_PKEY_free(pub);
    }
    /* r = 0 is never valid. */
    unsigned char zero[64] = {0};
    mech_key key;
    CK_MECHANISM mech = {CKM_ECDSA, NULL, 0};
    load_key(&keys.ec_pub[0], &key);
    assert_int_equal(run_verify(&mech_table_sign, &mech, &key, hash, 32, zero, 64),
                     CKR_SIGNATURE_INVALID);
    mech_key_free(&key);
}

static void eddsa(void **state)
{
    (void)state;
    /* RFC 8032 §7.1 test 1: the empty message. */
    unsigned char secret[32], expected[64], sig[64];
    from_hex(RFC8032_SECRET, secret);
    from_hex(RFC8032_SIGNATURE, expected);
    attr_list priv;
    attr_list_init(&priv);
    assert_int_equal(attr_list_set_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
    assert_int_equal(attr_list_set_ulong(&priv, CKA_KEY_TYPE, CKK_EC_EDWARDS), CKR_OK);
    assert_int_equal(
        attr_list_set(&priv, CKA_EC_PARAMS, name_edwards25519, sizeof(name_edwards25519)), CKR_OK);
    assert_int_equal(attr_list_set(&priv, CKA_VALUE, secret, 32), CKR_OK);
    mech_key key;
    load_key(&priv, &key);
    CK_MECHANISM mech = {CKM_EDDSA, NULL, 0};
    size_t len = sizeof(sig);
    assert_int_equal(run_sign(&mech_table_sign, &mech, &key, "", 0, sig, &len), CKR_OK);
    assert_int_equal(len, 64);
    assert_memory_equal(sig, expected, 64);
    mech_key_free(&key);
    attr_list_free(&priv);

    /* A generated pair, with and without CK_EDDSA_PARAMS. */
    CK_EDDSA_PARAMS plain = {CK_FALSE, 0, NULL};
    CK_MECHANISM variants[] = {{CKM_EDDSA, NULL, 0}, {CKM_EDDSA, &plain, sizeof(plain)}};
    EVP_PKEY *pub = independent_public_key(&keys.ed_pub);
    for (size_t i = 0; i < 2; i++) {
        unsigned char out[1024];
        len = sign_and_self_check(&variants[i], &keys.ed_priv, &keys.ed_pub, message, MESSAGE_LEN,
                                  out);
        assert_int_equal(len, 64);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub), 1);
        assert_int_equal(EVP_DigestVerify(ctx, out, len, message, MESSAGE_LEN), 1);
        EVP_MD_CTX_free(ctx);
    }
    EVP_PKEY_free(pub);

    /* Ed25519ph and Ed25519ctx are not offered. */
    unsigned char context[] = "ctx";
    CK_EDDSA_PARAMS prehash = {CK_TRUE, 0, NULL}, with_context = {CK_FALSE, 3, context};
    CK_MECHANISM bad[] = {
        {CKM_EDDSA, &prehash, sizeof(prehash)},
        {CKM_EDDSA, &with_context, sizeof(with_context)},
        {CKM_EDDSA, &plain, sizeof(plain) - 1},
    };
    load_key(&keys.ed_priv, &key);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = sizeof(sig);
        assert_int_equal(run_sign(&mech_table_sign, &bad[i], &key, "", 0, sig, &len),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    mech_key_free(&key);
}

static void hmac_vectors(void **state)
{
    (void)state;
    /* RFC 4231 test cases 1 and 2; RFC 2202 for SHA-1. */
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *case1, *case2;
    } cases[] = {
        {CKM_SHA_1_HMAC, "b617318655057264e28bc0b6fb378c8ef146be00",
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"},
        {CKM_SHA224_HMAC, "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
         "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44"},
        {CKM_SHA256_HMAC, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
        {CKM_SHA384_HMAC,
         "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8"
         "b2fa9cb6",
         "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ec"
         "fab21649"},
        {CKM_SHA512_HMAC,
         "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274e"
         "aea3f4e4be9d914eeb61f1702e696c203a126854",
         "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65"
         "f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"},
    };
    unsigned char key1[20];
    memset(key1, 0x0b, sizeof(key1));
    attr_list attrs1, attrs2;
    secret_attrs(&attrs1, CKK_GENERIC_SECRET, key1, sizeof(key1));
    secret_attrs(&attrs2, CKK_SHA256_HMAC, "Jefe", 4);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_MECHANISM mech = {cases[i].mech, NULL, 0};
        unsigned char expected[64], mac[1024];
        size_t expected_len = from_hex(cases[i].case1, expected);
        size_t len = sign_and_self_check(&mech, &attrs1, &attrs1, "Hi There", 8, mac);
        assert_int_equal(len, expected_len);
        assert_memory_equal(mac, expected, len);
        expected_len = from_hex(cases[i].case2, expected);
        len = sign_and_self_check(&mech, &attrs2, &attrs2, "what do ya want for nothing?", 28, mac);
        assert_int_equal(len, expected_len);
        assert_memory_equal(mac, expected, len);
    }
    attr_list_free(&attrs1);
    attr_list_free(&attrs2);
}

static void cmac_vectors(void **state)
{
    (void)state;
    /* RFC 4493 §4, examples 1–4. */
    unsigned char key[16], msg[64], expected[16], mac[1024];
    from_hex("2b7e151628aed2a6abf7158809cf4f3c", key);
    from_hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
             "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
             msg);
    static const struct {
        size_t len;
        const char *mac;
    } examples[] = {
        {0, "bb1d6929e95937287fa37d129b756746"},
        {16, "070a16b46b4d4144f79bdd9dd04a287c"},
        {40, "dfa66747de9ae63030ca32611497c827"},
        {64, "51f0bebf7e3b9d92fc49741779363cfe"},
    };
    attr_list attrs;
    secret_attrs(&attrs, CKK_AES, key, sizeof(key));
    CK_MECHANISM mech = {CKM_AES_CMAC, NULL, 0};
    for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
        from_hex(examples[i].mac, expected);
        size_t len = sign_and_self_check(&mech, &attrs, &attrs, msg, examples[i].len, mac);
        assert_int_equal(len, 16);
        assert_memory_equal(mac, expected, 16);
    }
    attr_list_free(&attrs);

    /* AES-256 against EVP_MAC directly. */
    unsigned char key256[32], direct[16];
    memset(key256, 0x5a, sizeof(key256));
    secret_attrs(&attrs, CKK_AES, key256, sizeof(key256));
    size_t len = sign_and_self_check(&mech, &attrs, &attrs, msg, sizeof(msg), mac);
    EVP_MAC *cmac = EVP_MAC_fetch(NULL, "CMAC", NULL);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(cmac);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_CIPHER, "AES-256-CBC", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t direct_len = 0;
    assert_int_equal(EVP_MAC_init(ctx, key256, sizeof(key256), params), 1);
    assert_int_equal(EVP_MAC_update(ctx, msg, sizeof(msg)), 1);
    assert_int_equal(EVP_MAC_final(ctx, direct, &direct_len, sizeof(direct)), 1);
    assert_int_equal(len, direct_len);
    assert_memory_equal(mac, direct, len);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(cmac);
    attr_list_free(&attrs);
}

static CK_RV init_with(CK_MECHANISM_TYPE type, const attr_list *attrs, mech_op_kind kind)
{
    CK_MECHANISM mech = {type, NULL, 0};
    mech_key key;
    load_key(attrs, &key);
    void *st = NULL;
    const mech_row *row = row_of(&mech_table_sign, type);
    CK_RV rv = row->ops->init(&mech, &key, kind, NULL, &st);
    if (rv == CKR_OK)
        row->ops->free(st);
    mech_key_free(&key);
    return rv;
}

static void wrong_keys(void **state)
{
    (void)state;
    attr_list aes, generic, short_aes;
    unsigned char bytes[32] = {1};
    secret_attrs(&aes, CKK_AES, bytes, 16);
    secret_attrs(&generic, CKK_GENERIC_SECRET, bytes, 32);
    secret_attrs(&short_aes, CKK_GENERIC_SECRET, bytes, 20);

    assert_int_equal(init_with(CKM_ECDSA_SHA256, &keys.rsa_priv, MECH_SIGN),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_SHA256_RSA_PKCS, &keys.ec_priv[0], MECH_SIGN),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_EDDSA, &keys.ec_priv[0], MECH_SIGN), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_ECDSA, &keys.ed_pub, MECH_VERIFY), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_SHA256_HMAC, &aes, MECH_SIGN), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_SHA256_HMAC, &keys.rsa_priv, MECH_SIGN),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_AES_CMAC, &generic, MECH_SIGN), CKR_KEY_TYPE_INCONSISTENT);
    /* keyconv.c already refuses an AES key of 20 bytes; check the row on its own. */
    {
        mech_key key;
        load_key(&short_aes, &key);
        key.type = CKK_AES;
        CK_MECHANISM mech = {CKM_AES_CMAC, NULL, 0};
        void *st = NULL;
        assert_int_equal(
            row_of(&mech_table_sign, CKM_AES_CMAC)->ops->init(&mech, &key, MECH_SIGN, NULL, &st),
            CKR_KEY_SIZE_RANGE);
        mech_key_free(&key);
    }
    assert_int_equal(init_with(CKM_SHA256_RSA_PKCS, &keys.rsa_pub, MECH_SIGN),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(init_with(CKM_SHA256_RSA_PKCS, &keys.rsa_pub, MECH_VERIFY), CKR_OK);
    assert_int_equal(init_with(CKM_SHA256_HMAC, &generic, MECH_VERIFY), CKR_OK);

    /* A parameter where none is expected. */
    CK_ULONG junk = 0;
    CK_MECHANISM with_param[] = {{CKM_RSA_PKCS, &junk, sizeof(junk)},
                                 {CKM_ECDSA_SHA256, &junk, sizeof(junk)},
                                 {CKM_SHA256_HMAC, &junk, sizeof(junk)}};
    const attr_list *param_keys[] = {&keys.rsa_priv, &keys.ec_priv[0], &generic};
    for (size_t i = 0; i < 3; i++) {
        mech_key key;
        void *st = NULL;
        load_key(param_keys[i], &key);
        assert_int_equal(row_of(&mech_table_sign, with_param[i].mechanism)
                             ->ops->init(&with_param[i], &key, MECH_SIGN, NULL, &st),
                         CKR_MECHANISM_PARAM_INVALID);
        mech_key_free(&key);
    }
    attr_list_free(&aes);
    attr_list_free(&generic);
    attr_list_free(&short_aes);
}

/* RSA keys outside 1024..4096 bits, built with OpenSSL and imported. */
static void rsa_key_sizes(void **state)
{
    (void)state;
    const size_t sizes[] = {512, 1024};
    const CK_RV expected[] = {CKR_KEY_SIZE_RANGE, CKR_OK};
    for (size_t i = 0; i < 2; i++) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", sizes[i]);
        attr_list priv;
        attr_list_init(&priv);
        assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);
        assert_int_equal(attr_list_set_ulong(&priv, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
        assert_int_equal(init_with(CKM_SHA256_RSA_PKCS, &priv, MECH_SIGN), expected[i]);
        attr_list_free(&priv);
        EVP_PKEY_free(pkey);
    }
}

/* The core passes NULL for empty data. */
static void empty_inputs(void **state)
{
    (void)state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        const attr_list *priv, *pub;
    } cases[] = {
        {CKM_SHA256_RSA_PKCS, &keys.rsa_priv, &keys.rsa_pub},
        {CKM_ECDSA, &keys.ec_priv[0], &keys.ec_pub[0]},
        {CKM_ECDSA_SHA384, &keys.ec_priv[1], &keys.ec_pub[1]},
        {CKM_EDDSA, &keys.ed_priv, &keys.ed_pub},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_MECHANISM mech = {cases[i].mech, NULL, 0};
        unsigned char sig[1024];
        sign_and_self_check(&mech, cases[i].priv, cases[i].pub, NULL, 0, sig);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_shape),        cmocka_unit_test(rsa_pkcs_hashed),
        cmocka_unit_test(rsa_pkcs_raw),       cmocka_unit_test(rsa_pss),
        cmocka_unit_test(rsa_pss_bad_params), cmocka_unit_test(ecdsa_hashed),
        cmocka_unit_test(ecdsa_raw),          cmocka_unit_test(eddsa),
        cmocka_unit_test(hmac_vectors),       cmocka_unit_test(cmac_vectors),
        cmocka_unit_test(wrong_keys),         cmocka_unit_test(rsa_key_sizes),
        cmocka_unit_test(empty_inputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
