/* keyconv.c: attributes ↔ EVP_PKEY ↔ PKCS#8, checked against plain OpenSSL. */
#include "mech_test.h"
#include "test_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

#define RFC8032_SECRET "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
#define RFC8032_PUBLIC "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"

static const struct {
    const char *group;
    const unsigned char *oid;
    size_t oid_len;
    size_t field_bytes;
    CK_ULONG bits;
} ec_curves[] = {
    {"P-256", oid_p256, sizeof(oid_p256), 32, 256},
    {"P-384", oid_p384, sizeof(oid_p384), 48, 384},
    {"P-521", oid_p521, sizeof(oid_p521), 66, 521},
};

static void set_class(attr_list *attrs, CK_OBJECT_CLASS cls)
{
    assert_int_equal(attr_list_set_ulong(attrs, CKA_CLASS, cls), CKR_OK);
}

static void assert_attr(const attr_list *attrs, CK_ATTRIBUTE_TYPE type, const void *value,
                        size_t len)
{
    const CK_ATTRIBUTE *attr = attr_list_find(attrs, type);
    assert_non_null(attr);
    assert_int_equal(attr->ulValueLen, len);
    assert_memory_equal(attr->pValue, value, len);
}

static void assert_ulong_attr(const attr_list *attrs, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    CK_ULONG got = 0;
    assert_int_equal(attr_list_ulong(attrs, type, &got), CKR_OK);
    assert_int_equal(got, value);
}

/* Every attribute of a is in b with the same value, and the counts agree. */
static void assert_same_attrs(const attr_list *a, const attr_list *b)
{
    assert_int_equal(a->count, b->count);
    for (size_t i = 0; i < a->count; i++)
        assert_attr(b, a->items[i].type, a->items[i].pValue, a->items[i].ulValueLen);
}

/* The private key in key signs what pkey (the original) verifies. */
static void assert_signs_for(const mech_key *key, EVP_PKEY *pkey)
{
    const EVP_MD *md = EVP_PKEY_get_base_id(pkey) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestSignInit(ctx, NULL, md, NULL, key->pkey), 1);
    assert_int_equal(EVP_DigestSign(ctx, sig, &sig_len, (const unsigned char *)"msg", 3), 1);
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, md, NULL, pkey), 1);
    assert_int_equal(EVP_DigestVerify(ctx, sig, sig_len, (const unsigned char *)"msg", 3), 1);
    EVP_MD_CTX_free(ctx);
}

static void rsa_round_trip(void **state)
{
    (void)state;
    EVP_PKEY *pkey = test_rsa_key(2048);
    assert_non_null(pkey);
    attr_list pub, priv;
    attr_list_init(&pub);
    attr_list_init(&priv);
    assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
    assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);

    assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_RSA);
    assert_ulong_attr(&pub, CKA_MODULUS_BITS, 2048);
    assert_attr(&pub, CKA_PUBLIC_EXPONENT, "\x01\x00\x01", 3);
    assert_int_equal(attr_list_find(&pub, CKA_MODULUS)->ulValueLen, 256);
    assert_false(attr_list_has(&pub, CKA_PRIVATE_EXPONENT));
    static const CK_ATTRIBUTE_TYPE private_types[] = {
        CKA_KEY_TYPE,    CKA_MODULUS,         CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT,
        CKA_PRIME_1,     CKA_PRIME_2,         CKA_EXPONENT_1,      CKA_EXPONENT_2,
        CKA_COEFFICIENT, CKA_PUBLIC_KEY_INFO,
    };
    for (size_t i = 0; i < sizeof(private_types) / sizeof(private_types[0]); i++)
        assert_true(attr_list_has(&priv, private_types[i]));
    assert_int_equal(priv.count, sizeof(private_types) / sizeof(private_types[0]));

    EVP_PKEY *rebuilt = independent_public_key(&pub);
    assert_int_equal(EVP_PKEY_eq(rebuilt, pkey), 1);
    EVP_PKEY_free(rebuilt);

    mech_key key;
    set_class(&pub, CKO_PUBLIC_KEY);
    load_key(&pub, &key);
    assert_int_equal(key.cls, CKO_PUBLIC_KEY);
    assert_int_equal(mech_key_size(&key), 2048);
    assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
    mech_key_free(&key);

    set_class(&priv, CKO_PRIVATE_KEY);
    load_key(&priv, &key);
    assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
    assert_signs_for(&key, pkey);
    mech_key_free(&key);

    /* Without the CRT values the key still signs (PKCS#11 makes them optional). */
    attr_list_remove(&priv, CKA_PRIME_2);
    load_key(&priv, &key);
    assert_signs_for(&key, pkey);
    mech_key_free(&key);
    attr_list_remove(&priv, CKA_PRIVATE_EXPONENT);
    assert_int_equal(mech_key_from_attrs(&priv, &key), CKR_TEMPLATE_INCOMPLETE);
    mech_key_free(&key);

    attr_list_free(&pub);
    attr_list_free(&priv);
    EVP_PKEY_free(pkey);
}

