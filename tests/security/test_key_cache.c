/*
 * The caches of issue 18 as an attacker would try them: a session keeps
 * the keys it borrowed (module/key_cache.c) and its ended digest context
 * (mech_ops.park).  A destroyed key, a key whose usage was taken away (in
 * this process or another), a logout, and a login as someone else must
 * never reach a kept key; a parked digest context must carry nothing of
 * the operation it ended; a kept EVP_PKEY context (mech_key.pkey_ctx)
 * carries no setting of one mechanism into the next, nor a kept HMAC
 * context (mech_hmac_kept) a key or data of the operation before; a
 * session's kept key, taken without the token lock, sees every change of
 * another session or process; and two threads on two sessions never see
 * each other's key or state.  Every MAC, digest
 * and signature is checked against OpenSSL here.
 */
#include "p11_fixture.h"
#include "p11_keys.h"
#include "test_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <sched.h>
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
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, token ? &yes : &no, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},
        {CKA_SIGN, &yes, 1},
        {CKA_VERIFY, &no, 1},
        {CKA_MODIFIABLE, &yes, 1},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, (void *)value, 32},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_CreateObject(session, a, sizeof(a) / sizeof(a[0]), &h), CKR_OK);
    return h;
}

static void expected_mac(const unsigned char key[32], unsigned char out[32])
{
    size_t len = 0;
    assert_non_null(
        EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, 32, data, sizeof(data), out, 32, &len));
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

/* HMAC of data under key with md, as OpenSSL computes it. */
static void openssl_hmac(const char *md, const unsigned char key[32], const void *in, size_t in_len,
                         unsigned char *out, size_t out_len)
{
    size_t len = 0;
    assert_non_null(
        EVP_Q_mac(NULL, "HMAC", NULL, md, NULL, key, 32, in, in_len, out, out_len, &len));
    assert_int_equal(len, out_len);
}

/* One HMAC through the module, one-shot or in two parts; checked against OpenSSL. */
static void hmac_check(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE type, const char *md,
                       size_t md_len, CK_OBJECT_HANDLE key, const unsigned char value[32],
                       bool parts)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM m = {type, NULL, 0};
    unsigned char want[32], got[32] = {0};
    CK_ULONG len = md_len;
    openssl_hmac(md, value, data, sizeof(data), want, md_len);
    assert_rv(f->C_SignInit(session, &m, key), CKR_OK);
    if (parts) {
        assert_rv(f->C_SignUpdate(session, (CK_BYTE_PTR)data, 10), CKR_OK);
        assert_rv(f->C_SignUpdate(session, (CK_BYTE_PTR)data + 10, sizeof(data) - 10), CKR_OK);
        assert_rv(f->C_SignFinal(session, got, &len), CKR_OK);
    } else {
        assert_rv(f->C_Sign(session, (CK_BYTE_PTR)data, sizeof(data), got, &len), CKR_OK);
    }
    assert_int_equal(len, md_len);
    assert_memory_equal(got, want, md_len);
}

/* The HMAC context a session keeps between operations (mech_hmac_kept,
 * parked with the session) follows the key and the hash it is asked for,
 * and carries no data of an operation that ended half way. */
static void kept_hmac_context_follows_the_key(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_HANDLE a = hmac_key(t->session, true, "kept-A", value_a);
    CK_OBJECT_HANDLE b = hmac_key(t->session, false, "kept-B", value_b);
    for (int round = 0; round < 2; round++) {
        hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, a, value_a, round);
        hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, b, value_b, !round);
        hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, a, value_a, round);
        hmac_check(t->session, CKM_SHA_1_HMAC, "SHA1", 20, a, value_a, round);
        hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, a, value_a, !round);
    }
    /* An operation that fails half way (its data hashed already) ends
     * and is parked: the next HMAC with the same key starts clean. */
    CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
    assert_rv(f->C_SignInit(t->session, &m, a), CKR_OK);
    assert_rv(f->C_SignUpdate(t->session, (CK_BYTE_PTR) "left behind", 11), CKR_OK);
    assert_rv(f->C_SignUpdate(t->session, NULL, 5), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_SignFinal(t->session, NULL, &(CK_ULONG){0}), CKR_OPERATION_NOT_INITIALIZED);
    hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, a, value_a, false);
    hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, a, value_a, true);
    /* The key's own checks still run before its kept context is used. */
    CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
    assert_rv(f->C_SetAttributeValue(t->session, a, &off, 1), CKR_OK);
    assert_rv(f->C_SignInit(t->session, &m, a), CKR_KEY_FUNCTION_NOT_PERMITTED);
    hmac_check(t->session, CKM_SHA256_HMAC, "SHA256", 32, b, value_b, false);
}

