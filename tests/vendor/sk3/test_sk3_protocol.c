/*
 * SK3 end to end in one process (docs/spec.md §6): a server token S and host
 * tokens i and j, each its own slot; host keys provisioned by
 * HOST_DERIVE → CKM_AES_KEY_WRAP_KWP → C_UnwrapKey; queries 1–4 and the
 * server query; σ_i = σ_j shown by AES-GCM across the two tokens.
 */
#include "sk3_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static CK_FUNCTION_LIST_PTR f;

static sk3_world *world(void **state)
{
    f = fx_functions();
    return &((sk3_state *)*state)->w;
}

/* ---- the mechanisms ------------------------------------------------------------------------ */

static void mechanisms_are_listed(void **state)
{
    sk3_world *w = world(state);
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_FLAGS flags;
    } want[] = {
        {CKM_SE_SK3_Q1, CKF_SIGN},          {CKM_SE_SK3_Q2, CKF_DERIVE},
        {CKM_SE_SK3_Q3, CKF_DERIVE},        {CKM_SE_SK3_Q4, CKF_VERIFY},
        {CKM_SE_SK3_SERVER, CKF_SIGN},      {CKM_SE_SK3_HOST_DERIVE, CKF_DERIVE},
        {CKM_SE_SK3_KEY_GEN, CKF_GENERATE},
    };
    CK_MECHANISM_TYPE list[256];
    CK_ULONG count = 256;
    assert_rv(f->C_GetMechanismList(w->slot[SK3_S], list, &count), CKR_OK);
    for (size_t n = 0; n < SK3_COUNT(want); n++) {
        bool listed = false;
        for (CK_ULONG k = 0; k < count; k++)
            listed |= list[k] == want[n].type;
        assert_true(listed);
        CK_MECHANISM_INFO info;
        assert_rv(f->C_GetMechanismInfo(w->slot[SK3_S], want[n].type, &info), CKR_OK);
        assert_true((info.flags & want[n].flags) == want[n].flags);
        assert_int_equal(info.ulMinKeySize, SK3_VALUE_LEN);
        assert_int_equal(info.ulMaxKeySize, SK3_VALUE_LEN);
    }
}

/* ---- the keys ----------------------------------------------------------------------------------
 */

static void three_separate_tokens(void **state)
{
    sk3_world *w = world(state);
    assert_true(w->slot[SK3_S] != w->slot[SK3_I]);
    assert_true(w->slot[SK3_I] != w->slot[SK3_J]);
    assert_true(w->slot[SK3_S] != w->slot[SK3_J]);
    /* a host key is not visible from another token's session */
    CK_ULONG count;
    assert_rv(f->C_GetAttributeValue(w->session[SK3_J], w->host[SK3_I],
                                     &(CK_ATTRIBUTE){CKA_SE_FAILURE_COUNT, &count, sizeof(count)},
                                     1),
              CKR_OBJECT_HANDLE_INVALID);
}

