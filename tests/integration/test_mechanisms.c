/*
 * C_GetMechanismList / C_GetMechanismInfo (PKCS#11 3.0 §5.5): the list is
 * consistent with the info, and the mechanisms softse promises are
 * there with the functions they serve.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define SIGN_VERIFY (CKF_SIGN | CKF_VERIFY)
#define ENCRYPT_DECRYPT (CKF_ENCRYPT | CKF_DECRYPT)

static const struct {
    CK_MECHANISM_TYPE type;
    const char *name;
    CK_FLAGS flags; /* at least these */
} promised[] = {
    {CKM_SHA_1, "CKM_SHA_1", CKF_DIGEST},
    {CKM_SHA224, "CKM_SHA224", CKF_DIGEST},
    {CKM_SHA256, "CKM_SHA256", CKF_DIGEST},
    {CKM_SHA384, "CKM_SHA384", CKF_DIGEST},
    {CKM_SHA512, "CKM_SHA512", CKF_DIGEST},
    {CKM_SHA3_256, "CKM_SHA3_256", CKF_DIGEST},
    {CKM_SHA3_384, "CKM_SHA3_384", CKF_DIGEST},
    {CKM_SHA3_512, "CKM_SHA3_512", CKF_DIGEST},
    {CKM_RSA_PKCS_KEY_PAIR_GEN, "CKM_RSA_PKCS_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR},
    {CKM_EC_KEY_PAIR_GEN, "CKM_EC_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR},
    {CKM_EC_EDWARDS_KEY_PAIR_GEN, "CKM_EC_EDWARDS_KEY_PAIR_GEN", CKF_GENERATE_KEY_PAIR},
    {CKM_AES_KEY_GEN, "CKM_AES_KEY_GEN", CKF_GENERATE},
    {CKM_GENERIC_SECRET_KEY_GEN, "CKM_GENERIC_SECRET_KEY_GEN", CKF_GENERATE},
    {CKM_RSA_PKCS, "CKM_RSA_PKCS", SIGN_VERIFY | ENCRYPT_DECRYPT},
    {CKM_RSA_PKCS_PSS, "CKM_RSA_PKCS_PSS", SIGN_VERIFY},
    {CKM_ECDSA, "CKM_ECDSA", SIGN_VERIFY},
    {CKM_EDDSA, "CKM_EDDSA", SIGN_VERIFY},
    {CKM_SHA256_HMAC, "CKM_SHA256_HMAC", SIGN_VERIFY},
    {CKM_AES_CMAC, "CKM_AES_CMAC", SIGN_VERIFY},
    {CKM_AES_ECB, "CKM_AES_ECB", ENCRYPT_DECRYPT},
    {CKM_AES_CBC, "CKM_AES_CBC", ENCRYPT_DECRYPT},
    {CKM_AES_CBC_PAD, "CKM_AES_CBC_PAD", ENCRYPT_DECRYPT},
    {CKM_AES_CTR, "CKM_AES_CTR", ENCRYPT_DECRYPT},
    {CKM_AES_GCM, "CKM_AES_GCM", ENCRYPT_DECRYPT},
    {CKM_RSA_PKCS_OAEP, "CKM_RSA_PKCS_OAEP", ENCRYPT_DECRYPT},
    {CKM_AES_KEY_WRAP, "CKM_AES_KEY_WRAP", CKF_WRAP | CKF_UNWRAP},
    {CKM_AES_KEY_WRAP_KWP, "CKM_AES_KEY_WRAP_KWP", CKF_WRAP | CKF_UNWRAP},
    {CKM_ECDH1_DERIVE, "CKM_ECDH1_DERIVE", CKF_DERIVE},
    {CKM_HKDF_DERIVE, "CKM_HKDF_DERIVE", CKF_DERIVE},
    {CKM_SP800_108_COUNTER_KDF, "CKM_SP800_108_COUNTER_KDF", CKF_DERIVE},
};

static CK_ULONG mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE *list, CK_ULONG max)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_ULONG count = 0;
    assert_rv(f->C_GetMechanismList(slot, NULL_PTR, &count), CKR_OK);
    assert_true(count > 0 && count <= max);
    CK_ULONG got = max;
    assert_rv(f->C_GetMechanismList(slot, list, &got), CKR_OK);
    assert_int_equal(got, count);
    return got;
}

