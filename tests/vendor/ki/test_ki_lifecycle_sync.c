/*
 * In-card KI derivation refused in OPERATIONAL (docs/spec.md §3) when the state
 * was changed by another process.
 *
 * The lifecycle rule a vendor mechanism asks for (env_lifecycle_allows,
 * module/lifecycle.c) first syncs with the store, so a state another
 * process set a moment ago applies here at once.
 */
#include "ki_helpers.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cmocka.h>

/* The SO of another process (the admin tool) closes personalization while
 * this process has the token open: the next derivation here is refused. */
static void refused_after_another_process_closes_personalization(void **state)
{
    fx *t = *state;
    const kh_key *issuer = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    unsigned char c[KH_C_MAX];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE handle;
    assert_rv(
        kh_derive_default(t->session, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, issuer, c, &c_len, &handle),
        CKR_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_FUNCTION_LIST_PTR f = fx_functions();
        CK_SESSION_HANDLE so;
        CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
        CK_HW_FEATURE_TYPE feature = CKH_SE_LIFECYCLE;
        CK_ATTRIBUTE find[] = {{CKA_CLASS, &cls, sizeof(cls)},
                               {CKA_HW_FEATURE_TYPE, &feature, sizeof(feature)}};
        CK_OBJECT_HANDLE lifecycle;
        CK_ULONG found = 0;
        unsigned char operational = SOFTSE_LIFECYCLE_OPERATIONAL;
        CK_ATTRIBUTE value = {CKA_VALUE, &operational, 1};
        child_rv(f->C_Initialize(NULL), CKR_OK);
        child_rv(fx_open(t->slot, true, &so), CKR_OK);
        child_rv(fx_login(so, CKU_SO, FX_SO_PIN), CKR_OK);
        child_rv(f->C_FindObjectsInit(so, find, 2), CKR_OK);
        child_rv(f->C_FindObjects(so, &lifecycle, 1, &found), CKR_OK);
        child_check(found == 1);
        child_rv(f->C_FindObjectsFinal(so), CKR_OK);
        child_rv(f->C_SetAttributeValue(so, lifecycle, &value, 1), CKR_OK);
        child_rv(f->C_Finalize(NULL), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);
    /* Nothing in between that would make this process look at the store. */
    c_len = sizeof(c);
    handle = CK_INVALID_HANDLE;
    assert_rv(
        kh_derive_default(t->session, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, issuer, c, &c_len, &handle),
        CKR_SE_LIFECYCLE);
    assert_int_equal(handle, CK_INVALID_HANDLE);
    assert_int_equal(kh_count_objects(t->session), 1); /* the first KI (hardware features are not listed) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(refused_after_another_process_closes_personalization,
                                        fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("ki-lifecycle-sync", tests, NULL, NULL);
}
