/*
 * PINs and login: C_InitPIN, C_SetPIN, C_Login, C_Logout (PKCS#11 3.0
 * §5.6), the retry counters and their token flags (docs/spec.md §7: 10 tries,
 * kept in the store across restarts and processes).
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define MAX_FAILURES 10

static void init_pin_needs_so_rw_session(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "initpin"), CKR_OK);
    CK_SESSION_HANDLE rw, ro;
    CK_UTF8CHAR_PTR pin = (CK_UTF8CHAR_PTR) "1234";

    assert_rv(fx_open(slot, true, &rw), CKR_OK);
    assert_rv(t->f->C_InitPIN(rw, pin, 4), CKR_USER_NOT_LOGGED_IN); /* public session */
    assert_rv(fx_open(slot, false, &ro), CKR_OK);
    assert_rv_in(t->f->C_InitPIN(ro, pin, 4), CKR_USER_NOT_LOGGED_IN, CKR_SESSION_READ_ONLY);
    assert_rv(t->f->C_CloseSession(ro), CKR_OK);

    assert_rv(fx_login(rw, CKU_USER, "1234"), CKR_USER_PIN_NOT_INITIALIZED);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_rv(t->f->C_InitPIN(rw, NULL_PTR, 4), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_InitPIN(rw, pin, 3), CKR_PIN_LEN_RANGE);
    char long_pin[257];
    memset(long_pin, '5', 256);
    assert_rv(t->f->C_InitPIN(rw, (CK_UTF8CHAR_PTR)long_pin, 256), CKR_PIN_LEN_RANGE);
    assert_false(fx_token_flags(slot) & CKF_USER_PIN_INITIALIZED);
    assert_rv(t->f->C_InitPIN(rw, pin, 4), CKR_OK);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_INITIALIZED);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_USER, "1234"), CKR_OK);
    assert_rv(t->f->C_InitPIN(rw, pin, 4), CKR_USER_NOT_LOGGED_IN); /* user, not SO */
    assert_rv(t->f->C_Logout(rw), CKR_OK);

    /* the longest PIN works */
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_rv(t->f->C_InitPIN(rw, (CK_UTF8CHAR_PTR)long_pin, 255), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    assert_rv(t->f->C_Login(rw, CKU_USER, (CK_UTF8CHAR_PTR)long_pin, 255), CKR_OK);
}

static void set_user_pin(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE rw, ro;
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    assert_rv(t->f->C_SetPIN(ro, (CK_UTF8CHAR_PTR)FX_USER_PIN, 6, (CK_UTF8CHAR_PTR) "9999", 4),
              CKR_SESSION_READ_ONLY);
    assert_rv(t->f->C_CloseSession(ro), CKR_OK);

    /* in an R/W public session, C_SetPIN changes the user PIN */
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR) "000000", 6, (CK_UTF8CHAR_PTR) "9999", 4),
              CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(t->slot) & CKF_USER_PIN_COUNT_LOW);
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR)FX_USER_PIN, 6, (CK_UTF8CHAR_PTR) "999", 3),
              CKR_PIN_LEN_RANGE);
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR)FX_USER_PIN, 6, (CK_UTF8CHAR_PTR) "9999", 4),
              CKR_OK);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_PIN_INCORRECT);
    assert_rv(fx_login(rw, CKU_USER, "9999"), CKR_OK);
    assert_false(fx_token_flags(t->slot) & CKF_USER_PIN_COUNT_LOW);

    /* logged in as the user: again the user PIN */
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR) "9999", 4, (CK_UTF8CHAR_PTR) "1234", 4), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);

    /* the new PIN survives a restart */
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_USER, "9999"), CKR_PIN_INCORRECT);
    assert_rv(fx_login(rw, CKU_USER, "1234"), CKR_OK);
}

