/* object.c / seal.c: objects at rest, sealing, lookup, tampering. */
#include "fixture.h"
#include "test_light.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SECRET_VALUE "KEYBYTES-7f3a9c1e-do-not-store-in-clear"
#define PRIVATE_LABEL "private-label-Obsidian"

static const CK_OBJECT_CLASS data_class = CKO_DATA;

static tok_attr attr(CK_ATTRIBUTE_TYPE type, const void *value, size_t len, unsigned flags)
{
    tok_attr a = {type, (unsigned char *)value, len, flags};
    return a;
}

static const tok_attr *find_attr(const tok_attr *attrs, size_t count, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < count; i++)
        if (attrs[i].type == type)
            return &attrs[i];
    return NULL;
}

static tok_id create(fixture *f, bool is_private, const char *id, const char *label)
{
    tok_attr attrs[] = {
        attr(CKA_CLASS, &data_class, sizeof(data_class), TOK_ATTR_LOOKUP),
        attr(CKA_ID, id, strlen(id), TOK_ATTR_LOOKUP),
        attr(CKA_LABEL, label, strlen(label), TOK_ATTR_LOOKUP),
        attr(CKA_VALUE, SECRET_VALUE, strlen(SECRET_VALUE), TOK_ATTR_SECRET),
        attr(CKA_APPLICATION, "", 0, 0),
    };
    tok_id object;
    assert_int_equal(tok_object_create(f->t, &f->user_keys, is_private, attrs, ARRAY_SIZE(attrs),
                                       "test object", &object),
                     CKR_OK);
    return object;
}

static void public_object(void **state)
{
    fixture *f = *state;
    tok_id id = create(f, false, "pub-1", "public label");
    bool is_private = true;
    tok_attr *attrs;
    size_t count;
    assert_int_equal(tok_object_load(f->t, &f->user_keys, id, &is_private, &attrs, &count), CKR_OK);
    assert_false(is_private);
    assert_int_equal(count, 5);
    const tok_attr *value = find_attr(attrs, count, CKA_VALUE);
    assert_non_null(value);
    assert_int_equal(value->len, strlen(SECRET_VALUE));
    assert_memory_equal(value->value, SECRET_VALUE, value->len);
    assert_int_equal(value->flags, TOK_ATTR_SECRET);
    const tok_attr *label = find_attr(attrs, count, CKA_LABEL);
    assert_memory_equal(label->value, "public label", 12);
    assert_int_equal(label->flags, TOK_ATTR_LOOKUP);
    assert_int_equal(find_attr(attrs, count, CKA_APPLICATION)->len, 0);
    tok_attrs_free(attrs, count);

    /* Without keys: the secret attribute is locked, the rest readable. */
    assert_int_equal(tok_object_load(f->t, NULL, id, &is_private, &attrs, &count), CKR_OK);
    value = find_attr(attrs, count, CKA_VALUE);
    assert_true(value->flags & TOK_ATTR_LOCKED);
    assert_null(value->value);
    label = find_attr(attrs, count, CKA_LABEL);
    assert_memory_equal(label->value, "public label", 12);
    tok_attrs_free(attrs, count);

    /* Creating without keys: fine for clear attributes only. */
    tok_attr plain = attr(CKA_LABEL, "x", 1, TOK_ATTR_LOOKUP);
    tok_attr secret = attr(CKA_VALUE, "x", 1, TOK_ATTR_SECRET);
    tok_id other;
    assert_int_equal(tok_object_create(f->t, NULL, false, &plain, 1, NULL, &other), CKR_OK);
    assert_int_equal(tok_object_create(f->t, NULL, false, &secret, 1, NULL, &other),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tok_object_create(f->t, NULL, true, &plain, 1, NULL, &other),
                     CKR_USER_NOT_LOGGED_IN);
    tok_attr duplicate[] = {plain, plain};
    assert_int_equal(tok_object_create(f->t, NULL, false, duplicate, 2, NULL, &other),
                     CKR_TEMPLATE_INCONSISTENT);
    tok_attr bad = attr(CKA_LABEL, NULL, 3, 0);
    assert_int_equal(tok_object_create(f->t, NULL, false, &bad, 1, NULL, &other),
                     CKR_ARGUMENTS_BAD);
}

