/*
 * Objects: C_CreateObject, C_GetAttributeValue, C_SetAttributeValue,
 * C_CopyObject, C_DestroyObject, C_GetObjectSize (PKCS#11 3.0 §5.7) and
 * softse's defaults (a card: keys private, sensitive, not extractable).
 * Visibility and search are in test_find.c.
 */
#include "p11_fixture.h"
#include "p11_keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const unsigned char aes_value[32] = "0123456789abcdef0123456789ABCDEF";

// clang-format off
#define BOOL_ATTR(type, var) {type, (void *)&(var), sizeof(CK_BBOOL)}
// clang-format on

static void assert_bool_attr(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object,
                             CK_ATTRIBUTE_TYPE type, CK_BBOOL expected, const char *name)
{
    CK_BBOOL got = fx_get_bool(session, object, type);
    if (got != expected)
        fail_msg("%s is %s, expected %s", name, got ? "TRUE" : "FALSE",
                 expected ? "TRUE" : "FALSE");
}
#define assert_attr_bool(s, o, type, expected) assert_bool_attr(s, o, type, expected, #type)

static void assert_value(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                         const void *expected, size_t len)
{
    unsigned char buffer[4096];
    CK_ATTRIBUTE attr = {type, buffer, sizeof(buffer)};
    assert_rv(fx_functions()->C_GetAttributeValue(session, object, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, len);
    assert_memory_equal(buffer, expected, len);
}

static void assert_common_defaults(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o)
{
    assert_attr_bool(s, o, CKA_TOKEN, CK_FALSE);
    assert_attr_bool(s, o, CKA_MODIFIABLE, CK_TRUE);
    assert_attr_bool(s, o, CKA_COPYABLE, CK_TRUE);
    assert_attr_bool(s, o, CKA_DESTROYABLE, CK_TRUE);
}

/* ---- creation and defaults ----------------------------------------------------------- */

static void data_object(void **state)
{
    fx *t = *state;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, "note", 4},
        {CKA_APPLICATION, "softse tests", 12},
        {CKA_VALUE, "hello", 5},
    };
    CK_OBJECT_HANDLE object;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 4, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 4, &object), CKR_OK);
    assert_int_not_equal(object, CK_INVALID_HANDLE);
    assert_common_defaults(t->session, object);
    assert_attr_bool(t->session, object, CKA_PRIVATE, CK_FALSE);
    assert_value(t->session, object, CKA_VALUE, "hello", 5);
    assert_value(t->session, object, CKA_APPLICATION, "softse tests", 12);
    assert_int_equal(fx_get_ulong(t->session, object, CKA_CLASS), CKO_DATA);
}

static void certificate_object(void **state)
{
    fx *t = *state;
    fx_cert cert;
    fx_cert_new(&cert, "softse object test");
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_CERTIFICATE_TYPE, &type, sizeof(type)},
        {CKA_SUBJECT, cert.subject.data, cert.subject.len},
        {CKA_ISSUER, cert.issuer.data, cert.issuer.len},
        {CKA_SERIAL_NUMBER, cert.serial.data, cert.serial.len},
        {CKA_VALUE, cert.value.data, cert.value.len},
        {CKA_ID, "\x01\x02", 2},
    };
    CK_OBJECT_HANDLE object;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 7, &object), CKR_OK);
    assert_common_defaults(t->session, object);
    assert_attr_bool(t->session, object, CKA_PRIVATE, CK_FALSE);
    assert_value(t->session, object, CKA_VALUE, cert.value.data, cert.value.len);
    assert_value(t->session, object, CKA_SUBJECT, cert.subject.data, cert.subject.len);
    assert_int_equal(fx_get_ulong(t->session, object, CKA_CERTIFICATE_TYPE), CKC_X_509);
    /* a certificate needs its type */
    assert_rv(
        t->f->C_CreateObject(t->session, (CK_ATTRIBUTE[]){tmpl[0], tmpl[2], tmpl[5]}, 3, &object),
        CKR_TEMPLATE_INCOMPLETE);
    fx_cert_free(&cert);
}

