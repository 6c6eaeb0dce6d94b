/*
 * bench_report.c — the results as a table (stdout) or as JSON (stdout
 * and/or --json-out), with paired ratios and thread scaling.
 */
#include "bench_driver.h"

#include <math.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    return bench_median(r, a->rounds);
}

/* The same for CPU seconds per operation (module over raw: above 1 is
 * more CPU than raw). */
static double cpu_ratio(const measure *a, const measure *b)
{
    double r[MAX_ROUNDS];
    if (!a->ok || !b->ok || b->cpu_median <= 0)
        return NAN;
    if (a->rounds != b->rounds)
        return a->cpu_median / b->cpu_median;
    for (unsigned i = 0; i < a->rounds; i++)
        r[i] = b->cpu[i] > 0 ? a->cpu[i] / b->cpu[i] : NAN;
    return bench_median(r, a->rounds);
}

static double rate_of(const measure *m)
{
    return m->ok ? m->median : NAN;
}

static double cpu_us(const measure *m)
{
    return m->ok ? 1e6 * m->cpu_median : NAN;
}

static const char *target_name(size_t k)
{
    return k == T_RAW ? "raw" : k == T_NAIVE ? "raw-naive" : modules[k].name;
}

static void print_cell(double v, const char *fmt, int width)
{
    if (isnan(v))
        printf(" %*s", width, "n/a");
    else
        printf(fmt, width, v);
}

/* The process rows: aggregate rates of N processes, against N raw ones. */
static void print_processes(const char *n1, const char *n2)
{
    if (!nproc_results)
        return;
    printf("\nprocesses (N processes each with its own session on the same token, aggregate "
           "ops/s; raw: N processes of raw OpenSSL;\nscale = rate at N / rate at 1, paired "
           "rounds; cpu/raw = CPU per operation over raw's)\n");
    printf("%-22s %5s %10s %5s %7s %6s %10s %5s %10s %6s\n", "operation", "procs", n1, "/raw",
           "cpu/raw", "scale", n2, "/raw", "raw", "scale");
    for (size_t i = 0; i < nproc_results; i++)
        for (size_t p = 0; p < opt.nprocs; p++) {
            measure *at = proc_results[i].at[p], *one = proc_results[i].at[0];
            printf("%-22s %5u", proc_results[i].op->name, opt.procs[p]);
            print_cell(rate_of(&at[T_MOD1]), " %*.0f", 10);
            print_cell(ratio(&at[T_MOD1], &at[T_RAW]), " %*.2f", 5);
            print_cell(cpu_ratio(&at[T_MOD1], &at[T_RAW]), " %*.2f", 7);
            print_cell(ratio(&at[T_MOD1], &one[T_MOD1]), " %*.2f", 6);
            print_cell(rate_of(&at[T_MOD2]), " %*.0f", 10);
            print_cell(ratio(&at[T_MOD2], &at[T_RAW]), " %*.2f", 5);
            print_cell(rate_of(&at[T_RAW]), " %*.0f", 10);
            print_cell(ratio(&at[T_RAW], &one[T_RAW]), " %*.2f", 6);
            for (size_t k = 0; k <= T_RAW; k++)
                if (!at[k].ok && at[k].note[0] && (k < nmodules || k == T_RAW))
                    printf("  %s: %s", target_name(k), at[k].note);
            printf("\n");
        }
}

void bench_print_table(void)
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
    printf("ratios are paired per round (median of the per-round ratios); /raw = rate over the "
           "careful "
           "raw rate;\ncpu = process CPU (user+system, all threads) per operation; cpu/raw = "
           "that over raw's (above 1: more CPU than raw);\nnaive = the raw side remaking its "
           "contexts per call (the first bench's), /nv = module rate over it\n\n");
    printf("%-22s %3s %10s %5s %7s %7s %10s %5s %7s %10s %7s %10s %5s %6s\n", "operation", "thr",
           n1, "/raw", "cpu us", "cpu/raw", n2, "/raw", "cpu/raw", "raw", "cpu us", "naive", "/nv",
           "/mod2");
    for (size_t i = 0; i < nresults; i++) {
        op_result *r = &results[i];
        for (size_t t = 0; t < opt.nthreads; t++) {
            measure *at = r->at[t];
            if (!at[T_MOD1].ok && !at[T_MOD1].note[0])
                continue; /* not measured at this thread count */
            printf("%-22s %3u", r->op->name, opt.threads[t]);
            print_cell(rate_of(&at[T_MOD1]), " %*.0f", 10);
            print_cell(ratio(&at[T_MOD1], &at[T_RAW]), " %*.2f", 5);
            print_cell(cpu_us(&at[T_MOD1]), " %*.2f", 7);
            print_cell(cpu_ratio(&at[T_MOD1], &at[T_RAW]), " %*.2f", 7);
            print_cell(rate_of(&at[T_MOD2]), " %*.0f", 10);
            print_cell(ratio(&at[T_MOD2], &at[T_RAW]), " %*.2f", 5);
            print_cell(cpu_ratio(&at[T_MOD2], &at[T_RAW]), " %*.2f", 7);
            print_cell(rate_of(&at[T_RAW]), " %*.0f", 10);
            print_cell(cpu_us(&at[T_RAW]), " %*.2f", 7);
            print_cell(rate_of(&at[T_NAIVE]), " %*.0f", 10);
            print_cell(ratio(&at[T_MOD1], &at[T_NAIVE]), " %*.2f", 5);
            print_cell(ratio(&at[T_MOD1], &at[T_MOD2]), " %*.2f", 6);
            printf("\n");
        }
    }
    bool header = false;
    for (size_t i = 0; i < nresults; i++)
        for (size_t t = 0; t < opt.nthreads; t++) {
            bool any = false;
            for (size_t k = 0; k < T_COUNT; k++) {
                const measure *m = &results[i].at[t][k];
                if (m->ok || !m->note[0] || (k >= T_RAW && strcmp(m->note, "n/a") == 0))
                    continue;
                if (!header)
                    printf("\nnotes:\n");
                if (!any)
                    printf("  %s x%u:", results[i].op->name, opt.threads[t]);
                printf("%s %s %s", any ? ";" : "", target_name(k), m->note);
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
            for (size_t k = 0; k <= T_RAW; k++)
                print_cell(ratio(&many[k], &one[k]), " %*.2f", 10);
            printf("\n");
        }

    print_processes(n1, n2);

    if (!levels[0][0].count)
        return;
    printf("\nobjects on the token (small CKO_DATA token objects; find = C_FindObjectsInit+"
           "C_FindObjects+Final by a unique CKA_LABEL;\ninit = C_Initialize+C_GetSlotList+"
           "C_OpenSession in a fresh process, median of up to %u;\n+find = init and the first "
           "C_FindObjects in that process)\n",
           opt.rounds);
    printf("%10s %-10s %12s %10s %12s %12s %12s\n", "objects", "module", "populate s", "objects/s",
           "find us", "init ms", "+find ms");
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
            print_cell(lv->init_find.ok ? 1e3 * lv->init_find.median : NAN, " %*.2f", 12);
            printf("%s%s\n", lv->note[0] ? "  " : "", lv->note);
        }
}

