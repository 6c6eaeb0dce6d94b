/*
 * attrs.c — owned attribute lists (see attrs.h).
 */
#include "attrs.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP 16

void attr_list_init(attr_list *list)
{
    memset(list, 0, sizeof(*list));
}

static bool is_inline(const CK_ATTRIBUTE *attr)
{
    return attr->ulValueLen > 0 && attr->ulValueLen <= ATTR_INLINE_LEN;
}

/* Cleanses and releases items[i]'s value. */
static void free_value(attr_list *list, size_t i)
{
    CK_ATTRIBUTE *attr = &list->items[i];
    if (is_inline(attr)) {
        OPENSSL_cleanse(&list->inlined[i], sizeof(list->inlined[i]));
    } else if (attr->pValue) {
        OPENSSL_cleanse(attr->pValue, attr->ulValueLen);
        free(attr->pValue);
    }
    attr->pValue = NULL;
    attr->ulValueLen = 0;
}

/* Points the inline values from index `from` on at their slots (after
 * the slots moved). */
static void repoint(attr_list *list, size_t from)
{
    for (size_t i = from; i < list->count; i++)
        if (is_inline(&list->items[i]))
            list->items[i].pValue = list->inlined[i].bytes;
}

void attr_list_free(attr_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free_value(list, i);
    free(list->items); /* the inline slots with it: each used one was cleansed above */
    attr_list_init(list);
}

/* Room for want attributes.  items and the inline slots are one block
 * (cap attributes, then cap slots); a bigger one is a new block, the old
 * one cleansed, not realloc'd: a short value may be a secret. */
CK_RV attr_list_reserve(attr_list *list, size_t want)
{
    if (want <= list->cap)
        return CKR_OK;
    size_t cap = list->cap ? list->cap : FIRST_CAP;
    while (cap < want)
        cap *= 2;
    CK_ATTRIBUTE *items = malloc(cap * (sizeof(*items) + sizeof(attr_inline)));
    if (!items)
        return CKR_HOST_MEMORY;
    attr_inline *inlined = (attr_inline *)(items + cap);
    if (list->items) {
        memcpy(items, list->items, list->count * sizeof(*items));
        memcpy(inlined, list->inlined, list->count * sizeof(*inlined));
        OPENSSL_cleanse(list->inlined, list->cap * sizeof(*inlined));
        free(list->items);
    }
    list->items = items;
    list->inlined = inlined;
    list->cap = cap;
    repoint(list, 0);
    return CKR_OK;
}

/* The index of type, or count when absent. */
static size_t index_of(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    size_t i = 0;
    while (i < list->count && list->items[i].type != type)
        i++;
    return i;
}

const CK_ATTRIBUTE *attr_list_find(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    size_t i = index_of(list, type);
    return i < list->count ? &list->items[i] : NULL;
}

bool attr_list_has(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    return index_of(list, type) < list->count;
}

/* Stores a copy of value at index i (i == count appends).  The copy is
 * made first: value may be one of the list's own, which free_value or
 * attr_list_reserve would cleanse or move. */
static CK_RV put(attr_list *list, size_t i, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    attr_inline small;
    void *copy = NULL;
    if (len > 0 && !value)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (len > ATTR_INLINE_LEN) {
        copy = malloc(len);
        if (!copy)
            return CKR_HOST_MEMORY;
        memcpy(copy, value, len);
    } else if (len > 0) {
        memcpy(small.bytes, value, len);
    }
    if (i < list->count) {
        free_value(list, i);
    } else {
        CK_RV rv = attr_list_reserve(list, list->count + 1);
        if (rv != CKR_OK) {
            free(copy);
            OPENSSL_cleanse(&small, sizeof(small));
            return rv;
        }
        i = list->count++;
        list->items[i].type = type;
    }
    if (len > 0 && len <= ATTR_INLINE_LEN) {
        memcpy(list->inlined[i].bytes, small.bytes, len);
        OPENSSL_cleanse(&small, sizeof(small));
        copy = list->inlined[i].bytes;
    }
    list->items[i].pValue = copy;
    list->items[i].ulValueLen = len;
    return CKR_OK;
}

CK_RV attr_list_set(attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    return put(list, index_of(list, type), type, value, len);
}

CK_RV attr_list_set_bool(attr_list *list, CK_ATTRIBUTE_TYPE type, bool value)
{
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return attr_list_set(list, type, &b, sizeof(b));
}

CK_RV attr_list_set_ulong(attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    return attr_list_set(list, type, &value, sizeof(value));
}

CK_RV attr_list_default(attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    size_t i = index_of(list, type);
    return i < list->count ? CKR_OK : put(list, i, type, value, len);
}

CK_RV attr_list_default_bool(attr_list *list, CK_ATTRIBUTE_TYPE type, bool value)
{
    CK_BBOOL b = value ? CK_TRUE : CK_FALSE;
    return attr_list_default(list, type, &b, sizeof(b));
}