static void secret_key_object(void **state)
{
    fx *t = *state;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE, (void *)aes_value, 32},
    };
    CK_OBJECT_HANDLE key;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 3, &key), CKR_OK);
    assert_common_defaults(t->session, key);
    assert_attr_bool(t->session, key, CKA_PRIVATE, CK_TRUE);
    assert_attr_bool(t->session, key, CKA_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, key, CKA_EXTRACTABLE, CK_FALSE);
    assert_attr_bool(t->session, key, CKA_LOCAL, CK_FALSE);
    assert_attr_bool(t->session, key, CKA_ALWAYS_SENSITIVE, CK_FALSE);
    assert_attr_bool(t->session, key, CKA_NEVER_EXTRACTABLE, CK_FALSE);
    assert_int_equal(fx_get_ulong(t->session, key, CKA_VALUE_LEN), 32);
    assert_int_equal(fx_get_ulong(t->session, key, CKA_KEY_TYPE), CKK_AES);

    /* the value of a sensitive key never comes out */
    unsigned char out[32];
    CK_ATTRIBUTE value = {CKA_VALUE, out, sizeof(out)};
    assert_rv(t->f->C_GetAttributeValue(t->session, key, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(value.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* an AES key is 16, 24 or 32 bytes */
    tmpl[2].ulValueLen = 15;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 3, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    /* the value and the type are required */
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 2, &key), CKR_TEMPLATE_INCOMPLETE);
    CK_ATTRIBUTE no_type[] = {tmpl[0], {CKA_VALUE, (void *)aes_value, 32}};
    assert_rv(t->f->C_CreateObject(t->session, no_type, 2, &key), CKR_TEMPLATE_INCOMPLETE);

    /* with the defaults turned off, the value reads back */
    assert_rv(fx_create_aes(t->session, "clear", false, false, true, aes_value, 16, &key), CKR_OK);
    assert_value(t->session, key, CKA_VALUE, aes_value, 16);
}

