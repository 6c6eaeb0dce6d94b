/*
 * The protected token store seen from outside (docs/spec.md §7): several
 * processes share a token, no key bytes appear in the files, a tampered
 * ciphertext is refused rather than returned, and a foreign file in the
 * store directory harms nothing else.
 *
 * `test_store --writer ...` is the second process of writer_sees_commits.
 */
#include "p11_fixture.h"
#include "p11_keys.h"

#include <dirent.h>
#include <openssl/rand.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

#define WRITER_OBJECTS 20
#define CONCURRENT_OBJECTS 30

/* ---- helpers ----------------------------------------------------------------------- */

static CK_SESSION_HANDLE user_session(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    return session;
}

static CK_ULONG count_application(CK_SESSION_HANDLE session, const char *application)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_APPLICATION, (void *)application, strlen(application)}};
    return fx_find(session, tmpl, 1, NULL, 0);
}

static CK_RV create_tagged(CK_SESSION_HANDLE session, const char *application, const char *label,
                           bool private_)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL token = CK_TRUE, is_private = private_;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &token, 1},
        {CKA_PRIVATE, &is_private, 1},
        {CKA_APPLICATION, (void *)application, strlen(application)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE object;
    return fx_functions()->C_CreateObject(session, tmpl, 6, &object);
}

/* This program, for the second process: argv[0] (under valgrind
 * /proc/self/exe is valgrind itself). */
static char self_path[PATH_MAX];

/* ---- a second process ---------------------------------------------------------------- */

/* The writer: creates WRITER_OBJECTS token objects one at a time, telling
 * the reader after each commit and waiting for its go-ahead; then, at the
 * same time as the reader, CONCURRENT_OBJECTS more. */
static int writer_main(CK_SLOT_ID slot, int to_reader, int from_reader)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE session;
    char byte = 0;
    child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    child_rv(fx_open(slot, true, &session), CKR_OK);
    child_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    for (int i = 0; i < WRITER_OBJECTS; i++) {
        char label[32];
        snprintf(label, sizeof(label), "written-%d", i);
        child_rv(create_tagged(session, "writer", label, i % 2 == 1), CKR_OK);
        child_check(write(to_reader, "w", 1) == 1);
        child_check(read(from_reader, &byte, 1) == 1);
    }
    for (int i = 0; i < CONCURRENT_OBJECTS; i++) {
        char label[32];
        snprintf(label, sizeof(label), "writer-%d", i);
        child_rv(create_tagged(session, "concurrent", label, i % 3 == 0), CKR_OK);
    }
    child_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    return 0;
}

static void writer_sees_commits(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    assert_int_equal(count_application(session, "writer"), 0);
    int to_reader[2], from_reader[2];
    assert_int_equal(pipe(to_reader), 0);
    assert_int_equal(pipe(from_reader), 0);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char slot[32], out_fd[16], in_fd[16];
        snprintf(slot, sizeof(slot), "%lu", (unsigned long)t->slot);
        snprintf(out_fd, sizeof(out_fd), "%d", to_reader[1]);
        snprintf(in_fd, sizeof(in_fd), "%d", from_reader[0]);
        execl(self_path, "test_store", "--writer", slot, out_fd, in_fd, (char *)NULL);
        _exit(127);
    }
    close(to_reader[1]);
    close(from_reader[0]);

    /* each committed object is visible here at once, with its value */
    for (int i = 0; i < WRITER_OBJECTS; i++) {
        char byte;
        assert_int_equal(read(to_reader[0], &byte, 1), 1);
        char label[32];
        snprintf(label, sizeof(label), "written-%d", i);
        CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, label, strlen(label)}};
        CK_OBJECT_HANDLE found[2];
        if (fx_find(session, tmpl, 1, found, 2) != 1)
            fail_msg("object %d of the other process is not visible", i);
        char value[32];
        CK_ATTRIBUTE read_value = {CKA_VALUE, value, sizeof(value)};
        assert_rv(t->f->C_GetAttributeValue(session, found[0], &read_value, 1), CKR_OK);
        assert_int_equal(read_value.ulValueLen, strlen(label));
        assert_memory_equal(value, label, strlen(label));
        assert_int_equal(count_application(session, "writer"), (CK_ULONG)i + 1);
        assert_int_equal(write(from_reader[1], "r", 1), 1);
    }
    /* both processes write at once */
    for (int i = 0; i < CONCURRENT_OBJECTS; i++) {
        char label[32];
        snprintf(label, sizeof(label), "reader-%d", i);
        assert_rv(create_tagged(session, "concurrent", label, i % 2 == 0), CKR_OK);
    }
    fx_assert_child_ok(pid);
    close(to_reader[0]);
    close(from_reader[1]);
    assert_int_equal(count_application(session, "concurrent"), 2 * CONCURRENT_OBJECTS);
    /* and after a restart, nothing was lost */
    assert_rv(fx_restart(), CKR_OK);
    session = user_session(t->slot);
    assert_int_equal(count_application(session, "concurrent"), 2 * CONCURRENT_OBJECTS);
    assert_int_equal(count_application(session, "writer"), WRITER_OBJECTS);
}

