/*
 * The traced boundary (module/trace.h): with SOFTSE_TRACE=1 or the
 * configuration's `trace = on`, every C_* call logs one debug line with
 * its handles, its mechanism by name and its return value by name; off,
 * nothing.  Checked on the module's stderr, captured around a small call
 * sequence: C_Initialize, C_OpenSession, C_Login with a wrong PIN, then
 * the right one, C_SignInit, C_DigestInit.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define WRONG_PIN "654321"

/* The sequence, on a fresh token; the module's stderr is returned.  The
 * results are checked once stderr is back (cmocka reports there). */
static char *traced_sequence(fx *t)
{
    enum { INIT, OPEN, WRONG, RIGHT, SIGN, DIGEST, FINAL, STEPS };
    CK_RV rv[STEPS];
    for (int i = 0; i < STEPS; i++)
        rv[i] = CKR_OK;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL_PTR, 0};
    CK_MECHANISM sha = {CKM_SHA256, NULL_PTR, 0};
    fx_stderr_begin(t);
    rv[INIT] = t->f->C_Initialize(NULL_PTR);
    if (rv[INIT] == CKR_OK) {
        CK_SLOT_ID slot = fx_blank_slot();
        if ((rv[OPEN] = fx_init_token(slot, FX_SO_PIN, FX_TOKEN_LABEL)) == CKR_OK &&
            (rv[OPEN] = fx_init_user_pin(slot, FX_SO_PIN, FX_USER_PIN)) == CKR_OK)
            rv[OPEN] = fx_open(slot, true, &session);
        rv[WRONG] = fx_login(session, CKU_USER, WRONG_PIN);
        rv[RIGHT] = fx_login(session, CKU_USER, FX_USER_PIN);
        rv[SIGN] = t->f->C_SignInit(session, &ecdsa, 0x4242);
        rv[DIGEST] = t->f->C_DigestInit(session, &sha);
        rv[FINAL] = t->f->C_Finalize(NULL_PTR);
    }
    char *log = fx_stderr_end(t);
    assert_rv(rv[INIT], CKR_OK);
    assert_rv(rv[OPEN], CKR_OK);
    assert_rv(rv[WRONG], CKR_PIN_INCORRECT);
    assert_rv(rv[RIGHT], CKR_OK);
    assert_rv(rv[SIGN], CKR_KEY_HANDLE_INVALID);
    assert_rv(rv[DIGEST], CKR_OK);
    assert_rv(rv[FINAL], CKR_OK);
    return log;
}

static void assert_line(const char *log, const char *line)
{
    if (!strstr(log, line))
        fail_msg("no \"%s\" in the trace:\n%s", line, log);
}

/* The start of the line of call with session handle h: "C_Foo(session=0x2". */
static void assert_call(const char *log, const char *call, const char *rest)
{
    char line[256];
    snprintf(line, sizeof(line), "softse: debug: %s(", call);
    const char *at = strstr(log, line);
    if (!at)
        fail_msg("%s is not traced:\n%s", call, log);
    for (; at; at = strstr(at + 1, line)) {
        const char *end = strchr(at, '\n');
        size_t len = end ? (size_t)(end - at) : strlen(at);
        char found[512];
        snprintf(found, sizeof(found), "%.*s", (int)len, at);
        if (strstr(found, rest))
            return;
    }
    fail_msg("no %s line with \"%s\":\n%s", call, rest, log);
}

static void trace_from_the_environment(void **state)
{
    fx *t = *state;
    setenv("SOFTSE_TRACE", "1", 1);
    char *log = traced_sequence(t);
    unsetenv("SOFTSE_TRACE");

    assert_line(log, "softse: debug: C_Initialize(args=(nil)) = CKR_OK");
    assert_call(log, "C_OpenSession", "flags=0x6 -> session=0x");
    assert_call(log, "C_OpenSession", ") = CKR_OK");
    assert_call(log, "C_Login", ", user=1) = CKR_PIN_INCORRECT");
    assert_call(log, "C_Login", ", user=1) = CKR_OK");
    assert_call(log, "C_SignInit",
                ", mechanism=CKM_ECDSA_SHA256, key=0x4242) = CKR_KEY_HANDLE_INVALID");
    assert_call(log, "C_DigestInit", ", mechanism=CKM_SHA256) = CKR_OK");
    assert_line(log, "softse: debug: C_Finalize() = CKR_OK");
    /* no PIN is ever traced */
    assert_null(strstr(log, WRONG_PIN));
    assert_null(strstr(log, FX_USER_PIN));
    assert_null(strstr(log, FX_SO_PIN));
    free(log);
}

static void trace_from_the_configuration(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 16];
    snprintf(path, sizeof(path), "%s/softse.conf", t->root);
    FILE *conf = fopen(path, "w");
    assert_non_null(conf);
    fputs("trace = on\n", conf);
    fclose(conf);
    setenv("SOFTSE_CONF", path, 1);
    char *log = traced_sequence(t);
    unsetenv("SOFTSE_CONF");
    assert_call(log, "C_Login", ") = CKR_PIN_INCORRECT");
    assert_call(log, "C_SignInit", "mechanism=CKM_ECDSA_SHA256");
    free(log);
}

/* Off (the default), and off again after a traced run: not one line. */
static void no_trace_when_off(void **state)
{
    fx *t = *state;
    setenv("SOFTSE_TRACE", "1", 1);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    unsetenv("SOFTSE_TRACE");
    char *log = traced_sequence(t);
    if (strstr(log, "C_"))
        fail_msg("traced while off:\n%s", log);
    free(log);
    /* SOFTSE_TRACE=0 is off too */
    setenv("SOFTSE_TRACE", "0", 1);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    fx_stderr_begin(t);
    CK_INFO info;
    assert_rv(t->f->C_GetInfo(&info), CKR_OK);
    log = fx_stderr_end(t);
    unsetenv("SOFTSE_TRACE");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_null(strstr(log, "C_GetInfo"));
    free(log);
}

int main(void)
{
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(trace_from_the_environment, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(trace_from_the_configuration, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(no_trace_when_off, fx_setup_env, fx_teardown),
    };
    return cmocka_run_group_tests_name("trace", tests, NULL, NULL);
}
