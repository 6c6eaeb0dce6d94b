/*
 * SK3 refusals (docs/spec.md §6, §3; seed 003 §2.3.5): a tampered query 3 or
 * 4 is rejected and counted, persistently, with an audit record, and
 * never uncounted by a success; at CKA_SE_FAILURE_LIMIT every query is
 * blocked, also after a restart and in another process; key creation
 * follows the lifecycle; K~ never leaves the card; malformed calls get
 * their precise CKR and count nothing.
 */
#include "sk3_fixture.h"
#include "store_probe.h"

#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

/* The module's in-card secret attribute (module/vendor_env.h): not in
 * the public header, but a caller may still try to name it. */
#define CKA_SE_INTERNAL_SECRET (SOFTSE_VENDOR_BASE | 0xF1UL)

static CK_FUNCTION_LIST_PTR f;
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static sk3_world *world(void **state)
{
    f = fx_functions();
    return &((sk3_state *)*state)->w;
}

static fx *fixture(void **state)
{
    return ((sk3_state *)*state)->fx;
}

/* A world whose host keys have CKA_SE_FAILURE_LIMIT 3. */
static int setup_limit3(void **state)
{
    if (sk3_setup_module(state) != 0)
        return -1;
    sk3_state *st = *state;
    sk3_world_opts opts = {.failure_limit = 3, .limit_given = true};
    return sk3_world_make(&st->w, &opts) == CKR_OK ? 0 : -1;
}

/* A world whose host keys are extractable (still sensitive). */
static int setup_extractable(void **state)
{
    if (sk3_setup_module(state) != 0)
        return -1;
    sk3_state *st = *state;
    sk3_world_opts opts = {.extractable_hosts = true};
    return sk3_world_make(&st->w, &opts) == CKR_OK ? 0 : -1;
}

static CK_ULONG failures(sk3_world *w, int host)
{
    CK_ULONG count = 12345;
    assert_rv(sk3_failure_count(w->session[host], w->host[host], &count), CKR_OK);
    return count;
}

static CK_ULONG secret_keys(sk3_world *w, int host)
{
    CK_ULONG count = 0;
    assert_rv(sk3_count_secret_keys(w->session[host], &count), CKR_OK);
    return count;
}

/* Queries 1, server and 2 done honestly: what query 3 on i needs. */
static void honest_q3_params(sk3_world *w, CK_SE_SK3_Q3_PARAMS *p)
{
    memset(p, 0, sizeof(*p));
    memcpy(p->peerId, sk3_host_j, SK3_ID_LEN);
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], p->ri, p->ci), CKR_OK);
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, p->alpha, p->beta),
              CKR_OK);
    assert_rv(sk3_q2(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p->ri, p->rj, p->tauJ,
                     SK3_SIGMA_AES, NULL),
              CKR_OK);
}

/* A query 3 with one byte of the field at offset flipped. */
static CK_RV tampered_q3(sk3_world *w, size_t offset, CK_OBJECT_HANDLE *sigma)
{
    CK_SE_SK3_Q3_PARAMS p;
    honest_q3_params(w, &p);
    ((unsigned char *)&p)[offset + 7] ^= 0x20;
    *sigma = CK_INVALID_HANDLE;
    CK_RV rv = sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, SK3_SIGMA_AES, sigma);
    static const unsigned char zero[SK3_LEN];
    assert_memory_equal(p.rhoI, zero, SK3_LEN); /* no ρ_i for a rejected query */
    return rv;
}

/* ---- rejections and the counter -------------------------------------------------------------- */

static void q3_rejects_each_tampering(void **state)
{
    sk3_world *w = world(state);
    static const struct {
        const char *name;
        size_t offset;
    } fields[] = {
        {"alpha", offsetof(CK_SE_SK3_Q3_PARAMS, alpha)},
        {"beta", offsetof(CK_SE_SK3_Q3_PARAMS, beta)},
        {"tau_j", offsetof(CK_SE_SK3_Q3_PARAMS, tauJ)},
        {"c_i", offsetof(CK_SE_SK3_Q3_PARAMS, ci)},
        {"r_i", offsetof(CK_SE_SK3_Q3_PARAMS, ri)},
        {"r_j", offsetof(CK_SE_SK3_Q3_PARAMS, rj)},
        {"j", offsetof(CK_SE_SK3_Q3_PARAMS, peerId)},
    };
    CK_ULONG keys = secret_keys(w, SK3_I);
    for (size_t n = 0; n < SK3_COUNT(fields); n++) {
        CK_OBJECT_HANDLE sigma;
        CK_RV rv = tampered_q3(w, fields[n].offset, &sigma);
        if (rv != CKR_SE_PROTOCOL_REJECTED)
            fail_msg("query 3 with a wrong %s: %s", fields[n].name, fx_rv_name(rv));
        assert_true(sigma == CK_INVALID_HANDLE);
        assert_int_equal(secret_keys(w, SK3_I), keys); /* no σ_i was made */
        assert_int_equal(failures(w, SK3_I), n + 1);
        /* a success counts nothing and resets nothing (seed 003 §2.3.5) */
        assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
        assert_int_equal(failures(w, SK3_I), n + 1);
    }
    assert_int_equal(failures(w, SK3_J), 0);
}

