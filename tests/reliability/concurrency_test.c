/*
 * concurrency_test.c — one token, 3 processes × 4 threads (docs/spec.md §7:
 * "several processes may use one token at once"), each thread with its
 * own session, for a bounded time:
 *   - creates token objects (some only it destroys: CKA_ID "mine"; some
 *     any thread may destroy: CKA_ID "shared") and session objects, each
 *     with a label "<kind>-<proc>-<thread>-<n>" that determines its value;
 *   - finds its own "mine" objects and checks the set is exactly what it
 *     created minus what it destroyed (another process's writes must not
 *     hide or resurrect anything);
 *   - signs with one shared HMAC key and compares with OpenSSL, digests;
 *   - destroys its own objects and races the others to destroy shared
 *     ones (each destroy that succeeds is logged; a label destroyed twice
 *     fails the test).
 * Every thread logs what it created and destroyed to its own file.
 * Afterwards the token holds exactly created − destroyed (labels and
 * values), and the audit chain verifies.  alarm() bounds the whole run so
 * that a deadlock fails the test instead of hanging it.
 *
 * SOFTSE_CONCURRENCY_SECONDS (default 10) bounds the work;
 * SOFTSE_RELIABILITY_SHORT=1 makes it 1 s.
 */
#include "rel_common.h"

#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define PROCESSES 3
#define THREADS 4
#define LABEL "concurrency"
#define SO_PIN "conc-so-pin"
#define USER_PIN "conc-user-pin"
#define APPLICATION "softse-concurrency"
#define MAX_LIVE 64

static const unsigned char hmac_key[32] = "concurrency test shared HMAC k!";

static fx env;
static double deadline;
static CK_SLOT_ID slot;

/* ---- a worker ----------------------------------------------------------------- */

typedef struct worker {
    int proc, thread;
    FILE *log;
    unsigned seed;
    unsigned long ops, creates, destroys, signs, finds, lost_races;
    CK_OBJECT_HANDLE mine[MAX_LIVE];
    char mine_label[MAX_LIVE][48];
    int mine_count;
    char why[512]; /* a failure, "" if none */
} worker;

#define WORKER_FAIL(w, ...)                                                                        \
    do {                                                                                           \
        snprintf((w)->why, sizeof((w)->why), __VA_ARGS__);                                         \
        return false;                                                                              \
    } while (0)

static CK_RV create_object(CK_SESSION_HANDLE s, const char *label, bool token, const char *id,
                           CK_OBJECT_HANDLE *h)
{
    unsigned char value[64];
    rel_bytes_for(label, value, sizeof(value));
    CK_OBJECT_CLASS data = CKO_DATA;
    CK_BBOOL on_token = token ? CK_TRUE : CK_FALSE, priv = (label[0] & 1) ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &data, sizeof(data)},
        {CKA_TOKEN, &on_token, sizeof(on_token)},
        {CKA_PRIVATE, &priv, sizeof(priv)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_APPLICATION, APPLICATION, strlen(APPLICATION)},
        {CKA_OBJECT_ID, (void *)id, strlen(id)},
        {CKA_VALUE, value, sizeof(value)},
    };
    return fx_functions()->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), h);
}

static bool sign_once(worker *w, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char data[48] = {0}, mac[32], expected[32]; /* all 48 bytes are signed */
    snprintf((char *)data, sizeof(data), "message %d/%d/%lu", w->proc, w->thread, w->ops);
    CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
    CK_RV rv = f->C_SignInit(s, &mech, key);
    if (rv != CKR_OK)
        WORKER_FAIL(w, "C_SignInit: %s", fx_rv_name(rv));
    CK_ULONG len = sizeof(mac);
    rv = f->C_Sign(s, data, sizeof(data), mac, &len);
    if (rv != CKR_OK || len != sizeof(mac))
        WORKER_FAIL(w, "C_Sign: %s (%lu bytes)", fx_rv_name(rv), (unsigned long)len);
    unsigned int elen = 0;
    HMAC(EVP_sha256(), hmac_key, sizeof(hmac_key), data, sizeof(data), expected, &elen);
    if (memcmp(mac, expected, sizeof(mac)) != 0)
        WORKER_FAIL(w, "HMAC-SHA256 under load differs from OpenSSL's");
    w->signs++;
    return true;
}

