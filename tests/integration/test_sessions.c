/*
 * Sessions: C_OpenSession, C_CloseSession, C_CloseAllSessions,
 * C_GetSessionInfo (PKCS#11 3.0 §5.6 and the session state machine of
 * §2.6), and many threads using sessions at once.
 */
#include "p11_fixture.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static void open_and_states(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE ro, rw;
    CK_SESSION_INFO info;
    assert_rv(t->f->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL_PTR, NULL_PTR, NULL_PTR),
              CKR_ARGUMENTS_BAD);
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    assert_rv(fx_open(t->slot, true, &rw), CKR_OK);
    assert_int_not_equal(ro, CK_INVALID_HANDLE);
    assert_int_not_equal(rw, CK_INVALID_HANDLE);
    assert_int_not_equal(ro, rw);

    assert_rv(t->f->C_GetSessionInfo(ro, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetSessionInfo(ro, &info), CKR_OK);
    assert_int_equal(info.slotID, t->slot);
    assert_int_equal(info.state, CKS_RO_PUBLIC_SESSION);
    assert_int_equal(info.flags, CKF_SERIAL_SESSION);
    assert_int_equal(info.ulDeviceError, 0);
    assert_rv(t->f->C_GetSessionInfo(rw, &info), CKR_OK);
    assert_int_equal(info.state, CKS_RW_PUBLIC_SESSION);
    assert_int_equal(info.flags, CKF_SERIAL_SESSION | CKF_RW_SESSION);

    assert_rv(fx_login(ro, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_int_equal(fx_session_state(ro), CKS_RO_USER_FUNCTIONS);
    assert_int_equal(fx_session_state(rw), CKS_RW_USER_FUNCTIONS);
    assert_rv(t->f->C_Logout(ro), CKR_OK);

    assert_rv(t->f->C_CloseSession(ro), CKR_OK);
    assert_rv(fx_login(rw, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_int_equal(fx_session_state(rw), CKS_RW_SO_FUNCTIONS);
    /* no read-only session while the SO is logged in */
    assert_rv(fx_open(t->slot, false, &ro), CKR_SESSION_READ_WRITE_SO_EXISTS);
    CK_SESSION_HANDLE rw2;
    assert_rv(fx_open(t->slot, true, &rw2), CKR_OK);
    assert_int_equal(fx_session_state(rw2), CKS_RW_SO_FUNCTIONS);
}

static void serial_flag_required(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(t->f->C_OpenSession(t->slot, 0, NULL_PTR, NULL_PTR, &session),
              CKR_SESSION_PARALLEL_NOT_SUPPORTED);
    assert_rv(t->f->C_OpenSession(t->slot, CKF_RW_SESSION, NULL_PTR, NULL_PTR, &session),
              CKR_SESSION_PARALLEL_NOT_SUPPORTED);
}

static void closed_handles_are_invalid(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    CK_SESSION_INFO info;
    assert_rv(fx_open(t->slot, true, &session), CKR_OK);
    assert_rv(t->f->C_CloseSession(session), CKR_OK);
    assert_rv(t->f->C_GetSessionInfo(session, &info), CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_CloseSession(session), CKR_SESSION_HANDLE_INVALID);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_GetSessionInfo(CK_INVALID_HANDLE, &info), CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_GetSessionInfo(0x7fffffff, &info), CKR_SESSION_HANDLE_INVALID);
    CK_BYTE random[4];
    assert_rv(t->f->C_GenerateRandom(session, random, 4), CKR_SESSION_HANDLE_INVALID);
    /* a restart invalidates every handle */
    assert_rv(fx_open(t->slot, true, &session), CKR_OK);
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(t->f->C_GetSessionInfo(session, &info), CKR_SESSION_HANDLE_INVALID);
}

static void close_all_sessions(void **state)
{
    fx *t = *state;
    CK_SLOT_ID other = fx_new_token("other");
    CK_SESSION_HANDLE a, b, c, d;
    assert_rv(fx_open(t->slot, true, &a), CKR_OK);
    assert_rv(fx_open(t->slot, false, &b), CKR_OK);
    assert_rv(fx_open(t->slot, true, &c), CKR_OK);
    assert_rv(fx_open(other, true, &d), CKR_OK);
    assert_rv(fx_login(a, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(fx_login(d, CKU_USER, FX_USER_PIN), CKR_OK);

    assert_rv(t->f->C_CloseAllSessions(t->slot), CKR_OK);
    CK_SESSION_INFO info;
    assert_rv(t->f->C_GetSessionInfo(a, &info), CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_GetSessionInfo(b, &info), CKR_SESSION_HANDLE_INVALID);
    assert_rv(t->f->C_GetSessionInfo(c, &info), CKR_SESSION_HANDLE_INVALID);
    /* the other token keeps its session and its login */
    assert_int_equal(fx_session_state(d), CKS_RW_USER_FUNCTIONS);
    /* the first token is logged out */
    assert_rv(fx_open(t->slot, true, &a), CKR_OK);
    assert_int_equal(fx_session_state(a), CKS_RW_PUBLIC_SESSION);
    /* closing nothing is fine */
    assert_rv(t->f->C_CloseAllSessions(t->slot), CKR_OK);
    assert_rv(t->f->C_CloseAllSessions(t->slot), CKR_OK);
}

static void session_objects_are_shared_then_vanish(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE a, b;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_open(t->slot, false, &a), CKR_OK);
    assert_rv(fx_open(t->slot, false, &b), CKR_OK);
    /* session objects may be created in a read-only session */
    assert_rv(fx_create_data(a, "mine", false, false, "x", 1, &object), CKR_OK);
    /* every session of the application sees them */
    assert_int_equal(fx_count_label(b, "mine"), 1);
    assert_rv(t->f->C_CloseSession(a), CKR_OK);
    assert_int_equal(fx_count_label(b, "mine"), 0);
    CK_ATTRIBUTE label = {CKA_LABEL, NULL_PTR, 0};
    assert_rv(t->f->C_GetAttributeValue(b, object, &label, 1), CKR_OBJECT_HANDLE_INVALID);
}

/* ---- threads --------------------------------------------------------------------- */

#define THREADS 8
#define ROUNDS 40

typedef struct worker {
    fx *t;
    int id;
    int errors;
    char message[256];
} worker;

#define WORKER_CHECK(w, call, expected)                                                            \
    do {                                                                                           \
        CK_RV worker_rv_ = (call);                                                                 \
        if (worker_rv_ != (expected)) {                                                            \
            snprintf((w)->message, sizeof((w)->message), "thread %d line %d: %s: %s", (w)->id,     \
                     __LINE__, #call, fx_rv_name(worker_rv_));                                     \
            (w)->errors++;                                                                         \
            return NULL;                                                                           \
        }                                                                                          \
    } while (0)

static void *worker_main(void *arg)
{
    worker *w = arg;
    CK_FUNCTION_LIST_PTR f = w->t->f;
    for (int round = 0; round < ROUNDS; round++) {
        CK_SESSION_HANDLE session;
        WORKER_CHECK(w, fx_open(w->t->slot, round % 2 == 0, &session), CKR_OK);
        char label[64];
        snprintf(label, sizeof(label), "thread-%d-round-%d", w->id, round);
        CK_OBJECT_HANDLE objects[3];
        for (int i = 0; i < 3; i++)
            WORKER_CHECK(
                w, fx_create_data(session, label, false, i == 0, label, strlen(label), &objects[i]),
                CKR_OK);
        CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, label, strlen(label)}};
        CK_OBJECT_HANDLE found[8];
        CK_ULONG count = 0;
        WORKER_CHECK(w, f->C_FindObjectsInit(session, tmpl, 1), CKR_OK);
        WORKER_CHECK(w, f->C_FindObjects(session, found, 8, &count), CKR_OK);
        WORKER_CHECK(w, f->C_FindObjectsFinal(session), CKR_OK);
        if (count != 3) {
            snprintf(w->message, sizeof(w->message), "thread %d: found %lu of 3 objects", w->id,
                     (unsigned long)count);
            w->errors++;
            return NULL;
        }
        char value[64];
        CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
        WORKER_CHECK(w, f->C_GetAttributeValue(session, objects[1], &read, 1), CKR_OK);
        if (read.ulValueLen != strlen(label) || memcmp(value, label, read.ulValueLen) != 0) {
            snprintf(w->message, sizeof(w->message), "thread %d: wrong value", w->id);
            w->errors++;
            return NULL;
        }
        CK_BYTE random[16];
        WORKER_CHECK(w, f->C_GenerateRandom(session, random, sizeof(random)), CKR_OK);
        WORKER_CHECK(w, f->C_DestroyObject(session, objects[0]), CKR_OK);
        WORKER_CHECK(w, f->C_DestroyObject(session, objects[1]), CKR_OK);
        /* objects[2] goes with its session */
        WORKER_CHECK(w, f->C_CloseSession(session), CKR_OK);
    }
    return NULL;
}

static void threads_share_the_module(void **state)
{
    fx *t = *state;
    /* an application that promises threads: OS locking */
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL), CKR_OK);
    /* keep one session logged in, so private session objects can be made */
    CK_SESSION_HANDLE keeper;
    assert_rv(fx_open(t->slot, true, &keeper), CKR_OK);
    assert_rv(fx_login(keeper, CKU_USER, FX_USER_PIN), CKR_OK);

    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){.t = t, .id = i};
        assert_int_equal(pthread_create(&threads[i], NULL, worker_main, &workers[i]), 0);
    }
    int errors = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        if (workers[i].errors) {
            print_error("%s\n", workers[i].message);
            errors++;
        }
    }
    assert_int_equal(errors, 0);
    /* everything the threads made is gone */
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_ATTRIBUTE all_data[] = {{CKA_CLASS, &data, sizeof(data)}};
    assert_int_equal(fx_find(keeper, all_data, 1, NULL, 0), 0);
    assert_int_equal(fx_session_state(keeper), CKS_RW_USER_FUNCTIONS);
}

