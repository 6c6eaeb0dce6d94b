/*
 * test_mech_encrypt_data.c — mechanisms/mech_encrypt_data.c: key
 * diversification by encryption.  Known answers: EMV "Option A" card
 * master key derivation and the EMV CPS (GlobalPlatform) card key
 * derivation with published test keys, AES from NIST SP 800-38A F.1.1 /
 * F.2.1, TDEA CBC with the SP 800-67 key; every DES value recomputed by
 * tests/integration/des3-openssl.sh with openssl enc.  Then each refusal.
 */
#include "mech_test.h"

static const mech_row *row(CK_MECHANISM_TYPE type)
{
    return row_of(&mech_table_encrypt_data, type);
}

static attr_list template_of(CK_KEY_TYPE type, CK_ULONG value_len)
{
    attr_list tmpl;
    attr_list_init(&tmpl);
    assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, type), CKR_OK);
    if (value_len)
        assert_int_equal(attr_list_set_ulong(&tmpl, CKA_VALUE_LEN, value_len), CKR_OK);
    return tmpl;
}

static CK_RV derive(CK_MECHANISM *mech, const mech_key *base, const attr_list *tmpl,
                    attr_list *out)
{
    attr_list_init(out);
    CK_RV rv = row(mech->mechanism)->derive(mech, base, tmpl, NULL, out);
    if (rv != CKR_OK)
        assert_int_equal(out->count, 0);
    return rv;
}

static void expect_key(CK_MECHANISM *mech, const mech_key *base, CK_KEY_TYPE type,
                       CK_ULONG value_len, const char *expected_hex)
{
    attr_list tmpl = template_of(type, value_len), out;
    buf expected = hex(expected_hex);
    assert_int_equal(derive(mech, base, &tmpl, &out), CKR_OK);
    const CK_ATTRIBUTE *value = attr_of(&out, CKA_VALUE);
    assert_int_equal(value->ulValueLen, expected.len);
    assert_memory_equal(value->pValue, expected.data, expected.len);
    assert_int_equal(ulong_of(&out, CKA_VALUE_LEN), expected.len);
    assert_int_equal(ulong_of(&out, CKA_KEY_TYPE), type);
    attr_list_free(&out);
    attr_list_free(&tmpl);
    buf_free(&expected);
}

/* EMV Book 2 Annex A1.4.1 "Option A": the card's MK (a DES2 key) is the
 * ECB encryption under the issuer master key of Y ‖ (Y xor FF…FF), Y the
 * rightmost 16 digits of PAN ‖ PAN sequence number; parity then set.
 * IMK 0123456789ABCDEF FEDCBA9876543210, PAN 5413330089600010, PSN 01. */
static void test_emv_option_a(void **state)
{
    (void)state;
    buf imk = hex("0123456789ABCDEFFEDCBA9876543210");
    buf data = hex("1333008960001001ECCCFF769FFFEFFE");
    mech_key base = secret_key(CKK_DES2, &imk);
    CK_KEY_DERIVATION_STRING_DATA param = {data.data, data.len};
    CK_MECHANISM mech = {CKM_DES3_ECB_ENCRYPT_DATA, &param, sizeof(param)};
    /* openssl enc -des-ede3 -nopad: 438E4B976EC80CB3 F5D21C0CCB32A327 */
    expect_key(&mech, &base, CKK_DES2, 0, "438F4A976EC80DB3F4D31C0DCB32A226");
    buf_free(&imk);
    buf_free(&data);
}

/* EMV CPS 1.1 §5.4.2 / GlobalPlatform: K_ENC = DES3(KMC)[KD6 ‖ F001 ‖ KD6
 * ‖ 0F01], K_MAC with 02, KD6 the last six bytes of the key
 * diversification data.  KMC: the GlobalPlatform test key 404142…4F
 * (parity set: DES ignores the parity bits, so the results are the
 * same), KDD 00 00 11 22 33 44 55 66 77 88. */
