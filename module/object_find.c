/*
 * object_find.c — C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal: the
 * indexed attributes of a template go to the store's lookup index, the
 * rest are checked on the loaded objects (object_matches), session objects
 * and the lifecycle object are added from memory.
 */
#include "core.h"
#include "object_internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_lookup(CK_ATTRIBUTE_TYPE type)
{
    return policy_store_flags(CKO_DATA, type) & TOK_ATTR_LOOKUP ||
           policy_store_flags(CKO_CERTIFICATE, type) & TOK_ATTR_LOOKUP ||
           policy_store_flags(CKO_SECRET_KEY, type) & TOK_ATTR_LOOKUP ||
           policy_store_flags(CKO_HW_FEATURE, type) & TOK_ATTR_LOOKUP;
}

static CK_RV find_push(se_find *find, size_t *cap, CK_OBJECT_HANDLE h)
{
    if (find->count == *cap) {
        size_t next = *cap ? *cap * 2 : 64;
        CK_OBJECT_HANDLE *handles = realloc(find->handles, next * sizeof(*handles));
        if (!handles)
            return CKR_HOST_MEMORY;
        find->handles = handles;
        *cap = next;
    }
    find->handles[find->count++] = h;
    return CKR_OK;
}

static CK_RV find_token_objects(se_session *s, const attr_list *want, se_find *find, size_t *cap)
{
    se_token *t = s->token;
    tok_attr match[16];
    size_t m = 0;
    bool all_indexed = true;
    for (size_t i = 0; i < want->count; i++) {
        if (is_lookup(want->items[i].type) && m < ARRAY_SIZE(match)) {
            match[m].type = want->items[i].type;
            match[m].value = want->items[i].pValue;
            match[m].len = want->items[i].ulValueLen;
            match[m].flags = TOK_ATTR_LOOKUP;
            m++;
        } else {
            all_indexed = false;
        }
    }
    CK_RV rv = object_sync(t);
    if (rv != CKR_OK)
        return rv;
    tok_id *ids = NULL;
    size_t found = 0;
    tok_keys clear;
    const tok_keys *keys;
    rv = token_keys_open(t, true, &clear, &keys);
    if (rv == CKR_OK)
        rv = tok_object_find(t->store, keys, match, m, &ids, &found);
    tok_keys_clear(&clear);
    for (size_t i = 0; rv == CKR_OK && i < found; i++) {
        CK_OBJECT_HANDLE h = object_token_handle(t, ids[i]);
        if (!all_indexed) {
            se_object *o;
            CK_RV lrv = object_lookup(s, h, &o);
            if (lrv == CKR_OBJECT_HANDLE_INVALID)
                continue; /* gone meanwhile */
            if (lrv != CKR_OK) {
                rv = lrv;
                break;
            }
            if (!object_matches(o, want))
                continue;
        }
        rv = find_push(find, cap, h);
    }
    free(ids);
    /* §4.3: hardware features only for a search that names their class. */
    CK_ULONG cls;
    se_object *hw;
    if (rv == CKR_OK && attr_list_ulong(want, CKA_CLASS, &cls) == CKR_OK && cls == CKO_HW_FEATURE &&
        (rv = lifecycle_object(t, &hw)) == CKR_OK &&
        policy_matches(&hw->attrs, want))
        rv = find_push(find, cap, hw->handle);
    return rv;
}

CK_RV object_find_init(se_session *s, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count)
{
    if (!tmpl && count > 0)
        return CKR_ARGUMENTS_BAD;
    if (s->find.active)
        return CKR_OPERATION_ACTIVE;
    attr_list want;
    attr_list_init(&want);
    CK_RV rv = attr_list_from_template(&want, tmpl, count);
    if (rv == CKR_ATTRIBUTE_TYPE_INVALID) /* a nested template matches nothing we store */
        rv = CKR_OK;
    if (rv != CKR_OK) {
        attr_list_free(&want);
        return rv;
    }
    se_find find;
    memset(&find, 0, sizeof(find));
    size_t cap = 0;
    se_token *t = s->token;
    mutex_lock(t->lock);
    rv = find_token_objects(s, &want, &find, &cap);
    for (se_object *o = t->session_objects; rv == CKR_OK && o; o = o->next)
        if (object_visible(t, o) && object_matches(o, &want))
            rv = find_push(&find, &cap, o->handle);
    mutex_unlock(t->lock);
    attr_list_free(&want);
    if (rv != CKR_OK) {
        free(find.handles);
        return rv;
    }
    find.active = true;
    s->find = find;
    return CKR_OK;
}

CK_RV object_find(se_session *s, CK_OBJECT_HANDLE_PTR out, CK_ULONG max, CK_ULONG_PTR count)
{
    if (!out || !count)
        return CKR_ARGUMENTS_BAD;
    if (!s->find.active)
        return CKR_OPERATION_NOT_INITIALIZED;
    CK_ULONG n = 0;
    while (n < max && s->find.next < s->find.count)
        out[n++] = s->find.handles[s->find.next++];
    *count = n;
    return CKR_OK;
}

CK_RV object_find_final(se_session *s)
{
    if (!s->find.active)
        return CKR_OPERATION_NOT_INITIALIZED;
    free(s->find.handles);
    memset(&s->find, 0, sizeof(s->find));
    return CKR_OK;
}

