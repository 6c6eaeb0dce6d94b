/*
 * Derive-based leaks (issue 15; Tookan, Bortolozzo et al. 2010) against
 * docs/spec.md §7.2: every key an operation touches needs its usage, and
 * derivation never lowers protection.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY, data_class = CKO_DATA;
static CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
static const unsigned char value[32] = "a sensitive generic secret, 32b";

static CK_OBJECT_HANDLE key(fx *t, bool derive, bool sensitive, bool extractable)
{
    CK_BBOOL d = derive, s = sensitive, e = extractable;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_DERIVE, &d, 1}, {CKA_SENSITIVE, &s, 1}, {CKA_EXTRACTABLE, &e, 1},
        {CKA_ENCRYPT, &no, 1}, {CKA_DECRYPT, &no, 1}, {CKA_SIGN, &no, 1}, {CKA_VERIFY, &no, 1},
        {CKA_VALUE, (void *)value, sizeof(value)},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 10, &h), CKR_OK);
    return h;
}

static CK_RV hkdf(fx *t, CK_MECHANISM_TYPE mech, CK_OBJECT_HANDLE base, CK_OBJECT_HANDLE salt,
                  CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    CK_HKDF_PARAMS p = {CK_TRUE, CK_TRUE, CKM_SHA256,
                        salt ? CKF_HKDF_SALT_KEY : CKF_HKDF_SALT_NULL, NULL, 0, salt,
                        (CK_BYTE_PTR) "info", 4};
    CK_MECHANISM m = {mech, &p, sizeof(p)};
    CK_OBJECT_HANDLE out;
    return t->f->C_DeriveKey(t->session, &m, base, tmpl, count, &out);
}

static CK_ULONG len32 = 32;
static CK_ATTRIBUTE readable_key[] = {
    {CKA_CLASS, &secret_class, sizeof(secret_class)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
    {CKA_VALUE_LEN, &len32, sizeof(len32)},           {CKA_SENSITIVE, &no, 1},
    {CKA_EXTRACTABLE, &yes, 1}};
static CK_ATTRIBUTE data_out[] = {{CKA_CLASS, &data_class, sizeof(data_class)},
                                  {CKA_VALUE_LEN, &len32, sizeof(len32)}};

/* Issue 15: HKDF with CKF_HKDF_SALT_KEY used a key with every usage FALSE
 * (an HMAC oracle on any secret key). */
static void salt_key_needs_derive(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE base = key(t, true, false, true), salt = key(t, false, false, true);
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, salt, readable_key, 5),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
    /* a sensitive salt key protects the output as a base would */
    CK_OBJECT_HANDLE sensitive_salt = key(t, true, true, false);
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, sensitive_salt, readable_key, 5),
              CKR_TEMPLATE_INCONSISTENT);
    assert_rv(hkdf(t, CKM_HKDF_DATA, base, sensitive_salt, data_out, 2),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* Issue 15 and Tookan's derive leaks: a sensitive, never-extractable base
 * (a GKEA K, KI) gave a readable key or a data object. */
static void derivation_never_lowers_protection(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE base = key(t, true, true, false);
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, 0, readable_key, 5), CKR_TEMPLATE_INCONSISTENT);
    assert_rv(hkdf(t, CKM_HKDF_DATA, base, 0, data_out, 2), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_ATTRIBUTE extractable[] = {readable_key[0], readable_key[1], readable_key[2],
                                  {CKA_EXTRACTABLE, &yes, 1}};
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, 0, extractable, 4), CKR_TEMPLATE_INCONSISTENT);
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, 0, readable_key, 3), CKR_OK); /* as protected */
}

/* CKA_DERIVE_TEMPLATE (PKCS#11 3.0 §4.9) was rejected as unknown: now it
 * is applied to every key derived from the base. */
static void derive_template_is_enforced(void **state)
{
    fx *t = *state;
    CK_ATTRIBUTE forced[] = {{CKA_SIGN, &no, 1}};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_DERIVE, &yes, 1}, {CKA_DERIVE_TEMPLATE, forced, sizeof(forced)},
        {CKA_VALUE, (void *)value, sizeof(value)},
    };
    CK_OBJECT_HANDLE base;
    assert_rv(t->f->C_CreateObject(t->session, tmpl, 5, &base), CKR_OK);
    CK_ATTRIBUTE sign[] = {readable_key[0], readable_key[1], readable_key[2], {CKA_SIGN, &yes, 1}};
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, 0, sign, 4), CKR_TEMPLATE_INCONSISTENT);
    assert_rv(hkdf(t, CKM_HKDF_DERIVE, base, 0, sign, 3), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(salt_key_needs_derive, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(derivation_never_lowers_protection, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(derive_template_is_enforced, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("policy-derive", tests, NULL, NULL);
}
