/*
 * attr_policy.c — the attribute rules of PKCS#11 3.0 §4 as one table.
 *
 * A row says, for an attribute on a set of object classes, whether it
 * may be given when an object is made, changed later, copied, read, and
 * how the store keeps it.  Create, copy, set, get and store consult only
 * this table; adding an attribute is adding a row.
 */
#include "core.h"
#include "vendor_env.h"

#include <string.h>

/* Object classes as a mask. */
enum {
    C_DATA = 1 << 0,
    C_CERT = 1 << 1,
    C_PUB = 1 << 2,
    C_PRIV = 1 << 3,
    C_SECRET = 1 << 4,
    C_HWF = 1 << 5,
    C_KEY = C_PUB | C_PRIV | C_SECRET,
    C_STORAGE = C_DATA | C_CERT | C_KEY,
    C_ALL = C_STORAGE | C_HWF,
};

/* What an attribute allows. */
enum {
    F_RO = 1 << 0,        /* set by the token only (§4.4 footnote 4) */
    F_MATERIAL = 1 << 1,  /* key material: only C_CreateObject may give it */
    F_SET = 1 << 2,       /* C_SetAttributeValue may change it */
    F_COPY = 1 << 3,      /* C_CopyObject may change it */
    F_SENSITIVE = 1 << 4, /* unreadable when CKA_SENSITIVE or !CKA_EXTRACTABLE */
    F_HIDDEN = 1 << 5,    /* never readable: in-card secrets */
    F_SECRET = 1 << 6,    /* encrypted at rest even on a public object */
    F_LOOKUP = 1 << 7,    /* indexed for C_FindObjects */
    F_SO_ONLY = 1 << 8,   /* only the SO may set it TRUE (CKA_TRUSTED) */
};

typedef struct policy_row {
    CK_ATTRIBUTE_TYPE type;
    unsigned classes;
    unsigned flags;
} policy_row;


