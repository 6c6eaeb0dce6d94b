/*
 * Configuration: where the store lives (SOFTSE_STORE, $XDG_DATA_HOME/softse,
 * ~/.local/share/softse), the SOFTSE_CONF file and its keys, the system-wide
 * file and the settings string of C_Initialize's pReserved.  Every test
 * points HOME and XDG_DATA_HOME into its temporary directory.
 *
 * The module under test (meson: softse-pkcs11-sysconf.so) is the real one
 * with its system-wide file compiled in at $SOFTSE_TEST_SYSTEM_CONF, in the
 * build tree, so the system file is tested without root or /etc.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

static void path_join(char *out, size_t size, const char *dir, const char *name)
{
    if (snprintf(out, size, "%s/%s", dir, name) >= (int)size)
        fail_msg("path too long: %s/%s", dir, name);
}

/* The store file of the token in slot: <dir>/<serial>.sqlite. */
static void assert_token_file_in(CK_SLOT_ID slot, const char *dir)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(slot, &info), CKR_OK);
    char name[32], path[PATH_MAX + 64];
    snprintf(name, sizeof(name), "%.16s.sqlite", (const char *)info.serialNumber);
    path_join(path, sizeof(path), dir, name);
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("the token's store file %s does not exist", path);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 077, 0); /* private to its owner */
}

/* HOME and XDG_DATA_HOME inside the test's directory; SOFTSE_STORE unset. */
static void isolate_home(fx *t, char *home, char *xdg, size_t size)
{
    path_join(home, size, t->root, "home");
    path_join(xdg, size, t->root, "xdg");
    assert_int_equal(mkdir(home, 0700), 0);
    setenv("HOME", home, 1);
    unsetenv("SOFTSE_STORE");
}

static void store_in_xdg_data_home(void **state)
{
    fx *t = *state;
    char home[PATH_MAX], xdg[PATH_MAX], expected[PATH_MAX + 16];
    isolate_home(t, home, xdg, sizeof(home));
    setenv("XDG_DATA_HOME", xdg, 1);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "xdg"), CKR_OK);
    path_join(expected, sizeof(expected), xdg, "softse");
    assert_token_file_in(slot, expected);
    struct stat st;
    assert_int_equal(stat(expected, &st), 0);
    assert_int_equal(st.st_mode & 077, 0);
}

static void store_in_home(void **state)
{
    fx *t = *state;
    char home[PATH_MAX], xdg[PATH_MAX], expected[PATH_MAX + 32];
    isolate_home(t, home, xdg, sizeof(home));
    unsetenv("XDG_DATA_HOME");
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "home"), CKR_OK);
    path_join(expected, sizeof(expected), home, ".local/share/softse");
    assert_token_file_in(slot, expected);
}

static void softse_store_wins(void **state)
{
    fx *t = *state;
    char home[PATH_MAX], xdg[PATH_MAX];
    isolate_home(t, home, xdg, sizeof(home));
    setenv("XDG_DATA_HOME", xdg, 1);
    setenv("SOFTSE_STORE", t->store, 1);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "env"), CKR_OK);
    assert_token_file_in(slot, t->store);
    char elsewhere[PATH_MAX + 16];
    path_join(elsewhere, sizeof(elsewhere), xdg, "softse");
    struct stat st;
    if (stat(elsewhere, &st) == 0) {
        /* at most an empty directory was made there */
        char command[2 * PATH_MAX];
        snprintf(command, sizeof(command), "test -z \"$(ls -A '%s')\"", elsewhere);
        assert_int_equal(system(command), 0);
    }

    /* a store that does not exist yet is created */
    char fresh[PATH_MAX + 16];
    path_join(fresh, sizeof(fresh), t->root, "new/store");
    setenv("SOFTSE_STORE", fresh, 1);
    assert_rv(fx_restart(), CKR_OK);
    slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "fresh"), CKR_OK);
    assert_token_file_in(slot, fresh);
}

static void write_conf(fx *t, const char *text, char *path, size_t size)
{
    path_join(path, size, t->root, "softse.conf");
    FILE *file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    setenv("SOFTSE_CONF", path, 1);
}

static void config_file(void **state)
{
    fx *t = *state;
    char home[PATH_MAX], xdg[PATH_MAX], conf_path[PATH_MAX + 16], store[PATH_MAX + 16];
    isolate_home(t, home, xdg, sizeof(home));
    unsetenv("XDG_DATA_HOME");
    unsetenv("SOFTSE_PIN_KDF_ITERATIONS");
    path_join(store, sizeof(store), t->root, "conf-store");
    char text[2 * PATH_MAX];
    snprintf(text, sizeof(text),
             "# softse test configuration\n"
             "\n"
             "store_dir = %s\n"
             "pin_kdf_iterations = 1000\n"
             "user_max_failures = 3\n"
             "so_max_failures = 4\n"
             "log_level = error\n"
             "syslog = false\n",
             store);
    write_conf(t, text, conf_path, sizeof(conf_path));
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_new_token("conf");
    assert_token_file_in(slot, store);

    /* user_max_failures = 3 */
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_FINAL_TRY);
    assert_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_LOCKED);
    /* so_max_failures = 4 */
    for (int i = 0; i < 3; i++)
        assert_rv(fx_login(session, CKU_SO, "00000000"), CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(slot) & CKF_SO_PIN_FINAL_TRY);
    assert_rv(fx_login(session, CKU_SO, FX_SO_PIN), CKR_OK);
}