static void ec_round_trip(void **state)
{
    (void)state;
    for (size_t c = 0; c < sizeof(ec_curves) / sizeof(ec_curves[0]); c++) {
        EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ec_curves[c].group);
        assert_non_null(pkey);
        size_t fb = ec_curves[c].field_bytes;
        attr_list pub, priv;
        attr_list_init(&pub);
        attr_list_init(&priv);
        assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
        assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);
        assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_EC);
        assert_attr(&pub, CKA_EC_PARAMS, ec_curves[c].oid, ec_curves[c].oid_len);
        assert_attr(&priv, CKA_EC_PARAMS, ec_curves[c].oid, ec_curves[c].oid_len);
        assert_int_equal(attr_list_find(&priv, CKA_VALUE)->ulValueLen, fb);
        assert_false(attr_list_has(&priv, CKA_EC_POINT));
        assert_true(attr_list_has(&priv, CKA_PUBLIC_KEY_INFO));
        /* DER OCTET STRING around 04 ‖ X ‖ Y */
        const CK_ATTRIBUTE *point = attr_list_find(&pub, CKA_EC_POINT);
        size_t header = fb > 62 ? 3 : 2;
        assert_int_equal(point->ulValueLen, header + 1 + 2 * fb);
        assert_int_equal(((unsigned char *)point->pValue)[header], 0x04);

        EVP_PKEY *rebuilt = independent_public_key(&pub);
        assert_int_equal(EVP_PKEY_eq(rebuilt, pkey), 1);
        EVP_PKEY_free(rebuilt);

        /* The private key alone: the public point is computed from the scalar. */
        mech_key key;
        set_class(&priv, CKO_PRIVATE_KEY);
        load_key(&priv, &key);
        assert_int_equal(mech_key_size(&key), ec_curves[c].bits);
        assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
        assert_signs_for(&key, pkey);
        mech_key_free(&key);

        /* The public key with the DER point, a bare point, and a curve name. */
        set_class(&pub, CKO_PUBLIC_KEY);
        load_key(&pub, &key);
        assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
        mech_key_free(&key);
        unsigned char bare[1 + 2 * 66];
        memcpy(bare, (unsigned char *)point->pValue + header, 1 + 2 * fb);
        assert_int_equal(attr_list_set(&pub, CKA_EC_POINT, bare, 1 + 2 * fb), CKR_OK);
        load_key(&pub, &key);
        assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
        mech_key_free(&key);

        attr_list_free(&pub);
        attr_list_free(&priv);
        EVP_PKEY_free(pkey);
    }
}

static void ec_named_by_string(void **state)
{
    (void)state;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    attr_list pub;
    attr_list_init(&pub);
    assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
    set_class(&pub, CKO_PUBLIC_KEY);
    assert_int_equal(attr_list_set(&pub, CKA_EC_PARAMS, name_prime256v1, sizeof(name_prime256v1)),
                     CKR_OK);
    mech_key key;
    load_key(&pub, &key);
    assert_int_equal(EVP_PKEY_eq(key.pkey, pkey), 1);
    mech_key_free(&key);
    attr_list_free(&pub);
    EVP_PKEY_free(pkey);
}