static void host_key_attributes(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE s = w->session[SK3_I];
    CK_OBJECT_HANDLE k = w->host[SK3_I];
    unsigned char id[32];
    CK_ATTRIBUTE attr = {CKA_SE_HOST_ID, id, sizeof(id)};
    assert_rv(f->C_GetAttributeValue(s, k, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, SK3_ID_LEN);
    assert_memory_equal(id, sk3_host_i, SK3_ID_LEN);
    assert_int_equal(fx_get_ulong(s, k, CKA_KEY_TYPE), CKK_SE_SK3_HOST);
    assert_int_equal(fx_get_ulong(s, k, CKA_VALUE_LEN), SK3_VALUE_LEN);
    assert_int_equal(fx_get_ulong(s, k, CKA_SE_FAILURE_COUNT), 0);
    assert_int_equal(fx_get_ulong(s, k, CKA_SE_FAILURE_LIMIT), 1000);
    assert_true(fx_get_bool(s, k, CKA_DERIVE));
    assert_true(fx_get_bool(s, k, CKA_SIGN));
    assert_true(fx_get_bool(s, k, CKA_VERIFY));
    assert_false(fx_get_bool(s, k, CKA_ENCRYPT));
    assert_false(fx_get_bool(s, k, CKA_COPYABLE));
    assert_true(fx_get_bool(s, k, CKA_SENSITIVE));
    assert_true(fx_get_bool(s, k, CKA_TOKEN));
    assert_true(fx_get_bool(s, k, CKA_PRIVATE));

    /* the host key can be found by its host name (CKA_SE_HOST_ID is indexed) */
    CK_ATTRIBUTE by_id = {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN};
    CK_OBJECT_HANDLE found;
    assert_int_equal(fx_find(s, &by_id, 1, &found, 1), 1);
    assert_true(found == k);
}

static void server_key_generated(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE s = w->session[SK3_S];
    assert_int_equal(fx_get_ulong(s, w->server, CKA_KEY_TYPE), CKK_SE_SK3_SERVER);
    assert_int_equal(fx_get_ulong(s, w->server, CKA_VALUE_LEN), SK3_VALUE_LEN);
    assert_int_equal(fx_get_ulong(s, w->server, CKA_KEY_GEN_MECHANISM), CKM_SE_SK3_KEY_GEN);
    assert_true(fx_get_bool(s, w->server, CKA_LOCAL));
    assert_int_equal(fx_get_ulong(s, w->server, CKA_SE_FAILURE_COUNT), 0);
    /* a server key has no in-card secret and names no host */
    CK_BYTE buffer[64];
    CK_ATTRIBUTE attr = {CKA_SE_HOST_ID, buffer, sizeof(buffer)};
    assert_rv(f->C_GetAttributeValue(s, w->server, &attr, 1), CKR_ATTRIBUTE_TYPE_INVALID);
}

/* ---- the protocol
 * -------------------------------------------------------------------------------- */

static const char message[] = "SK3: a session key from a stateless card";

static void sigma_i_equals_sigma_j(void **state)
{
    sk3_world *w = world(state);
    CK_OBJECT_HANDLE sigma_i, sigma_j;
    assert_rv(sk3_round(w, SK3_SIGMA_AES, &sigma_i, &sigma_j), CKR_OK);
    CK_SESSION_HANDLE si = w->session[SK3_I], sj = w->session[SK3_J];
    assert_int_equal(fx_get_ulong(si, sigma_i, CKA_KEY_TYPE), CKK_AES);
    assert_int_equal(fx_get_ulong(sj, sigma_j, CKA_VALUE_LEN), SK3_LEN);
    unsigned char value[64];
    CK_ULONG len = sizeof(value);
    assert_rv(sk3_value(si, sigma_i, value, &len), CKR_ATTRIBUTE_SENSITIVE);

    /* i → j and j → i */
    unsigned char iv[12] = "sk3-gcm-iv-1", sealed[128], opened[128];
    CK_ULONG sealed_len = sizeof(sealed), opened_len = sizeof(opened);
    assert_rv(sk3_gcm_seal(si, sigma_i, iv, message, sizeof(message), sealed, &sealed_len), CKR_OK);
    assert_int_equal(sealed_len, sizeof(message) + 16);
    assert_rv(sk3_gcm_open(sj, sigma_j, iv, sealed, sealed_len, opened, &opened_len), CKR_OK);
    assert_int_equal(opened_len, sizeof(message));
    assert_memory_equal(opened, message, sizeof(message));

    iv[11] = '2';
    sealed_len = sizeof(sealed);
    opened_len = sizeof(opened);
    assert_rv(sk3_gcm_seal(sj, sigma_j, iv, message, sizeof(message), sealed, &sealed_len), CKR_OK);
    assert_rv(sk3_gcm_open(si, sigma_i, iv, sealed, sealed_len, opened, &opened_len), CKR_OK);
    assert_memory_equal(opened, message, sizeof(message));

    /* another round gives another key: σ of round 1 does not open round 2 */
    CK_OBJECT_HANDLE other_i, other_j;
    assert_rv(sk3_round(w, SK3_SIGMA_AES, &other_i, &other_j), CKR_OK);
    sealed_len = sizeof(sealed);
    opened_len = sizeof(opened);
    assert_rv(sk3_gcm_seal(si, other_i, iv, message, sizeof(message), sealed, &sealed_len), CKR_OK);
    assert_rv(sk3_gcm_open(sj, sigma_j, iv, sealed, sealed_len, opened, &opened_len),
              CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(fx_get_ulong(si, w->host[SK3_I], CKA_SE_FAILURE_COUNT), 0);
}

/* The card keeps no state: query 3 answers the same inputs the same way,
 * query 2 draws a fresh r_j each time. */
static void queries_are_stateless(void **state)
{
    sk3_world *w = world(state);
    CK_SE_SK3_Q3_PARAMS p, again;
    memset(&p, 0, sizeof(p));
    memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
    unsigned char rj2[SK3_LEN], tau2[SK3_LEN];
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], p.ri, p.ci), CKR_OK);
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, p.alpha, p.beta),
              CKR_OK);
    assert_rv(sk3_q2(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, p.rj, p.tauJ,
                     SK3_SIGMA_AES, NULL),
              CKR_OK);
    assert_rv(
        sk3_q2(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, rj2, tau2, SK3_SIGMA_AES, NULL),
        CKR_OK);
    assert_memory_not_equal(p.rj, rj2, SK3_LEN);
    assert_memory_not_equal(p.tauJ, tau2, SK3_LEN);
    again = p;
    CK_OBJECT_HANDLE s1, s2;
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, SK3_SIGMA_READABLE, &s1), CKR_OK);
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &again, SK3_SIGMA_READABLE, &s2), CKR_OK);
    assert_memory_equal(p.rhoI, again.rhoI, SK3_LEN);
    unsigned char v1[SK3_LEN], v2[SK3_LEN];
    CK_ULONG l1 = sizeof(v1), l2 = sizeof(v2);
    assert_rv(sk3_value(w->session[SK3_I], s1, v1, &l1), CKR_OK);
    assert_rv(sk3_value(w->session[SK3_I], s2, v2, &l2), CKR_OK);
    assert_memory_equal(v1, v2, SK3_LEN);
    /* two query 1s never repeat r_i */
    unsigned char ri[SK3_LEN], ci[SK3_LEN];
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], ri, ci), CKR_OK);
    assert_memory_not_equal(ri, p.ri, SK3_LEN);
}