/* A forked child with its own C_Initialize, logged in as the user,
 * destroys token key gone and clears CKA_SIGN of token key changed (token
 * handles are the same in every process). */
static void another_process_destroys_and_disables(CK_SLOT_ID slot, CK_OBJECT_HANDLE gone,
                                                  CK_OBJECT_HANDLE changed)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_rv(f->C_Initialize(NULL), CKR_OK);
        CK_SESSION_HANDLE s;
        child_rv(fx_open(slot, true, &s), CKR_OK);
        child_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
        child_rv(f->C_DestroyObject(s, gone), CKR_OK);
        CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
        child_rv(f->C_SetAttributeValue(s, changed, &off, 1), CKR_OK);
        child_rv(f->C_Finalize(NULL), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);
}

/* Another process (a forked child with its own C_Initialize) destroys one
 * key and takes CKA_SIGN from another: this process's next borrow sees
 * both through the store's data version, not its cache. */
static void another_process_changes_the_keys(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE gone = hmac_key(t->session, true, "child-destroys", value_a);
    CK_OBJECT_HANDLE changed = hmac_key(t->session, true, "child-changes", value_b);
    sign_ok(t->session, gone, value_a);
    sign_ok(t->session, changed, value_b);
    another_process_destroys_and_disables(t->slot, gone, changed);
    unsigned char mac[32];
    assert_rv(sign(t->session, gone, mac), CKR_KEY_HANDLE_INVALID);
    assert_rv(sign(t->session, changed, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);
}

/* A session keeps its last borrowed secret key and takes it again
 * without the token lock (module/key_cache.c, key_kept_take).  Each
 * change below comes right after the session signed twice with the key,
 * so that it is the kept one, and the session's next C_SignInit must see
 * it: another session destroys the key or takes CKA_SIGN from it, the
 * session owning a session key closes, and the kept key is never lent
 * for another usage. */
static void kept_key_sees_another_session(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE other;
    unsigned char mac[32];
    assert_rv(fx_open(t->slot, true, &other), CKR_OK);
    for (int token = 0; token < 2; token++) {
        CK_OBJECT_HANDLE gone = hmac_key(t->session, token, "kept, destroyed", value_a);
        sign_ok(t->session, gone, value_a);
        assert_rv(f->C_DestroyObject(other, gone), CKR_OK);
        assert_rv(sign(t->session, gone, mac), CKR_KEY_HANDLE_INVALID);

        CK_OBJECT_HANDLE changed = hmac_key(t->session, token, "kept, changed", value_b);
        sign_ok(t->session, changed, value_b);
        CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
        assert_rv(f->C_SetAttributeValue(other, changed, &off, 1), CKR_OK);
        assert_rv(sign(t->session, changed, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);

        CK_OBJECT_HANDLE signing = hmac_key(t->session, token, "kept, sign only", value_a);
        sign_ok(t->session, signing, value_a);
        CK_MECHANISM m = {CKM_SHA256_HMAC, NULL, 0};
        assert_rv(f->C_VerifyInit(t->session, &m, signing), CKR_KEY_FUNCTION_NOT_PERMITTED);
        sign_ok(t->session, signing, value_a);
    }
    CK_OBJECT_HANDLE owned = hmac_key(other, false, "the other session's", value_b);
    sign_ok(t->session, owned, value_b);
    assert_rv(f->C_CloseSession(other), CKR_OK);
    assert_rv(sign(t->session, owned, mac), CKR_KEY_HANDLE_INVALID);
}

/* The same through another process, which only the store's wal-index
 * header tells this one about: the kept key is first the one the child
 * disables, then the one it destroys. */
static void kept_key_sees_another_process(void **state)
{
    fx *t = *state;
    unsigned char mac[32];
    CK_OBJECT_HANDLE a = hmac_key(t->session, true, "child destroys", value_a);
    CK_OBJECT_HANDLE b = hmac_key(t->session, true, "child disables", value_b);
    sign_ok(t->session, b, value_b);
    another_process_destroys_and_disables(t->slot, a, b);
    assert_rv(sign(t->session, b, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);

    CK_OBJECT_HANDLE c = hmac_key(t->session, true, "child destroys too", value_a);
    CK_OBJECT_HANDLE d = hmac_key(t->session, true, "child disables too", value_b);
    sign_ok(t->session, d, value_b);
    sign_ok(t->session, c, value_a);
    another_process_destroys_and_disables(t->slot, c, d);
    assert_rv(sign(t->session, c, mac), CKR_KEY_HANDLE_INVALID);
    assert_rv(sign(t->session, d, mac), CKR_KEY_FUNCTION_NOT_PERMITTED);
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
    assert_rv(f->C_DigestUpdate(t->session, (CK_BYTE_PTR) "abc", 3), CKR_OPERATION_NOT_INITIALIZED);
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

/* ---- kept signature contexts --------------------------------------------- */

/* pkey's private half as a session or token object (CKA_SIGN, modifiable). */
static CK_OBJECT_HANDLE import_private(CK_SESSION_HANDLE session, EVP_PKEY *pkey, bool token)
{
    static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};
    static const char *const rsa_names[] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,
        OSSL_PKEY_PARAM_RSA_D,         OSSL_PKEY_PARAM_RSA_FACTOR1,
        OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1};
    static const CK_ATTRIBUTE_TYPE rsa_types[] = {
        CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PRIVATE_EXPONENT, CKA_PRIME_1,
        CKA_PRIME_2, CKA_EXPONENT_1,      CKA_EXPONENT_2,       CKA_COEFFICIENT};
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    bool ec = EVP_PKEY_is_a(pkey, "EC");
    CK_KEY_TYPE type = ec ? CKK_EC : CKK_RSA;
    unsigned char values[8][512];
    CK_ATTRIBUTE a[15] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_SIGN, &yes, 1},
        {CKA_MODIFIABLE, &yes, 1},
        {CKA_TOKEN, token ? &yes : &no, 1},
    };
    CK_ULONG n = 5;
    for (size_t i = 0; i < (ec ? 1 : 8); i++) {
        BIGNUM *bn = NULL;
        const char *name = ec ? OSSL_PKEY_PARAM_PRIV_KEY : rsa_names[i];
        assert_true(EVP_PKEY_get_bn_param(pkey, name, &bn));
        int len = ec ? 32 : BN_num_bytes(bn);
        assert_true(BN_bn2binpad(bn, values[i], len) == len);
        BN_free(bn);
        a[n++] = (CK_ATTRIBUTE){ec ? CKA_VALUE : rsa_types[i], values[i], (CK_ULONG)len};
    }
    if (ec)
        a[n++] = (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256_oid, sizeof(p256_oid)};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_CreateObject(session, a, n, &h), CKR_OK);
    OPENSSL_cleanse(values, sizeof(values));
    return h;
}

