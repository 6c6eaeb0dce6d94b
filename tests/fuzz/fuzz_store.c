/*
 * fuzz_store.c — the token store reader against a damaged or hostile file.
 *
 * A valid token file is made once (tokens/tok.h: SO and user PINs, a
 * public data object, a public secret key whose CKA_VALUE is sealed, a
 * private object, a failure counter, audit records).  Each run copies it,
 * changes it with the input — attribute rows (value, flags, sealed, type,
 * new or deleted rows), token and pin rows (any column, any SQLite type),
 * object, counter, lookup and audit rows through the SQLite API, and raw
 * bytes of the file — and then opens it with tok_open, logs in, finds and
 * loads every object, reads counters, verifies the audit chain, and makes
 * a few changes.  Whatever the file holds, the store must return CKR codes:
 * no crash, no sanitizer report, and (docs/spec.md §7, tok.h) never wrong bytes
 * for a value that was sealed — an attribute that was sealed in the file
 * made once either loads with its original value or fails.
 *
 * Input: u8 count of changes (1..4), then per change u8 kind and its
 * fields (encoding in fuzz_common.c), then u8 flags of the writes tried.
 * SOFTSE_FUZZ_SKIP_KNOWN=1 turns the sealed-value check off, for
 * exploring past the known defect (docs/reliability.md).
 */
#include "fuzz_common.h"
#include "tok_internal.h" /* TOK_MAX_PIN_KDF_ITERATIONS */

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static fz_module m; /* only its temporary directory */
static char base_path[4200], work_path[4200];
static unsigned char *base_file;
static size_t base_size;
static bool check_integrity = true;

#define SO_PIN "store-so-pin"
#define USER_PIN "store-user-pin"

/* The sealed attributes of the file made once, with their plaintext. */
typedef struct sealed_attr {
    tok_id object;
    CK_ATTRIBUTE_TYPE type;
    unsigned char *value;
    size_t len;
} sealed_attr;
static sealed_attr sealed[32];
static size_t sealed_count;

/* Every attribute row of the file made once: (object, type). */
static struct {
    sqlite3_int64 object, type;
} rows[64];
static size_t row_count;

static void check_harness_sql(void);

static void must(CK_RV rv, const char *what)
{
    if (rv != CKR_OK)
        fz_fail("setup: %s: 0x%lx", what, (unsigned long)rv);
}

