/*
 * key_cache.h — keys borrowed by a session, kept for its next C_*Init
 * (key_cache.c).  The key_cache_ functions: token->lock held.
 */
#ifndef SOFTSE_KEY_CACHE_H
#define SOFTSE_KEY_CACHE_H

#include "core.h"

/* What the session's last borrow of (h, usage, lend) returned, if kept:
 * *key a copy (an EVP_PKEY reference, a secret value unmasked into a
 * buffer of its own), *lent the lent attributes unmasked, appended.
 * false: not kept, nothing given (borrow it the slow way, then put). */
bool key_cache_take(se_token *t, const se_session *s, CK_OBJECT_HANDLE h,
                    CK_ATTRIBUTE_TYPE usage, size_t lend, mech_key *key, attr_list *lent,
                    bool *always_auth);
/* Keeps a copy of a successful borrow for the session, masked. */
void key_cache_put(se_token *t, const se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage,
                   size_t lend, const mech_key *key, const attr_list *lent, bool always_auth);
/* Drops every entry (cleansed): anything that may change what a borrow
 * returns calls it (object.c). */
void key_cache_clear(se_token *t);
/* Drops the session's entries: its close. */
void key_cache_drop_session(se_token *t, CK_SESSION_HANDLE session);
/* The token's end. */
void key_cache_free(se_token *t);

/*
 * A session's kept key: its last borrow of a secret key for a C_*Init,
 * taken again without the token lock while nothing that could change it
 * happened (the token's key epoch and the store's wal-index header are
 * those of the borrow).  Every function: s->lock held (op_init).
 */
/* The kept key of (h, usage, lend): a copy unmasked into *key, the lent
 * attributes unmasked into *lent (as key_cache_take); false: borrow. */
bool key_kept_take(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, size_t lend,
                   mech_key *key, attr_list *lent, bool *always_auth);
/* Keeps a successful borrow (secret keys only); token->lock held too. */
void key_kept_put(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, size_t lend,
                  const mech_key *key, const attr_list *lent, bool always_auth);
/* Frees it, cleansed: the session's end, a logout, a destroyed key. */
void key_kept_drop(se_session *s);

#endif
