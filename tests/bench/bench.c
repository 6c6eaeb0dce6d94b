/*
 * bench.c — softse-bench: throughput of a PKCS#11 module against raw
 * OpenSSL and, optionally, against a second module (SoftHSMv2).
 *
 * Every measurement runs an operation (bench_ops.c) over and over for
 * --seconds, --rounds times after a short warm-up, and reports the median
 * rate (bench_run.c).  The object-count cases populate the token with
 * small CKO_DATA objects (timed on their own), then time C_FindObjects by
 * a unique CKA_LABEL and C_Initialize+C_OpenSession in a fresh process per
 * sample (bench_objects.c).  This file holds the options, the modules'
 * loading and set-up, and main.
 *
 * Usage: see usage() below and docs/performance.md.
 */
#include "bench_driver.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

options opt = {
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
    .procs = {1, 2, 4},
    .nprocs = 3,
};

bench_module modules[2];
size_t nmodules;
op_result results[64];
size_t nresults;
level_result levels[2][MAX_LIST];
static char fresh_dir[64];

/* ---- modules ---------------------------------------------------------------- */

void bench_trim_copy(char *dst, const CK_UTF8CHAR *src, size_t len)
{
    memcpy(dst, src, len);
    while (len > 0 && dst[len - 1] == ' ')
        len--;
    dst[len] = '\0';
}

/* Points SOFTSE_STORE at the module's own store, if it has one: before its
 * C_Initialize and before every child process made for it. */
void bench_use_store(const bench_module *m)
{
    if (m->store)
        setenv("SOFTSE_STORE", m->store, 1);
}

static CK_RV module_load(bench_module *m, const char *path)
{
    CK_C_GetFunctionList get;
    m->path = path;
    bench_use_store(m);
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
    bench_trim_copy(maker, info.manufacturerID, sizeof(info.manufacturerID));
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

CK_RV bench_login(bench_module *m, CK_USER_TYPE who, const char *pin)
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
            rv = bench_login(m, CKU_SO, opt.so_pin);
        if (rv == CKR_OK)
            rv = m->fn->C_InitPIN(m->session, (CK_UTF8CHAR *)opt.pin, strlen(opt.pin));
        if (rv == CKR_OK)
            rv = m->fn->C_Logout(m->session);
    } else {
        rv = m->fn->C_OpenSession(m->slot, rw, NULL, NULL, &m->session);
    }
    if (rv == CKR_OK)
        rv = bench_login(m, CKU_USER, opt.pin);
    CK_TOKEN_INFO ti;
    if (rv == CKR_OK)
        rv = m->fn->C_GetTokenInfo(m->slot, &ti);
    if (rv == CKR_OK)
        bench_trim_copy(m->label, ti.label, sizeof(ti.label));
    if (rv != CKR_OK)
        fprintf(stderr, "softse-bench: %s: token set-up failed: %s\n", m->name, bench_rv_name(rv));
    return rv;
}

/* The slot of the token labelled label. */
static CK_RV find_label_slot(bench_module *m, const char *label)
{
    CK_SLOT_ID list[64];
    CK_ULONG n = ARRAY_SIZE(list);
    CK_RV rv = m->fn->C_GetSlotList(CK_TRUE, list, &n);
    for (CK_ULONG i = 0; rv == CKR_OK && i < n; i++) {
        CK_TOKEN_INFO ti;
        char text[33];
        if (m->fn->C_GetTokenInfo(list[i], &ti) != CKR_OK)
            continue;
        bench_trim_copy(text, ti.label, sizeof(ti.label));
        if (strcmp(text, label) == 0) {
            m->slot = list[i];
            return CKR_OK;
        }
    }
    return rv != CKR_OK ? rv : CKR_SLOT_ID_INVALID;
}

CK_RV bench_child_module(bench_module *m, const char *path, const char *label)
{
    CK_RV rv = module_load(m, path);
    if (rv == CKR_OK)
        rv = find_label_slot(m, label);
    /* SoftHSMv2 lists the tokens it could read at C_Initialize: one that
     * another child was writing just then is missing (a report run lost
     * its 4-process set so).  Looked for again, a few times. */
    CK_C_INITIALIZE_ARGS args = {.flags = CKF_OS_LOCKING_OK};
    for (int again = 0; rv == CKR_SLOT_ID_INVALID && again < 20; again++) {
        m->fn->C_Finalize(NULL);
        usleep(50000);
        rv = m->fn->C_Initialize(&args);
        if (rv == CKR_OK)
            rv = find_label_slot(m, label);
    }
    CK_SLOT_ID slot = m->slot;
    m->pin = opt.pin;
    m->so_pin = opt.so_pin;
    if (rv == CKR_OK)
        rv = m->fn->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                  &m->session);
    return rv == CKR_OK ? bench_login(m, CKU_USER, m->pin) : rv;
}

bool bench_selected(const char *name, const char *group)
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

