/*
 * bench.c — softse-bench: throughput of a PKCS#11 module against raw
 * OpenSSL and, optionally, against a second module (SoftHSMv2).
 *
 * Every measurement runs an operation (bench_ops.c) over and over for
 * --seconds, --rounds times after a short warm-up, and reports the median
 * rate.  The object-count cases populate the token with small CKO_DATA
 * objects (timed on their own), then time C_FindObjects by a unique
 * CKA_LABEL and C_Initialize+C_OpenSession in a fresh process per sample
 * (C_Initialize is once per process, PKCS#11 3.0 §5.4).
 *
 * Usage: see usage() below and docs/performance.md.
 */
#include "bench.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <math.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 8 /* entries of --threads and --objects */
enum { T_MOD1, T_MOD2, T_RAW, T_COUNT };

typedef struct options {
    const char *module[2];
    long slot[2]; /* -1: choose */
    const char *pin, *so_pin;
    bool init, json, fresh_store, no_raw;
    const char *json_out;
    const char *ops;
    double seconds;
    unsigned rounds;
    unsigned threads[MAX_LIST];
    size_t nthreads;
    unsigned long objects[2][MAX_LIST];
    size_t nobjects[2];
    double populate_budget;
} options;

static options opt = {
    .slot = {-1, -1},
    .pin = "1234",
    .so_pin = "12345678",
    .seconds = 0.25,
    .rounds = 5,
    .threads = {1, 2},
    .nthreads = 2,
    .objects = {{1000}, {1000}},
    .nobjects = {1, 1},
    .populate_budget = 600,
};

#define MAX_ROUNDS 32

/* One measured rate: the median of the rounds, with the spread; the
 * rounds in the order they ran, for paired ratios. */
typedef struct measure {
    bool ok;
    double median, min, max;
    double sample[MAX_ROUNDS];
    unsigned rounds;
    char note[80]; /* why there is no number: "n/a …", "error …" */
} measure;

typedef struct op_result {
    const bench_op *op;
    measure at[MAX_LIST][T_COUNT]; /* [thread-count index][target] */
} op_result;

typedef struct level_result {
    unsigned long count;
    bool reached;
    double populate_s;       /* to grow the token from the previous level */
    unsigned long populated; /* objects created for this level */
    measure find;            /* C_FindObjects per second */
    measure init;            /* seconds per C_Initialize+C_OpenSession */
    char note[120];
} level_result;

