/*
 * Finding objects and who sees them: C_FindObjectsInit/C_FindObjects/
 * C_FindObjectsFinal (PKCS#11 3.0 §5.7), private objects and login,
 * session objects and their session, token objects and restarts.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static const CK_BBOOL yes = CK_TRUE;

static void private_objects_need_login(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE private_obj, public_obj;
    assert_rv(fx_create_data(t->session, "private", true, true, "p", 1, &private_obj), CKR_OK);
    assert_rv(fx_create_data(t->session, "public", true, false, "q", 1, &public_obj), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "private"), 1);

    assert_rv(t->f->C_Logout(t->session), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "private"), 0);
    assert_int_equal(fx_count_label(t->session, "public"), 1);
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE all_data[] = {{CKA_CLASS, &data, sizeof(data)}};
    assert_int_equal(fx_find(t->session, all_data, 1, NULL, 0), 1);
    char value[4];
    CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
    assert_rv_in(t->f->C_GetAttributeValue(t->session, private_obj, &read, 1),
                 CKR_OBJECT_HANDLE_INVALID, CKR_USER_NOT_LOGGED_IN);
    assert_rv(t->f->C_GetAttributeValue(t->session, public_obj, &read, 1), CKR_OK);

    /* also from another process that has not logged in */
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_FUNCTION_LIST_PTR f = fx_functions();
        CK_SESSION_HANDLE session;
        CK_OBJECT_HANDLE found[4];
        CK_ULONG count = 0;
        child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
        child_rv(fx_open(t->slot, false, &session), CKR_OK);
        child_rv(f->C_FindObjectsInit(session, all_data, 1), CKR_OK);
        child_rv(f->C_FindObjects(session, found, 4, &count), CKR_OK);
        child_rv(f->C_FindObjectsFinal(session), CKR_OK);
        child_check(count == 1 && found[0] == public_obj);
        _exit(0);
    }
    fx_assert_child_ok(pid);

    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "private"), 1);
    assert_int_equal(fx_find(t->session, all_data, 1, NULL, 0), 2);
    assert_rv(t->f->C_GetAttributeValue(t->session, private_obj, &read, 1), CKR_OK);
    assert_int_equal(read.ulValueLen, 1);
    assert_memory_equal(value, "p", 1);

    /* the SO sees public objects only */
    assert_rv(t->f->C_Logout(t->session), CKR_OK);
    assert_rv(fx_login(t->session, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "private"), 0);
    assert_int_equal(fx_count_label(t->session, "public"), 1);
}

static void session_objects_end_with_their_session(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE other;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_open(t->slot, true, &other), CKR_OK);
    assert_rv(fx_create_data(other, "temporary", false, false, "t", 1, &object), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "temporary"), 1);
    assert_rv(t->f->C_CloseSession(other), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "temporary"), 0);
    CK_ATTRIBUTE label = {CKA_LABEL, NULL_PTR, 0};
    assert_rv(t->f->C_GetAttributeValue(t->session, object, &label, 1), CKR_OBJECT_HANDLE_INVALID);
}

static void token_objects_persist(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE token_public, token_private, session_obj;
    assert_rv(fx_create_data(t->session, "kept", true, false, "k1", 2, &token_public), CKR_OK);
    assert_rv(fx_create_data(t->session, "kept-private", true, true, "k2", 2, &token_private),
              CKR_OK);
    assert_rv(fx_create_data(t->session, "gone", false, false, "g", 1, &session_obj), CKR_OK);

    assert_rv(fx_restart(), CKR_OK);
    assert_rv(fx_open(t->slot, true, &t->session), CKR_OK);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_int_equal(fx_count_label(t->session, "gone"), 0);
    CK_OBJECT_HANDLE found[4];
    CK_ATTRIBUTE kept[] = {{CKA_LABEL, "kept", 4}};
    assert_int_equal(fx_find(t->session, kept, 1, found, 4), 1);
    assert_int_equal(found[0], token_public); /* handles of token objects are stable */
    CK_ATTRIBUTE kept_private[] = {{CKA_LABEL, "kept-private", 12}};
    assert_int_equal(fx_find(t->session, kept_private, 1, found, 4), 1);
    assert_int_equal(found[0], token_private);
    char value[4];
    CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
    assert_rv(t->f->C_GetAttributeValue(t->session, token_private, &read, 1), CKR_OK);
    assert_int_equal(read.ulValueLen, 2);
    assert_memory_equal(value, "k2", 2);
    assert_int_equal(fx_get_bool(t->session, token_private, CKA_TOKEN), CK_TRUE);
    assert_int_equal(fx_get_bool(t->session, token_private, CKA_PRIVATE), CK_TRUE);
}

