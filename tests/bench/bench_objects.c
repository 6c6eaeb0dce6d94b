/*
 * bench_objects.c — the object-count cases.  The token is grown to each
 * level with small CKO_DATA token objects (timed on their own), then the
 * bench times C_FindObjects by a unique CKA_LABEL over the whole range,
 * and C_Initialize+C_OpenSession in a fresh process per sample
 * (C_Initialize is once per process, PKCS#11 3.0 §5.4), and in that same
 * process the first C_FindObjects (softse verifies the token's object set
 * before the first object is found or loaded: a scan of all objects).
 */
#include "bench_driver.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void object_label(char *buf, size_t size, unsigned long i)
{
    snprintf(buf, size, "softse-bench-obj-%08lu", i);
}

/* How many objects are labelled so (counting up to 2), and the first. */
static CK_RV find_label(CK_FUNCTION_LIST *fn, CK_SESSION_HANDLE s, const char *label,
                        CK_ULONG *found, CK_OBJECT_HANDLE *first)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h[2];
    CK_RV rv = fn->C_FindObjectsInit(s, tmpl, ARRAY_SIZE(tmpl));
    if (rv != CKR_OK)
        return rv;
    rv = fn->C_FindObjects(s, h, ARRAY_SIZE(h), found);
    CK_RV rv2 = fn->C_FindObjectsFinal(s);
    if (rv == CKR_OK && first && *found > 0)
        *first = h[0];
    return rv != CKR_OK ? rv : rv2;
}

static bool object_exists(bench_module *m, unsigned long i)
{
    char label[40];
    CK_ULONG found = 0;
    object_label(label, sizeof(label), i);
    return find_label(m->fn, m->session, label, &found, NULL) == CKR_OK && found > 0;
}

/* Object i is found exactly once by its label, and C_GetAttributeValue
 * reads that label back: checks a population (the bulk one above all)
 * before anything is timed on it. */
static bool object_check(bench_module *m, unsigned long i, char *why, size_t size)
{
    char label[40], back[40];
    CK_ULONG found = 0;
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    object_label(label, sizeof(label), i);
    CK_RV rv = find_label(m->fn, m->session, label, &found, &h);
    CK_ATTRIBUTE get = {CKA_LABEL, back, sizeof(back) - 1};
    if (rv == CKR_OK && found == 1)
        rv = m->fn->C_GetAttributeValue(m->session, h, &get, 1);
    if (rv == CKR_OK && found == 1 && get.ulValueLen == strlen(label) &&
        memcmp(back, label, get.ulValueLen) == 0)
        return true;
    snprintf(why, size, "check of %s failed: %s, %lu found", label, bench_rv_name(rv),
             (unsigned long)found);
    return false;
}

/* Creates objects [from, to); returns how many were made before the
 * budget ran out or an error. */
static unsigned long populate(bench_module *m, unsigned long from, unsigned long to,
                              double deadline, CK_RV *rv)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    char label[40];
    double last = bench_now();
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
            double t = bench_now();
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

/* --populate-with TOOL (softse only): objects [from, to) by the bulk tool
 * (populate.c), which copies object 0, made here through C_CreateObject,
 * many objects per transaction.  Returns how many objects exist now
 * beyond from. */
static unsigned long populate_bulk(bench_module *m, unsigned long from, unsigned long to, CK_RV *rv)
{
    unsigned long made = 0;
    char first[24], last[24];
    *rv = CKR_OK;
    if (from == 0) {
        made = populate(m, 0, 1, INFINITY, rv);
        if (made == 0)
            return 0;
    }
    if (from + made >= to)
        return made;
    snprintf(first, sizeof(first), "%lu", from + made);
    snprintf(last, sizeof(last), "%lu", to);
    fflush(NULL);
    bench_use_store(m);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO); /* the report owns stdout */
        execl(m->populate_with, m->populate_with, "--token", m->label, "--from", first, "--to",
              last, (char *)NULL);
        fprintf(stderr, "softse-bench: %s: %s\n", m->populate_with, strerror(errno));
        _exit(127);
    }
    int status = 0;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        *rv = CKR_FUNCTION_FAILED;
        return made;
    }
    return to - from;
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
    CK_RV rv = find_label(st->fn, st->s, label, &found, NULL);
    /* A label missing or found twice is a wrong answer: the row fails. */
    return rv == CKR_OK && found != 1 ? CKR_GENERAL_ERROR : rv;
}

/* C_Initialize + C_OpenSession in a fresh process, then its first
 * C_FindObjects (of object): its own timings on stdout. */
static CK_RV init_sample(bench_module *m, unsigned long object, double *seconds, double *with_find)
{
    int pipefd[2];
    char label[40];
    object_label(label, sizeof(label), object);
    if (pipe(pipefd) != 0)
        return CKR_GENERAL_ERROR;
    fflush(NULL);
    bench_use_store(m);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pipefd[1], STDOUT_FILENO);
        close(pipefd[0]);
        execl("/proc/self/exe", "softse-bench", "--child-init", m->path, m->label, label,
              (char *)NULL);
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
    char *end;
    *seconds = strtod(buf, &end);
    *with_find = strtod(end, NULL);
    return CKR_OK;
}

