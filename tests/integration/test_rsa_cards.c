/*
 * RSA as cards use it (docs/spec.md "RSA as cards use it"): 1024-bit key
 * pairs with e = 3 or 65537 under a configurable minimum (rsa_min_bits),
 * CKM_RSA_X_509 and signatures with message recovery (C_SignRecover,
 * C_VerifyRecover) for CKM_RSA_X_509 and CKM_RSA_PKCS, through the built
 * module.  Every result is checked with OpenSSL on the public key read
 * back from the token; tests/integration/rsa-cards.sh checks the same
 * with the openssl command line.
 *
 * Two key pairs are made once for the whole group (RSA generation is
 * slow under valgrind): A with e = 3 and CKA_SIGN_RECOVER, B with e =
 * 65537 and the defaults but extractable.  The last test restarts the module with a raised
 * minimum and finds them again (token objects).
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#define K 128 /* bytes of a 1024-bit modulus */
#define RECOVER (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER)
#define SIGN_VERIFY (CKF_SIGN | CKF_VERIFY)
#define CRYPT (CKF_ENCRYPT | CKF_DECRYPT)

static CK_MECHANISM x509 = {CKM_RSA_X_509, NULL_PTR, 0};
static CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL_PTR, 0};

/* The group's keys. */
static CK_OBJECT_HANDLE pub_a, priv_a, pub_b, priv_b;

static CK_RV generate(CK_SESSION_HANDLE s, CK_ULONG bits, const void *e, CK_ULONG e_len,
                      CK_BBOOL sign_recover, const char *label, CK_OBJECT_HANDLE *pub,
                      CK_OBJECT_HANDLE *priv)
{
    CK_BBOOL extractable = !sign_recover; /* B: wrapped in imports() */
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL_PTR, 0};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, (void *)e, e_len},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, (CK_ULONG)strlen(label)},
        {CKA_SIGN_RECOVER, &sign_recover, sizeof(sign_recover)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
    };
    return fx_functions()->C_GenerateKeyPair(s, &mech, pub_tmpl, e ? 4 : 3, priv_tmpl, 4, pub,
                                             priv);
}

static int group_setup(void **state)
{
    if (fx_setup_user(state) != 0)
        return -1;
    fx *t = *state;
    if (generate(t->session, 1024, "\x03", 1, CK_TRUE, "card-a", &pub_a, &priv_a) != CKR_OK ||
        generate(t->session, 1024, "\x01\x00\x01", 3, CK_FALSE, "card-b", &pub_b, &priv_b) !=
            CKR_OK) {
        fprintf(stderr, "setup: 1024-bit key pairs\n");
        return -1;
    }
    return 0;
}

static size_t get_bytes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
                        unsigned char *out, size_t max)
{
    CK_ATTRIBUTE a = {type, out, (CK_ULONG)max};
    assert_rv(fx_functions()->C_GetAttributeValue(s, o, &a, 1), CKR_OK);
    return a.ulValueLen;
}

/* The token's public key as OpenSSL sees it, from CKA_MODULUS and
 * CKA_PUBLIC_EXPONENT. */
