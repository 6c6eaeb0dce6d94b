/*
 * crypto_ops.c — the PKCS#11 conventions around the mechanism rows:
 * which operation is active, the length query, ending an operation on
 * error (PKCS#11 3.0 §5.2), key usage checks and borrowing keys (also for
 * key_ops.c, which makes key objects), random bytes.
 *
 * Only the session lock is held across cryptography; the token lock is
 * taken just to resolve keys and to store objects.
 */
#include "core.h"
#include "crypto_internal.h"
#include "key_cache.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static const CK_FLAGS op_flag[MECH_OP_KINDS] = {
    [MECH_DIGEST] = CKF_DIGEST,
    [MECH_SIGN] = CKF_SIGN,
    [MECH_VERIFY] = CKF_VERIFY,
    [MECH_ENCRYPT] = CKF_ENCRYPT,
    [MECH_DECRYPT] = CKF_DECRYPT,
    [MECH_SIGN_RECOVER] = CKF_SIGN_RECOVER,
    [MECH_VERIFY_RECOVER] = CKF_VERIFY_RECOVER,
};

/* The key role of each operation: its usage attribute is the policy's
 * (CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER for the recovery forms). */
static const policy_role op_role[MECH_OP_KINDS] = {
    [MECH_DIGEST] = ROLE_NONE,
    [MECH_SIGN] = ROLE_SIGN,
    [MECH_VERIFY] = ROLE_VERIFY,
    [MECH_ENCRYPT] = ROLE_ENCRYPT,
    [MECH_DECRYPT] = ROLE_DECRYPT,
    [MECH_SIGN_RECOVER] = ROLE_SIGN_RECOVER,
    [MECH_VERIFY_RECOVER] = ROLE_VERIFY_RECOVER,
};

/* Which key classes each operation takes. */
static bool class_fits(mech_op_kind kind, CK_OBJECT_CLASS cls)
{
    switch (kind) {
    case MECH_SIGN:
    case MECH_DECRYPT:
    case MECH_SIGN_RECOVER:
        return cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
    case MECH_VERIFY:
    case MECH_ENCRYPT:
    case MECH_VERIFY_RECOVER:
        return cls == CKO_PUBLIC_KEY || cls == CKO_SECRET_KEY;
    default:
        return false;
    }
}

CK_RV check_mechanism(CK_MECHANISM_PTR mech, CK_FLAGS needed, const mech_row **row)
{
    if (!mech)
        return CKR_ARGUMENTS_BAD;
    if (!mech->pParameter && mech->ulParameterLen > 0)
        return CKR_MECHANISM_PARAM_INVALID;
    const mech_row *r = mech_find(mech->mechanism, needed);
    if (!r)
        return CKR_MECHANISM_INVALID; /* unknown, or not for this function (§5.2) */
    *row = r;
    return CKR_OK;
}

CK_RV check_lifecycle(se_token *t)
{
    CK_RV rv = object_sync(t);
    return rv == CKR_OK ? lifecycle_check(t, LC_KEY_USE) : rv;
}

/* ---- borrowing keys ------------------------------------------------ */

/* The key attributes anything reads from mech_key.attrs, lent with the
 * key: an SK3 host key's in-card secret (LEND_VENDOR), and what the
 * policy asks of a key that wraps, unwraps or derives (§4.9, docs/spec.md
 * §7.2, LEND_POLICY).  Copying the whole list cost a tenth of an SK3 query. */
static const CK_ATTRIBUTE_TYPE lent_attrs[LEND_POLICY] = {
    CKA_SE_INTERNAL_SECRET, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE,
    CKA_SENSITIVE,          CKA_EXTRACTABLE,      CKA_TRUSTED,
    CKA_WRAP_TEMPLATE,      CKA_UNWRAP_TEMPLATE,  CKA_DERIVE_TEMPLATE};

/* The object's key and lent attributes, checked (object_key). */
static CK_RV resolve_key(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, enum lend lend,
                         mech_key *key, attr_list *attrs, bool *always_auth)
{
    bool auth = false;
    CK_RV rv = object_key(s, h, usage, key, &auth);
    if (rv == CKR_OK && lend != LEND_NONE)
        rv = object_key_attrs(s, h, lent_attrs, (size_t)lend, attrs);
    if (rv == CKR_OK && lend != LEND_POLICY) /* the wrap/derive paths: rare, not kept */
        key_cache_put(s->token, s, h, usage, (size_t)lend, key, attrs, auth);
    if (always_auth)
        *always_auth = auth;
    return rv;
}

