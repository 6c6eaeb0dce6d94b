/*
 * sk3.c — protocol SK3 of Shoup–Rubin (seed 002; docs/spec.md §6 is the
 * reference where the OCR lost the formulas): the card is a stateless
 * oracle answering queries 1–4 on a host key, the server answers (α, β)
 * and derives the host keys to provision.
 *
 * f_X(y) is HMAC-SHA-256.  A server key holds K ‖ K' ‖ K''; the key of
 * host i holds K(i) ‖ K'(i) ‖ K''(i) with K(i) = f_K(i), and the in-card
 * K~(i) (CKA_SE_INTERNAL_SECRET) made here when the object is made.
 * Derived keys are K(i,j) = f_K(i)(j), and so on for K' and K''.
 *
 * Stateless: nothing outlives one operation.  Every rejected query adds
 * one to the key's persistent failure counter, which a success never
 * resets (seed 003 §2.3.5: a reset would let an attacker interleave
 * legitimate sessions to collect unlimited samples); at the limit every
 * query is refused with CKR_SE_BLOCKED.
 */
#include "mech_util.h"
#include "param.h"
#include "vendor.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK3_LEN SOFTSE_SK3_LEN       /* f output, nonces, α, β, τ, ρ, σ */
#define SK3_ID_LEN SOFTSE_SK3_ID_LEN /* host names */
#define SK3_VALUE_LEN (3 * SK3_LEN)  /* K ‖ K' ‖ K'' */
#define SK3_PAIR_LEN (2 * SK3_LEN)   /* r_i ‖ c_i and α ‖ β */

/* The three parts of a server or host key value. */
enum sk3_part { PART_K = 0, PART_K1 = 1, PART_K2 = 2 };

/* docs/spec.md §6: the tags are ASCII, without a terminating NUL. */
static const char TAG_TAU[] = "1", TAG_RHO[] = "01", TAG_SIGMA[] = "00";

/* ---- f = HMAC-SHA-256 ---------------------------------------------------- */

typedef struct sk3_piece {
    const void *data;
    size_t len;
} sk3_piece;

/* out = f_key(piece ‖ piece ‖ …), SK3_LEN bytes, on a pooled context:
 * the keys of a host key and of a peer pair recur from query to query. */
static CK_RV sk3_prf(const unsigned char *key, const sk3_piece *pieces, size_t count,
                     unsigned char *out)
{
    mech_hmac mac;
    size_t written = 0;
    CK_RV rv = mech_hmac_get(&mac, CKM_SHA256, key, SK3_LEN);
    if (rv != CKR_OK)
        return rv;
    bool ok = true;
    for (size_t i = 0; ok && i < count; i++)
        ok = EVP_MAC_update(mac.ctx, pieces[i].data, pieces[i].len);
    ok = ok && EVP_MAC_final(mac.ctx, out, &written, SK3_LEN) && written == SK3_LEN;
    mech_hmac_put(&mac, ok);
    return ok ? CKR_OK : mech_openssl_error("SK3: HMAC-SHA-256", CKR_FUNCTION_FAILED);
}

/* f_{value part}(id): K(i) from a server key, or K(i,j) from host key i. */
static CK_RV sk3_sub_key(const unsigned char *value, enum sk3_part part, const unsigned char *id,
                         unsigned char *out)
{
    sk3_piece piece = {id, SK3_ID_LEN};
    return sk3_prf(value + part * SK3_LEN, &piece, 1, out);
}

/* f_κ(r_i ‖ r_j ‖ tag): τ_j, ρ_i and σ. */
static CK_RV sk3_session_prf(const unsigned char *kappa, const unsigned char *ri,
                             const unsigned char *rj, const char *tag, unsigned char *out)
{
    sk3_piece pieces[] = {{ri, SK3_LEN}, {rj, SK3_LEN}, {tag, strlen(tag)}};
    return sk3_prf(kappa, pieces, ARRAY_SIZE(pieces), out);
}

/* ---- the protocol (docs/spec.md §6), on plain bytes ----------------------------- */