static EVP_PKEY *public_key(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub)
{
    unsigned char n[512], e[8];
    size_t n_len = get_bytes(s, pub, CKA_MODULUS, n, sizeof(n));
    size_t e_len = get_bytes(s, pub, CKA_PUBLIC_EXPONENT, e, sizeof(e));
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_bin2bn(e, (int)e_len, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    assert_non_null(bld);
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    assert_true(EVP_PKEY_fromdata_init(ctx) > 0);
    assert_true(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
    return pkey;
}

/* OpenSSL's public RSA operation on k bytes: raw (x^e mod n) or a
 * PKCS #1 v1.5 signature's recovered data.  Returns the length. */
static size_t openssl_public(EVP_PKEY *pkey, int padding, const unsigned char *in,
                             unsigned char *out)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    size_t len = K;
    assert_true(EVP_PKEY_verify_recover_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, padding) > 0);
    assert_true(EVP_PKEY_verify_recover(ctx, out, &len, in, K) > 0);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

/* data left-padded with zeros to k bytes (PKCS#11 3.0 §2.1.7). */
static void padded(const unsigned char *data, size_t len, unsigned char *block)
{
    memset(block, 0, K - len);
    memcpy(block + K - len, data, len);
}

static void mechanism_info(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_FLAGS flags; /* exactly */
    } expected[] = {
        {CKM_RSA_X_509, CKF_HW | CRYPT | SIGN_VERIFY | RECOVER},
        {CKM_RSA_PKCS, CKF_HW | CRYPT | SIGN_VERIFY | RECOVER},
        {CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_HW | CKF_GENERATE_KEY_PAIR},
        {CKM_RSA_PKCS_OAEP, CKF_HW | CRYPT | CKF_WRAP | CKF_UNWRAP},
        {CKM_SHA256_RSA_PKCS, CKF_HW | SIGN_VERIFY},
    };
    CK_MECHANISM_TYPE list[512];
    CK_ULONG count = 512;
    assert_rv(f->C_GetMechanismList(t->slot, list, &count), CKR_OK);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        bool listed = false;
        for (CK_ULONG j = 0; j < count; j++)
            listed |= list[j] == expected[i].type;
        assert_true(listed);
        CK_MECHANISM_INFO info;
        assert_rv(f->C_GetMechanismInfo(t->slot, expected[i].type, &info), CKR_OK);
        assert_int_equal(info.flags, expected[i].flags);
        assert_int_equal(info.ulMinKeySize, 1024);
        assert_int_equal(info.ulMaxKeySize, 4096);
    }
    /* Recovery is RSA's alone. */
    CK_MECHANISM_INFO info;
    assert_rv(f->C_GetMechanismInfo(t->slot, CKM_ECDSA, &info), CKR_OK);
    assert_int_equal(info.flags & RECOVER, 0);
}

static void key_pairs(void **state)
{
    fx *t = *state;
    unsigned char e[8];
    assert_int_equal(fx_get_ulong(t->session, pub_a, CKA_MODULUS_BITS), 1024);
    assert_int_equal(get_bytes(t->session, pub_a, CKA_PUBLIC_EXPONENT, e, sizeof(e)), 1);
    assert_int_equal(e[0], 3);
    assert_int_equal(get_bytes(t->session, pub_b, CKA_PUBLIC_EXPONENT, e, sizeof(e)), 3);
    assert_memory_equal(e, "\x01\x00\x01", 3);
    assert_true(fx_get_bool(t->session, priv_a, CKA_SIGN_RECOVER));
    assert_false(fx_get_bool(t->session, priv_b, CKA_SIGN_RECOVER)); /* the default */
    assert_true(fx_get_bool(t->session, pub_b, CKA_VERIFY_RECOVER));

    /* Sizes and exponents refused before any key is made. */
    CK_OBJECT_HANDLE pub, priv;
    const CK_ULONG bad_bits[] = {512, 1023, 4097};
    for (size_t i = 0; i < 3; i++)
        assert_rv(generate(t->session, bad_bits[i], NULL, 0, CK_FALSE, "x", &pub, &priv),
                  CKR_KEY_SIZE_RANGE);
    const struct {
        const char *e;
        CK_ULONG len;
    } bad_e[] = {{"\x11", 1}, {"\x01", 1}, {"\x01\x00\x03", 3}, {"\x01\x00\x00\x01", 4}, {"", 0}};
    for (size_t i = 0; i < sizeof(bad_e) / sizeof(bad_e[0]); i++)
        assert_rv(generate(t->session, 1024, bad_e[i].e, bad_e[i].len, CK_FALSE, "x", &pub, &priv),
                  CKR_ATTRIBUTE_VALUE_INVALID);
}

