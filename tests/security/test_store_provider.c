/*
 * test_store_provider.c — the root-of-trust providers seen through
 * PKCS#11 (README, "Security model"; docs/spec.md, "The device root of
 * trust"): a token is bound to the provider and the device root key (DRK)
 * it was made under, and under "tpm" the DRK is a TPM key and the
 * version counters are TPM NV counters.
 *
 * The provider is chosen at C_Initialize from SOFTSE_ROT_PROVIDER,
 * SOFTSE_ROT_DIR and SOFTSE_ROT_TCTI.  The "tpm" cases run against a
 * software TPM (swtpm) the test starts: one for the whole group, a second
 * one with a fresh state for the "another TPM" case.  They are skipped
 * when swtpm is not installed (or the build has no TPM support).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sec_common.h"
#include "swtpm_fixture.h"

#include <cmocka.h>

/* The first NV index of softse's counters (tokens/rot_tpm.c). */
#define NV_COUNTER_FIRST 0x01534500
#define NV_COUNTER_COUNT 0x100

static swtpm_fixture tpm; /* the group's TPM (group_setup) */

static int group_setup(void **state)
{
    (void)state;
#ifdef SOFTSE_HAVE_TPM
    if (!swtpm_available())
        return 0; /* the tpm cases skip */
    return swtpm_start(&tpm) ? 0 : -1;
#else
    return 0;
#endif
}

static int group_teardown(void **state)
{
    (void)state;
    if (tpm.dir[0])
        swtpm_stop(&tpm);
    return 0;
}

static void need_swtpm(void)
{
#ifndef SOFTSE_HAVE_TPM
    print_message("this build has no TPM support (tpm2-tss not found): skipped\n");
    skip();
#endif
    if (!tpm.pid) {
        print_message("swtpm is not installed (package swtpm): skipped\n");
        skip();
    }
}

/* ---- configuration ----------------------------------------------------- */

/* Every provider of a test shares the test's rot dir (t->root/rot, from
 * sec_setup_env): only the provider (and the TCTI) changes, as when an
 * administrator edits rot_provider. */
static void use_file(void)
{
    unsetenv("SOFTSE_ROT_PROVIDER");
    unsetenv("SOFTSE_ROT_TCTI");
}