static void ec_errors(void **state)
{
    (void)state;
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    attr_list pub, priv;
    attr_list_init(&pub);
    attr_list_init(&priv);
    assert_int_equal(mech_public_attrs(pkey, &pub), CKR_OK);
    assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);
    set_class(&pub, CKO_PUBLIC_KEY);
    set_class(&priv, CKO_PRIVATE_KEY);
    mech_key key;

    const CK_ATTRIBUTE *point = attr_list_find(&pub, CKA_EC_POINT);
    unsigned char off_curve[67];
    memcpy(off_curve, point->pValue, sizeof(off_curve));
    off_curve[66] ^= 1;
    assert_int_equal(attr_list_set(&pub, CKA_EC_POINT, off_curve, sizeof(off_curve)), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    mech_key_free(&key);

    assert_int_equal(attr_list_set(&pub, CKA_EC_PARAMS, oid_secp256k1, sizeof(oid_secp256k1)),
                     CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &key), CKR_CURVE_NOT_SUPPORTED);
    assert_int_equal(attr_list_set(&pub, CKA_EC_PARAMS, "\x06\x08\x2a", 3), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_set(&pub, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519)), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list_remove(&pub, CKA_EC_PARAMS);
    assert_int_equal(mech_key_from_attrs(&pub, &key), CKR_TEMPLATE_INCOMPLETE);

    /* Scalars outside [1, n − 1]. */
    assert_int_equal(attr_list_set(&priv, CKA_VALUE, "\x00", 1), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&priv, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    unsigned char order[32];
    from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", order);
    assert_int_equal(attr_list_set(&priv, CKA_VALUE, order, sizeof(order)), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&priv, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    order[31] -= 1; /* n − 1 is a valid scalar */
    assert_int_equal(attr_list_set(&priv, CKA_VALUE, order, sizeof(order)), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&priv, &key), CKR_OK);
    mech_key_free(&key);

    attr_list_free(&pub);
    attr_list_free(&priv);
    EVP_PKEY_free(pkey);
}

static void ed25519_round_trip(void **state)
{
    (void)state;
    unsigned char secret[32], public[32], der_point[34] = {0x04, 0x20};
    from_hex(RFC8032_SECRET, secret);
    from_hex(RFC8032_PUBLIC, public);
    memcpy(der_point + 2, public, 32);

    attr_list priv;
    attr_list_init(&priv);
    set_class(&priv, CKO_PRIVATE_KEY);
    assert_int_equal(attr_list_set_ulong(&priv, CKA_KEY_TYPE, CKK_EC_EDWARDS), CKR_OK);
    assert_int_equal(attr_list_set(&priv, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519)), CKR_OK);
    assert_int_equal(attr_list_set(&priv, CKA_VALUE, secret, 32), CKR_OK);
    mech_key key;
    load_key(&priv, &key);
    assert_int_equal(mech_key_size(&key), 256);
    unsigned char derived[32];
    size_t len = sizeof(derived);
    assert_int_equal(EVP_PKEY_get_raw_public_key(key.pkey, derived, &len), 1);
    assert_memory_equal(derived, public, 32);

    attr_list pub, priv_out;
    attr_list_init(&pub);
    attr_list_init(&priv_out);
    assert_int_equal(mech_public_attrs(key.pkey, &pub), CKR_OK);
    assert_int_equal(mech_private_attrs(key.pkey, &priv_out), CKR_OK);
    assert_ulong_attr(&pub, CKA_KEY_TYPE, CKK_EC_EDWARDS);
    assert_attr(&pub, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519));
    assert_attr(&pub, CKA_EC_POINT, der_point, sizeof(der_point));
    assert_attr(&priv_out, CKA_VALUE, secret, 32);
    assert_attr(&priv_out, CKA_EC_PARAMS, oid_ed25519, sizeof(oid_ed25519));
    EVP_PKEY *rebuilt = independent_public_key(&pub);
    assert_int_equal(EVP_PKEY_eq(rebuilt, key.pkey), 1);

    /* Public key: DER point, bare point, curve name, no CKA_EC_PARAMS. */
    mech_key pub_key;
    set_class(&pub, CKO_PUBLIC_KEY);
    load_key(&pub, &pub_key);
    assert_int_equal(EVP_PKEY_eq(pub_key.pkey, rebuilt), 1);
    mech_key_free(&pub_key);
    assert_int_equal(attr_list_set(&pub, CKA_EC_POINT, public, 32), CKR_OK);
    assert_int_equal(
        attr_list_set(&pub, CKA_EC_PARAMS, name_edwards25519, sizeof(name_edwards25519)), CKR_OK);
    load_key(&pub, &pub_key);
    assert_int_equal(EVP_PKEY_eq(pub_key.pkey, rebuilt), 1);
    mech_key_free(&pub_key);
    attr_list_remove(&pub, CKA_EC_PARAMS);
    load_key(&pub, &pub_key);
    mech_key_free(&pub_key);
    assert_int_equal(attr_list_set(&pub, CKA_EC_POINT, public, 31), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &pub_key), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_set(&pub, CKA_EC_PARAMS, oid_p256, sizeof(oid_p256)), CKR_OK);
    assert_int_equal(attr_list_set(&pub, CKA_EC_POINT, public, 32), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&pub, &pub_key), CKR_ATTRIBUTE_VALUE_INVALID);

    EVP_PKEY_free(rebuilt);
    mech_key_free(&key);
    attr_list_free(&pub);
    attr_list_free(&priv);
    attr_list_free(&priv_out);
}