static bool check_mine(worker *w, CK_SESSION_HANDLE s)
{
    CK_ATTRIBUTE t[] = {{CKA_OBJECT_ID, "mine", 4}, {CKA_APPLICATION, APPLICATION, strlen(APPLICATION)}};
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    CK_RV rv = rel_find(s, t, 2, &found, &n);
    if (rv != CKR_OK)
        WORKER_FAIL(w, "C_FindObjects: %s", fx_rv_name(rv));
    char prefix[32];
    int plen = snprintf(prefix, sizeof(prefix), "m-%d-%d-", w->proc, w->thread);
    int own = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        char label[64];
        CK_ULONG len = rel_get(s, found[i], CKA_LABEL, label, sizeof(label) - 1, &rv);
        if (len == CK_UNAVAILABLE_INFORMATION) {
            /* destroyed by its owner since the search: only others' objects */
            continue;
        }
        label[len] = '\0';
        if (strncmp(label, prefix, (size_t)plen) != 0)
            continue;
        own++;
        bool known = false;
        for (int k = 0; k < w->mine_count && !known; k++)
            known = strcmp(w->mine_label[k], label) == 0;
        if (!known) {
            free(found);
            WORKER_FAIL(w, "found \"%s\", which this thread destroyed", label);
        }
    }
    free(found);
    if (own != w->mine_count)
        WORKER_FAIL(w, "found %d of its %d objects", own, w->mine_count);
    w->finds++;
    return true;
}

static bool destroy_shared(worker *w, CK_SESSION_HANDLE s)
{
    CK_ATTRIBUTE t[] = {{CKA_OBJECT_ID, "shared", 6}, {CKA_APPLICATION, APPLICATION, strlen(APPLICATION)}};
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    CK_RV rv = rel_find(s, t, 2, &found, &n);
    if (rv != CKR_OK)
        WORKER_FAIL(w, "C_FindObjects (shared): %s", fx_rv_name(rv));
    if (n > 0) {
        CK_OBJECT_HANDLE h = found[(unsigned)rand_r(&w->seed) % n];
        char label[64];
        CK_ULONG len = rel_get(s, h, CKA_LABEL, label, sizeof(label) - 1, &rv);
        if (len != CK_UNAVAILABLE_INFORMATION) {
            label[len] = '\0';
            rv = fx_functions()->C_DestroyObject(s, h);
            if (rv == CKR_OK) {
                fprintf(w->log, "D %s\n", label);
                w->destroys++;
            } else if (rv == CKR_OBJECT_HANDLE_INVALID) {
                w->lost_races++; /* another thread got there first */
            } else {
                free(found);
                WORKER_FAIL(w, "C_DestroyObject (shared): %s", fx_rv_name(rv));
            }
        } else {
            w->lost_races++;
        }
    }
    free(found);
    return true;
}

