/* spool.c: audit notes kept in a process's spool file until drained. */
#include "fixture.h"
#include "threads_probe.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

/* Records in the audit table itself (what a drain has put there). */
static long table_count(tok *t, const char *event)
{
    sqlite3 *db = fixture_raw(tok_path(t));
    sqlite3_stmt *s = NULL;
    assert_int_equal(
        sqlite3_prepare_v2(db, "SELECT count(*) FROM audit WHERE event LIKE ?1", -1, &s, NULL),
        SQLITE_OK);
    sqlite3_bind_text(s, 1, event, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return n;
}

static size_t spool_files(const fixture *f)
{
    size_t n = 0;
    DIR *d = opendir(f->dir);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strstr(e->d_name, "-spool-") != NULL;
    closedir(d);
    return n;
}

typedef struct order_log {
    size_t count;
    char events[600][24];
} order_log;

static void collect(void *ctx, unsigned long seq, const char *time, const char *event,
                    const char *detail)
{
    (void)seq, (void)time, (void)detail;
    order_log *log = ctx;
    if (log->count < ARRAY_SIZE(log->events))
        snprintf(log->events[log->count], sizeof(log->events[0]), "%s", event);
    log->count++;
}

/* A note reaches the table only when drained; verify drains first; a
 * transactional record of the same process comes after its notes. */
static void notes_wait_in_spool(void **state)
{
    fixture *f = *state;
    for (int i = 0; i < 5; i++)
        assert_int_equal(tok_audit_note(f->t, "note", "spooled"), CKR_OK);
    assert_int_equal(spool_files(f), 1);
    assert_int_equal(table_count(f->t, "note"), 0);

    assert_int_equal(tok_audit_append(f->t, "durable", "after the notes"), CKR_OK);
    assert_int_equal(table_count(f->t, "note"), 5);
    assert_int_equal(tok_audit_note(f->t, "late", NULL), CKR_OK);

    order_log *log = calloc(1, sizeof(*log));
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, collect, log, &broken), CKR_OK);
    size_t n = log->count;
    assert_true(n >= 7);
    assert_string_equal(log->events[n - 1], "late");
    assert_string_equal(log->events[n - 2], "durable");
    for (size_t i = n - 7; i < n - 2; i++)
        assert_string_equal(log->events[i], "note");
    free(log);

    /* Closing drains and removes the spool. */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    assert_int_equal(tok_audit_note(f->t, "at-close", NULL), CKR_OK);
    tok_close(f->t);
    f->t = NULL;
    assert_int_equal(spool_files(f), 0);
    assert_int_equal(tok_open(path, &f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "at-close"), 1);
}

/* Past SPOOL_FLUSH_RECORDS (1,024) notes the owner drains by itself; nothing is
 * lost or doubled across many drains and a full ring. */
static void owner_drains_in_batches(void **state)
{
    fixture *f = *state;
    char detail[1500];
    memset(detail, 'x', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    for (int i = 0; i < 1100; i++)
        assert_int_equal(tok_audit_note(f->t, "small", "q"), CKR_OK);
    long drained = table_count(f->t, "small");
    assert_true(drained >= 1024 && drained < 1100);
    /* 8,000 records of 1.5 KB: the 4 MiB ring wraps several times. */
    for (int i = 0; i < 8000; i++)
        assert_int_equal(tok_audit_note(f->t, "large", detail), CKR_OK);
    assert_int_equal(tok_audit_flush(f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "small"), 1100);
    assert_int_equal(table_count(f->t, "large"), 8000);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);
}

/* A process that opens the token, makes count notes and is killed
 * with them in its spool. */
static void notes_then_killed(const fixture *f, int count, const char *event, const char *detail)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        tok *t = NULL;
        if (tok_open(path, &t) != CKR_OK)
            _exit(1);
        for (int i = 0; i < count; i++)
            if (tok_audit_note(t, event, detail) != CKR_OK)
                _exit(1);
        raise(SIGKILL);
    }
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

/* A process killed with notes in its spool loses none of them: the next
 * tok_open drains the spool and removes it. */
static void killed_process_spool_is_drained(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    notes_then_killed(f, 17, "before-kill", "query answered");
    assert_int_equal(spool_files(f), 1);
    assert_int_equal(table_count(f->t, "before-kill"), 0);

    tok *other = NULL;
    assert_int_equal(tok_open(path, &other), CKR_OK); /* sweeps spools whose owner is gone */
    assert_int_equal(table_count(f->t, "before-kill"), 17);
    assert_int_equal(spool_files(f), 0);
    tok_close(other);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);
}

/* Another live process's spool: drained by tok_audit_flush without being
 * removed, and its owner's own later drain repeats nothing. */
