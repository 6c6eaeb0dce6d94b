/*
 * kill_test.c — crash safety (docs/spec.md §7: "writes are atomic and
 * durable"): a child works on two tokens and is SIGKILLed at a random
 * moment, hundreds of times; after every kill the parent checks that the
 * store is whole.
 *
 * The child loops over
 *   - C_CreateObject of token objects (data objects and AES keys, public
 *     and private) whose label "k-<cycle>-<seq>" determines every other
 *     attribute; it reports "O cycle seq" on a pipe only after CKR_OK;
 *   - C_SetPIN between two known user PINs ("S" before, "P n" after);
 *   - lifecycle transitions 1 → 2 → 1 by the SO of a second token ("T"
 *     before, "L state" after);
 *   - when CKM_SE_SK3_Q4 exists, a query 4 with a wrong signature on an
 *     SK3 host key, then its CKA_SE_FAILURE_COUNT ("F count").
 * Lines are shorter than PIPE_BUF, so each arrives whole or not at all.
 *
 * After each kill the parent checks: C_Initialize succeeds; the user PIN
 * recorded works, or the other one when a change was under way; the
 * lifecycle is the one recorded, or the next when a transition was under
 * way; the failure count never went down; the objects reported this cycle
 * exist with exactly their attributes; and every so often (and at the
 * end) a full scan: every object reported exists once with exactly its
 * attributes, every object found is complete and was either reported or
 * the one a killed child was making; the audit chain of every token file
 * verifies (tok_audit_verify).
 *
 * Bounded by SOFTSE_KILL_SECONDS (default 40) or SOFTSE_RELIABILITY_SHORT;
 * SOFTSE_KILL_SEED reproduces a run; SOFTSE_KILL_MAX_DELAY_MS (default 30)
 * bounds the random delay before each kill.
 */
#include "rel_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#define LABEL_OBJECTS "kill-objects"
#define LABEL_LIFECYCLE "kill-lifecycle"
#define SO_PIN "kill-so-pin"
#define FULL_CHECK_EVERY 25
#define HOST_ID "kill-host-000001"

static const char *const pins[2] = {"kill-pin-one", "kill-pin-two"};
static const unsigned char host_value[96] = "kill test SK3 host key value: K(i) | K'(i) | K''(i)";

/* ---- what a label determines ----------------------------------------------- */

typedef struct expected {
    char label[32];
    bool key;        /* AES key, else data object */
    bool is_private;
    unsigned char value[200];
    CK_ULONG value_len;
    char application[32];
} expected;

static void expect(int cycle, int seq, expected *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->label, sizeof(e->label), "k-%d-%d", cycle, seq);
    e->key = seq % 2 == 1;
    e->is_private = seq % 3 == 0;
    e->value_len = e->key ? 32 : 1 + (CK_ULONG)((cycle * 31 + seq * 7) % 199);
    rel_bytes_for(e->label, e->value, e->value_len);
    snprintf(e->application, sizeof(e->application), "app-%d", cycle);
}

static CK_RV create(CK_SESSION_HANDLE s, const expected *e, CK_OBJECT_HANDLE *h)
{
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE, priv = e->is_private ? CK_TRUE : CK_FALSE;
    CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE data_t[] = {
        {CKA_CLASS, &data, sizeof(data)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &priv, sizeof(priv)},
        {CKA_LABEL, (void *)e->label, strlen(e->label)},
        {CKA_APPLICATION, (void *)e->application, strlen(e->application)},
        {CKA_VALUE, (void *)e->value, e->value_len},
    };
    CK_ATTRIBUTE key_t[] = {
        {CKA_CLASS, &secret, sizeof(secret)},
        {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &priv, sizeof(priv)},
        {CKA_LABEL, (void *)e->label, strlen(e->label)},
        {CKA_ID, (void *)e->application, strlen(e->application)},
        {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_VALUE, (void *)e->value, e->value_len},
    };
    return e->key ? fx_functions()->C_CreateObject(s, key_t, 10, h)
                  : fx_functions()->C_CreateObject(s, data_t, 6, h);
}

