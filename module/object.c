/*
 * object.c — objects as PKCS#11 sees them: handles, visibility, the
 * per-token cache of loaded token objects, and the object functions.
 *
 * Handles: a token object's handle is (slot + 1) << 40 | store id, the
 * same in every process; a session object's has bit 62 set.  Token
 * objects are loaded lazily, one at a time, and the cache is dropped
 * whenever another connection changed the store (data_version).
 * C_FindObjects is in object_find.c, the key material objects lend to
 * mechanisms in object_key.c.
 */
#include "core.h"
#include "key_cache.h"
#include "object_internal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SESSION_OBJECT_BIT (1UL << 62)
#define SLOT_SHIFT 40
#define ID_MASK ((1UL << SLOT_SHIFT) - 1)
#define CACHE_BUCKETS 4096
#define CACHE_MAX 16384      /* then the cache starts over */
#define LIFECYCLE_ID ID_MASK /* the hardware-feature object: not a store row */

bool object_is_key_class(CK_OBJECT_CLASS cls)
{
    return cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

static void object_free(se_object *o)
{
    if (!o)
        return;
    if (o->key_ready)
        mech_key_free(&o->key);
    attr_list_free(&o->attrs);
    free(o);
}

/* ---- masked values (secret.h) ---------------------------------------- */

/* The values kept masked: those the store seals (encrypted at rest even
 * on a public object), which are every key's secret material. */
bool object_masked_type(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    return (policy_store_flags(cls, type) & TOK_ATTR_SECRET) != 0;
}

CK_RV object_xor_masked(CK_OBJECT_CLASS cls, const unsigned char *nonce, attr_list *list)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < list->count; i++) {
        CK_ATTRIBUTE *a = &list->items[i];
        if (a->ulValueLen > 0 && object_masked_type(cls, a->type))
            rv = secret_xor(nonce, a->type, a->pValue, a->ulValueLen);
    }
    return rv;
}

/* Masks a list about to become o's attributes, under a fresh nonce. */
static CK_RV mask_for(se_object *o, attr_list *list)
{
    CK_RV rv = secret_nonce(o->nonce);
    return rv == CKR_OK ? object_xor_masked(o->cls, o->nonce, list) : rv;
}

/* A clear copy of o's attributes: free it (cleansed) with attr_list_free. */
CK_RV object_clear_attrs(const se_object *o, attr_list *out)
{
    CK_RV rv = attr_list_copy(out, &o->attrs);
    return rv == CKR_OK ? object_xor_masked(o->cls, o->nonce, out) : rv;
}

/* policy_matches on o, unmasking only when want names a masked value. */
bool object_matches(const se_object *o, const attr_list *want)
{
    bool names_masked = false;
    for (size_t i = 0; i < want->count && !names_masked; i++)
        names_masked = object_masked_type(o->cls, want->items[i].type);
    if (!names_masked)
        return policy_matches(&o->attrs, want);
    attr_list clear;
    attr_list_init(&clear);
    bool match = object_clear_attrs(o, &clear) == CKR_OK && policy_matches(&clear, want);
    attr_list_free(&clear);
    return match;
}

static CK_OBJECT_HANDLE token_handle(const se_token *t, tok_id id)
{
    return ((CK_OBJECT_HANDLE)(t->slot_id + 1) << SLOT_SHIFT) | id;
}

CK_OBJECT_HANDLE object_token_handle(const se_token *t, tok_id id)
{
    return token_handle(t, id);
}

void object_cache_clear(se_token *t, bool session_objects_too)
{
    key_cache_clear(t);
    t->attestation_known = false;
    if (t->cache) {
        for (size_t i = 0; i < t->cache_size; i++) {
            se_object *o = t->cache[i];
            while (o) {
                se_object *next = o->next;
                object_free(o);
                o = next;
            }
            t->cache[i] = NULL;
        }
    }
    t->cache_count = 0;
    object_free(t->lifecycle_object);
    t->lifecycle_object = NULL;
    if (session_objects_too) {
        se_object *o = t->session_objects;
        while (o) {
            se_object *next = o->next;
            object_free(o);
            o = next;
        }
        t->session_objects = NULL;
    }
}