static void live_spool_is_shared(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX];
    int go[2], done[2];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(done), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        tok *t = NULL;
        char c;
        bool ok = tok_open(path, &t) == CKR_OK;
        for (int i = 0; ok && i < 10; i++)
            ok = tok_audit_note(t, "live", "first ten") == CKR_OK;
        ok = ok && write(done[1], "1", 1) == 1 && read(go[0], &c, 1) == 1;
        for (int i = 0; ok && i < 5; i++)
            ok = tok_audit_note(t, "live", "five more") == CKR_OK;
        tok_close(t); /* drains the five */
        _exit(ok ? 0 : 1);
    }
    char c;
    assert_int_equal(read(done[0], &c, 1), 1);
    assert_int_equal(tok_audit_flush(f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "live"), 10);
    assert_int_equal(spool_files(f), 1); /* its owner is alive */
    assert_int_equal(write(go[1], "1", 1), 1);
    int status;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(table_count(f->t, "live"), 15);
    assert_int_equal(spool_files(f), 0);
}

/* A damaged spool (a length out of range) is recorded as damaged, its
 * good records are kept, and the chain still verifies. */
static void damaged_spool_is_recorded(void **state)
{
    fixture *f = *state;
    notes_then_killed(f, 3, "good", "kept");
    /* The spool's data start at 4096; corrupt the length of record 3. */
    DIR *d = opendir(f->dir);
    char spool[PATH_MAX] = "";
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (strstr(e->d_name, "-spool-"))
            snprintf(spool, sizeof(spool), "%s/%s", f->dir, e->d_name);
    closedir(d);
    assert_true(spool[0] != '\0');
    FILE *file = fopen(spool, "r+b");
    assert_non_null(file);
    uint32_t len;
    assert_int_equal(fseek(file, 4096, SEEK_SET), 0);
    assert_int_equal(fread(&len, sizeof(len), 1, file), 1);
    assert_int_equal(fseek(file, 4096 + 2 * (long)(sizeof(len) + len), SEEK_SET), 0);
    uint32_t bad = 0x7fffffff;
    assert_int_equal(fwrite(&bad, sizeof(bad), 1, file), 1);
    fclose(file);

    assert_int_equal(tok_audit_flush(f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "good"), 2);
    assert_int_equal(table_count(f->t, "audit-spool-damaged"), 1);
    assert_int_equal(spool_files(f), 0);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);
}

/* ---- the drain thread (tok_audit_thread) ---------------------------------------- */

/* Waits up to 10 s for the table to hold want records of event. */
static long table_count_reaches(tok *t, const char *event, long want)
{
    long n = 0;
    for (int i = 0; i < 1000 && (n = table_count(t, event)) < want; i++)
        usleep(10000);
    return n;
}

static int setup_with_thread(void **state)
{
    tok_audit_thread(true);
    return fixture_setup_token(state);
}

static int teardown_with_thread(void **state)
{
    int rc = fixture_teardown(state); /* closes the token: its spool goes back */
    tok_audit_thread(false);
    return rc;
}

/* Records reach the chain without the caller draining: a few by the
 * thread's periodic look, many by its being woken; then the thread ends
 * when it is no longer allowed. */
static void thread_drains_for_the_caller(void **state)
{
    fixture *f = *state;
    size_t before = threads_probe_count();
    assert_true(before > 0);
    for (int i = 0; i < 5; i++)
        assert_int_equal(tok_audit_note(f->t, "few", "spooled"), CKR_OK);
    assert_int_equal(threads_probe_count(), before + 1); /* started with the first spool */
    /* Fewer than SPOOL_FLUSH_RECORDS: without the thread they would wait. */
    assert_int_equal(table_count_reaches(f->t, "few", 5), 5);

    char detail[200];
    memset(detail, 'd', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    for (int i = 0; i < 40000; i++) /* 9 MB: the 4 MiB ring wraps */
        assert_int_equal(tok_audit_note(f->t, "many", detail), CKR_OK);
    assert_int_equal(table_count_reaches(f->t, "many", 40000), 40000);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);
    assert_int_equal(table_count(f->t, "few"), 5);
    assert_int_equal(table_count(f->t, "many"), 40000);

    tok_audit_thread(false);
    assert_int_equal(threads_probe_settle(before), before);
    /* The owner drains again, at its own thresholds. */
    for (int i = 0; i < 1100; i++)
        assert_int_equal(tok_audit_note(f->t, "after", "q"), CKR_OK);
    assert_true(table_count(f->t, "after") >= 1024);
}

typedef struct event_log {
    size_t count, size;
    char (*events)[16];
} event_log;

static void collect_all(void *ctx, unsigned long seq, const char *time, const char *event,
                        const char *detail)
{
    (void)seq, (void)time, (void)detail;
    event_log *log = ctx;
    if (log->count == log->size) {
        log->size = log->size ? 2 * log->size : 1024;
        log->events = realloc(log->events, log->size * sizeof(*log->events));
        assert_non_null(log->events);
    }
    snprintf(log->events[log->count++], sizeof(log->events[0]), "%s", event);
}

/* While the thread drains, the owner's records in transactions still
 * come after the notes it made before them, none doubled or lost. */