/* Every attribute the child set, with its value; "" or a failure. */
static const char *check_object(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const expected *e)
{
    static char why[256];
    unsigned char buf[256];
    CK_RV rv;
    CK_OBJECT_CLASS cls = 0;
    CK_BBOOL b = 0;
    if (rel_get(s, h, CKA_CLASS, &cls, sizeof(cls), &rv) != sizeof(cls) ||
        cls != (e->key ? CKO_SECRET_KEY : CKO_DATA))
        return snprintf(why, sizeof(why), "%s: CKA_CLASS %lu (%s)", e->label, cls, fx_rv_name(rv)),
               why;
    if (rel_get(s, h, CKA_PRIVATE, &b, 1, &rv) != 1 || b != (e->is_private ? CK_TRUE : CK_FALSE))
        return snprintf(why, sizeof(why), "%s: CKA_PRIVATE %u (%s)", e->label, b, fx_rv_name(rv)),
               why;
    if (rel_get(s, h, CKA_TOKEN, &b, 1, &rv) != 1 || b != CK_TRUE)
        return snprintf(why, sizeof(why), "%s: CKA_TOKEN (%s)", e->label, fx_rv_name(rv)), why;
    CK_ULONG n = rel_get(s, h, CKA_LABEL, buf, sizeof(buf), &rv);
    if (n != strlen(e->label) || memcmp(buf, e->label, n) != 0)
        return snprintf(why, sizeof(why), "%s: CKA_LABEL (%s)", e->label, fx_rv_name(rv)), why;
    n = rel_get(s, h, e->key ? CKA_ID : CKA_APPLICATION, buf, sizeof(buf), &rv);
    if (n != strlen(e->application) || memcmp(buf, e->application, n) != 0)
        return snprintf(why, sizeof(why), "%s: %s (%s)", e->label,
                        e->key ? "CKA_ID" : "CKA_APPLICATION", fx_rv_name(rv)),
               why;
    n = rel_get(s, h, CKA_VALUE, buf, sizeof(buf), &rv);
    if (n != e->value_len || memcmp(buf, e->value, n) != 0)
        return snprintf(why, sizeof(why), "%s: CKA_VALUE %lu bytes, expected %lu (%s)", e->label,
                        (unsigned long)n, (unsigned long)e->value_len, fx_rv_name(rv)),
               why;
    if (e->key) {
        CK_KEY_TYPE type = 0;
        if (rel_get(s, h, CKA_KEY_TYPE, &type, sizeof(type), &rv) != sizeof(type) || type != CKK_AES)
            return snprintf(why, sizeof(why), "%s: CKA_KEY_TYPE (%s)", e->label, fx_rv_name(rv)),
                   why;
    }
    return "";
}

/* ---- the child --------------------------------------------------------------- */

static int report_fd = -1;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (write(report_fd, line, (size_t)n) != n)
        _exit(4);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    if (rel_find(s, t, n, &found, &count) != CKR_OK || count != 1) {
        free(found);
        return CK_INVALID_HANDLE;
    }
    CK_OBJECT_HANDLE h = found[0];
    free(found);
    return h;
}

static CK_OBJECT_HANDLE lifecycle_object(CK_SESSION_HANDLE s)
{
    CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE type = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &hw, sizeof(hw)}, {CKA_HW_FEATURE_TYPE, &type, sizeof(type)}};
    return find_one(s, t, 2);
}

static CK_OBJECT_HANDLE host_key(CK_SESSION_HANDLE s)
{
    CK_ATTRIBUTE t[] = {{CKA_LABEL, "kill-sk3-host", 13}};
    return find_one(s, t, 1);
}

static bool have_sk3(CK_SLOT_ID slot)
{
    CK_MECHANISM_INFO info;
    return fx_functions()->C_GetMechanismInfo(slot, CKM_SE_SK3_Q4, &info) == CKR_OK;
}

typedef struct shared_state {
    int pin;              /* index of the user PIN in force */
    unsigned char state;  /* lifecycle of the second token */
} shared_state;

