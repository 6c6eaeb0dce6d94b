/*
 * test_store_tamper.c — issue 14, attack 2: "Without any PIN, editing the
 * file with sqlite3 reset an SK3 failure counter and the PIN failure
 * count, moved the lifecycle from OPERATIONAL back to PERSONALIZATION
 * without the erase, and flipped CKA_SENSITIVE/CKA_EXTRACTABLE on a
 * public-class copy of a GKEA K so the module handed out its value.
 * Replaying an old sealed row of CKA_EXTRACTABLE made a key wrappable
 * again."  docs/spec.md §7.1 property 2.
 *
 * The edits are made with the sqlite3 C API on the token file while the
 * module is finalized.  A token-state edit refuses the token at open (no
 * slot, log line); an object edit refuses that object (CKR_DEVICE_ERROR,
 * log "object N fails authentication"), the other objects still work.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include "sec_common.h"
#include "sk3_fixture.h"

#include <cmocka.h>

static const unsigned char secret[32] = {0x6b, 0x4b, 0x45, 0x41, 0x20, 0x4b, 0x20, 0x76,
                                         0x61, 0x6c, 0x75, 0x65, 0x21, 0x21, 0x21, 0x21};
static const unsigned char other_secret[32] = {0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13};
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* A token AES key; private_ FALSE is the "public-class copy" of the issue. */
static CK_OBJECT_HANDLE make_key(CK_SESSION_HANDLE s, const char *label, bool private_,
                                 bool sensitive, bool extractable, const unsigned char *value)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL is_private = private_, is_sensitive = sensitive, is_extractable = extractable;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, (void *)&yes, sizeof(yes)},
        {CKA_PRIVATE, &is_private, sizeof(is_private)},
        {CKA_SENSITIVE, &is_sensitive, sizeof(is_sensitive)},
        {CKA_EXTRACTABLE, &is_extractable, sizeof(is_extractable)},
        {CKA_ENCRYPT, (void *)&yes, sizeof(yes)},
        {CKA_DECRYPT, (void *)&yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, (void *)value, 32},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 10, &h), CKR_OK);
    return h;
}

/* A wrapping key (wrap/unwrap only: key separation). */
static CK_OBJECT_HANDLE make_wrap_key(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, (void *)&yes, sizeof(yes)},
        {CKA_WRAP, (void *)&yes, sizeof(yes)},
        {CKA_UNWRAP, (void *)&yes, sizeof(yes)},
        {CKA_LABEL, "wrapper", 7},
        {CKA_VALUE, (void *)other_secret, 32},
    };
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, 7, &h), CKR_OK);
    return h;
}

static CK_RV wrap(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE wrapper, CK_OBJECT_HANDLE key)
{
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    unsigned char out[128];
    CK_ULONG len = sizeof(out);
    return fx_functions()->C_WrapKey(s, &mech, wrapper, key, out, &len);
}

/* The store's row id of a token object (module/object.c: the low 40 bits
 * of its handle). */
static long long row_id(CK_OBJECT_HANDLE h)
{
    return (long long)(h & ((1ULL << 40) - 1));
}

static CK_RV get_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, unsigned char *out)
{
    CK_ATTRIBUTE a = {CKA_VALUE, out, 32};
    return fx_functions()->C_GetAttributeValue(s, h, &a, 1);
}

/* Restarts the module with stderr captured and a user session; the log
 * is returned (free) after the caller's action in *log_out via finish. */
static CK_SESSION_HANDLE reopen(void)
{
    return sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
}

static void assert_log(fx *t, const char *needle)
{
    char *log = fx_stderr_end(t);
    if (!strstr(log, needle)) {
        fprintf(stderr, "log:\n%s", log);
        fail_msg("no \"%s\" in the module's log", needle);
    }
    free(log);
}

/* ---- the token state ------------------------------------------------------------ */

/* Attack: after failed logins, "UPDATE pin SET failures = 0" gives the
 * tries back.  Now the token is refused; the untouched file still shows
 * the failures and logs in. */
static void pin_failures_reset(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(t->slot, true, &s), CKR_OK);
    for (int n = 0; n < 3; n++)
        assert_rv(fx_login(s, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    char path[PATH_MAX + 64], good[PATH_MAX + 64];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);
    assert_int_equal(sec_sql_int(path, "SELECT failures FROM pin WHERE user = 1"), 3);
    sec_sql(path, "UPDATE pin SET failures = 0 WHERE user = 1", 1);
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "fails authentication");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_slot_by_label(FX_TOKEN_LABEL);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_COUNT_LOW);
    assert_rv(fx_open(slot, true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_OK);
}

