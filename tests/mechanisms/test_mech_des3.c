/*
 * test_mech_des3.c — mechanisms/mech_des3.c and mech_check_value.c:
 * TDEA against the NIST SP 800-67 example, CMAC against NIST SP 800-38B
 * Appendix D (three- and two-key TDEA), CBC, CBC_PAD and the CBC-MAC
 * against the openssl command line (values recomputed by
 * tests/integration/des3-openssl.sh), key checks, generation, wrapping
 * and check values; every refusal with its CKR_ code.
 */
#include "mech_test.h"

static const mech_row *row(CK_MECHANISM_TYPE type)
{
    return row_of(&mech_table_des3, type);
}

/* SP 800-67 Rev. 1, the TDEA example ("The qufck brown fox jump"). */
#define SP800_67_KEY "0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123"
#define SP800_67_PLAIN "54686520717566636B2062726F776E20666F78206A756D70"
#define SP800_67_CIPHER "A826FD8CE53B855FCCE21C8112256FE668D5C05DD9B6B900"
#define IV8 "0001020304050607"

static void test_tdea_sp800_67(void **state)
{
    (void)state;
    buf key = hex(SP800_67_KEY), plain = hex(SP800_67_PLAIN), cipher = hex(SP800_67_CIPHER);
    mech_key k = secret_key(CKK_DES3, &key);
    CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0};
    check_cipher(row(CKM_DES3_ECB), &ecb, &k, MECH_ENCRYPT, &plain, &cipher);
    check_cipher(row(CKM_DES3_ECB), &ecb, &k, MECH_DECRYPT, &cipher, &plain);
    buf_free(&key);
    buf_free(&plain);
    buf_free(&cipher);
}

/* openssl enc -des-ede3-cbc [-nopad] -K SP800_67_KEY -iv 0001020304050607 */
static void test_cbc_and_pad(void **state)
{
    (void)state;
    buf key = hex(SP800_67_KEY), iv = hex(IV8), plain = hex(SP800_67_PLAIN);
    buf cbc = hex("F368D06F3BBD614E60F2D0245CAD3F818D5C69F2CB3FD5C7");
    buf plain28 = hex(SP800_67_PLAIN "2E2E2E2E");
    buf padded = hex("F368D06F3BBD614E60F2D0245CAD3F818D5C69F2CB3FD5C77A1C3F559BDB3D62");
    mech_key k = secret_key(CKK_DES3, &key);
    CK_MECHANISM mech = {CKM_DES3_CBC, iv.data, 8};
    check_cipher(row(CKM_DES3_CBC), &mech, &k, MECH_ENCRYPT, &plain, &cbc);
    check_cipher(row(CKM_DES3_CBC), &mech, &k, MECH_DECRYPT, &cbc, &plain);
    mech.mechanism = CKM_DES3_CBC_PAD;
    check_cipher(row(CKM_DES3_CBC_PAD), &mech, &k, MECH_ENCRYPT, &plain28, &padded);
    check_cipher(row(CKM_DES3_CBC_PAD), &mech, &k, MECH_DECRYPT, &padded, &plain28);
    buf_free(&key);
    buf_free(&iv);
    buf_free(&plain);
    buf_free(&cbc);
    buf_free(&plain28);
    buf_free(&padded);
}

/* A DES2 key K1‖K2 is the DES3 key K1‖K2‖K1 (keying option 2). */
static void test_des2_is_k1k2k1(void **state)
{
    (void)state;
    buf key2 = hex("0123456789ABCDEF23456789ABCDEF01"), plain = hex(SP800_67_PLAIN);
    buf expected = hex("C44862F70CF2FBDC9077D0909FA91B884CABD61FC58E0CBB");
    mech_key k = secret_key(CKK_DES2, &key2);
    CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0};
    check_cipher(row(CKM_DES3_ECB), &ecb, &k, MECH_ENCRYPT, &plain, &expected);
    buf_free(&key2);
    buf_free(&plain);
    buf_free(&expected);
}

/* ---- MACs ---------------------------------------------------------------- */