CK_RV borrow_key(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, enum lend lend,
                 mech_key *key, attr_list *attrs, bool *always_auth)
{
    se_token *t = s->token;
    memset(key, 0, sizeof(*key));
    bool auth = false;
    /* Not LEND_POLICY: op_init's borrows, under the session's lock, which
     * the session's kept key needs (key_cache.c). */
    bool keep = lend != LEND_POLICY;
    bool kept = keep && key_kept_take(s, h, usage, (size_t)lend, key, attrs, &auth);
    CK_RV rv = CKR_OK;
    if (!kept) {
        if (keep)
            key_kept_drop(s);
        mutex_lock(t->lock);
        /* The store's data version and the lifecycle are read on every
         * borrow; a change of either drops the kept keys (key_cache.c). */
        rv = check_lifecycle(t);
        if (rv == CKR_OK && !key_cache_take(t, s, h, usage, (size_t)lend, key, attrs, &auth))
            rv = resolve_key(s, h, usage, lend, key, attrs, &auth);
        if (rv == CKR_OK && keep)
            key_kept_put(s, h, usage, (size_t)lend, key, attrs, auth);
        mutex_unlock(t->lock);
    }
    if (rv == CKR_OK) {
        key->attrs = attrs; /* the caller's copy */
        key->handle = h;
        if (always_auth)
            *always_auth = auth;
    } else {
        mech_key_free(key);
        memset(key, 0, sizeof(*key));
    }
    return rv;
}

/* The mechanism's init, or its reuse of the state the session parked
 * after its last operation of this kind (a digest context, an HMAC
 * context maybe keyed with this key already). */
static CK_RV start_state(se_session *s, mech_op_kind kind, const mech_row *row,
                         CK_MECHANISM_PTR mech, const mech_key *key, void **state)
{
    void *parked = row->ops->reuse ? session_unpark(&s->ops[kind], row) : NULL;
    if (!parked)
        return row->ops->init(mech, key, kind, &s->env, state);
    CK_RV rv = row->ops->reuse(mech, key, kind, &s->env, parked);
    if (rv != CKR_OK) {
        row->ops->free(parked);
        return rv;
    }
    *state = parked;
    return CKR_OK;
}

CK_RV op_init(se_session *s, mech_op_kind kind, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE key)
{
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, op_flag[kind], &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->ops || !row->ops->init)
        return CKR_MECHANISM_INVALID;
    mutex_lock(s->lock);
    se_operation *op = &s->ops[kind];
    if (op->active) {
        rv = CKR_OPERATION_ACTIVE;
        goto out;
    }
    void *state = NULL;
    bool always_auth = false;
    if (kind == MECH_DIGEST) {
        rv = start_state(s, kind, row, mech, NULL, &state);
    } else {
        /* The mechanism's init runs on a borrowed key, outside the token
         * lock, so sessions of one token set up operations in parallel. */
        mech_key borrowed;
        attr_list attrs;
        attr_list_init(&attrs);
        bool vendor = (row->type & CKM_VENDOR_DEFINED) != 0; /* they read the key's attributes */
        rv = borrow_key(s, key, policy_role_usage(op_role[kind]), vendor ? LEND_VENDOR : LEND_NONE,
                        &borrowed, &attrs, &always_auth);
        if (rv == CKR_OK && !class_fits(kind, borrowed.cls))
            rv = CKR_KEY_TYPE_INCONSISTENT;
        if (rv == CKR_OK)
            rv = start_state(s, kind, row, mech, &borrowed, &state);
        mech_key_free(&borrowed);
        attr_list_free(&attrs);
    }
    if (rv == CKR_OK) {
        op->active = true;
        op->row = row;
        op->kind = kind;
        op->state = state;
        op->updated = false;
        op->needs_context_login = always_auth;
    }
out:
    mutex_unlock(s->lock);
    return rv;
}

/* The length convention of §5.2: NULL output asks for the size, a short
 * buffer gets CKR_BUFFER_TOO_SMALL; the operation stays active in both. */
