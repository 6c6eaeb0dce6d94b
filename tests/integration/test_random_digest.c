/*
 * Random numbers and message digests (PKCS#11 3.0 §5.9, §5.15), checked
 * against OpenSSL, with the operation-state and length conventions of
 * §5.2 (size query and CKR_BUFFER_TOO_SMALL keep the operation active;
 * any other error ends it).
 */
#include "p11_fixture.h"
#include "p11_keys.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static void random_bytes(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session; /* a read-only public session is enough */
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_BYTE a[32] = {0}, b[32] = {0}, zero[32] = {0};
    assert_rv(t->f->C_GenerateRandom(session, a, sizeof(a)), CKR_OK);
    assert_rv(t->f->C_GenerateRandom(session, b, sizeof(b)), CKR_OK);
    assert_memory_not_equal(a, b, sizeof(a));
    assert_memory_not_equal(a, zero, sizeof(a));
    assert_rv(t->f->C_GenerateRandom(session, a, 0), CKR_OK);
    assert_rv(t->f->C_GenerateRandom(session, NULL_PTR, 16), CKR_ARGUMENTS_BAD);
    CK_BYTE big[4096];
    assert_rv(t->f->C_GenerateRandom(session, big, sizeof(big)), CKR_OK);
    assert_rv(t->f->C_SeedRandom(session, (CK_BYTE_PTR) "some entropy", 12), CKR_OK);
    assert_rv(t->f->C_SeedRandom(session, NULL_PTR, 12), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GenerateRandom(session, a, sizeof(a)), CKR_OK);
    assert_memory_not_equal(a, b, sizeof(a));
}

static const struct {
    CK_MECHANISM_TYPE mech;
    const char *openssl;
    CK_ULONG len;
} digests[] = {
    {CKM_SHA_1, "SHA1", 20},        {CKM_SHA224, "SHA224", 28},     {CKM_SHA256, "SHA256", 32},
    {CKM_SHA384, "SHA384", 48},     {CKM_SHA512, "SHA512", 64},     {CKM_SHA3_256, "SHA3-256", 32},
    {CKM_SHA3_384, "SHA3-384", 48}, {CKM_SHA3_512, "SHA3-512", 64},
};

static void digest_known_answers(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        unsigned char expected[64], got[64];
        assert_int_equal(fx_digest(digests[i].openssl, "abc", 3, expected), digests[i].len);
        CK_MECHANISM mech = {digests[i].mech, NULL_PTR, 0};
        CK_ULONG len = sizeof(got);
        print_message("  %s\n", digests[i].openssl);
        assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
        assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, got, &len), CKR_OK);
        assert_int_equal(len, digests[i].len);
        assert_memory_equal(got, expected, len);

        /* the empty message */
        assert_int_equal(fx_digest(digests[i].openssl, "", 0, expected), digests[i].len);
        len = sizeof(got);
        assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
        assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "", 0, got, &len), CKR_OK);
        assert_int_equal(len, digests[i].len);
        assert_memory_equal(got, expected, len);
    }
}

static void digest_multipart(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    unsigned char message[1000];
    for (size_t i = 0; i < sizeof(message); i++)
        message[i] = (unsigned char)(i * 7);
    for (size_t i = 0; i < sizeof(digests) / sizeof(digests[0]); i++) {
        unsigned char single[64], multi[64];
        CK_MECHANISM mech = {digests[i].mech, NULL_PTR, 0};
        CK_ULONG single_len = sizeof(single), multi_len = sizeof(multi);
        assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
        assert_rv(t->f->C_Digest(session, message, sizeof(message), single, &single_len), CKR_OK);
        assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
        static const size_t cuts[] = {0, 1, 0, 63, 64, 65, 200, 607};
        size_t offset = 0;
        for (size_t c = 0; c < sizeof(cuts) / sizeof(cuts[0]); c++) {
            assert_rv(t->f->C_DigestUpdate(session, message + offset, cuts[c]), CKR_OK);
            offset += cuts[c];
        }
        assert_int_equal(offset, sizeof(message));
        assert_rv(t->f->C_DigestFinal(session, multi, &multi_len), CKR_OK);
        assert_int_equal(multi_len, single_len);
        assert_memory_equal(multi, single, single_len);
        unsigned char expected[64];
        fx_digest(digests[i].openssl, message, sizeof(message), expected);
        assert_memory_equal(multi, expected, multi_len);
    }
}

