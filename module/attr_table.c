/*
 * attr_table.c — the core's rows of the attribute policy table (see
 * attr_table.h) and the lookups over every row, the core's and those a
 * family registered (policy_register_rows: the vendor room's, from
 * vendor-mechs/vendor_attrs.c).  Data only: the rules that read the rows
 * are in attr_policy.c.
 */
#include "attr_table.h"

#include <pthread.h>
#include <stdlib.h>

/* {type, classes, kind, flags, default[, roles]}; the first row of a
 * type on a class wins (the unit test refuses overlaps). */
POLICY_ROWS_BEGIN
static const policy_row core_rows[] = {
    {CKA_CLASS, C_ALL, ATTR_ULONG, F_LOOKUP, NODEF},
    {CKA_TOKEN, C_STORAGE, ATTR_BOOL, F_COPY_ONLY, DFALSE},
    /* keys are private like on a card */
    {CKA_PRIVATE, C_DATA | C_CERT | C_PUB, ATTR_BOOL, F_COPY_ONLY, DFALSE},
    {CKA_PRIVATE, C_PRIV | C_SECRET, ATTR_BOOL, F_COPY_ONLY, DTRUE},
    {CKA_MODIFIABLE, C_STORAGE, ATTR_BOOL, F_COPY_ONLY, DTRUE},
    {CKA_COPYABLE, C_STORAGE, ATTR_BOOL, F_SET | F_ONLY_FALSE, DTRUE},
    {CKA_DESTROYABLE, C_STORAGE, ATTR_BOOL, F_SET, DTRUE},
    {CKA_LABEL, C_STORAGE, ATTR_BYTES, F_SET | F_LOOKUP, EMPTY},
    {CKA_UNIQUE_ID, C_STORAGE, ATTR_BYTES, F_RO, NODEF},
    /* data objects (§4.5) */
    {CKA_APPLICATION, C_DATA, ATTR_BYTES, F_SET, EMPTY},
    {CKA_OBJECT_ID, C_DATA, ATTR_BYTES, F_SET, EMPTY},
    {CKA_VALUE, C_DATA, ATTR_BYTES, F_SET, EMPTY},
    /* certificates (§4.6) */
    {CKA_CERTIFICATE_TYPE, C_CERT, ATTR_ULONG, F_LOOKUP, NODEF},
    {CKA_TRUSTED, C_CERT, ATTR_BOOL, F_SO_ONLY, DFALSE},
    {CKA_CERTIFICATE_CATEGORY, C_CERT, ATTR_ULONG, 0, DULONG(0)},
    {CKA_CHECK_VALUE, C_CERT | C_KEY, ATTR_BYTES, 0, NODEF},
    {CKA_START_DATE, C_CERT | C_KEY, ATTR_DATE, F_SET, EMPTY},
    {CKA_END_DATE, C_CERT | C_KEY, ATTR_DATE, F_SET, EMPTY},
    {CKA_PUBLIC_KEY_INFO, C_CERT | C_PUB | C_PRIV, ATTR_BYTES, 0, NODEF},
    {CKA_SUBJECT, C_CERT, ATTR_BYTES, 0, EMPTY},
    {CKA_SUBJECT, C_PUB | C_PRIV, ATTR_BYTES, F_SET, EMPTY},
    {CKA_ID, C_CERT | C_KEY, ATTR_BYTES, F_SET | F_LOOKUP, EMPTY},
    {CKA_ISSUER, C_CERT, ATTR_BYTES, F_SET, EMPTY},
    {CKA_SERIAL_NUMBER, C_CERT, ATTR_BYTES, F_SET, EMPTY},
    {CKA_VALUE, C_CERT, ATTR_BYTES, 0, NODEF},
    {CKA_URL, C_CERT, ATTR_BYTES, 0, NODEF},
    {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, C_CERT, ATTR_BYTES, 0, NODEF},
    {CKA_HASH_OF_ISSUER_PUBLIC_KEY, C_CERT, ATTR_BYTES, 0, NODEF},
    {CKA_JAVA_MIDP_SECURITY_DOMAIN, C_CERT, ATTR_ULONG, 0, NODEF},
    /* keys (§4.7–4.9); the usages: docs/spec.md §7.2 (none TRUE unasked
     * but sign/verify, and strict separation of keys from data) */
    {CKA_KEY_TYPE, C_KEY, ATTR_ULONG, F_LOOKUP, NODEF},
    {CKA_DERIVE, C_KEY, ATTR_BOOL, F_SET, DFALSE, R(ROLE_DERIVE) | R(ROLE_HKDF_SALT)},
    {CKA_LOCAL, C_KEY, ATTR_BOOL, F_RO, DERIVED},
    {CKA_KEY_GEN_MECHANISM, C_KEY, ATTR_ULONG, F_RO, DULONG(CK_UNAVAILABLE_INFORMATION)},
    {CKA_ALLOWED_MECHANISMS, C_KEY, ATTR_BYTES, 0, NODEF},
    {CKA_ENCRYPT, C_PUB | C_SECRET, ATTR_BOOL, F_SET | F_USE_DATA, DTRUE, R(ROLE_ENCRYPT)},
    {CKA_VERIFY, C_PUB | C_SECRET, ATTR_BOOL, F_SET, DTRUE, R(ROLE_VERIFY)},
    {CKA_VERIFY_RECOVER, C_PUB, ATTR_BOOL, F_SET, DTRUE, R(ROLE_VERIFY_RECOVER)},
    {CKA_WRAP, C_PUB | C_SECRET, ATTR_BOOL, F_SET | F_USE_KEYS, DFALSE, R(ROLE_WRAP)},
    {CKA_TRUSTED, C_PUB | C_SECRET, ATTR_BOOL, F_SO_ONLY, DFALSE},
    {CKA_DECRYPT, C_PRIV | C_SECRET, ATTR_BOOL, F_SET | F_USE_DATA, DTRUE, R(ROLE_DECRYPT)},
    {CKA_SIGN, C_PRIV | C_SECRET, ATTR_BOOL, F_SET, DTRUE, R(ROLE_SIGN)},
    {CKA_SIGN_RECOVER, C_PRIV, ATTR_BOOL, F_SET, DFALSE, R(ROLE_SIGN_RECOVER)},
    {CKA_UNWRAP, C_PRIV | C_SECRET, ATTR_BOOL, F_SET | F_USE_KEYS, DFALSE, R(ROLE_UNWRAP)},
    {CKA_SENSITIVE, C_PRIV | C_SECRET, ATTR_BOOL, F_SET | F_ONLY_TRUE | F_GUARD, DTRUE},
    {CKA_EXTRACTABLE, C_PRIV | C_SECRET, ATTR_BOOL, F_SET | F_ONLY_FALSE | F_GUARD, DFALSE},
    {CKA_ALWAYS_SENSITIVE, C_PRIV | C_SECRET, ATTR_BOOL, F_RO, DERIVED},
    {CKA_NEVER_EXTRACTABLE, C_PRIV | C_SECRET, ATTR_BOOL, F_RO, DERIVED},
    {CKA_WRAP_WITH_TRUSTED, C_PRIV | C_SECRET, ATTR_BOOL, F_SET | F_ONLY_TRUE, DFALSE},
    {CKA_WRAP_TEMPLATE, C_PUB | C_SECRET, ATTR_TEMPLATE, 0, NODEF},
    {CKA_UNWRAP_TEMPLATE, C_PRIV | C_SECRET, ATTR_TEMPLATE, 0, NODEF},
    {CKA_DERIVE_TEMPLATE, C_PRIV | C_SECRET, ATTR_TEMPLATE, 0, NODEF},
    {CKA_ALWAYS_AUTHENTICATE, C_PRIV, ATTR_BOOL, F_SET, DFALSE},
    /* key material */
    {CKA_MODULUS, C_PUB | C_PRIV, ATTR_BYTES, F_MATERIAL, NODEF},
    {CKA_MODULUS_BITS, C_PUB, ATTR_ULONG, 0, NODEF},
    {CKA_PUBLIC_EXPONENT, C_PUB, ATTR_BYTES, 0, NODEF},
    {CKA_PUBLIC_EXPONENT, C_PRIV, ATTR_BYTES, F_MATERIAL, NODEF},
    {CKA_PRIVATE_EXPONENT, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_PRIME_1, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_PRIME_2, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_EXPONENT_1, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_EXPONENT_2, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_COEFFICIENT, C_PRIV, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_EC_PARAMS, C_PUB | C_PRIV, ATTR_BYTES, 0, NODEF},
    {CKA_EC_POINT, C_PUB, ATTR_BYTES, F_MATERIAL, NODEF},
    {CKA_VALUE, C_PUB, ATTR_BYTES, F_MATERIAL, NODEF},
    {CKA_VALUE, C_PRIV | C_SECRET, ATTR_BYTES, F_MATERIAL | F_SENSITIVE | F_SECRET, NODEF},
    {CKA_VALUE_LEN, C_SECRET, ATTR_ULONG, 0, NODEF},
    /* hardware features (§4.3) */
    {CKA_HW_FEATURE_TYPE, C_HWF, ATTR_ULONG, F_LOOKUP, NODEF},
    {CKA_VALUE, C_HWF, ATTR_BYTES, F_SET, NODEF},
    {CKA_RESET_ON_INIT, C_HWF, ATTR_BOOL, 0, NODEF},
    {CKA_HAS_RESET, C_HWF, ATTR_BOOL, 0, NODEF},
    /* the device identity (docs/spec.md §2, module/identity.c): the core's,
     * though its number is in the vendor range; the vendor room's own
     * attributes come from vendor-mechs/vendor_attrs.c */
    {CKA_SE_ATTESTATION, C_CERT | C_PUB | C_PRIV, ATTR_BOOL, F_RO | F_LOOKUP, DFALSE},
};
POLICY_ROWS_END

