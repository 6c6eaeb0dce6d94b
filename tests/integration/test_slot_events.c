/*
 * Slot events: C_WaitForSlotEvent (PKCS#11 3.0 §5.5) reports a token
 * made or deleted, by this process or another, as a card inserted into
 * or pulled from its slot (docs/spec.md "Slot events").
 *
 * Other processes: softse-tool ($SOFTSE_TOOL) makes and deletes tokens,
 * and this program, run again with --init-token, makes one through the
 * module.  Every blocking wait here ends within a second when the module
 * is right; an alarm fails the program instead of letting a wrong one
 * hang, and waits in threads are joined with a timeout.
 */
/* pthread_timedjoin_np: _GNU_SOURCE comes from the build */
#include "p11_fixture.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#define PROGRAM_DEADLINE_S 600 /* valgrind included */
#define JOIN_TIMEOUT_S 30
#define CHILD_DELAY_MS 300 /* the other process acts once the wait has begun */

static char self_path[PATH_MAX];
static char tool_path[PATH_MAX + 32];

static CK_RV wait_event(CK_FLAGS flags, CK_SLOT_ID *slot)
{
    return fx_functions()->C_WaitForSlotEvent(flags, slot, NULL_PTR);
}

static void sleep_ms(long ms)
{
    struct timespec pause = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&pause, &pause) != 0 && errno == EINTR)
        ;
}

/* Every pending event, in the order reported; asserts CKR_NO_EVENT then. */
static size_t drain(CK_SLOT_ID *slots, size_t max)
{
    size_t count = 0;
    CK_SLOT_ID slot;
    CK_RV rv;
    while ((rv = wait_event(CKF_DONT_BLOCK, &slot)) == CKR_OK) {
        assert_true(count < max);
        slots[count++] = slot;
    }
    assert_rv(rv, CKR_NO_EVENT);
    return count;
}

static CK_FLAGS slot_flags(CK_SLOT_ID slot)
{
    CK_SLOT_INFO info;
    assert_rv(fx_functions()->C_GetSlotInfo(slot, &info), CKR_OK);
    return info.flags;
}

static bool listed(CK_BBOOL present, CK_SLOT_ID slot)
{
    CK_SLOT_ID list[16];
    CK_ULONG count = 16;
    assert_rv(fx_functions()->C_GetSlotList(present, list, &count), CKR_OK);
    for (CK_ULONG i = 0; i < count; i++)
        if (list[i] == slot)
            return true;
    return false;
}

/* ---- other processes ---------------------------------------------------- */

/* `test_slot_events --init-token LABEL MS`: after MS milliseconds,
 * another process initializes the blank token of its own slot list. */
static int init_token_main(const char *label, long delay_ms)
{
    sleep_ms(delay_ms);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SLOT_ID list[16];
    CK_ULONG count = 16;
    child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    child_rv(f->C_GetSlotList(CK_TRUE, list, &count), CKR_OK);
    child_rv(fx_init_token(list[count - 1], FX_SO_PIN, label), CKR_OK);
    child_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    return 0;
}

/* argv[0] rather than /proc/self/exe, which under valgrind is valgrind. */
static pid_t run_self(const char *label, long delay_ms)
{
    char delay[16];
    snprintf(delay, sizeof(delay), "%ld", delay_ms);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_path, "test_slot_events", "--init-token", label, delay, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* $SOFTSE_TOOL (meson), else the build's tools/softse-tool beside this
 * program's tests/integration (the valgrind suite runs it bare). */
static const char *tool(void)
{
    const char *given = getenv("SOFTSE_TOOL");
    if (given)
        return given;
    snprintf(tool_path, sizeof(tool_path), "%s", self_path);
    char *slash = strrchr(tool_path, '/');
    assert_non_null(slash);
    snprintf(slash, sizeof(tool_path) - (size_t)(slash - tool_path), "/../../tools/softse-tool");
    assert_int_equal(access(tool_path, X_OK), 0);
    return tool_path;
}

/* softse-tool COMMAND --token LABEL [PIN options], after delay_ms. */
static pid_t run_tool(const char *command, const char *label, long delay_ms)
{
    const char *path = tool();
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sleep_ms(delay_ms);
        if (strcmp(command, "init") == 0)
            execl(path, "softse-tool", "init", "--token", label, "--so-pin", FX_SO_PIN, "--pin",
                  FX_USER_PIN, (char *)NULL);
        else
            execl(path, "softse-tool", command, "--token", label, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* ---- no event, bad arguments --------------------------------------------- */

/* §5.5: C_Initialize clears every flag; slots that merely exist are no event. */
static void quiet_store_has_no_event(void **state)
{
    (void)state;
    CK_SLOT_ID slot = 0x5a5a;
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_NO_EVENT);
    CK_ULONG count = 0;
    assert_rv(fx_functions()->C_GetSlotList(CK_FALSE, NULL_PTR, &count), CKR_OK);
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_NO_EVENT);

    /* C_InitToken here: the token's slot holds another card, and a blank
     * card is in a new slot; each is reported once, lowest slot first. */
    CK_SLOT_ID blank = fx_blank_slot();
    assert_rv(fx_init_token(blank, FX_SO_PIN, "here"), CKR_OK);
    CK_SLOT_ID events[8];
    assert_int_equal(drain(events, 8), 2);
    assert_int_equal(events[0], blank);
    assert_int_equal(events[1], fx_blank_slot());

    /* a restart starts with every flag clear, tokens or not */
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_NO_EVENT);
}