static void secret_and_classes(void **state)
{
    (void)state;
    attr_list attrs;
    secret_attrs(&attrs, CKK_GENERIC_SECRET, "0123456789", 10);
    mech_key key;
    load_key(&attrs, &key);
    assert_int_equal(key.cls, CKO_SECRET_KEY);
    assert_int_equal(key.type, CKK_GENERIC_SECRET);
    assert_null(key.pkey);
    assert_int_equal(key.secret_len, 10);
    assert_memory_equal(key.secret, "0123456789", 10);
    assert_int_equal(mech_key_size(&key), 10);
    mech_key_free(&key);
    assert_null(key.secret);

    assert_int_equal(attr_list_set_ulong(&attrs, CKA_KEY_TYPE, CKK_RSA), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_KEY_TYPE_INCONSISTENT);
    /* AES keys are 16, 24 or 32 bytes. */
    assert_int_equal(attr_list_set_ulong(&attrs, CKA_KEY_TYPE, CKK_AES), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_set(&attrs, CKA_VALUE, "0123456789abcdef01234567", 24), CKR_OK);
    load_key(&attrs, &key);
    assert_int_equal(mech_key_size(&key), 24);
    mech_key_free(&key);
    assert_int_equal(attr_list_set(&attrs, CKA_VALUE, NULL, 0), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list_remove(&attrs, CKA_VALUE);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(attr_list_set_ulong(&attrs, CKA_CLASS, CKO_PUBLIC_KEY), CKR_OK);
    assert_int_equal(attr_list_set_ulong(&attrs, CKA_KEY_TYPE, CKK_DSA), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_KEY_TYPE_INCONSISTENT);
    assert_int_equal(attr_list_set_ulong(&attrs, CKA_CLASS, CKO_DATA), CKR_OK);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_KEY_TYPE_INCONSISTENT);
    attr_list_remove(&attrs, CKA_CLASS);
    assert_int_equal(mech_key_from_attrs(&attrs, &key), CKR_TEMPLATE_INCOMPLETE);
    attr_list_free(&attrs);
}

/* PKCS#8 out of a key object and back, the DER read independently. */
static void pkcs8_round_trip_of(EVP_PKEY *pkey)
{
    attr_list priv, back;
    attr_list_init(&priv);
    attr_list_init(&back);
    assert_int_equal(mech_private_attrs(pkey, &priv), CKR_OK);
    set_class(&priv, CKO_PRIVATE_KEY);
    mech_key key;
    load_key(&priv, &key);
    unsigned char *der = NULL;
    size_t der_len = 0;
    assert_int_equal(mech_key_to_pkcs8(&key, &der, &der_len), CKR_OK);

    const unsigned char *p = der;
    PKCS8_PRIV_KEY_INFO *info = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)der_len);
    assert_non_null(info);
    EVP_PKEY *decoded = EVP_PKCS82PKEY(info);
    assert_non_null(decoded);
    assert_int_equal(EVP_PKEY_eq(decoded, pkey), 1);
    assert_signs_for(&(mech_key){.pkey = decoded}, pkey);
    EVP_PKEY_free(decoded);
    PKCS8_PRIV_KEY_INFO_free(info);

    assert_int_equal(mech_attrs_from_pkcs8(der, der_len, &back), CKR_OK);
    attr_list_remove(&priv, CKA_CLASS);
    assert_same_attrs(&priv, &back);

    OPENSSL_cleanse(der, der_len);
    free(der);
    mech_key_free(&key);
    attr_list_free(&priv);
    attr_list_free(&back);
}

