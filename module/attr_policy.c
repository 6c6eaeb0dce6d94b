/*
 * attr_policy.c — the rules of PKCS#11 3.0 §4 and docs/spec.md §7.2 that
 * read the attribute table (attr_table.h): whether an attribute may be
 * given when an object is made, changed later (and which way), copied,
 * read, found, and how the store keeps it; the defaults; which attribute
 * a key role needs.  Create, copy, set, get, find, store and the key
 * operations consult only these; an attribute's facts are its row, and
 * the only per-attribute code left is derived_value (CKA_LOCAL,
 * CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE).
 */
#include "attr_table.h"
#include "core.h"
#include "vendor_env.h"

#include <string.h>

static CK_OBJECT_CLASS class_of(const attr_list *attrs)
{
    CK_ULONG cls = (CK_ULONG)-1;
    attr_list_ulong(attrs, CKA_CLASS, &cls);
    return cls;
}

CK_RV policy_check_template(CK_OBJECT_CLASS cls, const attr_list *tmpl, policy_origin origin)
{
    if (!policy_class_mask(cls))
        return CKR_ATTRIBUTE_VALUE_INVALID; /* a class this token does not hold */
    if (cls == CKO_HW_FEATURE)
        return CKR_TEMPLATE_INCONSISTENT; /* hardware features are the token's */
    CK_RV rv = attr_list_check_sizes(tmpl);
    if (rv != CKR_OK)
        return rv;
    rv = policy_check_value_len(tmpl);
    if (rv != CKR_OK)
        return rv;
    for (size_t i = 0; i < tmpl->count; i++) {
        const CK_ATTRIBUTE *a = &tmpl->items[i];
        const policy_row *row = policy_row_find(cls, a->type);
        if (!row)
            return CKR_ATTRIBUTE_TYPE_INVALID;
        if (a->type == CKA_CLASS) {
            CK_ULONG given;
            memcpy(&given, a->pValue, sizeof(given));
            if (given != cls) /* §5.8: a copy cannot change what the token fixed */
                return origin == ORIGIN_COPY ? CKR_ATTRIBUTE_READ_ONLY : CKR_TEMPLATE_INCONSISTENT;
            continue;
        }
        if (row->flags & F_RO)
            return CKR_ATTRIBUTE_READ_ONLY;
        if (origin == ORIGIN_COPY && !(row->flags & (F_SET | F_COPY_ONLY)))
            return CKR_ATTRIBUTE_READ_ONLY;
        if (origin != ORIGIN_CREATE && (row->flags & F_MATERIAL))
            return CKR_TEMPLATE_INCONSISTENT;
        if ((row->flags & F_SO_ONLY) && attr_list_bool(tmpl, a->type, false))
            return CKR_ATTRIBUTE_READ_ONLY; /* only an SO may mark trust: C_SetAttributeValue */
    }
    return CKR_OK;
}

/* No secret key is larger than SE_MAX_SECRET_LEN: a derivation or a
 * generation asked for a megabyte would only exhaust memory. */
CK_RV policy_check_value_len(const attr_list *tmpl)
{
    CK_ULONG value_len;
    CK_RV rv = attr_list_ulong(tmpl, CKA_VALUE_LEN, &value_len);
    if (rv == CKR_TEMPLATE_INCOMPLETE)
        return CKR_OK;
    if (rv == CKR_OK && (value_len == 0 || value_len > SE_MAX_SECRET_LEN))
        rv = CKR_ATTRIBUTE_VALUE_INVALID;
    return rv;
}

/* The values the token sets itself (DEF_DERIVED rows), whatever was given. */
static bool derived_value(const policy_row *row, const attr_list *attrs, policy_origin origin)
{
    /* §4.9: only a key generated on the token can have been always
     * sensitive and never extractable; derivation narrows it further
     * (key_derive). */
    bool generated = origin == ORIGIN_GENERATE || origin == ORIGIN_DERIVE;
    switch (row->type) {
    case CKA_LOCAL:
        return origin == ORIGIN_GENERATE;
    case CKA_ALWAYS_SENSITIVE:
        return generated && attr_list_bool(attrs, CKA_SENSITIVE, true);
    case CKA_NEVER_EXTRACTABLE:
        return generated && !attr_list_bool(attrs, CKA_EXTRACTABLE, false);
    default:
        return false;
    }
}

/* Whether any attribute of the rows with flag is TRUE in attrs. */
static bool any_flagged_true(const attr_list *attrs, unsigned flag)
{
    const policy_row *const *rows;
    size_t n = policy_flag_rows(flag, &rows);
    for (size_t i = 0; i < n; i++)
        if (attr_list_bool(attrs, rows[i]->type, false))
            return true;
    return false;
}