/* The (α, β) the server made for another host pair, and a replayed
 * (r_j, τ_j) under a fresh r_i: both rejected by query 3 and counted. */
static void q3_rejects_other_pair_and_replay(void **state)
{
    sk3_world *w = world(state);
    static const unsigned char host_k[SK3_ID_LEN] = "host-k (other)";
    CK_SE_SK3_Q3_PARAMS p;
    honest_q3_params(w, &p);
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, host_k, p.alpha, p.beta),
              CKR_OK);
    CK_OBJECT_HANDLE sigma = CK_INVALID_HANDLE;
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, SK3_SIGMA_AES, &sigma),
              CKR_SE_PROTOCOL_REJECTED);
    assert_true(sigma == CK_INVALID_HANDLE);
    assert_int_equal(failures(w, SK3_I), 1);

    /* An honest round, then its (r_j, τ_j) replayed with a fresh r_i. */
    CK_SE_SK3_Q3_PARAMS first, replay;
    honest_q3_params(w, &first);
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &first, SK3_SIGMA_AES, NULL), CKR_OK);
    honest_q3_params(w, &replay); /* fresh r_i, c_i, α, β */
    memcpy(replay.rj, first.rj, SK3_LEN);
    memcpy(replay.tauJ, first.tauJ, SK3_LEN);
    memset(replay.rhoI, 0, SK3_LEN);
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &replay, SK3_SIGMA_AES, NULL),
              CKR_SE_PROTOCOL_REJECTED);
    assert_int_equal(failures(w, SK3_I), 2);
}

static void q4_rejects_wrong_rho(void **state)
{
    sk3_world *w = world(state);
    CK_SE_SK3_Q3_PARAMS p;
    honest_q3_params(w, &p);
    assert_rv(sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, SK3_SIGMA_AES, NULL), CKR_OK);
    unsigned char rho[SK3_LEN];
    memcpy(rho, p.rhoI, SK3_LEN);
    rho[31] ^= 1;
    CK_SESSION_HANDLE sj = w->session[SK3_J];
    CK_OBJECT_HANDLE hj = w->host[SK3_J];
    assert_rv(sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, rho, SK3_LEN), CKR_SIGNATURE_INVALID);
    assert_int_equal(failures(w, SK3_J), 1);
    /* the wrong r_j is a wrong ρ too */
    p.rj[0] ^= 1;
    assert_rv(sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN), CKR_SIGNATURE_INVALID);
    assert_int_equal(failures(w, SK3_J), 2);
    p.rj[0] ^= 1;
    /* a wrong length is a wrong answer too (docs/spec.md §6): counted */
    assert_rv(sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN - 1), CKR_SIGNATURE_INVALID);
    assert_rv(sk3_q4(sj, hj, sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN), CKR_OK);
    assert_int_equal(failures(w, SK3_J), 3);
    assert_int_equal(failures(w, SK3_I), 0);
}

/* ---- the limit ------------------------------------------------------------------------------- */

/* Every query type on host key i (as initiator and as responder). */
static void expect_all_queries(sk3_world *w, CK_RV expected)
{
    CK_SESSION_HANDLE si = w->session[SK3_I];
    CK_OBJECT_HANDLE hi = w->host[SK3_I];
    unsigned char ri[SK3_LEN], ci[SK3_LEN], rj[SK3_LEN], tau[SK3_LEN];
    assert_rv(sk3_q1(si, hi, ri, ci), expected);
    CK_SE_SK3_Q3_PARAMS p;
    memset(&p, 0, sizeof(p));
    memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
    assert_rv(sk3_q3(si, hi, &p, SK3_SIGMA_AES, NULL),
              expected == CKR_OK ? CKR_SE_PROTOCOL_REJECTED : expected);
    assert_rv(sk3_q2(si, hi, sk3_host_j, ri, rj, tau, SK3_SIGMA_AES, NULL), expected);
    assert_rv(sk3_q4(si, hi, sk3_host_j, ri, rj, tau, SK3_LEN),
              expected == CKR_OK ? CKR_SIGNATURE_INVALID : expected);
}

static int blocked_child(void)
{
    child_rv(f->C_Initialize(NULL), CKR_OK);
    sk3_world w;
    child_rv(sk3_world_open(&w), CKR_OK);
    unsigned char ri[SK3_LEN], ci[SK3_LEN];
    child_rv(sk3_q1(w.session[SK3_I], w.host[SK3_I], ri, ci), CKR_SE_BLOCKED);
    CK_ULONG count = 0;
    child_rv(sk3_failure_count(w.session[SK3_I], w.host[SK3_I], &count), CKR_OK);
    child_check(count == 3);
    child_rv(sk3_q1(w.session[SK3_J], w.host[SK3_J], ri, ci), CKR_OK);
    child_rv(f->C_Finalize(NULL), CKR_OK);
    return 0;
}

