/*
 * bench.h — what the two halves of softse-bench share.
 *
 * The driver (bench.c with bench_run.c, bench_objects.c, bench_report.c,
 * sharing bench_driver.h) loads the modules, times the rows, runs the
 * object-count cases and prints the report.  The rows are the catalogue
 * (bench_ops.c): one row per measured operation, each with its PKCS#11
 * side and, where one exists, the raw OpenSSL EVP side doing the same work
 * on the same data; the standard mechanisms' rows are in bench_std.c
 * (their raw side in bench_raw.c), the vendor mechanisms' in
 * bench_vendor.c (sharing bench_rows.h).
 */
#ifndef SOFTSE_BENCH_H
#define SOFTSE_BENCH_H

#include <pkcs11.h>
#include <softse/softse-pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The largest input any operation feeds (AES-GCM 64 KiB). */
#define BENCH_DATA_MAX (64 * 1024)

/* Token keys shared by every operation of one module; made on first use
 * over the module's main session and destroyed at exit. */
typedef struct bench_keys {
    CK_OBJECT_HANDLE ec_priv, ec_pub;
    CK_OBJECT_HANDLE ed_priv, ed_pub;
    CK_OBJECT_HANDLE rsa_priv, rsa_pub;
    CK_OBJECT_HANDLE hmac, aes;
    CK_OBJECT_HANDLE des3, rsa1024_priv, rsa1024_pub; /* issue 16's rows */
    /* Vendor rows: SK3 server keys (one from CKM_SE_SK3_KEY_GEN, one of a
     * known value) and two host keys; the attestation key once made. */
    CK_OBJECT_HANDLE sk3_server_gen, sk3_server, sk3_host_i, sk3_host_j;
    /* A host key whose queries are made to fail (se-sk3-reject), with a
     * high CKA_SE_FAILURE_LIMIT. */
    CK_OBJECT_HANDLE sk3_host_reject;
    bool attested;
} bench_keys;

typedef struct bench_module {
    const char *path;
    char name[40]; /* "softse", "SoftHSMv2": from C_GetInfo */
    void *handle;
    CK_FUNCTION_LIST *fn;
    CK_SLOT_ID slot;
    char label[33];            /* token label, blanks trimmed */
    CK_SESSION_HANDLE session; /* read-write, user logged in */
    const char *pin, *so_pin;
    /* softse's store (SOFTSE_STORE) for this module: each module of a
     * --fresh-store run has its own, set again before every child
     * process (C_Initialize, softse-populate).  NULL: as inherited. */
    const char *store;
    const char *populate_with; /* --populate-with / --populate-with2 */
    bench_keys keys;
} bench_module;

/* One iteration of an operation; CKR_OK or the error that stops the run.
 * Raw OpenSSL iterations return CKR_OK or CKR_FUNCTION_FAILED. */
typedef CK_RV (*bench_run_fn)(void *state);

typedef struct bench_op {
    const char *name;  /* row name, unique */
    const char *group; /* what --ops selects */
    const char *what;  /* the calls one iteration makes */
    /* Checked with C_GetMechanismInfo first: the row is "n/a" without it.
     * 0 when the operation needs no mechanism (C_GenerateRandom…). */
    CK_MECHANISM_TYPE mech;
    bool threaded; /* runs on several sessions: also measured on several threads */

    /* PKCS#11 side: per-thread state on its own session s.  NULL for a
     * vendor row that is only reserved. */
    CK_RV (*p11_init)(bench_module *m, CK_SESSION_HANDLE s, void **state);
    bench_run_fn p11_run;
    /* Raw OpenSSL side; NULL when there is no equivalent. */
    CK_RV (*raw_init)(void **state);
    bench_run_fn raw_run;
    /* The careful raw side above keeps what an application would keep
     * (keyed contexts per key, random drawn in blocks); the naive one, when
     * a row has it, remakes its contexts per call, as the first version of
     * this bench did: reported as a second, labelled column (issue 18). */
    CK_RV (*naive_init)(void **state);
    bench_run_fn naive_run;
} bench_op;

/* Time an iteration spends on housekeeping that is not the operation
 * measured (resetting a PIN retry counter between failed logins): the
 * timing loop leaves it out of the rate.  t0 = bench_untimed_begin();
 * ...; bench_untimed_end(t0); on the iteration's own thread. */
double bench_untimed_begin(void);
void bench_untimed_end(double t0);

/* Frees a state made by either side's init. */
void bench_state_free(void *state);

/* The catalogue, in report order: the standard rows (bench_std.c), then
 * the vendor rows (bench_vendor.c).  bench_op_at gives row i of the whole,
 * NULL past the end. */
extern const bench_op bench_std_ops[], bench_vendor_ops[];
extern const size_t bench_std_ops_count, bench_vendor_ops_count;
const bench_op *bench_op_at(size_t i);

/* The deterministic input: byte i is (i * 131 + 7) mod 256. */
extern unsigned char bench_data[BENCH_DATA_MAX];
void bench_data_fill(void);

/* Key material shared by the raw side, made once. */
void bench_raw_keys_free(void);
/* Destroys the module's shared token keys. */
void bench_keys_destroy(bench_module *m);

/* PIN-KDF iterations softse applies (SOFTSE_PIN_KDF_ITERATIONS or the default). */
unsigned long bench_pin_kdf_iterations(void);

/* "CKR_MECHANISM_INVALID" or "0x…". */
const char *bench_rv_name(CK_RV rv);

#endif