static void config_with_defaults(void **state)
{
    fx *t = *state;
    char conf_path[PATH_MAX + 16];
    /* a file with only comments: every default, the store from SOFTSE_STORE */
    write_conf(t, "# nothing set\n", conf_path, sizeof(conf_path));
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_new_token("defaults");
    assert_token_file_in(slot, t->store);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    for (int i = 0; i < 9; i++)
        assert_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_FINAL_TRY); /* 10 tries */
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
}

/* A line the module cannot use stops C_Initialize with a message naming
 * it: a typo must not quietly weaken the PIN cost or move the store. */
static void config_errors_are_reported(void **state)
{
    fx *t = *state;
    char conf_path[PATH_MAX + 16];
    static const char *const bad[] = {
        "pin_kdf_iterations = many\n",
        "# fine\nstore_dirr = /tmp\n",
        "user_max_failures\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_conf(t, bad[i], conf_path, sizeof(conf_path));
        fx_stderr_begin(t);
        CK_RV rv = t->f->C_Initialize(NULL_PTR);
        char *log = fx_stderr_end(t);
        if (rv == CKR_OK)
            fail_msg("C_Initialize accepted the configuration \"%s\"", bad[i]);
        if (!strstr(log, conf_path))
            fail_msg("the message does not name %s: %s", conf_path, log);
        free(log);
        CK_INFO info;
        assert_rv(t->f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    /* a configuration file that does not exist */
    setenv("SOFTSE_CONF", "/nonexistent/softse.conf", 1);
    assert_true(t->f->C_Initialize(NULL_PTR) != CKR_OK);
}

/* ---- C_Initialize's pReserved: a settings string ----------------------------------- */

/* The log of a C_Initialize with this pReserved string (stderr captured). */
static char *initialize_with(fx *t, const char *reserved, CK_RV expected)
{
    fx_stderr_begin(t);
    CK_RV rv = fx_initialize_args(NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, (CK_VOID_PTR)reserved);
    char *log = fx_stderr_end(t);
    if (rv != expected)
        fail_msg("C_Initialize with pReserved \"%.60s\": %s, expected %s; log: %s",
                 reserved ? reserved : "(NULL)", fx_rv_name(rv), fx_rv_name(expected), log);
    return log;
}

static void assert_logged(const char *log, const char *wanted)
{
    if (!strstr(log, wanted))
        fail_msg("the log does not say \"%s\": %s", wanted, log);
}

/* pReserved wins over SOFTSE_STORE; the store line names it and counts. */
static void reserved_store_dir(void **state)
{
    fx *t = *state;
    char store[PATH_MAX + 16], reserved[2 * PATH_MAX], line[2 * PATH_MAX];
    path_join(store, sizeof(store), t->root, "reserved-store");
    snprintf(reserved, sizeof(reserved), "store_dir=%s log_level=info", store);
    char *log = initialize_with(t, reserved, CKR_OK);
    snprintf(line, sizeof(line), "store %s (from C_Initialize pReserved): 0 token(s)", store);
    assert_logged(log, line);
    free(log);
    CK_SLOT_ID slot = fx_new_token("reserved");
    assert_token_file_in(slot, store);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    log = initialize_with(t, reserved, CKR_OK);
    snprintf(line, sizeof(line), "store %s (from C_Initialize pReserved): 1 token(s)", store);
    assert_logged(log, line);
    free(log);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    /* without pReserved: SOFTSE_STORE again (only a blank token there), and
     * log_level back to warning */
    log = initialize_with(t, NULL, CKR_OK);
    assert_true(strstr(log, "store ") == NULL);
    free(log);
    CK_ULONG count = 0;
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL, &count), CKR_OK);
    assert_int_equal(count, 1);
}

