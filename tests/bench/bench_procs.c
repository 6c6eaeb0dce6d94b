/*
 * bench_procs.c — the process rows (issue 18): N processes (--procs,
 * default 1,2,4) each open the same token and run one operation, as a web
 * server's or an issuance service's worker processes would; the aggregate
 * rate is set against N processes running the raw side.  The processes of
 * a softse token share its store, and so its audit spool.
 *
 * Each process is `softse-bench --child-proc MODULE|raw LABEL ROW SECONDS`:
 * it loads the module (C_Initialize, the slot of the token labelled LABEL,
 * a session, C_Login: SoftHSMv2 renumbers its slots per process), sets the row up on a
 * session of its own (its own token keys, destroyed at exit), prints
 * "ready", then for each "go" line on stdin runs one round of --seconds and
 * prints "count elapsed cpu" (cpu: its process CPU over the round, its own
 * background threads included).  The parent keeps every set of processes
 * of a row alive and makes the sets take turns round by round, as the
 * thread rows do, so the ratios pair like with like.
 */
#include "bench_driver.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* The rows run in processes: by name, from the catalogue. */
static const char *const proc_rows[] = {"ecdsa-p256-sign", "hmac-sha256-64", "se-sk3-q1",
                                        "se-sk3-q4"};

op_result proc_results[ARRAY_SIZE(proc_rows)];
size_t nproc_results;

static const bench_op *op_named(const char *name)
{
    const bench_op *op;
    for (size_t i = 0; (op = bench_op_at(i)) != NULL; i++)
        if (strcmp(op->name, name) == 0)
            return op;
    return NULL;
}

/* ---- the child ---------------------------------------------------------------- */

static CK_RV child_setup(bench_module *m, const char *path, const char *label, const bench_op *op,
                         void **state)
{
    if (strcmp(path, "raw") == 0)
        return op->raw_init ? op->raw_init(state) : CKR_FUNCTION_NOT_SUPPORTED;
    CK_RV rv = bench_child_module(m, path, label);
    CK_SLOT_ID slot = m->slot;
    CK_MECHANISM_INFO info;
    if (rv == CKR_OK && op->mech)
        rv = m->fn->C_GetMechanismInfo(slot, op->mech, &info);
    CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
    if (rv == CKR_OK)
        rv = m->fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s);
    return rv == CKR_OK ? op->p11_init(m, s, state) : rv;
}

int bench_child_proc(const char *path, const char *label, const char *row, const char *seconds)
{
    bench_module m = {0};
    void *state = NULL;
    const bench_op *op = op_named(row);
    opt.seconds = strtod(seconds, NULL);
    if (getenv("SOFTSE_BENCH_PIN")) /* the parent's --pin / --so-pin */
        opt.pin = getenv("SOFTSE_BENCH_PIN");
    if (getenv("SOFTSE_BENCH_SO_PIN"))
        opt.so_pin = getenv("SOFTSE_BENCH_SO_PIN");
    bench_data_fill();
    CK_RV rv = op ? child_setup(&m, path, label, op, &state) : CKR_ARGUMENTS_BAD;
    if (rv != CKR_OK) {
        printf("n/a %s\n", bench_rv_name(rv));
    } else {
        printf("ready\n");
        bench_run_fn run = strcmp(path, "raw") == 0 ? op->raw_run : op->p11_run;
        char line[16];
        fflush(stdout);
        while (fgets(line, sizeof(line), stdin) && strncmp(line, "go", 2) == 0) {
            uint64_t done = 0;
            double cpu, rate = bench_round(run, state, opt.seconds, &rv, &done, &cpu);
            printf("%llu %.9f %.9f %s\n", (unsigned long long)done, rate > 0 ? done / rate : 0,
                   cpu * (double)done, rv == CKR_OK ? "ok" : bench_rv_name(rv));
            fflush(stdout);
        }
    }
    fflush(stdout);
    bench_state_free(state);
    if (m.fn) {
        bench_keys_destroy(&m);
        m.fn->C_Finalize(NULL);
    }
    bench_raw_keys_free();
    return rv == CKR_OK ? 0 : 1;
}

/* ---- the parent --------------------------------------------------------------- */

typedef struct child {
    pid_t pid;
    FILE *to, *from;
} child;

typedef struct proc_set {
    child kids[4 * MAX_LIST];
    unsigned n;
    bool live;
    measure *out;
} proc_set;

