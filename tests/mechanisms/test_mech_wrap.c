/*
 * test_mech_wrap.c — mechanisms/mech_wrap.c against RFC 3394 §4 and RFC 5649
 * §6, as C_WrapKey/C_UnwrapKey and as single-part C_Encrypt/C_Decrypt.
 */
#include "mech_test.h"

static const mech_row *row(CK_MECHANISM_TYPE type)
{
    return row_of(&mech_table_wrap, type);
}

static CK_RV wrap(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len, const buf *kek,
                  const buf *in, buf *out)
{
    CK_MECHANISM mech = {type, param, param_len};
    mech_key key = secret_key(CKK_AES, kek);
    size_t need = 0;
    out->data = NULL;
    out->len = 0;
    CK_RV rv = row(type)->wrap(&mech, &key, in->data, in->len, NULL, &need);
    if (rv != CKR_OK)
        return rv;
    out->data = malloc(need);
    out->len = need;
    rv = row(type)->wrap(&mech, &key, in->data, in->len, out->data, &out->len);
    if (rv != CKR_OK)
        buf_free(out);
    return rv;
}

static CK_RV unwrap(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len, const buf *kek,
                    const buf *in, buf *out)
{
    CK_MECHANISM mech = {type, param, param_len};
    mech_key key = secret_key(CKK_AES, kek);
    out->data = NULL;
    out->len = 0;
    return row(type)->unwrap(&mech, &key, in->data, in->len, &out->data, &out->len);
}

/* The vector through all four paths: wrap, unwrap, encrypt, decrypt. */
static void check_vector(CK_MECHANISM_TYPE type, const char *kek_hex, const char *key_hex,
                         const char *wrapped_hex)
{
    buf kek = hex(kek_hex), key = hex(key_hex), wrapped = hex(wrapped_hex), out;
    assert_int_equal(wrap(type, NULL, 0, &kek, &key, &out), CKR_OK);
    assert_buf_equal(out, wrapped.data, wrapped.len);
    buf_free(&out);
    assert_int_equal(unwrap(type, NULL, 0, &kek, &wrapped, &out), CKR_OK);
    assert_buf_equal(out, key.data, key.len);
    buf_free(&out);

    CK_MECHANISM mech = {type, NULL, 0};
    mech_key k = secret_key(CKK_AES, &kek);
    check_cipher(row(type), &mech, &k, MECH_ENCRYPT, &key, &wrapped);
    check_cipher(row(type), &mech, &k, MECH_DECRYPT, &wrapped, &key);

    /* any flipped bit fails the integrity check */
    for (size_t i = 0; i < wrapped.len; i += 7) {
        wrapped.data[i] ^= 0x80;
        assert_int_equal(unwrap(type, NULL, 0, &kek, &wrapped, &out), CKR_WRAPPED_KEY_INVALID);
        assert_null(out.data);
        assert_int_equal(
            run_row(row(type), &mech, &k, MECH_DECRYPT, wrapped.data, wrapped.len, NULL, 0, &out),
            CKR_ENCRYPTED_DATA_INVALID);
        wrapped.data[i] ^= 0x80;
    }
    buf_free(&kek), buf_free(&key), buf_free(&wrapped);
}