bool object_drop_session(se_token *t, CK_SESSION_HANDLE owner)
{
    bool secret = false;
    key_cache_drop_session(t, owner);
    se_object **link = &t->session_objects;
    while (*link) {
        se_object *o = *link;
        if (o->owner == owner) {
            key_cache_clear(t); /* other sessions may have borrowed it */
            secret |= o->cls == CKO_SECRET_KEY;
            *link = o->next;
            object_free(o);
        } else {
            link = &o->next;
        }
    }
    return secret;
}

static CK_RV cache_insert(se_token *t, se_object *o)
{
    if (!t->cache) {
        t->cache = calloc(CACHE_BUCKETS, sizeof(*t->cache));
        if (!t->cache)
            return CKR_HOST_MEMORY;
        t->cache_size = CACHE_BUCKETS;
    }
    if (t->cache_count >= CACHE_MAX)
        object_cache_clear(t, false);
    size_t b = o->id % t->cache_size;
    o->next = t->cache[b];
    t->cache[b] = o;
    t->cache_count++;
    return CKR_OK;
}

static void cache_remove(se_token *t, tok_id id)
{
    if (!t->cache)
        return;
    for (se_object **link = &t->cache[id % t->cache_size]; *link; link = &(*link)->next) {
        if ((*link)->id == id) {
            key_cache_clear(t);
            se_object *o = *link;
            *link = o->next;
            object_free(o);
            t->cache_count--;
            return;
        }
    }
}

/* Drops the cache when another process committed a change. */
CK_RV object_sync(se_token *t)
{
    uint64_t version;
    CK_RV rv = tok_data_version(t->store, &version);
    if (rv != CKR_OK)
        return rv;
    if (version != t->data_version) {
        unsigned long seen = t->info.erasures;
        object_cache_clear(t, false);
        t->data_version = version;
        rv = tok_get_info(t->store, &t->info);
        /* docs/spec.md §7.2: a reset, termination or re-initialization by
         * another process erased keys; this process's session objects
         * (copies of them among them) end with it, as they do in that
         * process.  The store counts erasures, so that a round trip
         * between two looks (reset, then operational again) is seen. */
        if (rv == CKR_OK && t->info.erasures != seen)
            object_cache_clear(t, true);
    }
    return rv;
}

/* The CKH_SE_LIFECYCLE object, built from the token's state. */
CK_RV lifecycle_object(se_token *t, se_object **out)
{
    if (!t->lifecycle_object) {
        se_object *o = calloc(1, sizeof(*o));
        if (!o)
            return CKR_HOST_MEMORY;
        o->on_token = true;
        o->id = LIFECYCLE_ID;
        o->handle = token_handle(t, LIFECYCLE_ID);
        o->cls = CKO_HW_FEATURE;
        CK_RV rv = lifecycle_attrs(t, &o->attrs);
        if (rv != CKR_OK) {
            object_free(o);
            return rv;
        }
        t->lifecycle_object = o;
    }
    *out = t->lifecycle_object;
    return CKR_OK;
}


static CK_RV set_unique_id(se_token *t, se_object *o)
{
    char id[64];
    int n = o->on_token
                ? snprintf(id, sizeof(id), "%.16s:%llu", t->info.serial, (unsigned long long)o->id)
                : snprintf(id, sizeof(id), "session:%llu",
                           (unsigned long long)(o->handle & ~SESSION_OBJECT_BIT));
    return attr_list_set(&o->attrs, CKA_UNIQUE_ID, id, (CK_ULONG)n);
}

