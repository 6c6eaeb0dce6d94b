/*
 * C_Initialize, C_Finalize, C_GetInfo, the function lists and interfaces
 * (PKCS#11 3.0 §5.4), and behaviour across fork().
 */
#include "p11_fixture.h"
#include "threads_probe.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

static void calls_before_initialize(void **state)
{
    fx *t = *state;
    CK_INFO info;
    CK_ULONG count = 0;
    CK_SESSION_HANDLE session;
    CK_TOKEN_INFO token;
    assert_rv(t->f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(t->f->C_GetSlotList(CK_FALSE, NULL_PTR, &count), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(t->f->C_GetTokenInfo(0, &token), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(t->f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL_PTR, NULL_PTR, &session),
              CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(t->f->C_CloseAllSessions(0), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_CRYPTOKI_NOT_INITIALIZED);
}

static void initialize_twice(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_CRYPTOKI_ALREADY_INITIALIZED);
    assert_rv(t->f->C_Finalize((CK_VOID_PTR)&t), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_CRYPTOKI_NOT_INITIALIZED);
    /* and the cycle can be repeated */
    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* ---- CK_C_INITIALIZE_ARGS ------------------------------------------------------- */

static struct {
    int created, destroyed, locked, unlocked;
} mutex_calls;
static pthread_mutex_t mutex_calls_lock = PTHREAD_MUTEX_INITIALIZER;

static void count(int *counter)
{
    pthread_mutex_lock(&mutex_calls_lock);
    (*counter)++;
    pthread_mutex_unlock(&mutex_calls_lock);
}

static CK_RV create_mutex(CK_VOID_PTR_PTR out)
{
    pthread_mutex_t *m = malloc(sizeof(*m));
    if (!out || !m || pthread_mutex_init(m, NULL) != 0) {
        free(m);
        return CKR_HOST_MEMORY;
    }
    *out = m;
    count(&mutex_calls.created);
    return CKR_OK;
}

static CK_RV destroy_mutex(CK_VOID_PTR m)
{
    if (!m)
        return CKR_MUTEX_BAD;
    pthread_mutex_destroy(m);
    free(m);
    count(&mutex_calls.destroyed);
    return CKR_OK;
}

static CK_RV lock_mutex(CK_VOID_PTR m)
{
    if (!m || pthread_mutex_lock(m) != 0)
        return CKR_MUTEX_BAD;
    count(&mutex_calls.locked);
    return CKR_OK;
}

static CK_RV unlock_mutex(CK_VOID_PTR m)
{
    if (!m || pthread_mutex_unlock(m) != 0)
        return CKR_MUTEX_NOT_LOCKED;
    count(&mutex_calls.unlocked);
    return CKR_OK;
}

/* Some work that a module must protect: sessions, login, objects. */
static void exercise_token(void)
{
    CK_SLOT_ID slot = fx_new_token("mutex");
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(fx_create_data(session, "d", false, false, "v", 1, &object), CKR_OK);
    assert_int_equal(fx_count_label(session, "d"), 1);
    assert_rv(fx_functions()->C_CloseSession(session), CKR_OK);
}

/* Without CKF_OS_LOCKING_OK the library must use the application's
 * callbacks (PKCS#11 3.0 §5.4.1, case 3). */
static void initialize_with_mutex_callbacks(void **state)
{
    fx *t = *state;
    memset(&mutex_calls, 0, sizeof(mutex_calls));
    assert_rv(fx_initialize_args(create_mutex, destroy_mutex, lock_mutex, unlock_mutex, 0, NULL),
              CKR_OK);
    exercise_token();
    assert_true(mutex_calls.created > 0);
    assert_true(mutex_calls.locked > 0);
    assert_int_equal(mutex_calls.locked, mutex_calls.unlocked);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_int_equal(mutex_calls.destroyed, mutex_calls.created);
}

static void initialize_with_os_locking(void **state)
{
    fx *t = *state;
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL), CKR_OK);
    exercise_token();
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    /* Both: the library may use either. */
    memset(&mutex_calls, 0, sizeof(mutex_calls));
    assert_rv(fx_initialize_args(create_mutex, destroy_mutex, lock_mutex, unlock_mutex,
                                 CKF_OS_LOCKING_OK, NULL),
              CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_int_equal(mutex_calls.destroyed, mutex_calls.created);
    assert_int_equal(mutex_calls.locked, mutex_calls.unlocked);

    /* No threads of its own are needed, so this is fine too. */
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, CKF_LIBRARY_CANT_CREATE_OS_THREADS, NULL),
              CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* A session key: its birth is an audit record, spooled (tokens/spool.c). */
static void make_session_key(void)
{
    CK_SLOT_ID slot = fx_new_token("threads");
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    CK_MECHANISM mech = {CKM_AES_KEY_GEN, NULL_PTR, 0};
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {{CKA_VALUE_LEN, &len, sizeof(len)}};
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(fx_functions()->C_GenerateKey(session, &mech, tmpl, 1, &key), CKR_OK);
    assert_rv(fx_functions()->C_DestroyObject(session, key), CKR_OK);
}

/* The module's one thread (chaining spooled audit records) exists only
 * when the application allows threads, and ends with C_Finalize. */
static void threads_only_when_allowed(void **state)
{
    fx *t = *state;
    size_t base = threads_probe_count();
    assert_true(base > 0); /* /proc is there: the counts below mean something */
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, CKF_LIBRARY_CANT_CREATE_OS_THREADS, NULL),
              CKR_OK);
    make_session_key();
    assert_int_equal(threads_probe_count(), base);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    assert_rv(t->f->C_Initialize(NULL_PTR), CKR_OK);
    make_session_key();
    assert_int_equal(threads_probe_count(), base + 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_int_equal(threads_probe_settle(base), base);
}

static void initialize_bad_args(void **state)
{
    fx *t = *state;
    /* some but not all callbacks */
    assert_rv(fx_initialize_args(create_mutex, destroy_mutex, NULL, NULL, 0, NULL),
              CKR_ARGUMENTS_BAD);
    assert_rv(fx_initialize_args(NULL, NULL, NULL, unlock_mutex, CKF_OS_LOCKING_OK, NULL),
              CKR_ARGUMENTS_BAD);
    /* pReserved, when given, is a settings string (tests/integration/test_config.c) */
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, 0, (CK_VOID_PTR) "not a setting"),
              CKR_ARGUMENTS_BAD);
    /* none of these left the library initialized */
    CK_INFO info;
    assert_rv(t->f->C_GetInfo(&info), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, 0, NULL), CKR_OK);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* ---- C_GetInfo, function lists, interfaces ------------------------------------------- */