static unsigned char *read_whole(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fz_fail("setup: open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = malloc((size_t)n);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
        fz_fail("setup: read %s", path);
    fclose(f);
    *size = (size_t)n;
    return data;
}

static void make_token(void)
{
    char label[TOK_LABEL_LEN];
    memset(label, ' ', sizeof(label));
    memcpy(label, "fuzz-store", 10);
    tok_params params = {.pin_kdf_iterations = 1};
    tok *t;
    tok_keys keys;
    must(tok_create(m.store, label, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), &params, &t),
         "tok_create");
    must(tok_login(t, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), &keys), "tok_login SO");
    must(tok_init_pin(t, &keys, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), "tok_init_pin");

    CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    tok_attr data_attrs[] = {
        {CKA_CLASS, (unsigned char *)&data, sizeof(data), TOK_ATTR_LOOKUP},
        {CKA_LABEL, (unsigned char *)"public-data", 11, TOK_ATTR_LOOKUP},
        {CKA_VALUE, (unsigned char *)"public value", 12, 0},
    };
    tok_attr key_attrs[] = {
        {CKA_CLASS, (unsigned char *)&secret, sizeof(secret), TOK_ATTR_LOOKUP},
        {CKA_KEY_TYPE, (unsigned char *)&aes, sizeof(aes), TOK_ATTR_LOOKUP},
        {CKA_LABEL, (unsigned char *)"public-key", 10, TOK_ATTR_LOOKUP},
        {CKA_SENSITIVE, &yes, sizeof(yes), 0},
        {CKA_VALUE, (unsigned char *)"0123456789abcdef0123456789abcdef", 32, TOK_ATTR_SECRET},
    };
    tok_attr private_attrs[] = {
        {CKA_CLASS, (unsigned char *)&data, sizeof(data), TOK_ATTR_LOOKUP},
        {CKA_LABEL, (unsigned char *)"private-data", 12, TOK_ATTR_LOOKUP},
        {CKA_VALUE, (unsigned char *)"private value", 13, 0},
    };
    tok_id ids[3];
    must(tok_object_create(t, NULL, false, data_attrs, 3, "data", &ids[0]), "create public");
    must(tok_object_create(t, &keys, false, key_attrs, 5, "key", &ids[1]), "create key");
    must(tok_object_create(t, &keys, true, private_attrs, 3, "private", &ids[2]), "create private");
    unsigned long count;
    must(tok_counter_add(t, ids[1], CKA_SE_FAILURE_COUNT, 3, &count, "count"), "counter");
    must(tok_audit_append(t, "fuzz", "made once"), "audit");

    /* What was sealed, as the store loads it with the keys. */
    for (size_t i = 0; i < 3; i++) {
        bool is_private;
        tok_attr *attrs;
        size_t n;
        must(tok_object_load(t, &keys, ids[i], &is_private, &attrs, &n), "load");
        for (size_t j = 0; j < n; j++) {
            bool was_sealed = is_private || (attrs[j].flags & TOK_ATTR_SECRET);
            if (was_sealed && sealed_count < FZ_ARRAY_SIZE(sealed)) {
                sealed_attr *s = &sealed[sealed_count++];
                s->object = ids[i];
                s->type = attrs[j].type;
                s->len = attrs[j].len;
                s->value = malloc(s->len + 1);
                memcpy(s->value, attrs[j].value, s->len);
            }
        }
        tok_attrs_free(attrs, n);
    }
    tok_keys_clear(&keys);
    snprintf(base_path, sizeof(base_path), "%s", tok_path(t));
    tok_close(t);
}

static void list_rows(void)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    if (sqlite3_open_v2(base_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(db, "SELECT object, type FROM attribute ORDER BY object, type", -1, &s,
                           NULL) != SQLITE_OK)
        fz_fail("setup: listing rows of %s", base_path);
    while (sqlite3_step(s) == SQLITE_ROW && row_count < FZ_ARRAY_SIZE(rows)) {
        rows[row_count].object = sqlite3_column_int64(s, 0);
        rows[row_count].type = sqlite3_column_int64(s, 1);
        row_count++;
    }
    sqlite3_finalize(s);
    sqlite3_close(db);
    if (row_count == 0)
        fz_fail("setup: no attribute rows");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_env(&m, "store");
    if (!getenv("SOFTSE_FUZZ_LOG")) {
        extern int se_log_level;
        se_log_level = -1;
    }
    check_integrity = !fz_skip_known();
    make_token();
    /* The file closed by its last connection is the whole database. */
    char wal[4300];
    snprintf(wal, sizeof(wal), "%s-wal", base_path);
    if (access(wal, F_OK) == 0)
        fz_fail("setup: %s left a WAL file behind", base_path);
    base_file = read_whole(base_path, &base_size);
    list_rows();
    check_harness_sql();
    snprintf(work_path, sizeof(work_path), "%s/work.sqlite", m.root);
    return 0;
}

/* ---- changing the copy -------------------------------------------------------- */