static void list_and_info_agree(void **state)
{
    fx *t = *state;
    CK_MECHANISM_TYPE list[512];
    CK_ULONG count = mechanism_list(t->slot, list, 512);
    CK_ULONG small = 1;
    assert_rv(t->f->C_GetMechanismList(t->slot, list, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, count);
    assert_rv(t->f->C_GetMechanismList(t->slot, list, NULL_PTR), CKR_ARGUMENTS_BAD);
    count = mechanism_list(t->slot, list, 512);

    for (CK_ULONG i = 0; i < count; i++) {
        for (CK_ULONG j = 0; j < i; j++)
            if (list[i] == list[j])
                fail_msg("mechanism 0x%lx listed twice", (unsigned long)list[i]);
        CK_MECHANISM_INFO info;
        CK_RV rv = t->f->C_GetMechanismInfo(t->slot, list[i], &info);
        if (rv != CKR_OK)
            fail_msg("listed mechanism 0x%lx: C_GetMechanismInfo: %s", (unsigned long)list[i],
                     fx_rv_name(rv));
        if (info.ulMinKeySize > info.ulMaxKeySize)
            fail_msg("mechanism 0x%lx: key sizes %lu..%lu", (unsigned long)list[i],
                     (unsigned long)info.ulMinKeySize, (unsigned long)info.ulMaxKeySize);
        if ((info.flags & ~(CKF_EXTENSION)) == 0)
            fail_msg("mechanism 0x%lx serves no function", (unsigned long)list[i]);
    }
    CK_MECHANISM_INFO info;
    assert_rv(t->f->C_GetMechanismInfo(t->slot, CKM_VENDOR_DEFINED | 0x7777, &info),
              CKR_MECHANISM_INVALID);
    assert_rv(t->f->C_GetMechanismInfo(t->slot, CKM_SHA256, NULL_PTR), CKR_ARGUMENTS_BAD);
}

static void promised_mechanisms(void **state)
{
    fx *t = *state;
    CK_MECHANISM_TYPE list[512];
    CK_ULONG count = mechanism_list(t->slot, list, 512);
    int missing = 0;
    for (size_t p = 0; p < sizeof(promised) / sizeof(promised[0]); p++) {
        bool listed = false;
        for (CK_ULONG i = 0; i < count; i++)
            listed |= list[i] == promised[p].type;
        CK_MECHANISM_INFO info;
        CK_RV rv = t->f->C_GetMechanismInfo(t->slot, promised[p].type, &info);
        if (!listed || rv != CKR_OK) {
            print_error("%s: %s, C_GetMechanismInfo: %s\n", promised[p].name,
                        listed ? "listed" : "not listed", fx_rv_name(rv));
            missing++;
        } else if ((info.flags & promised[p].flags) != promised[p].flags) {
            print_error("%s: flags 0x%lx lack 0x%lx\n", promised[p].name, (unsigned long)info.flags,
                        (unsigned long)promised[p].flags);
            missing++;
        }
    }
    assert_int_equal(missing, 0);
}

static void key_sizes(void **state)
{
    fx *t = *state;
    CK_MECHANISM_INFO info;
    assert_rv(t->f->C_GetMechanismInfo(t->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &info), CKR_OK);
    assert_true(info.ulMinKeySize <= 2048 && info.ulMaxKeySize >= 4096); /* bits */
    assert_rv(t->f->C_GetMechanismInfo(t->slot, CKM_AES_KEY_GEN, &info), CKR_OK);
    assert_int_equal(info.ulMinKeySize, 16); /* bytes */
    assert_int_equal(info.ulMaxKeySize, 32);
    assert_rv(t->f->C_GetMechanismInfo(t->slot, CKM_EC_KEY_PAIR_GEN, &info), CKR_OK);
    assert_true(info.ulMinKeySize <= 256 && info.ulMaxKeySize >= 521); /* bits */
}

/* The blank slot's token already answers mechanism queries. */
/* CKM_HKDF_DERIVE with the salt given as a key (CKF_HKDF_SALT_KEY) derives
 * what the same salt given as data does; a salt handle that is not a
 * secret key is a bad parameter. */
static CK_OBJECT_HANDLE secret_key(CK_SESSION_HANDLE s, const void *value, CK_ULONG len)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    /* Known test values: readable, so what is derived from them may be
     * (docs/spec.md §7.2). */
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, (void *)value, len}, {CKA_DERIVE, &yes, sizeof(yes)},
                           {CKA_SENSITIVE, &no, sizeof(no)}, {CKA_EXTRACTABLE, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 6, &h), CKR_OK);
    return h;
}