static CK_RV sign_with(CK_SESSION_HANDLE session, CK_MECHANISM *m, CK_OBJECT_HANDLE key,
                       const unsigned char *in, size_t in_len, unsigned char *sig, size_t *sig_len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_RV rv = f->C_SignInit(session, m, key);
    CK_ULONG len = (CK_ULONG)*sig_len;
    if (rv == CKR_OK)
        rv = f->C_Sign(session, (CK_BYTE_PTR)in, (CK_ULONG)in_len, sig, &len);
    *sig_len = len;
    return rv;
}

/* OpenSSL verifies sig over in: ECDSA (r‖s made DER), PKCS #1 v1.5 of the
 * input as given, or PSS with SHA-256, MGF1-SHA-256 and 32 salt bytes. */
static void verify_openssl(EVP_PKEY *pkey, CK_MECHANISM_TYPE mech, const unsigned char *in,
                           size_t in_len, const unsigned char *sig, size_t sig_len)
{
    unsigned char der[80];
    unsigned char *p = der;
    if (mech == CKM_ECDSA) {
        assert_int_equal(sig_len, 64);
        ECDSA_SIG *es = ECDSA_SIG_new();
        assert_true(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)));
        sig_len = (size_t)i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        sig = der;
    }
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    assert_true(ctx && EVP_PKEY_verify_init(ctx) > 0);
    if (mech == CKM_RSA_PKCS)
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) > 0);
    if (mech == CKM_RSA_PKCS_PSS)
        assert_true(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) > 0 &&
                    EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) > 0 &&
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0 &&
                    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, 32) > 0);
    assert_int_equal(EVP_PKEY_verify(ctx, sig, sig_len, in, in_len), 1);
    EVP_PKEY_CTX_free(ctx);
}