static void test_gp_emv_cps(void **state)
{
    (void)state;
    buf kmc = hex("404043434545464649494A4A4C4C4F4F");
    mech_key base = secret_key(CKK_DES2, &kmc);
    static const struct {
        const char *data, *key;
    } keys[] = {
        {"334455667788F0013344556677880F01", "1AE586EAF1A87C7354156792259DBA29"}, /* ENC */
        {"334455667788F0023344556677880F02", "A4925237F72C86BFC258341F51DFD08C"}, /* MAC */
    };
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        buf data = hex(keys[i].data);
        CK_KEY_DERIVATION_STRING_DATA param = {data.data, data.len};
        CK_MECHANISM mech = {CKM_DES3_ECB_ENCRYPT_DATA, &param, sizeof(param)};
        expect_key(&mech, &base, CKK_DES2, 0, keys[i].key);
        buf_free(&data);
    }
    buf_free(&kmc);
}

static void test_des3_cbc(void **state)
{
    (void)state;
    buf key = hex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123");
    buf data = hex("54686520717566636B2062726F776E20666F78206A756D70");
    mech_key base = secret_key(CKK_DES3, &key);
    CK_DES_CBC_ENCRYPT_DATA_PARAMS param = {{0, 1, 2, 3, 4, 5, 6, 7}, data.data, data.len};
    CK_MECHANISM mech = {CKM_DES3_CBC_ENCRYPT_DATA, &param, sizeof(param)};
    /* openssl enc -des-ede3-cbc -iv 0001020304050607 -nopad, parity set */
    expect_key(&mech, &base, CKK_DES3, 0, "F268D06E3BBC614F61F2D0255DAD3E808C5D68F2CB3ED5C7");
    /* a generic secret keeps the bytes as they are, cut to CKA_VALUE_LEN */
    expect_key(&mech, &base, CKK_GENERIC_SECRET, 10, "F368D06F3BBD614E60F2");
    buf_free(&key);
    buf_free(&data);
}

