/*
 * The vendor protocols against an independent reading of docs/spec.md (issue
 * 15): an SK3 query-4 ρ of the wrong length is a counted reject (§6), and
 * KI may be any AES length up to the hash's (§5).
 */
#include "p11_fixture.h"
#include "sk3_fixture.h"
#include "ki_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

/* docs/spec.md §6: a ρ of the wrong length is CKR_SIGNATURE_INVALID and adds
 * one to the failure count, like any other reject: a length probe is a
 * guess, and guesses are what the count limits. */
static void sk3_query4_wrong_length_is_a_counted_reject(void **state)
{
    sk3_state *st = *state;
    sk3_world *w = &st->w;
    unsigned char ri[SK3_LEN] = {1}, rj[SK3_LEN] = {2}, rho[SK3_LEN + 1] = {0};
    CK_ULONG before, after;
    assert_rv(sk3_failure_count(w->session[SK3_J], w->host[SK3_J], &before), CKR_OK);
    assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN - 1),
              CKR_SIGNATURE_INVALID);
    assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN + 1),
              CKR_SIGNATURE_INVALID);
    assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, 0),
              CKR_SIGNATURE_INVALID);
    assert_rv(sk3_failure_count(w->session[SK3_J], w->host[SK3_J], &after), CKR_OK);
    assert_int_equal(after, before + 3);
}

static CK_RV ki_aes(fx *t, CK_MECHANISM_TYPE hash, CK_ULONG len, unsigned char *c, CK_ULONG *c_len,
                    CK_OBJECT_HANDLE *ki)
{
    const kh_key *issuer = kh_issuer_for(CKM_SE_KI_RSA_OAEP);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
    };
    return kh_derive(t->session, CKM_SE_KI_RSA_OAEP, hash, issuer->spki, issuer->spki_len, tmpl, 3,
                     c, c_len, ki);
}

/* docs/spec.md §5: KI as AES-192 from SHA-256 (24 ≤ 32), and its size query;
 * from SHA-1 only AES-128 fits. */
static void ki_is_any_aes_length_the_hash_fills(void **state)
{
    fx *t = *state;
    unsigned char c[KH_C_MAX];
    CK_ULONG c_len = 0;
    CK_OBJECT_HANDLE ki = CK_INVALID_HANDLE;
    assert_rv(ki_aes(t, CKM_SHA256, 24, NULL, &c_len, &ki), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(c_len, 256);
    c_len = sizeof(c);
    assert_rv(ki_aes(t, CKM_SHA256, 24, c, &c_len, &ki), CKR_OK);
    assert_int_equal(fx_get_ulong(t->session, ki, CKA_VALUE_LEN), 24);
    c_len = sizeof(c);
    assert_rv(ki_aes(t, CKM_SHA_1, 24, c, &c_len, &ki), CKR_ATTRIBUTE_VALUE_INVALID);
    c_len = sizeof(c);
    assert_rv(ki_aes(t, CKM_SHA_1, 16, c, &c_len, &ki), CKR_OK);
    c_len = sizeof(c);
    assert_rv(ki_aes(t, CKM_SHA256, 20, c, &c_len, &ki), CKR_ATTRIBUTE_VALUE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sk3_query4_wrong_length_is_a_counted_reject,
                                        sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(ki_is_any_aes_length_the_hash_fills, fx_setup_user,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("policy-vendor", tests, NULL, NULL);
}