static const policy_row rows[] = {
    {CKA_CLASS, C_ALL, F_LOOKUP},
    {CKA_TOKEN, C_STORAGE, F_COPY},
    {CKA_PRIVATE, C_STORAGE, F_COPY},
    {CKA_MODIFIABLE, C_STORAGE, F_COPY},
    {CKA_COPYABLE, C_STORAGE, F_COPY | F_SET},
    {CKA_DESTROYABLE, C_STORAGE, F_COPY | F_SET},
    {CKA_LABEL, C_STORAGE, F_SET | F_LOOKUP},
    {CKA_UNIQUE_ID, C_STORAGE, F_RO},
    /* data objects (§4.5) */
    {CKA_APPLICATION, C_DATA, F_SET},
    {CKA_OBJECT_ID, C_DATA, F_SET},
    {CKA_VALUE, C_DATA, F_SET},
    /* certificates (§4.6) */
    {CKA_CERTIFICATE_TYPE, C_CERT, F_LOOKUP},
    {CKA_TRUSTED, C_CERT, F_SO_ONLY},
    {CKA_CERTIFICATE_CATEGORY, C_CERT, 0},
    {CKA_CHECK_VALUE, C_CERT | C_KEY, 0},
    {CKA_START_DATE, C_CERT | C_KEY, F_SET},
    {CKA_END_DATE, C_CERT | C_KEY, F_SET},
    {CKA_PUBLIC_KEY_INFO, C_CERT | C_PUB | C_PRIV, 0},
    {CKA_SUBJECT, C_CERT, 0},
    {CKA_SUBJECT, C_PUB | C_PRIV, F_SET},
    {CKA_ID, C_CERT | C_KEY, F_SET | F_LOOKUP},
    {CKA_ISSUER, C_CERT, F_SET},
    {CKA_SERIAL_NUMBER, C_CERT, F_SET},
    {CKA_VALUE, C_CERT, 0},
    {CKA_URL, C_CERT, 0},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, C_CERT, 0},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, C_CERT, 0},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, C_CERT, 0},
    /* keys (§4.7–4.9) */
    {CKA_KEY_TYPE, C_KEY, F_LOOKUP},
    {CKA_DERIVE, C_KEY, F_SET},
    {CKA_LOCAL, C_KEY, F_RO},
    {CKA_KEY_GEN_MECHANISM, C_KEY, F_RO},
    {CKA_ALLOWED_MECHANISMS, C_KEY, 0},
    {CKA_ENCRYPT, C_PUB | C_SECRET, F_SET},
    {CKA_VERIFY, C_PUB | C_SECRET, F_SET},
    {CKA_VERIFY_RECOVER, C_PUB, F_SET},
    {CKA_WRAP, C_PUB | C_SECRET, F_SET},
    {CKA_TRUSTED, C_PUB | C_SECRET, F_SO_ONLY},
    {CKA_DECRYPT, C_PRIV | C_SECRET, F_SET},
    {CKA_SIGN, C_PRIV | C_SECRET, F_SET},
    {CKA_SIGN_RECOVER, C_PRIV, F_SET},
    {CKA_UNWRAP, C_PRIV | C_SECRET, F_SET},
    {CKA_SENSITIVE, C_PRIV | C_SECRET, F_SET},
    {CKA_EXTRACTABLE, C_PRIV | C_SECRET, F_SET},
    {CKA_ALWAYS_SENSITIVE, C_PRIV | C_SECRET, F_RO},
    {CKA_NEVER_EXTRACTABLE, C_PRIV | C_SECRET, F_RO},
    {CKA_WRAP_WITH_TRUSTED, C_PRIV | C_SECRET, F_SET},
    {CKA_WRAP_TEMPLATE, C_PUB | C_SECRET, 0},
    {CKA_UNWRAP_TEMPLATE, C_PRIV | C_SECRET, 0},
    {CKA_DERIVE_TEMPLATE, C_PRIV | C_SECRET, 0},
    {CKA_ALWAYS_AUTHENTICATE, C_PRIV, F_SET},
    /* key material */
    {CKA_MODULUS, C_PUB | C_PRIV, F_MATERIAL},
    {CKA_MODULUS_BITS, C_PUB, 0},
    {CKA_PUBLIC_EXPONENT, C_PUB, 0},
    {CKA_PUBLIC_EXPONENT, C_PRIV, F_MATERIAL},
    {CKA_PRIVATE_EXPONENT, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_PRIME_1, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_PRIME_2, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_EXPONENT_1, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_EXPONENT_2, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_COEFFICIENT, C_PRIV, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_EC_PARAMS, C_PUB | C_PRIV, 0},
    {CKA_EC_POINT, C_PUB, F_MATERIAL},
    {CKA_VALUE, C_PUB, F_MATERIAL},
    {CKA_VALUE, C_PRIV | C_SECRET, F_MATERIAL | F_SENSITIVE | F_SECRET},
    {CKA_VALUE_LEN, C_SECRET, 0},
    /* hardware features (§4.3) */
    {CKA_HW_FEATURE_TYPE, C_HWF, F_LOOKUP},
    {CKA_VALUE, C_HWF, F_SET},
    {CKA_RESET_ON_INIT, C_HWF, 0},
    {CKA_HAS_RESET, C_HWF, 0},
    /* vendor attributes (SPEC.md §1) */
    {CKA_SE_HOST_ID, C_SECRET, F_LOOKUP},
    {CKA_SE_FAILURE_COUNT, C_SECRET, F_RO},
    {CKA_SE_FAILURE_LIMIT, C_SECRET, 0},
    {CKA_SE_ATTESTATION, C_CERT | C_PUB | C_PRIV, F_RO | F_LOOKUP},
    {CKA_SE_INTERNAL_SECRET, C_SECRET, F_RO | F_HIDDEN | F_SECRET},
};

/* The most attributes policy_apply_defaults adds to one object (a
 * secret or private key); more would only cost a reallocation. */
#define POLICY_DEFAULTS_MAX 24

static unsigned class_mask(CK_OBJECT_CLASS cls)
{
    switch (cls) {
    case CKO_DATA: return C_DATA;
    case CKO_CERTIFICATE: return C_CERT;
    case CKO_PUBLIC_KEY: return C_PUB;
    case CKO_PRIVATE_KEY: return C_PRIV;
    case CKO_SECRET_KEY: return C_SECRET;
    case CKO_HW_FEATURE: return C_HWF;
    default: return 0;
    }
}

static const policy_row *find_row(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    unsigned mask = class_mask(cls);
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        if (rows[i].type == type && (rows[i].classes & mask))
            return &rows[i];
    return NULL;
}

static CK_OBJECT_CLASS class_of(const attr_list *attrs)
{
    CK_ULONG cls = (CK_ULONG)-1;
    attr_list_ulong(attrs, CKA_CLASS, &cls);
    return cls;
}

