/* attrs.c: owned attribute lists and template copying. */
#include "attrs.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <cmocka.h>

static void set_replace_remove(void **state)
{
    (void)state;
    attr_list list;
    attr_list_init(&list);
    assert_int_equal(attr_list_set(&list, CKA_LABEL, "abc", 3), CKR_OK);
    assert_int_equal(attr_list_set(&list, CKA_LABEL, "de", 2), CKR_OK);
    assert_int_equal(list.count, 1);
    const CK_ATTRIBUTE *a = attr_list_find(&list, CKA_LABEL);
    assert_non_null(a);
    assert_int_equal(a->ulValueLen, 2);
    assert_memory_equal(a->pValue, "de", 2);
    assert_int_equal(attr_list_set_bool(&list, CKA_TOKEN, true), CKR_OK);
    assert_true(attr_list_bool(&list, CKA_TOKEN, false));
    assert_false(attr_list_bool(&list, CKA_PRIVATE, false));
    assert_int_equal(attr_list_default_bool(&list, CKA_TOKEN, false), CKR_OK);
    assert_true(attr_list_bool(&list, CKA_TOKEN, false));
    attr_list_remove(&list, CKA_LABEL);
    assert_null(attr_list_find(&list, CKA_LABEL));
    assert_int_equal(list.count, 1);
    assert_int_equal(attr_list_set(&list, CKA_ID, NULL, 4), CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list_free(&list);
}

static void ulong_reads(void **state)
{
    (void)state;
    attr_list list;
    attr_list_init(&list);
    CK_ULONG v = 0;
    assert_int_equal(attr_list_ulong(&list, CKA_CLASS, &v), CKR_TEMPLATE_INCOMPLETE);
    assert_int_equal(attr_list_set(&list, CKA_CLASS, "x", 1), CKR_OK);
    assert_int_equal(attr_list_ulong(&list, CKA_CLASS, &v), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_check_sizes(&list), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_set_ulong(&list, CKA_CLASS, CKO_DATA), CKR_OK);
    assert_int_equal(attr_list_ulong(&list, CKA_CLASS, &v), CKR_OK);
    assert_int_equal(v, CKO_DATA);
    assert_int_equal(attr_list_check_sizes(&list), CKR_OK);
    attr_list_free(&list);
}

static void template_rules(void **state)
{
    (void)state;
    CK_BBOOL t = CK_TRUE, f = CK_FALSE;
    CK_ATTRIBUTE same[] = {{CKA_TOKEN, &t, 1}, {CKA_TOKEN, &t, 1}};
    CK_ATTRIBUTE clash[] = {{CKA_TOKEN, &t, 1}, {CKA_TOKEN, &f, 1}};
    CK_ATTRIBUTE null_value[] = {{CKA_LABEL, NULL, 5}};
    CK_ATTRIBUTE array[] = {{CKA_WRAP_TEMPLATE, &t, 1}};
    attr_list list;
    attr_list_init(&list);
    assert_int_equal(attr_list_from_template(&list, same, 2), CKR_OK);
    assert_int_equal(list.count, 1);
    attr_list_free(&list);
    assert_int_equal(attr_list_from_template(&list, clash, 2), CKR_TEMPLATE_INCONSISTENT);
    attr_list_free(&list);
    assert_int_equal(attr_list_from_template(&list, null_value, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(attr_list_from_template(&list, NULL, 1), CKR_ARGUMENTS_BAD);
    /* a nested template is an array of CK_ATTRIBUTE, flattened when kept */
    assert_int_equal(attr_list_from_template(&list, array, 1), CKR_ATTRIBUTE_VALUE_INVALID);
    CK_ATTRIBUTE inner[] = {{CKA_TOKEN, &t, 1}, {CKA_LABEL, "ab", 2}};
    CK_ATTRIBUTE nested[] = {{CKA_WRAP_TEMPLATE, inner, sizeof(inner)}};
    assert_int_equal(attr_list_from_template(&list, nested, 1), CKR_OK);
    attr_list back;
    attr_list_init(&back);
    assert_int_equal(attr_list_from_nested(&back, attr_list_find(&list, CKA_WRAP_TEMPLATE)), CKR_OK);
    assert_true(attr_list_matches(&back, inner, 2));
    assert_int_equal(back.count, 2);
    attr_list_free(&back);
    attr_list_free(&list);
}

static void matching(void **state)
{
    (void)state;
    attr_list list;
    attr_list_init(&list);
    attr_list_set(&list, CKA_LABEL, "key", 3);
    attr_list_set_ulong(&list, CKA_CLASS, CKO_SECRET_KEY);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY, other = CKO_DATA;
    CK_ATTRIBUTE hit[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_LABEL, "key", 3}};
    CK_ATTRIBUTE miss[] = {{CKA_CLASS, &other, sizeof(other)}};
    CK_ATTRIBUTE absent[] = {{CKA_ID, "1", 1}};
    CK_ATTRIBUTE shorter[] = {{CKA_LABEL, "ke", 2}};
    assert_true(attr_list_matches(&list, hit, 2));
    assert_true(attr_list_matches(&list, NULL, 0));
    assert_false(attr_list_matches(&list, miss, 1));
    assert_false(attr_list_matches(&list, absent, 1));
    assert_false(attr_list_matches(&list, shorter, 1));
    attr_list_free(&list);
}

/* Short values live in the list itself: they must follow it when it
 * grows, when an attribute before them is removed, and when a value is
 * set from the list's own storage. */
static void inline_values_move(void **state)
{
    (void)state;
    attr_list list, copy;
    attr_list_init(&list);
    attr_list_init(&copy);
    for (CK_ULONG i = 0; i < 100; i++)
        assert_int_equal(attr_list_set_ulong(&list, CKA_VENDOR_DEFINED + i, i * 7), CKR_OK);
    assert_int_equal(attr_list_set(&list, CKA_LABEL, "a longer label", 14), CKR_OK);
    attr_list_remove(&list, CKA_VENDOR_DEFINED + 3);
    for (CK_ULONG i = 0; i < 100; i++) {
        CK_ULONG v = 0;
        CK_RV rv = attr_list_ulong(&list, CKA_VENDOR_DEFINED + i, &v);
        assert_int_equal(rv, i == 3 ? CKR_TEMPLATE_INCOMPLETE : CKR_OK);
        if (i != 3)
            assert_int_equal(v, i * 7);
    }
    const CK_ATTRIBUTE *own = attr_list_find(&list, CKA_VENDOR_DEFINED + 50);
    assert_int_equal(attr_list_set(&list, CKA_VENDOR_DEFINED + 50, own->pValue, own->ulValueLen),
                     CKR_OK);
    own = attr_list_find(&list, CKA_VENDOR_DEFINED + 50);
    assert_int_equal(attr_list_set(&list, CKA_ID, own->pValue, own->ulValueLen), CKR_OK);
    CK_ULONG v = 0;
    assert_int_equal(attr_list_ulong(&list, CKA_ID, &v), CKR_OK);
    assert_int_equal(v, 350);
    assert_int_equal(attr_list_ulong(&list, CKA_VENDOR_DEFINED + 50, &v), CKR_OK);
    assert_int_equal(v, 350);
    assert_int_equal(attr_list_copy(&copy, &list), CKR_OK);
    attr_list_free(&list);
    assert_int_equal(copy.count, 101);
    assert_int_equal(attr_list_ulong(&copy, CKA_VENDOR_DEFINED + 99, &v), CKR_OK);
    assert_int_equal(v, 693);
    const CK_ATTRIBUTE *label = attr_list_find(&copy, CKA_LABEL);
    assert_non_null(label);
    assert_memory_equal(label->pValue, "a longer label", 14);
    attr_list_free(&copy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(set_replace_remove),
        cmocka_unit_test(ulong_reads),
        cmocka_unit_test(template_rules),
        cmocka_unit_test(matching),
        cmocka_unit_test(inline_values_move),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
