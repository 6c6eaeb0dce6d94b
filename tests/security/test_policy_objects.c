/*
 * Objects as oracles (issue 15; docs/spec.md §7.2): C_FindObjects and
 * C_DigestKey must not test guesses of a sensitive value, a PIN of no
 * possible length uses up no retry, C_CopyObject cannot change a class,
 * and a size query answers only sizes that exist.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static const unsigned char key_value[16] = "0123456789abcdef";

/* Issue 15: C_FindObjects matched on a sensitive key's CKA_VALUE. */
static void find_never_matches_a_sensitive_value(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE session_key, token_key, readable;
    assert_rv(fx_create_aes(t->session, "s", false, true, false, key_value, 16, &session_key),
              CKR_OK);
    assert_rv(fx_create_aes(t->session, "t", true, true, false, key_value, 16, &token_key), CKR_OK);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE guess[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_VALUE, (void *)key_value, sizeof(key_value)}};
    assert_int_equal(fx_find(t->session, guess, 2, NULL, 0), 0);
    assert_int_equal(fx_find(t->session, &guess[1], 1, NULL, 0), 0);
    /* a value anyone may read still matches */
    assert_rv(fx_create_aes(t->session, "r", false, false, true, key_value, 16, &readable), CKR_OK);
    CK_OBJECT_HANDLE found[4];
    assert_int_equal(fx_find(t->session, guess, 2, found, 4), 1);
    assert_int_equal(found[0], readable);
}

/* Issue 15: C_DigestKey hashed a sensitive, non-extractable key. */
static void digest_key_refuses_a_sensitive_key(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE sensitive, readable;
    assert_rv(fx_create_aes(t->session, "s", false, true, false, key_value, 16, &sensitive),
              CKR_OK);
    assert_rv(fx_create_aes(t->session, "r", false, false, true, key_value, 16, &readable), CKR_OK);
    CK_MECHANISM sha256 = {CKM_SHA256, NULL, 0};
    assert_rv(t->f->C_DigestInit(t->session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestKey(t->session, sensitive), CKR_KEY_INDIGESTIBLE);
    assert_rv(t->f->C_DigestInit(t->session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestKey(t->session, readable), CKR_OK);
    unsigned char digest[32];
    CK_ULONG len = sizeof(digest);
    assert_rv(t->f->C_DigestFinal(t->session, digest, &len), CKR_OK);
}

/* Issue 15: an empty or 100 kB PIN returned CKR_PIN_INCORRECT and used
 * up a retry (docs/spec.md §7: CKR_PIN_LEN_RANGE, no retry). */
static void pin_of_no_possible_length_uses_no_retry(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_Logout(t->session), CKR_OK);
    size_t big = 100 * 1024;
    CK_UTF8CHAR *huge = malloc(big);
    assert_non_null(huge);
    memset(huge, '1', big);
    for (int i = 0; i < 3; i++) {
        assert_rv(t->f->C_Login(t->session, CKU_USER, (CK_UTF8CHAR *)"", 0), CKR_PIN_LEN_RANGE);
        assert_rv(t->f->C_Login(t->session, CKU_USER, huge, big), CKR_PIN_LEN_RANGE);
        assert_rv(t->f->C_Login(t->session, CKU_SO, huge, big), CKR_PIN_LEN_RANGE);
    }
    free(huge);
    CK_FLAGS flags = fx_token_flags(t->slot);
    assert_false(flags & (CKF_USER_PIN_COUNT_LOW | CKF_SO_PIN_COUNT_LOW));
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
}

/* Issue 15 (conformance suites): C_CopyObject changing CKA_CLASS is
 * CKR_ATTRIBUTE_READ_ONLY (PKCS#11 3.0 §5.7: the template may not change
 * what the token fixed), not CKR_TEMPLATE_INCONSISTENT. */
static void copy_cannot_change_the_class(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE data, copy = CK_INVALID_HANDLE;
    assert_rv(fx_create_data(t->session, "d", false, false, "v", 1, &data), CKR_OK);
    CK_OBJECT_CLASS cert = CKO_CERTIFICATE;
    CK_ATTRIBUTE change = {CKA_CLASS, &cert, sizeof(cert)};
    assert_rv(t->f->C_CopyObject(t->session, data, &change, 1, &copy), CKR_ATTRIBUTE_READ_ONLY);
    assert_rv(t->f->C_CopyObject(t->session, data, NULL, 0, &copy), CKR_OK);
}

/* Issue 15 (conformance suites): AES-ECB/CBC size queries with an input
 * length near 2^64 returned CKR_OK and a size no output could have. */
static void size_query_of_no_whole_blocks(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE key;
    assert_rv(fx_create_aes(t->session, "k", false, true, false, key_value, 16, &key), CKR_OK);
    unsigned char iv[16] = {0}, in[16] = {0};
    CK_MECHANISM mechs[] = {{CKM_AES_ECB, NULL, 0}, {CKM_AES_CBC, iv, sizeof(iv)}};
    const CK_ULONG lengths[] = {(CK_ULONG)-1, (CK_ULONG)-8, 17};
    for (size_t m = 0; m < 2; m++) {
        for (size_t i = 0; i < 3; i++) {
            CK_ULONG out_len = 0;
            assert_rv(t->f->C_EncryptInit(t->session, &mechs[m], key), CKR_OK);
            assert_rv(t->f->C_Encrypt(t->session, in, lengths[i], NULL, &out_len),
                      CKR_DATA_LEN_RANGE);
            assert_rv(t->f->C_DecryptInit(t->session, &mechs[m], key), CKR_OK);
            assert_rv(t->f->C_Decrypt(t->session, in, lengths[i], NULL, &out_len),
                      CKR_ENCRYPTED_DATA_LEN_RANGE);
        }
    }
    CK_ULONG out_len = 0;
    assert_rv(t->f->C_EncryptInit(t->session, &mechs[0], key), CKR_OK);
    assert_rv(t->f->C_Encrypt(t->session, in, 16, NULL, &out_len), CKR_OK);
    assert_int_equal(out_len, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(find_never_matches_a_sensitive_value, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(digest_key_refuses_a_sensitive_key, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(pin_of_no_possible_length_uses_no_retry, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(copy_cannot_change_the_class, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(size_query_of_no_whole_blocks, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("policy-objects", tests, NULL, NULL);
}