/* The first C_SignInit of a key resolves it; the next ones duplicate the
 * kept context.  PKCS #1 v1.5 and PSS alternate on one RSA key: a setting
 * of one reaching the kept context would make the next signature the
 * wrong scheme, which OpenSSL refuses.  Then the key loses CKA_SIGN and
 * is destroyed: neither reaches the kept context. */
static void kept_signature_contexts_carry_nothing(void **state)
{
    fx *t = *state;
    unsigned char hash[32], sig[512];
    fx_digest("SHA256", data, sizeof(data), hash);
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0}, pkcs = {CKM_RSA_PKCS, NULL, 0},
                 pss_m = {CKM_RSA_PKCS_PSS, &pss, sizeof(pss)};
    EVP_PKEY *keys[2] = {EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"), test_rsa_key(2048)};
    for (int k = 0; k < 2; k++) {
        assert_non_null(keys[k]);
        CK_OBJECT_HANDLE h = import_private(t->session, keys[k], false);
        for (int i = 0; i < 6; i++) {
            CK_MECHANISM *m = k == 0 ? &ecdsa : i % 2 ? &pss_m : &pkcs;
            size_t len = sizeof(sig);
            assert_rv(sign_with(t->session, m, h, hash, sizeof(hash), sig, &len), CKR_OK);
            verify_openssl(keys[k], m->mechanism, hash, sizeof(hash), sig, len);
        }
        CK_ATTRIBUTE off = {CKA_SIGN, &no, 1};
        assert_rv(fx_functions()->C_SetAttributeValue(t->session, h, &off, 1), CKR_OK);
        size_t len = sizeof(sig);
        assert_rv(sign_with(t->session, k == 0 ? &ecdsa : &pkcs, h, hash, sizeof(hash), sig, &len),
                  CKR_KEY_FUNCTION_NOT_PERMITTED);
        assert_rv(fx_functions()->C_DestroyObject(t->session, h), CKR_OK);
        len = sizeof(sig);
        assert_rv(sign_with(t->session, k == 0 ? &ecdsa : &pkcs, h, hash, sizeof(hash), sig, &len),
                  CKR_KEY_HANDLE_INVALID);
        EVP_PKEY_free(keys[k]);
    }
}

/* pkey's public RSA half as a session object (CKA_ENCRYPT, CKA_VERIFY). */
static CK_OBJECT_HANDLE import_rsa_public(CK_SESSION_HANDLE session, EVP_PKEY *pkey)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_KEY_TYPE type = CKK_RSA;
    unsigned char n[512], e[8];
    BIGNUM *bn_n = NULL, *bn_e = NULL;
    assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &bn_n) &&
                EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &bn_e));
    int n_len = BN_bn2bin(bn_n, n), e_len = BN_bn2bin(bn_e, e);
    BN_free(bn_n);
    BN_free(bn_e);
    CK_ATTRIBUTE a[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_ENCRYPT, &yes, 1},
        {CKA_VERIFY, &yes, 1},
        {CKA_MODULUS, n, (CK_ULONG)n_len},
        {CKA_PUBLIC_EXPONENT, e, (CK_ULONG)e_len},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_CreateObject(session, a, sizeof(a) / sizeof(a[0]), &h), CKR_OK);
    return h;
}

