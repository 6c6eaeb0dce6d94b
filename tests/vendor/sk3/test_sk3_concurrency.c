/*
 * SK3 under concurrency (docs/spec.md §6, §7): 4 processes × 2 threads run
 * whole rounds (queries 1–4 and the server query) on the same host keys
 * for a bounded time, some with a deliberately wrong β (query 3) or ρ
 * (query 4).  Afterwards each host key's CKA_SE_FAILURE_COUNT equals
 * exactly the number of bad queries made: no increment lost across
 * threads and processes.  A deadline kills the children if they hang.
 *
 * Rates are measured, not asserted ("sk3 rate: ..." lines): each query
 * type alone on one thread, then the concurrent mix (rounds per second
 * and each query's mean latency).
 *
 * SK3_CONCURRENCY_SECONDS overrides the run time (default 3).
 */
#include "sk3_fixture.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#define PROCESSES 4
#define THREADS 2
#define BAD_Q3_EVERY 5                           /* one round in 5 sends a wrong β */
#define BAD_Q4_EVERY 7                           /* one round in 7 adds a wrong ρ */
#define MIN_ROUNDS (BAD_Q3_EVERY * BAD_Q4_EVERY) /* per thread, however slow the machine */
#define DEADLINE_SLACK 120 /* seconds beyond the run before the children count as hung */

enum { Q_1, Q_SERVER, Q_2, Q_3, Q_4, Q_COUNT };
static const char *const query_name[Q_COUNT] = {"Q1", "SERVER", "Q2", "Q3", "Q4"};

typedef struct stats {
    unsigned long count[Q_COUNT];
    double seconds[Q_COUNT]; /* time spent in each query type */
    unsigned long bad_q3, bad_q4, rounds;
    double active; /* seconds of rounds (the longest thread's, once added up) */
    CK_RV error;   /* the first unexpected answer */
    int error_query;
} stats;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double run_seconds(void)
{
    const char *env = getenv("SK3_CONCURRENCY_SECONDS");
    double seconds = env ? atof(env) : 3.0;
    return seconds > 0 ? seconds : 3.0;
}

/* Times one query and checks its answer; false stops the thread. */
#define TIMED(st, q, call, expected)                                                               \
    ({                                                                                             \
        double t0_ = now();                                                                        \
        CK_RV rv_ = (call);                                                                        \
        (st)->seconds[q] += now() - t0_;                                                           \
        (st)->count[q]++;                                                                          \
        if (rv_ != (CK_RV)(expected) && (st)->error == CKR_OK) {                                   \
            (st)->error = rv_ == CKR_OK ? CKR_GENERAL_ERROR : rv_;                                 \
            (st)->error_query = q;                                                                 \
        }                                                                                          \
        rv_ == (CK_RV)(expected);                                                                  \
    })

/* Rounds for `seconds` (and at least MIN_ROUNDS); round numbers from
 * `first` keep the bad fraction the same in every thread. */
static void run_rounds(sk3_world *w, double seconds, unsigned long first, stats *st)
{
    double start = now(), until = start + seconds;
    for (unsigned long round = first; now() < until || round - first < MIN_ROUNDS; round++) {
        CK_SE_SK3_Q3_PARAMS p;
        memset(&p, 0, sizeof(p));
        memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
        CK_SESSION_HANDLE si = w->session[SK3_I], sj = w->session[SK3_J];
        CK_OBJECT_HANDLE hi = w->host[SK3_I], hj = w->host[SK3_J];
        if (!TIMED(st, Q_1, sk3_q1(si, hi, p.ri, p.ci), CKR_OK) ||
            !TIMED(
                st, Q_SERVER,
                sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, p.alpha, p.beta),
                CKR_OK) ||
            !TIMED(st, Q_2, sk3_q2(sj, hj, sk3_host_i, p.ri, p.rj, p.tauJ, SK3_SIGMA_AES, NULL),
                   CKR_OK))
            return;
        bool bad3 = round % BAD_Q3_EVERY == BAD_Q3_EVERY - 1;
        if (bad3)
            p.beta[round % SK3_LEN] ^= 0x80;
        bool ok = TIMED(st, Q_3, sk3_q3(si, hi, &p, SK3_SIGMA_AES, NULL),
                        bad3 ? CKR_SE_PROTOCOL_REJECTED : CKR_OK);
        st->bad_q3 += bad3; /* made, whatever the answer */
        if (!ok)
            return;
        if (bad3)
            continue;
        if (!TIMED(st, Q_4, sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN), CKR_OK))
            return;
        if (round % BAD_Q4_EVERY == BAD_Q4_EVERY - 1) {
            p.rhoI[0] ^= 1;
            st->bad_q4++;
            if (!TIMED(st, Q_4, sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN),
                       CKR_SIGNATURE_INVALID))
                return;
        }
        st->rounds++;
        st->active = now() - start;
    }
}