/* ---- handles used while other threads close them ----------------------- */

/* session_get finds sessions without the table lock (module/session.c):
 * a session closed, and its table position reused, while another thread
 * calls with its handle.  The churner opens, uses and closes sessions;
 * the probers call with handles it has open or has just closed, and
 * close some themselves.  Every answer must be a valid one for a session
 * that is open (the churner's, or a later one at the same handle) or
 * gone; under ASan, a freed session touched is a failure too. */
#define CHURN_HANDLES 8
#define CHURN_ROUNDS 3000

typedef struct churn {
    fx *t;
    CK_SESSION_HANDLE handles[CHURN_HANDLES]; /* atomics: the churner's recent handles */
    int done;                                 /* atomic */
    int errors;                               /* atomic */
    char message[160];
} churn;

static void churn_fail(churn *c, const char *what, CK_RV rv)
{
    if (__atomic_fetch_add(&c->errors, 1, __ATOMIC_RELAXED) == 0)
        snprintf(c->message, sizeof(c->message), "%s: %s", what, fx_rv_name(rv));
}

static void *churner(void *arg)
{
    churn *c = arg;
    CK_FUNCTION_LIST_PTR f = c->t->f;
    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0};
    for (int i = 0; i < CHURN_ROUNDS; i++) {
        CK_SESSION_HANDLE s;
        CK_RV rv = fx_open(c->t->slot, i % 2 == 0, &s);
        if (rv != CKR_OK) {
            churn_fail(c, "C_OpenSession", rv);
            break;
        }
        __atomic_store_n(&c->handles[i % CHURN_HANDLES], s, __ATOMIC_RELEASE);
        CK_BYTE out[32];
        CK_ULONG len = sizeof(out);
        rv = f->C_DigestInit(s, &sha256);
        if (rv == CKR_OK)
            rv = f->C_Digest(s, (CK_BYTE_PTR) "abc", 3, out, &len);
        /* a prober may have closed it, or be digesting on it */
        if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_OPERATION_ACTIVE &&
            rv != CKR_OPERATION_NOT_INITIALIZED)
            churn_fail(c, "churner's digest", rv);
        rv = f->C_CloseSession(s);
        if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
            churn_fail(c, "churner's C_CloseSession", rv);
    }
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *prober(void *arg)
{
    churn *c = arg;
    CK_FUNCTION_LIST_PTR f = c->t->f;
    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0};
    for (unsigned n = 0; !__atomic_load_n(&c->done, __ATOMIC_ACQUIRE); n++) {
        CK_SESSION_HANDLE h = __atomic_load_n(&c->handles[n % CHURN_HANDLES], __ATOMIC_ACQUIRE);
        if (h == CK_INVALID_HANDLE)
            continue;
        CK_SESSION_INFO info;
        CK_RV rv = f->C_GetSessionInfo(h, &info);
        if (rv == CKR_OK && info.slotID != c->t->slot)
            churn_fail(c, "C_GetSessionInfo: another slot", rv);
        else if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
            churn_fail(c, "C_GetSessionInfo", rv);
        CK_BYTE out[32];
        CK_ULONG len = sizeof(out);
        rv = f->C_DigestInit(h, &sha256);
        if (rv == CKR_OK) {
            rv = f->C_Digest(h, (CK_BYTE_PTR) "abc", 3, out, &len);
            if (rv == CKR_OPERATION_NOT_INITIALIZED) /* another thread's digest ended ours */
                rv = CKR_OK;
        }
        if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID && rv != CKR_OPERATION_ACTIVE)
            churn_fail(c, "prober's digest", rv);
        if (n % 64 == 0) {
            rv = f->C_CloseSession(h);
            if (rv != CKR_OK && rv != CKR_SESSION_HANDLE_INVALID)
                churn_fail(c, "prober's C_CloseSession", rv);
        }
    }
    return NULL;
}

