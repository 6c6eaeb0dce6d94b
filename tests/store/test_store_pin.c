/* pin.c: login, retry counters, C_InitPIN, C_SetPIN, re-initialization. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define PIN(s) (const CK_UTF8CHAR *)(s), strlen(s)

static tok_info info_of(tok *t)
{
    tok_info info;
    assert_int_equal(tok_get_info(t, &info), CKR_OK);
    return info;
}

static tok *reopen(tok *t)
{
    char path[PATH_MAX];
    tok *again = NULL;
    snprintf(path, sizeof(path), "%s", tok_path(t));
    tok_close(t);
    assert_int_equal(tok_open(path, &again), CKR_OK);
    return again;
}

static bool keys_empty(const tok_keys *keys)
{
    static const tok_keys zero;
    return memcmp(keys, &zero, sizeof(zero)) == 0;
}

static void login_counts_and_resets(void **state)
{
    fixture *f = *state;
    tok_keys keys;
    tok *t = fixture_create(f, "login");
    assert_int_equal(tok_login(t, CKU_SO, PIN(SO_PIN), &keys), CKR_OK);
    assert_false(keys_empty(&keys));
    assert_memory_not_equal(keys.enc, keys.index, 32);
    tok_keys_clear(&keys);
    assert_true(keys_empty(&keys));

    assert_int_equal(tok_login(t, CKU_SO, PIN("wrong"), &keys), CKR_PIN_INCORRECT);
    assert_true(keys_empty(&keys));
    assert_int_equal(tok_login(t, CKU_SO, PIN(""), &keys), CKR_PIN_INCORRECT);
    assert_int_equal(info_of(t).so_failures, 2);
    /* The counter lives in the store: a restart does not reset it. */
    t = reopen(t);
    assert_int_equal(info_of(t).so_failures, 2);
    assert_int_equal(tok_login(t, CKU_SO, PIN(SO_PIN), &keys), CKR_OK);
    assert_int_equal(info_of(t).so_failures, 0);
    tok_keys_clear(&keys);

    assert_int_equal(tok_login(t, CKU_USER, PIN(USER_PIN), &keys), CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(tok_login(t, CKU_CONTEXT_SPECIFIC, PIN(SO_PIN), &keys), CKR_USER_TYPE_INVALID);
    assert_int_equal(tok_login(t, CKU_SO, NULL, 3, &keys), CKR_ARGUMENTS_BAD);
    tok_close(t);
}

static void lock_at_max(void **state)
{
    fixture *f = *state;
    tok_keys so, user;
    char label[TOK_LABEL_LEN];
    tok_params params = {
        .pin_kdf_iterations = TEST_ITERATIONS, .user_max_failures = 3, .so_max_failures = 2};
    tok *t = NULL;
    fixture_label(label, "locking");
    assert_int_equal(tok_create(f->dir, label, PIN(SO_PIN), &params, &t), CKR_OK);
    assert_int_equal(info_of(t).user_max_failures, 3);
    assert_int_equal(info_of(t).so_max_failures, 2);
    assert_int_equal(tok_login(t, CKU_SO, PIN(SO_PIN), &so), CKR_OK);
    assert_int_equal(tok_init_pin(t, &so, PIN(USER_PIN)), CKR_OK);

    for (int i = 0; i < 3; i++)
        assert_int_equal(tok_login(t, CKU_USER, PIN("1234"), &user), CKR_PIN_INCORRECT);
    /* At the maximum the right PIN is not even tried. */
    assert_int_equal(tok_login(t, CKU_USER, PIN(USER_PIN), &user), CKR_PIN_LOCKED);
    assert_int_equal(info_of(t).user_failures, 3);
    t = reopen(t);
    assert_int_equal(tok_login(t, CKU_USER, PIN(USER_PIN), &user), CKR_PIN_LOCKED);
    assert_int_equal(tok_set_pin(t, CKU_USER, PIN(USER_PIN), PIN("new")), CKR_PIN_LOCKED);
    assert_int_equal(info_of(t).user_failures, 3);

    /* The SO unblocks the user by setting a new user PIN. */
    assert_int_equal(tok_init_pin(t, &so, PIN("fresh user pin")), CKR_OK);
    assert_int_equal(info_of(t).user_failures, 0);
    assert_int_equal(tok_login(t, CKU_USER, PIN(USER_PIN), &user), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(t, CKU_USER, PIN("fresh user pin"), &user), CKR_OK);
    assert_int_equal(info_of(t).user_failures, 0);
    assert_memory_equal(user.master, so.master, TOK_MASTER_KEY_LEN);

    /* A locked SO. */
    assert_int_equal(tok_login(t, CKU_SO, PIN("x"), &so), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(t, CKU_SO, PIN("y"), &so), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(t, CKU_SO, PIN(SO_PIN), &so), CKR_PIN_LOCKED);
    char new_label[TOK_LABEL_LEN];
    fixture_label(new_label, "again");
    assert_int_equal(tok_reinit(t, new_label, PIN(SO_PIN), &params), CKR_PIN_LOCKED);
    tok_keys_clear(&user);
    tok_close(t);
}

