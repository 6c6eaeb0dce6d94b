/*
 * sec_common.c — see sec_common.h.
 */
#include "sec_common.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

void sec_rot_dir(fx *t, const char *name)
{
    char dir[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/%s", t->root, name);
    setenv("SOFTSE_ROT_DIR", dir, 1);
    unsetenv("SOFTSE_ROT_PROVIDER");
    unsetenv("SOFTSE_ROT_TCTI");
}

/* The shared fixture's set-ups, each test with its own device root key. */
int sec_setup_env(void **state)
{
    fx_own_rot_dir(true);
    return fx_setup_env(state);
}

int sec_setup_module(void **state)
{
    fx_own_rot_dir(true);
    return fx_setup_module(state);
}

int sec_setup_token(void **state)
{
    fx_own_rot_dir(true);
    return fx_setup_token(state);
}

int sec_setup_user(void **state)
{
    fx_own_rot_dir(true);
    return fx_setup_user(state);
}

int sec_teardown(void **state)
{
    return fx_teardown(state);
}

void sec_token_path(fx *t, CK_SLOT_ID slot, char *path, size_t size)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(slot, &info), CKR_OK);
    snprintf(path, size, "%s/%.16s.sqlite", t->store, (const char *)info.serialNumber);
}

void sec_copy_file(const char *from, const char *to)
{
    size_t len = 0;
    unsigned char *data = fx_read_file(from, &len);
    if (!data)
        fail_msg("cannot read %s", from);
    int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        fail_msg("cannot write %s: %s", to, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        assert_true(n > 0);
        done += (size_t)n;
    }
    assert_int_equal(close(fd), 0);
    free(data);
}

static sqlite3 *open_db(const char *path)
{
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
        fail_msg("sqlite3_open_v2 %s: %s", path, db ? sqlite3_errmsg(db) : "no memory");
    sqlite3_busy_timeout(db, 5000);
    return db;
}

void sec_snapshot(const char *path, const char *copy)
{
    sqlite3 *db = open_db(path);
    char *err = NULL;
    if (sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, &err) != SQLITE_OK)
        fail_msg("checkpoint %s: %s", path, err ? err : "?");
    sqlite3_close(db);
    sec_copy_file(path, copy);
}

void sec_restore(const char *copy, const char *path)
{
    char side[PATH_MAX + 8];
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
    sec_copy_file(copy, path);
}

void sec_sql(const char *path, const char *sql, int min_changes)
{
    sqlite3 *db = open_db(path);
    char *err = NULL;
    int before = sqlite3_total_changes(db);
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%s on %s: %s", sql, path, err ? err : "?");
    int changed = sqlite3_total_changes(db) - before;
    sqlite3_close(db);
    if (changed < min_changes)
        fail_msg("%s changed %d rows, expected at least %d", sql, changed, min_changes);
}

sqlite3_int64 sec_sql_int(const char *path, const char *sql)
{
    sqlite3 *db = open_db(path);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    if (sqlite3_step(s) != SQLITE_ROW)
        fail_msg("%s: no row", sql);
    sqlite3_int64 value = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return value;
}

bool sec_token_listed(const char *label)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_UTF8CHAR padded[32];
    fx_pad(padded, sizeof(padded), label);
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    assert_rv(f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        CK_RV rv = f->C_GetTokenInfo(slots[i], &info);
        if (rv == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) &&
            memcmp(info.label, padded, 32) == 0)
            return true;
    }
    return false;
}

void sec_assert_refused_at_init(fx *t, const char *label, const char *needle)
{
    fx_stderr_begin(t);
    CK_RV rv = fx_functions()->C_Initialize(NULL_PTR);
    bool listed = rv == CKR_OK && sec_token_listed(label);
    char *log = fx_stderr_end(t);
    assert_rv(rv, CKR_OK);
    if (listed) {
        fprintf(stderr, "log:\n%s", log);
        fail_msg("token \"%s\" is listed: the attack was not detected", label);
    }
    if (!strstr(log, needle)) {
        fprintf(stderr, "log:\n%s", log);
        fail_msg("no \"%s\" in the module's log", needle);
    }
    free(log);
}

CK_SESSION_HANDLE sec_assert_usable(const char *label, const char *pin)
{
    assert_rv(fx_functions()->C_Initialize(NULL_PTR), CKR_OK);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(fx_slot_by_label(label), true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, pin), CKR_OK);
    return session;
}

CK_OBJECT_HANDLE sec_find_one(CK_SESSION_HANDLE session, const char *label)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE found[2];
    CK_ULONG n = fx_find(session, tmpl, 1, found, 2);
    if (n != 1)
        fail_msg("%lu objects labelled \"%s\", expected 1", (unsigned long)n, label);
    return found[0];
}

CK_RV sec_set_lifecycle(CK_SLOT_ID slot, unsigned char state)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s;
    CK_RV rv = fx_open(slot, true, &s);
    if (rv != CKR_OK)
        return rv;
    f->C_Logout(s);
    rv = fx_login(s, CKU_SO, FX_SO_PIN);
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE feature = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE match[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_HW_FEATURE_TYPE, &feature, sizeof(feature)},
    };
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    CK_ULONG got = 0;
    if (rv == CKR_OK)
        rv = f->C_FindObjectsInit(s, match, 2);
    if (rv == CKR_OK) {
        rv = f->C_FindObjects(s, &object, 1, &got);
        f->C_FindObjectsFinal(s);
    }
    if (rv == CKR_OK && got != 1)
        rv = CKR_GENERAL_ERROR;
    CK_ATTRIBUTE value = {CKA_VALUE, &state, 1};
    if (rv == CKR_OK)
        rv = f->C_SetAttributeValue(s, object, &value, 1);
    f->C_Logout(s);
    f->C_CloseSession(s);
    return rv;
}
