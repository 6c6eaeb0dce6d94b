/*
 * test_mech_derive.c — mechanisms/mech_derive.c: ECDH against the peer's own
 * EVP_PKEY_derive and a hand-built X9.63 KDF, HKDF against RFC 5869 §A,
 * SP 800-108 against NIST CAVP counter-mode vectors and a hand-built
 * HMAC construction.
 */
#include "mech_test.h"

#include <openssl/core_names.h>

static const mech_row *row(CK_MECHANISM_TYPE type)
{
    return row_of(&mech_table_derive, type);
}

/* A template of CK_ULONG attributes: pairs of (type, value), ending at 0 count. */
static attr_list template_of(size_t count, ...)
{
    attr_list tmpl;
    attr_list_init(&tmpl);
    va_list ap;
    va_start(ap, count);
    for (size_t i = 0; i < count; i++) {
        CK_ATTRIBUTE_TYPE type = va_arg(ap, CK_ATTRIBUTE_TYPE);
        CK_ULONG value = va_arg(ap, CK_ULONG);
        assert_int_equal(attr_list_set_ulong(&tmpl, type, value), CKR_OK);
    }
    va_end(ap);
    return tmpl;
}

static CK_RV derive(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len, const mech_key *base,
                    const attr_list *tmpl, attr_list *out)
{
    CK_MECHANISM mech = {type, param, param_len};
    attr_list_init(out);
    CK_RV rv = row(type)->derive(&mech, base, tmpl, NULL, out);
    if (rv != CKR_OK)
        assert_int_equal(out->count, 0);
    return rv;
}

static void assert_value(const attr_list *out, const unsigned char *expected, size_t len)
{
    const CK_ATTRIBUTE *value = attr_of(out, CKA_VALUE);
    assert_int_equal(value->ulValueLen, len);
    assert_memory_equal(value->pValue, expected, len);
}

/* ---- ECDH ------------------------------------------------------------------- */

static buf public_point(EVP_PKEY *pkey)
{
    buf point = {malloc(200), 0};
    assert_int_equal(
        EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point.data, 200, &point.len),
        1);
    return point;
}

/* The DER OCTET STRING around a point. */
static buf der_octet_string(const buf *point)
{
    buf der = {malloc(point->len + 3), 0};
    der.data[der.len++] = 0x04;
    if (point->len >= 128)
        der.data[der.len++] = 0x81;
    der.data[der.len++] = (unsigned char)point->len;
    memcpy(der.data + der.len, point->data, point->len);
    der.len += point->len;
    return der;
}

/* Z as the peer computes it. */
static buf peer_secret(EVP_PKEY *peer_priv, EVP_PKEY *our_pub)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer_priv, NULL);
    buf z = {malloc(80), 80};
    assert_int_equal(EVP_PKEY_derive_init(ctx), 1);
    assert_int_equal(EVP_PKEY_derive_set_peer(ctx, our_pub), 1);
    assert_int_equal(EVP_PKEY_derive(ctx, z.data, &z.len), 1);
    EVP_PKEY_CTX_free(ctx);
    return z;
}

/* The ANSI X9.63 KDF (SEC 1 §3.6.1): Hash(Z ‖ counter_32 ‖ SharedInfo) blocks. */
static buf x963_reference(const char *md, const buf *z, const buf *info, size_t len)
{
    buf out = {malloc(len + 64), len};
    size_t at = 0;
    for (uint32_t counter = 1; at < len; counter++) {
        unsigned char be[4] = {counter >> 24, counter >> 16, counter >> 8, counter};
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned int n = 0;
        assert_int_equal(EVP_DigestInit_ex2(ctx, EVP_get_digestbyname(md), NULL), 1);
        EVP_DigestUpdate(ctx, z->data, z->len);
        EVP_DigestUpdate(ctx, be, 4);
        if (info)
            EVP_DigestUpdate(ctx, info->data, info->len);
        assert_int_equal(EVP_DigestFinal_ex(ctx, out.data + at, &n), 1);
        EVP_MD_CTX_free(ctx);
        at += n;
    }
    return out;
}