/* OpenSSL's decryption of ct with PKCS #1 v1.5 or OAEP-SHA-256 padding. */
static size_t decrypt_openssl(EVP_PKEY *pkey, bool oaep, const unsigned char *ct, size_t ct_len,
                              unsigned char *out)
{
    size_t len = 512;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    assert_true(ctx && EVP_PKEY_decrypt_init(ctx) > 0);
    assert_true(
        EVP_PKEY_CTX_set_rsa_padding(ctx, oaep ? RSA_PKCS1_OAEP_PADDING : RSA_PKCS1_PADDING) > 0);
    if (oaep)
        assert_true(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()) > 0 &&
                    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()) > 0);
    assert_int_equal(EVP_PKEY_decrypt(ctx, out, &len, ct, ct_len), 1);
    EVP_PKEY_CTX_free(ctx);
    return len;
}

/* The public side: C_EncryptInit alternates OAEP and PKCS #1 v1.5 on one
 * key (OpenSSL decrypts each with the padding asked for), C_VerifyInit
 * alternates PKCS #1 v1.5 and PSS on OpenSSL's signatures, a changed
 * signature fails. */
static void kept_public_contexts_carry_nothing(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    EVP_PKEY *pkey = test_rsa_key(2048);
    assert_non_null(pkey);
    CK_OBJECT_HANDLE pub = import_rsa_public(t->session, pkey);
    CK_OBJECT_HANDLE priv = import_private(t->session, pkey, false);
    unsigned char hash[32], ct[512], back[512], sig[512];
    fx_digest("SHA256", data, sizeof(data), hash);
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    CK_RSA_PKCS_PSS_PARAMS pss = {CKM_SHA256, CKG_MGF1_SHA256, 32};
    for (int i = 0; i < 6; i++) {
        bool use_oaep = i % 2 == 0;
        CK_MECHANISM m = {use_oaep ? CKM_RSA_PKCS_OAEP : CKM_RSA_PKCS, use_oaep ? &oaep : NULL,
                          use_oaep ? sizeof(oaep) : 0};
        CK_ULONG ct_len = sizeof(ct);
        assert_rv(f->C_EncryptInit(t->session, &m, pub), CKR_OK);
        assert_rv(f->C_Encrypt(t->session, hash, sizeof(hash), ct, &ct_len), CKR_OK);
        assert_int_equal(decrypt_openssl(pkey, use_oaep, ct, ct_len, back), sizeof(hash));
        assert_memory_equal(back, hash, sizeof(hash));

        CK_MECHANISM v = {use_oaep ? CKM_RSA_PKCS : CKM_RSA_PKCS_PSS, use_oaep ? NULL : &pss,
                          use_oaep ? 0 : sizeof(pss)};
        size_t sig_len = sizeof(sig);
        assert_rv(sign_with(t->session, &v, priv, hash, sizeof(hash), sig, &sig_len), CKR_OK);
        verify_openssl(pkey, v.mechanism, hash, sizeof(hash), sig, sig_len);
        for (int bad = 0; bad < 2; bad++) {
            sig[sig_len / 2] ^= (unsigned char)bad;
            assert_rv(f->C_VerifyInit(t->session, &v, pub), CKR_OK);
            assert_rv(f->C_Verify(t->session, hash, sizeof(hash), sig, (CK_ULONG)sig_len),
                      bad ? CKR_SIGNATURE_INVALID : CKR_OK);
        }
    }
    EVP_PKEY_free(pkey);
}

/* Another process destroys one token key and takes CKA_SIGN from
 * another after this process signed with both (their contexts kept): the
 * next C_SignInit here sees both through the store, not the kept context. */