/* Quoted values keep blanks; ';' and blanks both separate. */
static void reserved_quoting(void **state)
{
    fx *t = *state;
    char store[PATH_MAX + 16], reserved[2 * PATH_MAX];
    path_join(store, sizeof(store), t->root, "a store; quoted");
    snprintf(reserved, sizeof(reserved),
             " user_max_failures=3;store_dir=\"%s\";; so_max_failures=4 ", store);
    free(initialize_with(t, reserved, CKR_OK));
    CK_SLOT_ID slot = fx_new_token("quoted");
    assert_token_file_in(slot, store);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    for (int i = 0; i < 2; i++)
        assert_rv(fx_login(session, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_FINAL_TRY); /* user_max_failures = 3 */
}

/* A string the module cannot use is the caller's bad argument, named. */
static void reserved_errors(void **state)
{
    fx *t = *state;
    static const char *const bad[] = {
        "store_dir",                /* no value */
        "store_dirr=/tmp",          /* no such key */
        "user_max_failures=x",      /* not a number */
        "store_dir='/tmp/unclosed", /* quote not closed */
        "store_dir='/a'b",          /* text after the quote */
        "store_dir=",               /* empty store */
        "=/tmp",                    /* no key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *log = initialize_with(t, bad[i], CKR_ARGUMENTS_BAD);
        assert_logged(log, "C_Initialize pReserved");
        free(log);
        CK_INFO info;
        assert_rv(t->f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    }
    /* no NUL in the first 4096 bytes: not a settings string */
    char *long_text = malloc(5000);
    assert_non_null(long_text);
    memset(long_text, 'a', 4999);
    long_text[4999] = '\0';
    free(initialize_with(t, long_text, CKR_ARGUMENTS_BAD));
    free(long_text);
    /* an empty string sets nothing */
    free(initialize_with(t, " ; ", CKR_OK));
    fx_blank_slot();
}

/* ---- the system-wide file ------------------------------------------------------------ */

/* The module's compiled-in system file.  Only the module meson builds for
 * this test has one the test may write (valgrind.sh runs this program on
 * the real module): without SOFTSE_TEST_SYSTEM_CONF the test is skipped. */
static const char *system_conf(void)
{
    const char *path = getenv("SOFTSE_TEST_SYSTEM_CONF");
    if (!path || !*path) {
        print_message("SKIP: SOFTSE_TEST_SYSTEM_CONF does not name the module's system file\n");
        skip();
    }
    return path;
}

static void write_system_conf(const char *text)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", system_conf());
    *strrchr(dir, '/') = '\0';
    mkdir(dir, 0755);
    FILE *file = fopen(system_conf(), "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static int teardown_system_conf(void **state)
{
    const char *path = getenv("SOFTSE_TEST_SYSTEM_CONF");
    if (path && *path)
        unlink(path);
    return fx_teardown(state);
}

/* A service started with an empty environment (only HOME, elsewhere)
 * opens the store the system file names, and logs where it came from. */
static void system_conf_for_services(void **state)
{
    fx *t = *state;
    char store[PATH_MAX + 16], home[PATH_MAX + 16], text[3 * PATH_MAX], line[3 * PATH_MAX];
    path_join(store, sizeof(store), t->root, "system-store");
    path_join(home, sizeof(home), t->root, "service-home");
    /* rot_dir: the test's own device root, which this process uses too */
    snprintf(text, sizeof(text),
             "# the machine's store\nstore_dir = %s\nrot_dir = %s/rot\n"
             "pin_kdf_iterations = 1000\nlog_level = info\n",
             store, t->root);
    write_system_conf(text);
    fx_stderr_begin(t);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        clearenv();
        setenv("HOME", home, 1);
        child_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
        CK_SLOT_ID slots[4];
        CK_ULONG count = 4;
        child_rv(t->f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
        child_check(count == 1);
        child_rv(fx_init_token(slots[0], FX_SO_PIN, "service"), CKR_OK);
        child_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    char *log = fx_stderr_end(t);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("the service process failed: %s", log);
    snprintf(line, sizeof(line), "store %s (from %s:2): 0 token(s)", store, system_conf());
    assert_logged(log, line);
    free(log);
    struct stat st;
    char elsewhere[2 * PATH_MAX];
    path_join(elsewhere, sizeof(elsewhere), home, ".local/share/softse");
    assert_int_not_equal(stat(elsewhere, &st), 0); /* nothing in the service's HOME */

    /* SOFTSE_STORE overrides the file's store_dir; the token is in neither */
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    fx_blank_slot();
    CK_ULONG count = 0;
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL, &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    unsetenv("SOFTSE_STORE");
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_token_file_in(fx_slot_by_label("service"), store);
}

/* SOFTSE_CONF replaces the system file; a bad system file is reported. */
static void system_conf_replaced_and_checked(void **state)
{
    fx *t = *state;
    char conf_path[PATH_MAX + 16];
    write_system_conf("store_dir = /nonexistent/never-used\n");
    unsetenv("SOFTSE_STORE");
    char text[2 * PATH_MAX];
    snprintf(text, sizeof(text), "store_dir = %s\n", t->store);
    write_conf(t, text, conf_path, sizeof(conf_path));
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_token_file_in(fx_new_token("user-conf"), t->store);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    unsetenv("SOFTSE_CONF");
    write_system_conf("store_dir = /tmp\nlog_levle = info\n");
    fx_stderr_begin(t);
    CK_RV rv = t->f->C_Initialize(NULL_PTR);
    char *log = fx_stderr_end(t);
    assert_rv(rv, CKR_GENERAL_ERROR);
    char line[PATH_MAX + 16];
    snprintf(line, sizeof(line), "%s:2", system_conf());
    assert_logged(log, line);
    free(log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_in_xdg_data_home, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(store_in_home, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(softse_store_wins, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_file, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_with_defaults, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_errors_are_reported, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(reserved_store_dir, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(reserved_quoting, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(reserved_errors, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(system_conf_for_services, fx_setup_env,
                                        teardown_system_conf),
        cmocka_unit_test_setup_teardown(system_conf_replaced_and_checked, fx_setup_env,
                                        teardown_system_conf),
    };
    fx_own_rot_dir(true);
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