static CK_RV size_check(se_operation *op, mech_phase phase, size_t in_len, CK_BYTE_PTR out,
                        CK_ULONG_PTR out_len, bool *answered)
{
    size_t need = 0;
    *answered = false;
    if (!op->row->ops->out_size)
        return CKR_OK;
    CK_RV rv = op->row->ops->out_size(op->state, phase, in_len, &need);
    if (rv != CKR_OK)
        return rv;
    if (!out) {
        *out_len = need;
        *answered = true;
        return CKR_OK;
    }
    if (*out_len < need) {
        *out_len = need;
        *answered = true;
        return CKR_BUFFER_TOO_SMALL;
    }
    return CKR_OK;
}

static CK_RV active_op(se_session *s, mech_op_kind kind, se_operation **out)
{
    se_operation *op = &s->ops[kind];
    if (!op->active)
        return CKR_OPERATION_NOT_INITIALIZED;
    if (op->needs_context_login)
        return CKR_USER_NOT_LOGGED_IN;
    *out = op;
    return CKR_OK;
}

CK_RV op_single(se_session *s, mech_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len)
{
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, kind, &op);
    if (rv != CKR_OK)
        goto unlock;
    if ((!in && in_len > 0) || !out_len) {
        rv = CKR_ARGUMENTS_BAD;
        goto end;
    }
    if (op->updated) { /* a multi-part operation is under way */
        rv = CKR_OPERATION_ACTIVE;
        goto end;
    }
    bool answered;
    rv = size_check(op, MECH_PHASE_ONESHOT, in_len, out, out_len, &answered);
    if (answered)
        goto unlock; /* the operation goes on */
    if (rv != CKR_OK)
        goto end;
    size_t written = *out_len;
    const mech_ops *ops = op->row->ops;
    if (ops->oneshot) {
        rv = ops->oneshot(op->state, in, in_len, out, &written);
    } else {
        bool produces = kind == MECH_ENCRYPT || kind == MECH_DECRYPT;
        size_t part = produces ? written : 0;
        rv = ops->update(op->state, in, in_len, produces ? out : NULL, &part);
        if (!produces)
            part = 0;
        if (rv == CKR_OK) {
            size_t rest = *out_len - part;
            rv = ops->final(op->state, out + part, &rest);
            written = part + rest;
        }
    }
    if (rv == CKR_OK)
        *out_len = written;
end:
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

CK_RV op_update(se_session *s, mech_op_kind kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                CK_ULONG_PTR out_len)
{
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, kind, &op);
    if (rv != CKR_OK)
        goto unlock;
    bool produces = kind == MECH_ENCRYPT || kind == MECH_DECRYPT;
    if ((!in && in_len > 0) || (produces && !out_len)) {
        rv = CKR_ARGUMENTS_BAD;
        goto end;
    }
    if (!op->row->multipart || !op->row->ops->update) {
        rv = CKR_FUNCTION_NOT_SUPPORTED; /* a single-part mechanism */
        goto end;
    }
    size_t written = 0;
    if (produces) {
        bool answered;
        rv = size_check(op, MECH_PHASE_UPDATE, in_len, out, out_len, &answered);
        if (answered)
            goto unlock;
        if (rv != CKR_OK)
            goto end;
        written = *out_len;
    }
    rv = op->row->ops->update(op->state, in, in_len, produces ? out : NULL, &written);
    if (rv != CKR_OK)
        goto end;
    op->updated = true;
    if (produces)
        *out_len = written;
    goto unlock;
end:
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

CK_RV op_final(se_session *s, mech_op_kind kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, kind, &op);
    if (rv != CKR_OK)
        goto unlock;
    if (!out_len) {
        rv = CKR_ARGUMENTS_BAD;
        goto end;
    }
    if (!op->row->multipart || !op->row->ops->final) {
        rv = CKR_FUNCTION_NOT_SUPPORTED;
        goto end;
    }
    bool answered;
    rv = size_check(op, MECH_PHASE_FINAL, 0, out, out_len, &answered);
    if (answered)
        goto unlock;
    if (rv != CKR_OK)
        goto end;
    size_t written = *out_len;
    rv = op->row->ops->final(op->state, out, &written);
    if (rv == CKR_OK)
        *out_len = written;