/* Seed 002 §2.2: (α, β) can be cached by host i; the server is needed
 * only the first time i talks to j. */
static void cached_alpha_beta(void **state)
{
    sk3_world *w = world(state);
    unsigned char alpha[SK3_LEN], beta[SK3_LEN];
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, alpha, beta),
              CKR_OK);
    for (int round = 0; round < 3; round++) {
        CK_SE_SK3_Q3_PARAMS p;
        memset(&p, 0, sizeof(p));
        memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
        memcpy(p.alpha, alpha, SK3_LEN);
        memcpy(p.beta, beta, SK3_LEN);
        assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], p.ri, p.ci), CKR_OK);
        assert_rv(sk3_q2(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, p.rj, p.tauJ,
                         SK3_SIGMA_AES, NULL),
                  CKR_OK);
        assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, SK3_SIGMA_AES, NULL), CKR_OK);
        assert_rv(
            sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN),
            CKR_OK);
    }
}

/* The host keys (with K~) persist: after C_Finalize/C_Initialize the
 * protocol still runs. */
static void protocol_after_restart(void **state)
{
    sk3_world *w = world(state);
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(sk3_world_open(w), CKR_OK);
    assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
}

/* A host key made with C_CreateObject from its value (instead of
 * unwrapped) takes part like any other: the value is the server's
 * HOST_DERIVE, K~ is the card's own. */
static void created_host_key(void **state)
{
    sk3_world *w = world(state);
    CK_SE_SK3_HOST_PARAMS params;
    memcpy(params.hostId, sk3_host_i, SK3_ID_LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET, host = CKK_SE_SK3_HOST;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &no, sizeof(no)},
    };
    CK_OBJECT_HANDLE derived, created;
    unsigned char value[SK3_VALUE_LEN];
    CK_ULONG len = sizeof(value);
    assert_rv(f->C_DeriveKey(w->session[SK3_S], &mech, w->server, tmpl, 4, &derived), CKR_OK);
    assert_rv(sk3_value(w->session[SK3_S], derived, value, &len), CKR_OK);
    assert_int_equal(len, SK3_VALUE_LEN);
    CK_ATTRIBUTE create[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &host, sizeof(host)},
        {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN},
        {CKA_VALUE, value, sizeof(value)},
    };
    assert_rv(f->C_CreateObject(w->session[SK3_I], create, 4, &created), CKR_OK);
    w->host[SK3_I] = created; /* a session object: the world's for this test only */
    assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(mechanisms_are_listed, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(three_separate_tokens, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(host_key_attributes, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(server_key_generated, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(sigma_i_equals_sigma_j, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(queries_are_stateless, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(cached_alpha_beta, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(protocol_after_restart, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(created_host_key, sk3_setup_world, sk3_teardown),
    };
    return cmocka_run_group_tests_name("sk3-protocol", tests, NULL, NULL);
}