static CK_RV encrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const void *in, CK_ULONG len,
                     unsigned char *out, CK_ULONG *out_len)
{
    CK_RV rv = fx_functions()->C_EncryptInit(s, &x509, key);
    return rv != CKR_OK ? rv : fx_functions()->C_Encrypt(s, (CK_BYTE_PTR)in, len, out, out_len);
}

static CK_RV decrypt(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const void *in, CK_ULONG len,
                     unsigned char *out, CK_ULONG *out_len)
{
    CK_RV rv = fx_functions()->C_DecryptInit(s, &x509, key);
    return rv != CKR_OK ? rv : fx_functions()->C_Decrypt(s, (CK_BYTE_PTR)in, len, out, out_len);
}

static CK_RV sign(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE key, const void *in,
                  CK_ULONG len, unsigned char *out, CK_ULONG *out_len)
{
    CK_RV rv = fx_functions()->C_SignInit(s, mech, key);
    return rv != CKR_OK ? rv : fx_functions()->C_Sign(s, (CK_BYTE_PTR)in, len, out, out_len);
}

static CK_RV verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const void *in, CK_ULONG len,
                    const unsigned char *sig, CK_ULONG sig_len)
{
    CK_RV rv = fx_functions()->C_VerifyInit(s, &x509, key);
    return rv != CKR_OK
               ? rv
               : fx_functions()->C_Verify(s, (CK_BYTE_PTR)in, len, (CK_BYTE_PTR)sig, sig_len);
}

static CK_RV sign_recover(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                          const void *in, CK_ULONG len, unsigned char *out, CK_ULONG *out_len)
{
    CK_RV rv = fx_functions()->C_SignRecoverInit(s, mech, key);
    return rv != CKR_OK ? rv : fx_functions()->C_SignRecover(s, (CK_BYTE_PTR)in, len, out, out_len);
}

static CK_RV verify_recover(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                            const unsigned char *sig, CK_ULONG sig_len, unsigned char *out,
                            CK_ULONG *out_len)
{
    CK_RV rv = fx_functions()->C_VerifyRecoverInit(s, mech, key);
    return rv != CKR_OK
               ? rv
               : fx_functions()->C_VerifyRecover(s, (CK_BYTE_PTR)sig, sig_len, out, out_len);
}

/* CKM_RSA_X_509: the card's outputs are OpenSSL's raw RSA on the padded input. */
static void x509_round_trips(void **state)
{
    fx *t = *state;
    EVP_PKEY *pkey = public_key(t->session, pub_a);
    const unsigned char data[] = "card data, shorter than the modulus";
    unsigned char block[K], out[K], back[K], check[K];
    padded(data, sizeof(data), block);

    CK_ULONG len = sizeof(out);
    assert_rv(encrypt(t->session, pub_a, data, sizeof(data), out, &len), CKR_OK);
    assert_int_equal(len, K);
    assert_int_equal(openssl_public(pkey, RSA_NO_PADDING, block, check), K); /* m^e mod n */
    assert_memory_equal(check, out, K);
    CK_ULONG back_len = sizeof(back);
    assert_rv(decrypt(t->session, priv_a, out, len, back, &back_len), CKR_OK);
    assert_int_equal(back_len, K);
    assert_memory_equal(back, block, K);

    len = sizeof(out);
    assert_rv(sign(t->session, &x509, priv_a, data, sizeof(data), out, &len), CKR_OK);
    assert_int_equal(len, K);
    assert_int_equal(openssl_public(pkey, RSA_NO_PADDING, out, check), K);
    assert_memory_equal(check, block, K); /* s^e = padded data */
    assert_rv(verify(t->session, pub_a, data, sizeof(data), out, K), CKR_OK);
    assert_rv(verify(t->session, pub_a, block, K, out, K), CKR_OK); /* the same integer */
    assert_rv(verify(t->session, pub_a, data, sizeof(data) - 1, out, K), CKR_SIGNATURE_INVALID);
    assert_rv(verify(t->session, pub_b, data, sizeof(data), out, K), CKR_SIGNATURE_INVALID);
    assert_rv(verify(t->session, pub_a, data, sizeof(data), out, K - 1), CKR_SIGNATURE_LEN_RANGE);

    /* Single-part only. */
    assert_rv(t->f->C_SignInit(t->session, &x509, priv_a), CKR_OK);
    assert_rv(t->f->C_SignUpdate(t->session, (CK_BYTE_PTR)data, 4), CKR_FUNCTION_NOT_SUPPORTED);
    EVP_PKEY_free(pkey);
}