/* Server: α(i,j) = K(j,i) ⊕ K'(i,j), β(i,j) = f_{K''(i,j)}(α). */
static CK_RV sk3_server_answer(const unsigned char *server, const unsigned char *i,
                               const unsigned char *j, unsigned char *alpha, unsigned char *beta)
{
    unsigned char host[SK3_LEN], pair[SK3_LEN], other[SK3_LEN];
    CK_RV rv = sk3_sub_key(server, PART_K, j, host); /* K(j) */
    if (rv == CKR_OK)
        rv = sk3_sub_key(host, PART_K, i, pair); /* K(j,i) */
    if (rv == CKR_OK)
        rv = sk3_sub_key(server, PART_K1, i, host); /* K'(i) */
    if (rv == CKR_OK)
        rv = sk3_sub_key(host, PART_K, j, other); /* K'(i,j) */
    for (size_t n = 0; rv == CKR_OK && n < SK3_LEN; n++)
        alpha[n] = pair[n] ^ other[n];
    if (rv == CKR_OK)
        rv = sk3_sub_key(server, PART_K2, i, host); /* K''(i) */
    if (rv == CKR_OK)
        rv = sk3_sub_key(host, PART_K, j, pair); /* K''(i,j) */
    if (rv == CKR_OK) {
        sk3_piece piece = {alpha, SK3_LEN};
        rv = sk3_prf(pair, &piece, 1, beta);
    }
    OPENSSL_cleanse(host, sizeof(host));
    OPENSSL_cleanse(pair, sizeof(pair));
    OPENSSL_cleanse(other, sizeof(other));
    return rv;
}

/* What made a query 3 fail, for the audit record. */
enum { BAD_CI = 1 << 0, BAD_BETA = 1 << 1, BAD_TAU = 1 << 2 };

/* Query 3 on host key i (value, K~): all three checks are always made,
 * so the time taken does not tell which one failed.  *bad = 0 and
 * ρ_i, σ_i written when all pass. */
static CK_RV sk3_query3(const unsigned char *value, const unsigned char *internal,
                        const CK_SE_SK3_Q3_PARAMS *p, unsigned *bad, unsigned char *rho,
                        unsigned char *sigma)
{
    unsigned char expect[SK3_LEN], derived[SK3_LEN], kappa[SK3_LEN];
    sk3_piece ri = {p->ri, SK3_LEN}, alpha = {p->alpha, SK3_LEN};
    *bad = 0;
    CK_RV rv = sk3_prf(internal, &ri, 1, expect); /* c_i = f_K~(i)(r_i) */
    if (rv == CKR_OK && CRYPTO_memcmp(expect, p->ci, SK3_LEN) != 0)
        *bad |= BAD_CI;
    if (rv == CKR_OK)
        rv = sk3_sub_key(value, PART_K2, p->peerId, derived); /* K''(i,j) */
    if (rv == CKR_OK)
        rv = sk3_prf(derived, &alpha, 1, expect);
    if (rv == CKR_OK && CRYPTO_memcmp(expect, p->beta, SK3_LEN) != 0)
        *bad |= BAD_BETA;
    if (rv == CKR_OK)
        rv = sk3_sub_key(value, PART_K1, p->peerId, derived); /* K'(i,j) */
    for (size_t n = 0; rv == CKR_OK && n < SK3_LEN; n++)
        kappa[n] = p->alpha[n] ^ derived[n]; /* = K(j,i) */
    if (rv == CKR_OK)
        rv = sk3_session_prf(kappa, p->ri, p->rj, TAG_TAU, expect);
    if (rv == CKR_OK && CRYPTO_memcmp(expect, p->tauJ, SK3_LEN) != 0)
        *bad |= BAD_TAU;
    if (rv == CKR_OK && *bad == 0)
        rv = sk3_session_prf(kappa, p->ri, p->rj, TAG_RHO, rho);
    if (rv == CKR_OK && *bad == 0)
        rv = sk3_session_prf(kappa, p->ri, p->rj, TAG_SIGMA, sigma);
    OPENSSL_cleanse(expect, sizeof(expect));
    OPENSSL_cleanse(derived, sizeof(derived));
    OPENSSL_cleanse(kappa, sizeof(kappa));
    return rv;
}

/* ---- what every query checks first ------------------------------------------- */

static CK_RV sk3_key_check(const mech_key *key, CK_KEY_TYPE type)
{
    if (!key || key->cls != CKO_SECRET_KEY || key->type != type || !key->secret)
        return CKR_KEY_TYPE_INCONSISTENT;
    return key->secret_len == SK3_VALUE_LEN ? CKR_OK : CKR_KEY_SIZE_RANGE;
}