static void check_ecdh_curve(const char *curve, size_t z_len)
{
    EVP_PKEY *ours = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);
    mech_key base = {.cls = CKO_PRIVATE_KEY, .type = CKK_EC, .pkey = ours};
    buf point = public_point(peer), der = der_octet_string(&point);
    buf z = peer_secret(peer, ours);
    assert_int_equal(z.len, z_len);
    attr_list empty, out;
    attr_list_init(&empty);

    /* CKD_NULL, no length: all of Z, raw and DER points alike */
    CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, point.len, point.data};
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_OK);
    assert_value(&out, z.data, z.len);
    assert_int_equal(ulong_of(&out, CKA_VALUE_LEN), z.len);
    assert_int_equal(ulong_of(&out, CKA_KEY_TYPE), CKK_GENERIC_SECRET);
    attr_list_free(&out);
    params.ulPublicDataLen = der.len;
    params.pPublicData = der.data;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_OK);
    assert_value(&out, z.data, z.len);
    attr_list_free(&out);

    /* a compressed point (SEC 1 §2.3.3) */
    EVP_PKEY *peer_copy = EVP_PKEY_dup(peer);
    assert_int_equal(EVP_PKEY_set_utf8_string_param(
                         peer_copy, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "compressed"),
                     1);
    buf compressed = public_point(peer_copy);
    EVP_PKEY_free(peer_copy);
    assert_int_equal(compressed.len, 1 + z_len);
    CK_ECDH1_DERIVE_PARAMS short_form = {CKD_NULL, 0, NULL, compressed.len, compressed.data};
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &short_form, sizeof(short_form), &base, &empty, &out),
                     CKR_OK);
    assert_value(&out, z.data, z.len);
    attr_list_free(&out);
    buf_free(&compressed);

    /* an AES-128 key: Z's 16 low-order bytes */
    attr_list aes16 = template_of(2, CKA_KEY_TYPE, CKK_AES, CKA_VALUE_LEN, (CK_ULONG)16);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &aes16, &out),
                     CKR_OK);
    assert_value(&out, z.data + z.len - 16, 16);
    assert_false(attr_list_has(&out, CKA_KEY_TYPE)); /* the template's stands */
    attr_list_free(&out);

    /* X9.63 KDF with SHA-256 and shared info, longer than one hash */
    buf info = hex("a1b2c3d4e5");
    params.kdf = CKD_SHA256_KDF;
    params.pSharedData = info.data;
    params.ulSharedDataLen = info.len;
    attr_list len48 = template_of(1, CKA_VALUE_LEN, (CK_ULONG)48);
    buf expected = x963_reference("SHA256", &z, &info, 48);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &len48, &out),
                     CKR_OK);
    assert_value(&out, expected.data, 48);
    attr_list_free(&out);
    buf_free(&expected);
    /* SHA-512 without shared info */
    params.kdf = CKD_SHA512_KDF;
    params.pSharedData = NULL;
    params.ulSharedDataLen = 0;
    expected = x963_reference("SHA512", &z, NULL, 16);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &aes16, &out),
                     CKR_OK);
    assert_value(&out, expected.data, 16);
    attr_list_free(&out);
    buf_free(&expected);

    attr_list_free(&aes16), attr_list_free(&len48);
    buf_free(&point), buf_free(&der), buf_free(&z), buf_free(&info);
    EVP_PKEY_free(ours);
    EVP_PKEY_free(peer);
}

static void test_ecdh(void **unused)
{
    (void)unused;
    check_ecdh_curve("P-256", 32);
    check_ecdh_curve("P-384", 48);
    check_ecdh_curve("P-521", 66);
}