CK_RV attr_list_default_ulong(attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    return attr_list_default(list, type, &value, sizeof(value));
}

void attr_list_remove(attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    size_t i = index_of(list, type);
    if (i == list->count)
        return;
    free_value(list, i);
    size_t after = list->count - i - 1;
    memmove(&list->items[i], &list->items[i + 1], after * sizeof(*list->items));
    memmove(&list->inlined[i], &list->inlined[i + 1], after * sizeof(*list->inlined));
    list->count--;
    OPENSSL_cleanse(&list->inlined[list->count], sizeof(*list->inlined));
    repoint(list, i);
}

static CK_RV add_given(attr_list *list, const CK_ATTRIBUTE *in);

static bool same_value(const CK_ATTRIBUTE *a, const void *value, CK_ULONG len)
{
    return a->ulValueLen == len && (len == 0 || memcmp(a->pValue, value, len) == 0);
}

bool attr_is_template(CK_ATTRIBUTE_TYPE type)
{
    return attr_kind_of(type) == ATTR_TEMPLATE;
}

/* A nested template is kept as one byte string: for each attribute its
 * type and length (CK_ULONG each) and its value, so a list (and the
 * store) holds it like any other value, without pointers. */
#define NESTED_HEAD (2 * sizeof(CK_ULONG))
#define NESTED_MAX 4096 /* bytes of one flattened template */