/* A MAC through the shared driver, fed in chunks of split bytes. */
static CK_RV run_mac(CK_MECHANISM *mech, const mech_key *key, const buf *data, size_t split,
                     buf *out)
{
    *out = (buf){0};
    return run_row(row(mech->mechanism), mech, key, MECH_SIGN, data->data, data->len, &split, 1,
                   out);
}

static CK_RV run_mac_verify(CK_MECHANISM *mech, const mech_key *key, const buf *data,
                            const buf *mac)
{
    return run_verify_row(row(mech->mechanism), mech, key, data->data, data->len, whole_split, 1,
                          mac->data, mac->len);
}

static void check_mac(CK_MECHANISM *mech, const mech_key *key, const buf *data, const buf *expected)
{
    static const size_t splits[] = {1, 3, 8, 64};
    for (size_t i = 0; i < ARRAY_SIZE(splits); i++) {
        buf out;
        assert_int_equal(run_mac(mech, key, data, splits[i], &out), CKR_OK);
        assert_buf_equal(out, expected->data, expected->len);
        buf_free(&out);
    }
    assert_int_equal(run_mac_verify(mech, key, data, expected), CKR_OK);
}

/* NIST SP 800-38B Appendix D.2 (three-key) and D.3 (two-key TDEA). */
static void test_cmac_sp800_38b(void **state)
{
    (void)state;
    static const char *const messages[4] = {
        "", "6BC1BEE22E409F96", "6BC1BEE22E409F96E93D7E117393172AAE2D8A57",
        "6BC1BEE22E409F96E93D7E117393172AAE2D8A571E03AC9C9EB76FAC45AF8E51"};
    static const struct {
        CK_KEY_TYPE type;
        const char *key;
        const char *tags[4];
    } sets[] = {
        {CKK_DES3,
         "8AA83BF8CBDA10620BC1BF19FBB6CD58BC313D4A371CA8B5",
         {"B7A688E122FFAF95", "8E8F293136283797", "743DDBE0CE2DC2ED", "33E6B1092400EAE5"}},
        {CKK_DES2,
         "4CF15134A2850DD58A3D10BA80570D38",
         {"BD2EBF9A3BA00361", "4FF2AB813C53CE83", "62DD1B471902BD4E", "31B1E431DABC4EB8"}},
    };
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        buf key = hex(sets[s].key);
        mech_key k = secret_key(sets[s].type, &key);
        for (size_t m = 0; m < 4; m++) {
            buf data = hex(messages[m]), tag = hex(sets[s].tags[m]);
            CK_MECHANISM cmac = {CKM_DES3_CMAC, NULL, 0};
            check_mac(&cmac, &k, &data, &tag);
            CK_MAC_GENERAL_PARAMS four = 4;
            CK_MECHANISM general = {CKM_DES3_CMAC_GENERAL, &four, sizeof(four)};
            tag.len = 4; /* the first bytes of the full tag */
            check_mac(&general, &k, &data, &tag);
            buf_free(&data);
            buf_free(&tag);
        }
        buf_free(&key);
    }
}

/* CBC-MAC with zero padding: the last block of
 * openssl enc -des-ede3-cbc -nopad -iv 0 over the data and 4 zero bytes. */
static void test_cbc_mac(void **state)
{
    (void)state;
    buf key = hex(SP800_67_KEY), data = hex(SP800_67_PLAIN "2E2E2E2E");
    buf half = hex("785300D9"), full = hex("785300D9431D0F60");
    mech_key k = secret_key(CKK_DES3, &key);
    CK_MECHANISM mac = {CKM_DES3_MAC, NULL, 0};
    check_mac(&mac, &k, &data, &half);
    CK_MAC_GENERAL_PARAMS eight = 8;
    CK_MECHANISM general = {CKM_DES3_MAC_GENERAL, &eight, sizeof(eight)};
    check_mac(&general, &k, &data, &full);
    buf_free(&key);
    buf_free(&data);
    buf_free(&half);
    buf_free(&full);
}