static void kept_contexts_see_another_process(void **state)
{
    fx *t = *state;
    unsigned char hash[32], sig[128];
    fx_digest("SHA256", data, sizeof(data), hash);
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL, 0};
    EVP_PKEY *keys[2] = {EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"),
                         EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")};
    assert_true(keys[0] && keys[1]);
    CK_OBJECT_HANDLE gone = import_private(t->session, keys[0], true);
    CK_OBJECT_HANDLE changed = import_private(t->session, keys[1], true);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 2; k++) {
            size_t len = sizeof(sig);
            assert_rv(sign_with(t->session, &ecdsa, k ? changed : gone, hash, sizeof(hash), sig,
                                &len),
                      CKR_OK);
            verify_openssl(keys[k], CKM_ECDSA, hash, sizeof(hash), sig, len);
        }
    }
    another_process_destroys_and_disables(t->slot, gone, changed);
    size_t len = sizeof(sig);
    assert_rv(sign_with(t->session, &ecdsa, gone, hash, sizeof(hash), sig, &len),
              CKR_KEY_HANDLE_INVALID);
    len = sizeof(sig);
    assert_rv(sign_with(t->session, &ecdsa, changed, hash, sizeof(hash), sig, &len),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
    EVP_PKEY_free(keys[0]);
    EVP_PKEY_free(keys[1]);
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
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, w->value, 32, data, sizeof(data), want, 32,
                   &len) ||
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
    worker w[2] = {{.value = value_a, .text = "thread zero"},
                   {.value = value_b, .text = "thread one"}};
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

/* A thread signs over and over with its kept key while another session
 * destroys the key (a token key, then a session key of the signer's own
 * session): once the destroying call has returned and the signer has
 * seen that, its next C_SignInit must fail, and every MAC before it must
 * be right.  The kept key is taken without the token lock; this is the
 * ordering its epoch must give. */
typedef struct racer {
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int destroyed;          /* set by the destroyer after C_DestroyObject returned */
    int made, wrong, after; /* signs tried before; wrong MACs among them; after */
} racer;

static void *race_sign(void *arg)
{
    racer *r = arg;
    unsigned char want[32], mac[32];
    expected_mac(value_a, want);
    for (;;) {
        bool seen = __atomic_load_n(&r->destroyed, __ATOMIC_ACQUIRE);
        CK_RV rv = sign(r->session, r->key, mac);
        if (seen) {
            r->after += rv != CKR_KEY_HANDLE_INVALID;
            return NULL;
        }
        /* Refused only once the destruction began; counted either way, so
         * that the destroyer's wait cannot hang. */
        r->wrong += rv == CKR_OK && memcmp(mac, want, 32) != 0;
        __atomic_add_fetch(&r->made, 1, __ATOMIC_RELAXED);
        sched_yield(); /* valgrind runs one thread at a time, unfairly: the destroyer must run */
    }
}

static void kept_key_races_its_destruction(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE destroyer;
    assert_rv(fx_open(t->slot, true, &destroyer), CKR_OK);
    for (int round = 0; round < 20; round++) {
        bool token = round % 2 == 0;
        racer r = {.session = t->session};
        r.key = hmac_key(t->session, token, "raced", value_a);
        sign_ok(t->session, r.key, value_a);
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, race_sign, &r), 0);
        while (__atomic_load_n(&r.made, __ATOMIC_RELAXED) < 50 + round * 10)
            sched_yield();
        assert_rv(f->C_DestroyObject(destroyer, r.key), CKR_OK);
        __atomic_store_n(&r.destroyed, 1, __ATOMIC_RELEASE);
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_int_equal(r.wrong, 0);
        assert_int_equal(r.after, 0);
    }
    assert_rv(f->C_CloseSession(destroyer), CKR_OK);
}

int main(void)
{
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(destroyed_key_is_never_borrowed, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(changed_usage_is_seen, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(logout_and_another_login, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(another_process_changes_the_keys, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(kept_hmac_context_follows_the_key, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(kept_key_sees_another_session, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(kept_key_sees_another_process, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(parked_digest_keeps_nothing, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(kept_signature_contexts_carry_nothing, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(kept_public_contexts_carry_nothing, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(kept_contexts_see_another_process, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(two_threads_see_only_their_own, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(kept_key_races_its_destruction, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("key-cache", tests, NULL, NULL);
}
