/* mech_keygen.c: secret keys and key pairs, their attributes checked with plain OpenSSL. */
#include "mech_test.h"
#include "test_light.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <string.h>

static CK_RV generate_secret_key(CK_MECHANISM_TYPE type, const attr_list *tmpl, attr_list *out)
{
    const mech_row *row = row_of(&mech_table_keygen, type);
    assert_non_null(row);
    assert_true(row->info.flags & CKF_GENERATE);
    CK_MECHANISM mech = {type, NULL, 0};
    attr_list_init(out);
    return row->generate(&mech, tmpl, NULL, out);
}

static CK_RV secret_with_len(CK_MECHANISM_TYPE type, CK_ULONG len, attr_list *out)
{
    attr_list tmpl;
    attr_list_init(&tmpl);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, len), CKR_OK);
    CK_RV rv = generate_secret_key(type, &tmpl, out);
    attr_list_free(&tmpl);
    return rv;
}

static void assert_ulong_attr(const attr_list *attrs, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    CK_ULONG got = 0;
    assert_int_equal(attr_list_ulong(attrs, type, &got), CKR_OK);
    assert_int_equal(got, value);
}

static void aes_keys(void **state)
{
    (void)state;
    const CK_ULONG sizes[] = {16, 24, 32};
    for (size_t i = 0; i < 3; i++) {
        attr_list a, b;
        assert_int_equal(secret_with_len(CKM_AES_KEY_GEN, sizes[i], &a), CKR_OK);
        assert_int_equal(secret_with_len(CKM_AES_KEY_GEN, sizes[i], &b), CKR_OK);
        assert_ulong_attr(&a, CKA_KEY_TYPE, CKK_AES);
        assert_ulong_attr(&a, CKA_VALUE_LEN, sizes[i]);
        const CK_ATTRIBUTE *va = attr_list_find(&a, CKA_VALUE), *vb = attr_list_find(&b, CKA_VALUE);
        assert_int_equal(va->ulValueLen, sizes[i]);
        assert_memory_not_equal(va->pValue, vb->pValue, sizes[i]);
        attr_list_free(&a);
        attr_list_free(&b);
    }
}

static void aes_errors(void **state)
{
    (void)state;
    attr_list tmpl, out;
    attr_list_init(&tmpl);
    assert_int_equal(generate_secret_key(CKM_AES_KEY_GEN, &tmpl, &out), CKR_TEMPLATE_INCOMPLETE);
    attr_list_free(&out);
    const CK_ULONG bad[] = {0, 8, 20, 33, 64};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(secret_with_len(CKM_AES_KEY_GEN, bad[i], &out),
                         CKR_ATTRIBUTE_VALUE_INVALID);
        attr_list_free(&out);
    }
    assert_int_equal(attr_list_set(&tmpl, CKA_VALUE_LEN, "\x10", 1), CKR_OK);
    assert_int_equal(generate_secret_key(CKM_AES_KEY_GEN, &tmpl, &out),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list_free(&out);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, 16), CKR_OK);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, CKK_GENERIC_SECRET), CKR_OK);
    assert_int_equal(generate_secret_key(CKM_AES_KEY_GEN, &tmpl, &out), CKR_TEMPLATE_INCONSISTENT);
    attr_list_free(&out);
    attr_list_remove(&tmpl, CKA_KEY_TYPE);
    CK_ULONG junk = 0;
    CK_MECHANISM with_param = {CKM_AES_KEY_GEN, &junk, sizeof(junk)};
    attr_list_init(&out);
    assert_int_equal(
        row_of(&mech_table_keygen, CKM_AES_KEY_GEN)->generate(&with_param, &tmpl, NULL, &out),
        CKR_MECHANISM_PARAM_INVALID);
    attr_list_free(&out);
    attr_list_free(&tmpl);
}