static void test_mac_errors(void **state)
{
    (void)state;
    buf key = hex(SP800_67_KEY), data = hex("00112233"), mac = hex("00000000");
    mech_key k = secret_key(CKK_DES3, &key);
    void *st = NULL;
    CK_MAC_GENERAL_PARAMS lens[] = {0, 9};
    for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
        CK_MECHANISM m = {CKM_DES3_MAC_GENERAL, &lens[i], sizeof(lens[i])};
        assert_int_equal(row(m.mechanism)->ops->init(&m, &k, MECH_SIGN, NULL, &st),
                         CKR_MECHANISM_PARAM_INVALID);
        m.mechanism = CKM_DES3_CMAC_GENERAL;
        assert_int_equal(row(m.mechanism)->ops->init(&m, &k, MECH_SIGN, NULL, &st),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    CK_MECHANISM null_param = {CKM_DES3_MAC_GENERAL, NULL, sizeof(CK_MAC_GENERAL_PARAMS)};
    assert_int_equal(row(null_param.mechanism)->ops->init(&null_param, &k, MECH_SIGN, NULL, &st),
                     CKR_MECHANISM_PARAM_INVALID);
    CK_MAC_GENERAL_PARAMS four = 4;
    CK_MECHANISM extra = {CKM_DES3_CMAC, &four, sizeof(four)};
    assert_int_equal(row(CKM_DES3_CMAC)->ops->init(&extra, &k, MECH_SIGN, NULL, &st),
                     CKR_MECHANISM_PARAM_INVALID);
    CK_MECHANISM plain = {CKM_DES3_MAC, NULL, 0};
    assert_int_equal(run_mac_verify(&plain, &k, &data, &mac), CKR_SIGNATURE_INVALID);
    mac.len = 3;
    assert_int_equal(run_mac_verify(&plain, &k, &data, &mac), CKR_SIGNATURE_LEN_RANGE);
    buf aes = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    mech_key wrong = secret_key(CKK_AES, &aes);
    assert_int_equal(row(CKM_DES3_MAC)->ops->init(&plain, &wrong, MECH_SIGN, NULL, &st),
                     CKR_KEY_TYPE_INCONSISTENT);
    assert_null(st);
    buf_free(&key);
    buf_free(&data);
    buf_free(&mac);
    buf_free(&aes);
}

/* ---- encryption refusals ------------------------------------------------- */

static void test_cipher_errors(void **state)
{
    (void)state;
    buf key = hex(SP800_67_KEY), iv = hex(IV8), odd = hex("0011223344"), out;
    mech_key k = secret_key(CKK_DES3, &key);
    void *st = NULL;
    const mech_row *ecb = row(CKM_DES3_ECB), *cbc = row(CKM_DES3_CBC);
    CK_MECHANISM m_ecb = {CKM_DES3_ECB, NULL, 0}, m_cbc = {CKM_DES3_CBC, iv.data, 8};
    /* parameters */
    CK_MECHANISM bad = {CKM_DES3_ECB, iv.data, 8};
    assert_int_equal(ecb->ops->init(&bad, &k, MECH_ENCRYPT, NULL, &st), CKR_MECHANISM_PARAM_INVALID);
    bad = (CK_MECHANISM){CKM_DES3_CBC, NULL, 8};
    assert_int_equal(cbc->ops->init(&bad, &k, MECH_ENCRYPT, NULL, &st), CKR_MECHANISM_PARAM_INVALID);
    bad = (CK_MECHANISM){CKM_DES3_CBC, iv.data, 16};
    assert_int_equal(cbc->ops->init(&bad, &k, MECH_ENCRYPT, NULL, &st), CKR_MECHANISM_PARAM_INVALID);
    /* keys: wrong type, wrong length for the type */
    buf aes = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    mech_key wrong = secret_key(CKK_AES, &aes);
    assert_int_equal(ecb->ops->init(&m_ecb, &wrong, MECH_ENCRYPT, NULL, &st),
                     CKR_KEY_TYPE_INCONSISTENT);
    mech_key short3 = secret_key(CKK_DES3, &aes); /* 16 bytes typed DES3 */
    assert_int_equal(ecb->ops->init(&m_ecb, &short3, MECH_ENCRYPT, NULL, &st), CKR_KEY_SIZE_RANGE);
    assert_null(st);
    /* data not whole blocks, single- and multi-part */
    assert_int_equal(run_row(ecb, &m_ecb, &k, MECH_ENCRYPT, odd.data, odd.len, NULL, 0, &out),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(run_row(cbc, &m_cbc, &k, MECH_DECRYPT, odd.data, odd.len, NULL, 0, &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_int_equal(
        run_row(cbc, &m_cbc, &k, MECH_ENCRYPT, odd.data, odd.len, whole_split, 1, &out),
        CKR_DATA_LEN_RANGE);
    /* CBC_PAD: a ciphertext that is not whole blocks, and bad padding */
    CK_MECHANISM m_pad = {CKM_DES3_CBC_PAD, iv.data, 8};
    const mech_row *pad = row(CKM_DES3_CBC_PAD);
    assert_int_equal(run_row(pad, &m_pad, &k, MECH_DECRYPT, odd.data, odd.len, NULL, 0, &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    buf garbage = hex("A826FD8CE53B855F");
    assert_int_equal(
        run_row(pad, &m_pad, &k, MECH_DECRYPT, garbage.data, garbage.len, NULL, 0, &out),
        CKR_ENCRYPTED_DATA_INVALID);
    buf_free(&key);
    buf_free(&iv);
    buf_free(&odd);
    buf_free(&aes);
    buf_free(&garbage);
}

/* ---- keys ---------------------------------------------------------------- */

static void test_key_checks(void **state)
{
    (void)state;
    buf k3 = hex(SP800_67_KEY), k2 = hex("0123456789ABCDEF23456789ABCDEF01");
    assert_int_equal(mech_des_key_check(CKK_DES3, k3.data, k3.len), CKR_OK);
    assert_int_equal(mech_des_key_check(CKK_DES2, k2.data, k2.len), CKR_OK);
    /* lengths */
    assert_int_equal(mech_des_key_check(CKK_DES3, k2.data, k2.len), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(mech_des_key_check(CKK_DES2, k3.data, k3.len), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(mech_des_key_check(CKK_AES, k2.data, k2.len), CKR_ATTRIBUTE_VALUE_INVALID);
    /* parity: one byte's low bit flipped */
    k3.data[5] ^= 1;
    assert_int_equal(mech_des_key_check(CKK_DES3, k3.data, k3.len), CKR_ATTRIBUTE_VALUE_INVALID);
    mech_des_set_parity(k3.data, k3.len);
    assert_int_equal(mech_des_key_check(CKK_DES3, k3.data, k3.len), CKR_OK);
    assert_int_equal(k3.data[5], 0xAB);
    /* single DES in disguise: K1 = K2, K2 = K3; K1 = K3 is two-key TDEA */
    buf k1k1 = hex("0123456789ABCDEF0123456789ABCDEF");
    buf k1k2k2 = hex("0123456789ABCDEF23456789ABCDEF0123456789ABCDEF01");
    buf k1k2k1 = hex("0123456789ABCDEF23456789ABCDEF010123456789ABCDEF");
    assert_int_equal(mech_des_key_check(CKK_DES2, k1k1.data, k1k1.len), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(mech_des_key_check(CKK_DES3, k1k2k2.data, k1k2k2.len),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(mech_des_key_check(CKK_DES3, k1k2k1.data, k1k2k1.len), CKR_OK);
    buf_free(&k3);
    buf_free(&k2);
    buf_free(&k1k1);
    buf_free(&k1k2k2);
    buf_free(&k1k2k1);
}

static void test_generate(void **state)
{
    (void)state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        CK_KEY_TYPE type;
        size_t len;
    } cases[] = {{CKM_DES2_KEY_GEN, CKK_DES2, 16}, {CKM_DES3_KEY_GEN, CKK_DES3, 24}};
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        CK_MECHANISM mech = {cases[i].mech, NULL, 0};
        attr_list tmpl, out;
        attr_list_init(&tmpl);
        for (int round = 0; round < 20; round++) {
            attr_list_init(&out);
            assert_int_equal(row(cases[i].mech)->generate(&mech, &tmpl, NULL, &out), CKR_OK);
            assert_int_equal(ulong_of(&out, CKA_KEY_TYPE), cases[i].type);
            assert_int_equal(ulong_of(&out, CKA_VALUE_LEN), cases[i].len);
            const CK_ATTRIBUTE *value = attr_of(&out, CKA_VALUE);
            assert_int_equal(value->ulValueLen, cases[i].len);
            assert_int_equal(mech_des_key_check(cases[i].type, value->pValue, value->ulValueLen),
                             CKR_OK);
            attr_list_free(&out);
        }
        /* a template of another key type; a parameter */
        assert_int_equal(attr_list_set_ulong(&tmpl, CKA_KEY_TYPE, CKK_AES), CKR_OK);
        attr_list_init(&out);
        assert_int_equal(row(cases[i].mech)->generate(&mech, &tmpl, NULL, &out),
                         CKR_TEMPLATE_INCONSISTENT);
        CK_BYTE junk = 0;
        CK_MECHANISM with_param = {cases[i].mech, &junk, 1};
        assert_int_equal(row(cases[i].mech)->generate(&with_param, &out, NULL, &out),
                         CKR_MECHANISM_PARAM_INVALID);
        attr_list_free(&out);
        attr_list_free(&tmpl);
    }
}

/* ---- wrapping ------------------------------------------------------------ */

static void test_wrap(void **state)
{
    (void)state;
    buf kek = hex(SP800_67_KEY), iv = hex(IV8), payload = hex(SP800_67_PLAIN);
    buf twenty = hex("000102030405060708090A0B0C0D0E0F10111213");
    mech_key k = secret_key(CKK_DES3, &kek);
    CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0}, pad = {CKM_DES3_CBC_PAD, iv.data, 8};
    unsigned char wrapped[64];
    size_t len = 0;
    /* ECB wrap of a 24-byte value is its ECB encryption (SP 800-67 vector) */
    assert_int_equal(row(CKM_DES3_ECB)->wrap(&ecb, &k, payload.data, payload.len, NULL, &len),
                     CKR_OK);
    assert_int_equal(len, 24);
    len = 23;
    assert_int_equal(row(CKM_DES3_ECB)->wrap(&ecb, &k, payload.data, payload.len, wrapped, &len),
                     CKR_BUFFER_TOO_SMALL);
    len = sizeof(wrapped);
    assert_int_equal(row(CKM_DES3_ECB)->wrap(&ecb, &k, payload.data, payload.len, wrapped, &len),
                     CKR_OK);
    buf expected = hex(SP800_67_CIPHER);
    assert_int_equal(len, 24);
    assert_memory_equal(wrapped, expected.data, 24);
    unsigned char *back = NULL;
    size_t back_len = 0;
    assert_int_equal(row(CKM_DES3_ECB)->unwrap(&ecb, &k, wrapped, len, &back, &back_len), CKR_OK);
    assert_int_equal(back_len, 24);
    assert_memory_equal(back, payload.data, 24);
    free(back);
    /* ECB cannot wrap 20 bytes (no zero padding); CBC_PAD can, and back */
    len = sizeof(wrapped);
    assert_int_equal(row(CKM_DES3_ECB)->wrap(&ecb, &k, twenty.data, twenty.len, wrapped, &len),
                     CKR_KEY_SIZE_RANGE);
    len = sizeof(wrapped);
    assert_int_equal(
        row(CKM_DES3_CBC_PAD)->wrap(&pad, &k, twenty.data, twenty.len, wrapped, &len), CKR_OK);
    assert_int_equal(len, 24);
    assert_int_equal(row(CKM_DES3_CBC_PAD)->unwrap(&pad, &k, wrapped, len, &back, &back_len),
                     CKR_OK);
    assert_int_equal(back_len, 20);
    assert_memory_equal(back, twenty.data, 20);
    free(back);
    /* refusals under C_UnwrapKey's names */
    assert_int_equal(row(CKM_DES3_CBC_PAD)->unwrap(&pad, &k, wrapped, 20, &back, &back_len),
                     CKR_WRAPPED_KEY_LEN_RANGE);
    buf aes = hex("2B7E151628AED2A6ABF7158809CF4F3C");
    mech_key wrong = secret_key(CKK_AES, &aes);
    len = sizeof(wrapped);
    assert_int_equal(row(CKM_DES3_ECB)->wrap(&ecb, &wrong, payload.data, payload.len, wrapped, &len),
                     CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
    assert_int_equal(row(CKM_DES3_ECB)->unwrap(&ecb, &wrong, wrapped, 24, &back, &back_len),
                     CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
    buf_free(&kek);
    buf_free(&iv);
    buf_free(&payload);
    buf_free(&twenty);
    buf_free(&expected);
    buf_free(&aes);
}

/* ---- check values -------------------------------------------------------- */

static attr_list key_attrs(CK_KEY_TYPE type, const buf *value)
{
    attr_list attrs;
    attr_list_init(&attrs);
    assert_int_equal(attr_list_set_ulong(&attrs, CKA_KEY_TYPE, type), CKR_OK);
    assert_int_equal(attr_list_set(&attrs, CKA_VALUE, value->data, value->len), CKR_OK);
    return attrs;
}

static void test_check_value(void **state)
{
    (void)state;
    static const struct {
        CK_KEY_TYPE type;
        const char *key, *kcv; /* openssl enc -nopad over a zero block; sha1 */
    } cases[] = {
        {CKK_DES3, SP800_67_KEY, "4EBA73"},
        {CKK_AES, "2B7E151628AED2A6ABF7158809CF4F3C", "7DF76B"},
        {CKK_GENERIC_SECRET, "616263", "A9993E"}, /* SHA-1("abc"), FIPS 180 */
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        buf key = hex(cases[i].key), kcv = hex(cases[i].kcv);
        attr_list attrs = key_attrs(cases[i].type, &key);
        assert_int_equal(mech_set_check_value(&attrs), CKR_OK);
        const CK_ATTRIBUTE *set = attr_of(&attrs, CKA_CHECK_VALUE);
        assert_int_equal(set->ulValueLen, 3);
        assert_memory_equal(set->pValue, kcv.data, 3);
        /* given and equal: kept; given and different: refused; empty: kept empty */
        assert_int_equal(mech_set_check_value(&attrs), CKR_OK);
        kcv.data[2] ^= 1;
        assert_int_equal(attr_list_set(&attrs, CKA_CHECK_VALUE, kcv.data, 3), CKR_OK);
        assert_int_equal(mech_set_check_value(&attrs), CKR_ATTRIBUTE_VALUE_INVALID);
        unsigned char longer[4] = {0};
        kcv.data[2] ^= 1; /* the right three bytes, and one more */
        memcpy(longer, kcv.data, 3);
        assert_int_equal(attr_list_set(&attrs, CKA_CHECK_VALUE, longer, 4), CKR_OK);
        assert_int_equal(mech_set_check_value(&attrs), CKR_ATTRIBUTE_VALUE_INVALID);
        assert_int_equal(attr_list_set(&attrs, CKA_CHECK_VALUE, NULL, 0), CKR_OK);
        assert_int_equal(mech_set_check_value(&attrs), CKR_OK);
        assert_int_equal(attr_of(&attrs, CKA_CHECK_VALUE)->ulValueLen, 0);
        attr_list_free(&attrs);
        buf_free(&key);
        buf_free(&kcv);
    }
    /* a DES2 key's is that of K1‖K2‖K1; a key type without one keeps none */
    buf k2 = hex("0123456789ABCDEF23456789ABCDEF01"), any = hex("00112233");
    attr_list attrs = key_attrs(CKK_DES2, &k2);
    assert_int_equal(mech_set_check_value(&attrs), CKR_OK);
    assert_int_equal(attr_of(&attrs, CKA_CHECK_VALUE)->ulValueLen, 3);
    attr_list_free(&attrs);
    attrs = key_attrs(CKK_SHA256_HMAC, &any);
    assert_int_equal(attr_list_set(&attrs, CKA_CHECK_VALUE, any.data, 3), CKR_OK);
    assert_int_equal(mech_set_check_value(&attrs), CKR_OK);
    assert_false(attr_list_has(&attrs, CKA_CHECK_VALUE));
    attr_list_free(&attrs);
    buf_free(&k2);
    buf_free(&any);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tdea_sp800_67), cmocka_unit_test(test_cbc_and_pad),
        cmocka_unit_test(test_des2_is_k1k2k1), cmocka_unit_test(test_cmac_sp800_38b),
        cmocka_unit_test(test_cbc_mac),       cmocka_unit_test(test_mac_errors),
        cmocka_unit_test(test_cipher_errors), cmocka_unit_test(test_key_checks),
        cmocka_unit_test(test_generate),      cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_check_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
