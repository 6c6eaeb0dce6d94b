/*
 * crypto_internal.h — what crypto_ops.c (operations) and key_ops.c (making
 * keys) share: the mechanism check, the lifecycle check and borrowing a
 * key.  Internal to module/.
 */
#ifndef SOFTSE_CRYPTO_INTERNAL_H
#define SOFTSE_CRYPTO_INTERNAL_H

#include "core.h"

/* How many of crypto_ops.c's lent attributes a borrowed key comes with:
 * none, the vendor mechanisms' in-card secret, or everything the key
 * policy reads of a key that wraps, unwraps or derives. */
enum lend { LEND_NONE = 0, LEND_VENDOR = 1, LEND_POLICY = 9 };

/* The row of mech for a function needing the flag; CKR_ARGUMENTS_BAD,
 * CKR_MECHANISM_PARAM_INVALID or CKR_MECHANISM_INVALID. */
CK_RV check_mechanism(CK_MECHANISM_PTR mech, CK_FLAGS needed, const mech_row **row);
/* docs/spec.md §3 with a fresh view of the state; token->lock held. */
CK_RV check_lifecycle(se_token *t);
/* Resolves key handle h for usage under the token lock and keeps a
 * private copy of what the mechanism needs (a reference to the EVP_PKEY,
 * a copy of a secret, the lent attributes in attrs), so that the token
 * lock is not held across the cryptography.  key->attrs points at attrs.
 * A secret key the session borrowed last, unchanged since, comes from the
 * session's kept key without the token lock (key_cache.c); borrows other
 * than LEND_POLICY need the session's lock held for that (op_init). */
CK_RV borrow_key(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, enum lend lend,
                 mech_key *key, attr_list *attrs, bool *always_auth);

#endif