static bool work(worker *w)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s;
    CK_RV rv = fx_open(slot, true, &s);
    if (rv != CKR_OK)
        WORKER_FAIL(w, "C_OpenSession: %s", fx_rv_name(rv));
    CK_ATTRIBUTE kt[] = {{CKA_LABEL, "shared-hmac", 11}};
    CK_OBJECT_HANDLE *keys;
    CK_ULONG nkeys;
    rv = rel_find(s, kt, 1, &keys, &nkeys);
    if (rv != CKR_OK || nkeys != 1)
        WORKER_FAIL(w, "the shared HMAC key: %s, %lu found", fx_rv_name(rv), (unsigned long)nkeys);
    CK_OBJECT_HANDLE key = keys[0];
    free(keys);
    unsigned long n = 0;
    while (rel_now() < deadline) {
        int what = rand_r(&w->seed) % 10;
        char label[48];
        CK_OBJECT_HANDLE h;
        if (what <= 2 && w->mine_count < MAX_LIVE) {
            snprintf(label, sizeof(label), "m-%d-%d-%lu", w->proc, w->thread, n++);
            rv = create_object(s, label, true, "mine", &h);
            if (rv != CKR_OK)
                WORKER_FAIL(w, "C_CreateObject %s: %s", label, fx_rv_name(rv));
            fprintf(w->log, "C %s\n", label);
            w->mine[w->mine_count] = h;
            snprintf(w->mine_label[w->mine_count++], sizeof(w->mine_label[0]), "%s", label);
            w->creates++;
        } else if (what == 3) {
            snprintf(label, sizeof(label), "x-%d-%d-%lu", w->proc, w->thread, n++);
            rv = create_object(s, label, true, "shared", &h);
            if (rv != CKR_OK)
                WORKER_FAIL(w, "C_CreateObject %s: %s", label, fx_rv_name(rv));
            fprintf(w->log, "C %s\n", label);
            w->creates++;
        } else if (what == 4) {
            snprintf(label, sizeof(label), "s-%d-%d-%lu", w->proc, w->thread, n++);
            rv = create_object(s, label, false, "session", &h);
            if (rv != CKR_OK)
                WORKER_FAIL(w, "C_CreateObject (session) %s: %s", label, fx_rv_name(rv));
            /* half are destroyed now, the others with the session */
            if ((n & 1) && (rv = f->C_DestroyObject(s, h)) != CKR_OK)
                WORKER_FAIL(w, "C_DestroyObject (session) %s: %s", label, fx_rv_name(rv));
        } else if (what == 5 && w->mine_count > 0) {
            int k = rand_r(&w->seed) % w->mine_count;
            rv = f->C_DestroyObject(s, w->mine[k]);
            if (rv != CKR_OK)
                WORKER_FAIL(w, "C_DestroyObject %s: %s", w->mine_label[k], fx_rv_name(rv));
            fprintf(w->log, "D %s\n", w->mine_label[k]);
            w->destroys++;
            w->mine_count--;
            w->mine[k] = w->mine[w->mine_count];
            memcpy(w->mine_label[k], w->mine_label[w->mine_count], sizeof(w->mine_label[k]));
        } else if (what == 6) {
            if (!destroy_shared(w, s))
                return false;
        } else if (what == 7) {
            if (!check_mine(w, s))
                return false;
        } else if (what == 8) {
            if (!sign_once(w, s, key))
                return false;
        } else {
            unsigned char digest[32];
            CK_ULONG len = sizeof(digest);
            CK_MECHANISM mech = {CKM_SHA256, NULL, 0};
            if ((rv = f->C_DigestInit(s, &mech)) != CKR_OK ||
                (rv = f->C_Digest(s, (CK_BYTE_PTR)"abc", 3, digest, &len)) != CKR_OK)
                WORKER_FAIL(w, "C_Digest: %s", fx_rv_name(rv));
        }
        fflush(w->log);
        w->ops++;
    }
    if (!check_mine(w, s))
        return false;
    rv = f->C_CloseSession(s);
    if (rv != CKR_OK)
        WORKER_FAIL(w, "C_CloseSession: %s", fx_rv_name(rv));
    return true;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (!work(w) && !w->why[0])
        snprintf(w->why, sizeof(w->why), "failed");
    return NULL;
}