/* Sign-recover then verify-recover, both mechanisms; OpenSSL recovers the same. */
static void recovery(void **state)
{
    fx *t = *state;
    EVP_PKEY *pkey = public_key(t->session, pub_a);
    const unsigned char data[20] = "a 20-byte hash value";
    unsigned char sig[K], out[K], check[K], block[K];
    CK_ULONG sig_len = sizeof(sig), out_len = sizeof(out);

    assert_rv(sign_recover(t->session, &pkcs, priv_a, data, sizeof(data), sig, &sig_len), CKR_OK);
    assert_int_equal(sig_len, K);
    assert_int_equal(openssl_public(pkey, RSA_PKCS1_PADDING, sig, check), sizeof(data));
    assert_memory_equal(check, data, sizeof(data));
    CK_ULONG plain_len = sizeof(out);
    assert_rv(sign(t->session, &pkcs, priv_a, data, sizeof(data), out, &plain_len), CKR_OK);
    assert_memory_equal(out, sig, K); /* the signature C_Sign makes */
    assert_rv(verify_recover(t->session, &pkcs, pub_a, sig, K, out, &out_len), CKR_OK);
    assert_int_equal(out_len, sizeof(data));
    assert_memory_equal(out, data, sizeof(data));
    /* The wrong key (or a changed signature) breaks the padding. */
    out_len = sizeof(out);
    assert_rv(verify_recover(t->session, &pkcs, pub_b, sig, K, out, &out_len),
              CKR_SIGNATURE_INVALID);
    sig[K - 1] ^= 1;
    out_len = sizeof(out);
    assert_rv(verify_recover(t->session, &pkcs, pub_a, sig, K, out, &out_len),
              CKR_SIGNATURE_INVALID);

    sig_len = sizeof(sig);
    assert_rv(sign_recover(t->session, &x509, priv_a, data, sizeof(data), sig, &sig_len), CKR_OK);
    assert_int_equal(sig_len, K);
    padded(data, sizeof(data), block);
    assert_int_equal(openssl_public(pkey, RSA_NO_PADDING, sig, check), K);
    assert_memory_equal(check, block, K);
    out_len = sizeof(out);
    assert_rv(verify_recover(t->session, &x509, pub_a, sig, K, out, &out_len), CKR_OK);
    assert_int_equal(out_len, K);
    assert_memory_equal(out, block, K);
    /* Raw RSA cannot tell a wrong key: it recovers another integer. */
    out_len = sizeof(out);
    CK_RV rv = verify_recover(t->session, &x509, pub_b, sig, K, out, &out_len);
    assert_true(rv == CKR_SIGNATURE_INVALID || (rv == CKR_OK && memcmp(out, block, K) != 0));
    EVP_PKEY_free(pkey);
}

