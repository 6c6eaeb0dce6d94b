/* mech.c: the mechanism tables as the core sees them (every family's rows
 * and the vendor room's) are consistent, and the list, info and dispatch
 * answers follow the rows. */
#include "mech.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

/* The flags that name an operation (the others, CKF_HW and CKF_EC_*,
 * describe how it is done). */
#define STREAM_FLAGS (CKF_DIGEST | CKF_SIGN | CKF_VERIFY | CKF_ENCRYPT | CKF_DECRYPT)
#define OP_FLAGS                                                                                   \
    (STREAM_FLAGS | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER | CKF_GENERATE | CKF_GENERATE_KEY_PAIR | \
     CKF_WRAP | CKF_UNWRAP | CKF_DERIVE)
/* The operations that produce output through final/oneshot. */
#define PRODUCING_FLAGS (CKF_DIGEST | CKF_SIGN | CKF_ENCRYPT | CKF_DECRYPT)

#define ROWS_MAX 512
static const mech_row *rows[ROWS_MAX];
static size_t row_count;

static void collect(const mech_row *row, void *arg)
{
    (void)arg;
    assert_true(row_count < ROWS_MAX);
    rows[row_count++] = row;
}

static int collect_rows(void **state)
{
    (void)state;
    row_count = 0;
    mech_each_row(collect, NULL);
    return row_count > 0 ? 0 : -1;
}

