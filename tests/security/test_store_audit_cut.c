/*
 * test_store_audit_cut.c — issue 14, attack 4: "deleting the newest audit
 * rows still gave 'audit chain verified'" (docs/spec.md §7.1 property 4).  The
 * chain's head (seq and hash) is part of the authenticated token state:
 * newest rows deleted → the token is refused at open.  A middle row
 * deleted leaves the head alone: the module opens the token and
 * `softse-tool audit --verify` names the break (tests/security/
 * tool-audit-cut.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include "sec_common.h"

#include <cmocka.h>

static void newest_rows_deleted(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE k;
    static const unsigned char v[32] = {7};
    assert_rv(fx_create_aes(t->session, "a", true, true, false, v, 32, &k), CKR_OK);
    assert_rv(fx_create_aes(t->session, "b", true, true, false, v, 32, &k), CKR_OK);
    char path[PATH_MAX + 64], good[PATH_MAX + 64];
    sec_token_path(t, t->slot, path, sizeof(path));
    snprintf(good, sizeof(good), "%s/good.sqlite", t->root);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    sec_snapshot(path, good);
    sec_sql(path, "DELETE FROM audit WHERE seq > (SELECT max(seq) - 2 FROM audit)", 2);
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "audit");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    /* Rewriting the rest of the chain to end at a new head does not help. */
    sec_restore(good, path);
    sec_sql(path,
            "UPDATE audit SET detail = 'nothing happened', hash = zeroblob(32)"
            " WHERE seq = (SELECT max(seq) FROM audit)",
            1);
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "fails authentication");
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    sec_restore(good, path);
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    assert_int_equal(fx_count_label(s, "b"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(newest_rows_deleted, sec_setup_user, sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-audit-cut", tests, NULL, NULL);
}