/* Inputs too long, or not below the modulus; the operation ends on them. */
static void bad_inputs(void **state)
{
    fx *t = *state;
    unsigned char ones[K + 1], out[K];
    memset(ones, 0xff, sizeof(ones));
    CK_ULONG len = sizeof(out);
    assert_rv(encrypt(t->session, pub_a, ones, K + 1, out, &len), CKR_DATA_LEN_RANGE);
    assert_rv(t->f->C_Encrypt(t->session, ones, 1, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(encrypt(t->session, pub_a, ones, K, out, &len), CKR_DATA_INVALID);
    assert_rv(sign(t->session, &x509, priv_a, ones, K, out, &len), CKR_DATA_INVALID);
    assert_rv(sign(t->session, &x509, priv_a, ones, K + 1, out, &len), CKR_DATA_LEN_RANGE);
    assert_rv(sign_recover(t->session, &x509, priv_a, ones, K, out, &len), CKR_DATA_INVALID);
    assert_rv(sign_recover(t->session, &pkcs, priv_a, ones, K - 10, out, &len), CKR_DATA_LEN_RANGE);
    assert_rv(sign_recover(t->session, &pkcs, priv_a, ones, 0, out, &len), CKR_DATA_LEN_RANGE);
    assert_rv(t->f->C_SignRecover(t->session, ones, 1, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(decrypt(t->session, priv_a, ones, K - 1, out, &len), CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_rv(decrypt(t->session, priv_a, ones, K, out, &len), CKR_ENCRYPTED_DATA_INVALID);
    assert_rv(verify(t->session, pub_a, ones, K, ones, K), CKR_DATA_INVALID);
    assert_rv(verify(t->session, pub_a, "x", 1, ones, K), CKR_SIGNATURE_INVALID);
    assert_rv(verify_recover(t->session, &x509, pub_a, ones, K, out, &len), CKR_SIGNATURE_INVALID);
    assert_rv(verify_recover(t->session, &pkcs, pub_a, ones, K + 1, out, &len),
              CKR_SIGNATURE_LEN_RANGE);
    assert_rv(verify_recover(t->session, &pkcs, pub_a, ones, K - 1, out, &len),
              CKR_SIGNATURE_LEN_RANGE);
}

/* PKCS#11 3.0 §5.2: NULL output asks the size, a short buffer gets
 * CKR_BUFFER_TOO_SMALL and the needed size; the operation goes on. */
static void buffer_lengths(void **state)
{
    fx *t = *state;
    const unsigned char data[] = "recovered message";
    unsigned char sig[K], out[K];
    CK_ULONG len = 0;
    assert_rv(t->f->C_SignRecoverInit(t->session, &pkcs, priv_a), CKR_OK);
    assert_rv(t->f->C_SignRecover(t->session, (CK_BYTE_PTR)data, sizeof(data), NULL, &len), CKR_OK);
    assert_int_equal(len, K);
    len = K - 1;
    assert_rv(t->f->C_SignRecover(t->session, (CK_BYTE_PTR)data, sizeof(data), sig, &len),
              CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, K);
    len = sizeof(sig);
    assert_rv(t->f->C_SignRecover(t->session, (CK_BYTE_PTR)data, sizeof(data), sig, &len), CKR_OK);
    assert_int_equal(len, K);
    assert_rv(t->f->C_SignRecover(t->session, (CK_BYTE_PTR)data, sizeof(data), sig, &len),
              CKR_OPERATION_NOT_INITIALIZED); /* ended by the answer */

    /* CKM_RSA_PKCS recovers at most k − 11 bytes: that is the size asked. */
    assert_rv(t->f->C_VerifyRecoverInit(t->session, &pkcs, pub_a), CKR_OK);
    len = 0;
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, NULL, &len), CKR_OK);
    assert_int_equal(len, K - 11);
    len = sizeof(data);
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, out, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, K - 11);
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, out, &len), CKR_OK);
    assert_int_equal(len, sizeof(data));
    assert_memory_equal(out, data, sizeof(data));

    assert_rv(t->f->C_VerifyRecoverInit(t->session, &x509, pub_a), CKR_OK);
    len = 0;
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, NULL, &len), CKR_OK);
    assert_int_equal(len, K);
    len = K - 1;
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, out, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, K);
    assert_rv(t->f3->C_SessionCancel(t->session, CKF_VERIFY_RECOVER), CKR_OK);
    assert_rv(t->f->C_VerifyRecover(t->session, sig, K, out, &len), CKR_OPERATION_NOT_INITIALIZED);
}