/* ---- no key bytes in the files ------------------------------------------------------------ */

typedef struct secret {
    const char *what;
    unsigned char bytes[64];
    size_t len;
} secret;

/* Fails if any of the secrets appears in any file of dir. */
static void scan_store(const char *dir, const secret *secrets, size_t count)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *entry;
    int files = 0;
    while ((entry = readdir(d)) != NULL) {
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, entry->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        size_t len = 0;
        unsigned char *data = fx_read_file(path, &len);
        assert_non_null(data);
        files++;
        for (size_t i = 0; i < count; i++)
            if (memmem(data, len, secrets[i].bytes, secrets[i].len))
                fail_msg("%s appears in clear in %s", secrets[i].what, path);
        free(data);
    }
    closedir(d);
    assert_true(files > 0);
}

static void hex(char *out, const unsigned char *in, size_t len)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02x", in[i]);
}

static void no_key_bytes_in_store(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    secret secrets[6] = {
        {.what = "a sensitive AES key value", .len = 32},
        {.what = "a non-sensitive AES key value", .len = 16},
        {.what = "the value of a private data object", .len = 24},
        {.what = "the label of a private data object", .len = 20},
        {.what = "an EC private key value", .len = 32},
        {.what = "the hex form of the AES key", .len = 64},
    };
    for (int i = 0; i < 4; i++)
        assert_int_equal(RAND_bytes(secrets[i].bytes, (int)secrets[i].len), 1);
    memcpy(secrets[3].bytes, "label-", 6); /* a readable label */
    for (size_t i = 6; i < 20; i++)
        secrets[3].bytes[i] = 'a' + secrets[3].bytes[i] % 26;
    char hex_key[65];
    hex(hex_key, secrets[0].bytes, 32);
    memcpy(secrets[5].bytes, hex_key, 64);

    CK_OBJECT_HANDLE object;
    assert_rv(fx_create_aes(session, "k1", true, true, false, secrets[0].bytes, 32, &object),
              CKR_OK);
    assert_rv(fx_create_aes(session, "k2", true, false, true, secrets[1].bytes, 16, &object),
              CKR_OK);
    char label[21];
    memcpy(label, secrets[3].bytes, 20);
    label[20] = '\0';
    assert_rv(fx_create_data(session, label, true, true, secrets[2].bytes, 24, &object), CKR_OK);

    fx_ec_key ec;
    fx_ec_key_new(&ec);
    memcpy(secrets[4].bytes, ec.value.data, 32);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE type = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE priv[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, 1},
        {CKA_EC_PARAMS, ec.params.data, ec.params.len},
        {CKA_VALUE, ec.value.data, ec.value.len},
    };
    assert_rv(t->f->C_CreateObject(session, priv, 5, &object), CKR_OK);
    fx_ec_key_free(&ec);

    /* while the module has the files open (WAL and all) … */
    scan_store(t->store, secrets, 6);
    /* … and once it has closed them */
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    scan_store(t->store, secrets, 6);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
}

/* ---- tampering ------------------------------------------------------------------------------- */

/* One blob of the database: where it is and what it holds. */
typedef struct blob_cell {
    char table[128], column[128];
    unsigned char *value;
    int len;
} blob_cell;

/* The store file of the only token in dir. */
static void token_file(const char *dir, char *path, size_t size)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *entry;
    int found = 0;
    while ((entry = readdir(d)) != NULL) {
        size_t n = strlen(entry->d_name);
        if (n > 7 && strcmp(entry->d_name + n - 7, ".sqlite") == 0) {
            snprintf(path, size, "%s/%s", dir, entry->d_name);
            found++;
        }
    }
    closedir(d);
    assert_int_equal(found, 1);
}