/* ---- the children
 * --------------------------------------------------------------------------------- */

typedef struct worker {
    pthread_t thread;
    double seconds;
    unsigned long first;
    stats st;
} worker;

static void *worker_main(void *arg)
{
    worker *wk = arg;
    sk3_world w;
    CK_RV rv = sk3_world_open(&w); /* its own sessions */
    if (rv != CKR_OK) {
        wk->st.error = rv;
        wk->st.error_query = -1;
        return NULL;
    }
    run_rounds(&w, wk->seconds, wk->first,
               &wk->st); /* timed from here: setup is slow under sanitizers */
    for (int n = 0; n < 3; n++)
        fx_functions()->C_CloseSession(w.session[n]);
    return NULL;
}

static void add_stats(stats *sum, const stats *st)
{
    for (int q = 0; q < Q_COUNT; q++) {
        sum->count[q] += st->count[q];
        sum->seconds[q] += st->seconds[q];
    }
    sum->bad_q3 += st->bad_q3;
    sum->bad_q4 += st->bad_q4;
    sum->rounds += st->rounds;
    if (st->active > sum->active)
        sum->active = st->active;
    if (sum->error == CKR_OK && st->error != CKR_OK) {
        sum->error = st->error;
        sum->error_query = st->error_query;
    }
}

static int child_main(int index, int out, double seconds)
{
    CK_C_INITIALIZE_ARGS args;
    memset(&args, 0, sizeof(args));
    args.flags = CKF_OS_LOCKING_OK;
    child_rv(fx_functions()->C_Initialize(&args), CKR_OK);
    worker workers[THREADS];
    memset(workers, 0, sizeof(workers));
    for (int n = 0; n < THREADS; n++) {
        workers[n].seconds = seconds;
        workers[n].first = (unsigned long)(index * THREADS + n) * 1000003UL;
        child_check(pthread_create(&workers[n].thread, NULL, worker_main, &workers[n]) == 0);
    }
    stats sum;
    memset(&sum, 0, sizeof(sum));
    for (int n = 0; n < THREADS; n++) {
        child_check(pthread_join(workers[n].thread, NULL) == 0);
        add_stats(&sum, &workers[n].st);
    }
    child_check(write(out, &sum, sizeof(sum)) == (ssize_t)sizeof(sum));
    child_rv(fx_functions()->C_Finalize(NULL), CKR_OK);
    return 0;
}

/* ---- the test
 * ------------------------------------------------------------------------------------ */

static int setup(void **state)
{
    if (sk3_setup_module(state) != 0)
        return -1;
    sk3_state *st = *state;
    sk3_world_opts opts = {.failure_limit = 0, .limit_given = true}; /* never blocks */
    return sk3_world_make(&st->w, &opts) == CKR_OK ? 0 : -1;
}

/* Waits for every child until deadline; kills (by pid) those still
 * running after it. */
