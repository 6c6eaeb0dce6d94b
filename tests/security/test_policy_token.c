/*
 * The token's life against an attacker who holds the SO PIN or another
 * process (issue 15; docs/spec.md §7.2): TERMINATED is final, C_InitToken
 * never erases the device identity, and a reset or termination in one
 * process ends the use of what it erased in every process.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

static CK_SESSION_HANDLE session_as(CK_SLOT_ID slot, CK_USER_TYPE user)
{
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, user, user == CKU_SO ? FX_SO_PIN : FX_USER_PIN), CKR_OK);
    return session;
}

static CK_OBJECT_HANDLE lifecycle_object(CK_SESSION_HANDLE session)
{
    CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE type = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &hw, sizeof(hw)}, {CKA_HW_FEATURE_TYPE, &type, sizeof(type)}};
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
    assert_int_equal(fx_find(session, tmpl, 2, &found, 1), 1);
    return found;
}

/* An SO session moves the token to state (docs/spec.md §3). */
static CK_RV set_lifecycle(CK_SLOT_ID slot, unsigned char state)
{
    CK_SESSION_HANDLE so = session_as(slot, CKU_SO);
    CK_ATTRIBUTE value = {CKA_VALUE, &state, 1};
    CK_RV rv = fx_functions()->C_SetAttributeValue(so, lifecycle_object(so), &value, 1);
    fx_functions()->C_CloseSession(so);
    return rv;
}

static void init_token_label(CK_UTF8CHAR label[32])
{
    fx_pad(label, 32, "again");
}

/* Issue 15: C_InitToken by the SO on a TERMINATED card brought it back to
 * PERSONALIZATION with its identity erased. */
static void terminated_is_final(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_CloseSession(t->session), CKR_OK);
    assert_rv(set_lifecycle(t->slot, SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    CK_UTF8CHAR label[32];
    init_token_label(label);
    assert_rv(t->f->C_InitToken(t->slot, (CK_UTF8CHAR *)FX_SO_PIN, strlen(FX_SO_PIN), label),
              CKR_SE_LIFECYCLE);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_BYTE value = 0;
    CK_ATTRIBUTE read = {CKA_VALUE, &value, 1};
    assert_rv(t->f->C_GetAttributeValue(session, lifecycle_object(session), &read, 1), CKR_OK);
    assert_int_equal(value, SOFTSE_LIFECYCLE_TERMINATED);
}

/* Issue 15: on a manufactured card C_InitToken erased the device identity
 * (docs/spec.md §2) with the rest. */
static void init_token_keeps_the_identity(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_CloseSession(t->session), CKR_OK);
    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                               {CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    CK_ATTRIBUTE priv_tmpl[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                                {CKA_SE_ATTESTATION, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(t->f->C_GenerateKeyPair(so, &mech, pub_tmpl, 2, priv_tmpl, 2, &pub, &priv), CKR_OK);
    assert_rv(t->f->C_CloseSession(so), CKR_OK);
    CK_UTF8CHAR label[32];
    init_token_label(label);
    assert_rv(t->f->C_InitToken(t->slot, (CK_UTF8CHAR *)FX_SO_PIN, strlen(FX_SO_PIN), label),
              CKR_SE_LIFECYCLE);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_ATTRIBUTE identity[] = {{CKA_SE_ATTESTATION, &yes, sizeof(yes)}};
    assert_int_equal(fx_find(session, identity, 1, NULL, 0), 1); /* the public key */
}

/* Issue 15: after another process reset the token (OPERATIONAL →
 * PERSONALIZATION), this process's session copy of an erased token key
 * still encrypted. */
static void reset_elsewhere_ends_session_copies(void **state)
{
    fx *t = *state;
    static const unsigned char value[16] = "erased token key";
    CK_OBJECT_HANDLE token_key, session_copy;
    assert_rv(fx_create_aes(t->session, "k", true, true, false, value, 16, &token_key), CKR_OK);
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE session_only = {CKA_TOKEN, &no, 1};
    assert_rv(t->f->C_CloseSession(t->session), CKR_OK);
    assert_rv(set_lifecycle(t->slot, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    t->session = session_as(t->slot, CKU_USER);
    assert_rv(t->f->C_CopyObject(t->session, token_key, &session_only, 1, &session_copy), CKR_OK);
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    unsigned char block[16] = {0};
    CK_ULONG block_len = sizeof(block);
    assert_rv(t->f->C_EncryptInit(t->session, &ecb, session_copy), CKR_OK);
    assert_rv(t->f->C_Encrypt(t->session, block, 16, block, &block_len), CKR_OK);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_FUNCTION_LIST_PTR f = fx_functions();
        CK_SESSION_HANDLE so;
        child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
        child_rv(fx_open(t->slot, true, &so), CKR_OK);
        child_rv(fx_login(so, CKU_SO, FX_SO_PIN), CKR_OK);
        CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
        CK_HW_FEATURE_TYPE type = CKH_SE_LIFECYCLE;
        CK_ATTRIBUTE find[] = {{CKA_CLASS, &hw, sizeof(hw)}, {CKA_HW_FEATURE_TYPE, &type, sizeof(type)}};
        CK_OBJECT_HANDLE lc;
        CK_ULONG n = 0;
        child_rv(f->C_FindObjectsInit(so, find, 2), CKR_OK);
        child_rv(f->C_FindObjects(so, &lc, 1, &n), CKR_OK);
        child_check(n == 1);
        unsigned char perso = SOFTSE_LIFECYCLE_PERSONALIZATION;
        CK_ATTRIBUTE reset = {CKA_VALUE, &perso, 1};
        child_rv(f->C_SetAttributeValue(so, lc, &reset, 1), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);
    assert_rv(t->f->C_EncryptInit(t->session, &ecb, session_copy), CKR_KEY_HANDLE_INVALID);
    assert_rv(t->f->C_EncryptInit(t->session, &ecb, token_key), CKR_KEY_HANDLE_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(terminated_is_final, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(init_token_keeps_the_identity, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(reset_elsewhere_ends_session_copies, fx_setup_user,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("policy-token", tests, NULL, NULL);
}