static void use_tpm(const char *tcti)
{
    setenv("SOFTSE_ROT_PROVIDER", "tpm", 1);
    setenv("SOFTSE_ROT_TCTI", tcti, 1);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* C_Initialize with stderr captured: the module's log (free it). */
static char *initialize_captured(fx *t, CK_RV *rv)
{
    fx_stderr_begin(t);
    *rv = t->f->C_Initialize(NULL_PTR);
    return fx_stderr_end(t);
}

/* The line of log holding needle (a copy; free it), or NULL. */
static char *log_line(const char *log, const char *needle)
{
    const char *hit = strstr(log, needle);
    if (!hit)
        return NULL;
    const char *start = hit, *end = strchr(hit, '\n');
    while (start > log && start[-1] != '\n')
        start--;
    return strndup(start, end ? (size_t)(end - start) : strlen(start));
}

/* C_Initialize under the current configuration: the token `label` is not
 * listed and one line of the log holds every needle.  The module stays
 * initialized. */
static void assert_refused(fx *t, const char *label, const char *const *needles, size_t count)
{
    CK_RV rv;
    char *log = initialize_captured(t, &rv);
    assert_rv(rv, CKR_OK);
    bool listed = sec_token_listed(label);
    char *line = log_line(log, needles[0]);
    bool all = line != NULL;
    for (size_t i = 1; all && i < count; i++)
        all = strstr(line, needles[i]) != NULL;
    if (listed || !all)
        fprintf(stderr, "log:\n%s", log);
    if (listed)
        fail_msg("token \"%s\" is listed under the wrong root of trust", label);
    if (!all)
        fail_msg("no line of the log holds \"%s\" and the other expected words", needles[0]);
    free(line);
    free(log);
}

/* A token `label` with both PINs, made under the current configuration
 * (module finalized before and after). */
static void make_token(fx *t, const char *label)
{
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    (void)fx_new_token(label);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* The usable path: listed, a session, the user logs in; then finalized. */
static void assert_usable_then_finalize(fx *t, const char *label)
{
    CK_SESSION_HANDLE s = sec_assert_usable(label, FX_USER_PIN);
    assert_rv(t->f->C_Logout(s), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* ---- 1. a store made under one provider, opened under the other ------- */

/* Property (docs): "A store created under one provider refuses to open
 * under another with a clear message" — made under file, opened under tpm:
 * not listed, and one log line names both providers; configured back to
 * file, the token is usable (the refusal changed nothing in the file). */
static void file_token_refused_under_tpm(void **state)
{
    fx *t = *state;
    need_swtpm();
    use_file();
    make_token(t, "made-under-file");

    use_tpm(tpm.tcti);
    static const char *const needles[] = {"was made under the root of trust", "\"file\"",
                                          "\"tpm\""};
    assert_refused(t, "made-under-file", needles, 3);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    use_file();
    assert_usable_then_finalize(t, "made-under-file");
}

/* Same property, the other way: made under tpm, opened under file. */
static void tpm_token_refused_under_file(void **state)
{
    fx *t = *state;
    need_swtpm();
    use_tpm(tpm.tcti);
    make_token(t, "made-under-tpm");

    use_file();
    static const char *const needles[] = {"was made under the root of trust", "\"tpm\"",
                                          "\"file\""};
    assert_refused(t, "made-under-tpm", needles, 3);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    use_tpm(tpm.tcti);
    assert_usable_then_finalize(t, "made-under-tpm");
}

/* ---- 2. a full round trip under tpm -------------------------------------- */

static const unsigned char plaintext[] = "a secret element keeps its keys inside";

static CK_OBJECT_HANDLE generate_aes256(CK_SESSION_HANDLE s, const char *label)
{
    CK_MECHANISM gen = {CKM_AES_KEY_GEN, NULL_PTR, 0};
    CK_ULONG len = 32;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_GenerateKey(s, &gen, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &key),
              CKR_OK);
    return key;
}

/* Property (tpm): "the DRK never leaves the TPM; counters are NV
 * counters" — a token made, keyed and used under tpm survives C_Finalize /
 * C_Initialize (same TPM, still running): the key decrypts what it
 * encrypted before.  The rot dir holds no DRK file and no counter files
 * (only the lock), and the token's counter is an NV index of softse's
 * range.  Prints the open and login times under swtpm. */
static void tpm_round_trip(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    need_swtpm();
    use_tpm(tpm.tcti);

    double t0 = now_ms();
    assert_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    double t_init_empty = now_ms() - t0;
    CK_SLOT_ID blank = fx_blank_slot();
    t0 = now_ms();
    assert_rv(fx_init_token(blank, FX_SO_PIN, "round-trip"), CKR_OK);
    double t_inittoken = now_ms() - t0;
    assert_rv(fx_init_user_pin(blank, FX_SO_PIN, FX_USER_PIN), CKR_OK);
    CK_SLOT_ID slot = fx_slot_by_label("round-trip");
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(slot, true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
    CK_OBJECT_HANDLE key = generate_aes256(s, "tpm-aes");

    unsigned char iv[16] = {7, 6, 5, 4, 3, 2, 1};
    CK_MECHANISM cbc = {CKM_AES_CBC_PAD, iv, sizeof(iv)};
    unsigned char cipher[sizeof(plaintext) + 16];
    CK_ULONG cipher_len = sizeof(cipher);
    assert_rv(f->C_EncryptInit(s, &cbc, key), CKR_OK);
    assert_rv(f->C_Encrypt(s, (CK_BYTE_PTR)plaintext, sizeof(plaintext), cipher, &cipher_len),
              CKR_OK);
    assert_true(cipher_len > sizeof(plaintext));
    char path[PATH_MAX + 64];
    sec_token_path(t, slot, path, sizeof(path));
    assert_rv(f->C_Finalize(NULL_PTR), CKR_OK);

    /* Where the root of trust lives: nothing of it in the rot dir but the
     * lock; the token's counter is one of the TPM's NV indices. */
    char rot[PATH_MAX + 64];
    struct stat st;
    snprintf(rot, sizeof(rot), "%s/rot/drk", t->root);
    assert_int_not_equal(stat(rot, &st), 0);
    snprintf(rot, sizeof(rot), "%s/rot/counters", t->root);
    assert_int_not_equal(stat(rot, &st), 0);
    sqlite3_int64 nv = sec_sql_int(path, "SELECT counter_id FROM token");
    assert_in_range(nv, NV_COUNTER_FIRST, NV_COUNTER_FIRST + NV_COUNTER_COUNT - 1);
    sqlite3_int64 stored_rot = sec_sql_int(path, "SELECT rot = 'tpm' FROM token");
    assert_int_equal(stored_rot, 1);
    sqlite3_int64 version = sec_sql_int(path, "SELECT version FROM token");

    /* The same TPM, a new C_Initialize. */
    t0 = now_ms();
    assert_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    double t_open = now_ms() - t0;
    assert_true(sec_token_listed("round-trip"));
    assert_rv(fx_open(fx_slot_by_label("round-trip"), true, &s), CKR_OK);
    t0 = now_ms();
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
    double t_login = now_ms() - t0;
    key = sec_find_one(s, "tpm-aes");
    assert_true(fx_get_bool(s, key, CKA_SENSITIVE));
    unsigned char value[32];
    CK_ATTRIBUTE a = {CKA_VALUE, value, sizeof(value)};
    assert_rv(f->C_GetAttributeValue(s, key, &a, 1), CKR_ATTRIBUTE_SENSITIVE);

    unsigned char decrypted[sizeof(cipher)];
    CK_ULONG decrypted_len = sizeof(decrypted);
    assert_rv(f->C_DecryptInit(s, &cbc, key), CKR_OK);
    assert_rv(f->C_Decrypt(s, cipher, cipher_len, decrypted, &decrypted_len), CKR_OK);
    assert_int_equal(decrypted_len, sizeof(plaintext));
    assert_memory_equal(decrypted, plaintext, sizeof(plaintext));

    /* A wrong PIN is an event: the token's version (which its NV counter
     * follows) rises. */
    assert_rv(f->C_Logout(s), CKR_OK);
    t0 = now_ms();
    assert_rv(fx_login(s, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    double t_bad_login = now_ms() - t0;
    assert_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    assert_true(sec_sql_int(path, "SELECT version FROM token") > version);

    print_message("timings under swtpm: C_Initialize (empty store) %.1f ms, C_InitToken %.1f "
                  "ms, C_Initialize (one token) %.1f ms, C_Login %.1f ms, failed C_Login %.1f "
                  "ms\n",
                  t_init_empty, t_inittoken, t_open, t_login, t_bad_login);
}

/* ---- 3. rollback under tpm ------------------------------------------------ */

/* Property (tpm): "counters are NV counters" — a failed login raises the
 * token's TPM NV counter, so the copy of the file taken before it is
 * refused ("older than its device counter"); the newest file, put back,
 * opens and logs in. */
static void tpm_rollback_refused(void **state)
{
    fx *t = *state;
    need_swtpm();
    use_tpm(tpm.tcti);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_new_token("rollback");
    char path[PATH_MAX + 64], old[PATH_MAX + 64], good[PATH_MAX + 64];
    sec_token_path(t, slot, path, sizeof(path));
    snprintf(old, sizeof(old), "%s/old.sqlite", t->root);
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, old);

    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(fx_slot_by_label("rollback"), true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);

    sec_restore(old, path);
    static const char *const needles[] = {"older than its device counter"};
    assert_refused(t, "rollback", needles, 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_true(fx_token_flags(fx_slot_by_label("rollback")) & CKF_USER_PIN_COUNT_LOW);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_usable_then_finalize(t, "rollback");
}

/* ---- 4. another TPM -------------------------------------------------------- */

/* Property (tpm): "the DRK never leaves the TPM" — the DRK is derived from
 * the TPM's own seed, so another TPM (a fresh swtpm state) has another
 * DRK: a token made under the first is refused ("another device root
 * key") under the second, and usable again under the first. */
static void another_tpm_refused(void **state)
{
    fx *t = *state;
    need_swtpm();
    use_tpm(tpm.tcti);
    make_token(t, "first-tpm");

    swtpm_fixture other = {0};
    assert_true(swtpm_start(&other));
    use_tpm(other.tcti);
    static const char *const needles[] = {"another device root key"};
    assert_refused(t, "first-tpm", needles, 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    swtpm_stop(&other);

    use_tpm(tpm.tcti);
    assert_usable_then_finalize(t, "first-tpm");
}

/* ---- 5. a TPM that cannot be reached --------------------------------------- */

/* How many token files (*.sqlite) the store holds. */
static int store_files(fx *t)
{
    DIR *d = opendir(t->store);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        n += len > 7 && strcmp(e->d_name + len - 7, ".sqlite") == 0;
    }
    closedir(d);
    return n;
}

/* Property (docs): a provider that cannot be reached is a clean error —
 * a TCTI pointing at a closed port makes C_Initialize neither crash nor
 * hang: it succeeds, the token made under tpm is not listed, the log says
 * the TPM cannot be reached, and C_InitToken on the blank slot fails with
 * CKR_DEVICE_ERROR without leaving a token file.  With the TCTI fixed the
 * token is back. */
static void unreachable_tpm_is_a_clean_error(void **state)
{
    fx *t = *state;
    need_swtpm();
    use_tpm(tpm.tcti);
    make_token(t, "reachable");

    char closed[128];
    int port = swtpm_free_port();
    assert_true(port > 0);
    snprintf(closed, sizeof(closed), "swtpm:host=127.0.0.1,port=%d", port);
    use_tpm(closed);
    CK_RV rv;
    double t0 = now_ms();
    char *log = initialize_captured(t, &rv);
    double took = now_ms() - t0;
    if (rv != CKR_OK || !strstr(log, "cannot reach the TPM"))
        fprintf(stderr, "log:\n%s", log);
    assert_rv(rv, CKR_OK);
    assert_non_null(strstr(log, "cannot reach the TPM"));
    free(log);
    assert_false(sec_token_listed("reachable"));
    assert_true(took < 10000);

    fx_stderr_begin(t);
    CK_SLOT_ID blank = fx_blank_slot();
    rv = fx_init_token(blank, FX_SO_PIN, "never-made");
    log = fx_stderr_end(t);
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_false(sec_token_listed("never-made"));
    free(log);
    assert_int_equal(store_files(t), 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    use_tpm(tpm.tcti);
    assert_usable_then_finalize(t, "reachable");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(file_token_refused_under_tpm, sec_setup_env, sec_teardown),
        cmocka_unit_test_setup_teardown(tpm_token_refused_under_file, sec_setup_env, sec_teardown),
        cmocka_unit_test_setup_teardown(tpm_round_trip, sec_setup_env, sec_teardown),
        cmocka_unit_test_setup_teardown(tpm_rollback_refused, sec_setup_env, sec_teardown),
        cmocka_unit_test_setup_teardown(another_tpm_refused, sec_setup_env, sec_teardown),
        cmocka_unit_test_setup_teardown(unreachable_tpm_is_a_clean_error, sec_setup_env,
                                        sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-provider", tests, group_setup,
                                       group_teardown);
}