/* K~ of a host key: made by sk3_complete_key, so a key without it was
 * not made as an SK3 host key. */
static CK_RV sk3_internal_secret(const mech_key *key, unsigned char *out)
{
    const CK_ATTRIBUTE *a = key->attrs ? attr_list_find(key->attrs, CKA_SE_INTERNAL_SECRET) : NULL;
    if (!a || a->ulValueLen != SK3_LEN || !a->pValue)
        return CKR_KEY_TYPE_INCONSISTENT;
    memcpy(out, a->pValue, SK3_LEN);
    return CKR_OK;
}

/* Appends text at *at in out[size], cut to fit, NUL-terminated. */
static void detail_add(char *out, size_t size, size_t *at, const char *text)
{
    size_t len = strlen(text);
    if (len > size - 1 - *at)
        len = size - 1 - *at;
    memcpy(out + *at, text, len);
    *at += len;
    out[*at] = '\0';
}

/* "<query> on object 0x<handle>: <outcome>" for the audit record: made
 * per query, so without snprintf's cost (a tenth of query 1). */
static void sk3_detail(char *out, size_t size, const char *query, CK_OBJECT_HANDLE handle,
                       const char *outcome)
{
    char hex[2 * sizeof(handle) + 1], *p = hex + sizeof(hex) - 1;
    *p = '\0';
    do {
        *--p = "0123456789abcdef"[handle & 0xf];
        handle >>= 4;
    } while (handle);
    size_t at = 0;
    out[0] = '\0';
    detail_add(out, size, &at, query);
    detail_add(out, size, &at, " on object 0x");
    detail_add(out, size, &at, p);
    detail_add(out, size, &at, ": ");
    detail_add(out, size, &at, outcome);
}

/* The lifecycle permits queries, and the key is not blocked; *limit is
 * the key's CKA_SE_FAILURE_LIMIT for sk3_reject.  Called without the
 * token lock (oneshot, verify_oneshot, derive). */
static CK_RV sk3_admit(const mech_env *env, const mech_key *key, const char *query, CK_ULONG *limit)
{
    CK_ULONG count = 0;
    CK_RV rv = env_failure_count(env, key, LC_SK3_QUERY, &count, limit);
    if (rv == CKR_OK && *limit != 0 && count >= *limit)
        rv = CKR_SE_BLOCKED;
    /* docs/spec.md §3: every vendor mechanism call is in the audit log. */
    char detail[96];
    sk3_detail(detail, sizeof(detail), query, key->handle,
               rv == CKR_OK           ? "answered"
               : rv == CKR_SE_BLOCKED ? "blocked"
                                      : "refused");
    CK_RV audited = env_audit(env, "sk3", detail);
    return rv == CKR_OK ? audited : rv;
}

/* Counts a rejected query; the count reaching the limit is audited once
 * (each increment yields a distinct value, whoever else counts).
 * Returns rejected, or the error of counting. */
static CK_RV sk3_reject(const mech_env *env, const mech_key *key, CK_ULONG limit, const char *what,
                        CK_RV rejected)
{
    CK_ULONG count = 0;
    CK_RV rv = env_failure_add(env, key, what, &count);
    if (rv != CKR_OK)
        return rv;
    if (limit != 0 && count == limit) {
        char detail[96];
        snprintf(detail, sizeof(detail), "object 0x%lx: %lu failures", (unsigned long)key->handle,
                 (unsigned long)count);
        env_audit(env, "sk3-blocked", detail);
    }
    return rejected;
}

/* ---- queries 1 and 4, the server query: sign and verify ------------------------ */

typedef struct sk3_op {
    CK_MECHANISM_TYPE type;
    const mech_env *env;                /* the session's: outlives the operation (mech.h) */
    mech_key key;                       /* .handle only: for env_failure_* */
    unsigned char value[SK3_VALUE_LEN]; /* the key's CKA_VALUE: server query, query 4 */
    unsigned char internal[SK3_LEN];    /* K~(i): query 1 */
    CK_SE_SK3_Q4_PARAMS q4;             /* query 4 */
} sk3_op;

