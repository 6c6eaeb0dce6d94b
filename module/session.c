/*
 * session.c — the session table.
 *
 * A session is reference counted: a call that found it keeps it alive
 * while another thread closes it (the close takes it out of the table;
 * the last reference frees it).  Handles are table index + 1.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

bool session_is_rw(const se_session *s)
{
    return (s->flags & CKF_RW_SESSION) != 0;
}

static void drop_parked(se_operation *op)
{
    if (op->parked)
        op->parked_ops->free(op->parked);
    op->parked = NULL;
    op->parked_ops = NULL;
}

void session_end_operation(se_operation *op)
{
    const mech_ops *ops = op->active && op->row ? op->row->ops : NULL;
    const mech_ops *parked_ops = op->parked_ops;
    void *parked = op->parked;
    if (ops && ops->free) {
        if (!parked && ops->park && ops->reuse && ops->park(op->state)) {
            parked = op->state;
            parked_ops = ops;
        } else {
            ops->free(op->state);
        }
    }
    memset(op, 0, sizeof(*op));
    op->parked = parked;
    op->parked_ops = parked_ops;
}

void *session_unpark(se_operation *op, const mech_row *row)
{
    if (op->parked && op->parked_ops != row->ops)
        drop_parked(op); /* another family's: this session digests with another row now */
    void *state = op->parked;
    op->parked = NULL;
    op->parked_ops = NULL;
    return state;
}

static void find_end(se_find *find)
{
    free(find->handles);
    memset(find, 0, sizeof(*find));
}

static void session_free(se_session *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(s->ops); i++) {
        session_end_operation(&s->ops[i]);
        drop_parked(&s->ops[i]);
    }
    find_end(&s->find);
    mutex_destroy(s->lock);
    free(s);
}

CK_RV session_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out)
{
    if (!out)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    se_session *s = calloc(1, sizeof(*s));
    if (!s)
        return CKR_HOST_MEMORY;
    CK_RV rv = mutex_create(&s->lock);
    if (rv != CKR_OK) {
        free(s);
        return rv;
    }
    s->flags = flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION);
    s->refs = 1;
    s->env.session = s;

    mutex_lock(module.lock);
    se_token *t = slot_token(slot);
    if (!t) {
        rv = CKR_SLOT_ID_INVALID;
        goto out;
    }
    if (!t->store) {
        rv = CKR_TOKEN_NOT_RECOGNIZED; /* a blank card: C_InitToken first */
        goto out;
    }
    if (!token_present(t)) {
        rv = CKR_TOKEN_NOT_PRESENT; /* its file was deleted: a pulled card */
        goto out;
    }
    size_t index = 0;
    while (index < module.session_cap && module.sessions[index])
        index++;
    if (index == module.session_cap) {
        size_t cap = module.session_cap ? module.session_cap * 2 : 64;
        se_session **table = realloc(module.sessions, cap * sizeof(*table));
        if (!table) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        memset(table + module.session_cap, 0, (cap - module.session_cap) * sizeof(*table));
        module.sessions = table;
        module.session_cap = cap;
    }
    mutex_lock(t->lock);
    if (t->login == LOGIN_SO && !(flags & CKF_RW_SESSION))
        rv = CKR_SESSION_READ_WRITE_SO_EXISTS;
    if (rv == CKR_OK) {
        t->sessions++;
        if (flags & CKF_RW_SESSION)
            t->rw_sessions++;
    }
    mutex_unlock(t->lock);
    if (rv != CKR_OK)
        goto out;
    s->token = t;
    s->handle = index + 1;
    module.sessions[index] = s;
    *out = s->handle;
out:
    mutex_unlock(module.lock);
    if (rv != CKR_OK)
        session_free(s);
    return rv;
}

CK_RV session_get(CK_SESSION_HANDLE h, se_session **out)
{
    CK_RV rv = CKR_SESSION_HANDLE_INVALID;
    mutex_lock(module.lock);
    if (h >= 1 && h <= module.session_cap && module.sessions[h - 1]) {
        se_session *s = module.sessions[h - 1];
        __atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED); /* the table's keeps it above 0 */
        *out = s;
        rv = CKR_OK;
    }
    mutex_unlock(module.lock);
    return rv;
}