static void ec_key_objects(void **state)
{
    fx *t = *state;
    fx_ec_key ec;
    fx_ec_key_new(&ec);
    CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_EC;
    CK_ATTRIBUTE pub[] = {
        {CKA_CLASS, &pub_cls, sizeof(pub_cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_EC_PARAMS, ec.params.data, ec.params.len},
        {CKA_EC_POINT, ec.point.data, ec.point.len},
        BOOL_ATTR(CKA_VERIFY, yes),
    };
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &priv_cls, sizeof(priv_cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_EC_PARAMS, ec.params.data, ec.params.len},
        {CKA_VALUE, ec.value.data, ec.value.len},
        BOOL_ATTR(CKA_SIGN, yes),
    };
    CK_OBJECT_HANDLE pub_key, priv_key;

    /* a public key needs no login */
    CK_SESSION_HANDLE public_session;
    assert_rv(fx_open(t->slot, true, &public_session), CKR_OK);
    assert_rv(t->f->C_Logout(t->session), CKR_OK);
    assert_rv(t->f->C_CreateObject(public_session, pub, 5, &pub_key), CKR_OK);
    assert_rv(t->f->C_CreateObject(public_session, priv, 5, &priv_key), CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);

    assert_common_defaults(t->session, pub_key);
    assert_attr_bool(t->session, pub_key, CKA_PRIVATE, CK_FALSE);
    assert_value(t->session, pub_key, CKA_EC_POINT, ec.point.data, ec.point.len);
    assert_value(t->session, pub_key, CKA_EC_PARAMS, ec.params.data, ec.params.len);

    assert_rv(t->f->C_CreateObject(t->session, priv, 5, &priv_key), CKR_OK);
    assert_common_defaults(t->session, priv_key);
    assert_attr_bool(t->session, priv_key, CKA_PRIVATE, CK_TRUE);
    assert_attr_bool(t->session, priv_key, CKA_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, priv_key, CKA_EXTRACTABLE, CK_FALSE);
    assert_attr_bool(t->session, priv_key, CKA_LOCAL, CK_FALSE);
    assert_value(t->session, priv_key, CKA_EC_PARAMS, ec.params.data, ec.params.len);
    unsigned char out[64];
    CK_ATTRIBUTE value = {CKA_VALUE, out, sizeof(out)};
    assert_rv(t->f->C_GetAttributeValue(t->session, priv_key, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    fx_ec_key_free(&ec);
}

static void rsa_private_key_object(void **state)
{
    fx *t = *state;
    fx_rsa_key rsa;
    fx_rsa_key_new(&rsa);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_RSA;
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_MODULUS, rsa.modulus.data, rsa.modulus.len},
        {CKA_PUBLIC_EXPONENT, rsa.public_exponent.data, rsa.public_exponent.len},
        {CKA_PRIVATE_EXPONENT, rsa.private_exponent.data, rsa.private_exponent.len},
        {CKA_PRIME_1, rsa.prime1.data, rsa.prime1.len},
        {CKA_PRIME_2, rsa.prime2.data, rsa.prime2.len},
        {CKA_EXPONENT_1, rsa.exponent1.data, rsa.exponent1.len},
        {CKA_EXPONENT_2, rsa.exponent2.data, rsa.exponent2.len},
        {CKA_COEFFICIENT, rsa.coefficient.data, rsa.coefficient.len},
        {CKA_ID, "rsa", 3},
    };
    CK_OBJECT_HANDLE key;
    assert_rv(t->f->C_CreateObject(t->session, priv, 11, &key), CKR_OK);
    assert_attr_bool(t->session, key, CKA_PRIVATE, CK_TRUE);
    assert_attr_bool(t->session, key, CKA_SENSITIVE, CK_TRUE);
    assert_value(t->session, key, CKA_MODULUS, rsa.modulus.data, rsa.modulus.len);
    assert_value(t->session, key, CKA_PUBLIC_EXPONENT, rsa.public_exponent.data,
                 rsa.public_exponent.len);
    static const CK_ATTRIBUTE_TYPE secret[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
                                               CKA_PRIME_2,          CKA_EXPONENT_1,
                                               CKA_EXPONENT_2,       CKA_COEFFICIENT};
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++) {
        unsigned char out[512];
        CK_ATTRIBUTE attr = {secret[i], out, sizeof(out)};
        assert_rv(t->f->C_GetAttributeValue(t->session, key, &attr, 1), CKR_ATTRIBUTE_SENSITIVE);
        assert_int_equal(attr.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    }
    /* without its modulus an RSA private key is incomplete */
    priv[2] = priv[10];
    assert_rv(t->f->C_CreateObject(t->session, priv, 10, &key), CKR_TEMPLATE_INCOMPLETE);
    fx_rsa_key_free(&rsa);
}

/* ---- templates that must be refused --------------------------------------------------- */