static void sk3_op_free(void *state)
{
    OPENSSL_clear_free(state, sizeof(sk3_op));
}

static CK_RV sk3_op_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                         const mech_env *env, void **state)
{
    (void)kind; /* the row fixes it */
    CK_KEY_TYPE type = mech->mechanism == CKM_SE_SK3_SERVER ? CKK_SE_SK3_SERVER : CKK_SE_SK3_HOST;
    const CK_SE_SK3_Q4_PARAMS *q4 = NULL;
    if (mech->mechanism == CKM_SE_SK3_Q4) {
        q4 = se_param_struct(mech, sizeof(*q4));
        if (!q4)
            return CKR_MECHANISM_PARAM_INVALID;
    } else if (!mech_param_absent(mech)) {
        return CKR_MECHANISM_PARAM_INVALID;
    }
    CK_RV rv = sk3_key_check(key, type);
    if (rv != CKR_OK)
        return rv;
    sk3_op *op = calloc(1, sizeof(*op));
    if (!op)
        return CKR_HOST_MEMORY;
    op->type = mech->mechanism;
    op->env = env;
    op->key.cls = key->cls;
    op->key.type = key->type;
    op->key.handle = key->handle;
    if (q4)
        op->q4 = *q4; /* the caller's structure need not outlive C_VerifyInit */
    if (op->type == CKM_SE_SK3_Q1)
        rv = sk3_internal_secret(key, op->internal); /* query 1 needs K~(i) only */
    else
        memcpy(op->value, key->secret, SK3_VALUE_LEN);
    if (rv != CKR_OK) {
        sk3_op_free(op);
        return rv;
    }
    *state = op;
    return CKR_OK;
}

static CK_RV sk3_op_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)state, (void)phase, (void)in_len;
    *out_len = SK3_PAIR_LEN; /* r_i ‖ c_i, or α ‖ β */
    return CKR_OK;
}

/* C_Sign: query 1 (data empty) or the server query (data i ‖ j). */
static CK_RV sk3_op_sign(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    sk3_op *op = state;
    CK_ULONG limit;
    CK_RV rv = sk3_admit(op->env, &op->key, op->type == CKM_SE_SK3_Q1 ? "query 1" : "server query",
                         &limit);
    if (rv != CKR_OK)
        return rv;
    if (in_len != (op->type == CKM_SE_SK3_Q1 ? 0 : 2 * SK3_ID_LEN))
        return CKR_DATA_LEN_RANGE;
    if (op->type == CKM_SE_SK3_Q1) {
        sk3_piece ri = {out, SK3_LEN};
        rv = mech_random(out, SK3_LEN, false); /* r_i */
        if (rv == CKR_OK)
            rv = sk3_prf(op->internal, &ri, 1, out + SK3_LEN); /* c_i = f_K~(i)(r_i) */
    } else {
        rv = sk3_server_answer(op->value, in, in + SK3_ID_LEN, out, out + SK3_LEN);
    }
    if (rv == CKR_OK)
        *out_len = SK3_PAIR_LEN;
    else
        OPENSSL_cleanse(out, SK3_PAIR_LEN);
    return rv;
}

/* C_Verify: query 4 on host key j, signature ρ_i. */
static CK_RV sk3_op_verify(void *state, const unsigned char *in, size_t in_len,
                           const unsigned char *sig, size_t sig_len)
{
    (void)in; /* query 4 takes no data */
    sk3_op *op = state;
    unsigned char kappa[SK3_LEN], expect[SK3_LEN];
    CK_ULONG limit;
    CK_RV rv = sk3_admit(op->env, &op->key, "query 4", &limit);
    if (rv != CKR_OK)
        return rv;
    if (in_len != 0)
        return CKR_DATA_LEN_RANGE;
    if (sig_len != SK3_LEN) /* docs/spec.md §6: a wrong length is a reject, counted */
        return sk3_reject(op->env, &op->key, limit, "SK3 query 4: rho_i length",
                          CKR_SIGNATURE_INVALID);
    rv = sk3_sub_key(op->value, PART_K, op->q4.peerId, kappa); /* K(j,i) */
    if (rv == CKR_OK)
        rv = sk3_session_prf(kappa, op->q4.ri, op->q4.rj, TAG_RHO, expect);
    if (rv == CKR_OK && CRYPTO_memcmp(expect, sig, SK3_LEN) != 0)
        rv = sk3_reject(op->env, &op->key, limit, "SK3 query 4: rho_i", CKR_SIGNATURE_INVALID);
    OPENSSL_cleanse(kappa, sizeof(kappa));
    OPENSSL_cleanse(expect, sizeof(expect));
    return rv;
}

