/* attr_table.c, vendor_attrs.c: the attribute policy table is consistent,
 * and attr_policy.c reads it as the rows say.  The vendor room's rows
 * join through its registration (vendor-mechs/vendor.c), as in the module;
 * a build without it (-Dvendor_mechanisms=false) checks the core alone. */
#include "attr_table.h"
#include "core.h"
#ifdef SOFTSE_VENDOR_MECHANISMS
#include "vendor.h"
#include "vendor_family.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <cmocka.h>

#define EACH_ROW(row)                                                                              \
    for (size_t row##_i = 0; row##_i < policy_row_count(); row##_i++)                              \
        for (const policy_row *row = policy_row_at(row##_i); row; row = NULL)

static const struct {
    CK_OBJECT_CLASS cls;
    unsigned mask;
} classes[] = {
    {CKO_DATA, C_DATA},          {CKO_CERTIFICATE, C_CERT}, {CKO_PUBLIC_KEY, C_PUB},
    {CKO_PRIVATE_KEY, C_PRIV},   {CKO_SECRET_KEY, C_SECRET}, {CKO_HW_FEATURE, C_HWF},
};

static bool in_vendor_room(const policy_row *row)
{
#ifdef SOFTSE_VENDOR_MECHANISMS
    return row >= vendor_attr_rows && row < vendor_attr_rows + vendor_attr_row_count;
#else
    (void)row;
    return false;
#endif
}

static void every_row_has_a_type(void **state)
{
    (void)state;
    EACH_ROW(row)
    {
        assert_true(row->kind > ATTR_NONE && row->kind <= ATTR_TEMPLATE);
        assert_true(row->classes != 0 && (row->classes & ~(unsigned)C_ALL) == 0);
        /* one value type per attribute, whatever the class */
        assert_int_equal(attr_kind_of(row->type), row->kind);
    }
    assert_int_equal(attr_kind_of(CKA_VENDOR_DEFINED | 0x7777), ATTR_BYTES); /* unknown */
    assert_int_equal(attr_kind_of(CKA_START_DATE), ATTR_DATE);
    assert_int_equal(attr_kind_of(CKA_SE_ATTESTATION), ATTR_BOOL);
#ifdef SOFTSE_VENDOR_MECHANISMS
    assert_int_equal(attr_kind_of(CKA_SE_FAILURE_LIMIT), ATTR_ULONG);
#endif
}

static void no_duplicate_types(void **state)
{
    (void)state;
    for (size_t i = 0; i < policy_row_count(); i++)
        for (size_t j = i + 1; j < policy_row_count(); j++) {
            const policy_row *a = policy_row_at(i), *b = policy_row_at(j);
            if (a->type == b->type && (a->classes & b->classes))
                fail_msg("attribute 0x%lx has two rows for one class", (unsigned long)a->type);
        }
}

static void defaults_match_the_type(void **state)
{
    (void)state;
    size_t derived = 0;
    EACH_ROW(row)
    {
        switch (row->dflt) {
        case DEF_NONE:
            assert_int_equal(row->value, 0);
            break;
        case DEF_CONST:
            assert_true(row->kind == ATTR_BOOL || row->kind == ATTR_ULONG);
            if (row->kind == ATTR_BOOL)
                assert_true(row->value == CK_FALSE || row->value == CK_TRUE);
            break;
        case DEF_EMPTY:
            assert_true(row->kind == ATTR_BYTES || row->kind == ATTR_DATE);
            break;
        case DEF_DERIVED:
            /* the token's own values: only these three are code */
            assert_int_equal(row->kind, ATTR_BOOL);
            assert_true(row->flags & F_RO);
            assert_true(row->type == CKA_LOCAL || row->type == CKA_ALWAYS_SENSITIVE ||
                        row->type == CKA_NEVER_EXTRACTABLE);
            derived++;
            break;
        default:
            fail_msg("attribute 0x%lx: unknown default", (unsigned long)row->type);
        }
        /* key material and secrets are made, never defaulted */
        if (row->flags & (F_MATERIAL | F_HIDDEN))
            assert_int_equal(row->dflt, DEF_NONE);
    }
    assert_int_equal(derived, 3);
}

static void flags_do_not_contradict(void **state)
{
    (void)state;
    EACH_ROW(row)
    {
        unsigned f = row->flags;
        assert_false((f & F_ONLY_TRUE) && (f & F_ONLY_FALSE));
        if (f & (F_ONLY_TRUE | F_ONLY_FALSE)) { /* a one-way change is a change */
            assert_int_equal(row->kind, ATTR_BOOL);
            assert_true(f & F_SET);
        }
        if (f & F_RO) /* the token's alone */
            assert_false(f & (F_SET | F_COPY_ONLY | F_MATERIAL | F_SO_ONLY));
        if (f & F_COPY_ONLY)
            assert_false(f & (F_SET | F_MATERIAL | F_SO_ONLY));
        if (f & F_SO_ONLY)
            assert_false(f & F_SET);
        if (f & F_GUARD) {
            /* protects on its one-way side, which is also its default:
             * absent must count as protecting */
            assert_true(f & (F_ONLY_TRUE | F_ONLY_FALSE));
            assert_int_equal(row->dflt, DEF_CONST);
            assert_int_equal(row->value, (f & F_ONLY_TRUE) ? CK_TRUE : CK_FALSE);
        }
        assert_false((f & F_USE_KEYS) && (f & F_USE_DATA));
        if (f & (F_USE_KEYS | F_USE_DATA)) {
            assert_int_equal(row->kind, ATTR_BOOL);
            assert_true(row->roles != 0);
        }
        if (row->kind == ATTR_TEMPLATE) /* kept as given: arrays cannot be matched on */
            assert_false(f & (F_LOOKUP | F_SET));
    }
}

static void sensitive_values_never_in_clear(void **state)
{
    (void)state;
    EACH_ROW(row)
    {
        if (!(row->flags & (F_SENSITIVE | F_HIDDEN)))
            continue;
        assert_true(row->flags & F_SECRET);
        assert_false(row->flags & F_LOOKUP);
        for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
            if (!(row->classes & classes[c].mask))
                continue;
            unsigned store = policy_store_flags(classes[c].cls, row->type);
            assert_true(store & TOK_ATTR_SECRET);
            assert_false(store & TOK_ATTR_LOOKUP);
            /* a sensitive value needs a guard on its class to be hidden by */
            bool guarded = false;
            EACH_ROW(guard)
            {
                guarded |= (guard->flags & F_GUARD) && (guard->classes & classes[c].mask);
            }
            assert_true(guarded || (row->flags & F_HIDDEN));
        }
    }
}

/* A valid value of the row's type, for templates. */
static void valid_value(const policy_row *row, CK_ATTRIBUTE *a, CK_BBOOL *b, CK_ULONG *ul)
{
    a->type = row->type;
    switch (row->kind) {
    case ATTR_BOOL:
        *b = CK_TRUE;
        a->pValue = b;
        a->ulValueLen = sizeof(*b);
        break;
    case ATTR_ULONG:
        a->pValue = ul;
        a->ulValueLen = sizeof(*ul);
        break;
    default:
        a->pValue = NULL;
        a->ulValueLen = 0;
        break;
    }
}

static void copy_only_rows_change_at_copy_only(void **state)
{
    (void)state;
    size_t seen = 0;
    EACH_ROW(row)
    {
        if (!(row->flags & F_COPY_ONLY))
            continue;
        for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
            if (!(row->classes & classes[c].mask))
                continue;
            attr_list current, changes;
            attr_list_init(&current);
            attr_list_init(&changes);
            assert_int_equal(attr_list_set_ulong(&current, CKA_CLASS, classes[c].cls), CKR_OK);
            CK_ATTRIBUTE a;
            CK_BBOOL b;
            CK_ULONG ul = 0;
            valid_value(row, &a, &b, &ul);
            assert_int_equal(attr_list_set(&changes, a.type, a.pValue, a.ulValueLen), CKR_OK);
            assert_int_equal(policy_check_copy(classes[c].cls, &current, &changes, true), CKR_OK);
            assert_int_equal(policy_check_set(&current, &a, true), CKR_ATTRIBUTE_READ_ONLY);
            attr_list_free(&current);
            attr_list_free(&changes);
            seen++;
        }
    }
    assert_true(seen > 0);
}

static void one_way_rows_go_one_way(void **state)
{
    (void)state;
    EACH_ROW(row)
    {
        if (!(row->flags & (F_ONLY_TRUE | F_ONLY_FALSE)))
            continue;
        bool up = row->flags & F_ONLY_TRUE;
        for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
            if (!(row->classes & classes[c].mask))
                continue;
            attr_list current;
            attr_list_init(&current);
            attr_list_set_ulong(&current, CKA_CLASS, classes[c].cls);
            attr_list_set_bool(&current, row->type, up);
            CK_BBOOL back = up ? CK_FALSE : CK_TRUE;
            CK_ATTRIBUTE change = {row->type, &back, sizeof(back)};
            assert_int_equal(policy_check_set(&current, &change, false), CKR_ATTRIBUTE_READ_ONLY);
            attr_list_set_bool(&current, row->type, !up);
            CK_BBOOL forward = up ? CK_TRUE : CK_FALSE;
            change.pValue = &forward;
            assert_int_equal(policy_check_set(&current, &change, false), CKR_OK);
            attr_list_free(&current);
        }
    }
}