static void test_ecdh_errors(void **unused)
{
    (void)unused;
    EVP_PKEY *ours = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    mech_key base = {.cls = CKO_PRIVATE_KEY, .type = CKK_EC, .pkey = ours};
    buf point = public_point(peer), p384 = public_point(other);
    buf out_of_place = point; /* the same bytes, one flipped then restored */
    attr_list empty, out;
    attr_list_init(&empty);
    CK_ECDH1_DERIVE_PARAMS params = {CKD_NULL, 0, NULL, point.len, point.data};

    /* AES needs CKA_VALUE_LEN; generic secrets through a KDF do too */
    attr_list aes = template_of(1, CKA_KEY_TYPE, CKK_AES);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &aes, &out),
                     CKR_TEMPLATE_INCOMPLETE);
    attr_list aes20 = template_of(2, CKA_KEY_TYPE, CKK_AES, CKA_VALUE_LEN, (CK_ULONG)20);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &aes20, &out),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list too_long = template_of(1, CKA_VALUE_LEN, (CK_ULONG)33);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &too_long, &out),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    params.kdf = CKD_SHA256_KDF;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_TEMPLATE_INCOMPLETE);

    /* parameters */
    params.kdf = CKD_NULL;
    params.ulSharedDataLen = 3;
    params.pSharedData = point.data;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID); /* CKD_NULL takes no shared data */
    params.ulSharedDataLen = 0;
    params.pSharedData = NULL;
    params.kdf = 0x77;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.kdf = CKD_NULL;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params) - 1, &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.pPublicData = NULL;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);

    /* a point not on the curve, a point of another curve, a truncated point */
    out_of_place.data[out_of_place.len - 1] ^= 1;
    params.pPublicData = out_of_place.data;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    out_of_place.data[out_of_place.len - 1] ^= 1;
    params.pPublicData = p384.data;
    params.ulPublicDataLen = p384.len;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.ulPublicDataLen = 64;
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &base, &empty, &out),
                     CKR_MECHANISM_PARAM_INVALID);

    /* base keys */
    params.pPublicData = point.data;
    params.ulPublicDataLen = point.len;
    buf k = buf_random(32);
    mech_key secret = secret_key(CKK_GENERIC_SECRET, &k);
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &secret, &empty, &out),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    mech_key rsa_key = {.cls = CKO_PRIVATE_KEY, .type = CKK_EC, .pkey = rsa};
    assert_int_equal(derive(CKM_ECDH1_DERIVE, &params, sizeof(params), &rsa_key, &empty, &out),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY_free(rsa);

    attr_list_free(&aes), attr_list_free(&aes20), attr_list_free(&too_long);
    buf_free(&point), buf_free(&p384), buf_free(&k);
    EVP_PKEY_free(ours), EVP_PKEY_free(peer), EVP_PKEY_free(other);
}

/* ---- HKDF ------------------------------------------------------------------- */

/* RFC 5869 Appendix A.1 (test case 1) and A.3 (test case 3). */
#define RFC5869_IKM "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b"
#define RFC5869_1_SALT "000102030405060708090a0b0c"
#define RFC5869_1_INFO "f0f1f2f3f4f5f6f7f8f9"
#define RFC5869_1_PRK "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5"
#define RFC5869_1_OKM                                                                              \
    "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
#define RFC5869_3_PRK "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04"
#define RFC5869_3_OKM                                                                              \
    "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"

static void test_hkdf_rfc5869(void **unused)
{
    (void)unused;
    buf ikm = hex(RFC5869_IKM), salt = hex(RFC5869_1_SALT), info = hex(RFC5869_1_INFO);
    buf prk = hex(RFC5869_1_PRK), okm = hex(RFC5869_1_OKM);
    mech_key base = secret_key(CKK_GENERIC_SECRET, &ikm);
    attr_list len42 = template_of(1, CKA_VALUE_LEN, (CK_ULONG)42), empty, out;
    attr_list_init(&empty);
    CK_HKDF_PARAMS params = {CK_TRUE,   CK_TRUE,  CKM_SHA256,        CKF_HKDF_SALT_DATA,
                             salt.data, salt.len, CK_INVALID_HANDLE, info.data,
                             info.len};

    assert_int_equal(derive(CKM_HKDF_DERIVE, &params, sizeof(params), &base, &len42, &out), CKR_OK);
    assert_value(&out, okm.data, okm.len);
    assert_int_equal(ulong_of(&out, CKA_VALUE_LEN), 42);
    attr_list_free(&out);

    /* extract only: the PRK, HashLen bytes without a template length */
    params.bExpand = CK_FALSE;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &params, sizeof(params), &base, &empty, &out), CKR_OK);
    assert_value(&out, prk.data, prk.len);
    attr_list_free(&out);
    assert_int_equal(derive(CKM_HKDF_DERIVE, &params, sizeof(params), &base, &len42, &out),
                     CKR_ATTRIBUTE_VALUE_INVALID);

    /* expand only: the base key is the PRK */
    mech_key prk_key = secret_key(CKK_HKDF, &prk);
    params.bExpand = CK_TRUE;
    params.bExtract = CK_FALSE;
    params.ulSaltType = 0; /* ignored without extract */
    assert_int_equal(derive(CKM_HKDF_DERIVE, &params, sizeof(params), &prk_key, &len42, &out),
                     CKR_OK);
    assert_value(&out, okm.data, okm.len);
    attr_list_free(&out);

    /* CKM_HKDF_DATA: a CKO_DATA value */
    params.bExtract = CK_TRUE;
    params.ulSaltType = CKF_HKDF_SALT_DATA;
    assert_int_equal(derive(CKM_HKDF_DATA, &params, sizeof(params), &base, &len42, &out), CKR_OK);
    assert_value(&out, okm.data, okm.len);
    assert_int_equal(ulong_of(&out, CKA_CLASS), CKO_DATA);
    assert_false(attr_list_has(&out, CKA_KEY_TYPE));
    attr_list_free(&out);

    /* test case 3: no salt (HashLen zeros), no info */
    buf prk3 = hex(RFC5869_3_PRK), okm3 = hex(RFC5869_3_OKM);
    CK_HKDF_PARAMS nulls = {CK_TRUE,           CK_TRUE, CKM_SHA256, CKF_HKDF_SALT_NULL, NULL, 0,
                            CK_INVALID_HANDLE, NULL,    0};
    assert_int_equal(derive(CKM_HKDF_DERIVE, &nulls, sizeof(nulls), &base, &len42, &out), CKR_OK);
    assert_value(&out, okm3.data, okm3.len);
    attr_list_free(&out);
    nulls.bExpand = CK_FALSE;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &nulls, sizeof(nulls), &base, &empty, &out), CKR_OK);
    assert_value(&out, prk3.data, prk3.len);
    attr_list_free(&out);

    /* an AES key from HKDF */
    attr_list aes = template_of(2, CKA_KEY_TYPE, CKK_AES, CKA_VALUE_LEN, (CK_ULONG)32);
    nulls.bExpand = CK_TRUE;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &nulls, sizeof(nulls), &base, &aes, &out), CKR_OK);
    assert_value(&out, okm3.data, 32);
    attr_list_free(&out);

    attr_list_free(&len42), attr_list_free(&aes);
    buf_free(&ikm), buf_free(&salt), buf_free(&info), buf_free(&prk), buf_free(&okm);
    buf_free(&prk3), buf_free(&okm3);
}

