/*
 * test_store_kill.c — issue 14, case 6 (kill safety of the anti-rollback
 * counter): a child that does failed logins and destroys in a loop is
 * SIGKILLed at random moments, including between a commit and the raise
 * of the device counter; after each kill the token must open and log in
 * (never refused as rolled back or tampered).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "sec_common.h"

#include <cmocka.h>

#define ROUNDS 30

static void child_loop(void)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SESSION_HANDLE s;
    child_rv(fx_open(fx_slot_by_label(FX_TOKEN_LABEL), true, &s), CKR_OK);
    static const unsigned char v[32] = {1};
    for (unsigned n = 0;; n++) {
        CK_RV rv = fx_login(s, CKU_SO, "00000000"); /* counted failure: a version event */
        child_check(rv == CKR_PIN_INCORRECT);
        child_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK); /* not the SO: stays usable */
        CK_OBJECT_HANDLE k;
        child_rv(fx_create_aes(s, "churn", true, true, false, v, 32, &k), CKR_OK);
        child_rv(f->C_DestroyObject(s, k), CKR_OK); /* a version event */
        child_rv(f->C_Logout(s), CKR_OK);
        rv = fx_login(s, CKU_SO, FX_SO_PIN); /* resets the SO failures */
        child_check(rv == CKR_OK);
        child_rv(f->C_Logout(s), CKR_OK);
    }
}

static void killed_mid_event_never_refused(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    for (int round = 0; round < ROUNDS; round++) {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            child_loop();
            _exit(0);
        }
        struct timespec delay = {0, (long)(5 + rand() % 60) * 1000000L};
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        int status = 0;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFEXITED(status))
            fail_msg("round %d: the child stopped by itself (status %d)", round,
                     WEXITSTATUS(status));
        /* The token opens and logs in, with nothing logged as rolled back
         * or tampered. */
        fx_stderr_begin(t);
        CK_RV rv = t->f->C_Initialize(NULL_PTR);
        bool listed = rv == CKR_OK && sec_token_listed(FX_TOKEN_LABEL);
        char *log = fx_stderr_end(t);
        if (rv != CKR_OK || !listed || strstr(log, "refused")) {
            fprintf(stderr, "log:\n%s", log);
            fail_msg("round %d: the token is refused after a kill", round);
        }
        free(log);
        CK_SESSION_HANDLE s;
        assert_rv(fx_open(fx_slot_by_label(FX_TOKEN_LABEL), true, &s), CKR_OK);
        assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
        /* A kill between the child's wrong SO PIN and its right one
         * leaves a counted failure; ten such rounds (likely when valgrind
         * slows the child) would lock the SO PIN.  The right one resets
         * the count, as the child's own does. */
        assert_rv(t->f->C_Logout(s), CKR_OK);
        assert_rv(fx_login(s, CKU_SO, FX_SO_PIN), CKR_OK);
        assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(killed_mid_event_never_refused, sec_setup_token,
                                        sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-kill", tests, NULL, NULL);
}
