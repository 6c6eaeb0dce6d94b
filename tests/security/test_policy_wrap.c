/*
 * Wrapping attacks (issue 15; Clulow 2003; the Tookan set of Bortolozzo
 * et al. 2010) against docs/spec.md §7.2.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static const unsigned char secret[32] = "the sensitive key, 32 bytes long";
static const unsigned char attacker[16] = "attacker's value";
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static CK_KEY_TYPE aes = CKK_AES;

static CK_OBJECT_HANDLE target(fx *t, bool wrap_with_trusted)
{
    CK_BBOOL wwt = wrap_with_trusted;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_EXTRACTABLE, &yes, 1}, {CKA_WRAP_WITH_TRUSTED, &wwt, 1},
        {CKA_VALUE, (void *)secret, sizeof(secret)},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 5, &h), CKR_OK);
    return h;
}

/* Issue 15: a CKA_WRAP_WITH_TRUSTED key wrapped under an imported key. */
static void wrap_with_trusted_needs_a_trusted_key(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE key = target(t, true), kek;
    assert_rv(fx_create_kek(t->session, "imported", attacker, sizeof(attacker), &kek), CKR_OK);
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
    unsigned char out[64];
    CK_ULONG len = sizeof(out);
    assert_rv(t->f->C_WrapKey(t->session, &kw, kek, key, out, &len), CKR_KEY_NOT_WRAPPABLE);
    CK_ATTRIBUTE trust = {CKA_TRUSTED, &yes, 1}; /* only the SO marks trust */
    assert_rv(t->f->C_SetAttributeValue(t->session, kek, &trust, 1), CKR_ATTRIBUTE_READ_ONLY);
    /* the same key without the flag wraps */
    len = sizeof(out);
    assert_rv(t->f->C_WrapKey(t->session, &kw, kek, target(t, false), out, &len), CKR_OK);
}

/* Issue 15 and Clulow 2003: wrap under a key that also decrypts, then
 * C_Decrypt the wrapped bytes.  Strict separation refuses such a key when
 * it is made, changed or used. */
static void wrap_then_decrypt(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE key = target(t, false), both = CK_INVALID_HANDLE, kek;
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL, 0};
    CK_ULONG len = 16;
    CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_WRAP, &yes, 1},
                           {CKA_DECRYPT, &yes, 1}};
    assert_rv(t->f->C_GenerateKey(t->session, &gen, tmpl, 3, &both), CKR_TEMPLATE_INCONSISTENT);
    /* a generated key wraps only when asked, and then does not decrypt */
    CK_OBJECT_HANDLE plain;
    assert_rv(t->f->C_GenerateKey(t->session, &gen, tmpl, 1, &plain), CKR_OK);
    assert_false(fx_get_bool(t->session, plain, CKA_WRAP));
    assert_rv(t->f->C_GenerateKey(t->session, &gen, tmpl, 2, &kek), CKR_OK);
    assert_false(fx_get_bool(t->session, kek, CKA_DECRYPT));
    CK_ATTRIBUTE decrypt = {CKA_DECRYPT, &yes, 1};
    assert_rv(t->f->C_SetAttributeValue(t->session, kek, &decrypt, 1), CKR_TEMPLATE_INCONSISTENT);
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
    unsigned char out[64];
    CK_ULONG out_len = sizeof(out);
    assert_rv(t->f->C_WrapKey(t->session, &kw, kek, key, out, &out_len), CKR_OK);
    assert_rv(t->f->C_DecryptInit(t->session, &kw, kek), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* Clulow 2003 key conjuring / Tookan "encrypt then unwrap": a key that
 * encrypts known bytes cannot unwrap them as a key the attacker knows. */
static void encrypt_then_unwrap(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k;
    assert_rv(fx_create_aes(t->session, "enc", false, true, false, attacker, 16, &k), CKR_OK);
    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
    unsigned char blob[24] = {0};
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &aes, sizeof(aes)}};
    CK_OBJECT_HANDLE conjured;
    assert_rv(t->f->C_UnwrapKey(t->session, &kw, k, blob, sizeof(blob), tmpl, 2, &conjured),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* CKA_WRAP_TEMPLATE and CKA_UNWRAP_TEMPLATE (PKCS#11 3.0 §4.8) were
 * rejected as unknown; now kept, readable, and enforced. */
static void wrap_and_unwrap_templates(void **state)
{
    fx *t = *state;
    CK_ATTRIBUTE only_trusted_targets[] = {{CKA_WRAP_WITH_TRUSTED, &yes, 1}};
    CK_ATTRIBUTE unwrapped_sensitive[] = {{CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1}};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_WRAP, &yes, 1}, {CKA_UNWRAP, &yes, 1},
        {CKA_WRAP_TEMPLATE, only_trusted_targets, sizeof(only_trusted_targets)},
        {CKA_UNWRAP_TEMPLATE, unwrapped_sensitive, sizeof(unwrapped_sensitive)},
        {CKA_VALUE, (void *)attacker, sizeof(attacker)},
    };
    CK_OBJECT_HANDLE kek;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 7, &kek), CKR_OK);
    CK_ATTRIBUTE read = {CKA_UNWRAP_TEMPLATE, NULL, 0};
    assert_rv(t->f->C_GetAttributeValue(t->session, kek, &read, 1), CKR_OK);
    assert_int_equal(read.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));

    CK_MECHANISM kw = {CKM_AES_KEY_WRAP, NULL, 0};
    unsigned char out[64];
    CK_ULONG len = sizeof(out);
    assert_rv(t->f->C_WrapKey(t->session, &kw, kek, target(t, false), out, &len),
              CKR_KEY_NOT_WRAPPABLE);
    /* Tookan "re-import with weaker attributes": the unwrap template wins */
    CK_OBJECT_HANDLE other, back;
    assert_rv(fx_create_kek(t->session, "k2", attacker, sizeof(attacker), &other), CKR_OK);
    len = sizeof(out);
    assert_rv(t->f->C_WrapKey(t->session, &kw, other, target(t, false), out, &len), CKR_OK);
    /* other has no template, kek does: unwrap the blob under kek's value */
    CK_ATTRIBUTE weak[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_SENSITIVE, &no, 1}};
    assert_rv(t->f->C_UnwrapKey(t->session, &kw, kek, out, len, weak, 3, &back),
              CKR_TEMPLATE_INCONSISTENT);
    assert_rv(t->f->C_UnwrapKey(t->session, &kw, kek, out, len, weak, 2, &back), CKR_OK);
    assert_true(fx_get_bool(t->session, back, CKA_SENSITIVE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(wrap_with_trusted_needs_a_trusted_key, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(wrap_then_decrypt, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(encrypt_then_unwrap, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(wrap_and_unwrap_templates, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("policy-wrap", tests, NULL, NULL);
}