static CK_RV load_token_object(se_token *t, tok_id id, se_object **out)
{
    /* Only the user sees private objects; the SO's keys still open
     * the sealed values of public objects. */
    tok_keys clear;
    const tok_keys *keys;
    bool is_private = false;
    tok_attr *attrs = NULL;
    size_t count = 0;
    CK_RV rv = token_keys_open(t, false, &clear, &keys);
    if (rv == CKR_OK)
        rv = tok_object_load(t->store, keys, id, &is_private, &attrs, &count);
    tok_keys_clear(&clear);
    if (rv == CKR_USER_NOT_LOGGED_IN)
        return CKR_OBJECT_HANDLE_INVALID;
    if (rv != CKR_OK)
        return rv;
    se_object *o = calloc(1, sizeof(*o));
    if (!o) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    o->on_token = true;
    o->id = id;
    o->handle = token_handle(t, id);
    o->is_private = is_private;
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        if (attrs[i].flags & TOK_ATTR_LOCKED)
            o->sealed = true;
        else
            rv = attr_list_set(&o->attrs, attrs[i].type, attrs[i].value, attrs[i].len);
    }
    CK_ULONG cls = CK_UNAVAILABLE_INFORMATION;
    if (rv == CKR_OK)
        attr_list_ulong(&o->attrs, CKA_CLASS, &cls);
    o->cls = cls;
    /* What the policy seals must have come back sealed: a row whose
     * sealed mark and secret flag were both cleared in the file would
     * otherwise hand out its ciphertext as the value. */
    for (size_t i = 0; rv == CKR_OK && i < count; i++) {
        if ((policy_store_flags(cls, attrs[i].type) & TOK_ATTR_SECRET) &&
            !(attrs[i].flags & TOK_ATTR_SECRET)) {
            se_log(SE_LOG_ERROR, "token object %llu: attribute 0x%lx is stored unsealed",
                   (unsigned long long)id, (unsigned long)attrs[i].type);
            rv = CKR_DEVICE_ERROR;
        }
    }
    if (rv == CKR_OK && attr_list_has(&o->attrs, CKA_SE_FAILURE_COUNT)) {
        unsigned long failures = 0; /* the live count is kept outside the sealed values */
        rv = tok_counter_get(t->store, id, CKA_SE_FAILURE_COUNT, &failures);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong(&o->attrs, CKA_SE_FAILURE_COUNT, failures);
    }
    if (rv == CKR_OK)
        rv = set_unique_id(t, o);
    if (rv == CKR_OK)
        rv = mask_for(o, &o->attrs);
    if (rv == CKR_OK)
        rv = cache_insert(t, o);
    if (rv == CKR_OK) {
        *out = o;
        o = NULL;
    }
out:
    object_free(o);
    tok_attrs_free(attrs, count);
    return rv;
}

bool object_visible(const se_token *t, const se_object *o)
{
    return !o->is_private || t->login == LOGIN_USER;
}

static CK_RV lookup(se_session *s, CK_OBJECT_HANDLE h, bool sync, se_object **out)
{
    se_token *t = s->token;
    if (h & SESSION_OBJECT_BIT) {
        for (se_object *o = t->session_objects; o; o = o->next) {
            if (o->handle == h && object_visible(t, o)) {
                *out = o;
                return CKR_OK;
            }
        }
        return CKR_OBJECT_HANDLE_INVALID;
    }
    if ((h >> SLOT_SHIFT) != t->slot_id + 1 || (h & ID_MASK) == 0)
        return CKR_OBJECT_HANDLE_INVALID;
    CK_RV rv = sync ? object_sync(t) : CKR_OK;
    if (rv != CKR_OK)
        return rv;
    tok_id id = h & ID_MASK;
    se_object *o = NULL;
    if (id == LIFECYCLE_ID)
        return lifecycle_object(t, out);
    if (t->cache)
        for (o = t->cache[id % t->cache_size]; o && o->id != id; o = o->next)
            ;
    if (!o) {
        rv = load_token_object(t, id, &o);
        if (rv != CKR_OK)
            return rv;
    }
    if (!object_visible(t, o))
        return CKR_OBJECT_HANDLE_INVALID;
    *out = o;
    return CKR_OK;
}

CK_RV object_lookup_synced(se_session *s, CK_OBJECT_HANDLE h, se_object **out)
{
    return lookup(s, h, false, out);
}

CK_RV object_lookup(se_session *s, CK_OBJECT_HANDLE h, se_object **out)
{
    return lookup(s, h, true, out);
}

static CK_RV to_store_attrs(const attr_list *attrs, CK_OBJECT_CLASS cls, tok_attr **out)
{
    tok_attr *list = calloc(attrs->count ? attrs->count : 1, sizeof(*list));
    if (!list)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < attrs->count; i++) {
        list[i].type = attrs->items[i].type;
        list[i].value = attrs->items[i].pValue; /* borrowed */
        list[i].len = attrs->items[i].ulValueLen;
        list[i].flags = policy_store_flags(cls, attrs->items[i].type);
    }
    *out = list;
    return CKR_OK;
}