static bench_module modules[2];
static size_t nmodules;
static op_result results[64];
static size_t nresults;
static level_result levels[2][MAX_LIST];
static char fresh_dir[64];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void note(measure *m, const char *fmt, const char *arg)
{
    m->ok = false;
    snprintf(m->note, sizeof(m->note), fmt, arg);
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
 * measurable even for sub-microsecond operations. */
static void *worker_main(void *arg)
{
    worker *w = arg;
    uint64_t n = 0, batch = 1;
    if (w->start)
        pthread_barrier_wait(w->start);
    double t0 = now(), t = t0;
    w->rv = CKR_OK;
    while (t - t0 < w->seconds && w->rv == CKR_OK) {
        double b0 = t;
        for (uint64_t i = 0; i < batch; i++) {
            w->rv = w->run(w->state);
            if (w->rv != CKR_OK)
                break;
            n++;
        }
        t = now();
        if (t - b0 < 1e-3 && batch < (1u << 20))
            batch *= 2;
    }
    w->count = n;
    w->elapsed = t - t0;
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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(const double *values, unsigned n)
{
    double v[MAX_ROUNDS];
    memcpy(v, values, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void summarize(measure *m)
{
    m->ok = m->rounds > 0;
    m->median = median(m->sample, m->rounds);
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
            note(t[k].out, done ? "error %s" : "n/a (%s)", bench_rv_name(rv));
            t[k].live = false;
        }
    }
    for (unsigned r = 0; r < rounds; r++)
        for (size_t k = 0; k < count; k++) {
            if (!t[k].live)
                continue;
            measure *m = t[k].out;
            m->sample[m->rounds++] =
                run_round(t[k].run, t[k].states, t[k].nthreads, opt.seconds, &rv, &done);
            if (rv != CKR_OK) {
                note(m, "error %s", bench_rv_name(rv));
                t[k].live = false;
            }
        }
    for (size_t k = 0; k < count; k++)
        if (t[k].live)
            summarize(t[k].out);
}

static void measure_rate(measure *m, bench_run_fn run, void *state)
{
    target t = {.run = run, .nthreads = 1, .states = {state}, .out = m, .live = true};
    measure_targets(&t, 1);
}

/* ---- modules ---------------------------------------------------------------- */

static void trim_copy(char *dst, const CK_UTF8CHAR *src, size_t len)
{
    memcpy(dst, src, len);
    while (len > 0 && dst[len - 1] == ' ')
        len--;
    dst[len] = '\0';
}

static CK_RV module_load(bench_module *m, const char *path)
{
    CK_C_GetFunctionList get;
    m->path = path;
    m->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!m->handle) {
        fprintf(stderr, "softse-bench: %s\n", dlerror());
        return CKR_GENERAL_ERROR;
    }
    *(void **)&get = dlsym(m->handle, "C_GetFunctionList");
    if (!get || get(&m->fn) != CKR_OK) {
        fprintf(stderr, "softse-bench: %s: no C_GetFunctionList\n", path);
        return CKR_GENERAL_ERROR;
    }
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv = m->fn->C_Initialize(&args);
    if (rv != CKR_OK)
        return rv;
    CK_INFO info;
    rv = m->fn->C_GetInfo(&info);
    if (rv != CKR_OK)
        return rv;
    char maker[33];
    trim_copy(maker, info.manufacturerID, sizeof(info.manufacturerID));
    maker[strcspn(maker, " ")] = '\0';
    /* "SoftHSM" reports its major version only in libraryVersion. */
    snprintf(m->name, sizeof(m->name), strcmp(maker, "SoftHSM") == 0 ? "%sv%u" : "%s", maker,
             info.libraryVersion.major);
    return CKR_OK;
}

/* The first slot whose token is (want_blank) or is not initialized. */
static CK_RV find_slot(bench_module *m, bool want_blank, CK_SLOT_ID *out)
{
    CK_SLOT_ID list[64];
    CK_ULONG n = ARRAY_SIZE(list);
    CK_RV rv = m->fn->C_GetSlotList(CK_TRUE, list, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        if (m->fn->C_GetTokenInfo(list[i], &ti) != CKR_OK)
            continue;
        if (!(ti.flags & CKF_TOKEN_INITIALIZED) == want_blank) {
            *out = list[i];
            return CKR_OK;
        }
    }
    return rv != CKR_OK ? rv : CKR_SLOT_ID_INVALID;
}

static CK_RV login(bench_module *m, CK_USER_TYPE who, const char *pin)
{
    CK_RV rv = m->fn->C_Login(m->session, who, (CK_UTF8CHAR *)pin, strlen(pin));
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

/* Opens the module's main session, logged in as the user; with --init,
 * first makes a token in the first blank slot. */
static CK_RV module_prepare(bench_module *m, long slot)
{
    CK_RV rv = CKR_OK;
    const CK_FLAGS rw = CKF_SERIAL_SESSION | CKF_RW_SESSION;
    if (slot >= 0)
        m->slot = (CK_SLOT_ID)slot;
    else
        rv = find_slot(m, opt.init, &m->slot);
    if (rv != CKR_OK) {
        fprintf(stderr, "softse-bench: %s: no %s token slot\n", m->name,
                opt.init ? "blank" : "initialized");
        return rv;
    }
    m->pin = opt.pin;
    m->so_pin = opt.so_pin;
    if (opt.init) {
        CK_UTF8CHAR label[32];
        char text[33];
        snprintf(text, sizeof(text), "softse-bench-%ld", (long)getpid());
        memset(label, ' ', sizeof(label));
        memcpy(label, text, strlen(text));
        rv = m->fn->C_InitToken(m->slot, (CK_UTF8CHAR *)opt.so_pin, strlen(opt.so_pin), label);
        if (rv == CKR_OK)
            rv = m->fn->C_OpenSession(m->slot, rw, NULL, NULL, &m->session);
        if (rv == CKR_OK)
            rv = login(m, CKU_SO, opt.so_pin);
        if (rv == CKR_OK)
            rv = m->fn->C_InitPIN(m->session, (CK_UTF8CHAR *)opt.pin, strlen(opt.pin));
        if (rv == CKR_OK)
            rv = m->fn->C_Logout(m->session);
    } else {
        rv = m->fn->C_OpenSession(m->slot, rw, NULL, NULL, &m->session);
    }
    if (rv == CKR_OK)
        rv = login(m, CKU_USER, opt.pin);
    CK_TOKEN_INFO ti;
    if (rv == CKR_OK)
        rv = m->fn->C_GetTokenInfo(m->slot, &ti);
    if (rv == CKR_OK)
        trim_copy(m->label, ti.label, sizeof(ti.label));
    if (rv != CKR_OK)
        fprintf(stderr, "softse-bench: %s: token set-up failed: %s\n", m->name, bench_rv_name(rv));
    return rv;
}

static bool selected(const char *name, const char *group)
{
    if (!opt.ops)
        return true;
    char *copy = strdup(opt.ops), *save = NULL;
    bool hit = false;
    for (char *t = strtok_r(copy, ",", &save); t && !hit; t = strtok_r(NULL, ",", &save))
        hit = strcmp(t, group) == 0 || strncmp(name, t, strlen(t)) == 0 ||
              (strcmp(t, "vendor") == 0 && strncmp(name, "se-", 3) == 0);
    free(copy);
    return hit;
}

/* ---- the operation rows -------------------------------------------------------- */

/* Opens one session per thread and sets the operation up on each. */
static void prepare_p11(target *t, const bench_op *op, bench_module *m)
{
    CK_MECHANISM_INFO info;
    CK_RV rv = CKR_OK;
    if (op->mech && m->fn->C_GetMechanismInfo(m->slot, op->mech, &info) != CKR_OK)
        return note(t->out, "n/a%s", " (no mechanism)");
    if (!op->p11_init) /* a reserved vendor row */
        return note(t->out, "n/a%s", " (row reserved)");
    for (unsigned i = 0; i < t->nthreads && rv == CKR_OK; i++) {
        rv = m->fn->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &t->sessions[i]);
        if (rv == CKR_OK)
            rv = op->p11_init(m, t->sessions[i], &t->states[i]);
    }
    if (rv != CKR_OK)
        return note(t->out, "n/a (%s)", bench_rv_name(rv));
    t->run = op->p11_run;
    t->live = true;
}

static void prepare_raw(target *t, const bench_op *op)
{
    CK_RV rv = CKR_OK;
    if (!op->raw_init || opt.no_raw)
        return note(t->out, "n/a%s", "");
    for (unsigned i = 0; i < t->nthreads && rv == CKR_OK; i++)
        rv = op->raw_init(&t->states[i]);
    if (rv != CKR_OK)
        return note(t->out, "error %s", bench_rv_name(rv));
    t->run = op->raw_run;
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
            if (k == T_RAW)
                prepare_raw(&t[count], op);
            else if (k < nmodules)
                prepare_p11(&t[count], op, &modules[k]);
        }
    measure_targets(t, count);
    for (size_t i = 0; i < count; i++) {
        size_t k = i % T_COUNT;
        for (unsigned j = 0; j < t[i].nthreads; j++) {
            bench_state_free(t[i].states[j]);
            if (k != T_RAW && t[i].sessions[j])
                modules[k].fn->C_CloseSession(t[i].sessions[j]);
        }
    }
    /* C_Login is per application: a failed login row must not leave the
     * next rows logged out. */
    for (size_t k = 0; k < nmodules; k++)
        login(&modules[k], CKU_USER, modules[k].pin);
}