static void child(int cycle, shared_state st, unsigned seed)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    srand(seed);
    child_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID a = rel_slot_by_label(LABEL_OBJECTS), b = rel_slot_by_label(LABEL_LIFECYCLE);
    child_check(a != (CK_SLOT_ID)-1 && b != (CK_SLOT_ID)-1);
    CK_SESSION_HANDLE sa, sb;
    child_rv(fx_open(a, true, &sa), CKR_OK);
    child_rv(fx_login(sa, CKU_USER, pins[st.pin]), CKR_OK);
    child_rv(fx_open(b, true, &sb), CKR_OK);
    child_rv(fx_login(sb, CKU_SO, SO_PIN), CKR_OK);
    CK_OBJECT_HANDLE lc = lifecycle_object(sb);
    child_check(lc != CK_INVALID_HANDLE);
    bool sk3 = have_sk3(a);
    CK_OBJECT_HANDLE host = sk3 ? host_key(sa) : CK_INVALID_HANDLE;
    for (int seq = 0;; ) {
        int what = rand() % 10;
        if (what < 6) {
            expected e;
            expect(cycle, seq, &e);
            CK_OBJECT_HANDLE h;
            child_rv(create(sa, &e, &h), CKR_OK);
            report("O %d %d\n", cycle, seq);
            seq++;
        } else if (what == 6) {
            report("S\n");
            child_rv(f->C_SetPIN(sa, (CK_UTF8CHAR_PTR)pins[st.pin], strlen(pins[st.pin]),
                                 (CK_UTF8CHAR_PTR)pins[1 - st.pin], strlen(pins[1 - st.pin])),
                     CKR_OK);
            st.pin = 1 - st.pin;
            report("P %d\n", st.pin);
        } else if (what < 9) {
            unsigned char to = st.state == SOFTSE_LIFECYCLE_PERSONALIZATION
                                   ? SOFTSE_LIFECYCLE_OPERATIONAL
                                   : SOFTSE_LIFECYCLE_PERSONALIZATION;
            CK_ATTRIBUTE value = {CKA_VALUE, &to, 1};
            report("T\n");
            child_rv(f->C_SetAttributeValue(sb, lc, &value, 1), CKR_OK);
            st.state = to;
            report("L %u\n", to);
            lc = lifecycle_object(sb); /* a transition may rebuild the object */
            child_check(lc != CK_INVALID_HANDLE);
        } else if (host != CK_INVALID_HANDLE) {
            CK_SE_SK3_Q4_PARAMS q4;
            memset(&q4, 0, sizeof(q4));
            memcpy(q4.peerId, HOST_ID, sizeof(q4.peerId));
            q4.ri[0] = (unsigned char)seq;
            CK_MECHANISM mech = {CKM_SE_SK3_Q4, &q4, sizeof(q4)};
            unsigned char wrong[32] = {0};
            child_rv(f->C_VerifyInit(sa, &mech, host), CKR_OK);
            CK_RV rv = f->C_Verify(sa, NULL, 0, wrong, sizeof(wrong));
            child_check(rv == CKR_SIGNATURE_INVALID || rv == CKR_SE_PROTOCOL_REJECTED);
            CK_ULONG count = 0;
            child_check(rel_get(sa, host, CKA_SE_FAILURE_COUNT, &count, sizeof(count), NULL) ==
                        sizeof(count));
            report("F %lu\n", (unsigned long)count);
        }
    }
}

/* ---- the parent ---------------------------------------------------------------- */

typedef struct cycle_log {
    int last_seq; /* last seq reported, -1: none */
} cycle_log;

static cycle_log *cycles;
static size_t cycle_cap;
static unsigned long reported_objects;

typedef struct parent_state {
    shared_state st;
    bool pin_pending, transition_pending;
    unsigned long failures_reported, failures_seen;
    bool sk3;
    unsigned long checks, full_checks, objects_checked;
} parent_state;