static void generic_secrets(void **state)
{
    (void)state;
    const CK_ULONG good[] = {1, 32, 512};
    for (size_t i = 0; i < 3; i++) {
        attr_list out;
        assert_int_equal(secret_with_len(CKM_GENERIC_SECRET_KEY_GEN, good[i], &out), CKR_OK);
        assert_ulong_attr(&out, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
        assert_int_equal(attr_list_find(&out, CKA_VALUE)->ulValueLen, good[i]);
        attr_list_free(&out);
    }
    const CK_ULONG bad[] = {0, 513};
    for (size_t i = 0; i < 2; i++) {
        attr_list out;
        assert_int_equal(secret_with_len(CKM_GENERIC_SECRET_KEY_GEN, bad[i], &out),
                         CKR_ATTRIBUTE_VALUE_INVALID);
        attr_list_free(&out);
    }
    attr_list tmpl, out;
    attr_list_init(&tmpl);
    assert_int_equal(generate_secret_key(CKM_GENERIC_SECRET_KEY_GEN, &tmpl, &out),
                     CKR_TEMPLATE_INCOMPLETE);
    attr_list_free(&out);
    /* A key typed for one HMAC keeps its type. */
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, 32), CKR_OK);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, CKK_SHA256_HMAC), CKR_OK);
    assert_int_equal(generate_secret_key(CKM_GENERIC_SECRET_KEY_GEN, &tmpl, &out), CKR_OK);
    assert_ulong_attr(&out, CKA_KEY_TYPE, CKK_SHA256_HMAC);
    attr_list_free(&out);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, CKK_AES), CKR_OK);
    assert_int_equal(generate_secret_key(CKM_GENERIC_SECRET_KEY_GEN, &tmpl, &out),
                     CKR_TEMPLATE_INCONSISTENT);
    attr_list_free(&out);
    attr_list_free(&tmpl);
}

/* The private attributes describe the same key as the public ones. */
static void assert_private_matches(const attr_list *priv, EVP_PKEY *pub)
{
    mech_key key;
    load_key(priv, &key);
    assert_int_equal(EVP_PKEY_eq(key.pkey, pub), 1);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key.pkey, NULL);
    assert_int_equal(EVP_PKEY_pairwise_check(ctx), 1);
    EVP_PKEY_CTX_free(ctx);
    mech_key_free(&key);
}

static CK_RV rsa_pair(attr_list *pub_tmpl, attr_list *pub, attr_list *priv)
{
    attr_list priv_tmpl;
    attr_list_init(&priv_tmpl);
    return generate_pair(CKM_RSA_PKCS_KEY_PAIR_GEN, pub_tmpl, &priv_tmpl, pub, priv);
}

static void rsa_pairs(void **state)
{
    (void)state;
    /* 1024 under valgrind (test_light.h), where 2048 takes minutes. */
    const CK_ULONG bits = (CK_ULONG)test_count(2048, 1024);
    attr_list tmpl, pub, priv;
    attr_list_init(&tmpl);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_MODULUS_BITS, bits), CKR_OK);
    assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_OK);
    assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_RSA);
    assert_ulong_attr(&priv, CKA_KEY_TYPE, CKK_RSA);
    assert_ulong_attr(&pub, CKA_MODULUS_BITS, bits);
    assert_false(attr_list_has(&priv, CKA_MODULUS_BITS));
    assert_false(attr_list_has(&pub, CKA_PRIVATE_EXPONENT));
    const CK_ATTRIBUTE_TYPE on_private[] = {
        CKA_MODULUS,    CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,        CKA_PRIME_2,
        CKA_EXPONENT_1, CKA_EXPONENT_2,      CKA_COEFFICIENT,      CKA_PUBLIC_KEY_INFO};
    for (size_t i = 0; i < sizeof(on_private) / sizeof(on_private[0]); i++)
        assert_true(attr_list_has(&priv, on_private[i]));
    const CK_ATTRIBUTE *e = attr_list_find(&pub, CKA_PUBLIC_EXPONENT);
    assert_int_equal(e->ulValueLen, 3);
    assert_memory_equal(e->pValue, "\x01\x00\x01", 3);
    EVP_PKEY *independent = independent_public_key(&pub);
    assert_int_equal(EVP_PKEY_get_bits(independent), (int)bits);
    assert_private_matches(&priv, independent);
    EVP_PKEY_free(independent);
    attr_list_free(&pub);
    attr_list_free(&priv);

    /* A chosen exponent. */
    assert_int_equal(attr_list_set(&tmpl, CKA_PUBLIC_EXPONENT, "\x03", 1), CKR_OK);
    assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_OK);
    e = attr_list_find(&pub, CKA_PUBLIC_EXPONENT);
    assert_int_equal(e->ulValueLen, 1);
    assert_int_equal(((unsigned char *)e->pValue)[0], 3);
    attr_list_free(&pub);
    attr_list_free(&priv);
    attr_list_free(&tmpl);
}