/* NIST SP 800-38A F.1.1 (ECB-AES128) and F.2.1 (CBC-AES128). */
static void test_aes(void **state)
{
    (void)state;
    buf key = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    buf data = hex("6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51");
    mech_key base = secret_key(CKK_AES, &key);
    CK_KEY_DERIVATION_STRING_DATA ecb = {data.data, data.len};
    CK_MECHANISM mech = {CKM_AES_ECB_ENCRYPT_DATA, &ecb, sizeof(ecb)};
    expect_key(&mech, &base, CKK_AES, 32,
               "3AD77BB40D7A3660A89ECAF32466EF97F5D3D58503B9699DE785895A96FDBAAF");
    expect_key(&mech, &base, CKK_AES, 16, "3AD77BB40D7A3660A89ECAF32466EF97");
    CK_AES_CBC_ENCRYPT_DATA_PARAMS cbc = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, data.data, data.len};
    mech = (CK_MECHANISM){CKM_AES_CBC_ENCRYPT_DATA, &cbc, sizeof(cbc)};
    expect_key(&mech, &base, CKK_AES, 32,
               "7649ABAC8119B246CEE98E9B12E9197D5086CB9B507219EE95DB113A917678B2");
    /* no key type: a generic secret of all the output */
    attr_list tmpl, out;
    attr_list_init(&tmpl);
    assert_int_equal(derive(&mech, &base, &tmpl, &out), CKR_OK);
    assert_int_equal(ulong_of(&out, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    assert_int_equal(ulong_of(&out, CKA_VALUE_LEN), 32);
    attr_list_free(&out);
    attr_list_free(&tmpl);
    buf_free(&key);
    buf_free(&data);
}

static void expect_rv(CK_MECHANISM *mech, const mech_key *base, CK_KEY_TYPE type,
                      CK_ULONG value_len, CK_RV expected)
{
    attr_list tmpl = template_of(type, value_len), out;
    assert_int_equal(derive(mech, base, &tmpl, &out), expected);
    attr_list_free(&out);
    attr_list_free(&tmpl);
}

static void test_errors(void **state)
{
    (void)state;
    buf k2 = hex("0123456789ABCDEFFEDCBA9876543210"), aes = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    buf data = hex("1333008960001001ECCCFF769FFFEFFE"), same = hex("13330089600010011333008960001001");
    mech_key des = secret_key(CKK_DES2, &k2), aes_key = secret_key(CKK_AES, &aes);
    CK_KEY_DERIVATION_STRING_DATA param = {data.data, data.len};
    CK_MECHANISM mech = {CKM_DES3_ECB_ENCRYPT_DATA, &param, sizeof(param)};
    /* parameters: NULL, wrong size, NULL data, empty, not whole blocks */
    CK_MECHANISM null_param = {CKM_DES3_ECB_ENCRYPT_DATA, NULL, sizeof(param)};
    expect_rv(&null_param, &des, CKK_DES2, 0, CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM short_param = {CKM_DES3_ECB_ENCRYPT_DATA, &param, sizeof(param) - 1};
    expect_rv(&short_param, &des, CKK_DES2, 0, CKR_MECHANISM_PARAM_INVALID);
    CK_DES_CBC_ENCRYPT_DATA_PARAMS cbc = {{0}, data.data, data.len};
    CK_MECHANISM cbc_as_ecb = {CKM_DES3_CBC_ENCRYPT_DATA, &param, sizeof(param)};
    expect_rv(&cbc_as_ecb, &des, CKK_DES2, 0, CKR_MECHANISM_PARAM_INVALID);
    param.pData = NULL;
    expect_rv(&mech, &des, CKK_DES2, 0, CKR_MECHANISM_PARAM_INVALID);
    param.pData = data.data;
    param.ulLen = 0;
    expect_rv(&mech, &des, CKK_DES2, 0, CKR_DATA_LEN_RANGE);
    param.ulLen = 12;
    expect_rv(&mech, &des, CKK_GENERIC_SECRET, 0, CKR_DATA_LEN_RANGE);
    cbc.length = 15;
    CK_MECHANISM m_cbc = {CKM_DES3_CBC_ENCRYPT_DATA, &cbc, sizeof(cbc)};
    expect_rv(&m_cbc, &des, CKK_DES2, 0, CKR_DATA_LEN_RANGE);
    param.ulLen = 16;
    /* base keys: AES for a DES3 mechanism and the reverse; a bad length */
    expect_rv(&mech, &aes_key, CKK_DES2, 0, CKR_KEY_TYPE_INCONSISTENT);
    CK_MECHANISM aes_mech = {CKM_AES_ECB_ENCRYPT_DATA, &param, sizeof(param)};
    expect_rv(&aes_mech, &des, CKK_AES, 16, CKR_KEY_TYPE_INCONSISTENT);
    mech_key short3 = secret_key(CKK_DES3, &k2);
    expect_rv(&mech, &short3, CKK_DES2, 0, CKR_KEY_SIZE_RANGE);
    /* the derived key's size: DES3 needs 24 bytes of output, AES a length */
    expect_rv(&mech, &des, CKK_DES3, 0, CKR_DATA_LEN_RANGE);
    expect_rv(&mech, &des, CKK_DES2, 24, CKR_TEMPLATE_INCONSISTENT);
    expect_rv(&aes_mech, &aes_key, CKK_AES, 0, CKR_TEMPLATE_INCOMPLETE);
    expect_rv(&aes_mech, &aes_key, CKK_AES, 20, CKR_ATTRIBUTE_VALUE_INVALID);
    expect_rv(&aes_mech, &aes_key, CKK_AES, 32, CKR_DATA_LEN_RANGE);
    expect_rv(&mech, &des, CKK_RSA, 0, CKR_TEMPLATE_INCONSISTENT);
    /* two equal blocks under ECB derive K1 = K2: single DES, refused */
    param.pData = same.data;
    expect_rv(&mech, &des, CKK_DES2, 0, CKR_MECHANISM_PARAM_INVALID);
    buf_free(&k2);
    buf_free(&aes);
    buf_free(&data);
    buf_free(&same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emv_option_a), cmocka_unit_test(test_gp_emv_cps),
        cmocka_unit_test(test_des3_cbc),     cmocka_unit_test(test_aes),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