static void read_reports(int fd, int cycle, parent_state *p)
{
    static char buf[1 << 16];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *nl;
        while ((nl = strchr(line, '\n'))) {
            *nl = '\0';
            int c, seq, pin;
            unsigned state;
            unsigned long count;
            if (sscanf(line, "O %d %d", &c, &seq) == 2) {
                rel_check(c == cycle && seq == cycles[cycle].last_seq + 1,
                          "report out of order: %s", line);
                cycles[cycle].last_seq = seq;
                reported_objects++;
            } else if (strcmp(line, "S") == 0) {
                p->pin_pending = true;
            } else if (sscanf(line, "P %d", &pin) == 1) {
                p->st.pin = pin;
                p->pin_pending = false;
            } else if (strcmp(line, "T") == 0) {
                p->transition_pending = true;
            } else if (sscanf(line, "L %u", &state) == 1) {
                p->st.state = (unsigned char)state;
                p->transition_pending = false;
            } else if (sscanf(line, "F %lu", &count) == 1) {
                rel_check(count >= p->failures_reported, "failure count went from %lu down to %lu",
                          p->failures_reported, count);
                p->failures_reported = count;
            } else {
                rel_fail("bad report line \"%s\"", line);
            }
            line = nl + 1;
        }
        have = strlen(line);
        memmove(buf, line, have);
    }
    rel_check(have == 0, "a partial report line: a write to the pipe was split");
}

static void check_full(CK_SESSION_HANDLE s, int cycles_done, parent_state *p)
{
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    rel_rv(rel_find(s, NULL, 0, &found, &n), CKR_OK);
    int *unreported = calloc((size_t)cycles_done + 1, sizeof(int));
    /* bit of (cycle, seq) among the reported objects: offset[cycle] + seq */
    size_t *offset = calloc((size_t)cycles_done + 2, sizeof(size_t));
    for (int k = 0; k <= cycles_done; k++)
        offset[k + 1] = offset[k] + (size_t)(cycles[k].last_seq + 1);
    unsigned char *seen = NULL;
    size_t seen_size = 0;
    unsigned long matched = 0;
    for (CK_ULONG i = 0; i < n; i++) {
        char label[64] = {0};
        CK_OBJECT_CLASS cls = 0;
        rel_get(s, found[i], CKA_CLASS, &cls, sizeof(cls), NULL);
        if (cls == CKO_HW_FEATURE)
            continue;
        CK_RV rv;
        CK_ULONG len = rel_get(s, found[i], CKA_LABEL, label, sizeof(label) - 1, &rv);
        rel_check(len != CK_UNAVAILABLE_INFORMATION, "object 0x%lx has no readable label (%s)",
                  (unsigned long)found[i], fx_rv_name(rv));
        label[len] = '\0';
        int c, seq;
        if (strcmp(label, "kill-sk3-host") == 0)
            continue;
        rel_check(sscanf(label, "k-%d-%d", &c, &seq) == 2 && c >= 0 && c <= cycles_done,
                  "unknown object \"%s\" on the token", label);
        expected e;
        expect(c, seq, &e);
        const char *why = check_object(s, found[i], &e);
        rel_check(!*why, "object incomplete or wrong after a kill: %s", why);
        size_t bit = 0;
        if (seq <= cycles[c].last_seq) {
            /* a reported object: seen once */
            bit = offset[c] + (size_t)seq;
            if (bit / 8 >= seen_size) {
                size_t grown = (bit / 8 + 1) * 2;
                seen = realloc(seen, grown);
                memset(seen + seen_size, 0, grown - seen_size);
                seen_size = grown;
            }
            rel_check(!(seen[bit / 8] & (1u << (bit % 8))), "object \"%s\" exists twice", label);
            seen[bit / 8] |= (unsigned char)(1u << (bit % 8));
            matched++;
        } else {
            /* committed, then killed before it could say so: only the next one */
            rel_check(seq == cycles[c].last_seq + 1 && unreported[c] == 0,
                      "object \"%s\" exists but child %d reported up to seq %d", label, c,
                      cycles[c].last_seq);
            unreported[c]++;
        }
        p->objects_checked++;
    }
    rel_check(matched == reported_objects,
              "%lu objects reported committed, %lu found: a committed object was lost",
              reported_objects, matched);
    free(seen);
    free(offset);
    free(unreported);
    free(found);
    p->full_checks++;
}