static void handles_race_their_close(void **state)
{
    fx *t = *state;
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
    assert_rv(fx_initialize_args(NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL), CKR_OK);
    churn c = {.t = t};
    pthread_t threads[3];
    assert_int_equal(pthread_create(&threads[0], NULL, churner, &c), 0);
    for (int i = 1; i < 3; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, prober, &c), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    if (c.errors)
        print_error("%s\n", c.message);
    assert_int_equal(c.errors, 0);
    /* every handle the churner had is closed now */
    for (int i = 0; i < CHURN_HANDLES; i++) {
        CK_SESSION_INFO info;
        assert_rv(t->f->C_GetSessionInfo(c.handles[i], &info), CKR_SESSION_HANDLE_INVALID);
    }
    /* and the table hands out working sessions again */
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(t->slot, false, &s), CKR_OK);
    assert_int_equal(fx_session_state(s), CKS_RO_PUBLIC_SESSION);
    assert_rv(t->f->C_CloseSession(s), CKR_OK);
}

static void operation_state_not_supported(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(t->slot, false, &session), CKR_OK);
    CK_MECHANISM sha256 = {CKM_SHA256, NULL_PTR, 0};
    assert_rv(t->f->C_DigestInit(session, &sha256), CKR_OK);
    CK_BYTE buffer[1024];
    CK_ULONG len = sizeof(buffer);
    assert_rv(t->f->C_GetOperationState(session, buffer, &len), CKR_FUNCTION_NOT_SUPPORTED);
    assert_rv(t->f->C_SetOperationState(session, buffer, 16, CK_INVALID_HANDLE, CK_INVALID_HANDLE),
              CKR_FUNCTION_NOT_SUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(open_and_states, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(serial_flag_required, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(closed_handles_are_invalid, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(close_all_sessions, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(session_objects_are_shared_then_vanish, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(threads_share_the_module, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(handles_race_their_close, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(operation_state_not_supported, fx_setup_token, fx_teardown),
    };
    return cmocka_run_group_tests_name("sessions", tests, NULL, NULL);
}
