/*
 * bench_run.c — the timing loop and the operation rows: every target of a
 * row (each module and raw OpenSSL, at each thread count) runs in the same
 * rounds, in turns, and the rate is the median of the rounds.
 */
#include "bench_driver.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds of the running iteration's thread left out of its rate. */
static __thread double untimed;

double bench_untimed_begin(void)
{
    return bench_now();
}

void bench_untimed_end(double t0)
{
    untimed += bench_now() - t0;
}

void bench_note(measure *m, const char *fmt, const char *arg)
{
    m->ok = false;
    snprintf(m->note, sizeof(m->note), fmt, arg);
}

/* ---- CPU time ---------------------------------------------------------------- */

double bench_process_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
           (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* The process CPU time once no thread of it is busy any more: a module's
 * background threads (softse's audit drain) may still work on a round's
 * records after the timed threads stop, and that CPU belongs to the round,
 * not to the next target's.  The timed threads are stopped, so any CPU
 * used during the 5 ms naps is a background thread's; waits until two naps
 * in a row see under 10 % of a CPU used (one quiet nap may be a drain
 * thread waiting for a CPU on a loaded machine), at most 1 s. */
double bench_settled_cpu(void)
{
    double c = bench_process_cpu();
    int quiet = 0;
    for (int i = 0; i < 200 && quiet < 2; i++) {
        struct timespec nap = {0, 5000000};
        nanosleep(&nap, NULL);
        double now = bench_process_cpu();
        quiet = now - c < 0.0005 ? quiet + 1 : 0;
        c = now;
    }
    return c;
}

/* ---- the timing loop -------------------------------------------------------- */

typedef struct worker {
    bench_run_fn run;
    void *state;
    double seconds;
    pthread_barrier_t *start;
    uint64_t count;
    double elapsed;
    CK_RV rv;
} worker;

/* Runs until the time is up, reading the clock once per batch; a batch
 * doubles while it lasts under a millisecond, so the clock costs nothing
 * measurable even for sub-microsecond operations.  Time the iterations
 * declare untimed (bench_untimed_end) counts for neither the round's
 * length nor the rate. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t n = 0, batch = 1;
    if (w->start)
        pthread_barrier_wait(w->start);
    double t0 = bench_now(), t = t0;
    w->rv = CKR_OK;
    untimed = 0;
    while (t - t0 - untimed < w->seconds && w->rv == CKR_OK) {
        double b0 = t;
        for (uint64_t i = 0; i < batch; i++) {
            w->rv = w->run(w->state);
            if (w->rv != CKR_OK)
                break;
            n++;
        }
        t = bench_now();
        if (t - b0 < 1e-3 && batch < (1u << 20))
            batch *= 2;
    }
    w->count = n;
    w->elapsed = t - t0 - untimed;
    return NULL;
}

/* One round on n threads: the summed rate, or 0 with *rv set; *done
 * counts the iterations that succeeded. */
static double run_round(bench_run_fn run, void **states, unsigned n, double seconds, CK_RV *rv,
                        uint64_t *done)
{
    worker w[4 * MAX_LIST];
    pthread_t tid[4 * MAX_LIST];
    pthread_barrier_t start;
    double rate = 0;
    *rv = CKR_OK;
    *done = 0;
    for (unsigned i = 0; i < n; i++)
        w[i] = (worker){run, states[i], seconds, n > 1 ? &start : NULL, 0, 0, CKR_OK};
    if (n == 1) {
        worker_main(&w[0]);
    } else {
        pthread_barrier_init(&start, NULL, n);
        for (unsigned i = 0; i < n; i++)
            pthread_create(&tid[i], NULL, worker_main, &w[i]);
        for (unsigned i = 0; i < n; i++)
            pthread_join(tid[i], NULL);
        pthread_barrier_destroy(&start);
    }
    for (unsigned i = 0; i < n; i++) {
        if (w[i].rv != CKR_OK)
            *rv = w[i].rv;
        *done += w[i].count;
        rate += w[i].elapsed > 0 ? w[i].count / w[i].elapsed : 0;
    }
    return *rv == CKR_OK ? rate : 0;
}

/* One round as run_round, with its CPU seconds per operation in *cpu. */
static double run_round_cpu(bench_run_fn run, void **states, unsigned n, double seconds, CK_RV *rv,
                            uint64_t *done, double *cpu)
{
    double c0 = bench_settled_cpu();
    double rate = run_round(run, states, n, seconds, rv, done);
    *cpu = *done ? (bench_settled_cpu() - c0) / (double)*done : 0;
    return rate;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bench_median(const double *values, unsigned n)
{
    double v[MAX_ROUNDS];
    memcpy(v, values, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void bench_summarize(measure *m)
{
    m->ok = m->rounds > 0;
    m->median = bench_median(m->sample, m->rounds);
    m->cpu_median = bench_median(m->cpu, m->rounds);
    m->min = m->max = m->sample[0];
    for (unsigned i = 1; i < m->rounds; i++) {
        m->min = fmin(m->min, m->sample[i]);
        m->max = fmax(m->max, m->sample[i]);
    }
}

/* What one target (a module or raw OpenSSL) runs on its threads. */
typedef struct target {
    bench_run_fn run;
    unsigned nthreads;
    void *states[4 * MAX_LIST];
    CK_SESSION_HANDLE sessions[4 * MAX_LIST];
    measure *out;
    bool live;
} target;

/* A warm-up round each, then --rounds rounds in which the targets take
 * turns: on a machine whose speed drifts (shared host), every round
 * compares them under the same conditions.  A target failing its very
 * first call lacks the feature ("n/a"); a later failure is an error. */
static void measure_targets(target *t, size_t count)
{
    unsigned rounds = opt.rounds < MAX_ROUNDS ? opt.rounds : MAX_ROUNDS;
    CK_RV rv;
    uint64_t done;
    for (size_t k = 0; k < count; k++) {
        if (!t[k].live)
            continue;
        run_round(t[k].run, t[k].states, t[k].nthreads, fmin(opt.seconds, 0.1), &rv, &done);
        if (rv != CKR_OK) {
            bench_note(t[k].out, done ? "error %s" : "n/a (%s)", bench_rv_name(rv));
            t[k].live = false;
        }
    }
    for (unsigned r = 0; r < rounds; r++)
        for (size_t k = 0; k < count; k++) {
            if (!t[k].live)
                continue;
            measure *m = t[k].out;
            m->sample[m->rounds] = run_round_cpu(t[k].run, t[k].states, t[k].nthreads, opt.seconds,
                                                 &rv, &done, &m->cpu[m->rounds]);
            m->rounds++;
            if (rv != CKR_OK) {
                bench_note(m, "error %s", bench_rv_name(rv));
                t[k].live = false;
            }
        }
    for (size_t k = 0; k < count; k++)
        if (t[k].live)
            bench_summarize(t[k].out);
}

double bench_round(bench_run_fn run, void *state, double seconds, CK_RV *rv, uint64_t *done,
                   double *cpu)
{
    return run_round_cpu(run, &state, 1, seconds, rv, done, cpu);
}

void bench_measure_rate(measure *m, bench_run_fn run, void *state)
{
    target t = {.run = run, .nthreads = 1, .states = {state}, .out = m, .live = true};
    measure_targets(&t, 1);
}

/* ---- the operation rows -------------------------------------------------------- */

/* Opens one session per thread and sets the operation up on each. */
static void prepare_p11(target *t, const bench_op *op, bench_module *m)
{
    CK_MECHANISM_INFO info;
    CK_RV rv = CKR_OK;
    if (op->mech && m->fn->C_GetMechanismInfo(m->slot, op->mech, &info) != CKR_OK)
        return bench_note(t->out, "n/a%s", " (no mechanism)");
    if (!op->p11_init) /* a reserved vendor row */
        return bench_note(t->out, "n/a%s", " (row reserved)");
    for (unsigned i = 0; i < t->nthreads && rv == CKR_OK; i++) {
        rv = m->fn->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &t->sessions[i]);
        if (rv == CKR_OK)
            rv = op->p11_init(m, t->sessions[i], &t->states[i]);
    }
    if (rv != CKR_OK)
        return bench_note(t->out, "n/a (%s)", bench_rv_name(rv));
    t->run = op->p11_run;
    t->live = true;
}

/* The careful raw side, or with naive the naive one (bench.h). */
static void prepare_raw(target *t, const bench_op *op, bool naive)
{
    CK_RV rv = CKR_OK;
    CK_RV (*init)(void **) = naive ? op->naive_init : op->raw_init;
    if (!init || opt.no_raw)
        return bench_note(t->out, "n/a%s", "");
    for (unsigned i = 0; i < t->nthreads && rv == CKR_OK; i++)
        rv = init(&t->states[i]);
    if (rv != CKR_OK)
        return bench_note(t->out, "error %s", bench_rv_name(rv));
    t->run = naive ? op->naive_run : op->raw_run;
    t->live = true;
}

/* Every target of a row (each module and raw, at each thread count) is
 * measured in the same rounds, so ratios and scaling pair like with like. */
static void measure_op(op_result *r)
{
    const bench_op *op = r->op;
    target t[MAX_LIST * T_COUNT] = {{0}};
    size_t count = 0;
    for (size_t at = 0; at < (op->threaded ? opt.nthreads : 1); at++)
        for (size_t k = 0; k < T_COUNT; k++, count++) {
            t[count].out = &r->at[at][k];
            t[count].nthreads = opt.threads[at];
            if (k == T_RAW || k == T_NAIVE)
                prepare_raw(&t[count], op, k == T_NAIVE);
            else if (k < nmodules)
                prepare_p11(&t[count], op, &modules[k]);
        }
    measure_targets(t, count);
    for (size_t i = 0; i < count; i++) {
        size_t k = i % T_COUNT;
        for (unsigned j = 0; j < t[i].nthreads; j++) {
            bench_state_free(t[i].states[j]);
            if (k < nmodules && t[i].sessions[j])
                modules[k].fn->C_CloseSession(t[i].sessions[j]);
        }
    }
    /* C_Login is per application: a failed login row must not leave the
     * next rows logged out. */
    for (size_t k = 0; k < nmodules; k++)
        bench_login(&modules[k], CKU_USER, modules[k].pin);
}

static void fmt_rate(char *buf, size_t size, const measure *m)
{
    if (m->ok)
        snprintf(buf, size, "%.0f", m->median);
    else
        snprintf(buf, size, "%s", m->note[0] ? m->note : "-");
}

void bench_run_operations(void)
{
    const bench_op *op;
    for (size_t i = 0; (op = bench_op_at(i)) != NULL; i++) {
        if (!bench_selected(op->name, op->group))
            continue;
        op_result *r = &results[nresults++];
        r->op = op;
        measure_op(r);
        for (size_t t = 0; t < (op->threaded ? opt.nthreads : 1); t++) {
            char a[96], b[96], c[96], second[160] = "";
            fmt_rate(a, sizeof(a), &r->at[t][T_MOD1]);
            fmt_rate(b, sizeof(b), &r->at[t][T_MOD2]);
            fmt_rate(c, sizeof(c), &r->at[t][T_RAW]);
            if (nmodules > 1)
                snprintf(second, sizeof(second), "%s: %s  ", modules[1].name, b);
            fprintf(stderr, "  %-24s x%u  %s: %s  %sraw: %s\n", op->name, opt.threads[t],
                    modules[0].name, a, second, c);
        }
    }
}