static void bad_arguments(void **state)
{
    (void)state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SLOT_ID slot;
    int reserved;
    /* none blocks, even in the blocking form */
    assert_rv(f->C_WaitForSlotEvent(2, &slot, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_WaitForSlotEvent(CKF_DONT_BLOCK | 0x100, &slot, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, NULL_PTR, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_WaitForSlotEvent(0, NULL_PTR, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, &reserved), CKR_ARGUMENTS_BAD);
    assert_rv(f->C_WaitForSlotEvent(0, &slot, &reserved), CKR_ARGUMENTS_BAD);
    /* a rejected call consumed no event */
    CK_SLOT_ID blank = fx_blank_slot();
    assert_rv(fx_init_token(blank, FX_SO_PIN, "kept"), CKR_OK);
    assert_rv(f->C_WaitForSlotEvent(1 << 1, &slot, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_OK);
    assert_int_equal(slot, blank);

    assert_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_CRYPTOKI_NOT_INITIALIZED);
    assert_rv(wait_event(0, &slot), CKR_CRYPTOKI_NOT_INITIALIZED);
}

/* ---- across processes ------------------------------------------------------ */

/* softse-tool makes a token while this process blocks: the wait names
 * the slot the token is in, then the blank card's new slot. */
static void token_made_elsewhere_wakes_a_wait(void **state)
{
    (void)state;
    CK_SLOT_ID blank = fx_blank_slot();
    pid_t pid = run_tool("init", "made elsewhere", CHILD_DELAY_MS);
    CK_SLOT_ID slot = 0x5a5a;
    assert_rv(wait_event(0, &slot), CKR_OK);
    fx_assert_child_ok(pid);
    assert_int_equal(slot, blank); /* a new token takes the blank card's slot */
    assert_int_equal(fx_slot_by_label("made elsewhere"), slot);
    assert_true(slot_flags(slot) & CKF_TOKEN_PRESENT);
    assert_true(fx_token_flags(slot) & CKF_TOKEN_INITIALIZED);
    CK_SLOT_ID events[8];
    assert_int_equal(drain(events, 8), 1);
    assert_int_equal(events[0], fx_blank_slot());
    assert_int_equal(events[0], blank + 1);

    /* another process using the module, the same way */
    pid = run_self("module elsewhere", CHILD_DELAY_MS);
    assert_rv(wait_event(0, &slot), CKR_OK);
    fx_assert_child_ok(pid);
    assert_int_equal(slot, blank + 1);
    assert_int_equal(fx_slot_by_label("module elsewhere"), slot);
    assert_int_equal(drain(events, 8), 1);
    assert_int_equal(events[0], blank + 2);
}

/* Events noticed while nobody waits (here by C_GetSlotList's refresh)
 * wait in their slots' flags and are reported once each. */
static void events_wait_for_the_next_call(void **state)
{
    (void)state;
    CK_SLOT_ID blank = fx_blank_slot();
    fx_assert_child_ok(run_self("first", 0));
    fx_assert_child_ok(run_self("second", 0));
    CK_ULONG count = 0;
    assert_rv(fx_functions()->C_GetSlotList(CK_TRUE, NULL_PTR, &count), CKR_OK);
    assert_int_equal(count, 3);
    CK_SLOT_ID events[8];
    assert_int_equal(drain(events, 8), 3);
    assert_int_equal(events[0], blank);
    assert_int_equal(events[1], blank + 1);
    assert_int_equal(events[2], blank + 2);
    assert_int_equal(fx_slot_by_label("first"), blank);
    assert_int_equal(fx_slot_by_label("second"), blank + 1);
}

static void token_path(CK_SLOT_ID slot, const char *store, char *path, size_t size)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(slot, &info), CKR_OK);
    snprintf(path, size, "%s/%.16s.sqlite", store, (const char *)info.serialNumber);
}