CK_RV policy_apply_defaults(attr_list *attrs, policy_origin origin)
{
    const policy_row *const *rows;
    size_t n = policy_class_rows(policy_class_mask(class_of(attrs)), &rows), defaults = 0;
    for (size_t i = 0; i < n; i++)
        defaults += rows[i]->dflt != DEF_NONE;
    /* Room for all the defaults at once. */
    CK_RV rv = attr_list_reserve(attrs, attrs->count + defaults);
    /* docs/spec.md §7.2: a key carries keys only when asked to, and then
     * (with strict separation) does not also carry data unless asked. */
    bool transport = !module.config.key_separation_relaxed && any_flagged_true(attrs, F_USE_KEYS);
    /* The constants first: derived values read them. */
    for (size_t i = 0; rv == CKR_OK && i < n; i++) {
        const policy_row *row = rows[i];
        if (row->dflt == DEF_EMPTY) {
            rv = attr_list_default(attrs, row->type, NULL, 0);
        } else if (row->dflt == DEF_CONST && row->kind == ATTR_BOOL) {
            bool value = row->value != CK_FALSE;
            if ((row->flags & F_USE_DATA) && transport)
                value = false;
            rv = attr_list_default_bool(attrs, row->type, value);
        } else if (row->dflt == DEF_CONST) {
            rv = attr_list_default_ulong(attrs, row->type, row->value);
        }
    }
    for (size_t i = 0; rv == CKR_OK && i < n; i++)
        if (rows[i]->dflt == DEF_DERIVED)
            rv = attr_list_set_bool(attrs, rows[i]->type, derived_value(rows[i], attrs, origin));
    return rv;
}

CK_RV policy_check_set(const attr_list *current, const CK_ATTRIBUTE *change, bool so)
{
    const policy_row *row = policy_row_find(class_of(current), change->type);
    if (!row || (row->flags & F_HIDDEN))
        return CKR_ATTRIBUTE_TYPE_INVALID;
    bool allowed = row->flags & (F_SET | F_SO_ONLY);
    if (!allowed)
        return CKR_ATTRIBUTE_READ_ONLY;
    if (row->flags & F_SO_ONLY && !so)
        return CKR_ATTRIBUTE_READ_ONLY;
    attr_list probe;
    attr_list_init(&probe);
    CK_RV rv = attr_list_set(&probe, change->type, change->pValue, change->ulValueLen);
    if (rv == CKR_OK)
        rv = attr_list_check_sizes(&probe);
    if (rv != CKR_OK)
        goto out;
    bool now = attr_list_bool(current, change->type, false);
    bool next = attr_list_bool(&probe, change->type, false);
    /* The one-way attributes (§4.9): only toward more protection. */
    if (((row->flags & F_ONLY_TRUE) && now && !next) ||
        ((row->flags & F_ONLY_FALSE) && !now && next))
        rv = CKR_ATTRIBUTE_READ_ONLY;
out:
    attr_list_free(&probe);
    return rv;
}

/* The value a F_GUARD row protects with: its one-way side. */
static bool guard_side(const policy_row *row)
{
    return (row->flags & F_ONLY_TRUE) != 0;
}

/* Whether attrs hold the guard of row on its protecting side (absent
 * counts as protecting: the default of every guard). */
static bool guarding(const attr_list *attrs, const policy_row *row)
{
    return attr_list_bool(attrs, row->type, guard_side(row)) == guard_side(row);
}

/* Whether some guard (CKA_SENSITIVE TRUE, CKA_EXTRACTABLE FALSE) hides
 * the F_SENSITIVE values of attrs. */
static bool value_unreadable(const attr_list *attrs)
{
    const policy_row *const *rows;
    size_t n = policy_flag_rows(F_GUARD, &rows);
    for (size_t i = 0; i < n; i++)
        if (guarding(attrs, rows[i]))
            return true;
    return false;
}

CK_RV policy_check_copy(CK_OBJECT_CLASS cls, const attr_list *current, const attr_list *changes,
                        bool so)
{
    CK_RV rv = policy_check_template(cls, changes, ORIGIN_COPY);
    for (size_t i = 0; rv == CKR_OK && i < changes->count; i++) {
        const policy_row *row = policy_row_find(cls, changes->items[i].type);
        if (!row || !(row->flags & F_COPY_ONLY))
            rv = policy_check_set(current, &changes->items[i], so);
    }
    return rv;
}