static void assert_padded(const CK_UTF8CHAR *field, size_t size)
{
    for (size_t i = 0; i < size; i++)
        assert_true(field[i] >= 0x20); /* blank padded, no NUL */
}

static void get_info(void **state)
{
    fx *t = *state;
    CK_INFO info;
    assert_rv(t->f->C_GetInfo(NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetInfo(&info), CKR_OK);
    assert_int_equal(info.cryptokiVersion.major, 3);
    assert_int_equal(info.cryptokiVersion.minor, 0);
    assert_int_equal(info.flags, 0);
    assert_padded(info.manufacturerID, sizeof(info.manufacturerID));
    assert_padded(info.libraryDescription, sizeof(info.libraryDescription));
}

static void function_list(void **state)
{
    (void)state;
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)fx_symbol("C_GetFunctionList");
    assert_non_null(get);
    assert_rv(get(NULL_PTR), CKR_ARGUMENTS_BAD);
    CK_FUNCTION_LIST_PTR list = NULL;
    assert_rv(get(&list), CKR_OK);
    assert_non_null(list);
    assert_true((list->version.major == 2 && list->version.minor == 40) ||
                (list->version.major == 3 && list->version.minor == 0));
    /* every entry of the 2.40 list is callable */
    const char *start = (const char *)&list->C_Initialize;
    const char *end = (const char *)(list + 1);
    for (const char *p = start; p < end; p += sizeof(CK_C_Initialize)) {
        CK_C_Initialize fn;
        memcpy(&fn, p, sizeof(fn));
        if (!fn)
            fail_msg("C_GetFunctionList: entry %zu is NULL",
                     (size_t)(p - start) / sizeof(CK_C_Initialize));
    }
    /* the list works before C_Initialize, as C_GetFunctionList must */
    assert_rv(list->C_Initialize(NULL_PTR), CKR_OK);
    assert_rv(list->C_Finalize(NULL_PTR), CKR_OK);
}