/* Three data objects and two secret keys; two of them token objects. */
static void populate(fx *t, CK_OBJECT_HANDLE handles[5])
{
    CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE d1[] = {{CKA_CLASS, &data, sizeof(data)},
                         {CKA_LABEL, "alpha", 5},
                         {CKA_APPLICATION, "app1", 4},
                         {CKA_TOKEN, (void *)&yes, 1}};
    CK_ATTRIBUTE d2[] = {
        {CKA_CLASS, &data, sizeof(data)}, {CKA_LABEL, "alpha", 5}, {CKA_APPLICATION, "app2", 4}};
    CK_ATTRIBUTE d3[] = {{CKA_CLASS, &data, sizeof(data)}, {CKA_LABEL, "beta", 4}};
    CK_ATTRIBUTE k1[] = {{CKA_CLASS, &secret, sizeof(secret)},
                         {CKA_KEY_TYPE, &generic, sizeof(generic)},
                         {CKA_LABEL, "alpha", 5},
                         {CKA_ID, "\x01", 1},
                         {CKA_TOKEN, (void *)&yes, 1},
                         {CKA_VALUE, "0123456789abcdef", 16}};
    CK_ATTRIBUTE k2[] = {{CKA_CLASS, &secret, sizeof(secret)},
                         {CKA_KEY_TYPE, &generic, sizeof(generic)},
                         {CKA_LABEL, "gamma", 5},
                         {CKA_ID, "\x02", 1},
                         {CKA_VALUE, "fedcba9876543210", 16}};
    assert_rv(t->f->C_CreateObject(t->session, d1, 4, &handles[0]), CKR_OK);
    assert_rv(t->f->C_CreateObject(t->session, d2, 3, &handles[1]), CKR_OK);
    assert_rv(t->f->C_CreateObject(t->session, d3, 2, &handles[2]), CKR_OK);
    assert_rv(t->f->C_CreateObject(t->session, k1, 6, &handles[3]), CKR_OK);
    assert_rv(t->f->C_CreateObject(t->session, k2, 5, &handles[4]), CKR_OK);
}

static bool contains(const CK_OBJECT_HANDLE *list, CK_ULONG count, CK_OBJECT_HANDLE h)
{
    for (CK_ULONG i = 0; i < count; i++)
        if (list[i] == h)
            return true;
    return false;
}

static void find_templates(void **state)
{
    fx *t = *state;
    CK_ATTRIBUTE all[1];
    CK_ULONG baseline = fx_find(t->session, all, 0, NULL, 0);
    CK_OBJECT_HANDLE h[5], found[16];
    populate(t, h);

    CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY, cert = CKO_CERTIFICATE;
    CK_ATTRIBUTE by_class[] = {{CKA_CLASS, &data, sizeof(data)}};
    CK_ULONG n = fx_find(t->session, by_class, 1, found, 16);
    assert_int_equal(n, 3);
    assert_true(contains(found, n, h[0]) && contains(found, n, h[1]) && contains(found, n, h[2]));

    CK_ATTRIBUTE by_label[] = {{CKA_LABEL, "alpha", 5}};
    n = fx_find(t->session, by_label, 1, found, 16);
    assert_int_equal(n, 3);
    assert_true(contains(found, n, h[0]) && contains(found, n, h[1]) && contains(found, n, h[3]));

    CK_ATTRIBUTE by_id[] = {{CKA_ID, "\x01", 1}};
    assert_int_equal(fx_find(t->session, by_id, 1, found, 16), 1);
    assert_int_equal(found[0], h[3]);
    CK_ATTRIBUTE by_application[] = {{CKA_APPLICATION, "app2", 4}};
    assert_int_equal(fx_find(t->session, by_application, 1, found, 16), 1);
    assert_int_equal(found[0], h[1]);
    CK_ATTRIBUTE by_class_id[] = {{CKA_CLASS, &secret, sizeof(secret)}, {CKA_ID, "\x02", 1}};
    assert_int_equal(fx_find(t->session, by_class_id, 2, found, 16), 1);
    assert_int_equal(found[0], h[4]);
    CK_ATTRIBUTE by_class_label[] = {{CKA_CLASS, &data, sizeof(data)}, {CKA_LABEL, "alpha", 5}};
    assert_int_equal(fx_find(t->session, by_class_label, 2, found, 16), 2);
    CK_ATTRIBUTE token_only[] = {{CKA_TOKEN, (void *)&yes, 1}};
    n = fx_find(t->session, token_only, 1, found, 16);
    assert_int_equal(n, 2);
    assert_true(contains(found, n, h[0]) && contains(found, n, h[3]));

    /* matches nothing */
    CK_ATTRIBUTE none_class[] = {{CKA_CLASS, &cert, sizeof(cert)}};
    assert_int_equal(fx_find(t->session, none_class, 1, found, 16), 0);
    CK_ATTRIBUTE longer_label[] = {{CKA_LABEL, "alphabet", 8}};
    assert_int_equal(fx_find(t->session, longer_label, 1, found, 16), 0);
    CK_ATTRIBUTE prefix_label[] = {{CKA_LABEL, "alp", 3}};
    assert_int_equal(fx_find(t->session, prefix_label, 1, found, 16), 0);
    CK_ATTRIBUTE unknown_attr[] = {{0x7ff00001, "x", 1}};
    assert_int_equal(fx_find(t->session, unknown_attr, 1, found, 16), 0);

    /* empty template: everything visible */
    assert_int_equal(fx_find(t->session, all, 0, found, 16), baseline + 5);
}