static void private_object(void **state)
{
    fixture *f = *state;
    tok_id id = create(f, true, "priv-1", PRIVATE_LABEL);
    bool is_private = false;
    tok_attr *attrs;
    size_t count;
    assert_int_equal(tok_object_load(f->t, NULL, id, &is_private, &attrs, &count),
                     CKR_USER_NOT_LOGGED_IN);
    /* The SO's keys are the same token keys. */
    assert_int_equal(tok_object_load(f->t, &f->so_keys, id, &is_private, &attrs, &count), CKR_OK);
    assert_true(is_private);
    assert_int_equal(count, 5);
    const tok_attr *label = find_attr(attrs, count, CKA_LABEL);
    assert_int_equal(label->len, strlen(PRIVATE_LABEL));
    assert_memory_equal(label->value, PRIVATE_LABEL, label->len);
    assert_memory_equal(find_attr(attrs, count, CKA_CLASS)->value, &data_class, sizeof(data_class));
    tok_attrs_free(attrs, count);
    assert_int_equal(tok_object_load(f->t, NULL, id + 1000, &is_private, &attrs, &count),
                     CKR_OBJECT_HANDLE_INVALID);
}

static void update_and_destroy(void **state)
{
    fixture *f = *state;
    tok_id id = create(f, false, "upd-1", "before");
    tok_attr replaced[] = {
        attr(CKA_CLASS, &data_class, sizeof(data_class), TOK_ATTR_LOOKUP),
        attr(CKA_LABEL, "after", 5, TOK_ATTR_LOOKUP),
    };
    /* Public to private: the whole set is replaced and sealed. */
    assert_int_equal(tok_object_update(f->t, NULL, id, true, replaced, 2, "relabel"),
                     CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(tok_object_update(f->t, &f->user_keys, id, true, replaced, 2, "relabel"),
                     CKR_OK);
    bool is_private;
    tok_attr *attrs;
    size_t count;
    assert_int_equal(tok_object_load(f->t, &f->user_keys, id, &is_private, &attrs, &count), CKR_OK);
    assert_true(is_private);
    assert_int_equal(count, 2);
    assert_null(find_attr(attrs, count, CKA_VALUE));
    assert_memory_equal(find_attr(attrs, count, CKA_LABEL)->value, "after", 5);
    tok_attrs_free(attrs, count);

    tok_attr before = attr(CKA_LABEL, "before", 6, 0);
    tok_attr after = attr(CKA_LABEL, "after", 5, 0);
    tok_id *ids = NULL;
    size_t found = 9;
    assert_int_equal(tok_object_find(f->t, &f->user_keys, &before, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);
    assert_int_equal(tok_object_find(f->t, &f->user_keys, &after, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], id);
    free(ids);
    assert_int_equal(tok_object_find(f->t, NULL, &after, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);

    assert_int_equal(tok_object_update(f->t, &f->user_keys, id + 77, true, replaced, 2, NULL),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tok_object_destroy(f->t, id, "gone"), CKR_OK);
    assert_int_equal(tok_object_load(f->t, &f->user_keys, id, &is_private, &attrs, &count),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tok_object_destroy(f->t, id, "again"), CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tok_object_update(f->t, &f->user_keys, id, false, replaced, 2, NULL),
                     CKR_OBJECT_HANDLE_INVALID);
    assert_int_equal(tok_object_find(f->t, &f->user_keys, &after, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);
    tok_id next = create(f, false, "upd-2", "next");
    assert_true(next > id);
}

static void find(void **state)
{
    fixture *f = *state;
    tok_id pub_a = create(f, false, "A", "shared");
    tok_id priv_a = create(f, true, "A", "shared");
    tok_id pub_b = create(f, false, "B", "shared");
    tok_id priv_b = create(f, true, "B", "other");
    char long_value[300];
    memset(long_value, 'L', sizeof(long_value));
    tok_attr long_attr = attr(CKA_SUBJECT, long_value, sizeof(long_value), TOK_ATTR_LOOKUP);
    tok_id pub_long;
    assert_int_equal(tok_object_create(f->t, NULL, false, &long_attr, 1, NULL, &pub_long), CKR_OK);

    tok_attr by_id = attr(CKA_ID, "A", 1, 0);
    tok_attr by_label = attr(CKA_LABEL, "shared", 6, 0);
    tok_attr by_secret = attr(CKA_VALUE, SECRET_VALUE, strlen(SECRET_VALUE), 0);
    tok_id *ids = NULL;
    size_t found = 0;

    assert_int_equal(tok_object_find(f->t, &f->user_keys, &by_id, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 2);
    assert_int_equal(ids[0], pub_a);
    assert_int_equal(ids[1], priv_a);
    free(ids);
    assert_int_equal(tok_object_find(f->t, NULL, &by_id, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], pub_a);
    free(ids);

    tok_attr two[] = {by_label, attr(CKA_ID, "B", 1, 0)};
    assert_int_equal(tok_object_find(f->t, &f->user_keys, two, 2, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], pub_b);
    free(ids);
    tok_attr three[] = {by_label, by_id, attr(CKA_CLASS, &data_class, sizeof(data_class), 0)};
    assert_int_equal(tok_object_find(f->t, &f->user_keys, three, 3, &ids, &found), CKR_OK);
    assert_int_equal(found, 2);
    free(ids);
    assert_int_equal(tok_object_find(f->t, NULL, three, 3, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], pub_a);
    free(ids);

    /* Not a LOOKUP attribute: never indexed. */
    assert_int_equal(tok_object_find(f->t, &f->user_keys, &by_secret, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);
    assert_null(ids);

    /* Long values are indexed by digest and still found. */
    assert_int_equal(tok_object_find(f->t, NULL, &long_attr, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], pub_long);
    free(ids);
    long_value[299] = 'M';
    assert_int_equal(tok_object_find(f->t, NULL, &long_attr, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 0);

    /* An empty match lists everything (public only without keys). */
    assert_int_equal(tok_object_find(f->t, &f->user_keys, NULL, 0, &ids, &found), CKR_OK);
    assert_int_equal(found, 5);
    free(ids);
    assert_int_equal(tok_object_find(f->t, NULL, NULL, 0, &ids, &found), CKR_OK);
    assert_int_equal(found, 3);
    assert_int_equal(ids[0], pub_a);
    assert_int_equal(ids[1], pub_b);
    assert_int_equal(ids[2], pub_long);
    free(ids);
    (void)priv_b;

    /* More match attributes than the statement cache holds. */
    tok_attr many[TOK_FIND_CACHED + 2];
    for (size_t i = 0; i < ARRAY_SIZE(many); i++)
        many[i] = by_id;
    assert_int_equal(tok_object_find(f->t, &f->user_keys, many, ARRAY_SIZE(many), &ids, &found),
                     CKR_OK);
    assert_int_equal(found, 2);
    free(ids);
}

/* No secret, PIN or key byte in clear in any file of the token. */
static void nothing_in_clear(void **state)
{
    fixture *f = *state;
    create(f, true, "c-1", PRIVATE_LABEL);
    create(f, false, "c-2", "visible label");
    char path[PATH_MAX], wal[PATH_MAX + 8], shm[PATH_MAX + 8];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    for (int round = 0; round < 2; round++) {
        const char *files[] = {path, wal, shm};
        bool seen_public = false;
        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
            assert_false(fixture_file_contains(files[i], SECRET_VALUE, strlen(SECRET_VALUE)));
            assert_false(fixture_file_contains(files[i], PRIVATE_LABEL, strlen(PRIVATE_LABEL)));
            assert_false(fixture_file_contains(files[i], SO_PIN, strlen(SO_PIN)));
            assert_false(fixture_file_contains(files[i], USER_PIN, strlen(USER_PIN)));
            assert_false(fixture_file_contains(files[i], f->user_keys.master, TOK_MASTER_KEY_LEN));
            assert_false(fixture_file_contains(files[i], f->user_keys.enc, 32));
            assert_false(fixture_file_contains(files[i], f->user_keys.index, 32));
            assert_false(fixture_file_contains(files[i], f->user_keys.master, 8));
            seen_public |= fixture_file_contains(files[i], "visible label", 13);
        }
        /* The scan does see clear data: the public label is there. */
        assert_true(seen_public);
        /* Round two: after close, everything checkpointed into the main file. */
        tok_close(f->t);
        f->t = NULL;
        if (round == 0)
            assert_int_equal(tok_open(path, &f->t), CKR_OK);
    }
}

static sqlite3_int64 row_count(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    sqlite3_int64 n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

/* Reads a stored blob, lets edit change it, and writes it to (object, type). */
static void move_blob(const char *path, tok_id from, CK_ATTRIBUTE_TYPE from_type, tok_id to,
                      CK_ATTRIBUTE_TYPE to_type, size_t flip)
{
    sqlite3 *db = fixture_raw(path);
    sqlite3_stmt *s;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT value FROM attribute WHERE object = ?1 AND type = ?2", -1,
                           &s, NULL),
        SQLITE_OK);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)from);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)from_type);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    size_t len = (size_t)sqlite3_column_bytes(s, 0);
    unsigned char *blob = malloc(len);
    memcpy(blob, sqlite3_column_blob(s, 0), len);
    sqlite3_finalize(s);
    if (flip < len)
        blob[flip] ^= 0x01;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "UPDATE attribute SET value = ?3"
                                        " WHERE object = ?1 AND type = ?2",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int64(s, 1, (sqlite3_int64)to);
    sqlite3_bind_int64(s, 2, (sqlite3_int64)to_type);
    sqlite3_bind_blob(s, 3, blob, (int)len, SQLITE_TRANSIENT);
    assert_int_equal(sqlite3_step(s), SQLITE_DONE);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_finalize(s);
    free(blob);
    sqlite3_close(db);
}

static void expect_load(fixture *f, tok_id id, CK_RV expected)
{
    bool is_private;
    tok_attr *attrs = NULL;
    size_t count = 0;
    assert_int_equal(tok_object_load(f->t, &f->user_keys, id, &is_private, &attrs, &count),
                     expected);
    if (expected == CKR_OK)
        tok_attrs_free(attrs, count);
}

static void tampering_detected(void **state)
{
    fixture *f = *state;
    const char *path = tok_path(f->t);
    tok_id a = create(f, true, "t-a", "a");
    tok_id b = create(f, true, "t-b", "b");
    tok_id c = create(f, false, "t-c", "c");
    tok_id d = create(f, false, "t-d", "d");
    expect_load(f, a, CKR_OK);

    /* One ciphertext byte changed (past the 12-byte nonce). */
    move_blob(path, a, CKA_VALUE, a, CKA_VALUE, TOK_NONCE_LEN + 2);
    expect_load(f, a, CKR_DEVICE_ERROR);
    /* A valid blob moved to another object, or to another attribute. */
    move_blob(path, b, CKA_VALUE, c, CKA_VALUE, SIZE_MAX);
    expect_load(f, c, CKR_DEVICE_ERROR);
    move_blob(path, b, CKA_VALUE, b, CKA_LABEL, SIZE_MAX);
    expect_load(f, b, CKR_DEVICE_ERROR);
    /* The private flag flipped: the AAD binds it. */
    sqlite3 *db = fixture_raw(path);
    char sql[128];
    snprintf(sql, sizeof(sql), "UPDATE object SET private = 1 WHERE id = %llu",
             (unsigned long long)d);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    expect_load(f, d, CKR_DEVICE_ERROR);
    /* A clear row slipped into a private object. */
    tok_id e = create(f, true, "t-e", "e");
    snprintf(sql, sizeof(sql), "INSERT INTO attribute VALUES (%llu, %lu, 0, 0, x'41')",
             (unsigned long long)e, (unsigned long)CKA_START_DATE);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    expect_load(f, e, CKR_DEVICE_ERROR);
    assert_true(row_count(db, "SELECT count(*) FROM attribute") > 0);
    sqlite3_close(db);
}

/* find stays an index search whatever the number of objects. */
static void find_uses_index(void **state)
{
    fixture *f = *state;
    /* Enough rows that a scan would show in the timing; the query plan
     * below proves the index whatever the count. */
    const int OBJECTS = test_count(20000, 2000);
    /* Test speed only: the store itself always runs synchronous=FULL. */
    assert_int_equal(sqlite3_exec(f->t->db, "PRAGMA synchronous = OFF", NULL, NULL, NULL),
                     SQLITE_OK);
    for (int i = 0; i < OBJECTS; i++) {
        char id[16];
        snprintf(id, sizeof(id), "obj-%05d", i);
        tok_attr attrs[] = {
            attr(CKA_CLASS, &data_class, sizeof(data_class), TOK_ATTR_LOOKUP),
            attr(CKA_ID, id, strlen(id), TOK_ATTR_LOOKUP),
            attr(CKA_VALUE, "v", 1, TOK_ATTR_SECRET),
        };
        tok_id object;
        assert_int_equal(
            tok_object_create(f->t, &f->user_keys, i % 2 == 0, attrs, 3, NULL, &object), CKR_OK);
    }
    char wanted[16]; /* one object well inside the range */
    snprintf(wanted, sizeof(wanted), "obj-%05d", OBJECTS * 3 / 5 + 45);
    tok_attr match[] = {
        attr(CKA_CLASS, &data_class, sizeof(data_class), 0),
        attr(CKA_ID, wanted, strlen(wanted), 0),
    };
    tok_id *ids = NULL;
    size_t found = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 100; i++) {
        /* CKA_CLASS matches every object; CKA_ID one: the search follows CKA_ID. */
        assert_int_equal(tok_object_find(f->t, &f->user_keys, match, 2, &ids, &found), CKR_OK);
        assert_int_equal(found, 1);
        free(ids);
    }
    clock_gettime(CLOCK_MONOTONIC, &end);
    double ms =
        (double)(end.tv_sec - start.tv_sec) * 1e3 + (double)(end.tv_nsec - start.tv_nsec) / 1e6;
    print_message("100 finds by CKA_CLASS + CKA_ID over %d objects: %.1f ms\n", OBJECTS, ms);
    /* Generous bound (sanitizers, valgrind, loaded CI): a scan of the
     * CKA_CLASS rows would take far longer. */
    assert_true(ms < 2000);
    tok_attr reversed[] = {match[1], match[0]};
    assert_int_equal(tok_object_find(f->t, &f->user_keys, reversed, 2, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    free(ids);
    assert_int_equal(tok_object_find(f->t, NULL, match, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, OBJECTS / 2);
    free(ids);

    for (size_t count = 1; count <= 3; count++) {
        for (int with_keys = 0; with_keys < 2; with_keys++) {
            char *sql = tok_find_sql(count, with_keys);
            char *explain = sqlite3_mprintf("EXPLAIN QUERY PLAN %s", sql);
            sqlite3_stmt *s;
            assert_int_equal(sqlite3_prepare_v2(f->t->db, explain, -1, &s, NULL), SQLITE_OK);
            int searches = 0;
            while (sqlite3_step(s) == SQLITE_ROW) {
                const char *detail = (const char *)sqlite3_column_text(s, 3);
                /* "SEARCH lookup USING PRIMARY KEY (type=? AND key=?)" for the
                 * driver, "… (type=? AND key=? AND object=?)" for each probe. */
                assert_null(strstr(detail, "SCAN"));
                if (strncmp(detail, "SEARCH", 6) != 0)
                    continue;
                assert_true(strstr(detail, "PRIMARY KEY") || strstr(detail, "INDEX"));
                if (searches > 0)
                    assert_non_null(strstr(detail, "object=?"));
                searches++;
            }
            assert_int_equal(searches, (int)count);
            sqlite3_finalize(s);
            sqlite3_free(explain);
            sqlite3_free(sql);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(public_object, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(private_object, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(update_and_destroy, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(find, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(nothing_in_clear, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(tampering_detected, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(find_uses_index, fixture_setup_token, fixture_teardown),
    };
    return cmocka_run_group_tests_name("store objects", tests, NULL, NULL);
}
