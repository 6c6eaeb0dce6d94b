/*
 * The caches of issue 18 as an attacker would try them: a session keeps
 * the keys it borrowed (module/key_cache.c) and its ended digest context
 * (mech_ops.park).  A destroyed key, a key whose usage was taken away (in
 * this process or another), a logout, and a login as someone else must
 * never reach a kept key; a parked digest context must carry nothing of
 * the operation it ended; and two threads on two sessions never see each
 * other's key or state.  Every MAC and digest is checked against OpenSSL
 * computed here.
 */
#include "p11_fixture.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static const unsigned char data[] = "the message every MAC here is of";

/* A sensitive, private HMAC key (CKA_SIGN only, as strict separation wants). */
static CK_OBJECT_HANDLE hmac_key(CK_SESSION_HANDLE session, bool token, const char *label,
                                 const unsigned char value[32])
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, token ? &yes : &no, 1},   {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},             {CKA_SIGN, &yes, 1},
        {CKA_VERIFY, &no, 1},                 {CKA_MODIFIABLE, &yes, 1},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_VALUE, (void *)value, 32},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_CreateObject(session, a, sizeof(a) / sizeof(a[0]), &h), CKR_OK);
    return h;
}

static void expected_mac(const unsigned char key[32], unsigned char out[32])
{
    size_t len = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, data, sizeof(data), out,
                              32, &len));
    assert_int_equal(len, 32);
}

/* C_SignInit+C_Sign; the MAC when rv is CKR_OK. */
static CK_RV sign(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, unsigned char mac[32])
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    CK_RV rv = f->C_SignInit(session, &m, key);
    if (rv != CKR_OK)
        return rv;
    CK_ULONG len = 32;
    return f->C_Sign(session, (CK_BYTE_PTR)data, sizeof(data), mac, &len);
}

/* Signs twice (the second from the key cache) and checks both MACs. */
static void sign_ok(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, const unsigned char value[32])
{
    unsigned char want[32], got[32];
    expected_mac(value, want);
    for (int i = 0; i < 2; i++) {
        memset(got, 0, sizeof(got));
        assert_rv(sign(session, key, got), CKR_OK);
        assert_memory_equal(got, want, 32);
    }
}

static const unsigned char value_a[32] = "key A key A key A key A key A k";
static const unsigned char value_b[32] = "key B key B key B key B key B k";

static void destroyed_key_is_never_borrowed(void **state)
{
    fx *t = *state;
    for (int token = 0; token < 2; token++) {
        CK_OBJECT_HANDLE k = hmac_key(t->session, token, "gone", value_a);
        sign_ok(t->session, k, value_a);
        assert_rv(fx_functions()->C_DestroyObject(t->session, k), CKR_OK);
        unsigned char mac[32];
        assert_rv(sign(t->session, k, mac), CKR_KEY_HANDLE_INVALID);
    }
}