/* Every blob of at least 16 bytes in every table; the schema is
 * discovered, not assumed (tables WITHOUT ROWID included). */
static size_t find_blobs(const char *db_path, blob_cell *cells, size_t max)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *tables = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT name FROM sqlite_master WHERE type = 'table' "
                                        "AND name NOT LIKE 'sqlite_%'",
                                        -1, &tables, NULL),
                     SQLITE_OK);
    size_t count = 0;
    while (sqlite3_step(tables) == SQLITE_ROW && count < max) {
        char table[128];
        snprintf(table, sizeof(table), "%s", (const char *)sqlite3_column_text(tables, 0));
        char sql[256];
        snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\"", table);
        sqlite3_stmt *rows = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &rows, NULL), SQLITE_OK);
        while (sqlite3_step(rows) == SQLITE_ROW && count < max) {
            for (int c = 0; c < sqlite3_column_count(rows) && count < max; c++) {
                int len = sqlite3_column_bytes(rows, c);
                if (sqlite3_column_type(rows, c) != SQLITE_BLOB || len < 16)
                    continue;
                blob_cell *cell = &cells[count++];
                snprintf(cell->table, sizeof(cell->table), "%s", table);
                snprintf(cell->column, sizeof(cell->column), "%s", sqlite3_column_name(rows, c));
                cell->len = len;
                cell->value = malloc((size_t)len);
                assert_non_null(cell->value);
                memcpy(cell->value, sqlite3_column_blob(rows, c), (size_t)len);
            }
        }
        sqlite3_finalize(rows);
    }
    sqlite3_finalize(tables);
    sqlite3_close(db);
    return count;
}

/* Flips one bit in the middle of a blob, through SQLite so the file stays
 * a valid database.  The row is found by the blob's own value. */
static void flip_blob(const char *db_path, const blob_cell *cell)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    unsigned char *flipped = malloc((size_t)cell->len);
    assert_non_null(flipped);
    memcpy(flipped, cell->value, (size_t)cell->len);
    flipped[cell->len / 2] ^= 0x01;
    char sql[512];
    assert_true(snprintf(sql, sizeof(sql), "UPDATE \"%s\" SET \"%s\" = ?1 WHERE \"%s\" = ?2",
                         cell->table, cell->column, cell->column) < (int)sizeof(sql));
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
    sqlite3_bind_blob(stmt, 1, flipped, cell->len, SQLITE_TRANSIENT);
    sqlite3_bind_blob(stmt, 2, cell->value, cell->len, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_DONE);
    assert_true(sqlite3_changes(db) >= 1);
    sqlite3_finalize(stmt);
    free(flipped);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(data, 1, len, file), len);
    assert_int_equal(fclose(file), 0);
}

static void restore_file(const char *path, const unsigned char *data, size_t len)
{
    char side[PATH_MAX + 64 + 8]; /* callers hold paths of PATH_MAX + 64 */
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-journal", path);
    unlink(side);
    write_file(path, data, len);
}