static CK_RV hkdf(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE base, CK_HKDF_PARAMS *p,
                  unsigned char out[32])
{
    CK_MECHANISM mech = {CKM_HKDF_DERIVE, p, sizeof(*p)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE_LEN, &len, sizeof(len)},    {CKA_SENSITIVE, &no, sizeof(no)},
                           {CKA_EXTRACTABLE, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE h;
    CK_RV rv = fx_functions()->C_DeriveKey(s, &mech, base, tmpl, 5, &h);
    if (rv != CKR_OK)
        return rv;
    CK_ATTRIBUTE value = {CKA_VALUE, out, 32};
    return fx_functions()->C_GetAttributeValue(s, h, &value, 1);
}

static void hkdf_salt_as_key(void **state)
{
    fx *t = *state;
    static const unsigned char ikm[22] = {0x0b, 0x0b, 0x0b}, salt[13] = {0, 1, 2, 3, 4, 5, 6};
    static const unsigned char info[10] = {0xf0, 0xf1, 0xf2};
    CK_OBJECT_HANDLE base = secret_key(t->session, ikm, sizeof(ikm));
    CK_OBJECT_HANDLE salt_key = secret_key(t->session, salt, sizeof(salt));
    CK_HKDF_PARAMS as_data = {CK_TRUE, CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_DATA,
                              (CK_BYTE_PTR)salt, sizeof(salt), CK_INVALID_HANDLE,
                              (CK_BYTE_PTR)info, sizeof(info)};
    CK_HKDF_PARAMS as_key = as_data;
    as_key.ulSaltType = CKF_HKDF_SALT_KEY;
    as_key.pSalt = NULL;
    as_key.ulSaltLen = 0;
    as_key.hSaltKey = salt_key;
    unsigned char from_data[32], from_key[32];
    assert_rv(hkdf(t->session, base, &as_data, from_data), CKR_OK);
    assert_rv(hkdf(t->session, base, &as_key, from_key), CKR_OK);
    assert_memory_equal(from_data, from_key, 32);
    as_key.hSaltKey = base + 1000;
    assert_rv(hkdf(t->session, base, &as_key, from_key), CKR_MECHANISM_PARAM_INVALID);
}

static void blank_token_lists_mechanisms(void **state)
{
    (void)state;
    CK_MECHANISM_TYPE list[512];
    CK_ULONG count = mechanism_list(fx_blank_slot(), list, 512);
    bool sha256 = false;
    for (CK_ULONG i = 0; i < count; i++)
        sha256 |= list[i] == CKM_SHA256;
    assert_true(sha256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(list_and_info_agree, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(promised_mechanisms, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(key_sizes, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(blank_token_lists_mechanisms, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(hkdf_salt_as_key, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("mechanisms", tests, NULL, NULL);
}