/* Row blocks a family registered, after the core's (policy_register_rows). */
#define BLOCKS_MAX 4
static struct {
    const policy_row *rows;
    size_t count;
} blocks[BLOCKS_MAX];
static size_t block_count;
static bool index_built;

bool policy_register_rows(const policy_row *rows, size_t count)
{
    if (index_built || block_count == BLOCKS_MAX)
        return false;
    blocks[block_count].rows = rows;
    blocks[block_count].count = count;
    block_count++;
    return true;
}

size_t policy_row_count(void)
{
    size_t n = ARRAY_SIZE(core_rows);
    for (size_t b = 0; b < block_count; b++)
        n += blocks[b].count;
    return n;
}

const policy_row *policy_row_at(size_t i)
{
    if (i < ARRAY_SIZE(core_rows))
        return &core_rows[i];
    i -= ARRAY_SIZE(core_rows);
    for (size_t b = 0; b < block_count; i -= blocks[b].count, b++)
        if (i < blocks[b].count)
            return &blocks[b].rows[i];
    return NULL;
}

unsigned policy_class_mask(CK_OBJECT_CLASS cls)
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

/* The rows by type, for lookups in every operation's key check (a scan of
 * the rows cost 7 % of an HMAC): built once, binary searched. */
#define ROWS_MAX 256
static const policy_row *by_type[ROWS_MAX];
static size_t by_type_count;
static CK_ATTRIBUTE_TYPE role_usage[ROLE_COUNT];
static bool role_separated[ROLE_COUNT]; /* its usage row has F_USE_KEYS or F_USE_DATA */
/* The rows of each class (one C_* bit) and of each F_* flag, in table
 * order: an object's defaults and guards loop over a few rows, not all. */
