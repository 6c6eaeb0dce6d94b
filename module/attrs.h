/*
 * attrs.h — owned attribute lists: the one representation of an object's
 * attributes and of a caller's template inside the module.  Values are
 * heap copies, cleansed when freed.
 */
#ifndef SOFTSE_ATTRS_H
#define SOFTSE_ATTRS_H

#include "p11.h"

/* Room for a value of up to 8 bytes (CK_BBOOL, CK_ULONG, CK_DATE): most
 * of an object's attributes, kept without an allocation of their own.
 * Such a value moves when the list grows or loses an attribute: a pValue
 * read from a list is valid until the next set, default or remove on it. */
#define ATTR_INLINE_LEN 8
typedef union attr_inline {
    unsigned char bytes[ATTR_INLINE_LEN];
    CK_ULONG ulong; /* alignment for callers reading a CK_ULONG in place */
} attr_inline;

typedef struct attr_list {
    CK_ATTRIBUTE *items;  /* pValue owned (NULL when ulValueLen == 0) */
    attr_inline *inlined; /* items[i]'s value when 0 < ulValueLen ≤ ATTR_INLINE_LEN;
                             in the same allocation as items, after cap of them */
    size_t count;
    size_t cap;
} attr_list;

void attr_list_init(attr_list *list);
void attr_list_free(attr_list *list); /* cleanses every value */

/* Copies a caller's template; CKR_ARGUMENTS_BAD for a NULL template with
 * count > 0, CKR_ATTRIBUTE_VALUE_INVALID for a NULL pValue with a length,
 * CKR_TEMPLATE_INCONSISTENT for a type given twice with different values. */
CK_RV attr_list_from_template(attr_list *list, const CK_ATTRIBUTE *tmpl, CK_ULONG count);
CK_RV attr_list_copy(attr_list *dst, const attr_list *src);
/* Adds more's attributes to list as a caller's template would:
 * CKR_TEMPLATE_INCONSISTENT when list has one of them with another value. */
CK_RV attr_list_merge(attr_list *list, const attr_list *more);

/* An attribute's value type: the kind column of its row in the policy
 * table (module/attr_table.c); ATTR_BYTES for a type it does not know. */
typedef enum attr_kind {
    ATTR_NONE, /* no row has it: the table's unit test refuses it */
    ATTR_BOOL,
    ATTR_ULONG,
    ATTR_BYTES,
    ATTR_DATE,     /* a CK_DATE, or empty for "no date" (PKCS#11 3.0 §4.4) */
    ATTR_TEMPLATE, /* an attribute array, which a list keeps flattened
                      (attr_list_from_template does it) */
} attr_kind;
attr_kind attr_kind_of(CK_ATTRIBUTE_TYPE type);
/* CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE: ATTR_TEMPLATE. */
bool attr_is_template(CK_ATTRIBUTE_TYPE type);
/* The attributes of a flattened template, added to list. */
CK_RV attr_list_from_nested(attr_list *list, const CK_ATTRIBUTE *flat);
/* C_GetAttributeValue of a flattened template into the caller's want. */
CK_RV attr_nested_get(const CK_ATTRIBUTE *flat, CK_ATTRIBUTE *want);
/* Makes room for count attributes in all (one allocation instead of a
 * few as they are added). */
CK_RV attr_list_reserve(attr_list *list, size_t count);

/* Sets (replacing) a copy of value; len 0 stores an empty value. */
CK_RV attr_list_set(attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
CK_RV attr_list_set_bool(attr_list *list, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV attr_list_set_ulong(attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
/* Sets only when type is absent. */
CK_RV attr_list_default_bool(attr_list *list, CK_ATTRIBUTE_TYPE type, bool value);
CK_RV attr_list_default_ulong(attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
CK_RV attr_list_default(attr_list *list, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);
void attr_list_remove(attr_list *list, CK_ATTRIBUTE_TYPE type);

const CK_ATTRIBUTE *attr_list_find(const attr_list *list, CK_ATTRIBUTE_TYPE type);
bool attr_list_has(const attr_list *list, CK_ATTRIBUTE_TYPE type);
/* A CK_BBOOL attribute, or dflt when absent or malformed. */
bool attr_list_bool(const attr_list *list, CK_ATTRIBUTE_TYPE type, bool dflt);
/* CKR_TEMPLATE_INCOMPLETE when absent, CKR_ATTRIBUTE_VALUE_INVALID when not a CK_ULONG. */
CK_RV attr_list_ulong(const attr_list *list, CK_ATTRIBUTE_TYPE type, CK_ULONG *out);
/* Checks the lengths of the fixed-size attributes (CK_BBOOL, CK_ULONG, dates:
 * attr_kind_of) in a template: CKR_ATTRIBUTE_VALUE_INVALID when wrong. */
CK_RV attr_list_check_sizes(const attr_list *list);
/* True when every attribute of tmpl is in list with the same value. */
bool attr_list_matches(const attr_list *list, const CK_ATTRIBUTE *tmpl, CK_ULONG count);

#endif