CK_RV policy_check_template(CK_OBJECT_CLASS cls, const attr_list *tmpl, policy_origin origin)
{
    if (!class_mask(cls))
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
        const policy_row *row = find_row(cls, a->type);
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
        if (origin == ORIGIN_COPY && !(row->flags & (F_SET | F_COPY)))
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

CK_RV policy_apply_defaults(attr_list *attrs, policy_origin origin)
{
    CK_OBJECT_CLASS cls = class_of(attrs);
    unsigned mask = class_mask(cls);
    bool secretish = mask & (C_PRIV | C_SECRET);
    /* Room for all the defaults below at once. */
    CK_RV rv = attr_list_reserve(attrs, attrs->count + POLICY_DEFAULTS_MAX);
#define DEFAULT_BOOL(type, value) \
    if (rv == CKR_OK) rv = attr_list_default_bool(attrs, type, value)
#define DEFAULT_EMPTY(type) \
    if (rv == CKR_OK) rv = attr_list_default(attrs, type, NULL, 0)

    DEFAULT_BOOL(CKA_TOKEN, false);
    DEFAULT_BOOL(CKA_PRIVATE, secretish); /* keys are private like on a card */
    DEFAULT_BOOL(CKA_MODIFIABLE, true);
    DEFAULT_BOOL(CKA_COPYABLE, true);
    DEFAULT_BOOL(CKA_DESTROYABLE, true);
    DEFAULT_EMPTY(CKA_LABEL);
    if (mask & C_DATA) {
        DEFAULT_EMPTY(CKA_APPLICATION);
        DEFAULT_EMPTY(CKA_OBJECT_ID);
        DEFAULT_EMPTY(CKA_VALUE);
    }
    if (mask & C_CERT) {
        DEFAULT_BOOL(CKA_TRUSTED, false);
        if (rv == CKR_OK)
            rv = attr_list_default_ulong(attrs, CKA_CERTIFICATE_CATEGORY, 0);
        DEFAULT_EMPTY(CKA_ID);
        DEFAULT_EMPTY(CKA_ISSUER);
        DEFAULT_EMPTY(CKA_SERIAL_NUMBER);
        DEFAULT_EMPTY(CKA_SUBJECT);
        DEFAULT_EMPTY(CKA_START_DATE);
        DEFAULT_EMPTY(CKA_END_DATE);
    }
    if (mask & C_KEY) {
        DEFAULT_EMPTY(CKA_ID);
        DEFAULT_EMPTY(CKA_START_DATE);
        DEFAULT_EMPTY(CKA_END_DATE);
        DEFAULT_BOOL(CKA_DERIVE, false);
        if (rv == CKR_OK)
            rv = attr_list_set_bool(attrs, CKA_LOCAL, origin == ORIGIN_GENERATE);
        if (rv == CKR_OK)
            rv = attr_list_default_ulong(attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    }
    if (mask & (C_PUB | C_PRIV))
        DEFAULT_EMPTY(CKA_SUBJECT);
    if (mask & (C_CERT | C_PUB | C_PRIV))
        DEFAULT_BOOL(CKA_SE_ATTESTATION, false); /* the device identity only (SPEC.md §2) */
    /* docs/spec.md §7.2: a key wraps only when asked to, and then (with
     * strict separation) does not also encrypt unless asked. */
    bool transport = !module.config.key_separation_relaxed &&
                     (attr_list_bool(attrs, CKA_WRAP, false) || attr_list_bool(attrs, CKA_UNWRAP, false));
    if (mask & (C_PUB | C_SECRET)) {
        DEFAULT_BOOL(CKA_ENCRYPT, !transport);
        DEFAULT_BOOL(CKA_VERIFY, true);
        DEFAULT_BOOL(CKA_WRAP, false);
        DEFAULT_BOOL(CKA_TRUSTED, false);
    }
    if (mask & C_PUB)
        DEFAULT_BOOL(CKA_VERIFY_RECOVER, true);
    if (mask & (C_PRIV | C_SECRET)) {
        DEFAULT_BOOL(CKA_DECRYPT, !transport);
        DEFAULT_BOOL(CKA_SIGN, true);
        DEFAULT_BOOL(CKA_UNWRAP, false);
        DEFAULT_BOOL(CKA_SENSITIVE, true);
        DEFAULT_BOOL(CKA_EXTRACTABLE, false);
        DEFAULT_BOOL(CKA_WRAP_WITH_TRUSTED, false);
        /* §4.9: only a key generated on the token can have been always
         * sensitive and never extractable; derivation narrows it further. */
        bool generated = origin == ORIGIN_GENERATE || origin == ORIGIN_DERIVE;
        bool sensitive = attr_list_bool(attrs, CKA_SENSITIVE, true);
        bool extractable = attr_list_bool(attrs, CKA_EXTRACTABLE, false);
        if (rv == CKR_OK)
            rv = attr_list_set_bool(attrs, CKA_ALWAYS_SENSITIVE, generated && sensitive);
        if (rv == CKR_OK)
            rv = attr_list_set_bool(attrs, CKA_NEVER_EXTRACTABLE, generated && !extractable);
    }
    if (mask & C_PRIV) {
        DEFAULT_BOOL(CKA_SIGN_RECOVER, false);
        DEFAULT_BOOL(CKA_ALWAYS_AUTHENTICATE, false);
    }
#undef DEFAULT_BOOL
#undef DEFAULT_EMPTY
    return rv;
}

CK_RV policy_check_set(const attr_list *current, const CK_ATTRIBUTE *change, bool so)
{
    const policy_row *row = find_row(class_of(current), change->type);
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
    switch (change->type) {
    case CKA_SENSITIVE:
    case CKA_WRAP_WITH_TRUSTED:
        if (now && !next)
            rv = CKR_ATTRIBUTE_READ_ONLY;
        break;
    case CKA_EXTRACTABLE:
    case CKA_COPYABLE:
        if (!now && next)
            rv = CKR_ATTRIBUTE_READ_ONLY;
        break;
    default:
        break;
    }
out:
    attr_list_free(&probe);
    return rv;
}

CK_RV policy_check_read(const attr_list *attrs, CK_ATTRIBUTE_TYPE type)
{
    const policy_row *row = find_row(class_of(attrs), type);
    if (!row || (row->flags & F_HIDDEN) || !attr_list_has(attrs, type))
        return CKR_ATTRIBUTE_TYPE_INVALID;
    if ((row->flags & F_SENSITIVE) && (attr_list_bool(attrs, CKA_SENSITIVE, true) ||
                                       !attr_list_bool(attrs, CKA_EXTRACTABLE, false)))
        return CKR_ATTRIBUTE_SENSITIVE;
    return CKR_OK;
}

unsigned policy_store_flags(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    const policy_row *row = find_row(cls, type);
    unsigned flags = 0;
    if (row && (row->flags & F_SECRET))
        flags |= TOK_ATTR_SECRET;
    if (row && (row->flags & F_LOOKUP))
        flags |= TOK_ATTR_LOOKUP;
    return flags;
}

bool policy_is_key_material(CK_ATTRIBUTE_TYPE type)
{
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        if (rows[i].type == type && (rows[i].flags & F_MATERIAL))
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

static bool any_true(const attr_list *attrs, CK_ATTRIBUTE_TYPE a, CK_ATTRIBUTE_TYPE b)
{
    return attr_list_bool(attrs, a, false) || attr_list_bool(attrs, b, false);
}

/* Wrap-then-decrypt and encrypt-then-unwrap (Clulow 2003): with strict
 * separation no key both wraps/unwraps and encrypts/decrypts. */
static bool separation_broken(const attr_list *attrs)
{
    return !module.config.key_separation_relaxed && any_true(attrs, CKA_WRAP, CKA_UNWRAP) &&
           any_true(attrs, CKA_ENCRYPT, CKA_DECRYPT);
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
    bool separated = usage == CKA_ENCRYPT || usage == CKA_DECRYPT || usage == CKA_WRAP ||
                     usage == CKA_UNWRAP;
    if (separated && separation_broken(attrs))
        return CKR_KEY_FUNCTION_NOT_PERMITTED;
    return CKR_OK;
}

static bool value_unreadable(const attr_list *key)
{
    return attr_list_bool(key, CKA_SENSITIVE, true) || !attr_list_bool(key, CKA_EXTRACTABLE, false);
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
    if (attr_list_bool(input, CKA_SENSITIVE, true) && !attr_list_bool(made, CKA_SENSITIVE, true))
        return CKR_TEMPLATE_INCONSISTENT;
    if (!attr_list_bool(input, CKA_EXTRACTABLE, false) &&
        attr_list_bool(made, CKA_EXTRACTABLE, false))
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}