/* The pulled card's slot stays, without a token; its sessions closed
 * (PKCS#11 3.0 §5.1.2); the event is reported once. */
static void assert_pulled(CK_SLOT_ID slot, CK_SESSION_HANDLE session)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    assert_false(slot_flags(slot) & CKF_TOKEN_PRESENT);
    assert_false(listed(CK_TRUE, slot));
    assert_true(listed(CK_FALSE, slot));
    CK_TOKEN_INFO info;
    assert_rv(f->C_GetTokenInfo(slot, &info), CKR_TOKEN_NOT_PRESENT);
    CK_SESSION_HANDLE again;
    assert_rv(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL_PTR, NULL_PTR, &again),
              CKR_TOKEN_NOT_PRESENT);
    CK_SESSION_INFO session_info;
    assert_rv(f->C_GetSessionInfo(session, &session_info), CKR_SESSION_HANDLE_INVALID);
    assert_rv(f->C_CloseSession(session), CKR_SESSION_HANDLE_INVALID);
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), "again");
    assert_rv(f->C_InitToken(slot, (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, label), CKR_TOKEN_NOT_PRESENT);
    CK_SLOT_ID other;
    assert_rv(wait_event(CKF_DONT_BLOCK, &other), CKR_NO_EVENT);
}

/* softse-tool deletes a token while this process blocks, with a session
 * open on it. */
static void token_deleted_elsewhere_is_a_card_pulled(void **state)
{
    (void)state;
    CK_SLOT_ID slot = fx_new_token("deleted");
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    CK_SLOT_ID events[8];
    drain(events, 8);

    pid_t pid = run_tool("delete", "deleted", CHILD_DELAY_MS);
    CK_SLOT_ID got = 0x5a5a;
    assert_rv(wait_event(0, &got), CKR_OK);
    fx_assert_child_ok(pid);
    assert_int_equal(got, slot);
    assert_pulled(slot, session);
    /* the blank slot is untouched */
    assert_true(slot_flags(fx_blank_slot()) & CKF_TOKEN_PRESENT);
}

/* The file removed by hand, while nobody waits, noticed by the wait. */
static void token_file_removed_is_a_card_pulled(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_new_token("removed");
    CK_SLOT_ID kept = fx_new_token("kept");
    CK_SESSION_HANDLE session, other;
    assert_rv(fx_open(slot, false, &session), CKR_OK);
    assert_rv(fx_open(kept, false, &other), CKR_OK);
    CK_SLOT_ID events[8];
    drain(events, 8);
    char path[PATH_MAX + 32];
    token_path(slot, t->store, path, sizeof(path));
    assert_int_equal(unlink(path), 0);

    CK_SLOT_ID got = 0x5a5a;
    assert_rv(wait_event(0, &got), CKR_OK);
    assert_int_equal(got, slot);
    assert_pulled(slot, session);
    /* the other token and its session are as they were */
    CK_SESSION_INFO info;
    assert_rv(fx_functions()->C_GetSessionInfo(other, &info), CKR_OK);
    assert_int_equal(info.slotID, kept);
    assert_true(listed(CK_TRUE, kept));
}

/* Another file renamed over the token's: the card in the reader is not
 * the one the module opened.  Its name stays taken until C_Finalize. */
static void token_file_replaced_is_a_card_pulled(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_new_token("replaced");
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, false, &session), CKR_OK);
    CK_SLOT_ID events[8];
    drain(events, 8);
    char path[PATH_MAX + 32], other[PATH_MAX + 32];
    token_path(slot, t->store, path, sizeof(path));
    snprintf(other, sizeof(other), "%s/.replacement", t->store);
    FILE *file = fopen(other, "wb");
    assert_non_null(file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(rename(other, path), 0);

    CK_SLOT_ID got = 0x5a5a;
    assert_rv(wait_event(0, &got), CKR_OK);
    assert_int_equal(got, slot);
    assert_pulled(slot, session);
}

