/* The installed vendor header carries docs/spec.md §1 exactly. */
#include <pkcs11.h>
#include <softse/softse-pkcs11.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static void constants_match_spec(void **state)
{
    (void)state;
    assert_int_equal(CKM_SE_GKEA, 0x80534501UL);
    assert_int_equal(CKM_SE_KI_RSA_RAW, 0x80534511UL);
    assert_int_equal(CKM_SE_KI_RSA_OAEP, 0x80534512UL);
    assert_int_equal(CKM_SE_KI_EC_ELGAMAL, 0x80534513UL);
    assert_int_equal(CKM_SE_SK3_Q1, 0x80534521UL);
    assert_int_equal(CKM_SE_SK3_Q2, 0x80534522UL);
    assert_int_equal(CKM_SE_SK3_Q3, 0x80534523UL);
    assert_int_equal(CKM_SE_SK3_Q4, 0x80534524UL);
    assert_int_equal(CKM_SE_SK3_SERVER, 0x80534525UL);
    assert_int_equal(CKM_SE_SK3_HOST_DERIVE, 0x80534526UL);
    assert_int_equal(CKM_SE_SK3_KEY_GEN, 0x80534527UL);
    assert_int_equal(CKK_SE_SK3_SERVER, 0x80534501UL);
    assert_int_equal(CKK_SE_SK3_HOST, 0x80534502UL);
    assert_int_equal(CKA_SE_HOST_ID, 0x80534501UL);
    assert_int_equal(CKA_SE_FAILURE_COUNT, 0x80534502UL);
    assert_int_equal(CKA_SE_FAILURE_LIMIT, 0x80534503UL);
    assert_int_equal(CKA_SE_ATTESTATION, 0x80534504UL);
    assert_int_equal(CKH_SE_LIFECYCLE, 0x80534501UL);
    assert_int_equal(CKR_SE_PROTOCOL_REJECTED, 0x80534501UL);
    assert_int_equal(CKR_SE_LIFECYCLE, 0x80534502UL);
    assert_int_equal(CKR_SE_BLOCKED, 0x80534503UL);
    assert_int_equal(SOFTSE_VENDOR_BASE, CKM_VENDOR_DEFINED | 0x5345UL << 8);
}

static void structures_have_spec_layout(void **state)
{
    (void)state;
    /* Natural packing: pointers and CK_ULONGs in declaration order. */
    assert_int_equal(offsetof(CK_SE_GKEA_PARAMS, hAttestationKey), 0);
    assert_int_equal(offsetof(CK_SE_GKEA_PARAMS, pServerPublicKey), sizeof(CK_ULONG));
    assert_int_equal(offsetof(CK_SE_GKEA_PARAMS, pulAttestationLen),
                     8 * sizeof(CK_ULONG));
    assert_int_equal(offsetof(CK_SE_KI_PARAMS, pulCiphertextLen), 4 * sizeof(CK_ULONG));
    assert_int_equal(sizeof(CK_SE_SK3_Q2_PARAMS), 16 + 3 * 32);
    assert_int_equal(offsetof(CK_SE_SK3_Q3_PARAMS, rhoI), 16 + 6 * 32);
    assert_int_equal(sizeof(CK_SE_SK3_Q3_PARAMS), 16 + 7 * 32);
    assert_int_equal(sizeof(CK_SE_SK3_Q4_PARAMS), 16 + 2 * 32);
    assert_int_equal(sizeof(CK_SE_SK3_HOST_PARAMS), 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(constants_match_spec),
        cmocka_unit_test(structures_have_spec_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