/* Binds a value of any SQLite type from the input. */
static void bind_any(sqlite3_stmt *s, int index, fz_input *in)
{
    switch (fz_u8(in) % 6) {
    case 0:
        sqlite3_bind_int64(s, index, (sqlite3_int64)fz_ulong(in));
        break;
    case 1:
        sqlite3_bind_int64(s, index, (int8_t)fz_u8(in));
        break;
    case 2: {
        CK_ULONG len = fz_len(in) % 1025;
        sqlite3_bind_blob(s, index, fz_take(in, len), (int)len, SQLITE_TRANSIENT);
        break;
    }
    case 3: {
        CK_ULONG len = fz_len(in) % 257;
        sqlite3_bind_text(s, index, fz_take(in, len), (int)len, SQLITE_TRANSIENT);
        break;
    }
    case 4:
        sqlite3_bind_null(s, index);
        break;
    default: {
        double d;
        uint64_t bits = fz_ulong(in);
        memcpy(&d, &bits, sizeof(d));
        sqlite3_bind_double(s, index, d);
        break;
    }
    }
}

static void run_sql(sqlite3 *db, const char *sql, fz_input *in, int binds, bool with_row)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fz_fail("harness SQL: %s: %s", sql, sqlite3_errmsg(db));
    int next = 1;
    if (with_row) {
        size_t r = fz_u8(in) % row_count;
        sqlite3_bind_int64(s, next++, rows[r].object);
        sqlite3_bind_int64(s, next++, rows[r].type);
    }
    for (int i = 0; i < binds; i++)
        bind_any(s, next++, in);
    sqlite3_step(s); /* constraint failures are fine: nothing changed */
    sqlite3_finalize(s);
}

