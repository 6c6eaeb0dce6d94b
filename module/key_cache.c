/*
 * key_cache.c — the keys a session borrowed last, kept for its next
 * C_*Init (issue 18, docs/performance.md).
 *
 * Resolving a key on every C_SignInit (the handle lookup, the class,
 * attestation and usage checks, building and unmasking the value) was
 * most of a small operation, and all of it under the token lock, which
 * every session of the token takes: it kept two threads from scaling.
 * A hit here replaces it with a copy of what the last borrow of the same
 * (session, handle, usage, lent attributes) returned.
 *
 * The entries belong to the token and live under token->lock, so that
 * whatever changes what a borrow would return drops them all at once, in
 * the same critical section: the object cache being dropped (login,
 * logout, another process's commit seen by object_sync, an erasure, the
 * cache's own overflow), a token object removed from it (C_DestroyObject,
 * C_SetAttributeValue), a session object destroyed, changed or dropped
 * with its session, the session objects' keys forgotten.  No entry
 * survives its session (C_CloseSession drops the session's), and the
 * lifecycle check and the store's data version are still read on every
 * borrow, before the cache.  Each entry is tagged with its session: no
 * other session's borrow can take it.
 *
 * At rest, an entry's secret value and its lent masked attributes stay
 * masked under the entry's own nonce (secret.h), as the object cache
 * keeps them; an EVP_PKEY is a reference to the one the object holds.
 */
#include "key_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CACHE_SLOTS 64 /* direct-mapped by (session, handle) */

struct key_cache_entry {
    bool used;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE handle;
    CK_ATTRIBUTE_TYPE usage;
    size_t lend;
    bool always_auth;
    mech_key key;   /* key.secret masked; key.attrs unused */
    attr_list lent; /* masked values masked */
    unsigned char nonce[SECRET_NONCE_LEN];
};

struct key_cache {
    struct key_cache_entry slots[KEY_CACHE_SLOTS];
};

static struct key_cache_entry *slot_of(se_token *t, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    uint64_t z = (uint64_t)s * 0x9e3779b97f4a7c15ULL ^ (uint64_t)h * 0xbf58476d1ce4e5b9ULL;
    return &t->key_cache->slots[(z ^ (z >> 29)) % KEY_CACHE_SLOTS];
}

static void entry_clear(struct key_cache_entry *e)
{
    mech_key_free(&e->key); /* cleanses the (masked) secret */
    attr_list_free(&e->lent);
    OPENSSL_cleanse(e, sizeof(*e));
    attr_list_init(&e->lent);
}

/* XORs the secret value and the masked lent attributes with the
 * entry's keystream: masks a clear copy, unmasks a masked one. */
static CK_RV xor_entry(const unsigned char *nonce, CK_OBJECT_CLASS cls, mech_key *key,
                       attr_list *lent)
{
    CK_RV rv = CKR_OK;
    if (key->secret)
        rv = secret_xor(nonce, CKA_VALUE, key->secret, key->secret_len);
    return rv == CKR_OK ? object_xor_masked(cls, nonce, lent) : rv;
}

/* A copy of key's material: a reference to its EVP_PKEY, its secret in a
 * buffer of the copy's, a duplicate of its kept EVP_PKEY context. */
static CK_RV copy_key(mech_key *dst, const mech_key *src)
{
    *dst = *src;
    dst->attrs = NULL;
    dst->secret = NULL;
    dst->pkey_ctx = NULL;
    if (src->secret) {
        dst->secret = malloc(src->secret_len ? src->secret_len : 1);
        if (!dst->secret) {
            dst->pkey = NULL;
            return CKR_HOST_MEMORY;
        }
        memcpy(dst->secret, src->secret, src->secret_len);
    }
    if (dst->pkey)
        EVP_PKEY_up_ref(dst->pkey);
    if (src->pkey_ctx) /* a failed duplicate: the mechanism makes its own */
        dst->pkey_ctx = EVP_PKEY_CTX_dup(src->pkey_ctx);
    return CKR_OK;
}

/* Lends what an entry or a kept key holds masked under nonce: *key a
 * copy, *lent the lent attributes appended, both unmasked.  false when
 * it could not (nothing given: the caller borrows the slow way). */
static bool lend_copy(const mech_key *kept, const attr_list *kept_lent, const unsigned char *nonce,
                      mech_key *key, attr_list *lent)
{
    CK_RV rv = copy_key(key, kept);
    if (rv == CKR_OK)
        rv = attr_list_copy(lent, kept_lent);
    if (rv == CKR_OK)
        rv = xor_entry(nonce, kept->cls, key, lent);
    if (rv != CKR_OK) {
        mech_key_free(key);
        memset(key, 0, sizeof(*key));
        attr_list_free(lent);
        attr_list_init(lent);
        return false;
    }
    return true;
}

bool key_cache_take(se_token *t, const se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage,
                    size_t lend, mech_key *key, attr_list *lent, bool *always_auth)
{
    if (!t->key_cache)
        return false;
    struct key_cache_entry *e = slot_of(t, s->handle, h);
    if (!e->used || e->session != s->handle || e->handle != h || e->usage != usage ||
        e->lend != lend)
        return false;
    if (!lend_copy(&e->key, &e->lent, e->nonce, key, lent))
        return false;
    *always_auth = e->always_auth;
    return true;
}

