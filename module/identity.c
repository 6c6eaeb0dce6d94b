/*
 * identity.c — the device identity of docs/spec.md §2.
 *
 * "Manufacture" is an SO's C_GenerateKeyPair whose private template asks
 * for CKA_SE_ATTESTATION: the key pair is born inside the token, once,
 * in PERSONALIZATION, and gets the attributes that make it usable only
 * inside vendor mechanisms.  The certificate and chain are ordinary
 * public objects the admin tool creates read-only and undestroyable.
 */
#include "core.h"
#include "vendor_env.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

bool identity_label(const attr_list *attrs)
{
    static const char *const labels[] = {SOFTSE_ATTESTATION_LABEL, SOFTSE_MANUFACTURER_CA_LABEL};
    const CK_ATTRIBUTE *label = attr_list_find(attrs, CKA_LABEL);
    for (size_t i = 0; label && i < ARRAY_SIZE(labels); i++)
        if (label->ulValueLen == strlen(labels[i]) &&
            memcmp(label->pValue, labels[i], label->ulValueLen) == 0)
            return true;
    return false;
}

/* The identity is what carries CKA_SE_ATTESTATION, never a label: only
 * the token sets that attribute. */
static CK_RV find_identity(se_token *t, const CK_OBJECT_CLASS *cls, tok_id **ids, size_t *count)
{
    CK_BBOOL yes = CK_TRUE;
    tok_attr match[] = {
        {CKA_SE_ATTESTATION, &yes, sizeof(yes), TOK_ATTR_LOOKUP},
        {CKA_CLASS, (unsigned char *)cls, sizeof(*cls), TOK_ATTR_LOOKUP},
    };
    tok_keys clear;
    const tok_keys *keys;
    CK_RV rv = token_keys_open(t, false, &clear, &keys);
    if (rv == CKR_OK)
        rv = tok_object_find(t->store, keys, match, cls ? 2 : 1, ids, count);
    tok_keys_clear(&clear);
    return rv;
}

CK_RV identity_ids(se_token *t, tok_id **ids, size_t *count)
{
    return find_identity(t, NULL, ids, count);
}

/* Finds the private attestation key; token->lock held, user or SO keys.
 * Every GKEA call needs it: the answer is kept with the object cache,
 * which object_sync drops when another process changes the store. */
static CK_RV find_attestation(se_token *t, tok_id *id, bool *found)
{
    CK_RV rv = object_sync(t);
    if (rv != CKR_OK)
        return rv;
    if (t->attestation_known) {
        *id = t->attestation_id;
        *found = true;
        return CKR_OK;
    }
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    tok_id *ids = NULL;
    size_t count = 0;
    rv = find_identity(t, &cls, &ids, &count);
    *found = rv == CKR_OK && count > 0;
    if (*found) {
        *id = ids[0];
        t->attestation_known = true;
        t->attestation_id = ids[0];
    }
    free(ids);
    return rv;
}

CK_RV identity_prepare(se_session *s, attr_list *pub_tmpl, attr_list *priv_tmpl)
{
    se_token *t = s->token;
    mutex_lock(t->lock);
    CK_RV rv = CKR_OK;
    bool exists = false;
    tok_id id;
    if (t->login != LOGIN_SO)
        rv = CKR_USER_NOT_LOGGED_IN;
    if (rv == CKR_OK && t->info.lifecycle != SOFTSE_LIFECYCLE_PERSONALIZATION)
        rv = CKR_SE_LIFECYCLE;
    if (rv == CKR_OK)
        rv = find_attestation(t, &id, &exists);
    if (rv == CKR_OK && exists)
        rv = CKR_ACTION_PROHIBITED; /* manufactured once; C_InitToken erases it */
    mutex_unlock(t->lock);
    attr_list_remove(priv_tmpl, CKA_SE_ATTESTATION);
    attr_list_remove(pub_tmpl, CKA_SE_ATTESTATION);
    return rv;
}

/* The attributes every identity key has, whatever the template said. */
CK_RV identity_finish(attr_list *pub, attr_list *priv)
{
    static const char label[] = SOFTSE_ATTESTATION_LABEL;
    static const struct {
        CK_ATTRIBUTE_TYPE type;
        bool pub, priv;
    } forced[] = {
        {CKA_SE_ATTESTATION, true, true},
        {CKA_TOKEN, true, true},
        {CKA_PRIVATE, false, true},
        {CKA_MODIFIABLE, false, false},
        {CKA_DESTROYABLE, false, false},
        {CKA_COPYABLE, false, false},
        {CKA_SENSITIVE, false, true},
        {CKA_EXTRACTABLE, false, false},
        {CKA_ALWAYS_SENSITIVE, false, true},
        {CKA_NEVER_EXTRACTABLE, false, true},
        {CKA_SIGN, false, false},
        {CKA_DECRYPT, false, false},
        {CKA_UNWRAP, false, false},
        {CKA_DERIVE, false, false},
        {CKA_ENCRYPT, false, false},
        {CKA_WRAP, false, false},
        {CKA_VERIFY, true, false},
    };
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(forced); i++) {
        CK_ATTRIBUTE_TYPE type = forced[i].type;
        bool on_private_key = type != CKA_VERIFY && type != CKA_ENCRYPT && type != CKA_WRAP;
        bool on_public_key = type != CKA_SENSITIVE && type != CKA_EXTRACTABLE &&
                             type != CKA_ALWAYS_SENSITIVE && type != CKA_NEVER_EXTRACTABLE &&
                             type != CKA_SIGN && type != CKA_DECRYPT && type != CKA_UNWRAP;
        if (on_public_key)
            rv = attr_list_set_bool(pub, type, forced[i].pub);
        if (rv == CKR_OK && on_private_key)
            rv = attr_list_set_bool(priv, type, forced[i].priv);
    }
    if (rv == CKR_OK)
        rv = attr_list_set(pub, CKA_LABEL, label, sizeof(label) - 1);
    if (rv == CKR_OK)
        rv = attr_list_set(priv, CKA_LABEL, label, sizeof(label) - 1);
    return rv;
}

CK_RV env_attestation_key(const mech_env *env, CK_OBJECT_HANDLE h, EVP_PKEY **key)
{
    se_session *s = env->session;
    se_token *t = s->token;
    mutex_lock(t->lock);
    CK_RV rv = CKR_OK;
    if (h == CK_INVALID_HANDLE) {
        bool found = false;
        tok_id id;
        rv = t->login == LOGIN_USER ? find_attestation(t, &id, &found) : CKR_USER_NOT_LOGGED_IN;
        if (rv == CKR_OK && !found)
            rv = CKR_KEY_NEEDED; /* not manufactured */
        if (rv == CKR_OK)
            h = object_token_handle(t, id);
    }
    se_object *o = NULL;
    if (rv == CKR_OK) {
        rv = object_lookup(s, h, &o);
        if (rv == CKR_OBJECT_HANDLE_INVALID)
            rv = CKR_KEY_HANDLE_INVALID;
    }
    if (rv == CKR_OK &&
        (o->cls != CKO_PRIVATE_KEY || !attr_list_bool(&o->attrs, CKA_SE_ATTESTATION, false)))
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = object_build_key(o); /* its values are masked in o->attrs */
    if (rv == CKR_OK) {
        EVP_PKEY_up_ref(o->key.pkey);
        *key = o->key.pkey;
    }
    mutex_unlock(t->lock);
    return rv;
}
