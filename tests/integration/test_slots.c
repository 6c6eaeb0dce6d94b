/*
 * Slots and tokens: C_GetSlotList, C_GetSlotInfo, C_GetTokenInfo,
 * C_InitToken (PKCS#11 3.0 §5.5), softse's blank-slot model (one slot per
 * initialized token, oldest first, then one slot with a blank token).
 */
#include "open_watch.h"
#include "p11_fixture.h"

#include <ctype.h>
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

static CK_ULONG slots(CK_BBOOL present, CK_SLOT_ID *list, CK_ULONG max)
{
    CK_ULONG count = max;
    assert_rv(fx_functions()->C_GetSlotList(present, list, &count), CKR_OK);
    return count;
}

static void fresh_store_has_one_blank_slot(void **state)
{
    fx *t = *state;
    CK_ULONG count = 0;
    assert_rv(t->f->C_GetSlotList(CK_FALSE, NULL_PTR, NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetSlotList(CK_FALSE, NULL_PTR, &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL_PTR, &count), CKR_OK);
    assert_int_equal(count, 1); /* the blank token is present */

    CK_SLOT_ID list[4];
    assert_int_equal(slots(CK_TRUE, list, 4), 1);
    CK_SLOT_INFO slot;
    assert_rv(t->f->C_GetSlotInfo(list[0], NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetSlotInfo(list[0], &slot), CKR_OK);
    assert_true(slot.flags & CKF_TOKEN_PRESENT);
    CK_TOKEN_INFO token;
    assert_rv(t->f->C_GetTokenInfo(list[0], NULL_PTR), CKR_ARGUMENTS_BAD);
    assert_rv(t->f->C_GetTokenInfo(list[0], &token), CKR_OK);
    assert_false(token.flags & CKF_TOKEN_INITIALIZED);
    assert_false(token.flags & CKF_USER_PIN_INITIALIZED);
    assert_int_equal(fx_blank_slot(), list[0]);
}

static void init_token_adds_blank_slot(void **state)
{
    fx *t = *state;
    CK_SLOT_ID first = fx_blank_slot();
    assert_rv(fx_init_token(first, FX_SO_PIN, "first"), CKR_OK);

    CK_SLOT_ID list[8];
    CK_ULONG count = slots(CK_TRUE, list, 8);
    assert_int_equal(count, 2);
    assert_int_equal(list[0], first); /* the token stays in its slot */
    assert_int_not_equal(list[1], first);
    CK_TOKEN_INFO token;
    assert_rv(t->f->C_GetTokenInfo(first, &token), CKR_OK);
    assert_true(token.flags & CKF_TOKEN_INITIALIZED);
    assert_rv(t->f->C_GetTokenInfo(list[1], &token), CKR_OK);
    assert_false(token.flags & CKF_TOKEN_INITIALIZED);
    assert_int_equal(fx_blank_slot(), list[1]);

    /* a second token: oldest first, blank last */
    CK_SLOT_ID second = list[1];
    assert_rv(fx_init_token(second, FX_SO_PIN, "second"), CKR_OK);
    count = slots(CK_FALSE, list, 8);
    assert_int_equal(count, 3);
    assert_int_equal(list[0], first);
    assert_int_equal(list[1], second);
    assert_int_equal(fx_blank_slot(), list[2]);

    /* CKR_BUFFER_TOO_SMALL sets the size needed */
    CK_ULONG small = 1;
    assert_rv(t->f->C_GetSlotList(CK_FALSE, list, &small), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, 3);

    /* the same order after a restart */
    assert_rv(fx_restart(), CKR_OK);
    count = slots(CK_TRUE, list, 8);
    assert_int_equal(count, 3);
    assert_int_equal(fx_slot_by_label("first"), list[0]);
    assert_int_equal(fx_slot_by_label("second"), list[1]);
    assert_int_equal(fx_blank_slot(), list[2]);
}

static void label_is_blank_padded(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_blank_slot();
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), "my token");
    assert_rv(t->f->C_InitToken(slot, (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, label), CKR_OK);
    CK_TOKEN_INFO token;
    assert_rv(t->f->C_GetTokenInfo(slot, &token), CKR_OK);
    assert_memory_equal(token.label, label, 32);

    /* 32 significant characters are kept whole */
    CK_SLOT_ID slot2 = fx_blank_slot();
    fx_pad(label, sizeof(label), "0123456789abcdef0123456789ABCDEF");
    assert_rv(t->f->C_InitToken(slot2, (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, label), CKR_OK);
    assert_rv(t->f->C_GetTokenInfo(slot2, &token), CKR_OK);
    assert_memory_equal(token.label, label, 32);

    assert_rv(t->f->C_InitToken(fx_blank_slot(), (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, NULL_PTR),
              CKR_ARGUMENTS_BAD);
}

static void assert_text_field(const CK_UTF8CHAR *field, size_t size)
{
    for (size_t i = 0; i < size; i++)
        assert_true(field[i] >= 0x20 && field[i] < 0x7f);
}

/* Every flag and counter of CK_TOKEN_INFO says the truth (PKCS#11 3.0 §3.2). */
static void token_info_is_truthful(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "flags"), CKR_OK);
    CK_TOKEN_INFO info;
    assert_rv(t->f->C_GetTokenInfo(slot, &info), CKR_OK);
    assert_text_field(info.label, sizeof(info.label));
    assert_text_field(info.manufacturerID, sizeof(info.manufacturerID));
    assert_text_field(info.model, sizeof(info.model));
    for (size_t i = 0; i < 16; i++)
        assert_true(isxdigit(info.serialNumber[i]));
    assert_true(info.flags & CKF_TOKEN_INITIALIZED);
    assert_true(info.flags & CKF_RNG); /* C_GenerateRandom works: test_random_digest */
    assert_true(info.flags & CKF_LOGIN_REQUIRED);
    assert_false(info.flags & CKF_USER_PIN_INITIALIZED);
    assert_false(info.flags & CKF_WRITE_PROTECTED);
    assert_false(info.flags & CKF_PROTECTED_AUTHENTICATION_PATH);
    assert_false(info.flags & CKF_SECONDARY_AUTHENTICATION);
    assert_false(info.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY |
                               CKF_USER_PIN_LOCKED | CKF_USER_PIN_TO_BE_CHANGED));
    assert_false(info.flags & (CKF_SO_PIN_COUNT_LOW | CKF_SO_PIN_FINAL_TRY | CKF_SO_PIN_LOCKED |
                               CKF_SO_PIN_TO_BE_CHANGED));
    assert_false(info.flags & CKF_ERROR_STATE);
    assert_int_equal(info.ulMinPinLen, 4);
    assert_int_equal(info.ulMaxPinLen, 255);
    if (info.flags & CKF_CLOCK_ON_TOKEN) {
        for (size_t i = 0; i < 14; i++)
            assert_true(isdigit(info.utcTime[i]));
    }

    /* the user PIN flag follows C_InitPIN */
    assert_rv(fx_init_user_pin(slot, FX_SO_PIN, FX_USER_PIN), CKR_OK);
    assert_true(fx_token_flags(slot) & CKF_USER_PIN_INITIALIZED);

    /* session counters count this application's sessions */
    CK_SESSION_HANDLE ro, rw1, rw2;
    assert_rv(fx_open(slot, false, &ro), CKR_OK);
    assert_rv(fx_open(slot, true, &rw1), CKR_OK);
    assert_rv(fx_open(slot, true, &rw2), CKR_OK);
    assert_rv(t->f->C_GetTokenInfo(slot, &info), CKR_OK);
    if (info.ulSessionCount != CK_UNAVAILABLE_INFORMATION)
        assert_int_equal(info.ulSessionCount, 3);
    if (info.ulRwSessionCount != CK_UNAVAILABLE_INFORMATION)
        assert_int_equal(info.ulRwSessionCount, 2);
    if (info.ulMaxSessionCount != CK_UNAVAILABLE_INFORMATION &&
        info.ulMaxSessionCount != CK_EFFECTIVELY_INFINITE)
        assert_true(info.ulMaxSessionCount >= 3);
    assert_rv(t->f->C_CloseSession(rw2), CKR_OK);
    assert_rv(t->f->C_GetTokenInfo(slot, &info), CKR_OK);
    if (info.ulRwSessionCount != CK_UNAVAILABLE_INFORMATION)
        assert_int_equal(info.ulRwSessionCount, 1);
}