static void tampered_value_is_refused(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    unsigned char value[32];
    assert_int_equal(RAND_bytes(value, sizeof(value)), 1);
    CK_OBJECT_HANDLE key;
    /* readable, so that a wrong value could show */
    assert_rv(fx_create_aes(session, "victim", true, false, true, value, 32, &key), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    char path[PATH_MAX + 64];
    token_file(t->store, path, sizeof(path));
    size_t pristine_len = 0;
    unsigned char *pristine = fx_read_file(path, &pristine_len);
    assert_non_null(pristine);
    blob_cell cells[256];
    size_t count = find_blobs(path, cells, 256);
    assert_true(count > 0);

    int refused = 0, unchanged = 0, other = 0;
    for (size_t i = 0; i < count; i++) {
        restore_file(path, pristine, pristine_len);
        flip_blob(path, &cells[i]);
        assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
        CK_RV rv = fx_open(t->slot, true, &session);
        if (rv == CKR_OK)
            rv = fx_login(session, CKU_USER, FX_USER_PIN);
        unsigned char out[64];
        CK_ATTRIBUTE attr = {CKA_VALUE, out, sizeof(out)};
        if (rv == CKR_OK)
            rv = t->f->C_GetAttributeValue(session, key, &attr, 1);
        if (rv == CKR_OK) {
            if (attr.ulValueLen != 32 || memcmp(out, value, 32) != 0)
                fail_msg("after flipping a bit of a %s.%s blob the key reads back wrong",
                         cells[i].table, cells[i].column);
            unchanged++;
        } else if (rv == CKR_DEVICE_ERROR || rv == CKR_GENERAL_ERROR) {
            refused++;
        } else {
            other++;
        }
        print_message("  %s.%s (%d bytes): %s\n", cells[i].table, cells[i].column, cells[i].len,
                      fx_rv_name(rv));
        assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    }
    print_message("  %d refused, %d no effect, %d other outcomes\n", refused, unchanged, other);
    assert_true(refused > 0); /* the value's ciphertext was among the blobs */

    restore_file(path, pristine, pristine_len);
    free(pristine);
    for (size_t i = 0; i < count; i++)
        free(cells[i].value);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    session = user_session(t->slot);
    unsigned char out[32];
    CK_ATTRIBUTE attr = {CKA_VALUE, out, sizeof(out)};
    assert_rv(t->f->C_GetAttributeValue(session, key, &attr, 1), CKR_OK);
    assert_memory_equal(out, value, 32);
}

/* A public secret key's value is sealed because the policy says it is
 * secret: a file whose row had both its sealed mark and its secret flag
 * cleared must not hand out the ciphertext as the value. */
static void unsealed_secret_row_is_refused(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    static const unsigned char value[16] = "0123456789abcdef";
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},   {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, (void *)value, 16},   {CKA_TOKEN, &yes, 1},
                           {CKA_PRIVATE, &no, 1},            {CKA_SENSITIVE, &no, 1},
                           {CKA_EXTRACTABLE, &yes, 1}};
    CK_OBJECT_HANDLE key;
    assert_rv(t->f->C_CreateObject(session, tmpl, 7, &key), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    char path[PATH_MAX + 64], sql[160];
    token_file(t->store, path, sizeof(path));
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql), "UPDATE attribute SET sealed = 0, flags = 0 WHERE object = %llu AND type = %lu",
             (unsigned long long)(key & ((1ULL << 40) - 1)), (unsigned long)CKA_VALUE);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_changes(db), 1);
    sqlite3_close(db);

    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    session = user_session(t->slot);
    unsigned char out[128];
    CK_ATTRIBUTE attr = {CKA_VALUE, out, sizeof(out)};
    assert_rv(t->f->C_GetAttributeValue(session, key, &attr, 1), CKR_DEVICE_ERROR);
}

/* ---- foreign files ------------------------------------------------------------------------ */

