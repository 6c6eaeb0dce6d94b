/*
 * test_store_rollback.c — issue 14, attack 3: "restoring an older copy of
 * the whole file cleared a PIN lock and brought a destroyed key back";
 * also after an SK3 reject, a lifecycle transition and a PIN change
 * (docs/spec.md §7.1 property 3).  The older copy is restored with the module
 * finalized and its -wal/-shm removed.  Refused at open ("older than its
 * device counter"); the newest file still opens and logs in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include "sec_common.h"
#include "sk3_fixture.h"

#include <cmocka.h>

static const unsigned char value[32] = {0x11, 0x22, 0x33};

typedef struct rollback {
    char path[PATH_MAX + 64], old[PATH_MAX + 64], good[PATH_MAX + 64];
} rollback;

/* Before the event: the module is finalized, the file copied to old, and
 * the module initialized again. */
static void before(fx *t, rollback *r, CK_SLOT_ID slot)
{
    sec_token_path(t, slot, r->path, sizeof(r->path));
    snprintf(r->old, sizeof(r->old), "%s/old.sqlite", t->root);
    snprintf(r->good, sizeof(r->good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(r->path, r->old);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
}

/* After the event: the old copy put back is refused; then the newest file
 * is put back and the module is left initialized on it. */
static void after(fx *t, rollback *r, const char *label)
{
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(r->path, r->good);
    sec_restore(r->old, r->path);
    sec_assert_refused_at_init(t, label, "older than its device counter");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_restore(r->good, r->path);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_true(sec_token_listed(label));
}

static CK_SESSION_HANDLE user_session(const char *label, const char *pin)
{
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(fx_slot_by_label(label), true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, pin), CKR_OK);
    return s;
}

/* Attack: the PIN locked (10 wrong PINs), then the older file restored to
 * get the tries back. */
static void rollback_after_pin_lock(void **state)
{
    fx *t = *state;
    rollback r;
    before(t, &r, t->slot);
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(fx_slot_by_label(FX_TOKEN_LABEL), true, &s), CKR_OK);
    CK_RV rv;
    int n = 0;
    while ((rv = fx_login(s, CKU_USER, "000000")) == CKR_PIN_INCORRECT && n < 20)
        n++;
    assert_rv(rv, CKR_PIN_LOCKED);
    after(t, &r, FX_TOKEN_LABEL);
    CK_SLOT_ID slot = fx_slot_by_label(FX_TOKEN_LABEL);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_LOCKED);
    assert_rv(fx_open(slot, true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_PIN_LOCKED);
    assert_rv(fx_login(s, CKU_SO, FX_SO_PIN), CKR_OK); /* the SO can still unlock it */
}

/* Attack: a destroyed key brought back by the older file. */
static void rollback_after_destroy(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k;
    assert_rv(fx_create_aes(t->session, "doomed", true, true, false, value, 32, &k), CKR_OK);
    assert_rv(fx_create_aes(t->session, "kept", true, true, false, value, 32, &k), CKR_OK);
    rollback r;
    before(t, &r, t->slot);
    CK_SESSION_HANDLE s = user_session(FX_TOKEN_LABEL, FX_USER_PIN);
    assert_rv(t->f->C_DestroyObject(s, sec_find_one(s, "doomed")), CKR_OK);
    after(t, &r, FX_TOKEN_LABEL);
    s = user_session(FX_TOKEN_LABEL, FX_USER_PIN);
    assert_int_equal(fx_count_label(s, "doomed"), 0);
    assert_int_equal(fx_count_label(s, "kept"), 1);
}

/* Attack: an SK3 reject (CKA_SE_FAILURE_COUNT 0 -> 1) undone by the older
 * file. */