static void digest_length_convention(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_MECHANISM mech = {CKM_SHA256, NULL_PTR, 0};
    unsigned char out[64], expected[32];
    fx_digest("SHA256", "abc", 3, expected);

    /* single part: size query, then too small, then right: one operation */
    CK_ULONG len = 0;
    assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, NULL_PTR, &len), CKR_OK);
    assert_int_equal(len, 32);
    len = 10;
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 32);
    len = sizeof(out);
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_OK);
    assert_int_equal(len, 32);
    assert_memory_equal(out, expected, 32);
    /* and then it is over */
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, &len),
              CKR_OPERATION_NOT_INITIALIZED);

    /* multi-part: the same with C_DigestFinal */
    assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(session, (CK_BYTE_PTR) "ab", 2), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(session, (CK_BYTE_PTR) "c", 1), CKR_OK);
    len = 0;
    assert_rv(t->f->C_DigestFinal(session, NULL_PTR, &len), CKR_OK);
    assert_int_equal(len, 32);
    len = 31;
    assert_rv(t->f->C_DigestFinal(session, out, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 32);
    len = 32;
    assert_rv(t->f->C_DigestFinal(session, out, &len), CKR_OK);
    assert_memory_equal(out, expected, 32);
    assert_rv(t->f->C_DigestFinal(session, out, &len), CKR_OPERATION_NOT_INITIALIZED);

    /* an error other than CKR_BUFFER_TOO_SMALL ends the operation */
    assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(session, NULL_PTR, 5), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_DigestUpdate(session, (CK_BYTE_PTR) "abc", 3), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK);
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_DigestInit(session, &mech), CKR_OK); /* not active any more */
    len = sizeof(out);
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, &len), CKR_OK);
}

static void digest_operation_state(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session, other;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    assert_rv(fx_open(t->slot, false, &other), CKR_OK);
    unsigned char out[64];
    CK_ULONG len = sizeof(out);
    assert_rv(t->f->C_DigestUpdate(session, (CK_BYTE_PTR) "abc", 3), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(t->f->C_DigestFinal(session, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(t->f->C_Digest(session, (CK_BYTE_PTR) "abc", 3, out, &len),
              CKR_OPERATION_NOT_INITIALIZED);

    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0}, sha1 = {CKM_SHA_1, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestInit(session, &sha1), CKR_OPERATION_ACTIVE);
    /* sessions have their own operations */
    assert_rv(t->f->C_DigestInit(other, &sha1), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(other, (CK_BYTE_PTR) "abc", 3), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(session, (CK_BYTE_PTR) "abc", 3), CKR_OK);
    len = sizeof(out);
    assert_rv(t->f->C_DigestFinal(other, out, &len), CKR_OK);
    assert_int_equal(len, 20);
    len = sizeof(out);
    assert_rv(t->f->C_DigestFinal(session, out, &len), CKR_OK);
    assert_int_equal(len, 32);

    /* C_DigestInit with a NULL mechanism leaves nothing active */
    assert_rv(t->f->C_DigestInit(session, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_DigestInit(session, &sha1), CKR_OK);
    /* closing the session ends its operation */
    assert_rv(t->f->C_CloseSession(session), CKR_OK);
}

static void digest_mechanism_errors(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_MECHANISM unknown = {CKM_VENDOR_DEFINED | 0x7777, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(session, &unknown), CKR_MECHANISM_INVALID);
    CK_MECHANISM not_a_digest = {CKM_AES_CBC, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(session, &not_a_digest), CKR_MECHANISM_INVALID);
    CK_BYTE param[4] = {0};
    CK_MECHANISM with_param = {CKM_SHA256, param, sizeof(param)};
    assert_rv(t->f->C_DigestInit(session, &with_param), CKR_MECHANISM_PARAM_INVALID);
    /* nothing became active */
    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(session, &sha256), CKR_OK);
}

static void digest_key(void **state)
{
    fx *t = *state;
    static const unsigned char value[16] = "digest-this-key!";
    CK_OBJECT_HANDLE key, data;
    assert_rv(fx_create_aes(t->session, "dk", false, false, true, value, 16, &key), CKR_OK);
    assert_rv(fx_create_data(t->session, "not-a-key", false, false, "x", 1, &data), CKR_OK);
    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(t->session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestUpdate(t->session, (CK_BYTE_PTR) "abc", 3), CKR_OK);
    CK_RV rv = t->f->C_DigestKey(t->session, key);
    if (rv == CKR_FUNCTION_NOT_SUPPORTED)
        skip();
    assert_rv(rv, CKR_OK);
    unsigned char out[32], expected[32], input[19];
    memcpy(input, "abc", 3);
    memcpy(input + 3, value, 16);
    fx_digest("SHA256", input, sizeof(input), expected);
    CK_ULONG len = sizeof(out);
    assert_rv(t->f->C_DigestFinal(t->session, out, &len), CKR_OK);
    assert_memory_equal(out, expected, 32);

    assert_rv(t->f->C_DigestInit(t->session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestKey(t->session, data), CKR_KEY_HANDLE_INVALID);
    assert_rv(t->f->C_DigestInit(t->session, &sha256), CKR_OK);
    assert_rv(t->f->C_DigestKey(t->session, 0x7ffffff0), CKR_KEY_HANDLE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(random_bytes, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_known_answers, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_multipart, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_length_convention, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_operation_state, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_mechanism_errors, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(digest_key, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("random_digest", tests, NULL, NULL);
}