static const mech_ops sk3_ops = {
    .init = sk3_op_init,
    .out_size = sk3_op_out_size,
    .oneshot = sk3_op_sign,
    .verify_oneshot = sk3_op_verify,
    .free = sk3_op_free,
};

/* ---- queries 2 and 3, host-key derivation: C_DeriveKey --------------------- */

/* The new key's template: σ is CKK_AES or CKK_GENERIC_SECRET of 32
 * bytes, a host key to provision a CKK_GENERIC_SECRET of 96 (docs/spec.md §6).
 * Checked before any secret is used, so a bad template counts nothing. */
static CK_RV sk3_check_template(const attr_list *tmpl, size_t len, bool aes_allowed)
{
    CK_ULONG type = CKK_GENERIC_SECRET, value_len = len;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, &type);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (type != CKK_GENERIC_SECRET && !(aes_allowed && type == CKK_AES))
        return CKR_TEMPLATE_INCONSISTENT;
    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &value_len);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    return value_len == len ? CKR_OK : CKR_ATTRIBUTE_VALUE_INVALID;
}

/* The new key's CKA_VALUE, CKA_VALUE_LEN and, unless the template names
 * one, CKA_KEY_TYPE. */
static CK_RV sk3_set_derived(attr_list *out, const attr_list *tmpl, const unsigned char *value,
                             size_t len)
{
    CK_RV rv = attr_list_set(out, CKA_VALUE, value, (CK_ULONG)len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, (CK_ULONG)len);
    if (rv == CKR_OK && !attr_list_has(tmpl, CKA_KEY_TYPE))
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, CKK_GENERIC_SECRET);
    return rv;
}

/* Query 2 on host key j: r_j random, κ = K(j,i), τ_j and σ_j. */
static CK_RV sk3_q2_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                           const mech_env *env, attr_list *out)
{
    CK_SE_SK3_Q2_PARAMS *p = (CK_SE_SK3_Q2_PARAMS *)se_param_struct(mech, sizeof(*p));
    if (!p)
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = sk3_key_check(base, CKK_SE_SK3_HOST);
    if (rv == CKR_OK)
        rv = sk3_check_template(tmpl, SK3_LEN, true);
    CK_ULONG limit;
    if (rv == CKR_OK)
        rv = sk3_admit(env, base, "query 2", &limit);
    if (rv != CKR_OK)
        return rv;
    unsigned char kappa[SK3_LEN], rj[SK3_LEN], tau[SK3_LEN], sigma[SK3_LEN];
    rv = mech_random(rj, SK3_LEN, false);
    if (rv == CKR_OK)
        rv = sk3_sub_key(base->secret, PART_K, p->peerId, kappa);
    if (rv == CKR_OK)
        rv = sk3_session_prf(kappa, p->ri, rj, TAG_TAU, tau);
    if (rv == CKR_OK)
        rv = sk3_session_prf(kappa, p->ri, rj, TAG_SIGMA, sigma);
    if (rv == CKR_OK)
        rv = sk3_set_derived(out, tmpl, sigma, SK3_LEN);
    if (rv == CKR_OK) {
        memcpy(p->rj, rj, SK3_LEN);
        memcpy(p->tauJ, tau, SK3_LEN);
    }
    OPENSSL_cleanse(kappa, sizeof(kappa));
    OPENSSL_cleanse(sigma, sizeof(sigma));
    return rv;
}