static void each_role_needs_one_attribute(void **state)
{
    (void)state;
    for (policy_role role = ROLE_NONE + 1; role < ROLE_COUNT; role++) {
        size_t rows = 0;
        EACH_ROW(row)
        {
            if (!(row->roles & R(role)))
                continue;
            rows++;
            assert_int_equal(row->kind, ATTR_BOOL);
            assert_true(row->flags & F_SET);
            assert_int_equal(row->classes & ~(unsigned)C_KEY, 0);
        }
        assert_int_equal(rows, 1);
    }
    EACH_ROW(row)
    {
        assert_false(row->roles & R(ROLE_NONE));
        assert_int_equal(row->roles >> ROLE_COUNT, 0);
    }
    assert_int_equal(policy_role_usage(ROLE_NONE), 0);
    assert_int_equal(policy_role_usage(ROLE_WRAP), CKA_WRAP);
    assert_int_equal(policy_role_usage(ROLE_UNWRAP), CKA_UNWRAP);
    assert_int_equal(policy_role_usage(ROLE_DERIVE), CKA_DERIVE);
    assert_int_equal(policy_role_usage(ROLE_HKDF_SALT), CKA_DERIVE); /* docs/spec.md §7.2 */
    assert_int_equal(policy_role_usage(ROLE_SIGN), CKA_SIGN);
}