static void check(const char *store, int cycle, bool full, parent_state *p)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID a = rel_slot_by_label(LABEL_OBJECTS), b = rel_slot_by_label(LABEL_LIFECYCLE);
    rel_check(a != (CK_SLOT_ID)-1 && b != (CK_SLOT_ID)-1, "a token is missing after a kill");
    CK_TOKEN_INFO info;
    rel_rv(f->C_GetTokenInfo(a, &info), CKR_OK);
    rel_check(!(info.flags & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW)),
              "user PIN flags 0x%lx after a kill", (unsigned long)info.flags);

    CK_SESSION_HANDLE s;
    rel_rv(fx_open(a, true, &s), CKR_OK);
    CK_RV rv = fx_login(s, CKU_USER, pins[p->st.pin]);
    if (rv == CKR_PIN_INCORRECT && p->pin_pending) {
        /* the change committed but the child died before reporting it */
        rv = fx_login(s, CKU_USER, pins[1 - p->st.pin]);
        if (rv == CKR_OK)
            p->st.pin = 1 - p->st.pin;
    }
    rel_check(rv == CKR_OK, "cycle %d: neither the recorded user PIN (%d%s) logs in: %s", cycle,
              p->st.pin, p->pin_pending ? ", change under way" : "", fx_rv_name(rv));
    p->pin_pending = false;

    /* this cycle's objects */
    for (int seq = 0; seq <= cycles[cycle].last_seq; seq++) {
        expected e;
        expect(cycle, seq, &e);
        CK_ATTRIBUTE t = {CKA_LABEL, e.label, strlen(e.label)};
        CK_OBJECT_HANDLE *found;
        CK_ULONG n;
        rel_rv(rel_find(s, &t, 1, &found, &n), CKR_OK);
        rel_check(n == 1, "committed object %s: %lu found", e.label, (unsigned long)n);
        const char *why = check_object(s, found[0], &e);
        rel_check(!*why, "committed object wrong after a kill: %s", why);
        free(found);
        p->objects_checked++;
    }
    if (full)
        check_full(s, cycle, p);

    if (p->sk3) {
        CK_OBJECT_HANDLE host = host_key(s);
        rel_check(host != CK_INVALID_HANDLE, "the SK3 host key is gone");
        CK_ULONG count = 0;
        rel_check(rel_get(s, host, CKA_SE_FAILURE_COUNT, &count, sizeof(count), &rv) ==
                      sizeof(count),
                  "CKA_SE_FAILURE_COUNT: %s", fx_rv_name(rv));
        rel_check(count >= p->failures_reported && count >= p->failures_seen,
                  "failure count %lu after a kill; reported %lu, seen %lu", (unsigned long)count,
                  p->failures_reported, p->failures_seen);
        p->failures_seen = count;
    }
    rel_rv(f->C_CloseSession(s), CKR_OK);

    rel_rv(fx_open(b, false, &s), CKR_OK);
    CK_OBJECT_HANDLE lc = lifecycle_object(s);
    rel_check(lc != CK_INVALID_HANDLE, "the lifecycle object is missing");
    unsigned char state = 0;
    rel_check(rel_get(s, lc, CKA_VALUE, &state, 1, &rv) == 1, "lifecycle: %s", fx_rv_name(rv));
    unsigned char next = p->st.state == SOFTSE_LIFECYCLE_PERSONALIZATION
                             ? SOFTSE_LIFECYCLE_OPERATIONAL
                             : SOFTSE_LIFECYCLE_PERSONALIZATION;
    rel_check(state == p->st.state || (p->transition_pending && state == next),
              "lifecycle %u after a kill; recorded %u%s", state, p->st.state,
              p->transition_pending ? ", transition under way" : "");
    p->st.state = state;
    p->transition_pending = false;
    rel_rv(f->C_CloseSession(s), CKR_OK);
    rel_rv(f->C_Finalize(NULL), CKR_OK);

    if (full)
        rel_verify_audit(store, NULL);
    p->checks++;
}

