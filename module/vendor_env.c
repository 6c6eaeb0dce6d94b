/*
 * vendor_env.c — the core's services to vendor mechanisms (vendor_env.h):
 * audit records, persistent failure counters and the key types a family
 * registered.  The lifecycle rules are in lifecycle.c, the attestation
 * key in identity.c.
 */
#include "core.h"
#include "vendor_env.h"

#define KEY_TYPES_MAX 8
static struct {
    CK_KEY_TYPE type;
    env_key_completer complete;
} key_types[KEY_TYPES_MAX];
static size_t key_type_count;

bool env_register_key_type(CK_KEY_TYPE type, env_key_completer complete)
{
    if (key_type_count == KEY_TYPES_MAX)
        return false;
    key_types[key_type_count].type = type;
    key_types[key_type_count].complete = complete;
    key_type_count++;
    return true;
}

CK_RV vendor_complete_key(const mech_env *env, attr_list *attrs)
{
    CK_ULONG type;
    if (attr_list_ulong(attrs, CKA_KEY_TYPE, &type) != CKR_OK)
        return CKR_OK;
    for (size_t i = 0; i < key_type_count; i++)
        if (key_types[i].type == type)
            return key_types[i].complete(env, type, attrs);
    return CKR_OK;
}

CK_RV env_audit(const mech_env *env, const char *event, const char *detail)
{
    se_token *t = env->session->token;
    mutex_lock(t->lock);
    CK_RV rv = tok_audit_note(t->store, event, detail ? detail : "");
    mutex_unlock(t->lock);
    return rv;
}

/* Failure counters live in the store beside the sealed attributes, so
 * that an increment is one atomic update whoever else counts. */
static CK_RV key_object(se_session *s, const mech_key *key, se_object **o)
{
    CK_RV rv = object_lookup(s, key->handle, o);
    return rv == CKR_OBJECT_HANDLE_INVALID ? CKR_KEY_HANDLE_INVALID : rv;
}

CK_RV env_failure_count(const mech_env *env, const mech_key *key, lifecycle_action action,
                        CK_ULONG *count, CK_ULONG *limit)
{
    se_session *s = env->session;
    se_token *t = s->token;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = key_object(s, key, &o); /* synchronizes with the store first */
    if (rv == CKR_OK)
        rv = lifecycle_check(t, action);
    if (rv == CKR_OK) {
        *limit = SOFTSE_DEFAULT_FAILURE_LIMIT;
        attr_list_ulong(&o->attrs, CKA_SE_FAILURE_LIMIT, limit);
        if (o->on_token) {
            unsigned long value = 0;
            rv = tok_counter_get(t->store, o->id, CKA_SE_FAILURE_COUNT, &value);
            *count = value;
        } else {
            *count = 0;
            attr_list_ulong(&o->attrs, CKA_SE_FAILURE_COUNT, count);
        }
    }
    mutex_unlock(t->lock);
    return rv;
}

CK_RV env_failure_add(const mech_env *env, const mech_key *key, const char *detail,
                      CK_ULONG *count)
{
    se_session *s = env->session;
    se_token *t = s->token;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = key_object(s, key, &o);
    if (rv == CKR_OK && o->on_token) {
        unsigned long value = 0;
        rv = tok_counter_add(t->store, o->id, CKA_SE_FAILURE_COUNT, 1, &value, detail);
        *count = value;
        if (rv == CKR_OK)
            rv = attr_list_set_ulong(&o->attrs, CKA_SE_FAILURE_COUNT, value);
    } else if (rv == CKR_OK) {
        CK_ULONG value = 0;
        attr_list_ulong(&o->attrs, CKA_SE_FAILURE_COUNT, &value);
        *count = value + 1;
        rv = attr_list_set_ulong(&o->attrs, CKA_SE_FAILURE_COUNT, *count);
        if (rv == CKR_OK)
            rv = tok_audit_append(t->store, "failure", detail ? detail : "");
    }
    mutex_unlock(t->lock);
    return rv;
}