static void garbage_file_harms_nothing(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    CK_OBJECT_HANDLE object;
    assert_rv(fx_create_data(session, "survivor", true, true, "s", 1, &object), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    unsigned char garbage[4096];
    assert_int_equal(RAND_bytes(garbage, sizeof(garbage)), 1);
    char garbage_path[PATH_MAX + 32], empty_path[PATH_MAX + 32], text_path[PATH_MAX + 32];
    snprintf(garbage_path, sizeof(garbage_path), "%s/0123456789abcdef.sqlite", t->store);
    snprintf(empty_path, sizeof(empty_path), "%s/fedcba9876543210.sqlite", t->store);
    snprintf(text_path, sizeof(text_path), "%s/notes.txt", t->store);
    write_file(garbage_path, garbage, sizeof(garbage));
    write_file(empty_path, garbage, 0);
    write_file(text_path, (const unsigned char *)"hello\n", 6);

    /* capture what the module says while it meets them */
    fx_stderr_begin(t);
    CK_RV rv = t->f->C_Initialize(NULL_PTR);
    CK_SLOT_ID slots[16];
    CK_ULONG count = 16;
    CK_RV rv_list = rv == CKR_OK ? t->f->C_GetSlotList(CK_FALSE, slots, &count) : rv;
    CK_RV rv_info = CKR_OK;
    for (CK_ULONG i = 0; rv_list == CKR_OK && i < count; i++) {
        CK_TOKEN_INFO info;
        CK_RV r = t->f->C_GetTokenInfo(slots[i], &info);
        if (r != CKR_OK && r != CKR_DEVICE_ERROR && r != CKR_TOKEN_NOT_RECOGNIZED)
            rv_info = r;
    }
    char *log = fx_stderr_end(t);
    assert_rv(rv, CKR_OK);
    assert_rv(rv_list, CKR_OK);
    assert_rv(rv_info, CKR_OK);
    print_message("  the module said: %s", *log ? log : "(nothing)\n");
    if (!strstr(log, "0123456789abcdef"))
        fail_msg("no message names the damaged file 0123456789abcdef.sqlite");
    free(log);

    /* the good token works */
    session = user_session(fx_slot_by_label(FX_TOKEN_LABEL));
    assert_int_equal(fx_count_label(session, "survivor"), 1);
    /* a new token can be made */
    CK_SLOT_ID fresh = fx_new_token("after-garbage");
    assert_rv(fx_open(fresh, true, &session), CKR_OK);
    /* the foreign file was left as it was */
    size_t len = 0;
    unsigned char *after = fx_read_file(garbage_path, &len);
    assert_non_null(after);
    assert_int_equal(len, sizeof(garbage));
    assert_memory_equal(after, garbage, len);
    free(after);
}

/* The token's file deleted while the module uses it: like a card pulled
 * from its reader.  A write before the module noticed is refused and
 * nothing more is written to the unlinked file; once noticed, the slot
 * stays (its id names the card) without CKF_TOKEN_PRESENT and the
 * token's sessions are closed (PKCS#11 3.0 §5.1.2); another token is
 * not affected. */
static void deleted_file_is_a_removed_card(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session = user_session(t->slot);
    CK_OBJECT_HANDLE object;
    assert_rv(fx_create_data(session, "before", true, true, "b", 1, &object), CKR_OK);
    CK_SLOT_ID other = fx_new_token("other");
    char path[PATH_MAX + 32];
    CK_TOKEN_INFO info;
    assert_rv(t->f->C_GetTokenInfo(t->slot, &info), CKR_OK);
    char serial[17];
    memcpy(serial, info.serialNumber, 16);
    serial[16] = '\0';
    snprintf(path, sizeof(path), "%s/%s.sqlite", t->store, serial);
    CK_ULONG before = 0, after_count = 0;
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL, &before), CKR_OK);
    assert_int_equal(unlink(path), 0);

    /* the open session, before any slot call: a write is refused, the
     * file is not recreated */
    CK_OBJECT_HANDLE after;
    assert_rv(fx_create_data(session, "after", true, true, "a", 1, &after), CKR_DEVICE_REMOVED);
    struct stat st;
    assert_int_not_equal(stat(path, &st), 0);

    /* a size query reads the changed directory: the slot is missing */
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL, &after_count), CKR_OK);
    assert_int_equal(after_count, before - 1);
    CK_SLOT_INFO slot_info;
    assert_rv(t->f->C_GetSlotInfo(t->slot, &slot_info), CKR_OK);
    assert_false(slot_info.flags & CKF_TOKEN_PRESENT);
    assert_rv(t->f->C_GetTokenInfo(t->slot, &info), CKR_TOKEN_NOT_PRESENT);
    CK_SESSION_HANDLE second;
    assert_rv(t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL, &second),
              CKR_TOKEN_NOT_PRESENT);
    CK_SLOT_ID slots[8];
    CK_ULONG count = 8;
    assert_rv(t->f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    for (CK_ULONG i = 0; i < count; i++)
        assert_int_not_equal(slots[i], t->slot);
    count = 8;
    assert_rv(t->f->C_GetSlotList(CK_FALSE, slots, &count), CKR_OK);
    assert_true(count > t->slot);

    /* removing a token closed its sessions */
    assert_rv(fx_create_data(session, "after", true, true, "a", 1, &after),
              CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_CloseSession(session), CKR_SESSION_HANDLE_INVALID);
    assert_int_not_equal(stat(path, &st), 0);

    /* the other token works */
    CK_SLOT_INFO other_info;
    assert_rv(t->f->C_GetSlotInfo(other, &other_info), CKR_OK);
    assert_true(other_info.flags & CKF_TOKEN_PRESENT);
    assert_rv(fx_open(other, true, &second), CKR_OK);
    assert_rv(fx_create_data(second, "elsewhere", true, false, "e", 1, &after), CKR_OK);
}

int main(int argc, char **argv)
{
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "/proc/self/exe");
    if (argc == 5 && strcmp(argv[1], "--writer") == 0)
        return writer_main(strtoul(argv[2], NULL, 10), atoi(argv[3]), atoi(argv[4]));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(writer_sees_commits, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(no_key_bytes_in_store, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(tampered_value_is_refused, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(unsealed_secret_row_is_refused, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(garbage_file_harms_nothing, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(deleted_file_is_a_removed_card, fx_setup_token,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