static void setup(parent_state *p)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID a = rel_new_token(LABEL_OBJECTS, SO_PIN, pins[0]);
    rel_new_token(LABEL_LIFECYCLE, SO_PIN, pins[0]);
    p->st.pin = 0;
    p->st.state = SOFTSE_LIFECYCLE_PERSONALIZATION;
    p->sk3 = have_sk3(a);
    if (p->sk3) {
        CK_SESSION_HANDLE s;
        rel_rv(fx_open(a, true, &s), CKR_OK);
        rel_rv(fx_login(s, CKU_USER, pins[0]), CKR_OK);
        CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
        CK_KEY_TYPE type = CKK_SE_SK3_HOST;
        CK_BBOOL yes = CK_TRUE;
        CK_ULONG no_limit = 0;
        CK_ATTRIBUTE t[] = {
            {CKA_CLASS, &secret, sizeof(secret)},
            {CKA_KEY_TYPE, &type, sizeof(type)},
            {CKA_TOKEN, &yes, sizeof(yes)},
            {CKA_LABEL, "kill-sk3-host", 13},
            {CKA_VALUE, (void *)host_value, sizeof(host_value)},
            {CKA_SE_HOST_ID, HOST_ID, 16},
            {CKA_SE_FAILURE_LIMIT, &no_limit, sizeof(no_limit)},
            {CKA_VERIFY, &yes, sizeof(yes)},
        };
        CK_OBJECT_HANDLE h;
        rel_rv(f->C_CreateObject(s, t, sizeof(t) / sizeof(t[0]), &h), CKR_OK);
        rel_rv(f->C_CloseSession(s), CKR_OK);
    }
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

int main(void)
{
    fx t;
    memset(&t, 0, sizeof(t));
    fx_env_fresh(&t);
    unsigned seed = (unsigned)rel_env_ulong("SOFTSE_KILL_SEED", (unsigned long)time(NULL));
    double budget = (double)rel_env_ulong("SOFTSE_KILL_SECONDS", 40);
    unsigned long max_cycles = rel_short() ? 12 : 100000;
    unsigned long max_delay_us = rel_env_ulong("SOFTSE_KILL_MAX_DELAY_MS", 30) * 1000;
    srand(seed);
    printf("kill_test: seed %u (SOFTSE_KILL_SEED), up to %.0f s\n", seed, budget);
    fflush(stdout);

    parent_state p;
    memset(&p, 0, sizeof(p));
    setup(&p);
    printf("kill_test: SK3 failure counting %s\n", p.sk3 ? "included" : "skipped (no CKM_SE_SK3_Q4)");

    double start = rel_now();
    unsigned long killed = 0, cycle = 0;
    for (; cycle < max_cycles && rel_now() - start < budget; cycle++) {
        if (cycle >= cycle_cap) {
            cycle_cap = cycle_cap ? 2 * cycle_cap : 256;
            cycles = realloc(cycles, cycle_cap * sizeof(*cycles));
        }
        cycles[cycle].last_seq = -1;
        int fds[2];
        rel_check(pipe(fds) == 0, "pipe: %s", strerror(errno));
        unsigned child_seed = (unsigned)rand();
        unsigned long delay = (unsigned long)rand() % (max_delay_us + 1);
        fflush(NULL);
        pid_t pid = fork();
        rel_check(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            close(fds[0]);
            report_fd = fds[1];
            child((int)cycle, p.st, child_seed);
            _exit(0);
        }
        close(fds[1]);
        usleep((useconds_t)delay);
        kill(pid, SIGKILL);
        int status;
        rel_check(waitpid(pid, &status, 0) == pid, "waitpid: %s", strerror(errno));
        read_reports(fds[0], (int)cycle, &p);
        close(fds[0]);
        rel_check(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                  "cycle %lu: the child ended by itself (status 0x%x): see its message above", cycle,
                  status);
        killed++;
        bool full = (cycle + 1) % FULL_CHECK_EVERY == 0;
        check(t.store, (int)cycle, full, &p);
    }
    rel_check(cycle > 0, "no cycle ran");
    check(t.store, (int)cycle - 1, true, &p);
    unsigned long records = 0;
    size_t files = rel_verify_audit(t.store, &records);
    printf("kill_test: %lu kill points survived in %.1f s: %lu objects committed and found intact "
           "(%lu object checks), %lu store checks (%lu full), SK3 failure count %lu, "
           "%zu token files with %lu audit records verified\n",
           killed, rel_now() - start, reported_objects, p.objects_checked, p.checks, p.full_checks,
           p.failures_seen, files, records);
    if (!rel_short())
        rel_check(killed >= 100, "only %lu kill points in the time budget", killed);
    free(cycles);
    fx_env_cleanup(&t);
    return 0;
}