/* ---- options and set-up ------------------------------------------------------------ */

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: softse-bench --module PATH [--module2 PATH] [options]\n"
        "  --slot N / --slot2 N   slot of module 1 / 2 (default: first initialized token,\n"
        "                         or with --init the first blank slot)\n"
        "  --pin PIN --so-pin PIN user and SO PINs (default 1234 / 12345678)\n"
        "  --init                 initialize a token in the blank slot first\n"
        "  --fresh-store          temporary stores for both modules (SOFTSE_STORE,\n"
        "                         one directory per module; SOFTHSM2_CONF; and\n"
        "                         SOFTSE_ROT_DIR unless set), removed at exit;\n"
        "                         implies --init\n"
        "  --ops LIST             rows or groups: random,digest,hmac,ecdsa,eddsa,rsa,aes,\n"
        "                         des3,keygen,object,login,find,init,gkea,ki,procs,\n"
        "                         sk3, vendor (= gkea,ki,sk3) (default all)\n"
        "  --seconds S --rounds N each rate: median of N rounds of S seconds (0.25, 5)\n"
        "  --threads LIST         thread counts of the multi-session rows, from 1 (default 1,2)\n"
        "  --procs LIST           process counts of the process rows (--ops procs),\n"
        "                         from 1 (default 1,2,4)\n"
        "  --objects LIST         token object counts (default 1000); --objects2 LIST\n"
        "                         for module 2 (default the same)\n"
        "  --populate-budget S    stop populating a module after S seconds (600)\n"
        "  --populate-with TOOL   populate a softse token with TOOL (softse-populate):\n"
        "                         object 0 by C_CreateObject, the rest in bulk;\n"
        "                         --populate-with2 TOOL for module 2 (default the same;\n"
        "                         another softse build may need its own tool)\n"
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
        O_POPULATE_WITH,
        O_POPULATE_WITH2,
        O_NO_RAW,
        O_JSON_OUT,
        O_PROCS
    };
    static const struct option longs[] = {
        {"module", required_argument, NULL, 'm'},
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
        {"populate-with", required_argument, NULL, O_POPULATE_WITH},
        {"populate-with2", required_argument, NULL, O_POPULATE_WITH2},
        {"no-raw", no_argument, NULL, O_NO_RAW},
        {"json-out", required_argument, NULL, O_JSON_OUT},
        {"procs", required_argument, NULL, O_PROCS},
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
        case O_POPULATE_WITH:
            opt.populate_with[0] = optarg;
            break;
        case O_POPULATE_WITH2:
            opt.populate_with[1] = optarg;
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
        case O_PROCS:
            if (parse_list(optarg, list, &opt.nprocs) != 0 || list[0] != 1)
                goto bad; /* scaling is relative to one process */
            for (size_t i = 0; i < opt.nprocs; i++)
                opt.procs[i] = list[i] <= 4 * MAX_LIST ? (unsigned)list[i] : 4 * MAX_LIST;
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
    if (!opt.populate_with[1])
        opt.populate_with[1] = opt.populate_with[0];
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

/* Each module gets its own softse store (fresh_dir/softse-1, -2): two
 * softse builds must not open each other's token files.  The device root
 * of trust (SOFTSE_ROT_DIR) is shared and temporary unless set. */
static char fresh_store[2][80];

static int make_fresh_store(void)
{
    char path[128], conf[128];
    const char *tmp = getenv("TMPDIR"); /* a tmpfs there: the store without the disk */
    if (!tmp || !*tmp || strlen(tmp) > 40)
        tmp = "/tmp";
    snprintf(fresh_dir, sizeof(fresh_dir), "%s/softse-bench.XXXXXX", tmp);
    if (!mkdtemp(fresh_dir)) {
        fresh_dir[0] = '\0';
        return -1;
    }
    atexit(remove_fresh_store);
    for (size_t k = 0; k < 2; k++) {
        snprintf(fresh_store[k], sizeof(fresh_store[k]), "%s/softse-%zu", fresh_dir, k + 1);
        if (mkdir(fresh_store[k], 0700) != 0)
            return -1;
        modules[k].store = fresh_store[k];
    }
    const char *rot = getenv("SOFTSE_ROT_DIR");
    snprintf(path, sizeof(path), "%s/rot", fresh_dir);
    if ((!rot || !*rot) && (mkdir(path, 0700) != 0 || setenv("SOFTSE_ROT_DIR", path, 1) != 0))
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
    if (argc == 5 && strcmp(argv[1], "--child-init") == 0)
        return bench_child_init(argv[2], argv[3], argv[4]);
    if (argc == 6 && strcmp(argv[1], "--child-proc") == 0)
        return bench_child_proc(argv[2], argv[3], argv[4], argv[5]);
    if (parse_options(argc, argv) != 0)
        return 2;
    bench_data_fill();
    if (opt.fresh_store && make_fresh_store() != 0) {
        fprintf(stderr, "softse-bench: cannot make a temporary store: %s\n", strerror(errno));
        return 1;
    }
    int status = 0;
    for (size_t k = 0; k < 2; k++)
        modules[k].populate_with = opt.populate_with[k];
    for (size_t k = 0; k < 2 && opt.module[k] && status == 0; k++, nmodules++)
        if (module_load(&modules[k], opt.module[k]) != CKR_OK ||
            module_prepare(&modules[k], opt.slot[k]) != CKR_OK)
            status = 1;
    if (status == 0) {
        bench_run_operations();
        bench_run_processes();
        bool find = bench_selected("find", "objects"), init = bench_selected("init", "objects");
        for (size_t k = 0; k < nmodules && (find || init); k++)
            bench_run_objects(k, find, init);
        opt.json ? bench_print_json(stdout) : bench_print_table();
        FILE *f = opt.json_out ? fopen(opt.json_out, "w") : NULL;
        if (opt.json_out && !f) {
            fprintf(stderr, "softse-bench: %s: %s\n", opt.json_out, strerror(errno));
            status = 1;
        }
        if (f) {
            bench_print_json(f);
            fclose(f);
        }
    }
    for (size_t k = 0; k < nmodules; k++)
        module_close(&modules[k]);
    bench_raw_keys_free();
    return status;
}