static void serial_is_stable(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, "serial"), CKR_OK);
    CK_SLOT_ID other = fx_blank_slot();
    assert_rv(fx_init_token(other, FX_SO_PIN, "serial2"), CKR_OK);
    CK_TOKEN_INFO a, b;
    assert_rv(t->f->C_GetTokenInfo(slot, &a), CKR_OK);
    assert_rv(t->f->C_GetTokenInfo(other, &b), CKR_OK);
    assert_memory_not_equal(a.serialNumber, b.serialNumber, 16);

    assert_rv(fx_restart(), CKR_OK);
    CK_TOKEN_INFO again;
    assert_rv(t->f->C_GetTokenInfo(fx_slot_by_label("serial"), &again), CKR_OK);
    assert_memory_equal(again.serialNumber, a.serialNumber, 16);

    /* re-initialization keeps the serial too */
    assert_rv(fx_init_token(fx_slot_by_label("serial"), FX_SO_PIN, "renamed"), CKR_OK);
    assert_rv(t->f->C_GetTokenInfo(fx_slot_by_label("renamed"), &again), CKR_OK);
    assert_memory_equal(again.serialNumber, a.serialNumber, 16);
}

static void reinit_erases_objects(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_new_token("reinit");
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE object;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_OK);
    assert_rv(fx_create_data(session, "public", true, false, "1", 1, &object), CKR_OK);
    assert_rv(fx_create_data(session, "private", true, true, "2", 1, &object), CKR_OK);

    /* not while a session is open */
    assert_rv(fx_init_token(slot, FX_SO_PIN, "reinit"), CKR_SESSION_EXISTS);
    assert_rv(t->f->C_CloseSession(session), CKR_OK);

    /* a wrong SO PIN changes nothing */
    assert_rv(fx_init_token(slot, "87654321", "reinit"), CKR_PIN_INCORRECT);
    assert_true(fx_token_flags(slot) & CKF_SO_PIN_COUNT_LOW);
    assert_rv(fx_open(slot, false, &session), CKR_OK);
    assert_int_equal(fx_count_label(session, "public"), 1);
    assert_rv(t->f->C_CloseSession(session), CKR_OK);

    assert_rv(fx_init_token(slot, FX_SO_PIN, "reinit"), CKR_OK);
    CK_FLAGS flags = fx_token_flags(slot);
    assert_true(flags & CKF_TOKEN_INITIALIZED);
    assert_false(flags & CKF_USER_PIN_INITIALIZED); /* the user PIN went too */
    assert_false(flags & CKF_SO_PIN_COUNT_LOW);     /* the SO PIN was right */
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_int_equal(fx_count_label(session, "public"), 0);
    assert_rv(fx_login(session, CKU_USER, FX_USER_PIN), CKR_USER_PIN_NOT_INITIALIZED);
    assert_rv(fx_login(session, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_int_equal(fx_count_label(session, "private"), 0);
    static const CK_OBJECT_CLASS storage[] = {CKO_DATA, CKO_CERTIFICATE, CKO_PUBLIC_KEY,
                                              CKO_PRIVATE_KEY, CKO_SECRET_KEY};
    for (size_t i = 0; i < sizeof(storage) / sizeof(storage[0]); i++) {
        CK_ATTRIBUTE by_class[] = {{CKA_CLASS, (void *)&storage[i], sizeof(CK_OBJECT_CLASS)}};
        assert_int_equal(fx_find(session, by_class, 1, NULL, 0), 0);
    }
    assert_rv(t->f->C_CloseSession(session), CKR_OK);

    /* still one token: no slot was added by the re-initialization */
    CK_SLOT_ID list[8];
    assert_int_equal(slots(CK_TRUE, list, 8), 2);
}

static void init_token_pin_length(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, "123", "short"), CKR_PIN_LEN_RANGE);
    char long_pin[257];
    memset(long_pin, '7', 256);
    long_pin[256] = '\0';
    assert_rv(fx_init_token(slot, long_pin, "long"), CKR_PIN_LEN_RANGE);
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), "x");
    assert_rv(t->f->C_InitToken(slot, NULL_PTR, 8, label), CKR_ARGUMENTS_BAD);
    /* nothing was created */
    assert_false(fx_token_flags(slot) & CKF_TOKEN_INITIALIZED);
    CK_SLOT_ID list[4];
    assert_int_equal(slots(CK_FALSE, list, 4), 1);
    /* the limits themselves are fine */
    long_pin[255] = '\0';
    assert_rv(fx_init_token(slot, long_pin, "max"), CKR_OK);
    assert_rv(fx_init_token(fx_blank_slot(), "1234", "min"), CKR_OK);
}