/* Store-side copy of attrs without the computed ones. */
static void strip_computed(attr_list *attrs)
{
    attr_list_remove(attrs, CKA_UNIQUE_ID);
}

CK_RV object_store(se_session *s, attr_list *attrs, const char *audit, CK_OBJECT_HANDLE *out)
{
    se_token *t = s->token;
    bool on_token = attr_list_bool(attrs, CKA_TOKEN, false);
    bool is_private = attr_list_bool(attrs, CKA_PRIVATE, false);
    CK_ULONG cls = CK_UNAVAILABLE_INFORMATION;
    attr_list_ulong(attrs, CKA_CLASS, &cls);
    CK_RV rv = lifecycle_check(t, LC_OBJECT_WRITE);
    if (rv == CKR_OK)
        rv = policy_check_separation(attrs);
    if (rv != CKR_OK)
        return rv;
    /* The certificates of the device identity are those the SO stores
     * under its reserved labels (docs/spec.md §2); a user's look-alike is not. */
    if (cls == CKO_CERTIFICATE && t->login == LOGIN_SO && identity_label(attrs)) {
        CK_RV mark = attr_list_set_bool(attrs, CKA_SE_ATTESTATION, true);
        if (mark != CKR_OK)
            return mark;
    }
    /* Private objects are the user's; the SO makes only the identity key. */
    bool identity = attr_list_bool(attrs, CKA_SE_ATTESTATION, false);
    if (is_private && t->login != LOGIN_USER && !(identity && t->login == LOGIN_SO))
        return CKR_USER_NOT_LOGGED_IN;
    if (on_token && !session_is_rw(s))
        return CKR_SESSION_READ_ONLY;
    strip_computed(attrs);

    se_object *o = calloc(1, sizeof(*o));
    if (!o)
        return CKR_HOST_MEMORY;
    o->on_token = on_token;
    o->is_private = is_private;
    o->cls = cls;
    if (on_token) {
        tok_attr *list = NULL;
        tok_keys clear;
        const tok_keys *keys;
        rv = to_store_attrs(attrs, cls, &list);
        if (rv == CKR_OK)
            rv = token_keys_open(t, false, &clear, &keys);
        if (rv == CKR_OK)
            rv = tok_object_create(t->store, keys, is_private, list, attrs->count, audit, &o->id);
        tok_keys_clear(&clear);
        free(list);
        if (rv != CKR_OK)
            goto out;
        o->handle = token_handle(t, o->id);
    } else {
        /* docs/spec.md §3: every key made is recorded, session keys too. */
        if (audit && object_is_key_class(cls)) {
            rv = tok_audit_note(t->store, "object-created", audit);
            if (rv != CKR_OK)
                goto out;
        }
        o->owner = s->handle;
        o->handle = SESSION_OBJECT_BIT | ++t->next_session_object;
    }
    rv = mask_for(o, attrs);
    if (rv != CKR_OK)
        goto out;
    o->attrs = *attrs; /* takes the values */
    attr_list_init(attrs);
    rv = set_unique_id(t, o);
    if (rv != CKR_OK)
        goto out;
    if (on_token) {
        object_sync(t); /* our own commit bumps no version, others' do */
        rv = cache_insert(t, o);
    } else {
        o->next = t->session_objects;
        t->session_objects = o;
    }
    if (rv == CKR_OK) {
        *out = o->handle;
        o = NULL;
    }
out:
    object_free(o);
    return rv;
}

/* Completes a C_CreateObject template: validates key material by
 * building the key, and adds the values the token computes. */