end:
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

CK_RV op_verify(se_session *s, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig,
                CK_ULONG sig_len)
{
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, MECH_VERIFY, &op);
    if (rv != CKR_OK)
        goto unlock;
    if ((!data && data_len > 0) || (!sig && sig_len > 0)) {
        rv = CKR_ARGUMENTS_BAD;
        goto end;
    }
    if (op->updated) {
        rv = CKR_OPERATION_ACTIVE;
        goto end;
    }
    const mech_ops *ops = op->row->ops;
    if (ops->verify_oneshot) {
        rv = ops->verify_oneshot(op->state, data, data_len, sig, sig_len);
    } else {
        size_t none = 0;
        rv = ops->update(op->state, data, data_len, NULL, &none);
        if (rv == CKR_OK)
            rv = ops->verify_final(op->state, sig, sig_len);
    }
end:
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

CK_RV op_verify_final(se_session *s, CK_BYTE_PTR sig, CK_ULONG sig_len)
{
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, MECH_VERIFY, &op);
    if (rv != CKR_OK)
        goto unlock;
    if (!sig && sig_len > 0)
        rv = CKR_ARGUMENTS_BAD;
    else if (!op->row->multipart || !op->row->ops->verify_final)
        rv = CKR_FUNCTION_NOT_SUPPORTED;
    else
        rv = op->row->ops->verify_final(op->state, sig, sig_len);
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

/* C_DigestKey: the value of a secret key, without it leaving the module. */
CK_RV op_digest_key(se_session *s, CK_OBJECT_HANDLE key)
{
    se_token *t = s->token;
    mutex_lock(s->lock);
    se_operation *op;
    CK_RV rv = active_op(s, MECH_DIGEST, &op);
    if (rv != CKR_OK)
        goto unlock;
    mutex_lock(t->lock);
    mech_key k;
    rv = object_key(s, key, 0, &k, NULL);
    if (rv == CKR_OK && (k.cls != CKO_SECRET_KEY || !k.secret))
        rv = CKR_KEY_INDIGESTIBLE;
    /* docs/spec.md §7.2: a digest of a value no one may read would be a
     * way to test guesses of it. */
    if (rv == CKR_OK && policy_check_read(k.attrs, CKA_VALUE) != CKR_OK)
        rv = CKR_KEY_INDIGESTIBLE;
    if (rv == CKR_OK) {
        size_t none = 0;
        rv = op->row->ops->update(op->state, k.secret, k.secret_len, NULL, &none);
    }
    mutex_unlock(t->lock);
    mech_key_free(&k); /* the unmasked value */
    if (rv == CKR_OK) {
        op->updated = true;
        goto unlock;
    }
    session_end_operation(op);
unlock:
    mutex_unlock(s->lock);
    return rv;
}

CK_RV op_context_login(se_session *s)
{
    mutex_lock(s->lock);
    CK_RV rv = CKR_OPERATION_NOT_INITIALIZED;
    for (size_t i = 0; i < ARRAY_SIZE(s->ops); i++) {
        if (s->ops[i].active && s->ops[i].needs_context_login) {
            s->ops[i].needs_context_login = false;
            rv = CKR_OK;
        }
    }
    mutex_unlock(s->lock);
    return rv;
}

CK_RV random_generate(CK_BYTE_PTR out, CK_ULONG len)
{
    if (!out && len > 0)
        return CKR_ARGUMENTS_BAD;
    /* Short draws from a block (mech_random): one DRBG call per 64 of
     * 32 bytes, as a careful application draws (issue 18: random-32). */
    while (len > 0) {
        int chunk = len > (1UL << 30) ? 1 << 30 : (int)len;
        if (mech_random(out, (size_t)chunk, false) != CKR_OK)
            return CKR_FUNCTION_FAILED;
        out += chunk;
        len -= (CK_ULONG)chunk;
    }
    return CKR_OK;
}

CK_RV random_seed(CK_BYTE_PTR seed, CK_ULONG len)
{
    if (!seed && len > 0)
        return CKR_ARGUMENTS_BAD;
    /* Mixed in as additional input; never the only entropy. */
    if (len > 0)
        RAND_add(seed, len > INT32_MAX ? INT32_MAX : (int)len, 0.0);
    return CKR_OK;
}