static void rsa_errors(void **state)
{
    (void)state;
    attr_list tmpl, pub, priv;
    attr_list_init(&tmpl);
    assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_TEMPLATE_INCOMPLETE);
    const CK_ULONG bad_bits[] = {512, 1023, 4097, 8192}; /* 1024..4096 (mech.h) */
    for (size_t i = 0; i < sizeof(bad_bits) / sizeof(bad_bits[0]); i++) {
        assert_int_equal(attr_list_set_ulong(&tmpl, CKA_MODULUS_BITS, bad_bits[i]), CKR_OK);
        assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_KEY_SIZE_RANGE);
    }
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_MODULUS_BITS, 2048), CKR_OK);
    /* Only 3 and 65537 (docs/spec.md "RSA as cards use it"). */
    const char *bad_exponents[] = {"\x01\x00\x00", "\x01", "", "\x11", "\x01\x00\x03"};
    const size_t exponent_lens[] = {3, 1, 0, 1, 3};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(
            attr_list_set(&tmpl, CKA_PUBLIC_EXPONENT, bad_exponents[i], exponent_lens[i]), CKR_OK);
        assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_ATTRIBUTE_VALUE_INVALID);
    }
    attr_list_remove(&tmpl, CKA_PUBLIC_EXPONENT);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, CKK_EC), CKR_OK);
    assert_int_equal(rsa_pair(&tmpl, &pub, &priv), CKR_TEMPLATE_INCONSISTENT);
    attr_list_free(&tmpl);
}

static void ec_pairs(void **state)
{
    (void)state;
    static const struct {
        const unsigned char *params;
        size_t len;
        size_t field_bytes;
    } cases[] = {
        {oid_p256, sizeof(oid_p256), 32},
        {oid_p384, sizeof(oid_p384), 48},
        {oid_p521, sizeof(oid_p521), 66},
        {name_prime256v1, sizeof(name_prime256v1), 32},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        attr_list pub, priv;
        generate_ec(cases[i].params, cases[i].len, &pub, &priv);
        assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_EC);
        /* CKA_EC_PARAMS stays as the caller wrote it, on both objects. */
        const CK_ATTRIBUTE *params = attr_list_find(&pub, CKA_EC_PARAMS);
        assert_int_equal(params->ulValueLen, cases[i].len);
        assert_memory_equal(params->pValue, cases[i].params, cases[i].len);
        params = attr_list_find(&priv, CKA_EC_PARAMS);
        assert_int_equal(params->ulValueLen, cases[i].len);
        assert_memory_equal(params->pValue, cases[i].params, cases[i].len);
        assert_int_equal(attr_list_find(&priv, CKA_VALUE)->ulValueLen, cases[i].field_bytes);
        assert_true(attr_list_has(&priv, CKA_PUBLIC_KEY_INFO));
        if (i < 3) { /* independent_public_key reads an OID */
            EVP_PKEY *independent = independent_public_key(&pub);
            assert_private_matches(&priv, independent);
            EVP_PKEY_free(independent);
        }
        attr_list_free(&pub);
        attr_list_free(&priv);
    }
}

static CK_RV ec_pair_with(CK_MECHANISM_TYPE mech, const void *params, size_t len)
{
    attr_list tmpl, empty, pub, priv;
    attr_list_init(&tmpl);
    attr_list_init(&empty);
    if (params)
        assert_int_equal(attr_list_set(&tmpl, CKA_EC_PARAMS, params, len), CKR_OK);
    CK_RV rv = generate_pair(mech, &tmpl, &empty, &pub, &priv);
    attr_list_free(&pub);
    attr_list_free(&priv);
    attr_list_free(&tmpl);
    return rv;
}