static void test_hkdf_errors(void **unused)
{
    (void)unused;
    buf ikm = buf_random(32), salt = buf_random(16);
    mech_key base = secret_key(CKK_GENERIC_SECRET, &ikm);
    attr_list len32 = template_of(1, CKA_VALUE_LEN, (CK_ULONG)32), empty, out;
    attr_list_init(&empty);
    CK_HKDF_PARAMS good = {CK_TRUE,   CK_TRUE,  CKM_SHA256,        CKF_HKDF_SALT_DATA,
                           salt.data, salt.len, CK_INVALID_HANDLE, NULL,
                           0};
    CK_HKDF_PARAMS p = good;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out), CKR_OK);
    attr_list_free(&out);

    p.bExtract = p.bExpand = CK_FALSE;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p = good;
    p.prfHashMechanism = CKM_MD5;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p = good;
    p.ulSaltType = CKF_HKDF_SALT_KEY;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p.ulSaltType = CKF_HKDF_SALT_DATA;
    p.pSalt = NULL;
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p = good;
    p.ulInfoLen = 4; /* pInfo NULL */
    assert_int_equal(derive(CKM_HKDF_DERIVE, &p, sizeof(p), &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good) + 1, &base, &len32, &out),
                     CKR_MECHANISM_PARAM_INVALID);

    /* lengths: expand needs one, and at most 255 × HashLen */
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good), &base, &empty, &out),
                     CKR_TEMPLATE_INCOMPLETE);
    attr_list huge = template_of(1, CKA_VALUE_LEN, (CK_ULONG)(255 * 32 + 1));
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good), &base, &huge, &out),
                     CKR_ATTRIBUTE_VALUE_INVALID);
    attr_list max = template_of(1, CKA_VALUE_LEN, (CK_ULONG)(255 * 32));
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good), &base, &max, &out), CKR_OK);
    attr_list_free(&out);

    /* base keys */
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    mech_key ec_key = {.cls = CKO_PRIVATE_KEY, .type = CKK_EC, .pkey = ec};
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good), &ec_key, &len32, &out),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY_free(ec);
    buf zero = {ikm.data, 0};
    mech_key empty_key = secret_key(CKK_GENERIC_SECRET, &zero);
    assert_int_equal(derive(CKM_HKDF_DERIVE, &good, sizeof(good), &empty_key, &len32, &out),
                     CKR_KEY_SIZE_RANGE);

    attr_list_free(&len32), attr_list_free(&huge), attr_list_free(&max);
    buf_free(&ikm), buf_free(&salt);
}

/* ---- SP 800-108 counter mode ----------------------------------------------- */

static CK_SP800_108_COUNTER_FORMAT counter32 = {CK_FALSE, 32};

