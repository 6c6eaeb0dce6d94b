/*
 * bench_driver.h — what the files of softse-bench's driver share:
 *   bench.c          options, loading and preparing the modules, main
 *   bench_run.c      the timing loop and the operation rows
 *   bench_objects.c  the object-count cases: population, C_FindObjects,
 *                    C_Initialize+C_OpenSession in a fresh process
 *   bench_report.c   the table and the JSON report
 */
#ifndef SOFTSE_BENCH_DRIVER_H
#define SOFTSE_BENCH_DRIVER_H

#include "bench.h"

#include <stdio.h>

#define MAX_LIST 8                                /* entries of --threads and --objects */
enum { T_MOD1, T_MOD2, T_RAW, T_NAIVE, T_COUNT }; /* T_NAIVE: the naive raw side */

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
    const char *populate_with[2]; /* softse-populate, for a softse module 1 / 2 */
    unsigned procs[MAX_LIST];     /* --procs: process counts of the process rows */
    size_t nprocs;
} options;

extern options opt;

#define MAX_ROUNDS 32

/* One measured rate: the median of the rounds, with the spread; the
 * rounds in the order they ran, for paired ratios. */
typedef struct measure {
    bool ok;
    double median, min, max;
    double sample[MAX_ROUNDS];
    unsigned rounds;
    /* Process CPU seconds (user + system, every thread: the module's
     * audit drain too) per operation, per round, and their median. */
    double cpu[MAX_ROUNDS];
    double cpu_median;
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
    /* seconds per C_Initialize+C_OpenSession and the first C_FindObjects
     * (the last object by label), in the same process as init */
    measure init_find;
    char note[120];
} level_result;

extern bench_module modules[2];
extern size_t nmodules;
extern op_result results[64];
extern size_t nresults;
extern level_result levels[2][MAX_LIST];

/* ---- bench.c ---------------------------------------------------------- */

/* A blank-padded PKCS#11 text field as a C string. */
void bench_trim_copy(char *dst, const CK_UTF8CHAR *src, size_t len);
/* C_Login on the module's main session; already logged in is success. */
CK_RV bench_login(bench_module *m, CK_USER_TYPE who, const char *pin);
/* SOFTSE_STORE = the module's own store (a --fresh-store run), if any. */
void bench_use_store(const bench_module *m);
/* A child process's module: loaded, C_Initialize, the main session
 * opened on the slot of the token labelled label and logged in as the
 * user (--pin, the default). */
CK_RV bench_child_module(bench_module *m, const char *path, const char *label);
/* Whether --ops selects the row name or its group. */
bool bench_selected(const char *name, const char *group);

/* ---- bench_run.c ------------------------------------------------------ */

double bench_now(void);         /* CLOCK_MONOTONIC, seconds */
double bench_process_cpu(void); /* user + system seconds of the whole process */
double bench_settled_cpu(void); /* the same, once background threads are idle */
/* Marks m as not measured, with the reason (fmt takes one %s). */
void bench_note(measure *m, const char *fmt, const char *arg);
double bench_median(const double *values, unsigned n);
void bench_summarize(measure *m);
/* One rate on one thread, --rounds rounds after a warm-up. */
void bench_measure_rate(measure *m, bench_run_fn run, void *state);
/* Every selected row, on every module and raw; progress on stderr. */
void bench_run_operations(void);
/* One round on this thread: the rate, the operations done and the CPU
 * seconds per operation (bench_settled_cpu before and after). */
double bench_round(bench_run_fn run, void *state, double seconds, CK_RV *rv, uint64_t *done,
                   double *cpu);

/* ---- bench_procs.c ---------------------------------------------------- */

/* The process rows: at[procs index][target], T_MOD1, T_MOD2, T_RAW. */
extern op_result proc_results[];
extern size_t nproc_results;
void bench_run_processes(void);
/* softse-bench --child-proc MODULE|raw LABEL ROW SECONDS (bench_procs.c). */
int bench_child_proc(const char *path, const char *label, const char *row, const char *seconds);

/* ---- bench_objects.c -------------------------------------------------- */

void bench_run_objects(size_t k, bool find, bool init);
/* softse-bench --child-init PATH LABEL OBJECT: one timed
 * C_Initialize+C_OpenSession, then the first C_FindObjects of the object
 * labelled OBJECT; prints both times. */
int bench_child_init(const char *path, const char *label, const char *object);

/* ---- bench_report.c --------------------------------------------------- */

void bench_print_table(void);
void bench_print_json(FILE *f);

#endif