static CK_RV complete_created(se_session *s, CK_OBJECT_CLASS cls, attr_list *attrs)
{
    CK_RV rv = CKR_OK;
    CK_ULONG type;
    switch (cls) {
    case CKO_CERTIFICATE:
        rv = attr_list_ulong(attrs, CKA_CERTIFICATE_TYPE, &type);
        if (rv == CKR_OK && !attr_list_has(attrs, CKA_VALUE))
            rv = CKR_TEMPLATE_INCOMPLETE;
        return rv;
    case CKO_PUBLIC_KEY:
    case CKO_PRIVATE_KEY:
    case CKO_SECRET_KEY: {
        rv = attr_list_ulong(attrs, CKA_KEY_TYPE, &type);
        if (rv != CKR_OK)
            return rv;
        mech_key key;
        memset(&key, 0, sizeof(key));
        rv = mech_key_from_attrs(attrs, &key);
        if (rv != CKR_OK)
            return rv;
        /* The configured smallest RSA modulus (rsa_min_bits, mech.h): a
         * key the token would refuse to use is not imported either. */
        if (key.type == CKK_RSA && key.pkey && mech_key_size(&key) < mech_rsa_min_bits()) {
            mech_key_free(&key);
            return CKR_ATTRIBUTE_VALUE_INVALID;
        }
        if (cls == CKO_SECRET_KEY) {
            rv = vendor_complete_key(&s->env, attrs);
            CK_ULONG given;
            if (rv != CKR_OK)
                ;
            else if (attr_list_ulong(attrs, CKA_VALUE_LEN, &given) == CKR_OK &&
                     given != key.secret_len)
                rv = CKR_TEMPLATE_INCONSISTENT;
            else
                rv = attr_list_set_ulong(attrs, CKA_VALUE_LEN, key.secret_len);
            if (rv == CKR_OK)
                rv = mech_set_check_value(attrs);
        } else if (key.pkey && !attr_list_has(attrs, CKA_PUBLIC_KEY_INFO)) {
            attr_list pub;
            attr_list_init(&pub);
            rv = mech_public_attrs(key.pkey, &pub);
            const CK_ATTRIBUTE *info = attr_list_find(&pub, CKA_PUBLIC_KEY_INFO);
            if (rv == CKR_OK && info)
                rv = attr_list_set(attrs, CKA_PUBLIC_KEY_INFO, info->pValue, info->ulValueLen);
            attr_list_free(&pub);
        }
        mech_key_free(&key);
        return rv;
    }
    default:
        return CKR_OK;
    }
}

static const char *class_name(CK_OBJECT_CLASS cls)
{
    switch (cls) {
    case CKO_DATA:
        return "data";
    case CKO_CERTIFICATE:
        return "certificate";
    case CKO_PUBLIC_KEY:
        return "public key";
    case CKO_PRIVATE_KEY:
        return "private key";
    case CKO_SECRET_KEY:
        return "secret key";
    default:
        return "object";
    }
}

CK_RV object_create(se_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
    if (!out || (!tmpl && count > 0))
        return CKR_ARGUMENTS_BAD;
    attr_list attrs;
    attr_list_init(&attrs);
    CK_ULONG cls;
    CK_RV rv = attr_list_from_template(&attrs, tmpl, count);
    if (rv == CKR_OK)
        rv = attr_list_ulong(&attrs, CKA_CLASS, &cls);
    if (rv == CKR_OK)
        rv = policy_check_template(cls, &attrs, ORIGIN_CREATE);
    if (rv == CKR_OK)
        rv = complete_created(s, cls, &attrs);
    if (rv == CKR_OK)
        rv = policy_apply_defaults(&attrs, ORIGIN_CREATE);
    if (rv == CKR_OK) {
        char audit[64];
        snprintf(audit, sizeof(audit), "create %s", class_name(cls));
        mutex_lock(s->token->lock);
        rv = object_store(s, &attrs, audit, out);
        mutex_unlock(s->token->lock);
    }
    attr_list_free(&attrs);
    return rv;
}