/* A sealed value with some bits flipped: the authentication must fail. */
static void flip_value(sqlite3 *db, fz_input *in)
{
    size_t r = fz_u8(in) % row_count;
    sqlite3_stmt *s;
    sqlite3_prepare_v2(db, "SELECT value FROM attribute WHERE object = ?1 AND type = ?2", -1, &s,
                       NULL);
    sqlite3_bind_int64(s, 1, rows[r].object);
    sqlite3_bind_int64(s, 2, rows[r].type);
    unsigned char value[2048];
    int len = 0;
    if (sqlite3_step(s) == SQLITE_ROW) {
        len = sqlite3_column_bytes(s, 0);
        if (len > (int)sizeof(value))
            len = sizeof(value);
        if (len > 0)
            memcpy(value, sqlite3_column_blob(s, 0), (size_t)len);
    }
    sqlite3_finalize(s);
    if (len == 0)
        return;
    uint16_t at = fz_u16(in);
    value[at % len] ^= fz_u8(in) | 1;
    int cut = fz_u8(in) & 1 ? len - (int)(fz_u8(in) % len) : len; /* truncated too */
    sqlite3_prepare_v2(db, "UPDATE attribute SET value = ?3 WHERE object = ?1 AND type = ?2", -1,
                       &s, NULL);
    sqlite3_bind_int64(s, 1, rows[r].object);
    sqlite3_bind_int64(s, 2, rows[r].type);
    sqlite3_bind_blob(s, 3, value, cut, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
}

static const char *const token_columns[] = {
    "UPDATE token SET serial = ?1",     "UPDATE token SET label = ?1",
    "UPDATE token SET created = ?1",    "UPDATE token SET lifecycle = ?1",
    "UPDATE token SET pin_kdf_iterations = ?1", "UPDATE token SET key_check = ?1",
    "UPDATE token SET id = ?1",         "DELETE FROM token",
};
static const char *const pin_columns[] = {
    "UPDATE pin SET failures = ?2 WHERE user = ?1", "UPDATE pin SET max_failures = ?2 WHERE user = ?1",
    "UPDATE pin SET kdf_iterations = ?2 WHERE user = ?1", "UPDATE pin SET salt = ?2 WHERE user = ?1",
    "UPDATE pin SET wrapped = ?2 WHERE user = ?1", "UPDATE pin SET user = ?2 WHERE user = ?1",
    "DELETE FROM pin WHERE user = ?1 AND ?2 IS NOT ?2 + 1",
};
static const char *const other_changes[] = {
    "UPDATE object SET private = ?1",
    "UPDATE object SET id = ?1 WHERE id = (SELECT max(id) FROM object)",
    "UPDATE counter SET value = ?1",
    "UPDATE counter SET object = ?1",
    "UPDATE audit SET detail = ?1 WHERE seq = (SELECT max(seq) FROM audit)",
    "UPDATE audit SET seq = ?1 WHERE seq = 1",
    "UPDATE audit SET hash = ?1 WHERE seq = 2",
    "UPDATE audit SET time = ?1",
    "UPDATE lookup SET key = ?1",
    "UPDATE lookup SET object = ?1",
    "DELETE FROM lookup WHERE object IS NOT ?1",
    "INSERT INTO lookup (type, key, object) VALUES (3, ?1, 1)",
    "DELETE FROM object WHERE id = ?1",
};
/* The database's identity (tokens/tok_internal.h); no bound parameters. */
static const char *const pragmas[] = {
    "PRAGMA user_version = %u",
    "PRAGMA application_id = %u",
};

static void change(sqlite3 *db, fz_input *in)
{
    switch (fz_u8(in) % 10) {
    case 0:
        run_sql(db, "UPDATE attribute SET value = ?3 WHERE object = ?1 AND type = ?2", in, 1, true);
        break;
    case 1:
        flip_value(db, in);
        break;
    case 2:
        run_sql(db, "UPDATE attribute SET flags = ?3 WHERE object = ?1 AND type = ?2", in, 1, true);
        break;
    case 3:
        run_sql(db, "UPDATE attribute SET sealed = ?3 WHERE object = ?1 AND type = ?2", in, 1, true);
        break;
    case 4:
        run_sql(db, "UPDATE attribute SET type = ?3 WHERE object = ?1 AND type = ?2", in, 1, true);
        break;
    case 5:
        run_sql(db,
                "INSERT INTO attribute (object, type, flags, sealed, value)"
                " VALUES (?1, ?3, ?4, ?5, ?6)",
                in, 4, true);
        break;
    case 6:
        run_sql(db, "DELETE FROM attribute WHERE object = ?1 AND type = ?2", in, 0, true);
        break;
    case 7:
        run_sql(db, token_columns[fz_u8(in) % FZ_ARRAY_SIZE(token_columns)], in, 1, false);
        break;
    case 8:
        run_sql(db, pin_columns[fz_u8(in) % FZ_ARRAY_SIZE(pin_columns)], in, 2, false);
        break;
    default: {
        uint8_t which = fz_u8(in) % (FZ_ARRAY_SIZE(other_changes) + FZ_ARRAY_SIZE(pragmas));
        if (which < FZ_ARRAY_SIZE(other_changes)) {
            run_sql(db, other_changes[which], in, 1, false);
        } else {
            char sql[64];
            snprintf(sql, sizeof(sql), pragmas[which - FZ_ARRAY_SIZE(other_changes)], fz_u32(in));
            sqlite3_exec(db, sql, NULL, NULL, NULL);
        }
        break;
    }
    }
}

/* Every statement of the harness prepares on the file made once. */
static void check_harness_sql(void)
{
    static const char *const fixed[] = {
        "UPDATE attribute SET value = ?3 WHERE object = ?1 AND type = ?2",
        "UPDATE attribute SET flags = ?3 WHERE object = ?1 AND type = ?2",
        "UPDATE attribute SET sealed = ?3 WHERE object = ?1 AND type = ?2",
        "UPDATE attribute SET type = ?3 WHERE object = ?1 AND type = ?2",
        "INSERT INTO attribute (object, type, flags, sealed, value) VALUES (?1, ?3, ?4, ?5, ?6)",
        "DELETE FROM attribute WHERE object = ?1 AND type = ?2",
    };
    const char *const *lists[] = {fixed, token_columns, pin_columns, other_changes};
    const size_t counts[] = {FZ_ARRAY_SIZE(fixed), FZ_ARRAY_SIZE(token_columns),
                             FZ_ARRAY_SIZE(pin_columns), FZ_ARRAY_SIZE(other_changes)};
    sqlite3 *db;
    if (sqlite3_open_v2(base_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        fz_fail("setup: opening %s", base_path);
    for (size_t l = 0; l < FZ_ARRAY_SIZE(lists); l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            sqlite3_stmt *st;
            if (sqlite3_prepare_v2(db, lists[l][i], -1, &st, NULL) != SQLITE_OK)
                fz_fail("harness SQL: %s: %s", lists[l][i], sqlite3_errmsg(db));
            sqlite3_finalize(st);
        }
    }
    sqlite3_close(db);
}

static void write_copy(fz_input *in)
{
    char extra[4300];
    unlink(work_path);
    snprintf(extra, sizeof(extra), "%s-wal", work_path);
    unlink(extra);
    snprintf(extra, sizeof(extra), "%s-shm", work_path);
    unlink(extra);
    FILE *f = fopen(work_path, "wb");
    if (!f || fwrite(base_file, 1, base_size, f) != base_size)
        fz_fail("writing %s", work_path);
    fclose(f);

    sqlite3 *db;
    if (sqlite3_open_v2(work_path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fz_fail("opening %s", work_path);
    /* What an attacker who can write the file can do: CHECK constraints
     * and foreign keys are the store's schema, not a protection. */
    sqlite3_exec(db, "PRAGMA ignore_check_constraints = ON; PRAGMA foreign_keys = OFF;", NULL,
                 NULL, NULL);
    int changes = 1 + fz_u8(in) % 4;
    int raw = 0; /* raw bytes of the file to change once SQLite is done */
    for (int i = 0; i < changes; i++) {
        if (fz_u8(in) == 0xee)
            raw++;
        else
            change(db, in);
    }
    /* A PBKDF2 cost the store accepts (up to TOK_MAX_PIN_KDF_ITERATIONS) but
     * that would take seconds per login: brought down, so that runs stay
     * fast; costs above the maximum stay, the store must refuse them. */
    char clamp[256];
    snprintf(clamp, sizeof(clamp),
             "UPDATE token SET pin_kdf_iterations = 1 WHERE pin_kdf_iterations > 100000"
             " AND pin_kdf_iterations <= %lu;"
             "UPDATE pin SET kdf_iterations = 1 WHERE kdf_iterations > 100000"
             " AND kdf_iterations <= %lu;",
             (unsigned long)TOK_MAX_PIN_KDF_ITERATIONS, (unsigned long)TOK_MAX_PIN_KDF_ITERATIONS);
    sqlite3_exec(db, clamp, NULL, NULL, NULL);
    sqlite3_close(db);
    for (int i = 0; i < raw; i++) {
        uint32_t offset = fz_u32(in) % (uint32_t)base_size;
        uint8_t x = fz_u8(in) | 1;
        f = fopen(work_path, "r+b");
        if (!f)
            fz_fail("reopening %s", work_path);
        fseek(f, offset, SEEK_SET);
        int c = fgetc(f);
        fseek(f, offset, SEEK_SET);
        fputc((c < 0 ? 0 : c) ^ x, f);
        fclose(f);
    }
}

/* ---- reading it back ------------------------------------------------------------ */

/* The store cannot know that a row whose sealed mark AND secret flag were
 * both cleared was ever secret: on a public object it returns such a row
 * as a plain attribute, and the module's attribute policy refuses it
 * (module/object.c: a policy-secret attribute stored unsealed is
 * CKR_DEVICE_ERROR).  So the store's invariant is checked on what it
 * returns as sealed-class: any attribute of a private object, and every
 * attribute it flags TOK_ATTR_SECRET. */
static void check_sealed(tok_id id, bool is_private, const tok_attr *attrs, size_t n)
{
    if (!check_integrity)
        return;
    for (size_t i = 0; i < sealed_count; i++) {
        if (sealed[i].object != id)
            continue;
        for (size_t j = 0; j < n; j++) {
            if (attrs[j].type != sealed[i].type || (attrs[j].flags & TOK_ATTR_LOCKED))
                continue;
            if (!is_private && !(attrs[j].flags & TOK_ATTR_SECRET))
                continue; /* refused by the module's policy, see above */
            FZ_CHECK(attrs[j].len == sealed[i].len &&
                         (sealed[i].len == 0 ||
                          memcmp(attrs[j].value, sealed[i].value, sealed[i].len) == 0),
                     "object %llu attribute 0x%lx was sealed: the store loaded %lu other bytes "
                     "(flags 0x%x) instead of failing",
                     (unsigned long long)id, (unsigned long)attrs[j].type,
                     (unsigned long)attrs[j].len, attrs[j].flags);
        }
    }
}

static void load_all(tok *t, const tok_keys *keys)
{
    tok_id *ids = NULL;
    size_t found = 0;
    if (tok_object_find(t, keys, NULL, 0, &ids, &found) != CKR_OK)
        return;
    for (size_t i = 0; i < found; i++) {
        bool is_private;
        tok_attr *attrs = NULL;
        size_t n = 0;
        if (tok_object_load(t, keys, ids[i], &is_private, &attrs, &n) == CKR_OK) {
            if (keys)
                check_sealed(ids[i], is_private, attrs, n);
            tok_attrs_free(attrs, n);
        }
        unsigned long value;
        tok_counter_get(t, ids[i], CKA_SE_FAILURE_COUNT, &value);
    }
    free(ids);
    tok_attr match = {CKA_LABEL, (unsigned char *)"private-data", 12, TOK_ATTR_LOOKUP};
    if (tok_object_find(t, keys, &match, 1, &ids, &found) == CKR_OK)
        free(ids);
}

static void exercise(fz_input *in)
{
    tok *t = NULL;
    if (tok_open(work_path, &t) != CKR_OK)
        return;
    tok_info info;
    tok_get_info(t, &info);
    load_all(t, NULL);
    tok_keys keys;
    bool user = tok_login(t, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN), &keys) ==
                CKR_OK;
    if (user)
        load_all(t, &keys);
    tok_audit_verify(t, NULL, NULL, NULL);

    uint8_t writes = fz_u8(in);
    tok_keys so_keys;
    unsigned long counted;
    if (writes & 1)
        tok_login(t, CKU_USER, (CK_UTF8CHAR_PTR) "wrong-pin", 9, &so_keys);
    if ((writes & 2) &&
        tok_login(t, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), &so_keys) == CKR_OK) {
        tok_init_pin(t, &so_keys, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
        tok_keys_clear(&so_keys);
    }
    if (writes & 4)
        tok_set_pin(t, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN),
                    (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
    if (user && (writes & 8)) {
        tok_attr a[] = {{CKA_LABEL, (unsigned char *)"new", 3, TOK_ATTR_LOOKUP},
                        {CKA_VALUE, (unsigned char *)"new secret", 10, TOK_ATTR_SECRET}};
        tok_id id;
        if (tok_object_create(t, &keys, writes & 16, a, 2, "new", &id) == CKR_OK) {
            tok_object_update(t, &keys, id, false, a, 1, "update");
            tok_counter_add(t, id, CKA_SE_FAILURE_COUNT, 1, &counted, "count");
            tok_object_destroy(t, id, "destroy");
        }
    }
    if (writes & 32)
        tok_counter_add(t, 2, CKA_SE_FAILURE_COUNT, 1, &counted, "count");
    if (writes & 64)
        tok_set_lifecycle(t, SOFTSE_LIFECYCLE_OPERATIONAL, "lifecycle");
    if (writes & 128) {
        tok_id keep = 1;
        tok_reset(t, &keep, 1, "reset");
    }
    tok_audit_verify(t, NULL, NULL, NULL);
    if (user)
        tok_keys_clear(&keys);
    tok_close(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = {data, size};
    write_copy(&in);
    exercise(&in);
    fz_arena_free();
    return 0;
}