/* How many rows of type there are, and that each is (or is not) the
 * vendor room's. */
static size_t rows_of(CK_ATTRIBUTE_TYPE type, bool vendor_room)
{
    size_t rows = 0;
    EACH_ROW(row)
    {
        if (row->type == type) {
            rows++;
            assert_int_equal(in_vendor_room(row), vendor_room);
        }
    }
    return rows;
}

static void vendor_rows_come_from_the_vendor_room(void **state)
{
    (void)state;
    /* the device identity is the core's (module/identity.c), vendor
     * number or not: there with or without the vendor room */
    assert_int_equal(rows_of(CKA_SE_ATTESTATION, false), 1);
    static const CK_ATTRIBUTE_TYPE sk3_ones[] = {CKA_SE_HOST_ID, CKA_SE_FAILURE_COUNT,
                                                 CKA_SE_FAILURE_LIMIT, CKA_SE_INTERNAL_SECRET};
#ifdef SOFTSE_VENDOR_MECHANISMS
    for (size_t k = 0; k < ARRAY_SIZE(sk3_ones); k++)
        assert_int_equal(rows_of(sk3_ones[k], true), 1);
    assert_int_equal(vendor_attr_row_count, ARRAY_SIZE(sk3_ones));
    const policy_row *secret = policy_row_find(CKO_SECRET_KEY, CKA_SE_INTERNAL_SECRET);
    assert_non_null(secret);
    assert_true(secret->flags & F_HIDDEN);
#else
    for (size_t k = 0; k < ARRAY_SIZE(sk3_ones); k++)
        assert_int_equal(rows_of(sk3_ones[k], false), 0);
#endif
    EACH_ROW(row)
    {
        /* the other vendor-defined types are the vendor room's, and only those */
        if (row->type != CKA_SE_ATTESTATION)
            assert_int_equal(in_vendor_room(row), (row->type & CKA_VENDOR_DEFINED) != 0);
    }
}