static void thread_keeps_the_owners_order(void **state)
{
    fixture *f = *state;
    char event[16], detail[300];
    memset(detail, 'o', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    for (int round = 0; round < 20; round++) {
        snprintf(event, sizeof(event), "note-%02d", round);
        for (int i = 0; i < 900; i++) /* 270 KB a round: the thread is woken */
            assert_int_equal(tok_audit_note(f->t, event, detail), CKR_OK);
        snprintf(event, sizeof(event), "txn-%02d", round);
        assert_int_equal(tok_audit_append(f->t, event, "in a transaction"), CKR_OK);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    tok_close(f->t); /* waits for a drain in progress, then drains the rest */
    f->t = NULL;
    assert_int_equal(spool_files(f), 0);
    tok *t = NULL;
    assert_int_equal(tok_open(path, &t), CKR_OK);
    f->t = t;
    event_log log = {0, 0, NULL};
    unsigned long broken;
    assert_int_equal(tok_audit_verify(t, collect_all, &log, &broken), CKR_OK);
    int round = 0, notes = 0;
    for (size_t i = 0; i < log.count; i++) {
        if (strncmp(log.events[i], "note-", 5) == 0) {
            assert_int_equal(atoi(log.events[i] + 5), round);
            notes++;
        } else if (strncmp(log.events[i], "txn-", 4) == 0) {
            assert_int_equal(atoi(log.events[i] + 4), round);
            assert_int_equal(notes, 900);
            round++;
            notes = 0;
        }
    }
    assert_int_equal(round, 20);
    free(log.events);
}

/* fork() while the thread drains: the child gets none of the locks the
 * thread held inside SQLite, so it can open the token (a hang here is the
 * failure: the test's timeout). */
/* A forked child notes "child" in the token at path (starting a thread
 * of its own) and exits; it has 20 s. */
static void child_notes(const char *path, int round)
{
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        tok *t = NULL;
        bool ok = tok_open(path, &t) == CKR_OK && tok_audit_note(t, "child", "x") == CKR_OK;
        tok_close(t);
        tok_audit_thread(false);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    pid_t done = 0;
    for (int waited = 0; waited < 2000 && done == 0; waited++) {
        done = waitpid(child, &status, WNOHANG);
        if (done == 0)
            usleep(10000);
    }
    if (done == 0) {
        kill(child, SIGKILL);
        waitpid(child, &status, 0);
        fail_msg("round %d: the child hung", round);
    }
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void fork_while_thread_drains(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX], detail[200];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    memset(detail, 'f', sizeof(detail) - 1);
    detail[sizeof(detail) - 1] = '\0';
    for (int round = 0; round < 20; round++) {
        for (int i = 0; i < 3000; i++) /* 660 KB: the thread is woken, drains */
            assert_int_equal(tok_audit_note(f->t, "fork", detail), CKR_OK);
        child_notes(path, round);
    }
    assert_int_equal(tok_audit_flush(f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "fork"), 60000);
    assert_int_equal(table_count(f->t, "child"), 20);
    unsigned long broken;
    assert_int_equal(tok_audit_verify(f->t, NULL, NULL, &broken), CKR_OK);
}

/* fork() just after the first spool started the thread, while the thread
 * may still be starting (a sanitizer runtime registers a new thread under
 * its own locks): the child, which starts a thread of its own, must not
 * inherit them held (it did at the 63rd round under ASan).  Under
 * valgrind, which has no such runtime, a few rounds. */
static void fork_as_thread_starts(void **state)
{
    fixture *f = *state;
    int rounds = RUNNING_ON_VALGRIND ? 3 : 100;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", tok_path(f->t));
    for (int round = 0; round < rounds; round++) {
        tok_close(f->t);
        f->t = NULL;
        tok_audit_thread(false);
        tok_audit_thread(true);
        assert_int_equal(tok_open(path, &f->t), CKR_OK);
        assert_int_equal(tok_audit_note(f->t, "parent", "x"), CKR_OK); /* the thread starts */
        child_notes(path, round);
    }
    assert_int_equal(tok_audit_flush(f->t), CKR_OK);
    assert_int_equal(table_count(f->t, "parent"), rounds);
    assert_int_equal(table_count(f->t, "child"), rounds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(notes_wait_in_spool, fixture_setup_token, fixture_teardown),
        cmocka_unit_test_setup_teardown(owner_drains_in_batches, fixture_setup_token,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(killed_process_spool_is_drained, fixture_setup_token,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(live_spool_is_shared, fixture_setup_token,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(damaged_spool_is_recorded, fixture_setup_token,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(thread_drains_for_the_caller, setup_with_thread,
                                        teardown_with_thread),
        cmocka_unit_test_setup_teardown(thread_keeps_the_owners_order, setup_with_thread,
                                        teardown_with_thread),
        cmocka_unit_test_setup_teardown(fork_while_thread_drains, setup_with_thread,
                                        teardown_with_thread),
        cmocka_unit_test_setup_teardown(fork_as_thread_starts, setup_with_thread,
                                        teardown_with_thread),
    };
    return cmocka_run_group_tests_name("store spool", tests, NULL, NULL);
}