static void process_main(int proc)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_RV rv = fx_initialize_args(NULL, NULL, NULL, NULL, CKF_OS_LOCKING_OK, NULL);
    rel_check(rv == CKR_OK, "process %d: C_Initialize: %s", proc, fx_rv_name(rv));
    slot = rel_slot_by_label(LABEL);
    rel_check(slot != (CK_SLOT_ID)-1, "process %d: no token", proc);
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, true, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_OK); /* the login holds for every session */
    worker w[THREADS];
    pthread_t threads[THREADS];
    memset(w, 0, sizeof(w));
    for (int i = 0; i < THREADS; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/log-%d-%d", env.root, proc, i);
        w[i].proc = proc;
        w[i].thread = i;
        w[i].seed = (unsigned)(proc * 1000 + i) ^ (unsigned)getpid();
        w[i].log = fopen(path, "w");
        rel_check(w[i].log != NULL, "%s: %s", path, strerror(errno));
        rel_check(pthread_create(&threads[i], NULL, worker_main, &w[i]) == 0, "pthread_create");
    }
    unsigned long ops = 0, creates = 0, destroys = 0, signs = 0, finds = 0, races = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        fclose(w[i].log);
        rel_check(!w[i].why[0], "process %d thread %d: %s", proc, i, w[i].why);
        ops += w[i].ops, creates += w[i].creates, destroys += w[i].destroys;
        signs += w[i].signs, finds += w[i].finds, races += w[i].lost_races;
    }
    rel_rv(f->C_CloseSession(s), CKR_OK);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/result-%d", env.root, proc);
    FILE *out = fopen(path, "w");
    rel_check(out != NULL, "%s", path);
    fprintf(out, "%lu %lu %lu %lu %lu %lu\n", ops, creates, destroys, signs, finds, races);
    fclose(out);
}

/* ---- the parent ------------------------------------------------------------------- */

static pid_t children[PROCESSES];

static void on_alarm(int sig)
{
    (void)sig;
    static const char msg[] = "FAIL: concurrency_test: no progress before the alarm: a deadlock?\n";
    for (int i = 0; i < PROCESSES; i++)
        if (children[i] > 0)
            kill(children[i], SIGABRT);
    if (write(2, msg, sizeof(msg) - 1) < 0) {
    }
    _exit(1);
}

typedef struct live {
    char (*labels)[64];
    size_t count, cap;
} live;

static int find_label(const live *l, const char *label)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->labels[i], label) == 0)
            return (int)i;
    return -1;
}