static void limit_blocks_every_query(void **state)
{
    sk3_world *w = world(state);
    assert_int_equal(fx_get_ulong(w->session[SK3_I], w->host[SK3_I], CKA_SE_FAILURE_LIMIT), 3);
    for (int n = 0; n < 3; n++) {
        CK_OBJECT_HANDLE sigma;
        assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, beta), &sigma),
                  CKR_SE_PROTOCOL_REJECTED);
    }
    assert_int_equal(failures(w, SK3_I), 3);
    expect_all_queries(w, CKR_SE_BLOCKED);
    assert_int_equal(failures(w, SK3_I), 3); /* blocked queries are not counted */
    /* host j and the server are not affected */
    unsigned char ri[SK3_LEN], ci[SK3_LEN], alpha[SK3_LEN], beta[SK3_LEN];
    assert_rv(sk3_q1(w->session[SK3_J], w->host[SK3_J], ri, ci), CKR_OK);
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, alpha, beta),
              CKR_OK);

    /* persistent: after C_Finalize/C_Initialize, and in another process */
    assert_rv(fx_restart(), CKR_OK);
    assert_rv(sk3_world_open(w), CKR_OK);
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], ri, ci), CKR_SE_BLOCKED);
    assert_int_equal(failures(w, SK3_I), 3);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(blocked_child());
    fx_assert_child_ok(pid);
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], ri, ci), CKR_SE_BLOCKED);
}

/* Bad queries 4 block the responder's key too. */
static void q4_failures_block(void **state)
{
    sk3_world *w = world(state);
    unsigned char ri[SK3_LEN] = {1}, rj[SK3_LEN] = {2}, rho[SK3_LEN] = {3};
    for (int n = 0; n < 3; n++)
        assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN),
                  CKR_SIGNATURE_INVALID);
    assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN),
              CKR_SE_BLOCKED);
    assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_SE_BLOCKED); /* query 2 on j */
    assert_int_equal(failures(w, SK3_J), 3);
    assert_int_equal(failures(w, SK3_I), 0);
}

/* CKA_SE_FAILURE_LIMIT 0: no limit. */
static void limit_zero_never_blocks(void **state)
{
    sk3_world *w = world(state);
    CK_ULONG zero = 0;
    CK_ATTRIBUTE extra[] = {{CKA_SE_FAILURE_LIMIT, &zero, sizeof(zero)}};
    CK_OBJECT_HANDLE unlimited;
    assert_rv(sk3_provision(w, SK3_I, sk3_host_i, extra, 1, &unlimited), CKR_OK);
    w->host[SK3_I] = unlimited;
    for (int n = 0; n < 5; n++) {
        CK_OBJECT_HANDLE sigma;
        assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, tauJ), &sigma),
                  CKR_SE_PROTOCOL_REJECTED);
    }
    assert_int_equal(failures(w, SK3_I), 5);
    assert_int_equal(fx_get_ulong(w->session[SK3_I], unlimited, CKA_SE_FAILURE_LIMIT), 0);
    assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
}

/* ---- the audit log ------------------------------------------------------------------------------
 */

static int audit_count(fx *t, CK_SLOT_ID slot, const char *event, const char *like)
{
    CK_TOKEN_INFO info;
    assert_rv(f->C_GetTokenInfo(slot, &info), CKR_OK);
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/%.16s.sqlite", t->store, (const char *)info.serialNumber);
    sqlite3 *db = NULL;
    assert_int_equal(store_probe_flush_audit(path), 0);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit WHERE event = ?1"
                                        " AND detail LIKE ?2",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, event, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, like, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    int count = sqlite3_column_int(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

static void audit_record_per_reject(void **state)
{
    sk3_world *w = world(state);
    fx *t = fixture(state);
    CK_OBJECT_HANDLE sigma;
    assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, alpha), &sigma),
              CKR_SE_PROTOCOL_REJECTED);
    assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, ci), &sigma), CKR_SE_PROTOCOL_REJECTED);
    unsigned char ri[SK3_LEN] = {1}, rj[SK3_LEN] = {2}, rho[SK3_LEN] = {3};
    assert_rv(sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, ri, rj, rho, SK3_LEN),
              CKR_SIGNATURE_INVALID);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "failure", "%SK3 query 3%"), 2);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "failure", "%SK3 query 3:%c_i%"), 1);
    assert_int_equal(audit_count(t, w->slot[SK3_J], "failure", "%SK3 query 4%"), 1);
    assert_int_equal(audit_count(t, w->slot[SK3_S], "failure", "%"), 0);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "sk3-blocked", "%"), 0);
    /* docs/spec.md §3: every query is recorded, answered or not. */
    int answered_q1 = audit_count(t, w->slot[SK3_I], "sk3", "query 1 on %: answered");
    int queried_q3 = audit_count(t, w->slot[SK3_I], "sk3", "query 3 on %");
    assert_true(queried_q3 >= 2);
    assert_int_equal(audit_count(t, w->slot[SK3_J], "sk3", "query 4 on %: answered"), 1);
    unsigned char r_i[SK3_LEN], c_i[SK3_LEN];
    assert_rv(sk3_q1(w->session[SK3_I], w->host[SK3_I], r_i, c_i), CKR_OK);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "sk3", "query 1 on %: answered"),
                     answered_q1 + 1);
}

static void audit_blocked_once(void **state)
{
    sk3_world *w = world(state);
    fx *t = fixture(state);
    for (int n = 0; n < 3; n++) {
        CK_OBJECT_HANDLE sigma;
        assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, beta), &sigma),
                  CKR_SE_PROTOCOL_REJECTED);
    }
    expect_all_queries(w, CKR_SE_BLOCKED);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "failure", "%SK3 query 3: beta%"), 3);
    assert_int_equal(audit_count(t, w->slot[SK3_I], "sk3-blocked", "%"), 1);
}