static bool is_version(CK_VERSION v, int major, int minor)
{
    return v.major == major && v.minor == minor;
}

static void interface_list(void **state)
{
    (void)state;
    CK_C_GetInterfaceList get = (CK_C_GetInterfaceList)fx_symbol("C_GetInterfaceList");
    assert_non_null(get);
    CK_ULONG count = 0;
    assert_rv(get(NULL_PTR, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(get(NULL_PTR, &count), CKR_OK);
    assert_true(count >= 2);
    CK_INTERFACE list[16];
    CK_ULONG small = 1;
    assert_rv(get(list, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, count);
    CK_ULONG got = 16;
    assert_rv(get(list, &got), CKR_OK);
    assert_int_equal(got, count);
    bool v30 = false, v240 = false;
    for (CK_ULONG i = 0; i < got; i++) {
        assert_non_null(list[i].pInterfaceName);
        assert_non_null(list[i].pFunctionList);
        /* the child of a fork() must call C_Initialize again (see
         * fork_child_reinitializes): that is not CKF_INTERFACE_FORK_SAFE */
        assert_false(list[i].flags & CKF_INTERFACE_FORK_SAFE);
        if (strcmp((const char *)list[i].pInterfaceName, "PKCS 11") != 0)
            continue;
        CK_VERSION v = *(CK_VERSION *)list[i].pFunctionList;
        v30 |= is_version(v, 3, 0);
        v240 |= is_version(v, 2, 40);
    }
    assert_true(v30);
    assert_true(v240);
}

static void get_interface(void **state)
{
    (void)state;
    CK_C_GetInterface get = (CK_C_GetInterface)fx_symbol("C_GetInterface");
    assert_non_null(get);
    CK_UTF8CHAR_PTR name = (CK_UTF8CHAR_PTR) "PKCS 11";
    CK_INTERFACE_PTR iface = NULL;
    CK_VERSION v30 = {3, 0}, v240 = {2, 40}, v10 = {1, 0};

    assert_rv(get(name, NULL_PTR, NULL_PTR, 0), CKR_ARGUMENTS_BAD);
    assert_rv(get(name, NULL_PTR, &iface, 0), CKR_OK);
    assert_non_null(iface);
    assert_string_equal((const char *)iface->pInterfaceName, "PKCS 11");
    assert_true(((CK_VERSION *)iface->pFunctionList)->major >= 2);

    assert_rv(get(NULL_PTR, NULL_PTR, &iface, 0), CKR_OK);
    assert_non_null(iface);

    assert_rv(get(name, &v30, &iface, 0), CKR_OK);
    assert_true(is_version(*(CK_VERSION *)iface->pFunctionList, 3, 0));
    CK_FUNCTION_LIST_3_0_PTR list = iface->pFunctionList;
    const char *start = (const char *)&list->C_Initialize;
    const char *end = (const char *)(list + 1);
    for (const char *p = start; p < end; p += sizeof(CK_C_Initialize)) {
        CK_C_Initialize fn;
        memcpy(&fn, p, sizeof(fn));
        if (!fn)
            fail_msg("3.0 function list: entry %zu is NULL",
                     (size_t)(p - start) / sizeof(CK_C_Initialize));
    }

    assert_rv(get(name, &v240, &iface, 0), CKR_OK);
    assert_true(is_version(*(CK_VERSION *)iface->pFunctionList, 2, 40));

    assert_rv(get(name, &v10, &iface, 0), CKR_ARGUMENTS_BAD);
    assert_rv(get((CK_UTF8CHAR_PTR) "Vendor softse-none", NULL_PTR, &iface, 0), CKR_ARGUMENTS_BAD);
}

/* The 3.0 list works as a whole, and what the module does not do it says so. */
static void functions_3_0_usable(void **state)
{
    (void)state;
    CK_FUNCTION_LIST_3_0_PTR f3 = fx_functions_3_0();
    assert_non_null(f3);
    assert_rv(f3->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot = fx_new_token("three");
    CK_SESSION_HANDLE session;
    assert_rv(f3->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL_PTR, NULL_PTR, &session), CKR_OK);
    assert_rv(f3->C_Login(session, CKU_USER, (CK_UTF8CHAR_PTR)FX_USER_PIN, strlen(FX_USER_PIN)),
              CKR_OK);
    assert_int_equal(fx_session_state(session), CKS_RO_USER_FUNCTIONS);
    CK_ULONG len = 0;
    assert_rv(f3->C_GetOperationState(session, NULL_PTR, &len), CKR_FUNCTION_NOT_SUPPORTED);
    CK_BYTE state_bytes[8] = {0};
    assert_rv(f3->C_SetOperationState(session, state_bytes, sizeof(state_bytes), 0, 0),
              CKR_FUNCTION_NOT_SUPPORTED);
    /* legacy functions (PKCS#11 3.0 §5.18) */
    assert_rv(f3->C_GetFunctionStatus(session), CKR_FUNCTION_NOT_PARALLEL);
    assert_rv(f3->C_CancelFunction(session), CKR_FUNCTION_NOT_PARALLEL);
    assert_rv(f3->C_Logout(session), CKR_OK);
    assert_rv(f3->C_CloseSession(session), CKR_OK);
    assert_rv(f3->C_Finalize(NULL_PTR), CKR_OK);
}

/* ---- fork() ---------------------------------------------------------------------- */

/* A child of fork() inherits no usable library state: it must call
 * C_Initialize (PKCS#11 3.0 §5.4 / §2.5.2), then it can use the token
 * the parent uses, while the parent's sessions go on unaffected. */
static void fork_child_reinitializes(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_create_data(t->session, "shared", true, true, "v", 1, &object), CKR_OK);

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        CK_FUNCTION_LIST_PTR f = fx_functions();
        CK_ULONG count = 0;
        CK_SESSION_INFO info;
        child_rv(f->C_GetSlotList(CK_TRUE, NULL_PTR, &count), CKR_CRYPTOKI_NOT_INITIALIZED);
        child_rv(f->C_GetSessionInfo(t->session, &info), CKR_CRYPTOKI_NOT_INITIALIZED);
        child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
        CK_SESSION_HANDLE session;
        child_rv(fx_open(t->slot, true, &session), CKR_OK);
        child_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
        CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, "shared", 6}};
        CK_OBJECT_HANDLE found[4];
        child_rv(f->C_FindObjectsInit(session, tmpl, 1), CKR_OK);
        child_rv(f->C_FindObjects(session, found, 4, &count), CKR_OK);
        child_rv(f->C_FindObjectsFinal(session), CKR_OK);
        child_check(count == 1);
        child_check(found[0] == object); /* token object handles are stable */
        CK_OBJECT_HANDLE mine;
        child_rv(fx_create_data(session, "from-child", true, false, "c", 1, &mine), CKR_OK);
        child_rv(f->C_Finalize(NULL_PTR), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);

    /* the parent's session is still open and logged in */
    assert_int_equal(fx_session_state(t->session), CKS_RW_USER_FUNCTIONS);
    assert_int_equal(fx_count_label(t->session, "shared"), 1);
    assert_int_equal(fx_count_label(t->session, "from-child"), 1);
    CK_OBJECT_HANDLE more;
    assert_rv(fx_create_data(t->session, "after-fork", false, false, "p", 1, &more), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(calls_before_initialize, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(initialize_twice, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(initialize_with_mutex_callbacks, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(initialize_with_os_locking, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(threads_only_when_allowed, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(initialize_bad_args, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(get_info, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(function_list, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(interface_list, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(get_interface, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(functions_3_0_usable, fx_setup_env, fx_teardown),
        cmocka_unit_test_setup_teardown(fork_child_reinitializes, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("init", tests, NULL, NULL);
}
