/*
 * session.c — the session table.
 *
 * A session is reference counted: a call that found it keeps it alive
 * while another thread closes it (the close takes it out of the table;
 * the last reference frees it).  Handles are table index + 1.
 */
#include "core.h"
#include "key_cache.h"

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

/*
 * The table.  A position's se_session, once made, stays at that position
 * until C_Finalize: a closed session's structure is cleaned by its last
 * reference and marked retired, and session_open reuses it.  So
 * session_get needs no lock (it was module.lock twice per operation,
 * shared by every thread, issue 18): it takes a reference only while the
 * count is above zero, then checks the session is open; the structure it
 * read cannot have been freed, at worst reused for the same handle,
 * which is then the session the handle names.
 */

/* The position of index, NULL when its chunk was never made. */
static se_session **position(size_t index)
{
    if (index >= (size_t)SESSION_CHUNKS * SESSION_CHUNK)
        return NULL;
    se_session **chunk =
        __atomic_load_n(&module.session_chunks[index / SESSION_CHUNK], __ATOMIC_ACQUIRE);
    return chunk ? &chunk[index % SESSION_CHUNK] : NULL;
}

static se_session *session_at(size_t index)
{
    se_session **at = position(index);
    return at ? __atomic_load_n(at, __ATOMIC_ACQUIRE) : NULL;
}

static bool is_open(const se_session *s)
{
    return s && __atomic_load_n(&s->open, __ATOMIC_ACQUIRE);
}

/* A structure's fate, one atomic: exactly one of its last put and
 * C_Finalize frees it, whichever comes second. */
enum {
    SESSION_LIVE,    /* open, or closed and still held */
    SESSION_RETIRED, /* every reference gone, cleaned: free for session_open */
    SESSION_ORPHAN,  /* C_Finalize went while a call held it: its last put frees it */
};

