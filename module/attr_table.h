/*
 * attr_table.h — the attribute policy as one table: a row says
 * everything the module knows about an attribute on a set of object
 * classes (value type, default, who may give or change it, which way it
 * may change, how it is read, found and stored, which key roles need
 * it).  The rows are data: the core's in attr_table.c, the vendor
 * room's in vendor-mechs/vendor_attrs.c; the rules that read them are in
 * attr_policy.c.  Adding an attribute rule is adding (or editing) a row.
 */
#ifndef SOFTSE_ATTR_TABLE_H
#define SOFTSE_ATTR_TABLE_H

#include "attrs.h"

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
    F_SET = 1 << 2,       /* C_SetAttributeValue (and C_CopyObject) may change it */
    F_COPY_ONLY = 1 << 3, /* C_CopyObject may change it, C_SetAttributeValue never */
    F_SENSITIVE = 1 << 4, /* a sensitive value: neither returned nor matched by
                             C_FindObjects while a F_GUARD row protects it */
    F_HIDDEN = 1 << 5,    /* never readable: in-card secrets */
    F_SECRET = 1 << 6,    /* encrypted at rest even on a public object */
    F_LOOKUP = 1 << 7,    /* indexed in clear for C_FindObjects */
    F_SO_ONLY = 1 << 8,   /* only the SO may set it TRUE (CKA_TRUSTED) */
    F_ONLY_TRUE = 1 << 9, /* one-way: may only become TRUE (§4.9) */
    F_ONLY_FALSE = 1 << 10, /* one-way: may only become FALSE (§4.9) */
    F_GUARD = 1 << 11,      /* its one-way side (absent counts) hides the F_SENSITIVE
                               values, and a key derived from it keeps that side
                               (docs/spec.md §7.2) */
    F_USE_KEYS = 1 << 12,   /* key separation (docs/spec.md §7.2): carries keys ... */
    F_USE_DATA = 1 << 13,   /* ... or data; strict separation forbids both TRUE, and
                               a F_USE_DATA default is FALSE when a template asks
                               for a F_USE_KEYS one */
};

/* How a row's default is made when the caller did not give the attribute. */
typedef enum policy_default {
    DEF_NONE,    /* no default: absent unless given or made */
    DEF_CONST,   /* value (a CK_BBOOL 0/1 for ATTR_BOOL, a CK_ULONG) */
    DEF_EMPTY,   /* an empty value (bytes, date) */
    DEF_DERIVED, /* set by the token from the origin and other attributes
                    (attr_policy.c: derived_value), whatever was given */
} policy_default;

/* The key roles, each needing one attribute TRUE on the key it uses. */
typedef enum policy_role {
    ROLE_NONE, /* C_DigestKey, a key about to be wrapped: no usage attribute */
    ROLE_SIGN,
    ROLE_VERIFY,
    ROLE_ENCRYPT,
    ROLE_DECRYPT,
    ROLE_WRAP,
    ROLE_UNWRAP,
    ROLE_DERIVE,    /* the base key of C_DeriveKey */
    ROLE_HKDF_SALT, /* a CKF_HKDF_SALT_KEY (docs/spec.md §7.2) */
    ROLE_SIGN_RECOVER,   /* C_SignRecover: a signing role of its own */
    ROLE_VERIFY_RECOVER, /* C_VerifyRecover */
    ROLE_COUNT,
} policy_role;
#define R(role) (1u << (role))

typedef struct policy_row {
    CK_ATTRIBUTE_TYPE type;
    unsigned classes;    /* C_* */
    attr_kind kind;      /* the value type */
    unsigned flags;      /* F_* */
    policy_default dflt; /* with value for DEF_CONST */
    CK_ULONG value;
    unsigned roles; /* R(ROLE_*): the roles that need this CK_BBOOL TRUE */
} policy_row;

/* Row notation: {type, classes, kind, flags, default[, roles]}: a row
 * without roles leaves the field 0, between these two. */
#define POLICY_ROWS_BEGIN                                                                          \
    _Pragma("GCC diagnostic push")                                                                 \
        _Pragma("GCC diagnostic ignored \"-Wmissing-field-initializers\"")
#define POLICY_ROWS_END _Pragma("GCC diagnostic pop")
#define NODEF DEF_NONE, 0
#define DFALSE DEF_CONST, CK_FALSE
#define DTRUE DEF_CONST, CK_TRUE
#define DULONG(v) DEF_CONST, (v)
#define EMPTY DEF_EMPTY, 0
#define DERIVED DEF_DERIVED, 0

/* A family adds its attributes' rows (the vendor room's CKA_SE_*:
 * vendor-mechs/vendor_attrs.c) after the core's: once, before the first
 * lookup (module/families.c, from C_Initialize).  False once the lookup
 * index is built or when the blocks are full. */
bool policy_register_rows(const policy_row *rows, size_t count);

/* Every row, the core's then the registered ones: i < policy_row_count(). */
size_t policy_row_count(void);
const policy_row *policy_row_at(size_t i);
/* The row of type on class cls (NULL: not an attribute of that class). */
const policy_row *policy_row_find(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);
/* The first row of type on any class (NULL: unknown). */
const policy_row *policy_row_of_type(CK_ATTRIBUTE_TYPE type);
/* The rows of one class (mask: a single C_* bit) or with one F_* flag, in
 * table order, from an index built once: no row of another class or
 * without the flag is visited. */
size_t policy_class_rows(unsigned mask, const policy_row *const **rows);
size_t policy_flag_rows(unsigned flag, const policy_row *const **rows);
/* Whether the usage attribute's row takes part in key separation (one
 * look at the roles' usage attributes: every operation asks). */
bool policy_usage_separated(CK_ATTRIBUTE_TYPE usage);
/* CKO_* as a C_* mask; 0 for a class this token does not hold. */
unsigned policy_class_mask(CK_OBJECT_CLASS cls);

#endif