/* Query 3 on host key i: checks c_i, β and τ_j, writes ρ_i; σ_i. */
static CK_RV sk3_q3_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                           const mech_env *env, attr_list *out)
{
    CK_SE_SK3_Q3_PARAMS *p = (CK_SE_SK3_Q3_PARAMS *)se_param_struct(mech, sizeof(*p));
    if (!p)
        return CKR_MECHANISM_PARAM_INVALID;
    unsigned char internal[SK3_LEN], rho[SK3_LEN], sigma[SK3_LEN];
    CK_SE_SK3_Q3_PARAMS in = *p; /* the checks see one version of the inputs */
    unsigned bad = 0;
    CK_ULONG limit = 0;
    CK_RV rv = sk3_key_check(base, CKK_SE_SK3_HOST);
    if (rv == CKR_OK)
        rv = sk3_internal_secret(base, internal);
    if (rv == CKR_OK)
        rv = sk3_check_template(tmpl, SK3_LEN, true);
    if (rv == CKR_OK)
        rv = sk3_admit(env, base, "query 3", &limit);
    if (rv == CKR_OK)
        rv = sk3_query3(base->secret, internal, &in, &bad, rho, sigma);
    if (rv == CKR_OK && bad) {
        char what[64];
        snprintf(what, sizeof(what), "SK3 query 3:%s%s%s", bad & BAD_CI ? " c_i" : "",
                 bad & BAD_BETA ? " beta" : "", bad & BAD_TAU ? " tau_j" : "");
        rv = sk3_reject(env, base, limit, what, CKR_SE_PROTOCOL_REJECTED);
    } else if (rv == CKR_OK) {
        rv = sk3_set_derived(out, tmpl, sigma, SK3_LEN);
        if (rv == CKR_OK)
            memcpy(p->rhoI, rho, SK3_LEN);
    }
    OPENSSL_cleanse(internal, sizeof(internal));
    OPENSSL_cleanse(sigma, sizeof(sigma));
    OPENSSL_cleanse(&in, sizeof(in));
    return rv;
}

/* Provisioning on the server key: K(i) ‖ K'(i) ‖ K''(i), to be wrapped to card i. */
static CK_RV sk3_host_derive(const CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                             const mech_env *env, attr_list *out)
{
    const CK_SE_SK3_HOST_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p)
        return CKR_MECHANISM_PARAM_INVALID;
    CK_RV rv = sk3_key_check(base, CKK_SE_SK3_SERVER);
    if (rv == CKR_OK)
        rv = sk3_check_template(tmpl, SK3_VALUE_LEN, false);
    CK_ULONG limit;
    if (rv == CKR_OK)
        rv = sk3_admit(env, base, "host-key derivation", &limit);
    if (rv != CKR_OK)
        return rv;
    unsigned char value[SK3_VALUE_LEN];
    for (int part = PART_K; rv == CKR_OK && part <= PART_K2; part++)
        rv = sk3_sub_key(base->secret, part, p->hostId, value + part * SK3_LEN);
    if (rv == CKR_OK)
        rv = sk3_set_derived(out, tmpl, value, sizeof(value));
    OPENSSL_cleanse(value, sizeof(value));
    return rv;
}

/* ---- the server key: C_GenerateKey ------------------------------------------- */

static CK_RV sk3_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                          attr_list *out)
{
    (void)env; /* sk3_complete_key applies the lifecycle when the object is made */
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_ULONG type = CKK_SE_SK3_SERVER, len = SK3_VALUE_LEN;
    CK_RV rv = attr_list_ulong(tmpl, CKA_KEY_TYPE, &type);
    if (rv == CKR_OK && type != CKK_SE_SK3_SERVER)
        return CKR_TEMPLATE_INCONSISTENT;
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &len);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    if (len != SK3_VALUE_LEN)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    unsigned char value[SK3_VALUE_LEN];
    rv = mech_random(value, sizeof(value), true);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, CKK_SE_SK3_SERVER);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, value, sizeof(value));
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, sizeof(value));
    OPENSSL_cleanse(value, sizeof(value));
    return rv;
}

/* ---- rows -------------------------------------------------------------------------- */

#define SK3_INFO(flags)                                                                            \
    {                                                                                              \
        SK3_VALUE_LEN, SK3_VALUE_LEN, flags                                                        \
    }