static void invalid_slot(void **state)
{
    fx *t = *state;
    CK_SLOT_ID bad = 0x7fff0000;
    CK_SLOT_INFO slot;
    CK_TOKEN_INFO token;
    CK_SESSION_HANDLE session;
    CK_ULONG count = 0;
    CK_MECHANISM_INFO mech;
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), "x");
    assert_rv(t->f->C_GetSlotInfo(bad, &slot), CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_GetTokenInfo(bad, &token), CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_OpenSession(bad, CKF_SERIAL_SESSION, NULL_PTR, NULL_PTR, &session),
              CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_CloseAllSessions(bad), CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_InitToken(bad, (CK_UTF8CHAR_PTR)FX_SO_PIN, 8, label), CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_GetMechanismList(bad, NULL_PTR, &count), CKR_SLOT_ID_INVALID);
    assert_rv(t->f->C_GetMechanismInfo(bad, CKM_SHA256, &mech), CKR_SLOT_ID_INVALID);
}

static void slot_info_fields(void **state)
{
    fx *t = *state;
    CK_SLOT_ID slot = fx_new_token("info");
    CK_SLOT_INFO info;
    assert_rv(t->f->C_GetSlotInfo(slot, &info), CKR_OK);
    assert_text_field(info.slotDescription, sizeof(info.slotDescription));
    assert_text_field(info.manufacturerID, sizeof(info.manufacturerID));
    assert_true(info.flags & CKF_TOKEN_PRESENT);
    /* C_WaitForSlotEvent: test_slot_events.c */
}