static bool wait_children(pid_t *pids, int count, double deadline)
{
    int left = count;
    bool hung = false;
    while (left > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            for (int n = 0; n < count; n++) {
                if (pids[n] == pid) {
                    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                        print_error("child %d failed (status 0x%x)\n", (int)pid, status);
                    pids[n] = (pid_t)(WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1);
                    left--;
                }
            }
            continue;
        }
        if (now() > deadline) {
            for (int n = 0; n < count; n++) {
                if (pids[n] > 0) {
                    kill(pids[n], SIGKILL);
                    waitpid(pids[n], NULL, 0);
                    pids[n] = -1;
                    left--;
                }
            }
            hung = true;
            break;
        }
        struct timespec pause = {0, 20 * 1000 * 1000};
        nanosleep(&pause, NULL);
    }
    if (hung)
        return false;
    for (int n = 0; n < count; n++)
        if (pids[n] != 0)
            return false;
    return true;
}

/* Aggregate rounds per second, and each query's mean latency in the mix. */
static void print_mix(const char *what, const stats *st)
{
    printf("sk3 rate: %s: %lu rounds in %.2f s = %.0f rounds/s\n", what, st->rounds, st->active,
           st->active > 0 ? (double)st->rounds / st->active : 0);
    for (int q = 0; q < Q_COUNT; q++)
        printf("sk3 rate: %s: %-6s %7lu queries, mean latency %.3f ms\n", what, query_name[q],
               st->count[q], st->count[q] ? 1000.0 * st->seconds[q] / (double)st->count[q] : 0);
}

/* One query type at a time on one thread, for `seconds` each: the rate
 * of the card alone.  Queries 3 and 4 repeat one honest input (the card
 * is stateless, so it stays valid), then one tampered input (a rejection
 * costs a persistent counter update and an audit record).  Returns the
 * number of rejections made (counted on the host keys). */
static unsigned long measure_each(sk3_world *w, double seconds, unsigned long *bad_q4)
{
    CK_SE_SK3_Q3_PARAMS p, bad;
    memset(&p, 0, sizeof(p));
    memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
    CK_SESSION_HANDLE si = w->session[SK3_I], sj = w->session[SK3_J], ss = w->session[SK3_S];
    CK_OBJECT_HANDLE hi = w->host[SK3_I], hj = w->host[SK3_J];
    unsigned char ri[SK3_LEN], ci[SK3_LEN], rho_bad[SK3_LEN];
    assert_rv(sk3_q1(si, hi, p.ri, p.ci), CKR_OK);
    assert_rv(sk3_server(ss, w->server, sk3_host_i, sk3_host_j, p.alpha, p.beta), CKR_OK);
    assert_rv(sk3_q2(sj, hj, sk3_host_i, p.ri, p.rj, p.tauJ, SK3_SIGMA_AES, NULL), CKR_OK);
    assert_rv(sk3_q3(si, hi, &p, SK3_SIGMA_AES, NULL), CKR_OK);
    bad = p;
    bad.beta[0] ^= 1;
    memcpy(rho_bad, p.rhoI, SK3_LEN);
    rho_bad[0] ^= 1;
    unsigned long rejected = 0;
    *bad_q4 = 0;
    static const char *const names[] = {"Q1", "SERVER",    "Q2 (+σ)",  "Q3 (+σ)",
                                        "Q4", "Q3 reject", "Q4 reject"};
    for (int kind = 0; kind < 7; kind++) {
        unsigned long count = 0;
        double t0 = now(), t1;
        CK_RV rv = CKR_OK;
        do {
            CK_SE_SK3_Q3_PARAMS copy = kind == 5 ? bad : p;
            switch (kind) {
            case 0:
                rv = sk3_q1(si, hi, ri, ci);
                break;
            case 1:
                rv = sk3_server(ss, w->server, sk3_host_i, sk3_host_j, ri, ci);
                break;
            case 2:
                rv = sk3_q2(sj, hj, sk3_host_i, p.ri, ri, ci, SK3_SIGMA_AES, NULL);
                break;
            case 3:
                rv = sk3_q3(si, hi, &copy, SK3_SIGMA_AES, NULL);
                break;
            case 4:
                rv = sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN);
                break;
            case 5:
                rv = sk3_q3(si, hi, &copy, SK3_SIGMA_AES, NULL);
                rv = rv == CKR_SE_PROTOCOL_REJECTED ? CKR_OK : CKR_GENERAL_ERROR;
                rejected++;
                break;
            default:
                rv = sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, rho_bad, SK3_LEN);
                rv = rv == CKR_SIGNATURE_INVALID ? CKR_OK : CKR_GENERAL_ERROR;
                (*bad_q4)++;
                break;
            }
            count++;
            t1 = now();
        } while (rv == CKR_OK && t1 - t0 < seconds);
        assert_rv(rv, CKR_OK);
        printf("sk3 rate: alone: %-10s %6lu queries in %.2f s = %7.0f /s\n", names[kind], count,
               t1 - t0, (double)count / (t1 - t0));
    }
    return rejected;
}