CK_RV object_copy(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                  CK_OBJECT_HANDLE_PTR out)
{
    if (!out || (!tmpl && count > 0))
        return CKR_ARGUMENTS_BAD;
    se_token *t = s->token;
    attr_list changes, attrs;
    attr_list_init(&changes);
    attr_list_init(&attrs);
    CK_RV rv = attr_list_from_template(&changes, tmpl, count);
    if (rv != CKR_OK)
        goto done;
    mutex_lock(t->lock);
    se_object *src;
    rv = object_lookup(s, h, &src);
    if (rv != CKR_OK)
        goto out;
    if (!attr_list_bool(&src->attrs, CKA_COPYABLE, true) || src->cls == CKO_HW_FEATURE) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    if (src->sealed) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    rv = policy_check_copy(src->cls, &src->attrs, &changes, t->login == LOGIN_SO);
    if (rv == CKR_OK)
        rv = object_clear_attrs(src, &attrs);
    if (rv == CKR_OK)
        rv = attr_list_copy(&attrs, &changes);
    if (rv == CKR_OK)
        rv = object_store(s, &attrs, "copy object", out);
out:
    mutex_unlock(t->lock);
done:
    attr_list_free(&changes);
    attr_list_free(&attrs);
    return rv;
}

CK_RV object_destroy(se_session *s, CK_OBJECT_HANDLE h)
{
    se_token *t = s->token;
    bool secret = false;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = object_lookup(s, h, &o);
    if (rv != CKR_OK)
        goto out;
    if (!attr_list_bool(&o->attrs, CKA_DESTROYABLE, true) || o->cls == CKO_HW_FEATURE) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    rv = lifecycle_check(t, LC_OBJECT_WRITE);
    if (rv != CKR_OK)
        goto out;
    secret = o->cls == CKO_SECRET_KEY;
    if (o->on_token) {
        if (!session_is_rw(s)) {
            rv = CKR_SESSION_READ_ONLY;
            goto out;
        }
        char audit[64];
        snprintf(audit, sizeof(audit), "destroy %s", class_name(o->cls));
        tok_id id = o->id;
        rv = tok_object_destroy(t->store, id, audit);
        if (rv == CKR_OK)
            cache_remove(t, id);
    } else {
        if (object_is_key_class(o->cls)) {
            char audit[64];
            snprintf(audit, sizeof(audit), "destroy session %s", class_name(o->cls));
            rv = tok_audit_note(t->store, "object-destroyed", audit);
            if (rv != CKR_OK)
                goto out;
        }
        key_cache_clear(t);
        for (se_object **link = &t->session_objects; *link; link = &(*link)->next) {
            if (*link == o) {
                *link = o->next;
                object_free(o);
                break;
            }
        }
    }
out:
    mutex_unlock(t->lock);
    /* A secret key's in-use copies go with it: the HMAC contexts the
     * token's sessions keep (most are another key's, and are keyed again). */
    if (rv == CKR_OK && secret)
        sessions_drop_parked(t);
    return rv;
}

CK_RV object_size(se_session *s, CK_OBJECT_HANDLE h, CK_ULONG_PTR size)
{
    if (!size)
        return CKR_ARGUMENTS_BAD;
    se_token *t = s->token;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = object_lookup(s, h, &o);
    if (rv == CKR_OK) {
        CK_ULONG total = 0;
        for (size_t i = 0; i < o->attrs.count; i++)
            total += sizeof(CK_ATTRIBUTE) + o->attrs.items[i].ulValueLen;
        *size = total;
    }
    mutex_unlock(t->lock);
    return rv;
}

/* PKCS#11 3.0 §5.7 C_GetAttributeValue: every attribute is answered;
 * the unavailable ones get CK_UNAVAILABLE_INFORMATION and the call
 * returns the (last) reason. */
