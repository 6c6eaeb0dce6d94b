/*
 * test_store_replay.c — one object put back from an older copy of its token
 * file (issue 14; docs/spec.md, "The device root of trust", property 2):
 * each object's MAC binds its rows to its version, and the token state
 * anchors the set of current (object, version) pairs, so an older version
 * of an object, or a destroyed one, put back row by row is refused; and a
 * whole file restored from before audit records that raised no version is
 * refused once the process that made them has closed the token.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include "sec_common.h"

#include <cmocka.h>

static const unsigned char secret[32] = {0x42, 0x42};
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static CK_OBJECT_HANDLE make_key(CK_SESSION_HANDLE s, const char *label, bool extractable)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL ext = extractable;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},         {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, (void *)&yes, 1},           {CKA_SENSITIVE, (void *)&yes, 1},
        {CKA_EXTRACTABLE, &ext, 1},             {CKA_ENCRYPT, (void *)&yes, 1},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_VALUE, (void *)secret, 32},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 8, &h), CKR_OK);
    return h;
}

static CK_OBJECT_HANDLE make_wrap_key(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, (void *)&yes, 1},   {CKA_WRAP, (void *)&yes, 1},
        {CKA_LABEL, "wrapper", 7},      {CKA_VALUE, (void *)secret, 32},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 6, &h), CKR_OK);
    return h;
}

static CK_RV wrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE wrapper, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    unsigned char out[128];
    CK_ULONG len = sizeof(out);
    return fx_functions()->C_WrapKey(s, &mech, wrapper, key, out, &len);
}

static long long row_id(CK_OBJECT_HANDLE h)
{
    return (long long)(h & ((1ULL << 40) - 1));
}

/* An older version of one object, all its rows with their MAC, put back
 * into the current file: the object set anchored in the token state no
 * longer matches, and every object use is refused. */
static void object_rows_replayed_with_their_version(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "once-extractable", true);
    CK_OBJECT_HANDLE wrapper = make_wrap_key(t->session);
    char path[PATH_MAX + 64], old[PATH_MAX + 64], sql[PATH_MAX + 1024];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(old, sizeof(old), "%s/old.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, old);
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    CK_ATTRIBUTE off = {CKA_EXTRACTABLE, (void *)&no, 1};
    assert_rv(t->f->C_SetAttributeValue(s, k, &off, 1), CKR_OK);
    assert_rv(wrap(s, wrapper, k), CKR_KEY_UNEXTRACTABLE);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "ATTACH '%s' AS o;"
             "DELETE FROM attribute WHERE object = %lld;"
             "INSERT INTO attribute SELECT * FROM o.attribute WHERE object = %lld;"
             "UPDATE object SET version = (SELECT version FROM o.object WHERE id = %lld),"
             " mac = (SELECT mac FROM o.object WHERE id = %lld) WHERE id = %lld",
             old, row_id(k), row_id(k), row_id(k), row_id(k), row_id(k));
    sec_sql(path, sql, 3);
    s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    CK_RV rv = wrap(s, wrapper, k);
    assert_rv(rv, CKR_DEVICE_ERROR);
}

/* The rows of a destroyed key put back from an older copy: refused like
 * a replayed object (the set has no such object). */
static void destroyed_object_rows_reinserted(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "doomed", false);
    char path[PATH_MAX + 64], old[PATH_MAX + 64], sql[PATH_MAX + 1024];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(old, sizeof(old), "%s/old.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, old);
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    assert_rv(t->f->C_DestroyObject(s, k), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "ATTACH '%s' AS o;"
             "INSERT INTO object SELECT * FROM o.object WHERE id = %lld;"
             "INSERT INTO attribute SELECT * FROM o.attribute WHERE object = %lld;"
             "INSERT INTO lookup SELECT * FROM o.lookup WHERE object = %lld",
             old, row_id(k), row_id(k), row_id(k));
    sec_sql(path, sql, 2);
    s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    CK_ATTRIBUTE find = {CKA_LABEL, (void *)"doomed", 6};
    CK_RV rv = t->f->C_FindObjectsInit(s, &find, 1);
    CK_OBJECT_HANDLE found = CK_INVALID_HANDLE;
    CK_ULONG n = 0;
    if (rv == CKR_OK) {
        rv = t->f->C_FindObjects(s, &found, 1, &n);
        t->f->C_FindObjectsFinal(s);
    }
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_int_equal(n, 0);
    CK_BBOOL b = 0;
    CK_ATTRIBUTE a = {CKA_SENSITIVE, &b, 1};
    assert_rv(t->f->C_GetAttributeValue(s, k, &a, 1), CKR_DEVICE_ERROR);
}

/* Audit records that raised no version (an object created), cut by
 * restoring the whole file as it was before them: the process that made
 * them anchored the log's head when it closed the token (C_Finalize), so
 * the older file is refused as rolled back. */
static void audit_cut_by_restoring_same_version_file(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 64], old[PATH_MAX + 64];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(old, sizeof(old), "%s/old.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, old);
    sqlite3_int64 old_head = sec_sql_int(path, "SELECT max(seq) FROM audit");
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    (void)make_key(s, "created-and-audited", true);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_true(sec_sql_int(path, "SELECT max(seq) FROM audit") > old_head);
    sec_restore(old, path);
    fx_stderr_begin(t);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    bool listed = sec_token_listed(FX_TOKEN_LABEL);
    free(fx_stderr_end(t));
    assert_false(listed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(object_rows_replayed_with_their_version, sec_setup_user,
                                        sec_teardown),
        cmocka_unit_test_setup_teardown(destroyed_object_rows_reinserted, sec_setup_user,
                                        sec_teardown),
        cmocka_unit_test_setup_teardown(audit_cut_by_restoring_same_version_file, sec_setup_user,
                                        sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-replay", tests, NULL, NULL);
}