static CK_RV flatten(const CK_ATTRIBUTE *nested, CK_ULONG len, unsigned char **out, size_t *out_len)
{
    if (len % sizeof(CK_ATTRIBUTE) != 0)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    const CK_ATTRIBUTE *items = nested;
    size_t count = len / sizeof(CK_ATTRIBUTE), total = 0;
    for (size_t i = 0; i < count; i++) {
        if (attr_is_template(items[i].type) || (items[i].ulValueLen > 0 && !items[i].pValue) ||
            items[i].ulValueLen > NESTED_MAX)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        total += NESTED_HEAD + items[i].ulValueLen;
        if (total > NESTED_MAX)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    unsigned char *flat = malloc(total ? total : 1), *at = flat;
    if (!flat)
        return CKR_HOST_MEMORY;
    for (size_t i = 0; i < count; i++) {
        CK_ULONG head[2] = {items[i].type, items[i].ulValueLen};
        memcpy(at, head, sizeof(head));
        if (items[i].ulValueLen)
            memcpy(at + NESTED_HEAD, items[i].pValue, items[i].ulValueLen);
        at += NESTED_HEAD + items[i].ulValueLen;
    }
    *out = flat;
    *out_len = total;
    return CKR_OK;
}

/* Calls each(ctx, attribute) for the attributes of a flattened template;
 * stops at the first error. */
static CK_RV each_nested(const CK_ATTRIBUTE *flat, CK_RV (*each)(void *, const CK_ATTRIBUTE *),
                         void *ctx)
{
    const unsigned char *at = flat->pValue, *end = at + flat->ulValueLen;
    CK_RV rv = CKR_OK;
    while (rv == CKR_OK && at < end) {
        CK_ULONG head[2];
        if ((size_t)(end - at) < NESTED_HEAD)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        memcpy(head, at, sizeof(head));
        at += NESTED_HEAD;
        if (head[1] > (size_t)(end - at))
            return CKR_ATTRIBUTE_VALUE_INVALID;
        CK_ATTRIBUTE a = {head[0], (void *)at, head[1]};
        rv = each(ctx, &a);
        at += head[1];
    }
    return rv;
}

static CK_RV add_nested(void *ctx, const CK_ATTRIBUTE *a)
{
    return attr_list_set(ctx, a->type, a->pValue, a->ulValueLen);
}

CK_RV attr_list_from_nested(attr_list *list, const CK_ATTRIBUTE *flat)
{
    return each_nested(flat, add_nested, list);
}

typedef struct nested_out {
    CK_ATTRIBUTE *items;
    size_t count, next;
    CK_RV rv;
} nested_out;

static CK_RV put_nested(void *ctx, const CK_ATTRIBUTE *a)
{
    nested_out *out = ctx;
    if (out->next == out->count)
        return CKR_BUFFER_TOO_SMALL;
    CK_ATTRIBUTE *want = &out->items[out->next++];
    want->type = a->type;
    if (!want->pValue) {
        want->ulValueLen = a->ulValueLen;
    } else if (want->ulValueLen < a->ulValueLen) {
        want->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        out->rv = CKR_BUFFER_TOO_SMALL;
    } else {
        if (a->ulValueLen)
            memcpy(want->pValue, a->pValue, a->ulValueLen);
        want->ulValueLen = a->ulValueLen;
    }
    return CKR_OK;
}

static CK_RV count_nested(void *ctx, const CK_ATTRIBUTE *a)
{
    (void)a;
    ++*(size_t *)ctx;
    return CKR_OK;
}

/* PKCS#11 3.0 §5.7 for an attribute array: NULL asks for the number of
 * attributes (as a length), then each element's pValue NULL asks for
 * that value's length. */
CK_RV attr_nested_get(const CK_ATTRIBUTE *flat, CK_ATTRIBUTE *want)
{
    size_t count = 0;
    CK_RV rv = each_nested(flat, count_nested, &count);
    if (rv != CKR_OK)
        return rv;
    if (!want->pValue) {
        want->ulValueLen = count * sizeof(CK_ATTRIBUTE);
        return CKR_OK;
    }
    if (want->ulValueLen < count * sizeof(CK_ATTRIBUTE)) {
        want->ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return CKR_BUFFER_TOO_SMALL;
    }
    nested_out out = {want->pValue, count, 0, CKR_OK};
    rv = each_nested(flat, put_nested, &out);
    want->ulValueLen = count * sizeof(CK_ATTRIBUTE);
    return rv == CKR_OK ? out.rv : rv;
}

CK_RV attr_list_from_template(attr_list *list, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    if (count > 0 && !tmpl)
        return CKR_ARGUMENTS_BAD;
    for (CK_ULONG i = 0; i < count; i++) {
        const CK_ATTRIBUTE *in = &tmpl[i];
        if (in->ulValueLen == CK_UNAVAILABLE_INFORMATION)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        if (in->ulValueLen > 0 && !in->pValue)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        CK_ATTRIBUTE value = *in;
        unsigned char *flat = NULL;
        if (attr_is_template(in->type)) {
            size_t flat_len = 0;
            CK_RV rv = flatten(in->pValue, in->ulValueLen, &flat, &flat_len);
            if (rv != CKR_OK)
                return rv;
            value.pValue = flat;
            value.ulValueLen = flat_len;
        }
        CK_RV rv = add_given(list, &value);
        free(flat);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

/* One attribute of a caller's template: a type given twice must agree. */
static CK_RV add_given(attr_list *list, const CK_ATTRIBUTE *in)
{
    size_t at = index_of(list, in->type);
    if (at == list->count)
        return put(list, at, in->type, in->pValue, in->ulValueLen);
    return same_value(&list->items[at], in->pValue, in->ulValueLen) ? CKR_OK
                                                                     : CKR_TEMPLATE_INCONSISTENT;
}

CK_RV attr_list_merge(attr_list *list, const attr_list *more)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < more->count; i++)
        rv = add_given(list, &more->items[i]);
    return rv;
}

CK_RV attr_list_copy(attr_list *dst, const attr_list *src)
{
    /* Into an empty list, appended as they are: a list holds each type once. */
    bool empty = dst->count == 0;
    CK_RV rv = attr_list_reserve(dst, dst->count + src->count);
    for (size_t i = 0; i < src->count && rv == CKR_OK; i++) {
        const CK_ATTRIBUTE *a = &src->items[i];
        rv = put(dst, empty ? dst->count : index_of(dst, a->type), a->type, a->pValue,
                 a->ulValueLen);
    }
    return rv;
}

bool attr_list_bool(const attr_list *list, CK_ATTRIBUTE_TYPE type, bool dflt)
{
    const CK_ATTRIBUTE *attr = attr_list_find(list, type);
    if (!attr || attr->ulValueLen != sizeof(CK_BBOOL))
        return dflt;
    return *(const CK_BBOOL *)attr->pValue != CK_FALSE;
}

CK_RV attr_list_ulong(const attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG *out)
{
    const CK_ATTRIBUTE *attr = attr_list_find(list, type);
    if (!attr)
        return CKR_TEMPLATE_INCOMPLETE;
    if (attr->ulValueLen != sizeof(CK_ULONG))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    memcpy(out, attr->pValue, sizeof(CK_ULONG));
    return CKR_OK;
}

CK_RV attr_list_check_sizes(const attr_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const CK_ATTRIBUTE *attr = &list->items[i];
        size_t size;
        switch (attr_kind_of(attr->type)) {
        case ATTR_BOOL: size = sizeof(CK_BBOOL); break;
        case ATTR_ULONG: size = sizeof(CK_ULONG); break;
        case ATTR_DATE:
            if (attr->ulValueLen == 0)
                continue; /* an empty date means "no date" (PKCS#11 3.0 §4.4) */
            size = sizeof(CK_DATE);
            break;
        default: continue; /* byte strings and templates: any length */
        }
        if (attr->ulValueLen != size)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        /* A CK_BBOOL is CK_TRUE or CK_FALSE: another byte would be stored
         * and read back as neither. */
        if (size == sizeof(CK_BBOOL) && *(const CK_BBOOL *)attr->pValue > CK_TRUE)
            return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    return CKR_OK;
}

bool attr_list_matches(const attr_list *list, const CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    for (CK_ULONG i = 0; i < count; i++) {
        const CK_ATTRIBUTE *attr = attr_list_find(list, tmpl[i].type);
        if (!attr || !same_value(attr, tmpl[i].pValue, tmpl[i].ulValueLen))
            return false;
    }
    return true;
}