int bench_child_init(const char *path, const char *label, const char *object)
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
    double t0 = bench_now();
    CK_RV rv = fn->C_Initialize(&args);
    if (rv == CKR_OK)
        rv = fn->C_GetSlotList(CK_TRUE, slots, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        char have[33];
        if (fn->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
            continue;
        bench_trim_copy(have, ti.label, sizeof(ti.label));
        if (strcmp(have, label) != 0)
            continue;
        rv = fn->C_OpenSession(slots[i], CKF_SERIAL_SESSION, NULL, NULL, &s);
        if (rv != CKR_OK)
            break;
        double opened = bench_now() - t0;
        CK_ULONG found = 0;
        rv = find_label(fn, s, object, &found, NULL);
        if (rv == CKR_OK && found != 1)
            rv = CKR_GENERAL_ERROR; /* the object is public: found without a login */
        if (rv != CKR_OK)
            break;
        printf("%.9f %.9f\n", opened, bench_now() - t0);
        fn->C_CloseSession(s);
        fn->C_Finalize(NULL);
        return 0;
    }
    fprintf(stderr, "softse-bench --child-init: %s\n", rv ? bench_rv_name(rv) : "no token");
    return 1;
}

/* lv->init and lv->init_find hold seconds per sample, not rates. */
static void measure_init(level_result *lv, bench_module *m)
{
    measure *out = &lv->init, *with_find = &lv->init_find;
    double spent = 0;
    unsigned want = opt.rounds < MAX_ROUNDS ? opt.rounds : MAX_ROUNDS;
    /* A slow module gets fewer samples, never fewer than one. */
    while (out->rounds < want && (out->rounds == 0 || spent < 60)) {
        if (init_sample(m, lv->count - 1, &out->sample[out->rounds],
                        &with_find->sample[with_find->rounds]) != CKR_OK) {
            bench_note(with_find, "error%s", " (child failed)");
            return bench_note(out, "error%s", " (child failed)");
        }
        spent += with_find->sample[with_find->rounds++];
        out->rounds++;
    }
    bench_summarize(out);
    bench_summarize(with_find);
}

void bench_run_objects(size_t k, bool find, bool init)
{
    bench_module *m = &modules[k];
    double budget_end = bench_now() + opt.populate_budget;
    unsigned long have = 0;
    bool bulk = m->populate_with && strcmp(m->name, "softse") == 0;
    for (size_t i = 0; i < opt.nobjects[k]; i++) /* a token populated by an earlier run */
        if (object_exists(m, opt.objects[k][i] - 1))
            have = opt.objects[k][i];
    for (size_t i = 0; i < opt.nobjects[k]; i++) {
        level_result *lv = &levels[k][i];
        lv->count = opt.objects[k][i];
        if (have < lv->count) {
            CK_RV rv;
            double t0 = bench_now();
            lv->populated = bulk ? populate_bulk(m, have, lv->count, &rv)
                                 : populate(m, have, lv->count, budget_end, &rv);
            lv->populate_s = bench_now() - t0;
            have += lv->populated;
            fprintf(stderr, "  populated %s: %lu objects in %.1f s (%.0f/s)\n", m->name,
                    lv->populated, lv->populate_s, lv->populated / lv->populate_s);
            if (have < lv->count) {
                snprintf(lv->note, sizeof(lv->note),
                         "population stopped at %lu objects (%s); last step %.0f objects/s", have,
                         rv != CKR_OK ? bench_rv_name(rv) : "--populate-budget spent",
                         lv->populated / lv->populate_s);
                bench_note(&lv->find, "n/a%s", "");
                bench_note(&lv->init, "n/a%s", "");
                bench_note(&lv->init_find, "n/a%s", "");
                return;
            }
        }
        if (!object_check(m, lv->count - 1, lv->note, sizeof(lv->note))) {
            bench_note(&lv->find, "error%s", " (object check)");
            bench_note(&lv->init, "error%s", " (object check)");
            bench_note(&lv->init_find, "error%s", " (object check)");
            return;
        }
        if (bulk && lv->populated)
            snprintf(lv->note, sizeof(lv->note), "populated by %s", m->populate_with);
        lv->reached = true;
        if (find) {
            find_state st = {m->fn, m->session, lv->count, 0};
            bench_measure_rate(&lv->find, find_once, &st);
        }
        if (init)
            measure_init(lv, m);
        fprintf(stderr,
                "  %s with %lu objects: find %.1f us, init %.2f ms, init+first find %.2f ms\n",
                m->name, lv->count, lv->find.ok ? 1e6 / lv->find.median : NAN,
                lv->init.ok ? 1e3 * lv->init.median : NAN,
                lv->init_find.ok ? 1e3 * lv->init_find.median : NAN);
    }
}