int main(void)
{
    memset(&env, 0, sizeof(env));
    fx_env_fresh(&env);
    double seconds = rel_short() ? 1 : (double)rel_env_ulong("SOFTSE_CONCURRENCY_SECONDS", 10);
    unsigned alarm_after = (unsigned)seconds + 50;
    signal(SIGALRM, on_alarm);
    alarm(alarm_after);

    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    slot = rel_new_token(LABEL, SO_PIN, USER_PIN);
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, true, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_OK);
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE kt[] = {
        {CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_TOKEN, &yes, sizeof(yes)},       {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, "shared-hmac", 11},       {CKA_VALUE, (void *)hmac_key, sizeof(hmac_key)},
    };
    CK_OBJECT_HANDLE key;
    rel_rv(f->C_CreateObject(s, kt, sizeof(kt) / sizeof(kt[0]), &key), CKR_OK);
    rel_rv(f->C_Finalize(NULL), CKR_OK);

    double start = rel_now();
    deadline = start + seconds;
    fflush(NULL);
    for (int i = 0; i < PROCESSES; i++) {
        children[i] = fork();
        rel_check(children[i] >= 0, "fork: %s", strerror(errno));
        if (children[i] == 0) {
            process_main(i);
            _exit(0);
        }
    }
    for (int i = 0; i < PROCESSES; i++) {
        int status;
        rel_check(waitpid(children[i], &status, 0) == children[i], "waitpid");
        rel_check(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "process %d failed (status 0x%x): see its message above", i, status);
        children[i] = 0;
    }
    double elapsed = rel_now() - start;

    /* What the logs say should be on the token. */
    live l = {0};
    unsigned long created = 0, destroyed = 0;
    for (int p = 0; p < PROCESSES; p++) {
        for (int t = 0; t < THREADS; t++) {
            char path[PATH_MAX + 64], line[128], label[64];
            snprintf(path, sizeof(path), "%s/log-%d-%d", env.root, p, t);
            FILE *in = fopen(path, "r");
            rel_check(in != NULL, "%s", path);
            while (fgets(line, sizeof(line), in)) {
                char op;
                rel_check(sscanf(line, "%c %63s", &op, label) == 2, "log line \"%s\"", line);
                if (op == 'C') {
                    rel_check(find_label(&l, label) < 0, "\"%s\" created twice", label);
                    if (l.count == l.cap) {
                        l.cap = l.cap ? 2 * l.cap : 256;
                        l.labels = realloc(l.labels, l.cap * sizeof(*l.labels));
                    }
                    snprintf(l.labels[l.count++], sizeof(l.labels[0]), "%s", label);
                    created++;
                }
            }
            fclose(in);
        }
    }
    for (int p = 0; p < PROCESSES; p++) {
        for (int t = 0; t < THREADS; t++) {
            char path[PATH_MAX + 64], line[128], label[64];
            snprintf(path, sizeof(path), "%s/log-%d-%d", env.root, p, t);
            FILE *in = fopen(path, "r");
            while (fgets(line, sizeof(line), in)) {
                char op;
                if (sscanf(line, "%c %63s", &op, label) == 2 && op == 'D') {
                    int k = find_label(&l, label);
                    rel_check(k >= 0, "\"%s\" destroyed twice, or never created", label);
                    l.count--;
                    memcpy(l.labels[k], l.labels[l.count], sizeof(l.labels[k]));
                    destroyed++;
                }
            }
            fclose(in);
        }
    }
    unsigned long ops = 0, signs = 0, finds = 0, races = 0;
    for (int p = 0; p < PROCESSES; p++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/result-%d", env.root, p);
        FILE *in = fopen(path, "r");
        unsigned long o, c, d, sg, fi, r;
        rel_check(in && fscanf(in, "%lu %lu %lu %lu %lu %lu", &o, &c, &d, &sg, &fi, &r) == 6,
                  "%s", path);
        fclose(in);
        ops += o, signs += sg, finds += fi, races += r;
    }

    /* What is on the token. */
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    rel_rv(fx_open(slot, true, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_OK);
    CK_ATTRIBUTE t[] = {{CKA_APPLICATION, APPLICATION, strlen(APPLICATION)}};
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    rel_rv(rel_find(s, t, 1, &found, &n), CKR_OK);
    rel_check(n == l.count, "%lu objects on the token, the workers' logs say %zu (created %lu, "
                            "destroyed %lu)",
              (unsigned long)n, l.count, created, destroyed);
    for (CK_ULONG i = 0; i < n; i++) {
        char label[64];
        unsigned char value[128], want[64];
        CK_RV rv;
        CK_ULONG len = rel_get(s, found[i], CKA_LABEL, label, sizeof(label) - 1, &rv);
        rel_check(len != CK_UNAVAILABLE_INFORMATION, "label: %s", fx_rv_name(rv));
        label[len] = '\0';
        int k = find_label(&l, label);
        rel_check(k >= 0, "\"%s\" is on the token but was destroyed or never logged", label);
        l.labels[k][0] = '\0'; /* seen */
        rel_bytes_for(label, want, sizeof(want));
        len = rel_get(s, found[i], CKA_VALUE, value, sizeof(value), &rv);
        rel_check(len == sizeof(want) && memcmp(value, want, sizeof(want)) == 0,
                  "\"%s\": wrong value (%s)", label, fx_rv_name(rv));
    }
    free(found);
    free(l.labels);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
    unsigned long records = 0;
    rel_verify_audit(env.store, &records);
    alarm(0);
    printf("concurrency_test: %d processes x %d threads for %.1f s: %lu operations checked "
           "(%lu objects created, %lu destroyed, %lu HMACs compared, %lu own-set searches, "
           "%lu destroy races lost), %lu objects on the token as logged, %lu audit records "
           "verified\n",
           PROCESSES, THREADS, elapsed, ops, created, destroyed, signs, finds, races,
           (unsigned long)n, records);
    fx_env_cleanup(&env);
    return 0;
}