static void set_so_pin(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE rw;
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR) "wrong-so", 8, (CK_UTF8CHAR_PTR) "abcdefgh", 8),
              CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(t->slot) & CKF_SO_PIN_COUNT_LOW);
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, (CK_UTF8CHAR_PTR) "abcdefgh", 8),
              CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_PIN_INCORRECT);
    assert_rv(fx_login(rw, CKU_SO, "abcdefgh"), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    /* the user PIN is untouched */
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    /* C_InitToken now wants the new SO PIN */
    assert_rv(t->f->C_CloseSession(rw), CKR_OK);
    assert_rv(fx_init_token(t->slot, FX_SO_PIN, "again"), CKR_PIN_INCORRECT);
    assert_rv(fx_init_token(t->slot, "abcdefgh", "again"), CKR_OK);
}

static void login_logout_rules(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE ro, rw, rw2;
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);

    assert_rv(t->f->C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_login(rw, 5, FX_USER_PIN), CKR_USER_TYPE_INVALID);
    assert_rv(t->f->C_Login(rw, CKU_USER, NULL_PTR, 6), CKR_ARGUMENTS_BAD);
    assert_rv_in(fx_login(rw, CKU_CONTEXT_SPECIFIC, FX_USER_PIN), CKR_OPERATION_NOT_INITIALIZED,
                 CKR_USER_NOT_LOGGED_IN);

    /* the SO cannot log in while a read-only session exists */
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_SESSION_READ_ONLY_EXISTS);

    /* login is per application: every session sees it */
    assert_rv(fx_login(ro, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_int_equal(fx_session_state(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(fx_session_state(rw), CKS_RW_USER_FUNCTIONS);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_USER_ALREADY_LOGGED_IN);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    /* a context-specific login needs an operation that asks for it */
    assert_rv(fx_login(rw, CKU_CONTEXT_SPECIFIC, FX_USER_PIN), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(fx_open(t->slot, true, &rw2), CKR_OK);
    assert_int_equal(fx_session_state(rw2), CKS_RW_USER_FUNCTIONS); /* new sessions too */
    assert_rv(t->f->C_Logout(rw2), CKR_OK);
    assert_int_equal(fx_session_state(ro), CKS_RO_PUBLIC_SESSION);
    assert_int_equal(fx_session_state(rw), CKS_RW_PUBLIC_SESSION);
    assert_rv(t->f->C_Logout(ro), CKR_USER_NOT_LOGGED_IN);

    /* the SO, once no read-only session is left */
    assert_rv(t->f->C_CloseSession(ro), CKR_OK);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_int_equal(fx_session_state(rw2), CKS_RW_SO_FUNCTIONS);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_USER_ALREADY_LOGGED_IN);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
    assert_rv(t->f->C_Logout(rw), CKR_OK);

    /* closing every session logs the application out */
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(t->f->C_CloseSession(rw), CKR_OK);
    assert_rv(t->f->C_CloseSession(rw2), CKR_OK);
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    assert_int_equal(fx_session_state(ro), CKS_RO_PUBLIC_SESSION);
}

/* The flags after `failures` wrong PINs out of MAX_FAILURES. */
static void assert_pin_flags(CK_FLAGS flags, int failures, CK_FLAGS count_low, CK_FLAGS final_try,
                             CK_FLAGS locked)
{
    if (failures == 0) {
        assert_false(flags & (count_low | final_try | locked));
    } else if (failures < MAX_FAILURES) {
        if (!(flags & count_low))
            fail_msg("after %d failures the COUNT_LOW flag is missing", failures);
        if (!!(flags & final_try) != (failures == MAX_FAILURES - 1))
            fail_msg("after %d failures FINAL_TRY is %s", failures,
                     flags & final_try ? "set" : "clear");
        if (flags & locked)
            fail_msg("locked after only %d failures", failures);
    } else {
        assert_true(flags & locked);
    }
}

static void user_pin_lockout(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE rw;
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);

    /* a success resets the count */
    assert_rv(fx_login(rw, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_rv(fx_login(rw, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_pin_flags(fx_token_flags(t->slot), 2, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                     CKF_USER_PIN_LOCKED);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    assert_pin_flags(fx_token_flags(t->slot), 0, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                     CKF_USER_PIN_LOCKED);

    for (int failures = 1; failures <= MAX_FAILURES; failures++) {
        assert_rv(fx_login(rw, CKU_USER, "000000"), CKR_PIN_INCORRECT);
        assert_pin_flags(fx_token_flags(t->slot), failures, CKF_USER_PIN_COUNT_LOW,
                         CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
    }
    assert_rv(fx_login(rw, CKU_USER, "000000"), CKR_PIN_LOCKED);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED); /* even the right one */
    assert_rv(t->f->C_SetPIN(rw, (CK_UTF8CHAR_PTR)FX_USER_PIN, 6, (CK_UTF8CHAR_PTR) "4321", 4),
              CKR_PIN_LOCKED);
    /* the SO is not locked out */
    assert_false(fx_token_flags(t->slot) & CKF_SO_PIN_LOCKED);

    /* kept across C_Finalize/C_Initialize */
    assert_rv(fx_restart(), CKR_OK);
    assert_true(fx_token_flags(t->slot) & CKF_USER_PIN_LOCKED);
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED);

    /* and across processes */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_SESSION_HANDLE session;
        child_rv(fx_functions()->C_Initialize(NULL_PTR), CKR_OK);
        child_rv(fx_open(t->slot, true, &session), CKR_OK);
        child_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED);
        _exit(0);
    }
    fx_assert_child_ok(pid);

    /* the SO unblocks the user by setting a new PIN */
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_rv(t->f->C_InitPIN(rw, (CK_UTF8CHAR_PTR) "4321", 4), CKR_OK);
    assert_rv(t->f->C_Logout(rw), CKR_OK);
    assert_pin_flags(fx_token_flags(t->slot), 0, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
                     CKF_USER_PIN_LOCKED);
    assert_rv(fx_login(rw, CKU_USER, "4321"), CKR_OK);
}

static void failures_count_across_processes(void **state)
{
    fx *t = *state;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_SESSION_HANDLE session;
        child_rv(fx_functions()->C_Initialize(NULL_PTR), CKR_OK);
        child_rv(fx_open(t->slot, true, &session), CKR_OK);
        for (int i = 0; i < MAX_FAILURES - 1; i++)
            child_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
        _exit(0);
    }
    fx_assert_child_ok(pid);
    /* this process sees the other's failures: one try left */
    assert_pin_flags(fx_token_flags(t->slot), MAX_FAILURES - 1, CKF_USER_PIN_COUNT_LOW,
                     CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
    CK_SESSION_HANDLE rw;
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_rv(fx_login(rw, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED);
}

static void so_pin_lockout(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE rw;
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    for (int failures = 1; failures <= MAX_FAILURES; failures++) {
        assert_rv(fx_login(rw, CKU_SO, "00000000"), CKR_PIN_INCORRECT);
        assert_pin_flags(fx_token_flags(t->slot), failures, CKF_SO_PIN_COUNT_LOW,
                         CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    }
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_PIN_LOCKED);
    assert_false(fx_token_flags(t->slot) & CKF_USER_PIN_LOCKED);
    assert_rv(fx_login(rw, CKU_USER, FX_USER_PIN), CKR_OK); /* the user still can */
    assert_rv(t->f->C_CloseSession(rw), CKR_OK);
    /* a locked SO PIN also protects C_InitToken */
    assert_rv(fx_init_token(t->slot, FX_SO_PIN, "erase"), CKR_PIN_LOCKED);
    assert_rv(fx_restart(), CKR_OK);
    assert_true(fx_token_flags(t->slot) & CKF_SO_PIN_LOCKED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(init_pin_needs_so_rw_session, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(set_user_pin, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(set_so_pin, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(login_logout_rules, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(user_pin_lockout, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(failures_count_across_processes, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(so_pin_lockout, fx_setup_token, fx_teardown),
    };
    return cmocka_run_group_tests_name("login", tests, NULL, NULL);
}