void key_cache_put(se_token *t, const se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage,
                   size_t lend, const mech_key *key, const attr_list *lent, bool always_auth)
{
    if (!t->key_cache) {
        t->key_cache = calloc(1, sizeof(*t->key_cache));
        if (!t->key_cache)
            return; /* no cache: every borrow resolves its key */
    }
    struct key_cache_entry *e = slot_of(t, s->handle, h);
    entry_clear(e);
    CK_RV rv = copy_key(&e->key, key);
    if (rv == CKR_OK)
        rv = attr_list_copy(&e->lent, lent);
    if (rv == CKR_OK)
        rv = secret_nonce(e->nonce);
    if (rv == CKR_OK)
        rv = xor_entry(e->nonce, key->cls, &e->key, &e->lent);
    if (rv != CKR_OK) {
        entry_clear(e);
        return;
    }
    /* A key with an EVP_PKEY keeps a context initialized for the usage
     * (mech_key_ctx): a hit lends a duplicate of it.  It holds the entry's
     * key, nothing the entry did not keep already. */
    e->key.pkey_ctx = mech_pkey_template(e->key.pkey, usage);
    e->key.pkey_ctx_usage = usage;
    e->session = s->handle;
    e->handle = h;
    e->usage = usage;
    e->lend = lend;
    e->always_auth = always_auth;
    e->used = true;
}

void key_cache_clear(se_token *t)
{
    __atomic_add_fetch(&t->key_epoch, 1, __ATOMIC_RELEASE); /* the sessions' kept keys too */
    if (!t->key_cache)
        return;
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
        if (t->key_cache->slots[i].used)
            entry_clear(&t->key_cache->slots[i]);
}

void key_cache_drop_session(se_token *t, CK_SESSION_HANDLE session)
{
    if (!t->key_cache)
        return;
    for (size_t i = 0; i < KEY_CACHE_SLOTS; i++)
        if (t->key_cache->slots[i].used && t->key_cache->slots[i].session == session)
            entry_clear(&t->key_cache->slots[i]);
}

void key_cache_free(se_token *t)
{
    key_cache_clear(t);
    free(t->key_cache);
    t->key_cache = NULL;
}

/* ---- a session's kept key: the hit without the token lock ------------- */

/*
 * What the token lock still serialized on a hit above was the check that
 * nothing changed (the store's data version, the lifecycle) and the copy
 * of the entry; two threads of one process signing with HMAC waited for
 * each other there.  A session keeps its last borrowed secret key with
 * what proves it current: the token's key epoch, which every
 * key_cache_clear raises (whatever drops the token's entries), and the
 * wal-index header of the store as the borrow's object_sync saw it,
 * which every commit of any process rewrites (another process's change,
 * this process's lifecycle transition).  Both equal: the borrow would
 * find what it found then, so the copy is taken under the session's lock
 * only.  Secret keys only (HMAC, AES, DES3 and the SK3 keys, with the
 * attributes a vendor row is lent): their copy is a buffer of the kept
 * key's own, whereas an EVP_PKEY copy is a reference to an object of the
 * cache.
 *
 * At rest the value and the lent masked attributes are masked under the
 * kept key's nonce, as the token's entries are.  It goes with the
 * session, at its next borrow that misses, and where the HMAC contexts
 * the session keeps go (sessions_drop_parked: the end of a login, the
 * destruction of a secret key, the close of a session that owned secret
 * session keys).
 */
struct key_kept {
    CK_OBJECT_HANDLE handle;
    CK_ATTRIBUTE_TYPE usage;
    size_t lend;
    bool always_auth;
    uint64_t epoch;
    unsigned char wal[TOK_WAL_HEADER_LEN];
    mech_key key;   /* key.secret masked */
    attr_list lent; /* masked values masked */
    unsigned char nonce[SECRET_NONCE_LEN];
};

bool key_kept_take(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, size_t lend,
                   mech_key *key, attr_list *lent, bool *always_auth)
{
    const struct key_kept *k = s->kept;
    if (!k || k->handle != h || k->usage != usage || k->lend != lend)
        return false;
    se_token *t = s->token;
    if (__atomic_load_n(&t->key_epoch, __ATOMIC_ACQUIRE) != k->epoch ||
        !tok_wal_unchanged(t->store, k->wal))
        return false;
    if (!lend_copy(&k->key, &k->lent, k->nonce, key, lent))
        return false;
    *always_auth = k->always_auth;
    return true;
}

void key_kept_put(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, size_t lend,
                  const mech_key *key, const attr_list *lent, bool always_auth)
{
    key_kept_drop(s);
    if (key->cls != CKO_SECRET_KEY || !key->secret || key->pkey || key->pkey_ctx)
        return;
    se_token *t = s->token;
    struct key_kept *k = calloc(1, sizeof(*k));
    if (!k)
        return; /* every borrow takes the lock */
    attr_list_init(&k->lent);
    s->kept = k;
    if (!tok_wal_snapshot(t->store, k->wal) || copy_key(&k->key, key) != CKR_OK ||
        attr_list_copy(&k->lent, lent) != CKR_OK || secret_nonce(k->nonce) != CKR_OK ||
        xor_entry(k->nonce, key->cls, &k->key, &k->lent) != CKR_OK) {
        key_kept_drop(s);
        return;
    }
    k->epoch = __atomic_load_n(&t->key_epoch, __ATOMIC_RELAXED); /* under token->lock */
    k->handle = h;
    k->usage = usage;
    k->lend = lend;
    k->always_auth = always_auth;
}

void key_kept_drop(se_session *s)
{
    if (!s->kept)
        return;
    mech_key_free(&s->kept->key); /* cleanses the (masked) secret */
    attr_list_free(&s->kept->lent);
    OPENSSL_cleanse(s->kept, sizeof(*s->kept));
    free(s->kept);
    s->kept = NULL;
}