static void set_pin(void **state)
{
    fixture *f = *state;
    tok_keys keys;
    assert_int_equal(tok_set_pin(f->t, CKU_USER, PIN("not it"), PIN("new user pin")),
                     CKR_PIN_INCORRECT);
    assert_int_equal(info_of(f->t).user_failures, 1);
    assert_int_equal(tok_set_pin(f->t, CKU_USER, PIN(USER_PIN), PIN("new user pin")), CKR_OK);
    assert_int_equal(info_of(f->t).user_failures, 0);
    assert_int_equal(tok_login(f->t, CKU_USER, PIN(USER_PIN), &keys), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(f->t, CKU_USER, PIN("new user pin"), &keys), CKR_OK);
    /* Same master key: objects stay readable. */
    assert_memory_equal(keys.master, f->user_keys.master, TOK_MASTER_KEY_LEN);
    assert_memory_equal(keys.enc, f->user_keys.enc, 32);

    assert_int_equal(tok_set_pin(f->t, CKU_SO, PIN(SO_PIN), PIN("new so pin")), CKR_OK);
    assert_int_equal(tok_login(f->t, CKU_SO, PIN(SO_PIN), &keys), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(f->t, CKU_SO, PIN("new so pin"), &keys), CKR_OK);
    assert_int_equal(info_of(f->t).so_failures, 0);
    assert_int_equal(tok_set_pin(f->t, 7, PIN(SO_PIN), PIN("x")), CKR_USER_TYPE_INVALID);
    tok_keys_clear(&keys);
}

static void init_pin(void **state)
{
    fixture *f = *state;
    tok_keys so, user;
    tok *t = fixture_create(f, "init pin");
    assert_false(info_of(t).user_pin_initialized);
    assert_int_equal(tok_login(t, CKU_SO, PIN(SO_PIN), &so), CKR_OK);
    assert_int_equal(tok_init_pin(t, &so, PIN(USER_PIN)), CKR_OK);
    assert_true(info_of(t).user_pin_initialized);
    assert_int_equal(tok_login(t, CKU_USER, PIN(USER_PIN), &user), CKR_OK);
    assert_memory_equal(user.master, so.master, TOK_MASTER_KEY_LEN);
    assert_memory_equal(user.index, so.index, 32);
    /* Keys of another token are refused. */
    tok_keys foreign = so;
    foreign.master[0] ^= 1;
    assert_int_equal(tok_init_pin(t, &foreign, PIN("x")), CKR_USER_NOT_LOGGED_IN);
    tok_keys_clear(&so);
    tok_keys_clear(&user);
    tok_close(t);
}

