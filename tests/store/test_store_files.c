/* store.c / db.c: token files, scanning, opening, schema checks, lifecycle. */
#include "fixture.h"
#include "open_watch.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void write_file(const char *path, const void *bytes, size_t len)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, len, file), len);
    fclose(file);
}

static void create_and_reopen(void **state)
{
    fixture *f = *state;
    /* The store directory and its parents do not exist yet. */
    snprintf(f->dir, sizeof(f->dir), "%s/home/.local/share/softse", f->root);
    tok *t = fixture_create(f, "first token");
    tok_info info;
    assert_int_equal(tok_get_info(t, &info), CKR_OK);
    for (size_t i = 0; i < TOK_SERIAL_LEN; i++)
        assert_non_null(strchr("0123456789ABCDEF", info.serial[i]));
    assert_memory_equal(info.label, "first token                     ", TOK_LABEL_LEN);
    assert_false(info.user_pin_initialized);
    assert_int_equal(info.lifecycle, SOFTSE_LIFECYCLE_PERSONALIZATION);
    assert_int_equal(info.pin_kdf_iterations, TEST_ITERATIONS);
    assert_int_equal(info.so_max_failures, 10);
    assert_int_equal(info.user_max_failures, 10);
    assert_int_equal(info.so_failures, 0);
    assert_int_equal(info.user_failures, 0);

    char expected[PATH_MAX];
    snprintf(expected, sizeof(expected), "%s/%.16s.sqlite", f->dir, info.serial);
    assert_string_equal(tok_path(t), expected);
    struct stat st;
    assert_int_equal(stat(expected, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(f->dir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    char parent[PATH_MAX];
    snprintf(parent, sizeof(parent), "%s/home/.local", f->root);
    assert_int_equal(stat(parent, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    tok_close(t);

    tok *again = NULL;
    assert_int_equal(tok_open(expected, &again), CKR_OK);
    tok_info info2;
    assert_int_equal(tok_get_info(again, &info2), CKR_OK);
    assert_memory_equal(info2.serial, info.serial, TOK_SERIAL_LEN);
    assert_memory_equal(info2.label, info.label, TOK_LABEL_LEN);
    /* The WAL sidecars are as private as the database. */
    char wal[PATH_MAX + 8];
    tok_attr label = {CKA_LABEL, (unsigned char *)"x", 1, 0};
    tok_id id;
    assert_int_equal(tok_object_create(again, NULL, false, &label, 1, NULL, &id), CKR_OK);
    snprintf(wal, sizeof(wal), "%s-wal", expected);
    assert_int_equal(stat(wal, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    tok_close(again);
}

static void scan_order(void **state)
{
    fixture *f = *state;
    char *created[3];
    for (int i = 0; i < 3; i++) {
        char label[16];
        snprintf(label, sizeof(label), "token %d", i % 10);
        tok *t = fixture_create(f, label);
        created[i] = strdup(tok_path(t));
        tok_close(t);
    }
    /* Sidecars, temporaries and other files are not tokens. */
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s-wal", created[0]);
    write_file(path, "x", 1);
    snprintf(path, sizeof(path), "%s-shm", created[1]);
    write_file(path, "x", 1);
    snprintf(path, sizeof(path), "%s/.0000000000000000.sqlite.new", f->dir);
    write_file(path, "x", 1);
    snprintf(path, sizeof(path), "%s/notes.txt", f->dir);
    write_file(path, "x", 1);
    /* A foreign file named like a token sorts after the real ones. */
    snprintf(path, sizeof(path), "%s/0000000000000000.sqlite", f->dir);
    write_file(path, "not a database", 14);

    for (int round = 0; round < 2; round++) {
        char **paths = NULL;
        size_t count = 0;
        assert_int_equal(tok_scan(f->dir, &paths, &count), CKR_OK);
        assert_int_equal(count, 4);
        for (int i = 0; i < 3; i++)
            assert_string_equal(paths[i], created[i]);
        assert_string_equal(paths[3], path);
        tok_free_paths(paths, count);
    }
    for (int i = 0; i < 3; i++)
        free(created[i]);
}

typedef struct known_files {
    const char *paths[4];
    size_t count;
    size_t asked; /* calls of known_file */
} known_files;

static bool known_file(void *ctx, const char *path)
{
    known_files *known = ctx;
    known->asked++;
    for (size_t i = 0; i < known->count; i++)
        if (strcmp(known->paths[i], path) == 0)
            return true;
    return false;
}

static const char *base_name(const char *path)
{
    return strrchr(path, '/') + 1;
}

/* A rescan that knows the open tokens opens only the new files: the known
 * ones are not even stat'ed (a damaged known file goes unseen). */
static void scan_new_skips_known_files(void **state)
{
    fixture *f = *state;
    char *created[3];
    for (int i = 0; i < 3; i++) {
        tok *t = fixture_create(f, "known or new");
        created[i] = strdup(tok_path(t));
        tok_close(t);
    }
    char foreign[PATH_MAX + 32];
    snprintf(foreign, sizeof(foreign), "%s/0000000000000000.sqlite", f->dir);
    write_file(foreign, "not a database", 14);
    known_files known = {{created[0], created[2], foreign}, 3, 0};

    open_watch watch;
    bool watching = open_watch_start(&watch, f->dir);
    char **paths = NULL;
    size_t count = 0;
    assert_int_equal(tok_scan_new(f->dir, known_file, &known, &paths, &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_string_equal(paths[0], created[1]);
    assert_int_equal(known.asked, 4); /* the token-named files, no sidecar */
    tok_free_paths(paths, count);
    if (watching) {
        open_watch_collect(&watch);
        assert_int_equal(watch.list_reads, 1);
        assert_int_equal(open_watch_opens(&watch, base_name(created[0])), 0);
        assert_int_equal(open_watch_opens(&watch, base_name(created[2])), 0);
        assert_int_equal(open_watch_opens(&watch, base_name(foreign)), 0);
        assert_true(open_watch_opens(&watch, base_name(created[1])) > 0);
        open_watch_stop(&watch);
    }
    for (int i = 0; i < 3; i++)
        free(created[i]);
}

static void sleep_ms(long ms)
{
    struct timespec wait = {ms / 1000, (ms % 1000) * 1000000};
    while (nanosleep(&wait, &wait) != 0)
        ;
}

/* One stat tells a quiet store directory from one whose files changed; a
 * stamp taken just after a change proves nothing (file times are coarse). */
static void dir_stamp(void **state)
{
    fixture *f = *state;
    tok_close(fixture_create(f, "stamped"));
    tok_dir_stamp zero, before, now;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(tok_dir_stamp_take(f->dir, &before), CKR_OK);
    assert_int_equal(tok_dir_stamp_take(f->dir, &now), CKR_OK);
    assert_false(tok_dir_unchanged(&before, &now)); /* changed a moment ago */
    assert_false(tok_dir_unchanged(&zero, &now));

    sleep_ms(2200); /* longer than the settle time of store.c (2 s) */
    assert_int_equal(tok_dir_stamp_take(f->dir, &before), CKR_OK);
    assert_int_equal(tok_dir_stamp_take(f->dir, &now), CKR_OK);
    assert_true(tok_dir_unchanged(&before, &now));
    /* any change after a settled stamp shows, however soon */
    tok_close(fixture_create(f, "added"));
    assert_int_equal(tok_dir_stamp_take(f->dir, &now), CKR_OK);
    assert_false(tok_dir_unchanged(&before, &now));

    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof(missing), "%s/missing", f->root);
    assert_int_equal(tok_dir_stamp_take(missing, &now), CKR_DEVICE_ERROR);
}

static void scan_creates_and_fails(void **state)
{
    fixture *f = *state;
    char **paths = NULL;
    size_t count = 99;
    assert_int_equal(tok_scan(f->dir, &paths, &count), CKR_OK);
    assert_int_equal(count, 0);
    tok_free_paths(paths, count);
    struct stat st;
    assert_int_equal(stat(f->dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);

    /* A store path that cannot be a directory. */
    char file[PATH_MAX + 16];
    snprintf(file, sizeof(file), "%s/plain-file", f->root);
    write_file(file, "x", 1);
    assert_int_equal(tok_scan(file, &paths, &count), CKR_DEVICE_ERROR);
    char below[PATH_MAX + 32];
    snprintf(below, sizeof(below), "%s/sub", file);
    assert_int_equal(tok_scan(below, &paths, &count), CKR_DEVICE_ERROR);
    /* An unreadable one (root reads everything, so only as a user). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(f->dir, 0), 0);
        assert_int_equal(tok_scan(f->dir, &paths, &count), CKR_DEVICE_ERROR);
        assert_int_equal(chmod(f->dir, 0700), 0);
    }
}

static void open_rejects_foreign_files(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 32];
    tok *t = NULL;
    char **paths = NULL;
    size_t count = 0;
    assert_int_equal(tok_scan(f->dir, &paths, &count), CKR_OK); /* makes the directory */
    tok_free_paths(paths, count);

    snprintf(path, sizeof(path), "%s/0123456789ABCDEF.sqlite", f->dir);
    assert_int_equal(tok_open(path, &t), CKR_TOKEN_NOT_PRESENT);

    unsigned char garbage[4096];
    for (size_t i = 0; i < sizeof(garbage); i++)
        garbage[i] = (unsigned char)(i * 7 + 3);
    write_file(path, garbage, sizeof(garbage));
    assert_int_equal(tok_open(path, &t), CKR_DEVICE_ERROR);
    assert_null(t);

    write_file(path, "", 0);
    assert_int_equal(tok_open(path, &t), CKR_DEVICE_ERROR);

    /* A real SQLite database, but not ours. */
    unlink(path);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE token (x)", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(tok_open(path, &t), CKR_DEVICE_ERROR);

    /* Ours, from a future schema version. */
    tok *real = fixture_create(f, "versioned");
    char real_path[PATH_MAX];
    snprintf(real_path, sizeof(real_path), "%s", tok_path(real));
    tok_close(real);
    db = fixture_raw(real_path);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(tok_open(real_path, &t), CKR_DEVICE_ERROR);

    /* Damaged: a page of the file overwritten. */
    real = fixture_create(f, "damaged");
    snprintf(real_path, sizeof(real_path), "%s", tok_path(real));
    tok_close(real);
    int fd = open(real_path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, garbage, 100, 0), 100);
    close(fd);
    assert_int_equal(tok_open(real_path, &t), CKR_DEVICE_ERROR);
}

/* Damage past the header: every call answers CKR_DEVICE_ERROR or works,
 * never crashes, and the damage is reported. */
static void damaged_pages(void **state)
{
    fixture *f = *state;
    tok *t = fixture_create(f, "pages");
    char value[100];
    for (int i = 0; i < 300; i++) {
        snprintf(value, sizeof(value), "%-90d", i);
        tok_attr label = {CKA_LABEL, (unsigned char *)value, 90, TOK_ATTR_LOOKUP};
        tok_id id;
        assert_int_equal(tok_object_create(t, NULL, false, &label, 1, NULL, &id), CKR_OK);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(t));
    tok_close(t);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    unsigned char garbage[64];
    memset(garbage, 0xa5, sizeof(garbage));
    for (off_t page = 4096; page < size; page += 4096)
        assert_int_equal(pwrite(fd, garbage, sizeof(garbage), page), sizeof(garbage));
    close(fd);

    CK_RV rv = tok_open(path, &t);
    if (rv == CKR_OK) {
        tok_info info;
        tok_id *ids = NULL;
        size_t found = 0;
        bool reported = false;
        rv = tok_get_info(t, &info);
        assert_true(rv == CKR_OK || rv == CKR_DEVICE_ERROR);
        reported |= rv == CKR_DEVICE_ERROR;
        rv = tok_object_find(t, NULL, NULL, 0, &ids, &found);
        assert_true(rv == CKR_OK || rv == CKR_DEVICE_ERROR);
        reported |= rv == CKR_DEVICE_ERROR;
        for (size_t i = 0; rv == CKR_OK && i < found; i++) {
            bool is_private;
            tok_attr *attrs;
            size_t count;
            CK_RV load = tok_object_load(t, NULL, ids[i], &is_private, &attrs, &count);
            assert_true(load == CKR_OK || load == CKR_DEVICE_ERROR);
            reported |= load == CKR_DEVICE_ERROR;
            if (load == CKR_OK)
                tok_attrs_free(attrs, count);
        }
        free(ids);
        tok_keys keys;
        rv = tok_login(t, CKU_SO, (const CK_UTF8CHAR *)SO_PIN, strlen(SO_PIN), &keys);
        reported |= rv == CKR_DEVICE_ERROR;
        tok_keys_clear(&keys);
        assert_true(reported);
        tok_close(t);
    } else {
        assert_int_equal(rv, CKR_DEVICE_ERROR);
    }
}

static void delete_token(void **state)
{
    fixture *f = *state;
    tok *t = fixture_create(f, "doomed");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(t));
    assert_int_equal(tok_delete(t), CKR_OK);
    assert_int_equal(access(path, F_OK), -1);
    tok *again = NULL;
    assert_int_equal(tok_open(path, &again), CKR_TOKEN_NOT_PRESENT);
    char **paths = NULL;
    size_t count = 0;
    assert_int_equal(tok_scan(f->dir, &paths, &count), CKR_OK);
    assert_int_equal(count, 0);
    tok_free_paths(paths, count);
}

/* A file replaced under an open token (another token renamed over it):
 * the open handle refuses to write, so nothing of it reaches the
 * replacement, which a new open of the path sees as it was.  (Writes
 * made before the replacement and not yet checkpointed would be: SQLite
 * leaves the log of a moved file for the next file of that name; the
 * README says to copy or replace token files only while unused.) */
static void replaced_file_refuses_writes(void **state)
{
    fixture *f = *state;
    tok *t = fixture_create(f, "first");
    tok *other = fixture_create(f, "second");
    char path[PATH_MAX], other_path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(t));
    snprintf(other_path, sizeof(other_path), "%s", tok_path(other));
    tok_close(other);
    assert_false(tok_file_removed(t));
    tok_info info;
    assert_int_equal(tok_get_info(t, &info), CKR_OK);
    assert_int_equal(rename(other_path, path), 0);
    assert_true(tok_file_removed(t));
    assert_int_equal(tok_set_lifecycle(t, SOFTSE_LIFECYCLE_TERMINATED, "after"),
                     CKR_DEVICE_REMOVED);
    tok_close(t);
    tok *now = NULL;
    assert_int_equal(tok_open(path, &now), CKR_OK);
    assert_false(tok_file_removed(now));
    assert_int_equal(tok_get_info(now, &info), CKR_OK);
    assert_int_equal(info.lifecycle, SOFTSE_LIFECYCLE_PERSONALIZATION); /* the second, untouched */
    char label[TOK_LABEL_LEN + 1];
    tok_label_text(info.label, label);
    assert_string_equal(label, "second");
    assert_int_equal(tok_set_lifecycle(now, SOFTSE_LIFECYCLE_OPERATIONAL, "works"), CKR_OK);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(now, NULL, NULL, &broken), CKR_OK);
    tok_close(now);
}

static void lifecycle_persists(void **state)
{
    fixture *f = *state;
    tok_info info;
    assert_int_equal(tok_set_lifecycle(f->t, SOFTSE_LIFECYCLE_OPERATIONAL, "personalized"), CKR_OK);
    assert_int_equal(tok_set_lifecycle(f->t, 0, NULL), CKR_ARGUMENTS_BAD);
    assert_int_equal(tok_set_lifecycle(f->t, 4, NULL), CKR_ARGUMENTS_BAD);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    tok_close(f->t);
    f->t = NULL;
    assert_int_equal(tok_open(path, &f->t), CKR_OK);
    assert_int_equal(tok_get_info(f->t, &info), CKR_OK);
    assert_int_equal(info.lifecycle, SOFTSE_LIFECYCLE_OPERATIONAL);
    assert_true(info.user_pin_initialized);
}

static void two_connections(void **state)
{
    fixture *f = *state;
    tok *other = NULL;
    uint64_t before, after, own_before, own_after;
    assert_int_equal(tok_open(tok_path(f->t), &other), CKR_OK);
    assert_int_equal(tok_data_version(f->t, &before), CKR_OK);
    assert_int_equal(tok_data_version(other, &own_before), CKR_OK);

    CK_OBJECT_CLASS class = CKO_DATA;
    tok_attr attrs[] = {
        {CKA_CLASS, (unsigned char *)&class, sizeof(class), TOK_ATTR_LOOKUP},
        {CKA_VALUE, (unsigned char *)"shared secret", 13, TOK_ATTR_SECRET},
    };
    tok_id id;
    assert_int_equal(tok_object_create(other, &f->user_keys, true, attrs, 2, "by other", &id),
                     CKR_OK);
    assert_int_equal(tok_data_version(f->t, &after), CKR_OK);
    assert_int_equal(tok_data_version(other, &own_after), CKR_OK);
    assert_true(after != before);
    assert_true(own_after == own_before); /* a connection's own commits do not count */

    tok_id *ids = NULL;
    size_t found = 0;
    assert_int_equal(tok_object_find(f->t, &f->user_keys, attrs, 1, &ids, &found), CKR_OK);
    assert_int_equal(found, 1);
    assert_int_equal(ids[0], id);
    free(ids);
    bool is_private;
    tok_attr *loaded;
    size_t count;
    assert_int_equal(tok_object_load(f->t, &f->user_keys, id, &is_private, &loaded, &count),
                     CKR_OK);
    assert_int_equal(count, 2);
    assert_memory_equal(loaded[1].value, "shared secret", 13);
    tok_attrs_free(loaded, count);

    /* And back: a destroy through the first handle. */
    assert_int_equal(tok_object_destroy(f->t, id, "by first"), CKR_OK);
    assert_int_equal(tok_data_version(other, &own_after), CKR_OK);
    assert_true(own_after != own_before);
    assert_int_equal(tok_object_load(other, &f->user_keys, id, &is_private, &loaded, &count),
                     CKR_OBJECT_HANDLE_INVALID);
    tok_close(other);
}

/* The fast path of tok_data_version: no query while nobody commits, and a
 * commit by another process (its own connection and mapping of the -shm
 * file) is seen on the next call. */
static void version_fast_path(void **state)
{
    fixture *f = *state;
    uint64_t first, again;
    assert_int_equal(tok_data_version(f->t, &first), CKR_OK);
    unsigned long queries = f->t->version_queries;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(tok_data_version(f->t, &again), CKR_OK);
        assert_true(again == first);
    }
    assert_int_equal(f->t->version_queries, queries);

    for (int round = 0; round < 3; round++) {
        pid_t child = fork();
        assert_true(child >= 0);
        if (child == 0) {
            tok *other = NULL;
            int ok = tok_open(tok_path(f->t), &other) == CKR_OK &&
                     tok_audit_append(other, "test", "from another process") == CKR_OK;
            tok_close(other);
            _exit(ok ? 0 : 1);
        }
        int status;
        assert_int_equal(waitpid(child, &status, 0), child);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        assert_int_equal(tok_data_version(f->t, &again), CKR_OK);
        assert_true(again != first);
        assert_int_equal(f->t->version_queries, queries + 1);
        queries = f->t->version_queries;
        first = again;
    }
    /* Our own commit rewrites the header too: one more query, same version. */
    assert_int_equal(tok_audit_append(f->t, "test", "own"), CKR_OK);
    assert_int_equal(tok_data_version(f->t, &again), CKR_OK);
    assert_true(again == first);
    assert_int_equal(f->t->version_queries, queries + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_and_reopen, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(scan_order, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(scan_new_skips_known_files, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(dir_stamp, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(scan_creates_and_fails, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(open_rejects_foreign_files, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(damaged_pages, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(delete_token, fixture_setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(replaced_file_refuses_writes, fixture_setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(lifecycle_persists, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(two_connections, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(version_fast_path, fixture_setup_token, fixture_teardown),
    };
    return cmocka_run_group_tests_name("store files", tests, NULL, NULL);
}