static void fmt_rate(char *buf, size_t size, const measure *m)
{
    if (m->ok)
        snprintf(buf, size, "%.0f", m->median);
    else
        snprintf(buf, size, "%s", m->note[0] ? m->note : "-");
}

static void run_operations(void)
{
    for (size_t i = 0; i < bench_ops_count; i++) {
        const bench_op *op = &bench_ops[i];
        if (!selected(op->name, op->group))
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

/* ---- object counts ---------------------------------------------------------------- */

static void object_label(char *buf, size_t size, unsigned long i)
{
    snprintf(buf, size, "softse-bench-obj-%08lu", i);
}

/* Handles of objects labelled so: up to max. */
static CK_RV find_label(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, const char *label,
                        CK_ULONG *found)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h[2];
    CK_RV rv = fn->C_FindObjectsInit(s, tmpl, ARRAY_SIZE(tmpl));
    if (rv != CKR_OK)
        return rv;
    rv = fn->C_FindObjects(s, h, ARRAY_SIZE(h), found);
    CK_RV rv2 = fn->C_FindObjectsFinal(s);
    return rv != CKR_OK ? rv : rv2;
}

static bool object_exists(bench_module *m, unsigned long i)
{
    char label[40];
    CK_ULONG found = 0;
    object_label(label, sizeof(label), i);
    return find_label(m->fn, m->session, label, &found) == CKR_OK && found > 0;
}

/* Creates objects [from, to); returns how many were made before the
 * budget ran out or an error. */
static unsigned long populate(bench_module *m, unsigned long from, unsigned long to,
                              double deadline, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    char label[40];
    double last = now();
    unsigned long i;
    *rv = CKR_OK;
    for (i = from; i < to; i++) {
        object_label(label, sizeof(label), i);
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                               {CKA_TOKEN, &yes, sizeof(yes)},
                               {CKA_PRIVATE, &no, sizeof(no)},
                               {CKA_LABEL, label, strlen(label)},
                               {CKA_VALUE, bench_data, 16}};
        CK_OBJECT_HANDLE h;
        *rv = m->fn->C_CreateObject(m->session, tmpl, ARRAY_SIZE(tmpl), &h);
        if (*rv != CKR_OK)
            break;
        if ((i & 255) == 0) {
            double t = now();
            if (t > deadline)
                break;
            if (t - last > 10) {
                fprintf(stderr, "  populating %s: %lu/%lu\n", m->name, i, to);
                last = t;
            }
        }
    }
    return i - from;
}