static void reinit(void **state)
{
    fixture *f = *state;
    tok_info before = info_of(f->t);
    CK_OBJECT_CLASS class = CKO_DATA;
    tok_attr attrs[] = {
        {CKA_CLASS, (unsigned char *)&class, sizeof(class), TOK_ATTR_LOOKUP},
        {CKA_VALUE, (unsigned char *)"old secret", 10, TOK_ATTR_SECRET},
    };
    tok_id public_id, private_id;
    assert_int_equal(tok_object_create(f->t, &f->user_keys, false, attrs, 2, NULL, &public_id),
                     CKR_OK);
    assert_int_equal(tok_object_create(f->t, &f->user_keys, true, attrs, 2, NULL, &private_id),
                     CKR_OK);
    assert_int_equal(tok_set_lifecycle(f->t, SOFTSE_LIFECYCLE_OPERATIONAL, NULL), CKR_OK);

    char label[TOK_LABEL_LEN];
    fixture_label(label, "renewed");
    tok_params params = fixture_params();
    assert_int_equal(tok_reinit(f->t, label, PIN("wrong so"), &params), CKR_PIN_INCORRECT);
    assert_int_equal(info_of(f->t).so_failures, 1);
    tok_id *ids = NULL;
    size_t found = 0;
    assert_int_equal(tok_object_find(f->t, &f->user_keys, NULL, 0, &ids, &found), CKR_OK);
    assert_int_equal(found, 2);
    free(ids);

    assert_int_equal(tok_reinit(f->t, label, PIN(SO_PIN), &params), CKR_OK);
    tok_info after = info_of(f->t);
    assert_memory_equal(after.serial, before.serial, TOK_SERIAL_LEN);
    assert_memory_equal(after.label, label, TOK_LABEL_LEN);
    assert_false(after.user_pin_initialized);
    assert_int_equal(after.so_failures, 0);
    assert_int_equal(after.user_failures, 0);
    assert_int_equal(after.lifecycle, SOFTSE_LIFECYCLE_PERSONALIZATION);

    tok_keys keys;
    assert_int_equal(tok_login(f->t, CKU_USER, PIN(USER_PIN), &keys), CKR_USER_PIN_NOT_INITIALIZED);
    assert_int_equal(tok_login(f->t, CKU_SO, PIN(SO_PIN), &keys), CKR_OK);
    assert_memory_not_equal(keys.master, f->so_keys.master, TOK_MASTER_KEY_LEN);
    assert_int_equal(tok_object_find(f->t, &keys, NULL, 0, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);
    assert_null(ids);
    bool is_private;
    tok_attr *loaded;
    size_t count;
    assert_int_equal(tok_object_load(f->t, &keys, public_id, &is_private, &loaded, &count),
                     CKR_OBJECT_HANDLE_INVALID);
    /* Keys from before the re-initialization no longer seal anything. */
    tok_id id;
    assert_int_equal(tok_object_create(f->t, &f->user_keys, true, attrs, 2, NULL, &id),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tok_object_create(f->t, &keys, true, attrs, 2, NULL, &id), CKR_OK);
    assert_true(id > private_id); /* ids are never reused */
    tok_keys_clear(&keys);
}

/* Two processes spending tries at once: BEGIN IMMEDIATE serializes them,
 * so that no failure is lost. */
/* An edited key check value fails the token state's authentication
 * (docs/spec.md, "The device root of trust"): the login is refused and so
 * is every other use, rather than let private objects silently vanish. */
static void altered_key_check(void **state)
{
    fixture *f = *state;
    sqlite3 *raw = fixture_raw(tok_path(f->t));
    assert_int_equal(sqlite3_exec(raw, "UPDATE token SET key_check = zeroblob(32)", NULL, NULL,
                                  NULL),
                     SQLITE_OK);
    sqlite3_close(raw);
    tok_keys keys;
    assert_int_equal(tok_login(f->t, CKU_USER, (const CK_UTF8CHAR *)USER_PIN, strlen(USER_PIN),
                               &keys),
                     CKR_DEVICE_ERROR);
    tok_info info;
    assert_int_equal(tok_get_info(f->t, &info), CKR_DEVICE_ERROR);
}

static void concurrent_failures(void **state)
{
    fixture *f = *state;
    enum { PROCESSES = 3, TRIES = 8 };
    char label[TOK_LABEL_LEN];
    tok_params params = {.pin_kdf_iterations = TEST_ITERATIONS, .so_max_failures = 1000};
    tok *t = NULL;
    fixture_label(label, "race");
    assert_int_equal(tok_create(f->dir, label, PIN(SO_PIN), &params, &t), CKR_OK);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(t));
    tok_close(t);
    pid_t children[PROCESSES];
    for (int p = 0; p < PROCESSES; p++) {
        children[p] = fork();
        assert_true(children[p] >= 0);
        if (children[p] == 0) {
            tok *mine = NULL;
            tok_keys keys;
            int bad = tok_open(path, &mine) != CKR_OK;
            for (int i = 0; i < TRIES && !bad; i++)
                bad = tok_login(mine, CKU_SO, PIN("guess"), &keys) != CKR_PIN_INCORRECT;
            tok_close(mine);
            _exit(bad);
        }
    }
    for (int p = 0; p < PROCESSES; p++) {
        int status = 0;
        assert_int_equal(waitpid(children[p], &status, 0), children[p]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(tok_open(path, &t), CKR_OK);
    assert_int_equal(info_of(t).so_failures, PROCESSES * TRIES);
    unsigned long broken = 0;
    assert_int_equal(tok_audit_verify(t, NULL, NULL, &broken), CKR_OK);
    tok_close(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(login_counts_and_resets, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(lock_at_max, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(set_pin, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(init_pin, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(reinit, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(concurrent_failures, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(altered_key_check, fixture_setup_token, fixture_teardown),
    };
    return cmocka_run_group_tests_name("store PINs", tests, NULL, NULL);
}