/* Without module.lock (it was 8 % of the lock waits of two threads
 * signing, issue 18): the last reference is the one whose session has
 * left the table, where session_get cannot find it any more. */
static bool unref(se_session *s)
{
    return __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
}

void session_put(se_session *s)
{
    if (unref(s))
        session_free(s);
}

/* Takes s out of the table; module.lock held.  The last session of a
 * token logs the application out (§5.6). */
static void session_detach(se_session *s)
{
    se_token *t = s->token;
    module.sessions[s->handle - 1] = NULL;
    s->closed = true;
    mutex_lock(t->lock);
    object_drop_session(t, s->handle);
    t->sessions--;
    if (session_is_rw(s))
        t->rw_sessions--;
    if (t->sessions == 0 && t->login != LOGIN_NONE)
        token_forget_login(t);
    mutex_unlock(t->lock);
}

CK_RV session_close(CK_SESSION_HANDLE h)
{
    se_session *s = NULL;
    mutex_lock(module.lock);
    if (h >= 1 && h <= module.session_cap && module.sessions[h - 1]) {
        s = module.sessions[h - 1];
        session_detach(s);
    }
    mutex_unlock(module.lock);
    if (!s)
        return CKR_SESSION_HANDLE_INVALID;
    session_put(s);
    return CKR_OK;
}

CK_RV session_close_all(CK_SLOT_ID slot)
{
    mutex_lock(module.lock);
    se_token *t = slot_token(slot);
    if (!t) {
        mutex_unlock(module.lock);
        return CKR_SLOT_ID_INVALID;
    }
    se_session *closing[64];
    size_t n;
    /* Detach under the table lock, free outside it, a batch at a time. */
    do {
        n = 0;
        for (size_t i = 0; i < module.session_cap && n < ARRAY_SIZE(closing); i++) {
            se_session *s = module.sessions[i];
            if (s && s->token == t) {
                session_detach(s);
                closing[n++] = s;
            }
        }
        mutex_unlock(module.lock);
        for (size_t i = 0; i < n; i++)
            session_put(closing[i]);
        mutex_lock(module.lock);
    } while (n == ARRAY_SIZE(closing));
    mutex_unlock(module.lock);
    return CKR_OK;
}

/* A pull is rare: the sessions no call holds are freed here, under
 * module.lock (freeing takes no other lock). */
void sessions_close_token(se_token *t)
{
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = module.sessions[i];
        if (!s || s->token != t)
            continue;
        session_detach(s);
        if (unref(s))
            session_free(s);
    }
}

void sessions_drop_parked(se_token *t)
{
    mutex_lock(module.lock);
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = module.sessions[i];
        if (!s || s->token != t)
            continue;
        mutex_lock(s->lock); /* an operation in progress parks after this, or is refused */
        for (size_t k = 0; k < ARRAY_SIZE(s->ops); k++)
            drop_parked(&s->ops[k]);
        mutex_unlock(s->lock);
    }
    mutex_unlock(module.lock);
}

CK_RV session_info(se_session *s, CK_SESSION_INFO_PTR info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    se_token *t = s->token;
    mutex_lock(t->lock);
    bool rw = session_is_rw(s);
    switch (t->login) {
    case LOGIN_SO:
        info->state = CKS_RW_SO_FUNCTIONS;
        break;
    case LOGIN_USER:
        info->state = rw ? CKS_RW_USER_FUNCTIONS : CKS_RO_USER_FUNCTIONS;
        break;
    default:
        info->state = rw ? CKS_RW_PUBLIC_SESSION : CKS_RO_PUBLIC_SESSION;
        break;
    }
    mutex_unlock(t->lock);
    info->slotID = t->slot_id;
    info->flags = s->flags;
    info->ulDeviceError = 0;
    return CKR_OK;
}

/* C_Finalize: every session goes, whoever still holds one. */
void sessions_free(void)
{
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = module.sessions[i];
        if (!s)
            continue;
        mutex_lock(module.lock);
        session_detach(s);
        mutex_unlock(module.lock);
        session_put(s);
    }
    free(module.sessions);
    module.sessions = NULL;
    module.session_cap = 0;
}