static void rollback_after_sk3_reject(void **state)
{
    fx *t = *state;
    sk3_world w;
    assert_rv(sk3_world_make(&w, &(sk3_world_opts){0}), CKR_OK);
    rollback r;
    before(t, &r, w.slot[SK3_J]);
    assert_rv(sk3_world_open(&w), CKR_OK);
    unsigned char ri[SK3_LEN] = {1}, rj[SK3_LEN] = {2}, rho[SK3_LEN] = {3};
    assert_rv(sk3_q4(w.session[SK3_J], w.host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN),
              CKR_SIGNATURE_INVALID);
    after(t, &r, sk3_token_label[SK3_J]);
    assert_rv(sk3_world_open(&w), CKR_OK);
    CK_ULONG count = 0;
    assert_rv(sk3_failure_count(w.session[SK3_J], w.host[SK3_J], &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(sk3_round(&w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
}

/* Attack: PERSONALIZATION -> OPERATIONAL undone by the older file (KI
 * derivation and SK3 key creation are allowed in PERSONALIZATION only). */
static void rollback_after_lifecycle(void **state)
{
    fx *t = *state;
    rollback r;
    before(t, &r, t->slot);
    assert_rv(sec_set_lifecycle(fx_slot_by_label(FX_TOKEN_LABEL), SOFTSE_LIFECYCLE_OPERATIONAL),
              CKR_OK);
    after(t, &r, FX_TOKEN_LABEL);
    CK_SESSION_HANDLE s = user_session(FX_TOKEN_LABEL, FX_USER_PIN);
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE hw;
    assert_int_equal(fx_find(s, match, 1, &hw, 1), 1);
    unsigned char lc = 0;
    CK_ATTRIBUTE a = {CKA_VALUE, &lc, 1};
    assert_rv(t->f->C_GetAttributeValue(s, hw, &a, 1), CKR_OK);
    assert_int_equal(lc, SOFTSE_LIFECYCLE_OPERATIONAL);
}

/* Attack: a PIN changed (because the old one leaked) and the older file,
 * which the old PIN opens, restored. */
static void rollback_after_pin_change(void **state)
{
    fx *t = *state;
    rollback r;
    before(t, &r, t->slot);
    CK_SESSION_HANDLE s = user_session(FX_TOKEN_LABEL, FX_USER_PIN);
    assert_rv(t->f->C_SetPIN(s, (CK_UTF8CHAR_PTR)FX_USER_PIN, strlen(FX_USER_PIN),
                             (CK_UTF8CHAR_PTR) "654321", 6),
              CKR_OK);
    after(t, &r, FX_TOKEN_LABEL);
    s = user_session(FX_TOKEN_LABEL, "654321");
    assert_rv(t->f->C_Logout(s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, FX_USER_PIN), CKR_PIN_INCORRECT);
}

/* Attack: a failed login undone by the older file (one more try). */
static void rollback_after_failed_login(void **state)
{
    fx *t = *state;
    rollback r;
    before(t, &r, t->slot);
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(fx_slot_by_label(FX_TOKEN_LABEL), true, &s), CKR_OK);
    assert_rv(fx_login(s, CKU_USER, "000000"), CKR_PIN_INCORRECT);
    after(t, &r, FX_TOKEN_LABEL);
    assert_true(fx_token_flags(fx_slot_by_label(FX_TOKEN_LABEL)) & CKF_USER_PIN_COUNT_LOW);
    (void)user_session(FX_TOKEN_LABEL, FX_USER_PIN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rollback_after_pin_lock, sec_setup_token, sec_teardown),
        cmocka_unit_test_setup_teardown(rollback_after_destroy, sec_setup_user, sec_teardown),
        cmocka_unit_test_setup_teardown(rollback_after_sk3_reject, sec_setup_module, sec_teardown),
        cmocka_unit_test_setup_teardown(rollback_after_lifecycle, sec_setup_token, sec_teardown),
        cmocka_unit_test_setup_teardown(rollback_after_pin_change, sec_setup_token, sec_teardown),
        cmocka_unit_test_setup_teardown(rollback_after_failed_login, sec_setup_token,
                                        sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-rollback", tests, NULL, NULL);
}