static void templates_are_the_three(void **state)
{
    (void)state;
    size_t templates = 0;
    EACH_ROW(row)
    {
        templates += row->kind == ATTR_TEMPLATE;
    }
    assert_int_equal(templates, 3);
    assert_true(attr_is_template(CKA_WRAP_TEMPLATE));
    assert_true(attr_is_template(CKA_UNWRAP_TEMPLATE));
    assert_true(attr_is_template(CKA_DERIVE_TEMPLATE));
    assert_false(attr_is_template(CKA_VALUE));
}

/* The lookups (policy_row_find, policy_row_of_type, the class and flag
 * indexes) answer what a walk over the rows answers. */
static void lookups_agree_with_the_rows(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(classes); c++) {
        assert_int_equal(policy_class_mask(classes[c].cls), classes[c].mask);
        const policy_row *const *index = NULL;
        size_t count = policy_class_rows(classes[c].mask, &index), k = 0;
        EACH_ROW(row)
        {
            const policy_row *found = policy_row_find(classes[c].cls, row->type);
            if (!(row->classes & classes[c].mask)) { /* another row of the type may hold it */
                assert_true(!found || (found->type == row->type && found != row &&
                                       (found->classes & classes[c].mask)));
                continue;
            }
            assert_ptr_equal(found, row);
            assert_true(k < count);
            assert_ptr_equal(index[k++], row); /* in table order */
        }
        assert_int_equal(k, count);
    }
    for (unsigned flag = F_RO; flag <= F_USE_DATA; flag <<= 1) {
        const policy_row *const *index = NULL;
        size_t count = policy_flag_rows(flag, &index), k = 0;
        EACH_ROW(row)
        {
            if (!(row->flags & flag))
                continue;
            assert_true(k < count);
            assert_ptr_equal(index[k++], row);
        }
        assert_int_equal(k, count);
    }
    for (size_t i = 0; i < policy_row_count(); i++) {
        const policy_row *row = policy_row_at(i), *first = row;
        for (size_t j = 0; j < i; j++)
            if (policy_row_at(j)->type == row->type && first == row)
                first = policy_row_at(j);
        assert_ptr_equal(policy_row_of_type(row->type), first);
    }
    assert_null(policy_row_of_type(CKA_VENDOR_DEFINED | 0x7777));
    assert_null(policy_row_find(CKO_SECRET_KEY, CKA_VENDOR_DEFINED | 0x7777));
    assert_null(policy_row_find(CKO_DATA, CKA_MODULUS)); /* an attribute of other classes */
    assert_int_equal(policy_class_mask(CKO_DOMAIN_PARAMETERS), 0);
    for (policy_role role = ROLE_NONE + 1; role < ROLE_COUNT; role++) {
        CK_ATTRIBUTE_TYPE usage = policy_role_usage(role);
        const policy_row *row = policy_row_of_type(usage);
        assert_non_null(row);
        assert_int_equal(policy_usage_separated(usage),
                         (row->flags & (F_USE_KEYS | F_USE_DATA)) != 0);
    }
}