/* ---- refreshing the slot list ------------------------------------------------ */

#define MAX_FILES 8

/* The token files now in the store: "<serial>.sqlite" (docs/spec.md §7). */
static size_t token_files(const char *store, char names[MAX_FILES][64])
{
    DIR *dir = opendir(store);
    assert_non_null(dir);
    size_t count = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] != '.' && len > 7 && strcmp(e->d_name + len - 7, ".sqlite") == 0) {
            assert_true(count < MAX_FILES && len < 64);
            strcpy(names[count++], e->d_name);
        }
    }
    closedir(dir);
    return count;
}

static bool listed(char names[MAX_FILES][64], size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

static CK_ULONG size_query(void)
{
    CK_ULONG count = 0;
    assert_rv(fx_functions()->C_GetSlotList(CK_TRUE, NULL_PTR, &count), CKR_OK);
    return count;
}

/* `test_slots --init-token LABEL`: another process initializes the blank
 * token of its own slot list (the last slot). */
static int init_token_main(const char *label)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SLOT_ID list[MAX_FILES + 1];
    CK_ULONG count = MAX_FILES + 1;
    child_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    child_rv(f->C_GetSlotList(CK_TRUE, list, &count), CKR_OK);
    child_rv(fx_init_token(list[count - 1], FX_SO_PIN, label), CKR_OK);
    child_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    return 0;
}

/* This program, for the other process: argv[0] (under valgrind
 * /proc/self/exe is valgrind itself).  A new program rather than a fork,
 * whose child would inherit the module's state only to forget it. */
static char self_path[PATH_MAX];

static void token_from_another_process(const char *label)
{
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        execl(self_path, "test_slots", "--init-token", label, (char *)NULL);
        _exit(127);
    }
    fx_assert_child_ok(pid);
}

/* A size query (PKCS#11 3.0 §5.5) shows tokens that another process made,
 * and opens only their files: however many tokens the store holds, the
 * open ones are not opened again, and the store's list is read at most
 * once.  In a quiet store it does not even read the list. */