typedef struct find_state {
    CK_FUNCTION_LIST *fn;
    CK_SESSION_HANDLE s;
    unsigned long count, k;
} find_state;

/* One lookup of a label spread over the whole range (Knuth's
 * multiplicative step), so no cache sees the same object twice in a row. */
static CK_RV find_once(void *state)
{
    find_state *st = state;
    char label[40];
    CK_ULONG found = 0;
    object_label(label, sizeof(label), (st->k++ * 2654435761UL) % st->count);
    CK_RV rv = find_label(st->fn, st->s, label, &found);
    /* A label missing or found twice is a wrong answer: the row fails. */
    return rv == CKR_OK && found != 1 ? CKR_GENERAL_ERROR : rv;
}

/* C_Initialize + C_OpenSession in a fresh process: its own timing on stdout. */
static CK_RV init_sample(bench_module *m, double *seconds)
{
    int pipefd[2];
    if (pipe(pipefd) != 0)
        return CKR_GENERAL_ERROR;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        execl("/proc/self/exe", "softse-bench", "--child-init", m->path, m->label, (char *)NULL);
        _exit(127);
    }
    close(pipefd[1]);
    char buf[64] = {0};
    ssize_t got = pid > 0 ? read(pipefd[0], buf, sizeof(buf) - 1) : -1;
    close(pipefd[0]);
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return CKR_GENERAL_ERROR;
    *seconds = strtod(buf, NULL);
    return CKR_OK;
}

static int child_init(const char *path, const char *label)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get;
    CK_FUNCTION_LIST *fn;
    if (!h || !(*(void **)&get = dlsym(h, "C_GetFunctionList")) || get(&fn) != CKR_OK)
        return 2;
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    CK_SLOT_ID slots[64];
    CK_ULONG n = ARRAY_SIZE(slots);
    CK_SESSION_HANDLE s;
    double t0 = now();
    CK_RV rv = fn->C_Initialize(&args);
    if (rv == CKR_OK)
        rv = fn->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        char have[33];
        if (fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        trim_copy(have, ti.label, sizeof(ti.label));
        if (strcmp(have, label) != 0)
            continue;
        rv = fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s);
        if (rv != CKR_OK)
            break;
        printf("%.9f\n", now() - t0);
        fn->C_CloseSession(s);
        fn->C_Finalize(NULL);
        return 0;
    }
    fprintf(stderr, "softse-bench --child-init: %s\n", rv ? bench_rv_name(rv) : "no token");
    return 1;
}

/* lv->init holds seconds per sample, not a rate. */
static void measure_init(level_result *lv, bench_module *m)
{
    measure *out = &lv->init;
    double spent = 0;
    unsigned want = opt.rounds < MAX_ROUNDS ? opt.rounds : MAX_ROUNDS;
    /* A slow module gets fewer samples, never fewer than one. */
    while (out->rounds < want && (out->rounds == 0 || spent < 60)) {
        if (init_sample(m, &out->sample[out->rounds]) != CKR_OK)
            return note(out, "error%s", " (child failed)");
        spent += out->sample[out->rounds++];
    }
    summarize(out);
}

static void run_objects(size_t k, bool find, bool init)
{
    bench_module *m = &modules[k];
    double budget_end = now() + opt.populate_budget;
    unsigned long have = 0;
    for (size_t i = 0; i < opt.nobjects[k]; i++) /* a token populated by an earlier run */
        if (object_exists(m, opt.objects[k][i] - 1))
            have = opt.objects[k][i];
    for (size_t i = 0; i < opt.nobjects[k]; i++) {
        level_result *lv = &levels[k][i];
        lv->count = opt.objects[k][i];
        if (have < lv->count) {
            CK_RV rv;
            double t0 = now();
            lv->populated = populate(m, have, lv->count, budget_end, &rv);
            lv->populate_s = now() - t0;
            have += lv->populated;
            fprintf(stderr, "  populated %s: %lu objects in %.1f s (%.0f/s)\n", m->name,
                    lv->populated, lv->populate_s, lv->populated / lv->populate_s);
            if (have < lv->count) {
                snprintf(lv->note, sizeof(lv->note),
                         "population stopped at %lu objects (%s); last step %.0f objects/s", have,
                         rv != CKR_OK ? bench_rv_name(rv) : "--populate-budget spent",
                         lv->populated / lv->populate_s);
                note(&lv->find, "n/a%s", "");
                note(&lv->init, "n/a%s", "");
                return;
            }
        }
        lv->reached = true;
        if (find) {
            find_state st = {m->fn, m->session, lv->count, 0};
            measure_rate(&lv->find, find_once, &st);
        }
        if (init)
            measure_init(lv, m);
        fprintf(stderr, "  %s with %lu objects: find %.1f us, init %.2f ms\n", m->name, lv->count,
                lv->find.ok ? 1e6 / lv->find.median : NAN,
                lv->init.ok ? 1e3 * lv->init.median : NAN);
    }
}