#define CLASS_BITS 6
#define FLAG_BITS 16
static const policy_row *class_rows[CLASS_BITS][ROWS_MAX];
static size_t class_count[CLASS_BITS];
static const policy_row *flag_rows[FLAG_BITS][ROWS_MAX];
static size_t flag_count[FLAG_BITS];
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static int compare_rows(const void *a, const void *b)
{
    const policy_row *x = *(const policy_row *const *)a, *y = *(const policy_row *const *)b;
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    return x < y ? -1 : x > y; /* table order among one type's rows */
}

static void index_build(void)
{
    index_built = true;
    size_t n = policy_row_count();
    if (n > ROWS_MAX)
        se_log(SE_LOG_ERROR, "attribute policy: %zu rows, only %d indexed", n, ROWS_MAX);
    for (size_t i = 0; i < n && by_type_count < ROWS_MAX; i++) {
        const policy_row *row = policy_row_at(i);
        by_type[by_type_count++] = row;
        for (int bit = 0; bit < CLASS_BITS; bit++)
            if (row->classes & (1u << bit))
                class_rows[bit][class_count[bit]++] = row;
        for (int bit = 0; bit < FLAG_BITS; bit++)
            if (row->flags & (1u << bit))
                flag_rows[bit][flag_count[bit]++] = row;
        for (int role = ROLE_NONE + 1; role < ROLE_COUNT; role++)
            if ((row->roles & R(role)) && role_usage[role] == 0) {
                role_usage[role] = row->type;
                role_separated[role] = (row->flags & (F_USE_KEYS | F_USE_DATA)) != 0;
            }
    }
    qsort(by_type, by_type_count, sizeof(by_type[0]), compare_rows);
}

