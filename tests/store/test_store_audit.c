/* audit.c: the hash-chained audit log. */
#include "fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIN(s) (const CK_UTF8CHAR *)(s), strlen(s)

typedef struct record_log {
    size_t count;
    unsigned long seqs[64];
    char events[64][32];
    char details[64][160];
} record_log;

static void collect(void *ctx, unsigned long seq, const char *time, const char *event,
                    const char *detail)
{
    record_log *log = ctx;
    assert_int_equal(strlen(time), strlen("2024-01-01T00:00:00.000000Z"));
    assert_int_equal(time[strlen(time) - 1], 'Z');
    if (log->count < ARRAY_SIZE(log->seqs)) {
        log->seqs[log->count] = seq;
        snprintf(log->events[log->count], sizeof(log->events[0]), "%s", event);
        snprintf(log->details[log->count], sizeof(log->details[0]), "%s", detail);
    }
    log->count++;
}

static size_t index_of(const record_log *log, const char *event)
{
    for (size_t i = 0; i < log->count; i++)
        if (strcmp(log->events[i], event) == 0)
            return i;
    fail_msg("no audit record \"%s\"", event);
    return 0;
}

static void exec(tok *t, const char *sql)
{
    sqlite3 *db = fixture_raw(tok_path(t));
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* Every change that the store records, in order, and a verifying chain. */
static void chain_records_changes(void **state)
{
    fixture *f = *state;
    tok_keys keys;
    tok_attr label = {CKA_LABEL, (unsigned char *)"audited", 7, TOK_ATTR_LOOKUP};
    tok_id id;
    assert_int_equal(tok_login(f->t, CKU_USER, PIN("wrong user pin"), &keys), CKR_PIN_INCORRECT);
    assert_int_equal(tok_object_create(f->t, &f->user_keys, true, &label, 1, "key generated", &id),
                     CKR_OK);
    assert_int_equal(tok_object_create(f->t, &f->user_keys, true, &label, 1, NULL, &id), CKR_OK);
    assert_int_equal(tok_object_update(f->t, &f->user_keys, id, true, &label, 1, "relabelled"),
                     CKR_OK);
    assert_int_equal(tok_object_destroy(f->t, id, "destroyed by test"), CKR_OK);
    assert_int_equal(tok_set_lifecycle(f->t, SOFTSE_LIFECYCLE_OPERATIONAL, "shipped"), CKR_OK);
    assert_int_equal(tok_audit_append(f->t, "vendor-mechanism", "CKM_SE_GKEA"), CKR_OK);
    assert_int_equal(tok_set_pin(f->t, CKU_USER, PIN(USER_PIN), PIN("another user pin")), CKR_OK);
    char new_label[TOK_LABEL_LEN];
    fixture_label(new_label, "after reinit");
    tok_params params = fixture_params();
    assert_int_equal(tok_reinit(f->t, new_label, PIN(SO_PIN), &params), CKR_OK);

    record_log log = {0};
    unsigned long broken = 99;
    assert_int_equal(tok_audit_verify(f->t, collect, &log, &broken), CKR_OK);
    assert_int_equal(broken, 0);
    const char *expected[] = {"token-created",      "user-pin-initialized", "pin-incorrect",
                              "object-created",     "object-updated",       "object-destroyed",
                              "lifecycle",          "vendor-mechanism",     "pin-changed",
                              "token-reinitialized"};
    assert_int_equal(log.count, ARRAY_SIZE(expected));
    for (size_t i = 0; i < log.count; i++) {
        assert_int_equal(log.seqs[i], i + 1);
        assert_string_equal(log.events[i], expected[i]);
        /* No PIN ever reaches the log. */
        assert_null(strstr(log.details[i], SO_PIN));
        assert_null(strstr(log.details[i], USER_PIN));
        assert_null(strstr(log.details[i], "wrong user pin"));
    }
    assert_non_null(strstr(log.details[index_of(&log, "object-created")], "key generated"));
    assert_non_null(strstr(log.details[index_of(&log, "lifecycle")], "OPERATIONAL"));
    assert_non_null(strstr(log.details[index_of(&log, "lifecycle")], "shipped"));
    assert_non_null(strstr(log.details[index_of(&log, "pin-incorrect")], "user PIN"));
    assert_non_null(strstr(log.details[index_of(&log, "token-reinitialized")], "after reinit"));
    tok_keys_clear(&keys);
}

/* A failed PIN try and its record are one transaction: both or neither. */
static void lock_is_recorded(void **state)
{
    fixture *f = *state;
    tok_keys keys;
    for (int i = 0; i < 10; i++)
        assert_int_equal(tok_login(f->t, CKU_SO, PIN("guess"), &keys), CKR_PIN_INCORRECT);
    assert_int_equal(tok_login(f->t, CKU_SO, PIN(SO_PIN), &keys), CKR_PIN_LOCKED);
    record_log log = {0};
    assert_int_equal(tok_audit_verify(f->t, collect, &log, NULL), CKR_OK);
    size_t incorrect = 0;
    for (size_t i = 0; i < log.count; i++)
        incorrect += strcmp(log.events[i], "pin-incorrect") == 0;
    assert_int_equal(incorrect, 10);
    assert_string_equal(log.events[log.count - 1], "pin-locked");
}

static void edit_breaks_chain(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(tok_audit_append(f->t, "event", "detail"), CKR_OK);
    unsigned long broken = 0;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);

    /* A changed detail: broken exactly at that record. */
    exec(f->t, "UPDATE audit SET detail = 'innocent' WHERE seq = 4");
    record_log log = {0};
    assert_int_equal(tok_audit_verify(f->t, collect, &log, &broken), CKR_DEVICE_ERROR);
    assert_int_equal(broken, 4);
    assert_int_equal(log.count, 7); /* every record is still printed */
    exec(f->t, "UPDATE audit SET detail = 'detail' WHERE seq = 4");
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);

    /* Re-hashing the edited record does not help: the next link breaks. */
    exec(f->t, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 5");
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_DEVICE_ERROR);
    assert_int_equal(broken, 5);
    exec(f->t, "UPDATE audit SET hash = (SELECT prev_hash FROM audit WHERE seq = 6)"
               " WHERE seq = 5");
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);

    /* A removed record: broken at the one after the gap. */
    exec(f->t, "DELETE FROM audit WHERE seq = 3");
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_DEVICE_ERROR);
    assert_int_equal(broken, 4);

    /* Appending still works on a damaged log, and the damage stays visible. */
    assert_int_equal(tok_audit_append(f->t, "after", "damage"), CKR_OK);
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_DEVICE_ERROR);
    assert_int_equal(broken, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(chain_records_changes, fixture_setup_token,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(lock_is_recorded, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(edit_breaks_chain, fixture_setup_token, fixture_teardown),
    };
    return cmocka_run_group_tests_name("store audit", tests, NULL, NULL);
}
