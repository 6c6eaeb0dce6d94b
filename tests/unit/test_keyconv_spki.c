/*
 * keyconv.c: CKA_PUBLIC_KEY_INFO and CKA_EC_POINT of EC and Ed25519 keys,
 * written from constant per-curve prefixes, are the bytes OpenSSL's
 * encoders (i2d_PUBKEY, i2d_ASN1_OCTET_STRING) give for the same key,
 * and keys in other forms (compressed point, explicit parameters, RSA)
 * still get OpenSSL's own encoding.
 */
#include "mech.h"
#include "test_keys.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h> /* after the headers it needs */

/* varies the points' leading bytes (fewer under valgrind: test_light.h) */
#define KEYS_PER_CURVE test_count(16, 4)

static const struct {
    const char *type;  /* EVP_PKEY_Q_keygen key type */
    const char *group; /* its group, EC only */
} curves[] = {
    {"EC", "P-256"},
    {"EC", "P-384"},
    {"EC", "P-521"},
    {"ED25519", NULL},
};

static EVP_PKEY *generate(size_t curve)
{
    EVP_PKEY *pkey = curves[curve].group
                         ? EVP_PKEY_Q_keygen(NULL, NULL, curves[curve].type, curves[curve].group)
                         : EVP_PKEY_Q_keygen(NULL, NULL, curves[curve].type);
    assert_non_null(pkey);
    return pkey;
}

static void assert_attr_bytes(const attr_list *attrs, CK_ATTRIBUTE_TYPE type,
                              const unsigned char *value, size_t len)
{
    const CK_ATTRIBUTE *attr = attr_list_find(attrs, type);
    assert_non_null(attr);
    assert_int_equal(attr->ulValueLen, len);
    assert_memory_equal(attr->pValue, value, len);
}

/* CKA_PUBLIC_KEY_INFO is i2d_PUBKEY's output and decodes to the key. */
static void assert_spki_of(const attr_list *attrs, EVP_PKEY *pkey)
{
    unsigned char *expected = NULL;
    int expected_len = i2d_PUBKEY(pkey, &expected);
    assert_true(expected_len > 0);
    assert_attr_bytes(attrs, CKA_PUBLIC_KEY_INFO, expected, (size_t)expected_len);
    OPENSSL_free(expected);

    const CK_ATTRIBUTE *info = attr_list_find(attrs, CKA_PUBLIC_KEY_INFO);
    const unsigned char *p = info->pValue;
    EVP_PKEY *decoded = d2i_PUBKEY(NULL, &p, (long)info->ulValueLen);
    assert_non_null(decoded);
    assert_ptr_equal(p, (const unsigned char *)info->pValue + info->ulValueLen);
    assert_int_equal(EVP_PKEY_eq(decoded, pkey), 1);
    EVP_PKEY_free(decoded);
}

/* CKA_EC_POINT is i2d_ASN1_OCTET_STRING of the uncompressed point (EC)
 * or of the raw key (Ed25519). */
static void assert_ec_point_of(const attr_list *attrs, EVP_PKEY *pkey)
{
    unsigned char point[1 + 2 * 66];
    size_t len = sizeof(point);
    if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519) {
        assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, point, &len), 1);
    } else {
        EVP_PKEY *uncompressed = EVP_PKEY_dup(pkey);
        assert_non_null(uncompressed);
        assert_int_equal(
            EVP_PKEY_set_utf8_string_param(uncompressed, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED),
            1);
        assert_int_equal(EVP_PKEY_get_octet_string_param(uncompressed, OSSL_PKEY_PARAM_PUB_KEY,
                                                         point, sizeof(point), &len),
                         1);
        assert_int_equal(point[0], 0x04);
        EVP_PKEY_free(uncompressed);
    }
    ASN1_OCTET_STRING *octets = ASN1_OCTET_STRING_new();
    assert_non_null(octets);
    assert_int_equal(ASN1_OCTET_STRING_set(octets, point, (int)len), 1);
    unsigned char *expected = NULL;
    int expected_len = i2d_ASN1_OCTET_STRING(octets, &expected);
    assert_true(expected_len > 0);
    assert_attr_bytes(attrs, CKA_EC_POINT, expected, (size_t)expected_len);
    OPENSSL_free(expected);
    ASN1_OCTET_STRING_free(octets);
}

/* Both objects' attributes of pkey, checked against OpenSSL's encoders. */
static void assert_encodings(EVP_PKEY *pkey)
{
    attr_list pub, priv;
    attr_list_init(&pub);
    attr_list_init(&priv);
    assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
    assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);
    assert_int_equal(ERR_peek_error(), 0);
    assert_spki_of(&pub, pkey);
    assert_spki_of(&priv, pkey);
    if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA)
        assert_ec_point_of(&pub, pkey);
    attr_list_free(&pub);
    attr_list_free(&priv);
}

static void generated_keys(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++)
        for (int i = 0; i < KEYS_PER_CURVE; i++) {
            EVP_PKEY *pkey = generate(c);
            assert_encodings(pkey);
            EVP_PKEY_free(pkey);
        }
}

/* A key that keeps its point compressed (as a decoded PKCS#8 key may):
 * SubjectPublicKeyInfo carries the compressed point as OpenSSL encodes
 * it, CKA_EC_POINT the uncompressed one. */
static void compressed_points(void **state)
{
    (void)state;
    for (size_t c = 0; curves[c].group; c++) {
        EVP_PKEY *pkey = generate(c);
        assert_int_equal(
            EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                           OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_COMPRESSED),
            1);
        assert_encodings(pkey);
        EVP_PKEY_free(pkey);
    }
}

/* A key with explicit curve parameters: OpenSSL's encoding of them. */
static void explicit_parameters(void **state)
{
    (void)state;
    for (size_t c = 0; curves[c].group; c++) {
        EVP_PKEY *pkey = generate(c);
        assert_int_equal(EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING,
                                                        OSSL_PKEY_EC_ENCODING_EXPLICIT),
                         1);
        attr_list pub;
        attr_list_init(&pub);
        assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
        assert_spki_of(&pub, pkey);
        const CK_ATTRIBUTE *info = attr_list_find(&pub, CKA_PUBLIC_KEY_INFO);
        assert_true(info->ulValueLen > 200); /* the parameters, not an OID */
        attr_list_free(&pub);
        EVP_PKEY_free(pkey);
    }
}

/* Keys decoded from PKCS#8, as C_UnwrapKey makes them. */
static void pkcs8_keys(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(curves) / sizeof(curves[0]); c++) {
        EVP_PKEY *pkey = generate(c);
        PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(pkey);
        unsigned char *der = NULL;
        int len = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
        assert_true(len > 0);
        attr_list priv;
        attr_list_init(&priv);
        assert_int_equal(mech_attrs_from_pkcs8(der, (size_t)len, &priv), CKR_OK);
        assert_spki_of(&priv, pkey);
        attr_list_free(&priv);
        OPENSSL_clear_free(der, (size_t)len);
        PKCS8_PRIV_KEY_INFO_free(info);
        EVP_PKEY_free(pkey);
    }
}

static void rsa_keys(void **state)
{
    (void)state;
    EVP_PKEY *pkey = test_fixed_rsa(2048, 65537);
    if (!pkey)
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    assert_non_null(pkey);
    assert_encodings(pkey);
    EVP_PKEY_free(pkey);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(generated_keys),
        cmocka_unit_test(compressed_points),
        cmocka_unit_test(explicit_parameters),
        cmocka_unit_test(pkcs8_keys),
        cmocka_unit_test(rsa_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