/* README "Defaults, like a card", from the rows. */
static void defaults_like_a_card(void **state)
{
    (void)state;
    attr_list key;
    attr_list_init(&key);
    attr_list_set_ulong(&key, CKA_CLASS, CKO_SECRET_KEY);
    assert_int_equal(policy_apply_defaults(&key, ORIGIN_GENERATE), CKR_OK);
    EACH_ROW(row)
    {
        if ((row->classes & C_SECRET) && row->dflt != DEF_NONE)
            assert_true(attr_list_has(&key, row->type));
    }
    assert_false(attr_list_bool(&key, CKA_TOKEN, true));
    assert_true(attr_list_bool(&key, CKA_PRIVATE, false));
    assert_true(attr_list_bool(&key, CKA_SENSITIVE, false));
    assert_false(attr_list_bool(&key, CKA_EXTRACTABLE, true));
    assert_true(attr_list_bool(&key, CKA_MODIFIABLE, false));
    assert_true(attr_list_bool(&key, CKA_COPYABLE, false));
    assert_true(attr_list_bool(&key, CKA_DESTROYABLE, false));
    assert_false(attr_list_bool(&key, CKA_WRAP, true));
    assert_false(attr_list_bool(&key, CKA_UNWRAP, true));
    assert_false(attr_list_bool(&key, CKA_DERIVE, true));
    assert_true(attr_list_bool(&key, CKA_ENCRYPT, false));
    assert_true(attr_list_bool(&key, CKA_DECRYPT, false));
    assert_true(attr_list_bool(&key, CKA_SIGN, false));
    assert_true(attr_list_bool(&key, CKA_VERIFY, false));
    assert_true(attr_list_bool(&key, CKA_LOCAL, false));
    assert_true(attr_list_bool(&key, CKA_ALWAYS_SENSITIVE, false));
    assert_true(attr_list_bool(&key, CKA_NEVER_EXTRACTABLE, false));
    attr_list_free(&key);

    /* strict separation: a transport key carries no data unless asked */
    attr_list_init(&key);
    attr_list_set_ulong(&key, CKA_CLASS, CKO_SECRET_KEY);
    attr_list_set_bool(&key, CKA_UNWRAP, true);
    assert_int_equal(policy_apply_defaults(&key, ORIGIN_CREATE), CKR_OK);
    assert_false(attr_list_bool(&key, CKA_ENCRYPT, true));
    assert_false(attr_list_bool(&key, CKA_DECRYPT, true));
    assert_false(attr_list_bool(&key, CKA_LOCAL, true));
    assert_false(attr_list_bool(&key, CKA_ALWAYS_SENSITIVE, true));
    attr_list_free(&key);

    attr_list data;
    attr_list_init(&data);
    attr_list_set_ulong(&data, CKA_CLASS, CKO_DATA);
    assert_int_equal(policy_apply_defaults(&data, ORIGIN_CREATE), CKR_OK);
    assert_false(attr_list_bool(&data, CKA_PRIVATE, true));
    assert_true(attr_list_has(&data, CKA_VALUE));
    assert_false(attr_list_has(&data, CKA_SENSITIVE));
    attr_list_free(&data);
}

int main(void)
{
#ifdef SOFTSE_VENDOR_MECHANISMS
    if (!vendor_register()) {
        fprintf(stderr, "vendor_register refused\n");
        return 1;
    }
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_row_has_a_type),
        cmocka_unit_test(no_duplicate_types),
        cmocka_unit_test(defaults_match_the_type),
        cmocka_unit_test(flags_do_not_contradict),
        cmocka_unit_test(sensitive_values_never_in_clear),
        cmocka_unit_test(copy_only_rows_change_at_copy_only),
        cmocka_unit_test(one_way_rows_go_one_way),
        cmocka_unit_test(each_role_needs_one_attribute),
        cmocka_unit_test(vendor_rows_come_from_the_vendor_room),
        cmocka_unit_test(templates_are_the_three),
        cmocka_unit_test(defaults_like_a_card),
        cmocka_unit_test(lookups_agree_with_the_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