/* Attack: the PIN limit raised ("UPDATE pin SET max_failures = 1000000")
 * so that the PIN never locks. */
static void pin_limit_raised(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 64];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_sql(path, "UPDATE pin SET max_failures = 1000000", 2);
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "fails authentication");
}

/* Attack: OPERATIONAL → PERSONALIZATION by "UPDATE token SET lifecycle = 1"
 * without the erase that the real transition does (KI derivation and SK3
 * key creation then worked on the kept keys).  Now refused; the untouched
 * file is OPERATIONAL and keeps its key. */
static void lifecycle_moved_back(void **state)
{
    fx *t = *state;
    (void)make_key(t->session, "kept", true, true, false, secret);
    assert_rv(t->f->C_CloseSession(t->session), CKR_OK);
    assert_rv(sec_set_lifecycle(t->slot, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    char path[PATH_MAX + 64], good[PATH_MAX + 64];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);
    assert_int_equal(sec_sql_int(path, "SELECT lifecycle FROM token"), SOFTSE_LIFECYCLE_OPERATIONAL);
    sec_sql(path, "UPDATE token SET lifecycle = 1", 1);
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "fails authentication");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    CK_SESSION_HANDLE s = reopen();
    (void)sec_find_one(s, "kept");
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE hw;
    assert_int_equal(fx_find(s, match, 1, &hw, 1), 1);
    unsigned char lc = 0;
    CK_ATTRIBUTE value = {CKA_VALUE, &lc, 1};
    assert_rv(t->f->C_GetAttributeValue(s, hw, &value, 1), CKR_OK);
    assert_int_equal(lc, SOFTSE_LIFECYCLE_OPERATIONAL);
}

/* Attack: an SK3 host key's CKA_SE_FAILURE_COUNT reset by
 * "UPDATE counter SET value = 0" (and, in a second try, the token's
 * counters_total edited to match).  Both refuse the token; the untouched
 * file keeps the count and the other tokens work. */
static void sk3_counter_reset(void **state)
{
    fx *t = *state;
    sk3_world w;
    assert_rv(sk3_world_make(&w, &(sk3_world_opts){0}), CKR_OK);
    unsigned char ri[SK3_LEN] = {1}, rj[SK3_LEN] = {2}, rho[SK3_LEN] = {3};
    assert_rv(sk3_q4(w.session[SK3_J], w.host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN),
              CKR_SIGNATURE_INVALID);
    CK_ULONG count = 0;
    assert_rv(sk3_failure_count(w.session[SK3_J], w.host[SK3_J], &count), CKR_OK);
    assert_int_equal(count, 1);
    char path[PATH_MAX + 64], good[PATH_MAX + 64];
    sec_token_path(t, w.slot[SK3_J], path, sizeof(path));
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);

    sec_sql(path, "UPDATE counter SET value = 0", 1);
    sec_assert_refused_at_init(t, sk3_token_label[SK3_J], "a failure counter was edited");
    assert_true(sec_token_listed(sk3_token_label[SK3_I])); /* the others are fine */
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    sec_sql(path, "UPDATE counter SET value = 0; UPDATE token SET counters_total = 0", 2);
    sec_assert_refused_at_init(t, sk3_token_label[SK3_J], "fails authentication");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_rv(sk3_world_open(&w), CKR_OK);
    assert_rv(sk3_failure_count(w.session[SK3_J], w.host[SK3_J], &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(sk3_round(&w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
}

/* ---- objects ---------------------------------------------------------------------- */

/* Attack: CKA_SENSITIVE/CKA_EXTRACTABLE flipped in clear on a public-class
 * (CKA_PRIVATE FALSE) secret key, the "public copy of a GKEA K": the module
 * then handed out CKA_VALUE.  Now the object is refused (CKR_DEVICE_ERROR,
 * never the value); another key on the token still works. */
static void flags_flipped_on_public_key(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "public-k", false, true, false, secret);
    CK_OBJECT_HANDLE other = make_key(t->session, "other", false, false, true, other_secret);
    char path[PATH_MAX + 64], sql[256];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "UPDATE attribute SET value = x'00' WHERE object = %lld AND type = %lu;"
             "UPDATE attribute SET value = x'01' WHERE object = %lld AND type = %lu",
             row_id(k), (unsigned long)CKA_SENSITIVE, row_id(k), (unsigned long)CKA_EXTRACTABLE);
    sec_sql(path, sql, 2);

    CK_SESSION_HANDLE s = reopen();
    unsigned char value[32] = {0};
    fx_stderr_begin(t);
    CK_RV rv = get_value(s, k, value);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_false(memcmp(value, secret, 32) == 0);
    CK_BBOOL b;
    CK_ATTRIBUTE a = {CKA_SENSITIVE, &b, 1};
    assert_rv(t->f->C_GetAttributeValue(s, k, &a, 1), CKR_DEVICE_ERROR);
    /* The untouched key on the same token. */
    assert_rv(get_value(s, other, value), CKR_OK);
    assert_memory_equal(value, other_secret, 32);
}

/* The same on a private secret key: its rows are sealed, so the attacker
 * flips the stored flags column of its rows instead (and the clear
 * `sealed` marker): refused. */
static void flags_flipped_on_private_key(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "private-k", true, true, false, secret);
    CK_OBJECT_HANDLE wrapper = make_wrap_key(t->session);
    char path[PATH_MAX + 64], sql[256];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql), "UPDATE attribute SET flags = (flags | 1) - (flags & 1) WHERE object = %lld",
             row_id(k));
    sec_sql(path, sql, 1);

    CK_SESSION_HANDLE s = reopen();
    fx_stderr_begin(t);
    CK_RV rv = wrap(s, wrapper, k);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    /* The wrapping key itself is fine. */
    assert_int_equal(fx_get_bool(s, wrapper, CKA_WRAP), CK_TRUE);
}