static void test_rfc3394(void **unused)
{
    (void)unused;
    /* §4.1: 128-bit data, 128-bit KEK */
    check_vector(CKM_AES_KEY_WRAP, "000102030405060708090A0B0C0D0E0F",
                 "00112233445566778899AABBCCDDEEFF",
                 "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
    /* §4.6: 256-bit data, 256-bit KEK */
    check_vector(CKM_AES_KEY_WRAP,
                 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
                 "00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F",
                 "28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43B"
                 "FB988B9B7A02DD21");
}

static void test_rfc5649(void **unused)
{
    (void)unused;
    static const CK_MECHANISM_TYPE types[] = {CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        /* §6: 20 octets and 7 octets under a 192-bit KEK */
        check_vector(types[i], "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8",
                     "c37b7e6492584340bed12207808941155068f738",
                     "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a");
        check_vector(types[i], "5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8", "466f7250617369",
                     "afbeb0f07dfbf5419200f2ccb50bb24f");
    }
}

static void test_lengths(void **unused)
{
    (void)unused;
    buf kek = buf_random(32), data = buf_random(64), out;
    for (size_t len = 1; len <= 40; len++) {
        buf in = {data.data, len};
        CK_RV rv = wrap(CKM_AES_KEY_WRAP, NULL, 0, &kek, &in, &out);
        if (len < 16 || len % 8 != 0) {
            assert_int_equal(rv, CKR_KEY_SIZE_RANGE);
            CK_MECHANISM mech = {CKM_AES_KEY_WRAP, NULL, 0};
            mech_key k = secret_key(CKK_AES, &kek);
            assert_int_equal(run_row(row(CKM_AES_KEY_WRAP), &mech, &k, MECH_ENCRYPT, in.data,
                                     in.len, NULL, 0, &out),
                             CKR_DATA_LEN_RANGE);
        } else {
            assert_int_equal(rv, CKR_OK);
            assert_int_equal(out.len, len + 8);
            buf_free(&out);
        }
        /* KWP takes any length: wrapped is the padded length + 8 */
        assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &in, &out), CKR_OK);
        assert_int_equal(out.len, (len + 7) / 8 * 8 + 8);
        buf back;
        assert_int_equal(unwrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &out, &back), CKR_OK);
        assert_buf_equal(back, in.data, in.len);
        buf_free(&back), buf_free(&out);
    }
    buf empty = {data.data, 0};
    assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &empty, &out), CKR_KEY_SIZE_RANGE);

    /* wrapped lengths: KW ≥ 24, KWP ≥ 16, both multiples of 8 */
    size_t bad_kw[] = {0, 8, 16, 23, 25, 31}, bad_kwp[] = {0, 8, 15, 17, 23};
    for (size_t i = 0; i < ARRAY_SIZE(bad_kw); i++) {
        buf in = {data.data, bad_kw[i]};
        assert_int_equal(unwrap(CKM_AES_KEY_WRAP, NULL, 0, &kek, &in, &out),
                         CKR_WRAPPED_KEY_LEN_RANGE);
        CK_MECHANISM mech = {CKM_AES_KEY_WRAP, NULL, 0};
        mech_key k = secret_key(CKK_AES, &kek);
        assert_int_equal(
            run_row(row(CKM_AES_KEY_WRAP), &mech, &k, MECH_DECRYPT, in.data, in.len, NULL, 0, &out),
            CKR_ENCRYPTED_DATA_LEN_RANGE);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad_kwp); i++) {
        buf in = {data.data, bad_kwp[i]};
        assert_int_equal(unwrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &in, &out),
                         CKR_WRAPPED_KEY_LEN_RANGE);
    }
    /* random data of a valid length is not a wrapped key */
    buf junk = {data.data, 32};
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP, NULL, 0, &kek, &junk, &out), CKR_WRAPPED_KEY_INVALID);
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &junk, &out),
                     CKR_WRAPPED_KEY_INVALID);
    buf_free(&kek), buf_free(&data);
}