CK_RV policy_check_read(const attr_list *attrs, CK_ATTRIBUTE_TYPE type)
{
    const policy_row *row = policy_row_find(class_of(attrs), type);
    if (!row || (row->flags & F_HIDDEN) || !attr_list_has(attrs, type))
        return CKR_ATTRIBUTE_TYPE_INVALID;
    if ((row->flags & F_SENSITIVE) && value_unreadable(attrs))
        return CKR_ATTRIBUTE_SENSITIVE;
    return CKR_OK;
}

unsigned policy_store_flags(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    const policy_row *row = policy_row_find(cls, type);
    unsigned flags = 0;
    if (row && (row->flags & F_SECRET))
        flags |= TOK_ATTR_SECRET;
    if (row && (row->flags & F_LOOKUP))
        flags |= TOK_ATTR_LOOKUP;
    return flags;
}

bool policy_is_key_material(CK_ATTRIBUTE_TYPE type)
{
    const policy_row *const *rows;
    size_t n = policy_flag_rows(F_MATERIAL, &rows);
    for (size_t i = 0; i < n; i++)
        if (rows[i]->type == type)
            return true;
    return false;
}

bool policy_matches(const attr_list *attrs, const attr_list *want)
{
    /* docs/spec.md §7.2: a value C_GetAttributeValue would not reveal
     * matches nothing, or C_FindObjects would test guesses of it. */
    for (size_t i = 0; i < want->count; i++)
        if (policy_check_read(attrs, want->items[i].type) != CKR_OK)
            return false;
    return attr_list_matches(attrs, want->items, want->count);
}

/* ---- docs/spec.md §7.2: the key-management policy ------------------------ */

/* Wrap-then-decrypt and encrypt-then-unwrap (Clulow 2003): with strict
 * separation no key both carries keys (F_USE_KEYS) and data (F_USE_DATA). */
static bool separation_broken(const attr_list *attrs)
{
    return !module.config.key_separation_relaxed && any_flagged_true(attrs, F_USE_KEYS) &&
           any_flagged_true(attrs, F_USE_DATA);
}

CK_RV policy_check_separation(const attr_list *attrs)
{
    return separation_broken(attrs) ? CKR_TEMPLATE_INCONSISTENT : CKR_OK;
}

CK_RV policy_check_usage(const attr_list *attrs, CK_ATTRIBUTE_TYPE usage)
{
    if (usage && !attr_list_bool(attrs, usage, false))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    /* A key stored before the rule, or under the relaxed setting. */
    bool separated = usage && policy_usage_separated(usage);
    if (separated && separation_broken(attrs))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    return CKR_OK;
}

CK_RV policy_check_wrap(const attr_list *wrapping, const attr_list *key)
{
    if (attr_list_bool(key, CKA_WRAP_WITH_TRUSTED, false) &&
        !attr_list_bool(wrapping, CKA_TRUSTED, false))
        return CKR_KEY_NOT_WRAPPABLE;
    const CK_ATTRIBUTE *tmpl = attr_list_find(wrapping, CKA_WRAP_TEMPLATE);
    if (!tmpl)
        return CKR_OK;
    attr_list want;
    attr_list_init(&want);
    CK_RV rv = attr_list_from_nested(&want, tmpl);
    if (rv == CKR_OK && !attr_list_matches(key, want.items, want.count))
        rv = CKR_KEY_NOT_WRAPPABLE; /* PKCS#11 3.0 §4.8: keys that do not match cannot be wrapped */
    attr_list_free(&want);
    return rv;
}

CK_RV policy_apply_key_template(attr_list *given, const attr_list *key, CK_ATTRIBUTE_TYPE which)
{
    const CK_ATTRIBUTE *tmpl = attr_list_find(key, which);
    if (!tmpl)
        return CKR_OK;
    attr_list forced;
    attr_list_init(&forced);
    CK_RV rv = attr_list_from_nested(&forced, tmpl);
    if (rv == CKR_OK)
        rv = attr_list_merge(given, &forced);
    attr_list_free(&forced);
    return rv;
}

CK_RV policy_check_derived(const attr_list *input, CK_OBJECT_CLASS cls, const attr_list *made)
{
    if (!value_unreadable(input))
        return CKR_OK;
    if (cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY)
        return CKR_KEY_FUNCTION_NOT_PERMITTED; /* data out of a secret no one may read */
    const policy_row *const *rows;
    size_t n = policy_flag_rows(F_GUARD, &rows);
    for (size_t i = 0; i < n; i++)
        if (guarding(input, rows[i]) && !guarding(made, rows[i]))
            return CKR_TEMPLATE_INCONSISTENT; /* it would lower protection */
    return CKR_OK;
}