/* Attack: the CKA_SENSITIVE and CKA_EXTRACTABLE rows of a readable key
 * copied onto a sensitive one (rows swapped between two objects). */
static void row_swapped_between_objects(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "guarded", false, true, false, secret);
    CK_OBJECT_HANDLE open_k = make_key(t->session, "readable", false, false, true, other_secret);
    char path[PATH_MAX + 64], sql[512];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "UPDATE attribute SET value = (SELECT value FROM attribute AS o WHERE o.object = %lld"
             " AND o.type = attribute.type), flags = (SELECT flags FROM attribute AS o WHERE"
             " o.object = %lld AND o.type = attribute.type) WHERE object = %lld AND type IN (%lu, %lu)",
             row_id(open_k), row_id(open_k), row_id(k), (unsigned long)CKA_SENSITIVE,
             (unsigned long)CKA_EXTRACTABLE);
    sec_sql(path, sql, 2);

    CK_SESSION_HANDLE s = reopen();
    unsigned char value[32] = {0};
    fx_stderr_begin(t);
    CK_RV rv = get_value(s, k, value);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_false(memcmp(value, secret, 32) == 0);
    assert_rv(get_value(s, open_k, value), CKR_OK);
    assert_memory_equal(value, other_secret, 32);
}

/* Attack: an attribute row deleted (CKA_SENSITIVE gone: a default might
 * apply). */
static void row_deleted(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "guarded", false, true, false, secret);
    CK_OBJECT_HANDLE other = make_key(t->session, "readable", false, false, true, other_secret);
    char path[PATH_MAX + 64], sql[256];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql), "DELETE FROM attribute WHERE object = %lld AND type IN (%lu, %lu)",
             row_id(k), (unsigned long)CKA_SENSITIVE, (unsigned long)CKA_EXTRACTABLE);
    sec_sql(path, sql, 2);

    CK_SESSION_HANDLE s = reopen();
    unsigned char value[32] = {0};
    fx_stderr_begin(t);
    CK_RV rv = get_value(s, k, value);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_false(memcmp(value, secret, 32) == 0);
    assert_rv(get_value(s, other, value), CKR_OK);
}

/* Attack: an attribute row added (CKA_EXTRACTABLE was stored by no one:
 * here the row is removed and a TRUE one inserted, as an addition). */
static void row_added(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "guarded", false, true, false, secret);
    char path[PATH_MAX + 64], sql[512];
    sec_token_path(t, t->slot, path, sizeof(path));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "INSERT INTO attribute (object, type, flags, sealed, value) VALUES (%lld, %lu, 0, 0,"
             " x'01')",
             row_id(k), (unsigned long)CKA_WRAP_WITH_TRUSTED + 0x1000UL);
    sec_sql(path, sql, 1);
    CK_SESSION_HANDLE s = reopen();
    unsigned char value[32];
    fx_stderr_begin(t);
    CK_RV rv = get_value(s, k, value);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
}

/* Attack: a row copied from another token file (the same object id in a
 * second token whose key is readable; its object row's version and MAC
 * copied too).  Token 1's key is refused; token 2 is untouched. */