static bool fate_move(se_session *s, int from, int to)
{
    return __atomic_compare_exchange_n(&s->fate, &from, to, false, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

static bool is_retired(se_session *s)
{
    return __atomic_load_n(&s->fate, __ATOMIC_ACQUIRE) == SESSION_RETIRED;
}

static void structure_free(se_session *s)
{
    mutex_destroy(s->lock);
    free(s);
}

/* The last reference is gone: the operations, parked states and search
 * go; the structure waits at its position for session_open. */
static void session_retire(se_session *s)
{
    for (size_t i = 0; i < ARRAY_SIZE(s->ops); i++) {
        session_end_operation(&s->ops[i]);
        drop_parked(&s->ops[i]);
    }
    key_kept_drop(s);
    find_end(&s->find);
    if (!fate_move(s, SESSION_LIVE, SESSION_RETIRED))
        structure_free(s); /* orphaned: its table went with C_Finalize */
}

/* Under module.lock: a free position (its retired structure, or a new
 * one put there), the chunks grown when all are taken. */
static CK_RV free_position(size_t *index, se_session **out)
{
    size_t i = 0;
    for (; i < module.session_cap; i++) {
        se_session *s = session_at(i);
        if (!s || is_retired(s))
            break;
    }
    if (i == module.session_cap) {
        if (i / SESSION_CHUNK >= SESSION_CHUNKS)
            return CKR_SESSION_COUNT;
        se_session **chunk = calloc(SESSION_CHUNK, sizeof(*chunk));
        if (!chunk)
            return CKR_HOST_MEMORY;
        __atomic_store_n(&module.session_chunks[i / SESSION_CHUNK], chunk, __ATOMIC_RELEASE);
        module.session_cap += SESSION_CHUNK;
    }
    se_session *s = session_at(i);
    if (!s) {
        s = se_alloc_line(sizeof(*s)); /* its count and lock: no line shared with another's */
        if (!s)
            return CKR_HOST_MEMORY;
        CK_RV rv = mutex_create(&s->lock);
        if (rv != CKR_OK) {
            free(s);
            return rv;
        }
        s->fate = SESSION_RETIRED;
        __atomic_store_n(position(i), s, __ATOMIC_RELEASE);
    }
    *index = i;
    *out = s;
    return CKR_OK;
}

CK_RV session_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_SESSION_HANDLE_PTR out)
{
    if (!out)
        return CKR_ARGUMENTS_BAD;
    if (!(flags & CKF_SERIAL_SESSION))
        return CKR_SESSION_PARALLEL_NOT_SUPPORTED;
    CK_RV rv = CKR_OK;
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
    size_t index;
    se_session *s;
    rv = free_position(&index, &s);
    if (rv != CKR_OK)
        goto out;
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
        goto out; /* the structure stays retired, free */
    /* Retired: its operations and search were cleaned, nothing holds it;
     * a session_get that read it before can only fail on its count. */
    s->flags = flags & (CKF_RW_SESSION | CKF_SERIAL_SESSION);
    s->token = t;
    s->handle = index + 1;
    s->env.session = s;
    __atomic_store_n(&s->fate, SESSION_LIVE, __ATOMIC_RELAXED);
    __atomic_store_n(&s->refs, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&s->open, true, __ATOMIC_RELEASE);
    *out = s->handle;
out:
    mutex_unlock(module.lock);
    return rv;
}

/* A reference, unless the count is already zero (a session whose last
 * reference went: retired, or being retired). */
static bool ref_if_alive(se_session *s)
{
    unsigned refs = __atomic_load_n(&s->refs, __ATOMIC_RELAXED);
    do {
        if (refs == 0)
            return false;
    } while (!__atomic_compare_exchange_n(&s->refs, &refs, refs + 1, true, __ATOMIC_ACQUIRE,
                                          __ATOMIC_RELAXED));
    return true;
}

CK_RV session_get(CK_SESSION_HANDLE h, se_session **out)
{
    if (h < 1)
        return CKR_SESSION_HANDLE_INVALID;
    se_session *s = session_at(h - 1);
    if (!s || !ref_if_alive(s))
        return CKR_SESSION_HANDLE_INVALID;
    if (!is_open(s)) { /* closed, or being opened: not (yet) h's */
        session_put(s);
        return CKR_SESSION_HANDLE_INVALID;
    }
    *out = s;
    return CKR_OK;
}

/* The last reference is the one whose session has left the table (or
 * was never in it, for a reference session_get gave back). */
static bool unref(se_session *s)
{
    return __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0;
}

void session_put(se_session *s)
{
    if (unref(s))
        session_retire(s);
}

/* Takes s out of the table; module.lock held.  The last session of a
 * token logs the application out (§5.6).  true when a secret session key
 * of s went, which other sessions may keep HMAC contexts keyed with. */
static bool session_detach(se_session *s)
{
    se_token *t = s->token;
    __atomic_store_n(&s->open, false, __ATOMIC_RELEASE);
    mutex_lock(t->lock);
    bool secret = object_drop_session(t, s->handle);
    t->sessions--;
    if (session_is_rw(s))
        t->rw_sessions--;
    if (t->sessions == 0 && t->login != LOGIN_NONE)
        token_forget_login(t);
    mutex_unlock(t->lock);
    return secret;
}

CK_RV session_close(CK_SESSION_HANDLE h)
{
    se_session *s = NULL;
    bool secret = false;
    mutex_lock(module.lock);
    if (h >= 1 && is_open(session_at(h - 1))) {
        s = session_at(h - 1);
        secret = session_detach(s);
    }
    mutex_unlock(module.lock);
    if (!s)
        return CKR_SESSION_HANDLE_INVALID;
    se_token *t = s->token;
    session_put(s); /* the table's */
    if (secret) /* the other sessions' HMAC contexts keyed with its keys */
        sessions_drop_parked(t);
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
    /* Detach under the table lock, put the table's references outside
     * it, a batch at a time. */
    do {
        n = 0;
        for (size_t i = 0; i < module.session_cap && n < ARRAY_SIZE(closing); i++) {
            se_session *s = session_at(i);
            if (is_open(s) && s->token == t) {
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

/* A pull is rare: the sessions no call holds are retired here, under
 * module.lock (retiring takes no other lock). */
void sessions_close_token(se_token *t)
{
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = session_at(i);
        if (!is_open(s) || s->token != t)
            continue;
        session_detach(s);
        session_put(s);
    }
}

void sessions_drop_parked(se_token *t)
{
    mutex_lock(module.lock);
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = session_at(i);
        if (!is_open(s) || s->token != t)
            continue;
        mutex_lock(s->lock); /* an operation in progress parks after this, or is refused */
        for (size_t k = 0; k < ARRAY_SIZE(s->ops); k++)
            drop_parked(&s->ops[k]);
        key_kept_drop(s); /* the key those contexts were keyed with */
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

/* C_Finalize: every session goes.  A structure a call still holds (a
 * call racing C_Finalize, which PKCS#11 leaves undefined) is freed by
 * that call's put instead of being left in a table that is gone. */
void sessions_free(void)
{
    for (size_t i = 0; i < module.session_cap; i++) {
        se_session *s = session_at(i);
        if (!s)
            continue;
        mutex_lock(module.lock);
        bool open = is_open(s);
        if (open)
            session_detach(s);
        mutex_unlock(module.lock);
        if (open)
            session_put(s);
        if (!fate_move(s, SESSION_LIVE, SESSION_ORPHAN)) /* retired: nothing holds it */
            structure_free(s);
    }
    for (size_t c = 0; c < SESSION_CHUNKS; c++) {
        free(module.session_chunks[c]);
        module.session_chunks[c] = NULL;
    }
    module.session_cap = 0;
}