/* ---- the lifecycle (docs/spec.md §3) -----------------------------------------------------------
 */

static CK_RV create_host_key(CK_SESSION_HANDLE s, const unsigned char *id, CK_ULONG id_len,
                             CK_ULONG value_len, CK_OBJECT_HANDLE *out)
{
    unsigned char value[2 * SK3_VALUE_LEN], name[2 * SK3_ID_LEN] = {0};
    memset(value, 0x5c, sizeof(value));
    if (id)
        memcpy(name, id, SK3_ID_LEN); /* id_len may be longer: the rest is zeros */
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE, value, value_len},
        {CKA_SE_HOST_ID, name, id_len},
    };
    return f->C_CreateObject(s, tmpl, id ? 4 : 3, out);
}

static void operational_forbids_key_creation(void **state)
{
    sk3_world *w = world(state);
    assert_rv(sk3_set_lifecycle(w->slot[SK3_I], SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    assert_rv(sk3_set_lifecycle(w->slot[SK3_S], SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    CK_OBJECT_HANDLE key;
    assert_rv(create_host_key(w->session[SK3_I], sk3_host_i, SK3_ID_LEN, SK3_VALUE_LEN, &key),
              CKR_SE_LIFECYCLE);
    assert_rv(sk3_provision(w, SK3_I, sk3_host_i, NULL, 0, &key), CKR_SE_LIFECYCLE);
    CK_MECHANISM gen = {CKM_SE_SK3_KEY_GEN, NULL, 0};
    assert_rv(f->C_GenerateKey(w->session[SK3_S], &gen, NULL, 0, &key), CKR_SE_LIFECYCLE);
    /* queries, the server query and host-key derivation still work */
    assert_rv(sk3_round(w, SK3_SIGMA_AES, NULL, NULL), CKR_OK);
    CK_OBJECT_HANDLE sigma;
    assert_rv(tampered_q3(w, offsetof(CK_SE_SK3_Q3_PARAMS, tauJ), &sigma),
              CKR_SE_PROTOCOL_REJECTED);
    assert_int_equal(failures(w, SK3_I), 1);
    /* the token j, still in PERSONALIZATION, may take keys */
    assert_rv(create_host_key(w->session[SK3_J], sk3_host_j, SK3_ID_LEN, SK3_VALUE_LEN, &key),
              CKR_OK);
}

static void terminated_refuses_queries(void **state)
{
    sk3_world *w = world(state);
    assert_rv(sk3_set_lifecycle(w->slot[SK3_I], SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    unsigned char ri[SK3_LEN], ci[SK3_LEN], rj[SK3_LEN], tau[SK3_LEN];
    CK_SESSION_HANDLE si = w->session[SK3_I];
    CK_OBJECT_HANDLE hi = w->host[SK3_I];
    assert_rv(sk3_q1(si, hi, ri, ci), CKR_SE_LIFECYCLE);
    assert_rv(sk3_q2(si, hi, sk3_host_j, ri, rj, tau, SK3_SIGMA_AES, NULL), CKR_SE_LIFECYCLE);
    CK_SE_SK3_Q3_PARAMS p;
    memset(&p, 0, sizeof(p));
    assert_rv(sk3_q3(si, hi, &p, SK3_SIGMA_AES, NULL), CKR_SE_LIFECYCLE);
    assert_rv(sk3_q4(si, hi, sk3_host_j, ri, rj, tau, SK3_LEN), CKR_SE_LIFECYCLE);
    /* the server S and the card j are not terminated */
    assert_rv(sk3_q1(w->session[SK3_J], w->host[SK3_J], ri, ci), CKR_OK);
    assert_rv(sk3_set_lifecycle(w->slot[SK3_S], SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    unsigned char alpha[SK3_LEN], beta[SK3_LEN];
    assert_rv(sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, alpha, beta),
              CKR_SE_LIFECYCLE);
}

/* ---- secrets stay inside ------------------------------------------------------------------------
 */

static void internal_secret_never_readable(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE si = w->session[SK3_I];
    unsigned char buffer[256];
    CK_ATTRIBUTE value = {CKA_VALUE, buffer, sizeof(buffer)};
    assert_rv(f->C_GetAttributeValue(si, w->host[SK3_I], &value, 1), CKR_ATTRIBUTE_SENSITIVE);
    CK_ATTRIBUTE internal = {CKA_SE_INTERNAL_SECRET, buffer, sizeof(buffer)};
    assert_rv(f->C_GetAttributeValue(si, w->host[SK3_I], &internal, 1), CKR_ATTRIBUTE_TYPE_INVALID);
    internal.pValue = NULL;
    assert_rv(f->C_GetAttributeValue(si, w->host[SK3_I], &internal, 1), CKR_ATTRIBUTE_TYPE_INVALID);

    /* a readable host key (not sensitive, extractable) still hides K~ */
    unsigned char value_bytes[SK3_VALUE_LEN];
    memset(value_bytes, 0x42, sizeof(value_bytes));
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE, value_bytes, sizeof(value_bytes)},
        {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN},
        {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE readable;
    assert_rv(f->C_CreateObject(si, tmpl, 6, &readable), CKR_OK);
    value.ulValueLen = sizeof(buffer);
    assert_rv(f->C_GetAttributeValue(si, readable, &value, 1), CKR_OK);
    assert_int_equal(value.ulValueLen, SK3_VALUE_LEN);
    internal.pValue = buffer;
    internal.ulValueLen = sizeof(buffer);
    assert_rv(f->C_GetAttributeValue(si, readable, &internal, 1), CKR_ATTRIBUTE_TYPE_INVALID);

    /* nor can it be set, given, or the counter forged */
    assert_rv(f->C_SetAttributeValue(si, readable,
                                     &(CK_ATTRIBUTE){CKA_SE_INTERNAL_SECRET, buffer, SK3_LEN}, 1),
              CKR_ATTRIBUTE_TYPE_INVALID);
    CK_ULONG zero = 0;
    assert_rv(f->C_SetAttributeValue(si, readable,
                                     &(CK_ATTRIBUTE){CKA_SE_FAILURE_COUNT, &zero, sizeof(zero)}, 1),
              CKR_ATTRIBUTE_READ_ONLY);
    assert_rv(f->C_SetAttributeValue(si, readable,
                                     &(CK_ATTRIBUTE){CKA_SE_FAILURE_LIMIT, &zero, sizeof(zero)}, 1),
              CKR_ATTRIBUTE_READ_ONLY);
    CK_ATTRIBUTE with_internal[7];
    memcpy(with_internal, tmpl, sizeof(tmpl));
    with_internal[6] = (CK_ATTRIBUTE){CKA_SE_INTERNAL_SECRET, buffer, SK3_LEN};
    CK_OBJECT_HANDLE forged;
    assert_rv_in(f->C_CreateObject(si, with_internal, 7, &forged), CKR_ATTRIBUTE_READ_ONLY,
                 CKR_ATTRIBUTE_TYPE_INVALID);
    with_internal[6] = (CK_ATTRIBUTE){CKA_SE_FAILURE_COUNT, &zero, sizeof(zero)};
    assert_rv(f->C_CreateObject(si, with_internal, 7, &forged), CKR_ATTRIBUTE_READ_ONLY);

    /* a copy would start a fresh counter beside the same K~: never copyable */
    CK_OBJECT_HANDLE copy;
    assert_rv(f->C_CopyObject(si, w->host[SK3_I], NULL, 0, &copy), CKR_ACTION_PROHIBITED);
    with_internal[6] = (CK_ATTRIBUTE){CKA_COPYABLE, &yes, sizeof(yes)};
    assert_rv(f->C_CreateObject(si, with_internal, 7, &forged), CKR_TEMPLATE_INCONSISTENT);
}

/* C_WrapKey of an extractable host key carries its 96-byte value and
 * nothing of K~. */
static void wrap_carries_value_only(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE si = w->session[SK3_I];
    unsigned char transport[32];
    memset(transport, 0x17, sizeof(transport));
    CK_OBJECT_HANDLE kek;
    assert_rv(fx_create_kek(si, "kek", transport, sizeof(transport), &kek),
              CKR_OK);
    assert_rv(f->C_SetAttributeValue(si, kek, &(CK_ATTRIBUTE){CKA_WRAP, &yes, sizeof(yes)}, 1),
              CKR_OK);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    unsigned char wrapped[256];
    CK_ULONG wrapped_len = sizeof(wrapped);
    assert_rv(f->C_WrapKey(si, &kwp, kek, w->host[SK3_I], wrapped, &wrapped_len), CKR_OK);
    assert_int_equal(wrapped_len, SK3_VALUE_LEN + 8); /* RFC 5649: 96 bytes, no padding */

    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE unwrapped;
    assert_rv(f->C_UnwrapKey(si, &kwp, kek, wrapped, wrapped_len, tmpl, 4, &unwrapped), CKR_OK);
    unsigned char value[256];
    CK_ULONG len = sizeof(value);
    assert_rv(sk3_value(si, unwrapped, value, &len), CKR_OK);
    assert_int_equal(len, SK3_VALUE_LEN);

    /* and it is exactly K(i) ‖ K'(i) ‖ K''(i), as the server derives it */
    CK_SE_SK3_HOST_PARAMS params;
    memcpy(params.hostId, sk3_host_i, SK3_ID_LEN);
    CK_MECHANISM derive = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    CK_OBJECT_HANDLE derived;
    assert_rv(f->C_DeriveKey(w->session[SK3_S], &derive, w->server, tmpl, 4, &derived), CKR_OK);
    unsigned char expected[256];
    CK_ULONG expected_len = sizeof(expected);
    assert_rv(sk3_value(w->session[SK3_S], derived, expected, &expected_len), CKR_OK);
    assert_int_equal(expected_len, SK3_VALUE_LEN);
    assert_memory_equal(value, expected, SK3_VALUE_LEN);
}

/* ---- malformed calls: precise errors, nothing counted ------------------------------------------
 */

static void bad_parameters(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE si = w->session[SK3_I], ss = w->session[SK3_S];
    CK_OBJECT_HANDLE hi = w->host[SK3_I];
    unsigned char buffer[256];
    CK_ULONG len;

    /* query 1: no parameter, empty data; the length query answers 64 */
    CK_MECHANISM q1 = {CKM_SE_SK3_Q1, buffer, 4};
    assert_rv(f->C_SignInit(si, &q1, hi), CKR_MECHANISM_PARAM_INVALID);
    q1.pParameter = NULL;
    q1.ulParameterLen = 0;
    assert_rv(f->C_SignInit(si, &q1, hi), CKR_OK);
    len = 0;
    assert_rv(f->C_Sign(si, NULL, 0, NULL, &len), CKR_OK);
    assert_int_equal(len, 2 * SK3_LEN);
    len = sizeof(buffer);
    assert_rv(f->C_Sign(si, buffer, 1, buffer, &len), CKR_DATA_LEN_RANGE);
    assert_rv(f->C_SignInit(si, &q1, hi), CKR_OK);
    assert_rv(f->C_SignUpdate(si, buffer, 0), CKR_FUNCTION_NOT_SUPPORTED);

    /* the server query: data = i ‖ j, 32 bytes */
    CK_MECHANISM server = {CKM_SE_SK3_SERVER, NULL, 0};
    for (CK_ULONG size = 31; size <= 33; size += 2) {
        assert_rv(f->C_SignInit(ss, &server, w->server), CKR_OK);
        len = sizeof(buffer);
        assert_rv(f->C_Sign(ss, buffer, size, buffer, &len), CKR_DATA_LEN_RANGE);
    }
    assert_rv(f->C_SignInit(ss, &server, w->server), CKR_OK);
    len = 2 * SK3_LEN - 1;
    assert_rv(f->C_Sign(ss, buffer, 2 * SK3_ID_LEN, buffer, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 2 * SK3_LEN);
    len = sizeof(buffer);
    assert_rv(f->C_Sign(ss, buffer, 2 * SK3_ID_LEN, buffer, &len), CKR_OK);
    server.pParameter = buffer;
    server.ulParameterLen = 2 * SK3_ID_LEN;
    assert_rv(f->C_SignInit(ss, &server, w->server), CKR_MECHANISM_PARAM_INVALID);

    /* the derive queries: NULL or wrongly sized structures */
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_KEY_TYPE, &generic, sizeof(generic)}};
    CK_SE_SK3_Q3_PARAMS q3_params; /* the largest */
    memset(&q3_params, 0, sizeof(q3_params));
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_ULONG size;
        int key;
    } derives[] = {
        {CKM_SE_SK3_Q2, sizeof(CK_SE_SK3_Q2_PARAMS), SK3_I},
        {CKM_SE_SK3_Q3, sizeof(CK_SE_SK3_Q3_PARAMS), SK3_I},
        {CKM_SE_SK3_HOST_DERIVE, sizeof(CK_SE_SK3_HOST_PARAMS), SK3_S},
    };
    for (size_t n = 0; n < SK3_COUNT(derives); n++) {
        CK_SESSION_HANDLE s = w->session[derives[n].key];
        CK_OBJECT_HANDLE key = derives[n].key == SK3_S ? w->server : hi;
        CK_OBJECT_HANDLE out;
        CK_MECHANISM mech = {derives[n].type, NULL, 0};
        assert_rv(f->C_DeriveKey(s, &mech, key, tmpl, 2, &out), CKR_MECHANISM_PARAM_INVALID);
        mech.pParameter = &q3_params;
        mech.ulParameterLen = derives[n].size - 1;
        assert_rv(f->C_DeriveKey(s, &mech, key, tmpl, 2, &out), CKR_MECHANISM_PARAM_INVALID);
        mech.ulParameterLen = derives[n].size + 1;
        assert_rv(f->C_DeriveKey(s, &mech, key, tmpl, 2, &out), CKR_MECHANISM_PARAM_INVALID);
    }

    /* query 4: its structure, empty data, a 32-byte signature */
    CK_SE_SK3_Q4_PARAMS q4_params;
    memset(&q4_params, 0, sizeof(q4_params));
    CK_MECHANISM q4 = {CKM_SE_SK3_Q4, NULL, 0};
    assert_rv(f->C_VerifyInit(si, &q4, hi), CKR_MECHANISM_PARAM_INVALID);
    q4.pParameter = &q4_params;
    q4.ulParameterLen = sizeof(q4_params) - 1;
    assert_rv(f->C_VerifyInit(si, &q4, hi), CKR_MECHANISM_PARAM_INVALID);
    q4.ulParameterLen = sizeof(q4_params);
    assert_rv(f->C_VerifyInit(si, &q4, hi), CKR_OK);
    assert_rv(f->C_Verify(si, buffer, 1, buffer, SK3_LEN), CKR_DATA_LEN_RANGE);
    assert_rv(f->C_VerifyInit(si, &q4, hi), CKR_OK);
    assert_rv(f->C_Verify(si, NULL, 0, buffer, SK3_LEN + 1), CKR_SIGNATURE_INVALID);

    /* σ's template: AES-256 or a generic secret of 32 bytes */
    CK_SE_SK3_Q2_PARAMS q2_params;
    memset(&q2_params, 0, sizeof(q2_params));
    memcpy(q2_params.peerId, sk3_host_j, SK3_ID_LEN);
    CK_MECHANISM q2 = {CKM_SE_SK3_Q2, &q2_params, sizeof(q2_params)};
    CK_KEY_TYPE aes = CKK_AES, des3 = CKK_DES3;
    CK_ULONG short_len = 16;
    CK_ATTRIBUTE aes16[] = {{CKA_KEY_TYPE, &aes, sizeof(aes)},
                            {CKA_VALUE_LEN, &short_len, sizeof(short_len)}};
    CK_ATTRIBUTE des[] = {{CKA_KEY_TYPE, &des3, sizeof(des3)}};
    CK_OBJECT_HANDLE out;
    assert_rv(f->C_DeriveKey(si, &q2, hi, aes16, 2, &out), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(f->C_DeriveKey(si, &q2, hi, des, 1, &out), CKR_TEMPLATE_INCONSISTENT);
    static const unsigned char zero[SK3_LEN];
    assert_memory_equal(q2_params.rj, zero, SK3_LEN); /* nothing answered */

    assert_int_equal(failures(w, SK3_I), 1); /* the ρ of the wrong length */
    assert_int_equal(failures(w, SK3_J), 0);
}

static void wrong_key_types(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE si = w->session[SK3_I], ss = w->session[SK3_S];
    CK_OBJECT_HANDLE hi = w->host[SK3_I];
    unsigned char aes_value[32] = {0};
    CK_OBJECT_HANDLE aes_i, aes_s;
    assert_rv(fx_create_aes(si, "aes", false, true, false, aes_value, 32, &aes_i), CKR_OK);
    assert_rv(fx_create_aes(ss, "aes", false, true, false, aes_value, 32, &aes_s), CKR_OK);
    CK_BBOOL t = CK_TRUE;
    CK_ATTRIBUTE usage[] = {{CKA_SIGN, &t, 1}, {CKA_VERIFY, &t, 1}, {CKA_DERIVE, &t, 1}};
    assert_rv(f->C_SetAttributeValue(si, aes_i, usage, 3), CKR_OK);
    assert_rv(f->C_SetAttributeValue(ss, aes_s, usage, 3), CKR_OK);

    /* a 96-byte generic secret is not a host key either */
    unsigned char value[SK3_VALUE_LEN] = {0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ATTRIBUTE gtmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_VALUE, value, sizeof(value)},
        {CKA_SIGN, &t, 1},
        {CKA_VERIFY, &t, 1},
        {CKA_DERIVE, &t, 1},
    };
    CK_OBJECT_HANDLE generic_i;
    assert_rv(f->C_CreateObject(si, gtmpl, 6, &generic_i), CKR_OK);

    CK_MECHANISM q1 = {CKM_SE_SK3_Q1, NULL, 0};
    CK_MECHANISM server = {CKM_SE_SK3_SERVER, NULL, 0};
    assert_rv(f->C_SignInit(ss, &q1, w->server), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_SignInit(si, &q1, aes_i), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_SignInit(si, &q1, generic_i), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_SignInit(si, &server, hi), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_SignInit(ss, &server, aes_s), CKR_KEY_TYPE_INCONSISTENT);

    CK_SE_SK3_Q4_PARAMS q4_params = {0};
    CK_MECHANISM q4 = {CKM_SE_SK3_Q4, &q4_params, sizeof(q4_params)};
    assert_rv(f->C_VerifyInit(ss, &q4, w->server), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_VerifyInit(si, &q4, aes_i), CKR_KEY_TYPE_INCONSISTENT);

    CK_SE_SK3_Q2_PARAMS q2_params = {0};
    CK_SE_SK3_Q3_PARAMS q3_params = {0};
    CK_SE_SK3_HOST_PARAMS host_params = {0};
    CK_MECHANISM q2 = {CKM_SE_SK3_Q2, &q2_params, sizeof(q2_params)};
    CK_MECHANISM q3 = {CKM_SE_SK3_Q3, &q3_params, sizeof(q3_params)};
    CK_MECHANISM host = {CKM_SE_SK3_HOST_DERIVE, &host_params, sizeof(host_params)};
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE out;
    assert_rv(f->C_DeriveKey(ss, &q2, w->server, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_DeriveKey(si, &q2, generic_i, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_DeriveKey(ss, &q3, w->server, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_DeriveKey(si, &q3, aes_i, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_DeriveKey(si, &host, hi, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);
    assert_rv(f->C_DeriveKey(ss, &host, aes_s, tmpl, 1, &out), CKR_KEY_TYPE_INCONSISTENT);

    /* the usage flags still rule: a host key made without CKA_SIGN */
    unsigned char host_value[SK3_VALUE_LEN] = {7};
    CK_KEY_TYPE host_type = CKK_SE_SK3_HOST;
    CK_BBOOL f_ = CK_FALSE;
    CK_ATTRIBUTE htmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &host_type, sizeof(host_type)},
        {CKA_VALUE, host_value, sizeof(host_value)},
        {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN},
        {CKA_SIGN, &f_, 1},
    };
    CK_OBJECT_HANDLE unsigned_host;
    assert_rv(f->C_CreateObject(si, htmpl, 5, &unsigned_host), CKR_OK);
    assert_rv(f->C_SignInit(si, &q1, unsigned_host), CKR_KEY_FUNCTION_NOT_PERMITTED);
    assert_int_equal(failures(w, SK3_I), 0);
}

static void key_creation_checks(void **state)
{
    sk3_world *w = world(state);
    CK_SESSION_HANDLE si = w->session[SK3_I], ss = w->session[SK3_S];
    CK_OBJECT_HANDLE key;
    assert_rv(create_host_key(si, NULL, 0, SK3_VALUE_LEN, &key), CKR_TEMPLATE_INCOMPLETE);
    assert_rv(create_host_key(si, sk3_host_i, SK3_ID_LEN - 1, SK3_VALUE_LEN, &key),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(create_host_key(si, sk3_host_i, SK3_ID_LEN + 1, SK3_VALUE_LEN, &key),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(create_host_key(si, sk3_host_i, SK3_ID_LEN, SK3_VALUE_LEN - 1, &key),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(create_host_key(si, sk3_host_i, SK3_ID_LEN, 2 * SK3_VALUE_LEN, &key),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(create_host_key(si, sk3_host_i, SK3_ID_LEN, SK3_VALUE_LEN, &key), CKR_OK);
    assert_int_equal(fx_get_ulong(si, key, CKA_SE_FAILURE_COUNT), 0);
    assert_int_equal(fx_get_ulong(si, key, CKA_SE_FAILURE_LIMIT), 1000);

    /* a server key names no host */
    unsigned char value[SK3_VALUE_LEN] = {0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE server = CKK_SE_SK3_SERVER, host = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE stmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &server, sizeof(server)},
        {CKA_VALUE, value, sizeof(value)},
        {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN},
    };
    assert_rv(f->C_CreateObject(ss, stmpl, 4, &key), CKR_TEMPLATE_INCONSISTENT);
    assert_rv(f->C_CreateObject(ss, stmpl, 3, &key), CKR_OK);

    /* CKM_SE_SK3_KEY_GEN makes 96-byte server keys only */
    CK_MECHANISM gen = {CKM_SE_SK3_KEY_GEN, NULL, 0};
    CK_ULONG len32 = 32;
    CK_ATTRIBUTE gen_len[] = {{CKA_VALUE_LEN, &len32, sizeof(len32)}};
    CK_ATTRIBUTE gen_host[] = {{CKA_KEY_TYPE, &host, sizeof(host)}};
    assert_rv(f->C_GenerateKey(ss, &gen, gen_len, 1, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(f->C_GenerateKey(ss, &gen, gen_host, 1, &key), CKR_TEMPLATE_INCONSISTENT);
    gen.pParameter = value;
    gen.ulParameterLen = 4;
    assert_rv(f->C_GenerateKey(ss, &gen, NULL, 0, &key), CKR_MECHANISM_PARAM_INVALID);

    /* an unwrapped value of the wrong size */
    unsigned char transport[32] = {9};
    CK_OBJECT_HANDLE kek;
    assert_rv(fx_create_kek(si, "kek", transport, 32, &kek), CKR_OK);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes_ = CK_TRUE;
    CK_ATTRIBUTE short_tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                                 {CKA_KEY_TYPE, &generic, sizeof(generic)},
                                 {CKA_VALUE, value, 80},
                                 {CKA_EXTRACTABLE, &yes_, 1}};
    CK_OBJECT_HANDLE short_key;
    assert_rv(f->C_CreateObject(si, short_tmpl, 4, &short_key), CKR_OK);
    assert_rv(f->C_SetAttributeValue(si, kek, &(CK_ATTRIBUTE){CKA_WRAP, &yes_, 1}, 1), CKR_OK);
    unsigned char wrapped[256];
    CK_ULONG wrapped_len = sizeof(wrapped);
    assert_rv(f->C_WrapKey(si, &kwp, kek, short_key, wrapped, &wrapped_len), CKR_OK);
    CK_ATTRIBUTE utmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &host, sizeof(host)},
        {CKA_SE_HOST_ID, (void *)sk3_host_i, SK3_ID_LEN},
    };
    assert_rv_in(f->C_UnwrapKey(si, &kwp, kek, wrapped, wrapped_len, utmpl, 3, &key),
                 CKR_ATTRIBUTE_VALUE_INVALID, CKR_WRAPPED_KEY_LEN_RANGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(q3_rejects_each_tampering, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(q3_rejects_other_pair_and_replay, sk3_setup_world,
                                        sk3_teardown),
        cmocka_unit_test_setup_teardown(q4_rejects_wrong_rho, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(limit_blocks_every_query, setup_limit3, sk3_teardown),
        cmocka_unit_test_setup_teardown(q4_failures_block, setup_limit3, sk3_teardown),
        cmocka_unit_test_setup_teardown(limit_zero_never_blocks, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(audit_record_per_reject, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(audit_blocked_once, setup_limit3, sk3_teardown),
        cmocka_unit_test_setup_teardown(operational_forbids_key_creation, sk3_setup_world,
                                        sk3_teardown),
        cmocka_unit_test_setup_teardown(terminated_refuses_queries, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(internal_secret_never_readable, sk3_setup_world,
                                        sk3_teardown),
        cmocka_unit_test_setup_teardown(wrap_carries_value_only, setup_extractable, sk3_teardown),
        cmocka_unit_test_setup_teardown(bad_parameters, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(wrong_key_types, sk3_setup_world, sk3_teardown),
        cmocka_unit_test_setup_teardown(key_creation_checks, sk3_setup_world, sk3_teardown),
    };
    return cmocka_run_group_tests_name("sk3-negative", tests, NULL, NULL);
}