static void pkcs8_round_trips(void **state)
{
    (void)state;
    EVP_PKEY *keys[] = {
        test_rsa_key(2048),
        EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
        EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521"),
        EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"),
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        assert_non_null(keys[i]);
        pkcs8_round_trip_of(keys[i]);
        EVP_PKEY_free(keys[i]);
    }
}

static void pkcs8_errors(void **state)
{
    (void)state;
    attr_list out;
    attr_list_init(&out);
    assert_int_equal(mech_attrs_from_pkcs8((const unsigned char *)"\x30\x03\x02\x01\x00", 5, &out),
                     CKR_WRAPPED_KEY_INVALID);

    /* Well-formed PKCS#8 of keys softse does not hold. */
    EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
    EVP_PKEY *k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    unsigned char *der = NULL;
    PKCS8_PRIV_KEY_INFO *info = EVP_PKEY2PKCS8(x25519);
    int len = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
    assert_int_equal(mech_attrs_from_pkcs8(der, (size_t)len, &out), CKR_WRAPPED_KEY_INVALID);
    OPENSSL_free(der);
    PKCS8_PRIV_KEY_INFO_free(info);
    der = NULL;
    info = EVP_PKEY2PKCS8(k1);
    len = i2d_PKCS8_PRIV_KEY_INFO(info, &der);
    assert_int_equal(mech_attrs_from_pkcs8(der, (size_t)len, &out), CKR_CURVE_NOT_SUPPORTED);
    OPENSSL_free(der);
    PKCS8_PRIV_KEY_INFO_free(info);

    /* Trailing bytes after a valid PKCS#8. */
    der = NULL;
    info = EVP_PKEY2PKCS8(ed);
    len = i2d_PKCS8_PRIV_KEY_INFO(info, NULL);
    unsigned char *padded = calloc(1, (size_t)len + 1), *p = padded;
    i2d_PKCS8_PRIV_KEY_INFO(info, &p);
    assert_int_equal(mech_attrs_from_pkcs8(padded, (size_t)len + 1, &out), CKR_WRAPPED_KEY_INVALID);
    attr_list_free(&out);
    assert_int_equal(mech_attrs_from_pkcs8(padded, (size_t)len, &out), CKR_OK);
    free(padded);
    PKCS8_PRIV_KEY_INFO_free(info);

    /* A public key has nothing to wrap. */
    attr_list pub;
    attr_list_init(&pub);
    assert_int_equal(mech_public_attrs(ed, &pub), CKR_OK);
    set_class(&pub, CKO_PUBLIC_KEY);
    mech_key key;
    load_key(&pub, &key);
    size_t der_len = 0;
    assert_int_equal(mech_key_to_pkcs8(&key, &der, &der_len), CKR_KEY_NOT_WRAPPABLE);
    assert_int_equal(mech_private_attrs(key.pkey, &out), CKR_KEY_TYPE_INCONSISTENT);
    attr_list_free(&out);
    assert_int_equal(mech_public_attrs(x25519, &out), CKR_KEY_TYPE_INCONSISTENT);
    mech_key_free(&key);

    attr_list_free(&pub);
    attr_list_free(&out);
    EVP_PKEY_free(x25519);
    EVP_PKEY_free(k1);
    EVP_PKEY_free(ed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rsa_round_trip),     cmocka_unit_test(ec_round_trip),
        cmocka_unit_test(ec_named_by_string), cmocka_unit_test(ec_errors),
        cmocka_unit_test(ed25519_round_trip), cmocka_unit_test(secret_and_classes),
        cmocka_unit_test(pkcs8_round_trips),  cmocka_unit_test(pkcs8_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