/* Key usage (docs/spec.md §7.2: sign-recover and verify-recover are
 * roles of their own), key classes, mechanisms and parameters. */
static void usage_and_keys(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    assert_rv(f->C_SignRecoverInit(t->session, &pkcs, priv_b), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_rv(f->C_SignRecoverInit(t->session, &x509, priv_b), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE off = {CKA_VERIFY_RECOVER, &no, sizeof(no)};
    assert_rv(f->C_SetAttributeValue(t->session, pub_b, &off, 1), CKR_OK);
    assert_rv(f->C_VerifyRecoverInit(t->session, &pkcs, pub_b), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_rv(f->C_VerifyInit(t->session, &x509, pub_b), CKR_OK); /* CKA_VERIFY is another role */
    assert_rv(t->f3->C_SessionCancel(t->session, CKF_VERIFY), CKR_OK);
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE on = {CKA_VERIFY_RECOVER, &yes, sizeof(yes)};
    assert_rv(f->C_SetAttributeValue(t->session, pub_b, &on, 1), CKR_OK);

    /* The other half of the pair has no such usage attribute. */
    assert_rv(f->C_SignRecoverInit(t->session, &x509, pub_a), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_rv(f->C_VerifyRecoverInit(t->session, &x509, priv_a), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_OBJECT_HANDLE aes;
    unsigned char value[16] = {0};
    assert_rv(fx_create_aes(t->session, "aes", false, true, false, value, 16, &aes), CKR_OK);
    assert_rv(f->C_EncryptInit(t->session, &x509, aes), CKR_KEY_TYPE_INCONSISTENT);

    CK_MECHANISM hashed = {CKM_SHA256_RSA_PKCS, NULL_PTR, 0};
    assert_rv(f->C_SignRecoverInit(t->session, &hashed, priv_a), CKR_MECHANISM_INVALID);
    CK_MECHANISM pss = {CKM_RSA_PKCS_PSS, NULL_PTR, 0};
    assert_rv(f->C_VerifyRecoverInit(t->session, &pss, pub_a), CKR_MECHANISM_INVALID);
    CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, NULL_PTR, 0};
    assert_rv(f->C_SignRecoverInit(t->session, &oaep, priv_a), CKR_MECHANISM_INVALID);
    CK_ULONG param = 0;
    CK_MECHANISM with_param = {CKM_RSA_X_509, &param, sizeof(param)};
    assert_rv(f->C_SignRecoverInit(t->session, &with_param, priv_a), CKR_MECHANISM_PARAM_INVALID);
    assert_rv(f->C_EncryptInit(t->session, &with_param, pub_a), CKR_MECHANISM_PARAM_INVALID);

    assert_rv(f->C_SignRecoverInit(t->session, &x509, priv_a), CKR_OK);
    assert_rv(f->C_SignRecoverInit(t->session, &x509, priv_a), CKR_OPERATION_ACTIVE);
    assert_rv(f->C_SignInit(t->session, &x509, priv_a), CKR_OK); /* another operation */
    assert_rv(t->f3->C_SessionCancel(t->session, CKF_SIGN | CKF_SIGN_RECOVER), CKR_OK);
}

static void null_pointers(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    unsigned char buf[K];
    CK_ULONG len = sizeof(buf);
    assert_rv(f->C_SignRecoverInit(t->session, NULL, priv_a), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_VerifyRecoverInit(t->session, NULL, pub_a), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_SignRecover(t->session, buf, 1, buf, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(f->C_VerifyRecover(t->session, buf, K, buf, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(f->C_SignRecoverInit(CK_INVALID_HANDLE, &x509, priv_a), CKR_SESSION_HANDLE_INVALID);
    assert_rv(f->C_SignRecoverInit(t->session, &x509, CK_INVALID_HANDLE), CKR_KEY_HANDLE_INVALID);

    assert_rv(f->C_SignRecoverInit(t->session, &x509, priv_a), CKR_OK);
    assert_rv(f->C_SignRecover(t->session, NULL, 5, buf, &len), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_SignRecoverInit(t->session, &x509, priv_a), CKR_OK);
    assert_rv(f->C_SignRecover(t->session, buf, 5, buf, NULL), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_VerifyRecoverInit(t->session, &pkcs, pub_a), CKR_OK);
    assert_rv(f->C_VerifyRecover(t->session, NULL, K, buf, &len), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_VerifyRecoverInit(t->session, &pkcs, pub_a), CKR_OK);
    assert_rv(f->C_VerifyRecover(t->session, buf, K, buf, NULL), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_VerifyRecover(t->session, buf, K, buf, &len), CKR_OPERATION_NOT_INITIALIZED);
}

static CK_RV import_public(CK_SESSION_HANDLE s, const unsigned char *n, size_t n_len,
                           CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE type = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_MODULUS, (void *)n, (CK_ULONG)n_len},
        {CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3},
    };
    return fx_functions()->C_CreateObject(s, tmpl, 4, out);
}

static CK_OBJECT_HANDLE token_kek(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    unsigned char value[32] = {1, 2, 3};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},    {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},    {CKA_WRAP, &yes, sizeof(yes)},
        {CKA_UNWRAP, &yes, sizeof(yes)},   {CKA_LABEL, "kek", 3},
        {CKA_VALUE, value, sizeof(value)},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 7, &h), CKR_OK);
    return h;
}

/* B's private key wrapped by the token key "kek" (imports()). */
static unsigned char wrapped_b[2048];
static CK_ULONG wrapped_b_len;
static CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL_PTR, 0};

static CK_RV unwrap_b(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE kek, CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_RSA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)}};
    return fx_functions()->C_UnwrapKey(s, &kwp, kek, wrapped_b, wrapped_b_len, tmpl, 2, out);
}