static const policy_row *lookup(CK_ATTRIBUTE_TYPE type, unsigned mask)
{
    pthread_once(&index_once, index_build);
    size_t lo = 0, hi = by_type_count;
    while (lo < hi) { /* the first row of type */
        size_t mid = lo + (hi - lo) / 2;
        if (by_type[mid]->type < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < by_type_count && by_type[lo]->type == type; lo++)
        if (by_type[lo]->classes & mask)
            return by_type[lo];
    return NULL;
}

size_t policy_class_rows(unsigned mask, const policy_row *const **rows)
{
    pthread_once(&index_once, index_build);
    for (int bit = 0; bit < CLASS_BITS; bit++) {
        if (mask == (1u << bit)) {
            *rows = class_rows[bit];
            return class_count[bit];
        }
    }
    *rows = NULL;
    return 0;
}

size_t policy_flag_rows(unsigned flag, const policy_row *const **rows)
{
    pthread_once(&index_once, index_build);
    for (int bit = 0; bit < FLAG_BITS; bit++) {
        if (flag == (1u << bit)) {
            *rows = flag_rows[bit];
            return flag_count[bit];
        }
    }
    *rows = NULL;
    return 0;
}

bool policy_usage_separated(CK_ATTRIBUTE_TYPE usage)
{
    pthread_once(&index_once, index_build);
    for (int role = ROLE_NONE + 1; role < ROLE_COUNT; role++)
        if (role_usage[role] == usage)
            return role_separated[role];
    const policy_row *row = policy_row_of_type(usage);
    return row && (row->flags & (F_USE_KEYS | F_USE_DATA));
}

CK_ATTRIBUTE_TYPE policy_role_usage(policy_role role)
{
    pthread_once(&index_once, index_build);
    return role > ROLE_NONE && role < ROLE_COUNT ? role_usage[role] : 0;
}

const policy_row *policy_row_find(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type)
{
    return lookup(type, policy_class_mask(cls));
}

const policy_row *policy_row_of_type(CK_ATTRIBUTE_TYPE type)
{
    return lookup(type, C_ALL);
}

attr_kind attr_kind_of(CK_ATTRIBUTE_TYPE type)
{
    const policy_row *row = policy_row_of_type(type);
    return row ? row->kind : ATTR_BYTES;
}