static void refresh_opens_only_new_tokens(void **state)
{
    fx *t = *state;
    for (int i = 0; i < 3; i++) {
        char label[16];
        snprintf(label, sizeof(label), "open-%d", i);
        assert_rv(fx_init_token(fx_blank_slot(), FX_SO_PIN, label), CKR_OK);
    }
    CK_SLOT_ID before[8], after[8];
    assert_int_equal(slots(CK_TRUE, before, 8), 4);
    char open_files[MAX_FILES][64], files[MAX_FILES][64];
    size_t open_count = token_files(t->store, open_files);
    assert_int_equal(open_count, 3);
    open_watch watch;
    if (!open_watch_start(&watch, t->store))
        skip();

    assert_int_equal(size_query(), 4);
    open_watch_collect(&watch);
    assert_true(watch.list_reads <= 1);
    for (size_t i = 0; i < open_count; i++)
        assert_int_equal(open_watch_opens(&watch, open_files[i]), 0);

    token_from_another_process("other process");
    open_watch_reset(&watch); /* what the other process opened */
    assert_int_equal(size_query(), 5);
    open_watch_collect(&watch);
    assert_true(watch.list_reads <= 1);
    for (size_t i = 0; i < open_count; i++)
        assert_int_equal(open_watch_opens(&watch, open_files[i]), 0);
    size_t count = token_files(t->store, files);
    assert_int_equal(count, 4);
    for (size_t i = 0; i < count; i++)
        if (!listed(open_files, open_count, files[i]))
            assert_true(open_watch_opens(&watch, files[i]) > 0);
    /* the new token comes before the blank slot; the others keep theirs */
    assert_int_equal(slots(CK_TRUE, after, 8), 5);
    assert_memory_equal(after, before, 3 * sizeof(CK_SLOT_ID));
    assert_int_equal(fx_slot_by_label("other process"), after[3]);
    assert_int_equal(fx_blank_slot(), after[4]);

    /* Quiet for longer than file times can hide a change (2 s: the
     * settle time of tokens/store.c): the next query reads the list one
     * last time, later ones do not. */
    struct timespec quiet = {2, 500000000};
    while (nanosleep(&quiet, &quiet) != 0)
        ;
    assert_int_equal(size_query(), 5);
    open_watch_reset(&watch);
    for (int i = 0; i < 3; i++)
        assert_int_equal(size_query(), 5);
    open_watch_collect(&watch);
    assert_int_equal(watch.list_reads, 0);
    assert_int_equal(watch.count, 0);
    open_watch_stop(&watch);
}

/* A file named like a token that is not one (yet: it may still be being
 * copied in) is tried again at every size query; the tokens are not. */
static void unusable_file_is_tried_again(void **state)
{
    fx *t = *state;
    assert_rv(fx_init_token(fx_blank_slot(), FX_SO_PIN, "usable"), CKR_OK);
    char token[MAX_FILES][64];
    assert_int_equal(token_files(t->store, token), 1);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/0123456789ABCDEF.sqlite", t->store);
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite("not a token", 1, 11, file), 11);
    assert_int_equal(fclose(file), 0);
    open_watch watch;
    if (!open_watch_start(&watch, t->store))
        skip();

    /* The module says that it skips the file: keep that out of the
     * output, and the asserts out of the capture. */
    CK_ULONG count[2];
    size_t file_opens[2], token_opens[2];
    fx_stderr_begin(t);
    for (int round = 0; round < 2; round++) {
        count[round] = 0;
        fx_functions()->C_GetSlotList(CK_TRUE, NULL_PTR, &count[round]);
        open_watch_collect(&watch);
        file_opens[round] = open_watch_opens(&watch, "0123456789ABCDEF.sqlite");
        token_opens[round] = open_watch_opens(&watch, token[0]);
        open_watch_reset(&watch);
    }
    free(fx_stderr_end(t));
    open_watch_stop(&watch);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(count[round], 2);
        assert_true(file_opens[round] > 0);
        assert_int_equal(token_opens[round], 0);
    }
}

int main(int argc, char **argv)
{
    if (!realpath(argv[0], self_path))
        snprintf(self_path, sizeof(self_path), "/proc/self/exe");
    if (argc == 3 && strcmp(argv[1], "--init-token") == 0)
        return init_token_main(argv[2]);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(fresh_store_has_one_blank_slot, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(init_token_adds_blank_slot, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(label_is_blank_padded, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(token_info_is_truthful, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(serial_is_stable, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(reinit_erases_objects, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(init_token_pin_length, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(invalid_slot, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(slot_info_fields, fx_setup_module, fx_teardown),
        cmocka_unit_test_setup_teardown(refresh_opens_only_new_tokens, fx_setup_module,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(unusable_file_is_tried_again, fx_setup_module, fx_teardown),
    };
    return cmocka_run_group_tests_name("slots", tests, NULL, NULL);
}