/* Imports follow the minimum too: a 512-bit key is refused. */
static void imports(void **state)
{
    fx *t = *state;
    unsigned char n[K];
    size_t n_len = get_bytes(t->session, pub_b, CKA_MODULUS, n, sizeof(n));
    CK_OBJECT_HANDLE h;
    assert_rv(import_public(t->session, n, n_len, &h), CKR_OK);
    assert_rv(t->f->C_DestroyObject(t->session, h), CKR_OK);
    /* The top half of a 1024-bit modulus is a 512-bit odd number: as a
     * modulus it is refused for its size alone. */
    unsigned char half[K / 2];
    memcpy(half, n, sizeof(half));
    half[sizeof(half) - 1] |= 1;
    assert_rv(import_public(t->session, half, sizeof(half), &h), CKR_ATTRIBUTE_VALUE_INVALID);

    CK_OBJECT_HANDLE kek = token_kek(t->session);
    wrapped_b_len = sizeof(wrapped_b);
    assert_rv(t->f->C_WrapKey(t->session, &kwp, kek, priv_b, wrapped_b, &wrapped_b_len), CKR_OK);
    assert_rv(unwrap_b(t->session, kek, &h), CKR_OK);
    assert_int_equal(fx_get_ulong(t->session, h, CKA_KEY_TYPE), CKK_RSA);
}