#define EACH(row)                                                                                  \
    for (size_t row##_i = 0; row##_i < row_count; row##_i++)                                       \
        for (const mech_row *row = rows[row##_i]; row; row = NULL)

static void rows_are_well_formed(void **state)
{
    (void)state;
    EACH(row)
    {
        assert_non_null(row->name);
        assert_true(row->name[0] != '\0');
        if ((row->info.flags & OP_FLAGS) == 0)
            fail_msg("%s does no operation", row->name);
        assert_true(row->info.ulMinKeySize <= row->info.ulMaxKeySize);
        assert_false(row->info.flags & CKF_HW); /* mech_info adds it for every row */
    }
}

/* A flag is offered exactly when its callback is there. */
static void flags_agree_with_callbacks(void **state)
{
    (void)state;
    EACH(row)
    {
        CK_FLAGS f = row->info.flags;
        if (((f & (STREAM_FLAGS | CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER)) != 0) != (row->ops != NULL))
            fail_msg("%s: streaming flags 0x%lx, ops %p", row->name, (unsigned long)f,
                     (const void *)row->ops);
        assert_int_equal((f & CKF_GENERATE) != 0, row->generate != NULL);
        assert_int_equal((f & CKF_GENERATE_KEY_PAIR) != 0, row->generate_pair != NULL);
        assert_int_equal((f & CKF_DERIVE) != 0, row->derive != NULL);
        assert_int_equal((f & CKF_WRAP) != 0, row->wrap != NULL);
        assert_int_equal((f & CKF_UNWRAP) != 0, row->unwrap != NULL);
        /* Recovery is single-part through the row's streaming operations
         * (mech_rsa_raw.c): a recovering row has a one-shot call. */
        if (f & (CKF_SIGN_RECOVER | CKF_VERIFY_RECOVER)) {
            assert_non_null(row->ops);
            assert_non_null(row->ops->oneshot);
        }
        if (row->generate_failed)
            assert_non_null(row->generate);
        if (!row->ops)
            continue;
        assert_non_null(row->ops->init);
        assert_non_null(row->ops->out_size);
        assert_non_null(row->ops->free);
    }
}

/* C_*Update is allowed on a multipart row: it needs update and the final
 * of each of its operations.  A single-part row needs a single-part
 * path: oneshot, or update + final (what the core does without one). */
static void every_multipart_row_has_update_and_final(void **state)
{
    (void)state;
    EACH(row)
    {
        if (row->multipart && !row->ops)
            fail_msg("%s is multipart without streaming operations", row->name);
        if (!row->ops)
            continue;
        const mech_ops *ops = row->ops;
        bool producing = row->info.flags & PRODUCING_FLAGS;
        bool verifying = row->info.flags & CKF_VERIFY;
        if (row->multipart) {
            if (!ops->update || (producing && !ops->final) || (verifying && !ops->verify_final))
                fail_msg("%s is multipart without update/final", row->name);
            continue;
        }
        if (producing && !ops->oneshot && !(ops->update && ops->final))
            fail_msg("%s has no single-part call", row->name);
        if (verifying && !ops->verify_oneshot && !(ops->update && ops->verify_final))
            fail_msg("%s has no single-part verify", row->name);
    }
}

/* Two rows of one mechanism that share an operation flag: dispatch would
 * only ever find the first. */
static void no_two_rows_for_one_operation(void **state)
{
    (void)state;
    for (size_t i = 0; i < row_count; i++)
        for (size_t j = i + 1; j < row_count; j++)
            if (rows[i]->type == rows[j]->type &&
                (rows[i]->info.flags & rows[j]->info.flags & OP_FLAGS))
                fail_msg("%s and %s: mechanism 0x%lx twice for flags 0x%lx", rows[i]->name,
                         rows[j]->name, (unsigned long)rows[i]->type,
                         (unsigned long)(rows[i]->info.flags & rows[j]->info.flags & OP_FLAGS));
}

static bool listed(const CK_MECHANISM_TYPE *list, size_t count, CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < count; i++)
        if (list[i] == type)
            return true;
    return false;
}

/* C_GetMechanismList: each row's mechanism once; C_GetMechanismInfo: the
 * union of its rows. */
static void list_and_info_follow_the_rows(void **state)
{
    (void)state;
    static CK_MECHANISM_TYPE list[ROWS_MAX];
    size_t count = mech_list(NULL, 0);
    assert_true(count > 0 && count <= ROWS_MAX);
    assert_int_equal(mech_list(list, ROWS_MAX), count);
    for (size_t i = 0; i < count; i++)
        assert_false(listed(list, i, list[i])); /* once each */
    EACH(row)
    {
        assert_true(listed(list, count, row->type));
    }
    for (size_t i = 0; i < count; i++) {
        CK_MECHANISM_INFO info, expected = {0, 0, 0};
        bool first = true;
        EACH(row)
        {
            if (row->type != list[i])
                continue;
            expected.flags |= row->info.flags;
            if (first || row->info.ulMinKeySize < expected.ulMinKeySize)
                expected.ulMinKeySize = row->info.ulMinKeySize;
            if (first || row->info.ulMaxKeySize > expected.ulMaxKeySize)
                expected.ulMaxKeySize = row->info.ulMaxKeySize;
            first = false;
        }
        assert_false(first); /* every listed mechanism has a row */
        assert_true(mech_info(list[i], &info));
        assert_int_equal(info.flags, expected.flags | CKF_HW);
        assert_int_equal(info.ulMinKeySize, expected.ulMinKeySize);
        assert_int_equal(info.ulMaxKeySize, expected.ulMaxKeySize);
    }
    CK_MECHANISM_INFO info;
    assert_false(mech_info(CKM_MD5, &info)); /* not a row */
    assert_null(mech_find(CKM_MD5, 0));
}

/* Dispatch finds, for each operation flag of a row, that very row. */
static void dispatch_finds_each_row(void **state)
{
    (void)state;
    EACH(row)
    {
        for (CK_FLAGS flag = 1; flag && flag <= CKF_DERIVE; flag <<= 1) {
            if (!(row->info.flags & flag & OP_FLAGS))
                continue;
            assert_ptr_equal(mech_find(row->type, flag), row);
        }
        assert_ptr_equal(mech_find(row->type, row->info.flags), row);
    }
    assert_null(mech_find(CKM_SHA256, CKF_SIGN)); /* a digest does not sign */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rows_are_well_formed),
        cmocka_unit_test(flags_agree_with_callbacks),
        cmocka_unit_test(every_multipart_row_has_update_and_final),
        cmocka_unit_test(no_two_rows_for_one_operation),
        cmocka_unit_test(list_and_info_follow_the_rows),
        cmocka_unit_test(dispatch_finds_each_row),
    };
    return cmocka_run_group_tests(tests, collect_rows, NULL);
}
