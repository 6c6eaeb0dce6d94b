/*
 * Configuration: where the store lives (SOFTSE_STORE, $XDG_DATA_HOME/softse,
 * ~/.local/share/softse), the SOFTSE_CONF file and its keys.  Every test
 * points HOME and XDG_DATA_HOME into its temporary directory.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_in_xdg_data_home, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(store_in_home, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(softse_store_wins, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_file, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_with_defaults, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(config_errors_are_reported, fx_setup_env, fx_teardown),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