static void bad_templates(void **state)
{
    fx *t = *state;
    CK_ATTRIBUTE all[1];
    CK_ULONG before = fx_find(t->session, all, 0, NULL, 0);
    CK_OBJECT_CLASS data = CKO_DATA, bogus_class = 0x7ff00000;
    CK_ULONG four_bytes = 1;
    CK_OBJECT_HANDLE object;

    CK_ATTRIBUTE no_class[] = {{CKA_LABEL, "x", 1}, {CKA_VALUE, "v", 1}};
    assert_rv(t->f->C_CreateObject(t->session, no_class, 2, &object), CKR_TEMPLATE_INCOMPLETE);

    CK_ATTRIBUTE unknown_type[] = {{CKA_CLASS, &data, sizeof(data)}, {0x7ff00001, "x", 1}};
    assert_rv(t->f->C_CreateObject(t->session, unknown_type, 2, &object),
              CKR_ATTRIBUTE_TYPE_INVALID);

    CK_ATTRIBUTE short_class[] = {{CKA_CLASS, &data, 1}};
    assert_rv(t->f->C_CreateObject(t->session, short_class, 1, &object),
              CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE long_bool[] = {{CKA_CLASS, &data, sizeof(data)},
                                {CKA_TOKEN, &four_bytes, sizeof(four_bytes)}};
    assert_rv(t->f->C_CreateObject(t->session, long_bool, 2, &object), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE wrong_class[] = {{CKA_CLASS, &bogus_class, sizeof(bogus_class)}};
    assert_rv(t->f->C_CreateObject(t->session, wrong_class, 1, &object),
              CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE null_value[] = {{CKA_CLASS, &data, sizeof(data)}, {CKA_LABEL, NULL_PTR, 4}};
    assert_rv_in(t->f->C_CreateObject(t->session, null_value, 2, &object), CKR_ARGUMENTS_BAD,
                 CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(t->f->C_CreateObject(t->session, NULL_PTR, 2, &object), CKR_ARGUMENTS_BAD);

    /* attributes only the token sets */
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_MECHANISM_TYPE gen = CKM_AES_KEY_GEN;
    const CK_ATTRIBUTE read_only[] = {
        BOOL_ATTR(CKA_LOCAL, yes),
        BOOL_ATTR(CKA_ALWAYS_SENSITIVE, yes),
        BOOL_ATTR(CKA_NEVER_EXTRACTABLE, yes),
        {CKA_KEY_GEN_MECHANISM, &gen, sizeof(gen)},
    };
    for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++) {
        CK_ATTRIBUTE tmpl[] = {
            {CKA_CLASS, &secret, sizeof(secret)},
            {CKA_KEY_TYPE, &aes, sizeof(aes)},
            {CKA_VALUE, (void *)aes_value, 32},
            read_only[i],
        };
        assert_rv(t->f->C_CreateObject(t->session, tmpl, 4, &object), CKR_ATTRIBUTE_READ_ONLY);
    }

    /* the same attribute twice with different values */
    CK_ATTRIBUTE twice[] = {
        {CKA_CLASS, &data, sizeof(data)}, BOOL_ATTR(CKA_PRIVATE, yes), BOOL_ATTR(CKA_PRIVATE, no)};
    assert_rv(t->f->C_CreateObject(t->session, twice, 3, &object), CKR_TEMPLATE_INCONSISTENT);

    /* nothing of the above was created */
    assert_int_equal(fx_find(t->session, all, 0, NULL, 0), before);
}

static void session_and_login_rules(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE ro;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    assert_rv(fx_create_data(ro, "token", true, false, "v", 1, &object), CKR_SESSION_READ_ONLY);
    assert_rv(fx_create_data(ro, "session", false, true, "v", 1, &object), CKR_OK);
    assert_rv(fx_create_data(t->session, "token", true, false, "v", 1, &object), CKR_OK);
    /* a token object cannot be changed or destroyed from a read-only session */
    CK_ATTRIBUTE label = {CKA_LABEL, "new", 3};
    assert_rv(t->f->C_SetAttributeValue(ro, object, &label, 1), CKR_SESSION_READ_ONLY);
    assert_rv(t->f->C_DestroyObject(ro, object), CKR_SESSION_READ_ONLY);

    assert_rv(t->f->C_Logout(t->session), CKR_OK);
    assert_rv(fx_create_data(t->session, "private", false, true, "v", 1, &object),
              CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_create_data(t->session, "private", true, true, "v", 1, &object),
              CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_create_aes(t->session, "key", false, true, false, aes_value, 32, &object),
              CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_create_data(t->session, "public", true, false, "v", 1, &object), CKR_OK);
}

/* ---- C_GetAttributeValue ---------------------------------------------------------------- */

static void get_attribute_semantics(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE data, key;
    assert_rv(fx_create_data(t->session, "a label", false, false, "0123456789", 10, &data), CKR_OK);
    assert_rv(fx_create_aes(t->session, "key", false, true, false, aes_value, 32, &key), CKR_OK);

    /* size query */
    CK_ATTRIBUTE query[] = {{CKA_LABEL, NULL_PTR, 0}, {CKA_VALUE, NULL_PTR, 0}};
    assert_rv(t->f->C_GetAttributeValue(t->session, data, query, 2), CKR_OK);
    assert_int_equal(query[0].ulValueLen, 7);
    assert_int_equal(query[1].ulValueLen, 10);

    /* one buffer too small: that one is unavailable, the others are filled */
    char label[32], value[4];
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE small[] = {
        {CKA_LABEL, label, sizeof(label)},
        {CKA_VALUE, value, sizeof(value)},
        {CKA_CLASS, &cls, sizeof(cls)},
    };
    assert_rv(t->f->C_GetAttributeValue(t->session, data, small, 3), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small[0].ulValueLen, 7);
    assert_memory_equal(label, "a label", 7);
    assert_int_equal(small[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(small[2].ulValueLen, sizeof(cls));
    assert_int_equal(cls, CKO_DATA);

    /* a sensitive value: CKR_ATTRIBUTE_SENSITIVE, the others still filled */
    unsigned char secret[32];
    CK_ULONG value_len = 0;
    CK_ATTRIBUTE sensitive[] = {
        {CKA_VALUE, secret, sizeof(secret)},
        {CKA_VALUE_LEN, &value_len, sizeof(value_len)},
    };
    assert_rv(t->f->C_GetAttributeValue(t->session, key, sensitive, 2), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(sensitive[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(sensitive[1].ulValueLen, sizeof(CK_ULONG));
    assert_int_equal(value_len, 32);
    /* even as a size query */
    CK_ATTRIBUTE sensitive_query = {CKA_VALUE, NULL_PTR, 0};
    assert_rv(t->f->C_GetAttributeValue(t->session, key, &sensitive_query, 1),
              CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(sensitive_query.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* an attribute the object does not have */
    cls = 0;
    CK_ATTRIBUTE invalid[] = {
        {CKA_MODULUS, label, sizeof(label)},
        {CKA_CLASS, &cls, sizeof(cls)},
        {0x7ff00001, label, sizeof(label)},
    };
    assert_rv(t->f->C_GetAttributeValue(t->session, data, invalid, 3), CKR_ATTRIBUTE_TYPE_INVALID);
    assert_int_equal(invalid[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
    assert_int_equal(invalid[1].ulValueLen, sizeof(cls));
    assert_int_equal(cls, CKO_DATA);
    assert_int_equal(invalid[2].ulValueLen, CK_UNAVAILABLE_INFORMATION);

    assert_rv(t->f->C_GetAttributeValue(t->session, data, NULL_PTR, 1), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetAttributeValue(t->session, 0x7ffffff0, query, 2),
              CKR_OBJECT_HANDLE_INVALID);
    assert_rv(t->f->C_GetAttributeValue(t->session, CK_INVALID_HANDLE, query, 2),
              CKR_OBJECT_HANDLE_INVALID);
}

/* ---- C_SetAttributeValue ----------------------------------------------------------------- */

static void set_attribute_rules(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE data, key, clear;
    assert_rv(fx_create_data(t->session, "old", true, false, "v", 1, &data), CKR_OK);
    CK_ATTRIBUTE label = {CKA_LABEL, "a new label", 11};
    assert_rv(t->f->C_SetAttributeValue(t->session, data, &label, 1), CKR_OK);
    assert_value(t->session, data, CKA_LABEL, "a new label", 11);
    assert_rv(fx_restart(), CKR_OK); /* and it is stored */
    assert_rv(fx_open(t->slot, true, &t->session), CKR_OK);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_value(t->session, data, CKA_LABEL, "a new label", 11);

    CK_OBJECT_CLASS other = CKO_CERTIFICATE;
    CK_ATTRIBUTE cls = {CKA_CLASS, &other, sizeof(other)};
    assert_rv(t->f->C_SetAttributeValue(t->session, data, &cls, 1), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE token = BOOL_ATTR(CKA_TOKEN, no);
    assert_rv(t->f->C_SetAttributeValue(t->session, data, &token, 1), CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE unknown = {0x7ff00001, "x", 1};
    assert_rv(t->f->C_SetAttributeValue(t->session, data, &unknown, 1), CKR_ATTRIBUTE_TYPE_INVALID);

    /* CKA_SENSITIVE only goes FALSE -> TRUE, CKA_EXTRACTABLE only TRUE -> FALSE */
    assert_rv(fx_create_aes(t->session, "key", false, true, false, aes_value, 32, &key), CKR_OK);
    CK_ATTRIBUTE unsensitive = BOOL_ATTR(CKA_SENSITIVE, no);
    CK_ATTRIBUTE extractable = BOOL_ATTR(CKA_EXTRACTABLE, yes);
    assert_rv(t->f->C_SetAttributeValue(t->session, key, &unsensitive, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_rv(t->f->C_SetAttributeValue(t->session, key, &extractable, 1), CKR_ATTRIBUTE_READ_ONLY);
    assert_attr_bool(t->session, key, CKA_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, key, CKA_EXTRACTABLE, CK_FALSE);

    assert_rv(fx_create_aes(t->session, "clear", false, false, true, aes_value, 32, &clear),
              CKR_OK);
    CK_ATTRIBUTE sensitive = BOOL_ATTR(CKA_SENSITIVE, yes);
    CK_ATTRIBUTE unextractable = BOOL_ATTR(CKA_EXTRACTABLE, no);
    assert_rv(t->f->C_SetAttributeValue(t->session, clear, &sensitive, 1), CKR_OK);
    assert_rv(t->f->C_SetAttributeValue(t->session, clear, &unextractable, 1), CKR_OK);
    assert_attr_bool(t->session, clear, CKA_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, clear, CKA_EXTRACTABLE, CK_FALSE);
    assert_attr_bool(t->session, clear, CKA_ALWAYS_SENSITIVE, CK_FALSE);
    unsigned char out[32];
    CK_ATTRIBUTE value = {CKA_VALUE, out, sizeof(out)};
    assert_rv(t->f->C_GetAttributeValue(t->session, clear, &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_rv(t->f->C_SetAttributeValue(t->session, clear, &unsensitive, 1),
              CKR_ATTRIBUTE_READ_ONLY);

    /* an object made unmodifiable refuses every change */
    CK_OBJECT_HANDLE fixed;
    CK_OBJECT_CLASS data_cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &data_cls, sizeof(data_cls)},
        {CKA_LABEL, "fixed", 5},
        BOOL_ATTR(CKA_MODIFIABLE, no),
    };
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 3, &fixed), CKR_OK);
    assert_rv(t->f->C_SetAttributeValue(t->session, fixed, &label, 1), CKR_ACTION_PROHIBITED);
    CK_ATTRIBUTE modifiable = BOOL_ATTR(CKA_MODIFIABLE, yes);
    assert_rv_in(t->f->C_SetAttributeValue(t->session, fixed, &modifiable, 1),
                 CKR_ACTION_PROHIBITED, CKR_ATTRIBUTE_READ_ONLY);
    assert_value(t->session, fixed, CKA_LABEL, "fixed", 5);
    /* but it can still be destroyed */
    assert_rv(t->f->C_DestroyObject(t->session, fixed), CKR_OK);
}

/* ---- C_CopyObject, C_DestroyObject, C_GetObjectSize ------------------------------------- */

static void copy_object(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE original, copy;
    assert_rv(fx_create_data(t->session, "original", false, false, "payload", 7, &original),
              CKR_OK);
    CK_BBOOL on_token = CK_TRUE;
    CK_ATTRIBUTE changes[] = {{CKA_LABEL, "copy", 4}, {CKA_TOKEN, &on_token, 1}};
    assert_rv(t->f->C_CopyObject(t->session, original, changes, 2, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_CopyObject(t->session, original, changes, 2, &copy), CKR_OK);
    assert_int_not_equal(copy, original);
    assert_value(t->session, copy, CKA_LABEL, "copy", 4);
    assert_value(t->session, copy, CKA_VALUE, "payload", 7);
    assert_attr_bool(t->session, copy, CKA_TOKEN, CK_TRUE);
    assert_value(t->session, original, CKA_LABEL, "original", 8);
    assert_attr_bool(t->session, original, CKA_TOKEN, CK_FALSE);

    CK_OBJECT_CLASS cert = CKO_CERTIFICATE;
    CK_ATTRIBUTE change_class = {CKA_CLASS, &cert, sizeof(cert)};
    assert_rv_in(t->f->C_CopyObject(t->session, original, &change_class, 1, &copy),
                 CKR_ATTRIBUTE_READ_ONLY, CKR_TEMPLATE_INCONSISTENT);
    assert_rv(t->f->C_CopyObject(t->session, 0x7ffffff0, changes, 1, &copy),
              CKR_OBJECT_HANDLE_INVALID);

    /* a copy of a sensitive key stays sensitive */
    CK_OBJECT_HANDLE key, key_copy;
    assert_rv(fx_create_aes(t->session, "key", false, true, false, aes_value, 32, &key), CKR_OK);
    CK_ATTRIBUTE unsensitive = BOOL_ATTR(CKA_SENSITIVE, no);
    assert_rv(t->f->C_CopyObject(t->session, key, &unsensitive, 1, &key_copy),
              CKR_ATTRIBUTE_READ_ONLY);
    assert_rv(t->f->C_CopyObject(t->session, key, changes, 1, &key_copy), CKR_OK);
    assert_attr_bool(t->session, key_copy, CKA_SENSITIVE, CK_TRUE);

    CK_OBJECT_HANDLE uncopyable;
    CK_OBJECT_CLASS data_cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &data_cls, sizeof(data_cls)}, BOOL_ATTR(CKA_COPYABLE, no)};
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 2, &uncopyable), CKR_OK);
    assert_rv(t->f->C_CopyObject(t->session, uncopyable, changes, 1, &copy), CKR_ACTION_PROHIBITED);
    /* CKA_COPYABLE cannot be turned back on */
    CK_ATTRIBUTE copyable = BOOL_ATTR(CKA_COPYABLE, yes);
    assert_rv(t->f->C_SetAttributeValue(t->session, uncopyable, &copyable, 1),
              CKR_ATTRIBUTE_READ_ONLY);
}

static void destroy_object(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE object, fixed;
    assert_rv(fx_create_data(t->session, "bye", true, false, "v", 1, &object), CKR_OK);
    assert_rv(t->f->C_DestroyObject(t->session, object), CKR_OK);
    CK_ATTRIBUTE label = {CKA_LABEL, NULL_PTR, 0};
    assert_rv(t->f->C_GetAttributeValue(t->session, object, &label, 1), CKR_OBJECT_HANDLE_INVALID);
    assert_rv(t->f->C_DestroyObject(t->session, object), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(fx_count_label(t->session, "bye"), 0);

    CK_OBJECT_CLASS data_cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &data_cls, sizeof(data_cls)},
                           {CKA_LABEL, "stays", 5},
                           BOOL_ATTR(CKA_TOKEN, yes),
                           BOOL_ATTR(CKA_DESTROYABLE, no)};
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 4, &fixed), CKR_OK);
    assert_rv(t->f->C_DestroyObject(t->session, fixed), CKR_ACTION_PROHIBITED);
    assert_int_equal(fx_count_label(t->session, "stays"), 1);
}

static void object_size(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE small, big;
    unsigned char payload[2000];
    memset(payload, 'p', sizeof(payload));
    assert_rv(fx_create_data(t->session, "small", false, false, "v", 1, &small), CKR_OK);
    assert_rv(fx_create_data(t->session, "big", false, false, payload, sizeof(payload), &big),
              CKR_OK);
    CK_ULONG small_size = 0, big_size = 0;
    assert_rv(t->f->C_GetObjectSize(t->session, small, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetObjectSize(t->session, small, &small_size), CKR_OK);
    assert_rv(t->f->C_GetObjectSize(t->session, big, &big_size), CKR_OK);
    if (small_size != CK_UNAVAILABLE_INFORMATION) {
        assert_true(small_size > 0);
        if (big_size < small_size + sizeof(payload) / 2)
            fail_msg("a 2000-byte value adds %lu bytes to the object size",
                     (unsigned long)(big_size - small_size));
    }
    assert_rv(t->f->C_GetObjectSize(t->session, 0x7ffffff0, &small_size),
              CKR_OBJECT_HANDLE_INVALID);
}

/* ---- CKA_LOCAL, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE -------------------------------- */

static void generated_versus_created(void **state)
{
    fx *t = *state;
    CK_MECHANISM aes_gen = {CKM_AES_KEY_GEN, NULL_PTR, 0};
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}};
    CK_OBJECT_HANDLE generated, created, loose;
    assert_rv(t->f->C_GenerateKey(t->session, &aes_gen, tmpl, 1, &generated), CKR_OK);
    assert_attr_bool(t->session, generated, CKA_LOCAL, CK_TRUE);
    assert_attr_bool(t->session, generated, CKA_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, generated, CKA_ALWAYS_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, generated, CKA_NEVER_EXTRACTABLE, CK_TRUE);
    assert_attr_bool(t->session, generated, CKA_PRIVATE, CK_TRUE);
    assert_int_equal(fx_get_ulong(t->session, generated, CKA_KEY_GEN_MECHANISM), CKM_AES_KEY_GEN);
    assert_int_equal(fx_get_ulong(t->session, generated, CKA_KEY_TYPE), CKK_AES);
    assert_int_equal(fx_get_ulong(t->session, generated, CKA_VALUE_LEN), 32);

    /* generated but once extractable and not sensitive */
    CK_ATTRIBUTE loose_tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)},
                                 BOOL_ATTR(CKA_SENSITIVE, no),
                                 BOOL_ATTR(CKA_EXTRACTABLE, yes)};
    assert_rv(t->f->C_GenerateKey(t->session, &aes_gen, loose_tmpl, 3, &loose), CKR_OK);
    assert_attr_bool(t->session, loose, CKA_LOCAL, CK_TRUE);
    assert_attr_bool(t->session, loose, CKA_ALWAYS_SENSITIVE, CK_FALSE);
    assert_attr_bool(t->session, loose, CKA_NEVER_EXTRACTABLE, CK_FALSE);
    CK_ATTRIBUTE sensitive = BOOL_ATTR(CKA_SENSITIVE, yes);
    assert_rv(t->f->C_SetAttributeValue(t->session, loose, &sensitive, 1), CKR_OK);
    assert_attr_bool(t->session, loose, CKA_ALWAYS_SENSITIVE, CK_FALSE); /* once is enough */

    assert_rv(fx_create_aes(t->session, "created", false, true, false, aes_value, 32, &created),
              CKR_OK);
    assert_attr_bool(t->session, created, CKA_LOCAL, CK_FALSE);
    assert_attr_bool(t->session, created, CKA_ALWAYS_SENSITIVE, CK_FALSE);
    assert_attr_bool(t->session, created, CKA_NEVER_EXTRACTABLE, CK_FALSE);

    /* a generated EC pair: the private half is local and always sensitive */
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, NULL_PTR, 0};
    CK_ATTRIBUTE pub_tmpl[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    CK_ATTRIBUTE priv_tmpl[] = {BOOL_ATTR(CKA_SIGN, yes)};
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(t->f->C_GenerateKeyPair(t->session, &ec_gen, pub_tmpl, 1, priv_tmpl, 1, &pub, &priv),
              CKR_OK);
    assert_attr_bool(t->session, priv, CKA_LOCAL, CK_TRUE);
    assert_attr_bool(t->session, priv, CKA_ALWAYS_SENSITIVE, CK_TRUE);
    assert_attr_bool(t->session, priv, CKA_NEVER_EXTRACTABLE, CK_TRUE);
    assert_attr_bool(t->session, priv, CKA_PRIVATE, CK_TRUE);
    assert_attr_bool(t->session, pub, CKA_LOCAL, CK_TRUE);
    assert_attr_bool(t->session, pub, CKA_PRIVATE, CK_FALSE);
    assert_int_equal(fx_get_ulong(t->session, priv, CKA_KEY_GEN_MECHANISM), CKM_EC_KEY_PAIR_GEN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(data_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(certificate_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(secret_key_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_key_objects, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_private_key_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_templates, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(session_and_login_rules, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(get_attribute_semantics, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(set_attribute_rules, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(copy_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(destroy_object, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(object_size, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(generated_versus_created, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("objects", tests, NULL, NULL);
}