static void json_measure(FILE *f, const char *key, const measure *m, bool last)
{
    if (m->ok)
        fprintf(f,
                "\"%s\": {\"median\": %.3f, \"min\": %.3f, \"max\": %.3f, "
                "\"cpu_us_per_op\": %.4f}%s",
                key, m->median, m->min, m->max, 1e6 * m->cpu_median, last ? "" : ", ");
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

void bench_print_json(FILE *f)
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
            json_measure(f, "raw", &at[T_RAW], false);
            json_measure(f, "raw_naive", &at[T_NAIVE], true);
            fprintf(f, "}, ");
            json_number(f, "module1_over_raw", ratio(&at[T_MOD1], &at[T_RAW]), false);
            json_number(f, "module2_over_raw", ratio(&at[T_MOD2], &at[T_RAW]), false);
            json_number(f, "module1_over_module2", ratio(&at[T_MOD1], &at[T_MOD2]), false);
            json_number(f, "module1_over_raw_naive", ratio(&at[T_MOD1], &at[T_NAIVE]), false);
            json_number(f, "module1_cpu_over_raw", cpu_ratio(&at[T_MOD1], &at[T_RAW]), false);
            json_number(f, "module2_cpu_over_raw", cpu_ratio(&at[T_MOD2], &at[T_RAW]), false);
            json_number(f, "scaling_module1", ratio(&at[T_MOD1], &results[i].at[0][T_MOD1]), false);
            json_number(f, "scaling_module2", ratio(&at[T_MOD2], &results[i].at[0][T_MOD2]), false);
            json_number(f, "scaling_raw", ratio(&at[T_RAW], &results[i].at[0][T_RAW]), true);
            fprintf(f, "}");
        }
    fprintf(f, "\n  ],\n  \"processes\": [");
    first = true;
    for (size_t i = 0; i < nproc_results; i++)
        for (size_t p = 0; p < opt.nprocs; p++) {
            measure *at = proc_results[i].at[p], *one = proc_results[i].at[0];
            fprintf(f, "%s\n    {\"name\": \"%s\", \"procs\": %u, \"ops_per_s\": {",
                    first ? "" : ",", proc_results[i].op->name, opt.procs[p]);
            first = false;
            json_measure(f, "module1", &at[T_MOD1], false);
            json_measure(f, "module2", &at[T_MOD2], false);
            json_measure(f, "raw", &at[T_RAW], true);
            fprintf(f, "}, ");
            json_number(f, "module1_over_raw", ratio(&at[T_MOD1], &at[T_RAW]), false);
            json_number(f, "module2_over_raw", ratio(&at[T_MOD2], &at[T_RAW]), false);
            json_number(f, "module1_cpu_over_raw", cpu_ratio(&at[T_MOD1], &at[T_RAW]), false);
            json_number(f, "scaling_module1", ratio(&at[T_MOD1], &one[T_MOD1]), false);
            json_number(f, "scaling_module2", ratio(&at[T_MOD2], &one[T_MOD2]), false);
            json_number(f, "scaling_raw", ratio(&at[T_RAW], &one[T_RAW]), true);
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
            json_number(f, "init_find_ms", lv->init_find.ok ? 1e3 * lv->init_find.median : NAN,
                        false);
            fprintf(f, "\"note\": \"%s\"}", lv->note);
        }
    fprintf(f, "\n  ]\n}\n");
}