static const mech_row rows[] = {
    {.type = CKM_SE_SK3_Q1, .name = "SK3-Q1", .info = SK3_INFO(CKF_SIGN), .ops = &sk3_ops},
    {.type = CKM_SE_SK3_SERVER, .name = "SK3-SERVER", .info = SK3_INFO(CKF_SIGN), .ops = &sk3_ops},
    {.type = CKM_SE_SK3_Q4, .name = "SK3-Q4", .info = SK3_INFO(CKF_VERIFY), .ops = &sk3_ops},
    {.type = CKM_SE_SK3_Q2,
     .name = "SK3-Q2",
     .info = SK3_INFO(CKF_DERIVE),
     .derive = sk3_q2_derive},
    {.type = CKM_SE_SK3_Q3,
     .name = "SK3-Q3",
     .info = SK3_INFO(CKF_DERIVE),
     .derive = sk3_q3_derive},
    {.type = CKM_SE_SK3_HOST_DERIVE,
     .name = "SK3-HOST-DERIVE",
     .info = SK3_INFO(CKF_DERIVE),
     .derive = sk3_host_derive},
    {.type = CKM_SE_SK3_KEY_GEN,
     .name = "SK3-KEY-GEN",
     .info = SK3_INFO(CKF_GENERATE),
     .generate = sk3_generate},
};

const mech_table mech_table_sk3 = {rows, ARRAY_SIZE(rows)};

/* ---- making SK3 keys (vendor_complete_key) ------------------------------------- */

/* A usage flag an SK3 key needs (queries) or must not suggest (it is no
 * cipher or wrapping key): set when the caller did not say. */
static CK_RV sk3_default_usage(attr_list *attrs)
{
    static const CK_ATTRIBUTE_TYPE on[] = {CKA_DERIVE, CKA_SIGN, CKA_VERIFY};
    static const CK_ATTRIBUTE_TYPE off[] = {CKA_ENCRYPT, CKA_DECRYPT, CKA_WRAP, CKA_UNWRAP};
    CK_RV rv = CKR_OK;
    for (size_t n = 0; rv == CKR_OK && n < ARRAY_SIZE(on); n++)
        rv = attr_list_default_bool(attrs, on[n], true);
    for (size_t n = 0; rv == CKR_OK && n < ARRAY_SIZE(off); n++)
        rv = attr_list_default_bool(attrs, off[n], false);
    return rv;
}

CK_RV sk3_complete_key(const mech_env *env, CK_KEY_TYPE type, attr_list *attrs)
{
    CK_RV rv = env_lifecycle_allows(env, LC_SK3_CREATE);
    if (rv != CKR_OK)
        return rv;
    const CK_ATTRIBUTE *value = attr_list_find(attrs, CKA_VALUE);
    if (!value)
        return CKR_TEMPLATE_INCOMPLETE;
    if (value->ulValueLen != SK3_VALUE_LEN)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    const CK_ATTRIBUTE *id = attr_list_find(attrs, CKA_SE_HOST_ID);
    if (type == CKK_SE_SK3_HOST && !id)
        return CKR_TEMPLATE_INCOMPLETE;
    if (type == CKK_SE_SK3_HOST && id->ulValueLen != SK3_ID_LEN)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (type == CKK_SE_SK3_SERVER && id)
        return CKR_TEMPLATE_INCONSISTENT; /* a server key names no host */
    CK_ULONG limit = SOFTSE_DEFAULT_FAILURE_LIMIT;
    rv = attr_list_ulong(attrs, CKA_SE_FAILURE_LIMIT, &limit);
    if (rv != CKR_OK && rv != CKR_TEMPLATE_INCOMPLETE)
        return rv;
    /* A copy would start a fresh failure count beside the same secrets,
     * and skip the lifecycle rule: SK3 keys are never copyable. */
    if (attr_list_bool(attrs, CKA_COPYABLE, false))
        return CKR_TEMPLATE_INCONSISTENT;
    rv = attr_list_set_bool(attrs, CKA_COPYABLE, false);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(attrs, CKA_SE_FAILURE_LIMIT, limit);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(attrs, CKA_SE_FAILURE_COUNT, 0);
    if (rv == CKR_OK)
        rv = sk3_default_usage(attrs);
    if (rv == CKR_OK && type == CKK_SE_SK3_HOST) {
        unsigned char internal[SK3_LEN]; /* K~(i): born here, never leaves */
        rv = mech_random(internal, sizeof(internal), true);
        if (rv == CKR_OK)
            rv = attr_list_set(attrs, CKA_SE_INTERNAL_SECRET, internal, sizeof(internal));
        OPENSSL_cleanse(internal, sizeof(internal));
    }
    return rv;
}