/* Runs last: restarts the module with rsa_min_bits = 2048. */
static void raised_minimum(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    setenv("SOFTSE_RSA_MIN_BITS", "2048", 1);
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(fx_open(t->slot, true, &t->session), CKR_OK);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);

    const CK_MECHANISM_TYPE rsa[] = {CKM_RSA_X_509, CKM_RSA_PKCS, CKM_RSA_PKCS_KEY_PAIR_GEN,
                                     CKM_RSA_PKCS_OAEP, CKM_SHA256_RSA_PKCS_PSS};
    for (size_t i = 0; i < sizeof(rsa) / sizeof(rsa[0]); i++) {
        CK_MECHANISM_INFO info;
        assert_rv(f->C_GetMechanismInfo(t->slot, rsa[i], &info), CKR_OK);
        assert_int_equal(info.ulMinKeySize, 2048);
    }
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(generate(t->session, 1024, "\x03", 1, CK_TRUE, "x", &pub, &priv), CKR_KEY_SIZE_RANGE);
    assert_rv(generate(t->session, 2047, NULL, 0, CK_TRUE, "x", &pub, &priv), CKR_KEY_SIZE_RANGE);

    /* The 1024-bit keys made before: still there, no longer used. */
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, "card-a", 6}};
    assert_int_equal(fx_find(t->session, find, 2, &priv, 1), 1);
    cls = CKO_PUBLIC_KEY;
    assert_int_equal(fx_find(t->session, find, 2, &pub, 1), 1);
    assert_rv(f->C_SignRecoverInit(t->session, &pkcs, priv), CKR_KEY_SIZE_RANGE);
    assert_rv(f->C_VerifyRecoverInit(t->session, &x509, pub), CKR_KEY_SIZE_RANGE);
    assert_rv(f->C_EncryptInit(t->session, &x509, pub), CKR_KEY_SIZE_RANGE);
    assert_rv(f->C_SignInit(t->session, &pkcs, priv), CKR_KEY_SIZE_RANGE);
    CK_MECHANISM sha256 = {CKM_SHA256_RSA_PKCS, NULL_PTR, 0};
    assert_rv(f->C_VerifyInit(t->session, &sha256, pub), CKR_KEY_SIZE_RANGE);
    assert_rv(f->C_DecryptInit(t->session, &pkcs, priv), CKR_KEY_SIZE_RANGE);
    unsigned char n[K];
    size_t n_len = get_bytes(t->session, pub, CKA_MODULUS, n, sizeof(n));
    CK_OBJECT_HANDLE h;
    assert_rv(import_public(t->session, n, n_len, &h), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_ATTRIBUTE find_kek[] = {{CKA_CLASS, &secret, sizeof(secret)}, {CKA_LABEL, "kek", 3}};
    CK_OBJECT_HANDLE kek;
    assert_int_equal(fx_find(t->session, find_kek, 2, &kek, 1), 1);
    assert_rv(unwrap_b(t->session, kek, &h), CKR_WRAPPED_KEY_INVALID);

    /* Lowering below 1024 bits, or nonsense, is a configuration error. */
    assert_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    const char *bad[] = {"512", "8192", "many"};
    fx_stderr_begin(t);
    for (size_t i = 0; i < 3; i++) {
        setenv("SOFTSE_RSA_MIN_BITS", bad[i], 1);
        assert_rv(f->C_Initialize(NULL_PTR), CKR_GENERAL_ERROR);
    }
    free(fx_stderr_end(t));
    unsetenv("SOFTSE_RSA_MIN_BITS");
    assert_rv(f->C_Initialize(NULL_PTR), CKR_OK);
}

int main(void)
{
    unsetenv("SOFTSE_RSA_MIN_BITS");
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mechanism_info),   cmocka_unit_test(key_pairs),
        cmocka_unit_test(x509_round_trips), cmocka_unit_test(recovery),
        cmocka_unit_test(bad_inputs),       cmocka_unit_test(buffer_lengths),
        cmocka_unit_test(usage_and_keys),   cmocka_unit_test(null_pointers),
        cmocka_unit_test(imports),          cmocka_unit_test(raised_minimum),
    };
    return cmocka_run_group_tests_name("rsa-cards", tests, group_setup, fx_teardown);
}