static void changed_usage_is_seen(void **state)
{
    fx *t = *state;
    for (int token = 0; token < 2; token++) {
        CK_OBJECT_HANDLE k = hmac_key(t->session, token, "changed", value_a);
        sign_ok(t->session, k, value_a);
        CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
        assert_rv(fx_functions()->C_SetAttributeValue(t->session, k, &off, 1), CKR_OK);
        unsigned char mac[32];
        assert_rv(sign(t->session, k, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);
    }
}

/* After C_Logout the private key is out of sight; the SO never sees it;
 * the user again gets the right MAC. */
static void logout_and_another_login(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_HANDLE k = hmac_key(t->session, true, "private", value_a);
    sign_ok(t->session, k, value_a);
    assert_rv(f->C_Logout(t->session), CKR_OK);
    unsigned char mac[32];
    assert_rv(sign(t->session, k, mac), CKR_KEY_HANDLE_INVALID);
    assert_rv(fx_login(t->session, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_rv(sign(t->session, k, mac), CKR_KEY_HANDLE_INVALID);
    assert_rv(f->C_Logout(t->session), CKR_OK);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
    sign_ok(t->session, k, value_a);
}

/* Another process (a forked child with its own C_Initialize) destroys one
 * key and takes CKA_SIGN from another: this process's next borrow sees
 * both through the store's data version, not its cache. */
static void another_process_changes_the_keys(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_HANDLE gone = hmac_key(t->session, true, "child-destroys", value_a);
    CK_OBJECT_HANDLE changed = hmac_key(t->session, true, "child-changes", value_b);
    sign_ok(t->session, gone, value_a);
    sign_ok(t->session, changed, value_b);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_rv(f->C_Initialize(NULL), CKR_OK);
        CK_SESSION_HANDLE s;
        child_rv(fx_open(t->slot, true, &s), CKR_OK);
        child_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
        child_rv(f->C_DestroyObject(s, gone), CKR_OK); /* token handles are the same in every process */
        CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
        child_rv(f->C_SetAttributeValue(s, changed, &off, 1), CKR_OK);
        child_rv(f->C_Finalize(NULL), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);
    unsigned char mac[32];
    assert_rv(sign(t->session, gone, mac), CKR_KEY_HANDLE_INVALID);
    assert_rv(sign(t->session, changed, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

static void sha(const char *md, const void *in, size_t len, unsigned char *out, unsigned *out_len)
{
    assert_true(EVP_Digest(in, len, out, out_len, EVP_get_digestbyname(md), NULL));
}

static void digest(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE type, const char *md,
                   const void *in, size_t len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char want[64], got[64];
    unsigned want_len = 0;
    sha(md, in, len, want, &want_len);
    CK_MECHANISM m = {type, NULL, 0};
    CK_ULONG got_len = sizeof(got);
    assert_rv(f->C_DigestInit(session, &m), CKR_OK);
    assert_rv(f->C_Digest(session, (CK_BYTE_PTR)in, len, got, &got_len), CKR_OK);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, want_len);
}

/* An operation cancelled half-way leaves nothing in the parked context:
 * the next digest is of its own data only, with the next mechanism too. */
static void parked_digest_keeps_nothing(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_FUNCTION_LIST_3_0_PTR f3 = fx_functions_3_0();
    assert_non_null(f3);
    CK_MECHANISM m = {CKM_SHA256, NULL, 0};
    assert_rv(f->C_DigestInit(t->session, &m), CKR_OK);
    assert_rv(f->C_DigestUpdate(t->session, (CK_BYTE_PTR) "abc", 3), CKR_OK);
    assert_rv(f3->C_SessionCancel(t->session, CKF_DIGEST), CKR_OK);
    assert_rv(f->C_DigestUpdate(t->session, (CK_BYTE_PTR) "abc", 3),
              CKR_OPERATION_NOT_INITIALIZED);
    digest(t->session, CKM_SHA256, "SHA256", "xyz", 3);
    digest(t->session, CKM_SHA256, "SHA256", "xyz", 3);
    digest(t->session, CKM_SHA384, "SHA384", "xyz", 3);
    digest(t->session, CKM_SHA256, "SHA256", "", 0);
    /* a wrong parameter refuses the init and leaves the session usable */
    CK_MECHANISM bad = {CKM_SHA256, (void *)"x", 1};
    assert_rv(f->C_DigestInit(t->session, &bad), CKR_MECHANISM_PARAM_INVALID);
    digest(t->session, CKM_SHA256, "SHA256", "after", 5);
    /* another session has no operation of this one's */
    CK_SESSION_HANDLE other;
    assert_rv(fx_open(t->slot, false, &other), CKR_OK);
    unsigned char out[32];
    CK_ULONG len = sizeof(out);
    assert_rv(f->C_DigestFinal(other, out, &len), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(f->C_CloseSession(other), CKR_OK);
}

/* ---- two threads, two sessions, two keys ------------------------------------ */

typedef struct worker {
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key, other_key; /* other_key: the other thread's (a session object) */
    const unsigned char *value;
    char text[16];
    int failures;
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char want[32], got[32], want_d[32], got_d[32];
    size_t len = 0;
    unsigned d_len = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, w->value, 32, data, sizeof(data), want,
                   32, &len) ||
        !EVP_Digest(w->text, strlen(w->text), want_d, &d_len, EVP_sha256(), NULL)) {
        w->failures++;
        return NULL;
    }
    for (int i = 0; i < 300; i++) {
        CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
        CK_ULONG n = 32;
        memset(got, 0, sizeof(got));
        if (f->C_SignInit(w->session, &m, w->key) != CKR_OK ||
            f->C_Sign(w->session, (CK_BYTE_PTR)data, sizeof(data), got, &n) != CKR_OK ||
            memcmp(got, want, 32) != 0)
            w->failures++;
        CK_MECHANISM d = {CKM_SHA256, NULL, 0};
        n = 32;
        if (f->C_DigestInit(w->session, &d) != CKR_OK ||
            f->C_Digest(w->session, (CK_BYTE_PTR)w->text, strlen(w->text), got_d, &n) != CKR_OK ||
            memcmp(got_d, want_d, 32) != 0)
            w->failures++;
    }
    return NULL;
}

static void two_threads_see_only_their_own(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    worker w[2] = {{.value = value_a, .text = "thread zero"}, {.value = value_b, .text = "thread one"}};
    for (int i = 0; i < 2; i++)
        assert_rv(fx_open(t->slot, true, &w[i].session), CKR_OK);
    w[0].key = hmac_key(w[0].session, true, "A", value_a);
    w[1].key = hmac_key(w[1].session, false, "B", value_b);
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_int_equal(w[0].failures, 0);
    assert_int_equal(w[1].failures, 0);
    /* B is a session object of session 1: gone with it, for session 0 too */
    sign_ok(w[0].session, w[1].key, value_b);
    assert_rv(f->C_CloseSession(w[1].session), CKR_OK);
    unsigned char mac[32];
    assert_rv(sign(w[0].session, w[1].key, mac), CKR_KEY_HANDLE_INVALID);
    sign_ok(w[0].session, w[0].key, value_a);
    assert_rv(f->C_CloseSession(w[0].session), CKR_OK);
}

int main(void)
{
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(destroyed_key_is_never_borrowed, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(changed_usage_is_seen, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(logout_and_another_login, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(another_process_changes_the_keys, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(parked_digest_keeps_nothing, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(two_threads_see_only_their_own, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("key-cache", tests, NULL, NULL);
}