static void test_iv_params(void **unused)
{
    (void)unused;
    buf kek = buf_random(16), key = buf_random(24), out, back, dflt;
    /* RFC 3394's default IV given explicitly is the same as none */
    buf a6 = hex("A6A6A6A6A6A6A6A6");
    assert_int_equal(wrap(CKM_AES_KEY_WRAP, a6.data, 8, &kek, &key, &out), CKR_OK);
    assert_int_equal(wrap(CKM_AES_KEY_WRAP, NULL, 0, &kek, &key, &dflt), CKR_OK);
    assert_buf_equal(out, dflt.data, dflt.len);
    buf_free(&out), buf_free(&dflt);
    buf aiv = hex("A65959A6");
    assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, aiv.data, 4, &kek, &key, &out), CKR_OK);
    assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &key, &dflt), CKR_OK);
    assert_buf_equal(out, dflt.data, dflt.len);
    buf_free(&out), buf_free(&dflt);

    /* another IV must match on unwrap */
    buf iv = hex("0011223344556677");
    assert_int_equal(wrap(CKM_AES_KEY_WRAP, iv.data, 8, &kek, &key, &out), CKR_OK);
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP, iv.data, 8, &kek, &out, &back), CKR_OK);
    assert_buf_equal(back, key.data, key.len);
    buf_free(&back);
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP, NULL, 0, &kek, &out, &back), CKR_WRAPPED_KEY_INVALID);
    buf_free(&out);
    assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, iv.data, 4, &kek, &key, &out), CKR_OK);
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP_KWP, iv.data, 4, &kek, &out, &back), CKR_OK);
    assert_buf_equal(back, key.data, key.len);
    buf_free(&back);
    assert_int_equal(unwrap(CKM_AES_KEY_WRAP_KWP, NULL, 0, &kek, &out, &back),
                     CKR_WRAPPED_KEY_INVALID);
    buf_free(&out);

    /* wrong sizes */
    assert_int_equal(wrap(CKM_AES_KEY_WRAP, iv.data, 4, &kek, &key, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(wrap(CKM_AES_KEY_WRAP_KWP, iv.data, 8, &kek, &key, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(wrap(CKM_AES_KEY_WRAP, NULL, 8, &kek, &key, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    buf_free(&kek), buf_free(&key), buf_free(&a6), buf_free(&aiv), buf_free(&iv);
}

static void test_keys(void **unused)
{
    (void)unused;
    buf kek = buf_random(32), key = buf_random(16), wrapped = buf_random(24);
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP, NULL, 0};
    const mech_row *r = row(CKM_AES_KEY_WRAP);
    unsigned char out[64], *unwrapped = NULL;
    size_t len = sizeof(out), unwrapped_len = 0, need = 0;

    mech_key generic = secret_key(CKK_GENERIC_SECRET, &kek);
    assert_int_equal(r->wrap(&mech, &generic, key.data, key.len, out, &len),
                     CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
    assert_int_equal(
        r->unwrap(&mech, &generic, wrapped.data, wrapped.len, &unwrapped, &unwrapped_len),
        CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
    void *state = NULL;
    assert_int_equal(r->ops->init(&mech, &generic, MECH_ENCRYPT, NULL, &state),
                     CKR_KEY_TYPE_INCONSISTENT);
    buf k20 = {kek.data, 20};
    mech_key odd = secret_key(CKK_AES, &k20);
    assert_int_equal(r->wrap(&mech, &odd, key.data, key.len, out, &len),
                     CKR_WRAPPING_KEY_SIZE_RANGE);
    assert_int_equal(r->unwrap(&mech, &odd, wrapped.data, wrapped.len, &unwrapped, &unwrapped_len),
                     CKR_UNWRAPPING_KEY_SIZE_RANGE);
    assert_int_equal(r->ops->init(&mech, &odd, MECH_DECRYPT, NULL, &state), CKR_KEY_SIZE_RANGE);

    /* size query and a short buffer */
    mech_key aes = secret_key(CKK_AES, &kek);
    assert_int_equal(r->wrap(&mech, &aes, key.data, key.len, NULL, &need), CKR_OK);
    assert_int_equal(need, 24);
    len = 23;
    assert_int_equal(r->wrap(&mech, &aes, key.data, key.len, out, &len), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 24);
    assert_false(r->multipart);
    assert_int_equal(r->info.flags & (CKF_WRAP | CKF_UNWRAP | CKF_ENCRYPT | CKF_DECRYPT),
                     CKF_WRAP | CKF_UNWRAP | CKF_ENCRYPT | CKF_DECRYPT);
    buf_free(&kek), buf_free(&key), buf_free(&wrapped);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc3394), cmocka_unit_test(test_rfc5649),
        cmocka_unit_test(test_lengths), cmocka_unit_test(test_iv_params),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