static void ec_errors(void **state)
{
    (void)state;
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, NULL, 0), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, oid_secp256k1, sizeof(oid_secp256k1)),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, oid_ed25519, sizeof(oid_ed25519)),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, "\x13\x05hello", 7),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, "\x30\x03\x02\x01\x01", 5),
                     CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, "\x06\x08\x2a\x86", 4),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(ec_pair_with(CKM_EC_KEY_PAIR_GEN, "\x04\x01\x00", 3),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(ec_pair_with(CKM_EC_EDWARDS_KEY_PAIR_GEN, oid_p256, sizeof(oid_p256)),
                     CKR_CURVE_NOT_SUPPORTED);
}

static void ed25519_pairs(void **state)
{
    (void)state;
    const void *params[] = {NULL, oid_ed25519, name_edwards25519};
    const size_t lens[] = {0, sizeof(oid_ed25519), sizeof(name_edwards25519)};
    for (size_t i = 0; i < 3; i++) {
        attr_list tmpl, empty, pub, priv;
        attr_list_init(&tmpl);
        attr_list_init(&empty);
        if (params[i])
            assert_int_equal(attr_list_set(&tmpl, CKA_EC_PARAMS, params[i], lens[i]), CKR_OK);
        assert_int_equal(generate_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &tmpl, &empty, &pub, &priv),
                         CKR_OK);
        assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        assert_ulong_attr(&priv, CKA_KEY_TYPE, CKK_EC_EDWARDS);
        const CK_ATTRIBUTE *got = attr_list_find(&pub, CKA_EC_PARAMS);
        const void *want = params[i] ? params[i] : oid_ed25519;
        size_t want_len = params[i] ? lens[i] : sizeof(oid_ed25519);
        assert_int_equal(got->ulValueLen, want_len);
        assert_memory_equal(got->pValue, want, want_len);
        const CK_ATTRIBUTE *point = attr_list_find(&pub, CKA_EC_POINT);
        assert_int_equal(point->ulValueLen, 34);
        const CK_ATTRIBUTE *value = attr_list_find(&priv, CKA_VALUE);
        assert_int_equal(value->ulValueLen, 32);
        /* The public point is the one of the private value. */
        EVP_PKEY *from_value =
            EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, value->pValue, 32);
        unsigned char raw[32];
        size_t raw_len = sizeof(raw);
        assert_int_equal(EVP_PKEY_get_raw_public_key(from_value, raw, &raw_len), 1);
        assert_memory_equal(raw, (unsigned char *)point->pValue + 2, 32);
        EVP_PKEY *independent = independent_public_key(&pub);
        assert_int_equal(EVP_PKEY_eq(independent, from_value), 1);
        EVP_PKEY_free(independent);
        EVP_PKEY_free(from_value);
        attr_list_free(&pub);
        attr_list_free(&priv);
        attr_list_free(&tmpl);
    }
}

static void table_shape(void **state)
{
    (void)state;
    for (size_t i = 0; i < mech_table_keygen.count; i++) {
        const mech_row *row = &mech_table_keygen.rows[i];
        assert_non_null(row->name);
        assert_null(row->ops);
        if (row->info.flags & CKF_GENERATE)
            assert_non_null(row->generate);
        if (row->info.flags & CKF_GENERATE_KEY_PAIR)
            assert_non_null(row->generate_pair);
    }
    const mech_row *ec = row_of(&mech_table_keygen, CKM_EC_KEY_PAIR_GEN);
    assert_int_equal(ec->info.flags & (CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS),
                     CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS);
    assert_int_equal(row_of(&mech_table_keygen, CKM_RSA_PKCS_KEY_PAIR_GEN)->info.ulMinKeySize,
                     1024);
    assert_true(row_of(&mech_table_keygen, CKM_RSA_PKCS_KEY_PAIR_GEN)->rsa_sized);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(aes_keys),        cmocka_unit_test(aes_errors),
        cmocka_unit_test(generic_secrets), cmocka_unit_test(rsa_pairs),
        cmocka_unit_test(rsa_errors),      cmocka_unit_test(ec_pairs),
        cmocka_unit_test(ec_errors),       cmocka_unit_test(ed25519_pairs),
        cmocka_unit_test(table_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