static void find_in_steps(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE h[5];
    populate(t, h);
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &data, sizeof(data)}};
    CK_OBJECT_HANDLE found[8] = {0};
    CK_ULONG count = 99;
    assert_rv(t->f->C_FindObjectsInit(t->session, tmpl, 1), CKR_OK);
    assert_rv(t->f->C_FindObjects(t->session, found, 1, &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(t->f->C_FindObjects(t->session, found + 1, 7, &count), CKR_OK);
    assert_int_equal(count, 2);
    assert_rv(t->f->C_FindObjects(t->session, found + 3, 5, &count), CKR_OK);
    assert_int_equal(count, 0);
    assert_rv(t->f->C_FindObjectsFinal(t->session), CKR_OK);
    assert_true(contains(found, 3, h[0]) && contains(found, 3, h[1]) && contains(found, 3, h[2]));

    /* NULL arguments */
    assert_rv(t->f->C_FindObjectsInit(t->session, NULL_PTR, 1), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_FindObjectsInit(t->session, tmpl, 1), CKR_OK);
    assert_rv(t->f->C_FindObjects(t->session, NULL_PTR, 1, &count), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_FindObjects(t->session, found, 1, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv_in(t->f->C_FindObjectsFinal(t->session), CKR_OK, CKR_OPERATION_NOT_INITIALIZED);
}

static void find_operation_state(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE found[4];
    CK_ULONG count;
    assert_rv(t->f->C_FindObjects(t->session, found, 4, &count), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(t->f->C_FindObjectsFinal(t->session), CKR_OPERATION_NOT_INITIALIZED);
    assert_rv(t->f->C_FindObjectsInit(t->session, NULL_PTR, 0), CKR_OK);
    assert_rv(t->f->C_FindObjectsInit(t->session, NULL_PTR, 0), CKR_OPERATION_ACTIVE);
    /* one session's search does not block another's */
    CK_SESSION_HANDLE other;
    assert_rv(fx_open(t->slot, false, &other), CKR_OK);
    assert_rv(t->f->C_FindObjectsInit(other, NULL_PTR, 0), CKR_OK);
    assert_rv(t->f->C_FindObjectsFinal(other), CKR_OK);
    assert_rv(t->f->C_FindObjectsFinal(t->session), CKR_OK);
    assert_rv(t->f->C_FindObjectsFinal(t->session), CKR_OPERATION_NOT_INITIALIZED);
}

/* Hardware feature objects are returned only to a search that asks for
 * CKO_HW_FEATURE (PKCS#11 3.0 §4.3). */
static void hardware_features_only_on_request(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE found[64];
    CK_ATTRIBUTE all[1];
    CK_ULONG n = fx_find(t->session, all, 0, found, 64);
    for (CK_ULONG i = 0; i < n; i++)
        assert_int_not_equal(fx_get_ulong(t->session, found[i], CKA_CLASS), CKO_HW_FEATURE);
    CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
    CK_ATTRIBUTE features[] = {{CKA_CLASS, &hw, sizeof(hw)}};
    n = fx_find(t->session, features, 1, found, 64);
    for (CK_ULONG i = 0; i < n; i++)
        assert_int_equal(fx_get_ulong(t->session, found[i], CKA_CLASS), CKO_HW_FEATURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(private_objects_need_login, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(session_objects_end_with_their_session, fx_setup_user,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(token_objects_persist, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(find_templates, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(find_in_steps, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(find_operation_state, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(hardware_features_only_on_request, fx_setup_user,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("find", tests, NULL, NULL);
}