static void row_copied_from_another_token(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k1 = make_key(t->session, "k", false, true, false, secret);
    char path1[PATH_MAX + 64], path2[PATH_MAX + 64], sql[PATH_MAX + 1024];
    sec_token_path(t, t->slot, path1, sizeof(path1));
    CK_SLOT_ID slot2 = fx_new_token("second");
    CK_SESSION_HANDLE s2;
    assert_rv(fx_open(slot2, true, &s2), CKR_OK);
    assert_rv(fx_login(s2, CKU_USER, FX_USER_PIN), CKR_OK);
    CK_OBJECT_HANDLE k2 = make_key(s2, "k", false, false, true, other_secret);
    assert_int_equal(row_id(k1), row_id(k2));
    sec_token_path(t, slot2, path2, sizeof(path2));
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    snprintf(sql, sizeof(sql),
             "ATTACH '%s' AS o;"
             "UPDATE attribute SET value = (SELECT value FROM o.attribute AS a WHERE a.object ="
             " attribute.object AND a.type = attribute.type) WHERE object = %lld AND type IN"
             " (%lu, %lu);"
             "UPDATE object SET version = (SELECT version FROM o.object WHERE id = %lld),"
             " mac = (SELECT mac FROM o.object WHERE id = %lld) WHERE id = %lld",
             path2, row_id(k1), (unsigned long)CKA_SENSITIVE, (unsigned long)CKA_EXTRACTABLE,
             row_id(k1), row_id(k1), row_id(k1));
    sec_sql(path1, sql, 3);

    CK_SESSION_HANDLE s = reopen();
    unsigned char value[32] = {0};
    fx_stderr_begin(t);
    CK_RV rv = get_value(s, k1, value);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_false(memcmp(value, secret, 32) == 0);
    CK_SESSION_HANDLE other;
    assert_rv(fx_open(fx_slot_by_label("second"), true, &other), CKR_OK);
    assert_rv(fx_login(other, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(get_value(other, sec_find_one(other, "k"), value), CKR_OK);
    assert_memory_equal(value, other_secret, 32);
}

/* Attack: "replaying an old sealed row of CKA_EXTRACTABLE made a key
 * wrappable again": the row saved before C_SetAttributeValue(CKA_EXTRACTABLE
 * FALSE) written back.  Now the key is refused (the wrap fails with
 * CKR_DEVICE_ERROR); without the replay it is CKR_KEY_UNEXTRACTABLE. */
static void sealed_row_replayed(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k = make_key(t->session, "once-extractable", true, true, true, secret);
    CK_OBJECT_HANDLE wrapper = make_wrap_key(t->session);
    assert_rv(wrap(t->session, wrapper, k), CKR_OK);
    char path[PATH_MAX + 64], old[PATH_MAX + 64], good[PATH_MAX + 64], sql[PATH_MAX + 1024];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(old, sizeof(old), "%s/old.sqlite", t->root);
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, old);

    CK_SESSION_HANDLE s = reopen();
    CK_ATTRIBUTE off = {CKA_EXTRACTABLE, (void *)&no, sizeof(no)};
    assert_rv(t->f->C_SetAttributeValue(s, k, &off, 1), CKR_OK);
    assert_rv(wrap(s, wrapper, k), CKR_KEY_UNEXTRACTABLE);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);
    snprintf(sql, sizeof(sql),
             "ATTACH '%s' AS o;"
             "UPDATE attribute SET value = (SELECT value FROM o.attribute AS a WHERE a.object ="
             " attribute.object AND a.type = attribute.type) WHERE object = %lld AND type = %lu",
             old, row_id(k), (unsigned long)CKA_EXTRACTABLE);
    sec_sql(path, sql, 1);

    s = reopen();
    fx_stderr_begin(t);
    CK_RV rv = wrap(s, wrapper, k);
    assert_log(t, "fails authentication");
    assert_rv(rv, CKR_DEVICE_ERROR);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    s = reopen();
    assert_int_equal(fx_get_bool(s, k, CKA_EXTRACTABLE), CK_FALSE);
    assert_rv(wrap(s, wrapper, k), CKR_KEY_UNEXTRACTABLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(pin_failures_reset, sec_setup_token, sec_teardown),
        cmocka_unit_test_setup_teardown(pin_limit_raised, sec_setup_token, sec_teardown),
        cmocka_unit_test_setup_teardown(lifecycle_moved_back, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(sk3_counter_reset, sec_setup_module, sec_teardown),
        cmocka_unit_test_setup_teardown(flags_flipped_on_public_key, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(flags_flipped_on_private_key, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(row_swapped_between_objects, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(row_deleted, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(row_added, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(row_copied_from_another_token, sec_setup_user,
                                        sec_teardown),
        cmocka_unit_test_setup_teardown(sealed_row_replayed, sec_setup_user, sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-tamper", tests, NULL, NULL);
}
