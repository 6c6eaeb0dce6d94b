/*
 * test_store_provider_outage.c — the "tpm" root of trust going away and
 * coming back under a running process (found while writing
 * test_store_provider.c; both were defects, now fixed):
 *
 * 1. While the token's device counter cannot be read, a PIN is not tried
 *    at all (CKR_DEVICE_ERROR for the right and the wrong PIN alike):
 *    a wrong PIN whose failure could not be counted must not be answered
 *    (tokens/pin.c pin_check, tokens/state.c tok_state_fresh).
 * 2. After a transport failure the provider connects again on the next
 *    call (tokens/rot_tpm.c tpm_ready/tpm_reset): once the TPM answers
 *    again, counters are read and raised as before.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>

#include "sec_common.h"
#include "swtpm_fixture.h"

#include <cmocka.h>

static swtpm_fixture tpm;

static int test_setup(void **state)
{
    if (sec_setup_env(state) != 0)
        return -1;
    if (!swtpm_available())
        return 0;
    memset(&tpm, 0, sizeof(tpm));
    return swtpm_start(&tpm) ? 0 : -1;
}

static int test_teardown(void **state)
{
    int rc = sec_teardown(state);
    swtpm_stop(&tpm);
    return rc;
}

static void need_swtpm(void)
{
#ifndef SOFTSE_HAVE_TPM
    print_message("this build has no TPM support: skipped\n");
    skip();
#endif
    if (!tpm.pid) {
        print_message("swtpm is not installed (package swtpm): skipped\n");
        skip();
    }
}

/* The port of a "swtpm:host=127.0.0.1,port=N" TCTI. */
static int tcti_port(const char *tcti)
{
    const char *p = strstr(tcti, "port=");
    assert_non_null(p);
    return atoi(p + 5);
}

/* Starts swtpm again on f->dir (a power cycle of the same TPM) on the
 * given port, so that the module's configured TCTI reaches it again
 * (swtpm_start picks a new port). */
static void swtpm_restart_on(swtpm_fixture *f, int port)
{
    char state[300], server[80], control[80];
    snprintf(state, sizeof(state), "dir=%s", f->dir);
    snprintf(server, sizeof(server), "type=tcp,port=%d,bindaddr=127.0.0.1", port);
    snprintf(control, sizeof(control), "type=tcp,port=%d,bindaddr=127.0.0.1", port + 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_RDWR);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(null, 0);
        dup2(null, 1);
        execlp("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state, "--server", server,
               "--ctrl", control, "--flags", "not-need-init,startup-clear", (char *)NULL);
        _exit(127);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timespec pause = {.tv_nsec = 10 * 1000 * 1000};
    for (int i = 0; i < 1000; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        bool ok = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
        close(fd);
        if (ok) {
            f->pid = pid;
            snprintf(f->tcti, sizeof(f->tcti), "swtpm:host=127.0.0.1,port=%d", port);
            return;
        }
        assert_int_not_equal(waitpid(pid, NULL, WNOHANG), pid);
        nanosleep(&pause, NULL);
    }
    fail_msg("swtpm did not come back on port %d", port);
}

/* A token made under tpm, open, an RW session on it (user not logged in). */
static CK_SESSION_HANDLE token_under_tpm(fx *t)
{
    setenv("SOFTSE_ROT_PROVIDER", "tpm", 1);
    setenv("SOFTSE_ROT_TCTI", tpm.tcti, 1);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_new_token("holes");
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(slot, true, &s), CKR_OK);
    return s;
}

/* A PIN try is never reported without being spent: while the device
 * counter cannot be read, no PIN is tried, so the right PIN cannot be told
 * apart from the wrong ones (before the fix: 20 wrong PINs answered
 * CKR_DEVICE_ERROR uncounted, then the right PIN CKR_OK). */
static void no_pin_tried_while_tpm_unreachable(void **state)
{
    fx *t = *state;
    need_swtpm();
    CK_SESSION_HANDLE s = token_under_tpm(t);
    swtpm_kill(&tpm); /* the token stays open: its keys are in memory */

    fx_stderr_begin(t);
    CK_RV wrong[20];
    for (int i = 0; i < 20; i++)
        wrong[i] = fx_login(s, CKU_USER, "000000");
    CK_RV right = fx_login(s, CKU_USER, FX_USER_PIN);
    free(fx_stderr_end(t));
    for (int i = 0; i < 20; i++)
        assert_rv(wrong[i], CKR_DEVICE_ERROR);
    assert_rv(right, CKR_DEVICE_ERROR);
}

/* The tpm provider recovers when the TPM answers again: a destroy that
 * failed while the TPM was down succeeds once the same TPM (same TCTI) is
 * back, without C_Finalize (before the fix every later TPM use failed
 * with "Esys called in bad sequence"). */
static void provider_recovers_when_the_tpm_is_back(void **state)
{
    fx *t = *state;
    need_swtpm();
    CK_SESSION_HANDLE s = token_under_tpm(t);
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
    CK_OBJECT_HANDLE a, b;
    assert_rv(fx_create_data(s, "a", true, true, "x", 1, &a), CKR_OK);
    assert_rv(fx_create_data(s, "b", true, true, "y", 1, &b), CKR_OK);

    int port = tcti_port(tpm.tcti);
    swtpm_kill(&tpm);
    fx_stderr_begin(t);
    CK_RV down = t->f->C_DestroyObject(s, a);
    free(fx_stderr_end(t));
    assert_rv(down, CKR_DEVICE_ERROR); /* fine: the TPM is gone */

    swtpm_restart_on(&tpm, port);
    fx_stderr_begin(t);
    CK_RV back = t->f->C_DestroyObject(s, b);
    char *log = fx_stderr_end(t);
    if (back != CKR_OK)
        fprintf(stderr, "log:\n%s", log);
    free(log);
    assert_rv(back, CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_pin_tried_while_tpm_unreachable, test_setup,
                                        test_teardown),
        cmocka_unit_test_setup_teardown(provider_recovers_when_the_tpm_is_back, test_setup,
                                        test_teardown),
    };
    return cmocka_run_group_tests_name("security-store-provider-outage", tests, NULL, NULL);
}
