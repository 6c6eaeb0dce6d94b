/*
 * attrs.c — owned attribute lists (see attrs.h).
 */
#include "attrs.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

void attr_list_init(attr_list *list)
{
    memset(list, 0, sizeof(*list));
}

static void free_value(CK_ATTRIBUTE *attr)
{
    if (attr->pValue) {
        OPENSSL_cleanse(attr->pValue, attr->ulValueLen);
        free(attr->pValue);
    }
    attr->pValue = NULL;
    attr->ulValueLen = 0;
}

void attr_list_free(attr_list *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->count; i++)
        free_value(&list->items[i]);
    free(list->items);
    attr_list_init(list);
}

static CK_ATTRIBUTE *find_mut(attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < list->count; i++)
        if (list->items[i].type == type)
            return &list->items[i];
    return NULL;
}

const CK_ATTRIBUTE *attr_list_find(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    return find_mut((attr_list *)list, type);
}

bool attr_list_has(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    return attr_list_find(list, type) != NULL;
}

CK_RV attr_list_set(attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    void *copy = NULL;
    if (len > 0) {
        if (!value)
            return CKR_ATTRIBUTE_VALUE_INVALID;
        copy = malloc(len);
        if (!copy)
            return CKR_HOST_MEMORY;
        memcpy(copy, value, len);
    }
    CK_ATTRIBUTE *attr = find_mut(list, type);
    if (attr) {
        free_value(attr);
    } else {
        if (list->count == list->cap) {
            size_t cap = list->cap ? list->cap * 2 : 16;
            CK_ATTRIBUTE *items = realloc(list->items, cap * sizeof(*items));
            if (!items) {
                free(copy);
                return CKR_HOST_MEMORY;
            }
            list->items = items;
            list->cap = cap;
        }
        attr = &list->items[list->count++];
        attr->type = type;
    }
    attr->pValue = copy;
    attr->ulValueLen = len;
    return CKR_OK;
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
    if (attr_list_has(list, type))
        return CKR_OK;
    return attr_list_set(list, type, value, len);
}

CK_RV attr_list_default_bool(attr_list *list, CK_ATTRIBUTE_TYPE type, bool value)
{
    if (attr_list_has(list, type))
        return CKR_OK;
    return attr_list_set_bool(list, type, value);
}

CK_RV attr_list_default_ulong(attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value)
{
    if (attr_list_has(list, type))
        return CKR_OK;
    return attr_list_set_ulong(list, type, value);
}

void attr_list_remove(attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    CK_ATTRIBUTE *attr = find_mut(list, type);
    if (!attr)
        return;
    free_value(attr);
    size_t index = (size_t)(attr - list->items);
    memmove(attr, attr + 1, (list->count - index - 1) * sizeof(*attr));
    list->count--;
}

static bool same_value(const CK_ATTRIBUTE *a, const void *value, CK_ULONG len)
{
    return a->ulValueLen == len && (len == 0 || memcmp(a->pValue, value, len) == 0);
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
        if (in->type == CKA_WRAP_TEMPLATE || in->type == CKA_UNWRAP_TEMPLATE ||
            in->type == CKA_DERIVE_TEMPLATE)
            return CKR_ATTRIBUTE_TYPE_INVALID; /* nested templates hold pointers: not stored */
        const CK_ATTRIBUTE *prev = attr_list_find(list, in->type);
        if (prev) {
            if (!same_value(prev, in->pValue, in->ulValueLen))
                return CKR_TEMPLATE_INCONSISTENT;
            continue;
        }
        CK_RV rv = attr_list_set(list, in->type, in->pValue, in->ulValueLen);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
}

CK_RV attr_list_copy(attr_list *dst, const attr_list *src)
{
    for (size_t i = 0; i < src->count; i++) {
        CK_RV rv = attr_list_set(dst, src->items[i].type, src->items[i].pValue,
                                 src->items[i].ulValueLen);
        if (rv != CKR_OK)
            return rv;
    }
    return CKR_OK;
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

/* The fixed-size attributes; everything else is a byte string. */
static size_t fixed_size(CK_ATTRIBUTE_TYPE type)
{
    switch (type) {
    case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE:
    case CKA_DESTROYABLE: case CKA_TRUSTED: case CKA_SENSITIVE: case CKA_ENCRYPT:
    case CKA_DECRYPT: case CKA_WRAP: case CKA_UNWRAP: case CKA_SIGN: case CKA_SIGN_RECOVER:
    case CKA_VERIFY: case CKA_VERIFY_RECOVER: case CKA_DERIVE: case CKA_EXTRACTABLE:
    case CKA_LOCAL: case CKA_NEVER_EXTRACTABLE: case CKA_ALWAYS_SENSITIVE:
    case CKA_WRAP_WITH_TRUSTED: case CKA_ALWAYS_AUTHENTICATE: case CKA_RESET_ON_INIT:
    case CKA_HAS_RESET: case CKA_SE_ATTESTATION:
        return sizeof(CK_BBOOL);
    case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE: case CKA_VALUE_LEN:
    case CKA_MODULUS_BITS: case CKA_KEY_GEN_MECHANISM: case CKA_CERTIFICATE_CATEGORY:
    case CKA_JAVA_MIDP_SECURITY_DOMAIN: case CKA_HW_FEATURE_TYPE:
    case CKA_SE_FAILURE_COUNT: case CKA_SE_FAILURE_LIMIT:
        return sizeof(CK_ULONG);
    case CKA_START_DATE: case CKA_END_DATE:
        return sizeof(CK_DATE);
    default:
        return 0;
    }
}

CK_RV attr_list_check_sizes(const attr_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        const CK_ATTRIBUTE *attr = &list->items[i];
        size_t size = fixed_size(attr->type);
        if (size == 0)
            continue;
        /* An empty date means "no date" (PKCS#11 3.0 §4.4). */
        if ((attr->type == CKA_START_DATE || attr->type == CKA_END_DATE) && attr->ulValueLen == 0)
            continue;
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