static void no_lost_failures(void **state)
{
    sk3_state *s = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    double seconds = run_seconds();

    /* one thread alone first: the rate of each query type by itself */
    unsigned long alone_bad_q4 = 0;
    unsigned long alone_bad_q3 = measure_each(&s->w, 0.5, &alone_bad_q4);

    assert_rv(f->C_Finalize(NULL), CKR_OK);
    int pipes[PROCESSES][2];
    pid_t pids[PROCESSES];
    double start = now();
    fflush(NULL);
    for (int n = 0; n < PROCESSES; n++) {
        assert_int_equal(pipe(pipes[n]), 0);
        pids[n] = fork();
        assert_true(pids[n] >= 0);
        if (pids[n] == 0) {
            close(pipes[n][0]);
            _exit(child_main(n, pipes[n][1], seconds));
        }
        close(pipes[n][1]);
    }
    bool finished = wait_children(pids, PROCESSES, start + seconds + DEADLINE_SLACK);
    double wall = now() - start;
    stats sum;
    memset(&sum, 0, sizeof(sum));
    for (int n = 0; n < PROCESSES; n++) {
        stats st;
        if (read(pipes[n][0], &st, sizeof(st)) == (ssize_t)sizeof(st))
            add_stats(&sum, &st);
        close(pipes[n][0]);
    }
    if (!finished)
        fail_msg("the children did not finish within %d s of the deadline (deadlock?) or failed",
                 DEADLINE_SLACK);
    if (sum.error != CKR_OK)
        fail_msg("a child's %s answered %s",
                 sum.error_query >= 0 ? query_name[sum.error_query] : "setup",
                 fx_rv_name(sum.error));

    assert_rv(f->C_Initialize(NULL), CKR_OK);
    assert_rv(sk3_world_open(&s->w), CKR_OK);
    CK_ULONG count_i = 0, count_j = 0;
    assert_rv(sk3_failure_count(s->w.session[SK3_I], s->w.host[SK3_I], &count_i), CKR_OK);
    assert_rv(sk3_failure_count(s->w.session[SK3_J], s->w.host[SK3_J], &count_j), CKR_OK);
    printf("sk3 concurrency: %d processes x %d threads, %.2f s: %lu rounds, %lu bad queries 3"
           " + %lu alone (count %lu), %lu + %lu bad queries 4 (count %lu)\n",
           PROCESSES, THREADS, wall, sum.rounds, sum.bad_q3, alone_bad_q3, (unsigned long)count_i,
           sum.bad_q4, alone_bad_q4, (unsigned long)count_j);
    print_mix("4x2", &sum);
    assert_true(sum.bad_q3 > 0 && sum.bad_q4 > 0);
    /* the single thread's bad queries count too */
    assert_int_equal(count_i, sum.bad_q3 + alone_bad_q3);
    assert_int_equal(count_j, sum.bad_q4 + alone_bad_q4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(no_lost_failures, setup, sk3_teardown),
    };
    return cmocka_run_group_tests_name("sk3-concurrency", tests, NULL, NULL);
}