/* NIST CAVP KBKDF CounterMode, [PRF=HMAC_SHA256] [CTRLOCATION=BEFORE_FIXED]
 * [RLEN=32_BITS], COUNT=10 (L=256) and COUNT=30 (L=320). */
static void test_kbkdf_nist(void **unused)
{
    (void)unused;
    static const struct {
        const char *key, *fixed, *out;
    } vectors[] = {
        {"e204d6d466aad507ffaf6d6dab0a5b26152c9e21e764370464e360c8fbc765c6",
         "7b03b98d9f94b899e591f3ef264b71b193fba7043c7e953cde23bc5384bc1a6293580115fae3495fd845d"
         "adbd02bd6455cf48d0f62b33e62364a3a80",
         "770dfab6a6a4a4bee0257ff335213f78d8287b4fd537d5c1fffa956910e7c779"},
        {"c4bedbddb66493e7c7259a3bbbc25f8c7e0ca7fe284d92d431d9cd99a0d214ac",
         "1c69c54766791e315c2cc5c47ecd3ffab87d0d273dd920e70955814c220eacace6a5946542da3dfe24ff6"
         "26b4897898cafb7db83bdff3c14fa46fd4b",
         "1da47638d6c9c4d04d74d4640bbd42ab814d9e8cc22f4326695239f96b0693f12d0dd1152cf44430"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(vectors); i++) {
        buf key = hex(vectors[i].key), fixed = hex(vectors[i].fixed),
            expected = hex(vectors[i].out);
        mech_key base = secret_key(CKK_GENERIC_SECRET, &key);
        CK_PRF_DATA_PARAM data[] = {
            {CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
            {CK_SP800_108_BYTE_ARRAY, fixed.data, fixed.len},
        };
        CK_SP800_108_KDF_PARAMS params = {CKM_SHA256_HMAC, 2, data, 0, NULL};
        attr_list tmpl = template_of(1, CKA_VALUE_LEN, (CK_ULONG)expected.len), out;
        assert_int_equal(
            derive(CKM_SP800_108_COUNTER_KDF, &params, sizeof(params), &base, &tmpl, &out), CKR_OK);
        assert_value(&out, expected.data, expected.len);
        attr_list_free(&out), attr_list_free(&tmpl);
        buf_free(&key), buf_free(&fixed), buf_free(&expected);
    }
}

/* K(i) = HMAC-SHA256(key, [i]_32 ‖ fixed ‖ [L]_32), concatenated. */
static buf kbkdf_reference(const buf *key, const buf *fixed, uint32_t l_bits, size_t len)
{
    buf out = {malloc(len + 32), len};
    unsigned char be_l[4] = {l_bits >> 24, l_bits >> 16, l_bits >> 8, l_bits};
    size_t at = 0;
    for (uint32_t i = 1; at < len; i++, at += 32) {
        unsigned char be_i[4] = {i >> 24, i >> 16, i >> 8, i};
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
        OSSL_PARAM params[] = {OSSL_PARAM_utf8_string("digest", "SHA256", 0), OSSL_PARAM_END};
        size_t n = 0;
        assert_int_equal(EVP_MAC_init(ctx, key->data, key->len, params), 1);
        EVP_MAC_update(ctx, be_i, 4);
        EVP_MAC_update(ctx, fixed->data, fixed->len);
        EVP_MAC_update(ctx, be_l, 4);
        assert_int_equal(EVP_MAC_final(ctx, out.data + at, &n, 32), 1);
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
    }
    return out;
}

/* [counter, label, 0x00, context, L]: the common layout. */
static void test_kbkdf_layouts(void **unused)
{
    (void)unused;
    buf key = buf_random(32), label = hex("6c6162656c"), zero = hex("00"), context = hex("c0ffee");
    buf fixed = hex("6c6162656c"
                    "00"
                    "c0ffee");
    mech_key base = secret_key(CKK_GENERIC_SECRET, &key);
    CK_SP800_108_DKM_LENGTH_FORMAT keys = {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_FALSE, 32};
    CK_SP800_108_DKM_LENGTH_FORMAT segments = {CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS, CK_FALSE,
                                               32};
    CK_PRF_DATA_PARAM data[] = {
        {CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
        {CK_SP800_108_BYTE_ARRAY, label.data, label.len},
        {CK_SP800_108_BYTE_ARRAY, zero.data, zero.len},
        {CK_SP800_108_BYTE_ARRAY, context.data, context.len},
        {CK_SP800_108_DKM_LENGTH, &keys, sizeof(keys)},
    };
    CK_SP800_108_KDF_PARAMS params = {CKM_SHA256_HMAC, 5, data, 0, NULL};
    attr_list len40 = template_of(1, CKA_VALUE_LEN, (CK_ULONG)40), out;

    buf expected = kbkdf_reference(&key, &fixed, 40 * 8, 40);
    assert_int_equal(
        derive(CKM_SP800_108_COUNTER_KDF, &params, sizeof(params), &base, &len40, &out), CKR_OK);
    assert_value(&out, expected.data, 40);
    attr_list_free(&out), buf_free(&expected);

    /* SUM_OF_SEGMENTS: L counts two whole HMAC outputs */
    data[4].pValue = &segments;
    expected = kbkdf_reference(&key, &fixed, 64 * 8, 40);
    assert_int_equal(
        derive(CKM_SP800_108_COUNTER_KDF, &params, sizeof(params), &base, &len40, &out), CKR_OK);
    assert_value(&out, expected.data, 40);
    attr_list_free(&out), buf_free(&expected);

    /* an AES key, no byte arrays at all */
    params.ulNumberOfDataParams = 1;
    attr_list aes = template_of(2, CKA_KEY_TYPE, CKK_AES, CKA_VALUE_LEN, (CK_ULONG)16);
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &params, sizeof(params), &base, &aes, &out),
                     CKR_OK);
    assert_int_equal(attr_of(&out, CKA_VALUE)->ulValueLen, 16);
    attr_list_free(&out);

    /* refused layouts */
    CK_SP800_108_COUNTER_FORMAT counter16 = {CK_FALSE, 16}, little = {CK_TRUE, 32};
    CK_SP800_108_DKM_LENGTH_FORMAT dkm_little = {CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, CK_TRUE, 32};
    CK_PRF_DATA_PARAM bad[][3] = {
        {{CK_SP800_108_ITERATION_VARIABLE, &counter16, sizeof(counter16)}},
        {{CK_SP800_108_ITERATION_VARIABLE, &little, sizeof(little)}},
        {{CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32) - 1}},
        {{CK_SP800_108_BYTE_ARRAY, label.data, label.len},
         {CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)}},
        {{CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
         {CK_SP800_108_DKM_LENGTH, &keys, sizeof(keys)},
         {CK_SP800_108_BYTE_ARRAY, label.data, label.len}},
        {{CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
         {CK_SP800_108_DKM_LENGTH, &dkm_little, sizeof(dkm_little)}},
        {{CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
         {CK_SP800_108_OPTIONAL_COUNTER, &counter32, sizeof(counter32)}},
        {{CK_SP800_108_ITERATION_VARIABLE, &counter32, sizeof(counter32)},
         {CK_SP800_108_BYTE_ARRAY, NULL, 4}},
    };
    CK_ULONG bad_counts[] = {1, 1, 1, 2, 3, 2, 2, 2};
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        CK_SP800_108_KDF_PARAMS p = {CKM_SHA256_HMAC, bad_counts[i], bad[i], 0, NULL};
        assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &base, &len40, &out),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    CK_SP800_108_KDF_PARAMS p = {CKM_SHA256_HMAC, 1, data, 0, NULL};
    p.ulAdditionalDerivedKeys = 1;
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &base, &len40, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p.ulAdditionalDerivedKeys = 0;
    p.prfType = CKM_AES_CMAC;
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &base, &len40, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p.prfType = CKM_SHA256_HMAC;
    p.ulNumberOfDataParams = 0;
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &base, &len40, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    p.ulNumberOfDataParams = 1;
    attr_list empty;
    attr_list_init(&empty);
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &base, &empty, &out),
                     CKR_TEMPLATE_INCOMPLETE);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    mech_key ec_key = {.cls = CKO_PRIVATE_KEY, .type = CKK_EC, .pkey = ec};
    assert_int_equal(derive(CKM_SP800_108_COUNTER_KDF, &p, sizeof(p), &ec_key, &len40, &out),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY_free(ec);

    attr_list_free(&len40), attr_list_free(&aes);
    buf_free(&key), buf_free(&label), buf_free(&zero), buf_free(&context), buf_free(&fixed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecdh),         cmocka_unit_test(test_ecdh_errors),
        cmocka_unit_test(test_hkdf_rfc5869), cmocka_unit_test(test_hkdf_errors),
        cmocka_unit_test(test_kbkdf_nist),   cmocka_unit_test(test_kbkdf_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