/* ---- the report ---------------------------------------------------------------- */

static void cpu_model(char *buf, size_t size)
{
    char line[256];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(buf, size, "unknown");
    while (f && fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            snprintf(buf, size, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    if (f)
        fclose(f);
}

static const char *kdf_source(void)
{
    return getenv("SOFTSE_PIN_KDF_ITERATIONS") ? "SOFTSE_PIN_KDF_ITERATIONS" : "default";
}

/* Median of the per-round ratios when both ran the same rounds side by
 * side, else the ratio of the medians. */
static double ratio(const measure *a, const measure *b)
{
    double r[MAX_ROUNDS];
    if (!a->ok || !b->ok || b->median <= 0)
        return NAN;
    if (a->rounds != b->rounds || b->min <= 0)
        return a->median / b->median;
    for (unsigned i = 0; i < a->rounds; i++)
        r[i] = a->sample[i] / b->sample[i];
    return median(r, a->rounds);
}

static void print_cell(double v, const char *fmt, int width)
{
    if (isnan(v))
        printf(" %*s", width, "n/a");
    else
        printf(fmt, width, v);
}

static void print_table(void)
{
    char cpu[128];
    const char *n1 = modules[0].name, *n2 = nmodules > 1 ? modules[1].name : "module2";
    cpu_model(cpu, sizeof(cpu));
    printf("softse-bench: %ld CPUs, %s; %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu,
           OpenSSL_version(OPENSSL_VERSION));
    for (size_t k = 0; k < nmodules; k++)
        printf("module %zu: %s (%s), slot %lu, token \"%s\"\n", k + 1, modules[k].name,
               modules[k].path, (unsigned long)modules[k].slot, modules[k].label);
    printf("softse PIN KDF: PBKDF2-HMAC-SHA256, %lu iterations (%s); C_Login costs one "
           "derivation by design\n",
           bench_pin_kdf_iterations(), kdf_source());
    printf("each rate: median of %u rounds of %.2f s after a warm-up; raw = OpenSSL EVP, same "
           "key size and data\n\n",
           opt.rounds, opt.seconds);
    printf("%-22s %3s %12s %6s %12s %6s %12s %8s\n", "operation", "thr", n1, "/raw", n2, "/raw",
           "raw", n1);
    printf("%-22s %3s %12s %6s %12s %6s %12s %8s\n", "", "", "ops/s", "", "ops/s", "", "ops/s",
           "/mod2");
    for (size_t i = 0; i < nresults; i++) {
        op_result *r = &results[i];
        for (size_t t = 0; t < opt.nthreads; t++) {
            measure *at = r->at[t];
            if (!at[T_MOD1].ok && !at[T_MOD1].note[0])
                continue; /* not measured at this thread count */
            printf("%-22s %3u", r->op->name, opt.threads[t]);
            print_cell(at[T_MOD1].ok ? at[T_MOD1].median : NAN, " %*.0f", 12);
            print_cell(ratio(&at[T_MOD1], &at[T_RAW]), " %*.2f", 6);
            print_cell(at[T_MOD2].ok ? at[T_MOD2].median : NAN, " %*.0f", 12);
            print_cell(ratio(&at[T_MOD2], &at[T_RAW]), " %*.2f", 6);
            print_cell(at[T_RAW].ok ? at[T_RAW].median : NAN, " %*.0f", 12);
            print_cell(ratio(&at[T_MOD1], &at[T_MOD2]), " %*.2f", 8);
            printf("\n");
        }
    }
    bool header = false;
    for (size_t i = 0; i < nresults; i++)
        for (size_t t = 0; t < opt.nthreads; t++) {
            bool any = false;
            for (size_t k = 0; k < T_COUNT; k++) {
                const measure *m = &results[i].at[t][k];
                if (m->ok || !m->note[0] || (k == T_RAW && strcmp(m->note, "n/a") == 0))
                    continue;
                if (!header)
                    printf("\nnotes:\n");
                if (!any)
                    printf("  %s x%u:", results[i].op->name, opt.threads[t]);
                printf("%s %s %s", any ? ";" : "", k == T_RAW ? "raw" : modules[k].name, m->note);
                header = any = true;
            }
            if (any)
                printf("\n");
        }

    header = false;
    for (size_t i = 0; i < nresults; i++)
        for (size_t t = 1; t < opt.nthreads; t++) {
            measure *one = results[i].at[0], *many = results[i].at[t];
            if (!results[i].op->threaded)
                continue;
            if (!header) {
                printf("\nthread scaling (rate on N threads / rate on 1 thread, paired rounds; "
                       "%ld CPUs)\n",
                       sysconf(_SC_NPROCESSORS_ONLN));
                printf("%-22s %3s %10s %10s %10s\n", "operation", "thr", n1, n2, "raw");
                header = true;
            }
            printf("%-22s %3u", results[i].op->name, opt.threads[t]);
            for (size_t k = 0; k < T_COUNT; k++)
                print_cell(ratio(&many[k], &one[k]), " %*.2f", 10);
            printf("\n");
        }

    if (!levels[0][0].count)
        return;
    printf("\nobjects on the token (small CKO_DATA token objects; find = C_FindObjectsInit+"
           "C_FindObjects+Final by a unique CKA_LABEL;\ninit = C_Initialize+C_GetSlotList+"
           "C_OpenSession in a fresh process, median of up to %u)\n",
           opt.rounds);
    printf("%10s %-10s %12s %10s %12s %12s\n", "objects", "module", "populate s", "objects/s",
           "find us", "init ms");
    for (size_t k = 0; k < nmodules; k++)
        for (size_t i = 0; i < opt.nobjects[k]; i++) {
            level_result *lv = &levels[k][i];
            if (!lv->count)
                continue;
            printf("%10lu %-10s", lv->count, modules[k].name);
            print_cell(lv->populated ? lv->populate_s : NAN, " %*.1f", 12);
            print_cell(lv->populated ? lv->populated / lv->populate_s : NAN, " %*.0f", 10);
            print_cell(lv->find.ok ? 1e6 / lv->find.median : NAN, " %*.1f", 12);
            print_cell(lv->init.ok ? 1e3 * lv->init.median : NAN, " %*.2f", 12);
            printf("%s%s\n", lv->note[0] ? "  " : "", lv->note);
        }
}

static void json_measure(FILE *f, const char *key, const measure *m, bool last)
{
    if (m->ok)
        fprintf(f, "\"%s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f}%s", key, m->median,
                m->min, m->max, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": {\"note\": \"%s\"}%s", key, m->note[0] ? m->note : "not measured",
                last ? "" : ", ");
}

static void json_number(FILE *f, const char *key, double v, bool last)
{
    if (isnan(v))
        fprintf(f, "\"%s\": null%s", key, last ? "" : ", ");
    else
        fprintf(f, "\"%s\": %.4f%s", key, v, last ? "" : ", ");
}

static void print_json(FILE *f)
{
    char cpu[128];
    cpu_model(cpu, sizeof(cpu));
    fprintf(f, "{\n  \"machine\": {\"nproc\": %ld, \"cpu\": \"%s\", \"openssl\": \"%s\"},\n",
            sysconf(_SC_NPROCESSORS_ONLN), cpu, OpenSSL_version(OPENSSL_VERSION));
    fprintf(f,
            "  \"settings\": {\"seconds\": %.3f, \"rounds\": %u, \"pin_kdf_iterations\": %lu, "
            "\"pin_kdf_source\": \"%s\"},\n",
            opt.seconds, opt.rounds, bench_pin_kdf_iterations(), kdf_source());
    fprintf(f, "  \"modules\": [");
    for (size_t k = 0; k < nmodules; k++)
        fprintf(f, "%s{\"name\": \"%s\", \"path\": \"%s\", \"slot\": %lu, \"label\": \"%s\"}",
                k ? ", " : "", modules[k].name, modules[k].path, (unsigned long)modules[k].slot,
                modules[k].label);
    fprintf(f, "],\n  \"operations\": [");
    bool first = true;
    for (size_t i = 0; i < nresults; i++)
        for (size_t t = 0; t < opt.nthreads; t++) {
            measure *at = results[i].at[t];
            if (!at[T_MOD1].ok && !at[T_MOD1].note[0])
                continue;
            fprintf(f,
                    "%s\n    {\"name\": \"%s\", \"group\": \"%s\", \"what\": \"%s\", "
                    "\"threads\": %u, \"ops_per_s\": {",
                    first ? "" : ",", results[i].op->name, results[i].op->group,
                    results[i].op->what, opt.threads[t]);
            first = false;
            json_measure(f, "module1", &at[T_MOD1], false);
            json_measure(f, "module2", &at[T_MOD2], false);
            json_measure(f, "raw", &at[T_RAW], true);
            fprintf(f, "}, ");
            json_number(f, "module1_over_raw", ratio(&at[T_MOD1], &at[T_RAW]), false);
            json_number(f, "module2_over_raw", ratio(&at[T_MOD2], &at[T_RAW]), false);
            json_number(f, "module1_over_module2", ratio(&at[T_MOD1], &at[T_MOD2]), false);
            json_number(f, "scaling_module1", ratio(&at[T_MOD1], &results[i].at[0][T_MOD1]), false);
            json_number(f, "scaling_module2", ratio(&at[T_MOD2], &results[i].at[0][T_MOD2]), false);
            json_number(f, "scaling_raw", ratio(&at[T_RAW], &results[i].at[0][T_RAW]), true);
            fprintf(f, "}");
        }
    fprintf(f, "\n  ],\n  \"objects\": [");
    first = true;
    for (size_t k = 0; k < nmodules; k++)
        for (size_t i = 0; i < opt.nobjects[k]; i++) {
            level_result *lv = &levels[k][i];
            if (!lv->count)
                continue;
            fprintf(f,
                    "%s\n    {\"module\": \"module%zu\", \"count\": %lu, \"reached\": %s, "
                    "\"populated\": %lu, ",
                    first ? "" : ",", k + 1, lv->count, lv->reached ? "true" : "false",
                    lv->populated);
            first = false;
            json_number(f, "populate_s", lv->populate_s, false);
            json_number(f, "find_us", lv->find.ok ? 1e6 / lv->find.median : NAN, false);
            json_number(f, "init_ms", lv->init.ok ? 1e3 * lv->init.median : NAN, false);
            fprintf(f, "\"note\": \"%s\"}", lv->note);
        }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- options and set-up ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(f, "usage: softse-bench --module PATH [--module2 PATH] [options]\n"
               "  --slot N / --slot2 N   slot of module 1 / 2 (default: first initialized token,\n"
               "                         or with --init the first blank slot)\n"
               "  --pin PIN --so-pin PIN user and SO PINs (default 1234 / 12345678)\n"
               "  --init                 initialize a token in the blank slot first\n"
               "  --fresh-store          temporary stores for both modules (SOFTSE_STORE,\n"
               "                         SOFTHSM2_CONF), removed at exit; implies --init\n"
               "  --ops LIST             rows or groups: random,digest,hmac,ecdsa,eddsa,rsa,aes,\n"
               "                         keygen,object,login,find,init,gkea,ki,\n"
               "                         sk3, vendor (= gkea,ki,sk3) (default all)\n"
               "  --seconds S --rounds N each rate: median of N rounds of S seconds (0.25, 5)\n"
               "  --threads LIST         thread counts for the sign rows, from 1 (default 1,2)\n"
               "  --objects LIST         token object counts (default 1000); --objects2 LIST\n"
               "                         for module 2 (default the same)\n"
               "  --populate-budget S    stop populating a module after S seconds (600)\n"
               "  --no-raw               skip the raw OpenSSL side (to profile a module alone)\n"
               "  --json                 machine-readable output instead of the table\n"
               "  --json-out FILE        also write it to FILE\n");
}

static int parse_list(const char *text, unsigned long *out, size_t *n)
{
    char *end;
    *n = 0;
    do {
        if (*n == MAX_LIST)
            return -1;
        out[*n] = strtoul(text, &end, 10);
        if (end == text || out[*n] == 0)
            return -1;
        (*n)++;
        text = end + 1;
    } while (*end == ',');
    return *end ? -1 : 0;
}

static int parse_options(int argc, char **argv)
{
    enum {
        O_MODULE2 = 256,
        O_SLOT2,
        O_SO_PIN,
        O_FRESH,
        O_ROUNDS,
        O_OBJECTS2,
        O_BUDGET,
        O_NO_RAW,
        O_JSON_OUT
    };
    static const struct option longs[] = {{"module", required_argument, NULL, 'm'},
                                          {"module2", required_argument, NULL, O_MODULE2},
                                          {"slot", required_argument, NULL, 's'},
                                          {"slot2", required_argument, NULL, O_SLOT2},
                                          {"pin", required_argument, NULL, 'p'},
                                          {"so-pin", required_argument, NULL, O_SO_PIN},
                                          {"init", no_argument, NULL, 'i'},
                                          {"fresh-store", no_argument, NULL, O_FRESH},
                                          {"json", no_argument, NULL, 'j'},
                                          {"ops", required_argument, NULL, 'o'},
                                          {"seconds", required_argument, NULL, 't'},
                                          {"rounds", required_argument, NULL, O_ROUNDS},
                                          {"threads", required_argument, NULL, 'T'},
                                          {"objects", required_argument, NULL, 'n'},
                                          {"objects2", required_argument, NULL, O_OBJECTS2},
                                          {"populate-budget", required_argument, NULL, O_BUDGET},
                                          {"no-raw", no_argument, NULL, O_NO_RAW},
                                          {"json-out", required_argument, NULL, O_JSON_OUT},
                                          {"help", no_argument, NULL, 'h'},
                                          {NULL, 0, NULL, 0}};
    unsigned long list[MAX_LIST];
    bool objects2 = false;
    int c;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'm':
            opt.module[0] = optarg;
            break;
        case O_MODULE2:
            opt.module[1] = optarg;
            break;
        case 's':
            opt.slot[0] = strtol(optarg, NULL, 0);
            break;
        case O_SLOT2:
            opt.slot[1] = strtol(optarg, NULL, 0);
            break;
        case 'p':
            opt.pin = optarg;
            break;
        case O_SO_PIN:
            opt.so_pin = optarg;
            break;
        case 'i':
            opt.init = true;
            break;
        case O_FRESH:
            opt.fresh_store = opt.init = true;
            break;
        case 'j':
            opt.json = true;
            break;
        case 'o':
            opt.ops = optarg;
            break;
        case 't':
            opt.seconds = strtod(optarg, NULL);
            break;
        case O_ROUNDS:
            opt.rounds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case O_BUDGET:
            opt.populate_budget = strtod(optarg, NULL);
            break;
        case O_NO_RAW:
            opt.no_raw = true;
            break;
        case O_JSON_OUT:
            opt.json_out = optarg;
            break;
        case 'T':
            if (parse_list(optarg, list, &opt.nthreads) != 0 || list[0] != 1)
                goto bad; /* scaling is relative to one thread */
            for (size_t i = 0; i < opt.nthreads; i++)
                opt.threads[i] = list[i] <= 4 * MAX_LIST ? (unsigned)list[i] : 4 * MAX_LIST;
            break;
        case 'n':
            if (parse_list(optarg, opt.objects[0], &opt.nobjects[0]) != 0)
                goto bad;
            break;
        case O_OBJECTS2:
            if (parse_list(optarg, opt.objects[1], &opt.nobjects[1]) != 0)
                goto bad;
            objects2 = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            goto bad;
        }
    }
    if (!opt.module[0] || optind != argc || opt.seconds <= 0 || opt.rounds == 0)
        goto bad;
    if (!objects2) {
        memcpy(opt.objects[1], opt.objects[0], sizeof(opt.objects[0]));
        opt.nobjects[1] = opt.nobjects[0];
    }
    return 0;
bad:
    usage(stderr);
    return -1;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_fresh_store(void)
{
    if (fresh_dir[0])
        nftw(fresh_dir, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

static int make_fresh_store(void)
{
    char path[128], conf[128];
    snprintf(fresh_dir, sizeof(fresh_dir), "/tmp/softse-bench.XXXXXX");
    if (!mkdtemp(fresh_dir)) {
        fresh_dir[0] = '\0';
        return -1;
    }
    atexit(remove_fresh_store);
    snprintf(path, sizeof(path), "%s/softse", fresh_dir);
    if (mkdir(path, 0700) != 0 || setenv("SOFTSE_STORE", path, 1) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/softhsm-tokens", fresh_dir);
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", fresh_dir);
    FILE *f = mkdir(path, 0700) == 0 ? fopen(conf, "w") : NULL;
    if (!f)
        return -1;
    fprintf(f, "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", path);
    fclose(f);
    return setenv("SOFTHSM2_CONF", conf, 1);
}

static void module_close(bench_module *m)
{
    if (!m->fn)
        return;
    if (m->session) {
        bench_keys_destroy(m);
        m->fn->C_Logout(m->session);
        m->fn->C_CloseSession(m->session);
    }
    m->fn->C_Finalize(NULL);
    dlclose(m->handle);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child-init") == 0)
        return child_init(argv[2], argv[3]);
    if (parse_options(argc, argv) != 0)
        return 2;
    bench_data_fill();
    if (opt.fresh_store && make_fresh_store() != 0) {
        fprintf(stderr, "softse-bench: cannot make a temporary store: %s\n", strerror(errno));
        return 1;
    }
    int status = 0;
    for (size_t k = 0; k < 2 && opt.module[k] && status == 0; k++, nmodules++)
        if (module_load(&modules[k], opt.module[k]) != CKR_OK ||
            module_prepare(&modules[k], opt.slot[k]) != CKR_OK)
            status = 1;
    if (status == 0) {
        run_operations();
        bool find = selected("find", "objects"), init = selected("init", "objects");
        for (size_t k = 0; k < nmodules && (find || init); k++)
            run_objects(k, find, init);
        opt.json ? print_json(stdout) : print_table();
        FILE *f = opt.json_out ? fopen(opt.json_out, "w") : NULL;
        if (opt.json_out && !f) {
            fprintf(stderr, "softse-bench: %s: %s\n", opt.json_out, strerror(errno));
            status = 1;
        }
        if (f) {
            print_json(f);
            fclose(f);
        }
    }
    for (size_t k = 0; k < nmodules; k++)
        module_close(&modules[k]);
    bench_raw_keys_free();
    return status;
}
