/* common/: the one CKR name table answers for every CKR_ the module, its
 * mechanisms, the vendor room and the store return (the list is made from
 * their sources at build time: list_ckrs.sh); every mechanism the module
 * lists has a name; the hex parser is strict; the parameter check. */
#include "hex.h"
#include "names.h"
#include "param.h"

#include "attr_table.h"
#include "mech.h"
#ifdef SOFTSE_VENDOR_MECHANISMS
#include "vendor_family.h"
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static void every_returned_ckr_has_its_name(void **state)
{
    (void)state;
    size_t checked = 0;
#define RETURNED(name)                                                                             \
    do {                                                                                           \
        assert_string_equal(se_rv_name(name), #name);                                              \
        checked++;                                                                                 \
    } while (0);
#include "returned_ckrs.h"
#undef RETURNED
    assert_true(checked > 60); /* the list was made from the sources */
}

static void unknown_codes_are_shown_in_hex(void **state)
{
    (void)state;
    assert_string_equal(se_rv_name(CKR_OK), "CKR_OK");
    assert_string_equal(se_rv_name(CKR_SE_BLOCKED), "CKR_SE_BLOCKED");
    assert_string_equal(se_rv_name(CKR_VENDOR_DEFINED | 0x7777), "CKR_0x80007777");
    assert_string_equal(se_mech_name(CKM_VENDOR_DEFINED | 0x1), "CKM_0x80000001");
}

static void every_listed_mechanism_has_a_name(void **state)
{
    (void)state;
    CK_MECHANISM_TYPE list[256];
    size_t n = mech_list(NULL, 0);
    assert_true(n > 0 && n <= 256);
    mech_list(list, n);
    for (size_t i = 0; i < n; i++) {
        const char *name = se_mech_name(list[i]);
        if (strncmp(name, "CKM_0x", 6) == 0)
            fail_msg("mechanism 0x%lx has no name in common/names.c", (unsigned long)list[i]);
    }
    assert_string_equal(se_mech_name(CKM_ECDSA_SHA256), "CKM_ECDSA_SHA256");
#ifdef SOFTSE_VENDOR_MECHANISMS
    assert_string_equal(se_mech_name(CKM_SE_SK3_Q3), "CKM_SE_SK3_Q3");
#endif
}

static void hex_decodes_strictly(void **state)
{
    (void)state;
    unsigned char out[4];
    size_t len = 99;
    assert_true(se_hex_decode("00fFa9", 6, out, sizeof(out), &len));
    assert_int_equal(len, 3);
    assert_memory_equal(out, "\x00\xff\xa9", 3);
    assert_true(se_hex_decode("", 0, out, sizeof(out), &len));
    assert_int_equal(len, 0);
    /* odd length, a non-digit, a blank, 0x, too long: refused, len untouched */
    static const char *const bad[] = {"abc", "0g", "1 ", "0x12", "0102030405", " 01", "+1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = 99;
        assert_false(se_hex_decode(bad[i], strlen(bad[i]), out, sizeof(out), &len));
        assert_int_equal(len, 99);
    }
    /* the characters around the digit ranges */
    static const char not_digits[] = "/:@G`g";
    for (size_t i = 0; i < sizeof(not_digits) - 1; i++)
        assert_int_equal(se_hex_digit(not_digits[i]), -1);
    assert_int_equal(se_hex_digit('0'), 0);
    assert_int_equal(se_hex_digit('9'), 9);
    assert_int_equal(se_hex_digit('A'), 10);
    assert_int_equal(se_hex_digit('f'), 15);
}

static void hex_round_trip(void **state)
{
    (void)state;
    unsigned char bytes[256], back[256];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)i;
    char text[2 * sizeof(bytes) + 1];
    se_hex_encode(bytes, sizeof(bytes), text);
    assert_int_equal(strlen(text), 2 * sizeof(bytes));
    assert_memory_equal(text, "000102", 6);
    assert_string_equal(text + 2 * 255, "ff");
    size_t len;
    assert_true(se_hex_decode(text, strlen(text), back, sizeof(back), &len));
    assert_int_equal(len, sizeof(bytes));
    assert_memory_equal(back, bytes, sizeof(bytes));
    /* one byte short of room */
    assert_false(se_hex_decode(text, strlen(text), back, sizeof(back) - 1, &len));
}

static void param_struct_is_exact(void **state)
{
    (void)state;
    CK_AES_CTR_PARAMS ctr = {0};
    CK_MECHANISM mech = {CKM_AES_CTR, &ctr, sizeof(ctr)};
    assert_ptr_equal(se_param_struct(&mech, sizeof(ctr)), &ctr);
    mech.ulParameterLen = sizeof(ctr) - 1;
    assert_null(se_param_struct(&mech, sizeof(ctr)));
    mech.ulParameterLen = sizeof(ctr) + 1;
    assert_null(se_param_struct(&mech, sizeof(ctr)));
    mech.pParameter = NULL;
    mech.ulParameterLen = sizeof(ctr);
    assert_null(se_param_struct(&mech, sizeof(ctr)));
}

/* Registration is for C_Initialize's start (module/families.c): once the
 * lookup indexes exist, a late family is refused, not half-seen. */
static void late_registration_is_refused(void **state)
{
    (void)state;
    assert_non_null(mech_find(CKM_SHA256, CKF_DIGEST));
    assert_false(mech_register(&mech_table_digest));
    assert_non_null(policy_row_find(CKO_SECRET_KEY, CKA_VALUE));
    assert_false(policy_register_rows(policy_row_at(0), 1));
}

int main(void)
{
#ifdef SOFTSE_VENDOR_MECHANISMS
    if (!vendor_register())
        return 1;
#endif
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_returned_ckr_has_its_name),
        cmocka_unit_test(unknown_codes_are_shown_in_hex),
        cmocka_unit_test(every_listed_mechanism_has_a_name),
        cmocka_unit_test(hex_decodes_strictly),
        cmocka_unit_test(hex_round_trip),
        cmocka_unit_test(param_struct_is_exact),
        cmocka_unit_test(late_registration_is_refused),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