/* ---- C_Finalize and fork ----------------------------------------------------- */

typedef struct waiter {
    pthread_t thread;
    CK_RV rv;
    CK_SLOT_ID slot;
} waiter;

static void *waiter_main(void *arg)
{
    waiter *w = arg;
    w->rv = wait_event(0, &w->slot);
    return NULL;
}

static void waiter_start(waiter *w)
{
    w->rv = (CK_RV)-1;
    assert_int_equal(pthread_create(&w->thread, NULL, waiter_main, w), 0);
}

/* Joins w, failing (never hanging) when it does not end in time. */
static CK_RV waiter_join(waiter *w)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += JOIN_TIMEOUT_S;
    int rc = pthread_timedjoin_np(w->thread, NULL, &until);
    if (rc != 0)
        fail_msg("a blocked C_WaitForSlotEvent did not return (%s)", strerror(rc));
    return w->rv;
}

/* §5.5: C_Finalize from another thread ends a blocked wait with
 * CKR_CRYPTOKI_NOT_INITIALIZED; the module then starts again cleanly. */
static void finalize_ends_a_blocked_wait(void **state)
{
    (void)state;
    waiter waiters[2];
    for (int i = 0; i < 2; i++)
        waiter_start(&waiters[i]);
    sleep_ms(CHILD_DELAY_MS); /* both blocked by now (the result is the same if not) */
    assert_rv(fx_functions()->C_Finalize(NULL_PTR), CKR_OK);
    for (int i = 0; i < 2; i++)
        assert_rv(waiter_join(&waiters[i]), CKR_CRYPTOKI_NOT_INITIALIZED);

    assert_rv(fx_functions()->C_Initialize(NULL_PTR), CKR_OK);
    CK_SLOT_ID slot;
    assert_rv(wait_event(CKF_DONT_BLOCK, &slot), CKR_NO_EVENT);
    /* a wait after the restart works as before */
    waiter again;
    waiter_start(&again);
    CK_SLOT_ID blank = fx_blank_slot();
    assert_rv(fx_init_token(blank, FX_SO_PIN, "after restart"), CKR_OK);
    assert_rv(waiter_join(&again), CKR_OK);
    assert_int_equal(again.slot, blank);
}

/* A child forked while a thread of the parent waits has no waiter: its
 * own C_Initialize, waits and C_Finalize work (a finalize that counted
 * the parent's waiter would never return). */
static void forked_child_inherits_no_wait(void **state)
{
    (void)state;
    waiter w;
    waiter_start(&w);
    sleep_ms(100);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        alarm(JOIN_TIMEOUT_S);
        CK_FUNCTION_LIST_PTR f = fx_functions();
        CK_SLOT_ID slot;
        child_rv(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL_PTR),
                 CKR_CRYPTOKI_NOT_INITIALIZED);
        child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
        child_rv(f->C_WaitForSlotEvent(CKF_DONT_BLOCK, &slot, NULL_PTR), CKR_NO_EVENT);
        child_rv(f->C_Finalize(NULL_PTR), CKR_OK);
        _exit(0);
    }
    fx_assert_child_ok(pid);
    /* the parent's waiter is still blocked, and ends as §5.5 says */
    assert_rv(fx_functions()->C_Finalize(NULL_PTR), CKR_OK);
    assert_rv(waiter_join(&w), CKR_CRYPTOKI_NOT_INITIALIZED);
}

int main(int argc, char **argv)
{
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "/proc/self/exe");
    if (argc == 4 && strcmp(argv[1], "--init-token") == 0)
        return init_token_main(argv[2], strtol(argv[3], NULL, 10));
    alarm(PROGRAM_DEADLINE_S); /* a wait that never ends fails the program */
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(quiet_store_has_no_event, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(bad_arguments, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(token_made_elsewhere_wakes_a_wait, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(events_wait_for_the_next_call, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(token_deleted_elsewhere_is_a_card_pulled, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(token_file_removed_is_a_card_pulled, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(token_file_replaced_is_a_card_pulled, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(finalize_ends_a_blocked_wait, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(forked_child_inherits_no_wait, fx_setup_module,
                                        fx_teardown),
    };
    return cmocka_run_group_tests_name("slot events", tests, NULL, NULL);
}
