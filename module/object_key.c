/*
 * object_key.c — the key material of key objects, lent to mechanisms:
 * an object's EVP_PKEY built once and kept, a secret value unmasked into
 * a buffer of the borrower's, the attributes a mechanism may read, and
 * their end with a login (docs/spec.md §7.2 for the usage checks).
 */
#include "core.h"
#include "key_cache.h"
#include "object_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Builds o->key on first use from a clear copy of the attributes: an
 * EVP_PKEY kept (OpenSSL cannot keep it masked), or a secret key's type
 * and length only: its value stays masked in o->attrs. */
CK_RV object_build_key(se_object *o)
{
    if (o->key_ready)
        return CKR_OK;
    attr_list clear;
    attr_list_init(&clear);
    CK_RV rv = object_clear_attrs(o, &clear);
    if (rv == CKR_OK)
        rv = mech_key_from_attrs(&clear, &o->key);
    attr_list_free(&clear);
    if (rv != CKR_OK) {
        mech_key_free(&o->key);
        memset(&o->key, 0, sizeof(o->key));
        return rv;
    }
    if (o->key.secret) {
        OPENSSL_cleanse(o->key.secret, o->key.secret_len);
        free(o->key.secret);
        o->key.secret = NULL;
    }
    o->key_ready = true;
    return CKR_OK;
}

/* A secret key's value, unmasked into a buffer of the caller's. */
static CK_RV unmask_secret(const se_object *o, mech_key *key)
{
    const CK_ATTRIBUTE *value = attr_list_find(&o->attrs, CKA_VALUE);
    if (!value || value->ulValueLen != o->key.secret_len)
        return CKR_KEY_TYPE_INCONSISTENT;
    key->secret = malloc(key->secret_len ? key->secret_len : 1);
    if (!key->secret)
        return CKR_HOST_MEMORY;
    memcpy(key->secret, value->pValue, key->secret_len);
    return secret_xor(o->nonce, CKA_VALUE, key->secret, key->secret_len);
}

CK_RV object_key(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE usage, mech_key *key,
                 bool *always_authenticate)
{
    memset(key, 0, sizeof(*key));
    se_object *o;
    CK_RV rv = object_lookup_synced(s, h, &o); /* the caller synced: one store check per call */
    if (rv == CKR_OBJECT_HANDLE_INVALID || (rv == CKR_OK && !object_is_key_class(o->cls)))
        return CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK)
        return rv;
    /* docs/spec.md §2: the attestation key signs only inside vendor mechanisms. */
    if (attr_list_bool(&o->attrs, CKA_SE_ATTESTATION, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    rv = policy_check_usage(&o->attrs, usage);
    if (rv != CKR_OK)
        return rv;
    if (o->sealed)
        return CKR_USER_NOT_LOGGED_IN;
    rv = object_build_key(o);
    if (rv != CKR_OK)
        return rv == CKR_TEMPLATE_INCOMPLETE ? CKR_KEY_TYPE_INCONSISTENT : rv;
    *key = o->key;
    key->attrs = &o->attrs;
    key->handle = h;
    if (key->pkey)
        EVP_PKEY_up_ref(key->pkey);
    else if (o->key.cls == CKO_SECRET_KEY)
        rv = unmask_secret(o, key);
    if (rv != CKR_OK) {
        mech_key_free(key);
        memset(key, 0, sizeof(*key));
        return rv;
    }
    if (always_authenticate)
        *always_authenticate = attr_list_bool(&o->attrs, CKA_ALWAYS_AUTHENTICATE, false);
    return CKR_OK;
}

CK_RV object_key_attrs(se_session *s, CK_OBJECT_HANDLE h, const CK_ATTRIBUTE_TYPE *types,
                       size_t count, attr_list *out)
{
    se_object *o;
    CK_RV rv = object_lookup_synced(s, h, &o);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    for (size_t i = 0; rv == CKR_OK && i < count; i++) {
        const CK_ATTRIBUTE *a = attr_list_find(&o->attrs, types[i]);
        if (!a)
            continue;
        rv = attr_list_set(out, a->type, a->pValue, a->ulValueLen);
        const CK_ATTRIBUTE *copy = attr_list_find(out, a->type);
        if (rv == CKR_OK && copy->ulValueLen && object_masked_type(o->cls, a->type))
            rv = secret_xor(o->nonce, a->type, copy->pValue, copy->ulValueLen);
    }
    return rv;
}

void object_forget_keys(se_token *t)
{
    key_cache_clear(t);
    for (se_object *o = t->session_objects; o; o = o->next) {
        if (o->key_ready)
            mech_key_free(&o->key);
        memset(&o->key, 0, sizeof(o->key));
        o->key_ready = false;
    }
}