static bool spawn(child *c, const char *path, const char *label, const char *row)
{
    int in[2], out[2];
    char secs[32];
    snprintf(secs, sizeof(secs), "%.6f", opt.seconds);
    /* Close-on-exec: a child must not hold another child's stdin open, or
     * that child never sees the EOF that ends it. */
    if (pipe2(in, O_CLOEXEC) != 0)
        return false;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return false;
    }
    fflush(NULL);
    c->pid = fork();
    if (c->pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        execl("/proc/self/exe", "softse-bench", "--child-proc", path, label, row, secs,
              (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->to = fdopen(in[1], "w");
    c->from = fdopen(out[0], "r");
    return c->pid > 0 && c->to && c->from;
}

static void set_close(proc_set *set)
{
    for (unsigned i = 0; i < set->n; i++) {
        child *c = &set->kids[i];
        if (c->to)
            fclose(c->to); /* EOF: the child cleans up and exits */
        if (c->from)
            fclose(c->from);
        if (c->pid > 0)
            waitpid(c->pid, NULL, 0);
    }
    set->n = 0;
}

/* N processes of one target, each answered "ready", else a note. */
static void set_start(proc_set *set, unsigned n, const char *path, const char *label,
                      const char *row)
{
    char line[128] = "";
    set->live = true;
    for (set->n = 0; set->n < n; set->n++)
        if (!spawn(&set->kids[set->n], path, label, row)) {
            set->n++;
            set->live = false;
            bench_note(set->out, "error%s", " (spawn)");
            break;
        }
    for (unsigned i = 0; i < set->n && set->live; i++)
        if (!fgets(line, sizeof(line), set->kids[i].from) || strncmp(line, "ready", 5) != 0) {
            line[strcspn(line, "\n")] = '\0';
            bench_note(set->out, "%s", line[0] ? line : "error (child failed)");
            set->live = false;
        }
}

/* One round: every process of the set runs at once; the summed rate and
 * the CPU per operation over all of them. */
static void set_round(proc_set *set)
{
    unsigned long long count, total = 0;
    double elapsed, cpu, rate = 0, cpu_sum = 0;
    char status[64];
    for (unsigned i = 0; i < set->n; i++) {
        fputs("go\n", set->kids[i].to);
        fflush(set->kids[i].to);
    }
    for (unsigned i = 0; i < set->n; i++) {
        if (fscanf(set->kids[i].from, "%llu %lf %lf %63s", &count, &elapsed, &cpu, status) != 4 ||
            strcmp(status, "ok") != 0) {
            bench_note(set->out, "error %s", "(child round)");
            set->live = false;
            return;
        }
        total += count;
        cpu_sum += cpu;
        rate += elapsed > 0 ? count / elapsed : 0;
    }
    measure *m = set->out;
    m->cpu[m->rounds] = total ? cpu_sum / (double)total : 0;
    m->sample[m->rounds++] = rate;
}

static void measure_proc_row(op_result *r)
{
    proc_set sets[MAX_LIST * T_COUNT];
    size_t count = 0;
    memset(sets, 0, sizeof(sets));
    unsigned rounds = opt.rounds < MAX_ROUNDS ? opt.rounds : MAX_ROUNDS;
    for (size_t at = 0; at < opt.nprocs; at++)
        for (size_t k = 0; k <= T_RAW; k++) {
            if (k < T_RAW && k >= nmodules)
                continue;
            if (k == T_RAW && opt.no_raw)
                continue;
            proc_set *set = &sets[count++];
            set->out = &r->at[at][k];
            if (k < T_RAW)
                bench_use_store(&modules[k]);
            set_start(set, opt.procs[at], k == T_RAW ? "raw" : modules[k].path,
                      k == T_RAW ? "-" : modules[k].label, r->op->name);
        }
    for (unsigned round = 0; round < rounds; round++)
        for (size_t i = 0; i < count; i++)
            if (sets[i].live)
                set_round(&sets[i]);
    for (size_t i = 0; i < count; i++) {
        if (sets[i].live)
            bench_summarize(sets[i].out);
        set_close(&sets[i]);
    }
}

void bench_run_processes(void)
{
    setenv("SOFTSE_BENCH_PIN", opt.pin, 1);
    setenv("SOFTSE_BENCH_SO_PIN", opt.so_pin, 1);
    for (size_t i = 0; i < ARRAY_SIZE(proc_rows); i++) {
        const bench_op *op = op_named(proc_rows[i]);
        char name[64];
        snprintf(name, sizeof(name), "proc-%s", proc_rows[i]);
        if (!op || !bench_selected(name, "procs"))
            continue;
        op_result *r = &proc_results[nproc_results++];
        r->op = op;
        measure_proc_row(r);
        for (size_t at = 0; at < opt.nprocs; at++)
            fprintf(stderr, "  %-24s x%u procs  %s: %.0f  raw: %.0f\n", name, opt.procs[at],
                    modules[0].name, r->at[at][T_MOD1].ok ? r->at[at][T_MOD1].median : NAN,
                    r->at[at][T_RAW].ok ? r->at[at][T_RAW].median : NAN);
    }
}