CK_RV object_get_attributes(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count)
{
    if (!tmpl && count > 0)
        return CKR_ARGUMENTS_BAD;
    se_token *t = s->token;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = object_lookup(s, h, &o);
    if (rv != CKR_OK)
        goto out;
    for (CK_ULONG i = 0; i < count; i++) {
        CK_ATTRIBUTE *want = &tmpl[i];
        CK_RV why = policy_check_read(&o->attrs, want->type);
        if (why == CKR_ATTRIBUTE_TYPE_INVALID && o->sealed)
            why = CKR_ATTRIBUTE_SENSITIVE; /* a sealed value: not without a login */
        if (why != CKR_OK) {
            want->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = why;
            continue;
        }
        const CK_ATTRIBUTE *have = attr_list_find(&o->attrs, want->type);
        if (attr_is_template(want->type)) { /* kept flattened: handed back as an array */
            CK_RV nested = attr_nested_get(have, want);
            if (nested != CKR_OK)
                rv = nested;
        } else if (!want->pValue) {
            want->ulValueLen = have->ulValueLen;
        } else if (want->ulValueLen < have->ulValueLen) {
            want->ulValueLen = CK_UNAVAILABLE_INFORMATION;
            rv = CKR_BUFFER_TOO_SMALL;
        } else {
            CK_RV unmask = CKR_OK;
            if (have->ulValueLen)
                memcpy(want->pValue, have->pValue, have->ulValueLen);
            if (have->ulValueLen && object_masked_type(o->cls, want->type))
                unmask = secret_xor(o->nonce, want->type, want->pValue, have->ulValueLen);
            if (unmask != CKR_OK) {
                OPENSSL_cleanse(want->pValue, have->ulValueLen);
                want->ulValueLen = CK_UNAVAILABLE_INFORMATION;
                rv = unmask;
                continue;
            }
            want->ulValueLen = have->ulValueLen;
        }
    }
out:
    mutex_unlock(t->lock);
    return rv;
}

CK_RV object_set_attributes(se_session *s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_PTR tmpl,
                            CK_ULONG count)
{
    if (!tmpl && count > 0)
        return CKR_ARGUMENTS_BAD;
    se_token *t = s->token;
    attr_list changes, next;
    attr_list_init(&changes);
    attr_list_init(&next);
    CK_RV rv = attr_list_from_template(&changes, tmpl, count);
    if (rv != CKR_OK)
        goto done;
    mutex_lock(t->lock);
    se_object *o;
    rv = object_lookup(s, h, &o);
    if (rv != CKR_OK)
        goto out;
    if (o->cls == CKO_HW_FEATURE) {
        for (size_t i = 0; rv == CKR_OK && i < changes.count; i++)
            rv = lifecycle_transition(s, &changes.items[i]);
        goto out;
    }
    rv = lifecycle_check(t, LC_OBJECT_WRITE);
    if (rv != CKR_OK)
        goto out;
    if (!attr_list_bool(&o->attrs, CKA_MODIFIABLE, true)) {
        rv = CKR_ACTION_PROHIBITED;
        goto out;
    }
    if (o->on_token && !session_is_rw(s)) {
        rv = CKR_SESSION_READ_ONLY;
        goto out;
    }
    if (o->sealed) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    for (size_t i = 0; rv == CKR_OK && i < changes.count; i++)
        rv = policy_check_set(&o->attrs, &changes.items[i], t->login == LOGIN_SO);
    if (rv == CKR_OK)
        rv = object_clear_attrs(o, &next);
    if (rv == CKR_OK)
        rv = attr_list_copy(&next, &changes);
    if (rv == CKR_OK)
        rv = policy_check_separation(&next);
    if (rv != CKR_OK)
        goto out;
    if (o->on_token) {
        strip_computed(&next);
        tok_attr *list = NULL;
        tok_keys clear;
        const tok_keys *keys;
        rv = to_store_attrs(&next, o->cls, &list);
        if (rv == CKR_OK)
            rv = token_keys_open(t, false, &clear, &keys);
        if (rv == CKR_OK)
            rv = tok_object_update(t->store, keys, o->id, o->is_private, list, next.count, NULL);
        tok_keys_clear(&clear);
        free(list);
        if (rv != CKR_OK)
            goto out;
        cache_remove(t, o->id); /* reloaded on next use */
    } else {
        unsigned char kept[SECRET_NONCE_LEN]; /* o->attrs stay masked under it on failure */
        memcpy(kept, o->nonce, sizeof(kept));
        rv = mask_for(o, &next);
        if (rv != CKR_OK) {
            memcpy(o->nonce, kept, sizeof(kept));
            goto out;
        }
        key_cache_clear(t);
        attr_list_free(&o->attrs);
        o->attrs = next;
        attr_list_init(&next);
        if (o->key_ready)
            mech_key_free(&o->key);
        o->key_ready = false;
    }
out:
    mutex_unlock(t->lock);
done:
    attr_list_free(&changes);
    attr_list_free(&next);
    return rv;
}
