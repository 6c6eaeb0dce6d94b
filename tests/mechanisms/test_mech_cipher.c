/*
 * test_mech_cipher.c — mechanisms/mech_cipher.c against NIST SP 800-38A and
 * the GCM specification's vectors, against OpenSSL's RSA directly, and
 * every error the rows promise.
 */
#include <stdio.h>

#include "mech_test.h"
#include "test_keys.h"

#include <openssl/rsa.h>
#include <openssl/x509.h>

/* NIST SP 800-38A, Appendix F: AES-128, the four-block plaintext. */
#define SP800_38A_KEY "2b7e151628aed2a6abf7158809cf4f3c"
#define SP800_38A_PLAIN                                                                            \
    "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"                             \
    "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"

/* The GCM specification (McGrew & Viega), test case 16: AES-256, AAD. */
#define GCM16_KEY "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
#define GCM16_IV "cafebabefacedbaddecaf888"
#define GCM16_AAD "feedfacedeadbeeffeedfacedeadbeefabaddad2"
#define GCM16_PLAIN                                                                                \
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"                             \
    "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
#define GCM16_CIPHER                                                                               \
    "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"                             \
    "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
#define GCM16_TAG "76fc6ece0f4e1768cddf8853bb2d551b"

static const mech_row *row(CK_MECHANISM_TYPE type)
{
    return row_of(&mech_table_cipher, type);
}

static CK_RV encrypt_once(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len,
                          const mech_key *key, const buf *in, buf *out)
{
    CK_MECHANISM mech = {type, param, param_len};
    return run_row(row(type), &mech, key, MECH_ENCRYPT, in->data, in->len, NULL, 0, out);
}

static CK_RV decrypt_once(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len,
                          const mech_key *key, const buf *in, buf *out)
{
    CK_MECHANISM mech = {type, param, param_len};
    return run_row(row(type), &mech, key, MECH_DECRYPT, in->data, in->len, NULL, 0, out);
}

/* Both directions, single- and multi-part. */
static void check_both(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len, const mech_key *key,
                       const buf *plain, const buf *cipher)
{
    CK_MECHANISM mech = {type, param, param_len};
    check_cipher(row(type), &mech, key, MECH_ENCRYPT, plain, cipher);
    check_cipher(row(type), &mech, key, MECH_DECRYPT, cipher, plain);
}

/* ---- vectors ---------------------------------------------------------------- */

static void test_ecb_vector(void **unused)
{
    (void)unused;
    buf k = hex(SP800_38A_KEY), p = hex(SP800_38A_PLAIN);
    buf c = hex("3ad77bb40d7a3660a89ecaf32466ef97f5d3d58503b9699de785895a96fdbaaf"
                "43b1cd7f598ece23881b00e3ed0306887b0c785e27e8ad3f8223207104725dd4");
    mech_key key = secret_key(CKK_AES, &k);
    check_both(CKM_AES_ECB, NULL, 0, &key, &p, &c);
    buf_free(&k), buf_free(&p), buf_free(&c);
}

static void test_cbc_vector(void **unused)
{
    (void)unused;
    buf k = hex(SP800_38A_KEY), p = hex(SP800_38A_PLAIN),
        iv = hex("000102030405060708090a0b0c0d0e0f");
    buf c = hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2"
                "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7");
    mech_key key = secret_key(CKK_AES, &k);
    check_both(CKM_AES_CBC, iv.data, iv.len, &key, &p, &c);

    /* CBC_PAD of whole blocks: the same blocks, then one block of padding. */
    buf out;
    assert_int_equal(encrypt_once(CKM_AES_CBC_PAD, iv.data, iv.len, &key, &p, &out), CKR_OK);
    assert_int_equal(out.len, c.len + 16);
    assert_memory_equal(out.data, c.data, c.len);
    buf_free(&out);
    buf_free(&k), buf_free(&p), buf_free(&c), buf_free(&iv);
}

static void test_ctr_vector(void **unused)
{
    (void)unused;
    buf k = hex(SP800_38A_KEY), p = hex(SP800_38A_PLAIN);
    buf c = hex("874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff"
                "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee");
    buf cb = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
    mech_key key = secret_key(CKK_AES, &k);
    CK_AES_CTR_PARAMS params = {.ulCounterBits = 128};
    memcpy(params.cb, cb.data, 16);
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &c);
    /* 32 counter bits: no wrap within four blocks, same result. */
    params.ulCounterBits = 32;
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &c);
    buf_free(&k), buf_free(&p), buf_free(&c), buf_free(&cb);
}

/* The keystream of counter blocks wrapping inside their low `bits`,
 * computed block by block with AES-ECB. */
static buf ctr_reference(const buf *k, const unsigned char cb[16], unsigned bits, const buf *in)
{
    __extension__ typedef unsigned __int128 u128;
    u128 counter = 0, mask = bits == 128 ? ~(u128)0 : ((u128)1 << bits) - 1;
    for (int i = 0; i < 16; i++)
        counter = counter << 8 | cb[i];
    buf out = {malloc(in->len + 1), in->len};
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    assert_int_equal(EVP_EncryptInit_ex2(ctx, EVP_aes_128_ecb(), k->data, NULL, NULL), 1);
    for (size_t at = 0; at < in->len; at += 16) {
        unsigned char block[16], stream[16];
        int n;
        for (int i = 0; i < 16; i++)
            block[i] = (unsigned char)(counter >> (8 * (15 - i)));
        assert_int_equal(EVP_EncryptUpdate(ctx, stream, &n, block, 16), 1);
        for (size_t i = 0; i < 16 && at + i < in->len; i++)
            out.data[at + i] = in->data[at + i] ^ stream[i];
        counter = (counter & ~mask) | ((counter + 1) & mask);
    }
    EVP_CIPHER_CTX_free(ctx);
    return out;
}

static void test_ctr_counter_bits(void **unused)
{
    (void)unused;
    buf k = hex(SP800_38A_KEY), p = hex(SP800_38A_PLAIN);
    mech_key key = secret_key(CKK_AES, &k);
    CK_AES_CTR_PARAMS params = {.ulCounterBits = 8};
    /* low byte 0xfe: wraps to 0x00 after two blocks, never carries into 0xfd */
    buf cb = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfdfe");
    memcpy(params.cb, cb.data, 16);
    buf expected = ctr_reference(&k, params.cb, 8, &p);
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &expected);
    buf_free(&expected);

    /* 4 bits, 0xf: the counter field is a nibble */
    params.ulCounterBits = 4;
    params.cb[15] = 0x3f;
    expected = ctr_reference(&k, params.cb, 4, &p);
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &expected);
    buf_free(&expected);

    /* 124 bits, all ones: wraps after one block, the top nibble stays */
    params.ulCounterBits = 124;
    memset(params.cb, 0xff, 16);
    params.cb[0] = 0x5f;
    expected = ctr_reference(&k, params.cb, 124, &p);
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &expected);
    buf_free(&expected);
    /* 128 bits wrap like OpenSSL's own counter */
    params.ulCounterBits = 128;
    memset(params.cb, 0xff, 16);
    expected = ctr_reference(&k, params.cb, 128, &p);
    check_both(CKM_AES_CTR, &params, sizeof(params), &key, &p, &expected);
    buf_free(&expected);

    /* 1 bit: two blocks, then the counter would repeat */
    params.ulCounterBits = 1;
    buf out, two = {p.data, 32};
    assert_int_equal(encrypt_once(CKM_AES_CTR, &params, sizeof(params), &key, &two, &out), CKR_OK);
    buf_free(&out);
    assert_int_equal(encrypt_once(CKM_AES_CTR, &params, sizeof(params), &key, &p, &out),
                     CKR_DATA_LEN_RANGE);
    CK_MECHANISM mech = {CKM_AES_CTR, &params, sizeof(params)};
    assert_int_equal(run_row(row(CKM_AES_CTR), &mech, &key, MECH_ENCRYPT, p.data, 33, odd_splits,
                             ARRAY_SIZE(odd_splits), &out),
                     CKR_DATA_LEN_RANGE);

    params.ulCounterBits = 0;
    assert_int_equal(encrypt_once(CKM_AES_CTR, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.ulCounterBits = 129;
    assert_int_equal(encrypt_once(CKM_AES_CTR, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    buf_free(&k), buf_free(&p), buf_free(&cb);
}

static CK_GCM_PARAMS_V3 gcm_params(const buf *iv, const buf *aad, CK_ULONG tag_bits)
{
    CK_GCM_PARAMS_V3 params = {iv->data,           iv->len, iv->len * 8, aad ? aad->data : NULL,
                               aad ? aad->len : 0, tag_bits};
    return params;
}

static void test_gcm_vector(void **unused)
{
    (void)unused;
    buf k = hex(GCM16_KEY), iv = hex(GCM16_IV), aad = hex(GCM16_AAD), p = hex(GCM16_PLAIN);
    buf c = hex(GCM16_CIPHER GCM16_TAG);
    mech_key key = secret_key(CKK_AES, &k);
    CK_GCM_PARAMS_V3 params = gcm_params(&iv, &aad, 128);
    check_both(CKM_AES_GCM, &params, sizeof(params), &key, &p, &c);

    /* A 96-bit tag is the full tag's prefix (SP 800-38D §7.1). */
    params.ulTagBits = 96;
    buf short_tag = {c.data, c.len - 4};
    check_both(CKM_AES_GCM, &params, sizeof(params), &key, &p, &short_tag);
    buf_free(&k), buf_free(&iv), buf_free(&aad), buf_free(&p), buf_free(&c);
}

/* Test cases 5 (64-bit IV) and 6 (480-bit IV): IVs other than 96 bits
 * go through GHASH (SP 800-38D §7.1 step 2). */
static void test_gcm_iv_lengths(void **unused)
{
    (void)unused;
    static const struct {
        const char *iv, *cipher_tag;
    } cases[] = {
        {"cafebabefacedbad", "61353b4c2806934a777ff51fa22a4755699b2a714fcdc6f83766e5f97b6c7423"
                             "73806900e49f24b22b097544d4896b424989b5e1ebac0f07c23f4598"
                             "3612d2e79e3b0785561be14aaca2fccb"},
        {"9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728"
         "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b",
         "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7"
         "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5"
         "619cc5aefffe0bfa462af43c1699d050"},
    };
    buf k = hex("feffe9928665731c6d6a8f9467308308"), aad = hex(GCM16_AAD), p = hex(GCM16_PLAIN);
    mech_key key = secret_key(CKK_AES, &k);
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        buf iv = hex(cases[i].iv), c = hex(cases[i].cipher_tag);
        CK_GCM_PARAMS_V3 params = gcm_params(&iv, &aad, 128);
        check_both(CKM_AES_GCM, &params, sizeof(params), &key, &p, &c);
        buf_free(&iv), buf_free(&c);
    }
    buf_free(&k), buf_free(&aad), buf_free(&p);
}

static void test_gcm_tampered(void **unused)
{
    (void)unused;
    buf k = hex(GCM16_KEY), iv = hex(GCM16_IV), aad = hex(GCM16_AAD);
    buf c = hex(GCM16_CIPHER GCM16_TAG);
    mech_key key = secret_key(CKK_AES, &k);
    CK_GCM_PARAMS_V3 params = gcm_params(&iv, &aad, 128);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    const mech_row *gcm = row(CKM_AES_GCM);
    c.data[c.len - 1] ^= 1;

    /* Single-part: no plaintext left in the caller's buffer. */
    void *state;
    assert_int_equal(gcm->ops->init(&mech, &key, MECH_DECRYPT, NULL, &state), CKR_OK);
    size_t size, written = 99;
    assert_int_equal(gcm->ops->out_size(state, MECH_PHASE_ONESHOT, c.len, &size), CKR_OK);
    assert_int_equal(size, c.len - 16);
    unsigned char *out = malloc(size), zeros[64] = {0};
    assert_int_equal(gcm->ops->oneshot(state, c.data, c.len, out, &written),
                     CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(written, 0);
    assert_memory_equal(out, zeros, size);
    gcm->ops->free(state);

    /* Multi-part: update releases nothing, final fails. */
    assert_int_equal(gcm->ops->init(&mech, &key, MECH_DECRYPT, NULL, &state), CKR_OK);
    assert_int_equal(gcm->ops->out_size(state, MECH_PHASE_UPDATE, 30, &size), CKR_OK);
    assert_int_equal(size, 0);
    assert_int_equal(gcm->ops->update(state, c.data, 30, NULL, &written), CKR_OK);
    assert_int_equal(written, 0);
    assert_int_equal(gcm->ops->update(state, c.data + 30, c.len - 30, NULL, &written), CKR_OK);
    assert_int_equal(written, 0);
    assert_int_equal(gcm->ops->out_size(state, MECH_PHASE_FINAL, 0, &size), CKR_OK);
    assert_int_equal(size, c.len - 16);
    memset(out, 0xaa, size);
    assert_int_equal(gcm->ops->final(state, out, &written), CKR_ENCRYPTED_DATA_INVALID);
    assert_int_equal(written, 0);
    assert_memory_equal(out, zeros, size);
    gcm->ops->free(state);

    /* Tampered AAD */
    c.data[c.len - 1] ^= 1;
    aad.data[0] ^= 1;
    buf plain;
    assert_int_equal(decrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &c, &plain),
                     CKR_ENCRYPTED_DATA_INVALID);
    /* Shorter than the tag */
    buf stub = {c.data, 15};
    assert_int_equal(decrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &stub, &plain),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    free(out);
    buf_free(&k), buf_free(&iv), buf_free(&aad), buf_free(&c);
}

static void test_gcm_params(void **unused)
{
    (void)unused;
    buf k = buf_random(32), iv = buf_random(256), p = buf_random(10), out;
    mech_key key = secret_key(CKK_AES, &k);
    CK_GCM_PARAMS_V3 params = gcm_params(&iv, NULL, 128);
    CK_ULONG good_bits[] = {32, 64, 96, 104, 112, 120, 128};
    CK_ULONG bad_bits[] = {0, 8, 16, 48, 72, 88, 100, 136};
    for (size_t i = 0; i < ARRAY_SIZE(good_bits); i++) {
        params.ulTagBits = good_bits[i];
        params.ulIvLen = 12;
        assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                         CKR_OK);
        assert_int_equal(out.len, p.len + good_bits[i] / 8);
        buf plain;
        assert_int_equal(decrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &out, &plain),
                         CKR_OK);
        assert_buf_equal(plain, p.data, p.len);
        buf_free(&plain), buf_free(&out);
    }
    for (size_t i = 0; i < ARRAY_SIZE(bad_bits); i++) {
        params.ulTagBits = bad_bits[i];
        assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                         CKR_MECHANISM_PARAM_INVALID);
    }
    params.ulTagBits = 128;
    CK_ULONG iv_lens[] = {1, 16, 60, 128};
    for (size_t i = 0; i < ARRAY_SIZE(iv_lens); i++) {
        params.ulIvLen = iv_lens[i];
        assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                         CKR_OK);
        buf_free(&out);
    }
    params.ulIvLen = 0;
    assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.ulIvLen = 129;
    assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.ulIvLen = 12;
    params.pIv = NULL;
    assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.pIv = iv.data;
    params.ulAADLen = 5; /* with pAAD NULL */
    assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params), &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    params.ulAADLen = 0;
    assert_int_equal(encrypt_once(CKM_AES_GCM, &params, sizeof(params) - 8, &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_AES_GCM, NULL, 0, &key, &p, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    buf_free(&k), buf_free(&iv), buf_free(&p);
}

/* ---- round trips ------------------------------------------------------------ */

/* Every AES mode and key size, lengths around block boundaries, split at
 * odd boundaries: decrypt(encrypt(x)) == x and all splits agree. */
static void test_aes_round_trips(void **unused)
{
    (void)unused;
    buf iv = buf_random(16), aad = buf_random(20);
    CK_AES_CTR_PARAMS ctr = {.ulCounterBits = 16};
    memcpy(ctr.cb, iv.data, 16);
    CK_GCM_PARAMS_V3 gcm = gcm_params(&(buf){iv.data, 12}, &aad, 128);
    struct {
        CK_MECHANISM mech;
        bool whole_blocks;
    } modes[] = {
        {{CKM_AES_ECB, NULL, 0}, true},
        {{CKM_AES_CBC, iv.data, 16}, true},
        {{CKM_AES_CBC_PAD, iv.data, 16}, false},
        {{CKM_AES_CTR, &ctr, sizeof(ctr)}, false},
        {{CKM_AES_GCM, &gcm, sizeof(gcm)}, false},
    };
    size_t lens[] = {0, 1, 15, 16, 17, 31, 32, 33, 100, 1024, 1029};
    size_t key_lens[] = {16, 24, 32};
    for (size_t m = 0; m < ARRAY_SIZE(modes); m++) {
        const mech_row *r = row(modes[m].mech.mechanism);
        for (size_t kl = 0; kl < ARRAY_SIZE(key_lens); kl++) {
            buf k = buf_random(key_lens[kl]);
            mech_key key = secret_key(CKK_AES, &k);
            for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
                if (modes[m].whole_blocks && lens[l] % 16 != 0)
                    continue;
                buf p = buf_random(lens[l]), c;
                assert_int_equal(
                    run_row(r, &modes[m].mech, &key, MECH_ENCRYPT, p.data, p.len, NULL, 0, &c),
                    CKR_OK);
                check_cipher(r, &modes[m].mech, &key, MECH_ENCRYPT, &p, &c);
                check_cipher(r, &modes[m].mech, &key, MECH_DECRYPT, &c, &p);
                buf_free(&p), buf_free(&c);
            }
            buf_free(&k);
        }
    }
    buf_free(&iv), buf_free(&aad);
}

/* ---- errors ----------------------------------------------------------------- */

static void test_aes_errors(void **unused)
{
    (void)unused;
    buf k = buf_random(32), iv = buf_random(16), p = buf_random(33), out;
    mech_key key = secret_key(CKK_AES, &k);
    buf p15 = {p.data, 15}, p17 = {p.data, 17}, p32 = {p.data, 32};

    /* not whole blocks */
    assert_int_equal(encrypt_once(CKM_AES_ECB, NULL, 0, &key, &p15, &out), CKR_DATA_LEN_RANGE);
    assert_int_equal(encrypt_once(CKM_AES_CBC, iv.data, 16, &key, &p17, &out), CKR_DATA_LEN_RANGE);
    assert_int_equal(decrypt_once(CKM_AES_ECB, NULL, 0, &key, &p17, &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    assert_int_equal(decrypt_once(CKM_AES_CBC_PAD, iv.data, 16, &key, &p15, &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    buf empty = {p.data, 0};
    assert_int_equal(decrypt_once(CKM_AES_CBC_PAD, iv.data, 16, &key, &empty, &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL, 0};
    assert_int_equal(run_row(row(CKM_AES_ECB), &ecb, &key, MECH_ENCRYPT, p.data, 33, odd_splits,
                             ARRAY_SIZE(odd_splits), &out),
                     CKR_DATA_LEN_RANGE);
    assert_int_equal(run_row(row(CKM_AES_ECB), &ecb, &key, MECH_DECRYPT, p.data, 33, odd_splits,
                             ARRAY_SIZE(odd_splits), &out),
                     CKR_ENCRYPTED_DATA_LEN_RANGE);

    /* parameters */
    assert_int_equal(encrypt_once(CKM_AES_CBC, iv.data, 8, &key, &p32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_AES_CBC_PAD, NULL, 16, &key, &p32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_AES_CBC, NULL, 0, &key, &p32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_AES_ECB, iv.data, 16, &key, &p32, &out),
                     CKR_MECHANISM_PARAM_INVALID);
    CK_AES_CTR_PARAMS ctr = {.ulCounterBits = 128};
    assert_int_equal(encrypt_once(CKM_AES_CTR, &ctr, sizeof(ctr) + 1, &key, &p32, &out),
                     CKR_MECHANISM_PARAM_INVALID);

    /* keys */
    mech_key generic = secret_key(CKK_GENERIC_SECRET, &k);
    assert_int_equal(encrypt_once(CKM_AES_ECB, NULL, 0, &generic, &p32, &out),
                     CKR_KEY_TYPE_INCONSISTENT);
    buf k20 = {k.data, 20};
    mech_key odd = secret_key(CKK_AES, &k20);
    assert_int_equal(encrypt_once(CKM_AES_CBC, iv.data, 16, &odd, &p32, &out), CKR_KEY_SIZE_RANGE);
    buf_free(&k), buf_free(&iv), buf_free(&p);
}

/* A last block whose padding is wrong: decrypts, then fails at the pad. */
static void test_cbc_pad_bad_padding(void **unused)
{
    (void)unused;
    buf k = buf_random(16), iv = buf_random(16), out;
    mech_key key = secret_key(CKK_AES, &k);
    const unsigned char *lasts[] = {
        (const unsigned char *)"0123456789abcde\x00",       /* pad 0 */
        (const unsigned char *)"0123456789abcde\x11",       /* pad 17 > 16 */
        (const unsigned char *)"0123456789abc\x02\x03\x03", /* inconsistent */
    };
    for (size_t i = 0; i < ARRAY_SIZE(lasts); i++) {
        unsigned char plain[32], cipher[32];
        int n;
        memset(plain, 'x', 16);
        memcpy(plain + 16, lasts[i], 16);
        EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
        assert_int_equal(EVP_EncryptInit_ex2(ctx, EVP_aes_128_cbc(), k.data, iv.data, NULL), 1);
        EVP_CIPHER_CTX_set_padding(ctx, 0);
        assert_int_equal(EVP_EncryptUpdate(ctx, cipher, &n, plain, 32), 1);
        EVP_CIPHER_CTX_free(ctx);
        buf c = {cipher, 32};
        assert_int_equal(decrypt_once(CKM_AES_CBC_PAD, iv.data, 16, &key, &c, &out),
                         CKR_ENCRYPTED_DATA_INVALID);
        CK_MECHANISM mech = {CKM_AES_CBC_PAD, iv.data, 16};
        assert_int_equal(run_row(row(CKM_AES_CBC_PAD), &mech, &key, MECH_DECRYPT, cipher, 32,
                                 odd_splits, ARRAY_SIZE(odd_splits), &out),
                         CKR_ENCRYPTED_DATA_INVALID);
    }
    buf_free(&k), buf_free(&iv);
}

/* ---- RSA -------------------------------------------------------------------- */

static EVP_PKEY *rsa_private, *rsa_public;

static int rsa_setup(void **unused)
{
    (void)unused;
    rsa_private = test_rsa_key(2048);
    unsigned char *der = NULL;
    int len = i2d_PUBKEY(rsa_private, &der);
    const unsigned char *p = der;
    rsa_public = d2i_PUBKEY(NULL, &p, len);
    OPENSSL_free(der);
    return rsa_private && rsa_public ? 0 : -1;
}

static int rsa_teardown(void **unused)
{
    (void)unused;
    EVP_PKEY_free(rsa_private);
    EVP_PKEY_free(rsa_public);
    return 0;
}

static mech_key rsa_key(CK_OBJECT_CLASS cls)
{
    mech_key key = {.cls = cls, .type = CKK_RSA};
    key.pkey = cls == CKO_PRIVATE_KEY ? rsa_private : rsa_public;
    return key;
}

/* OpenSSL's own EVP_PKEY_CTX for the same OAEP parameters. */
static EVP_PKEY_CTX *evp_oaep(bool encrypt, const char *md, const char *mgf, const buf *label)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rsa_private, NULL);
    assert_int_equal(encrypt ? EVP_PKEY_encrypt_init(ctx) : EVP_PKEY_decrypt_init(ctx), 1);
    if (!md) {
        assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
        return ctx;
    }
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, mgf, NULL), 1);
    if (label && label->len)
        assert_int_equal(EVP_PKEY_CTX_set0_rsa_oaep_label(
                             ctx, OPENSSL_memdup(label->data, label->len), (int)label->len),
                         1);
    return ctx;
}

static void rsa_check_with_evp(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len,
                               const char *md, const char *mgf, const buf *label)
{
    mech_key pub = rsa_key(CKO_PUBLIC_KEY), priv = rsa_key(CKO_PRIVATE_KEY);
    buf p = buf_random(40), c, back;
    /* ours → OpenSSL */
    assert_int_equal(encrypt_once(type, param, param_len, &pub, &p, &c), CKR_OK);
    assert_int_equal(c.len, 256);
    EVP_PKEY_CTX *ctx = evp_oaep(false, md, mgf, label);
    unsigned char plain[256];
    size_t n = sizeof(plain);
    assert_int_equal(EVP_PKEY_decrypt(ctx, plain, &n, c.data, c.len), 1);
    assert_int_equal(n, p.len);
    assert_memory_equal(plain, p.data, n);
    EVP_PKEY_CTX_free(ctx);
    buf_free(&c);
    /* OpenSSL → ours */
    ctx = evp_oaep(true, md, mgf, label);
    unsigned char cipher[256];
    n = sizeof(cipher);
    assert_int_equal(EVP_PKEY_encrypt(ctx, cipher, &n, p.data, p.len), 1);
    EVP_PKEY_CTX_free(ctx);
    buf cb = {cipher, n};
    assert_int_equal(decrypt_once(type, param, param_len, &priv, &cb, &back), CKR_OK);
    assert_buf_equal(back, p.data, p.len);
    buf_free(&back);
    /* tampered */
    cipher[100] ^= 0x40;
    assert_int_equal(decrypt_once(type, param, param_len, &priv, &cb, &back),
                     CKR_ENCRYPTED_DATA_INVALID);
    buf_free(&p);
}

static void test_rsa_oaep(void **unused)
{
    (void)unused;
    buf label = hex("6c6162656c2d736f667473652d74657374");
    CK_RSA_PKCS_OAEP_PARAMS params = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, label.data,
                                      label.len};
    rsa_check_with_evp(CKM_RSA_PKCS_OAEP, &params, sizeof(params), "SHA256", "SHA256", &label);
    /* different MGF1 hash, no label */
    CK_RSA_PKCS_OAEP_PARAMS mixed = {CKM_SHA384, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    rsa_check_with_evp(CKM_RSA_PKCS_OAEP, &mixed, sizeof(mixed), "SHA384", "SHA1", NULL);
    CK_RSA_PKCS_OAEP_PARAMS sha1 = {CKM_SHA_1, CKG_MGF1_SHA1, CKZ_DATA_SPECIFIED, NULL, 0};
    rsa_check_with_evp(CKM_RSA_PKCS_OAEP, &sha1, sizeof(sha1), "SHA1", "SHA1", NULL);

    /* a different label does not decrypt */
    mech_key pub = rsa_key(CKO_PUBLIC_KEY), priv = rsa_key(CKO_PRIVATE_KEY);
    buf p = buf_random(16), c, back;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &params, sizeof(params), &pub, &p, &c),
                     CKR_OK);
    assert_int_equal(decrypt_once(CKM_RSA_PKCS_OAEP, &mixed, sizeof(mixed), &priv, &c, &back),
                     CKR_ENCRYPTED_DATA_INVALID);
    /* wrong ciphertext length */
    buf short_c = {c.data, c.len - 1};
    assert_int_equal(
        decrypt_once(CKM_RSA_PKCS_OAEP, &params, sizeof(params), &priv, &short_c, &back),
        CKR_ENCRYPTED_DATA_LEN_RANGE);
    buf_free(&c);
    /* longest message: k - 2hLen - 2 = 256 - 66 = 190 */
    buf big = buf_random(191), fits = {big.data, 190};
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &params, sizeof(params), &pub, &fits, &c),
                     CKR_OK);
    buf_free(&c);
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &params, sizeof(params), &pub, &big, &c),
                     CKR_DATA_LEN_RANGE);

    /* parameters */
    CK_RSA_PKCS_OAEP_PARAMS bad = params;
    bad.hashAlg = CKM_MD5;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &bad, sizeof(bad), &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    bad = params;
    bad.mgf = 0x99;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &bad, sizeof(bad), &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    bad = params;
    bad.source = 0;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &bad, sizeof(bad), &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    bad = params;
    bad.pSourceData = NULL;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &bad, sizeof(bad), &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, &params, sizeof(params) - 1, &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(encrypt_once(CKM_RSA_PKCS_OAEP, NULL, 0, &pub, &p, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_false(row(CKM_RSA_PKCS_OAEP)->multipart);
    buf_free(&p), buf_free(&big), buf_free(&label);
}

static void test_rsa_pkcs(void **unused)
{
    (void)unused;
    rsa_check_with_evp(CKM_RSA_PKCS, NULL, 0, NULL, NULL, NULL);
    mech_key pub = rsa_key(CKO_PUBLIC_KEY), priv = rsa_key(CKO_PRIVATE_KEY);
    buf big = buf_random(246), fits = {big.data, 245}, c; /* k - 11 = 245 */
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, NULL, 0, &pub, &fits, &c), CKR_OK);
    buf_free(&c);
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, NULL, 0, &pub, &big, &c), CKR_DATA_LEN_RANGE);
    unsigned char junk = 0;
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, &junk, 1, &pub, &fits, &c),
                     CKR_MECHANISM_PARAM_INVALID);
    /* decrypting needs the private key */
    assert_int_equal(decrypt_once(CKM_RSA_PKCS, NULL, 0, &pub, &fits, &c),
                     CKR_KEY_TYPE_INCONSISTENT);
    (void)priv;
    buf_free(&big);
}

static void test_rsa_keys(void **unused)
{
    (void)unused;
    buf p = buf_random(16), c, k = buf_random(32);
    mech_key aes = secret_key(CKK_AES, &k);
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, NULL, 0, &aes, &p, &c), CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    mech_key ec_key = {.cls = CKO_PUBLIC_KEY, .type = CKK_RSA, .pkey = ec};
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, NULL, 0, &ec_key, &p, &c),
                     CKR_KEY_TYPE_INCONSISTENT);
    EVP_PKEY_free(ec);
    EVP_PKEY *small = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)768);
    mech_key small_key = {.cls = CKO_PUBLIC_KEY, .type = CKK_RSA, .pkey = small};
    assert_int_equal(encrypt_once(CKM_RSA_PKCS, NULL, 0, &small_key, &p, &c), CKR_KEY_SIZE_RANGE);
    EVP_PKEY_free(small);
    buf_free(&p), buf_free(&k);
}

/* ---- wrap / unwrap ---------------------------------------------------------- */

static void check_wrap_round_trip(CK_MECHANISM_TYPE type, void *param, CK_ULONG param_len,
                                  const mech_key *wrapping, const mech_key *unwrapping,
                                  size_t expected_len)
{
    const mech_row *r = row(type);
    CK_MECHANISM mech = {type, param, param_len};
    buf secret = buf_random(32);
    assert_true(r->info.flags & CKF_WRAP);
    size_t need = 0;
    assert_int_equal(r->wrap(&mech, wrapping, secret.data, secret.len, NULL, &need), CKR_OK);
    assert_int_equal(need, expected_len);
    unsigned char *wrapped = malloc(need);
    size_t small = need - 1, len = need;
    assert_int_equal(r->wrap(&mech, wrapping, secret.data, secret.len, wrapped, &small),
                     CKR_BUFFER_TOO_SMALL);
    assert_int_equal(small, need);
    assert_int_equal(r->wrap(&mech, wrapping, secret.data, secret.len, wrapped, &len), CKR_OK);
    assert_int_equal(len, need);

    unsigned char *key_bytes = NULL;
    size_t key_len = 0;
    assert_int_equal(r->unwrap(&mech, unwrapping, wrapped, len, &key_bytes, &key_len), CKR_OK);
    assert_int_equal(key_len, secret.len);
    assert_memory_equal(key_bytes, secret.data, key_len);
    free(key_bytes);

    wrapped[len / 2] ^= 1;
    key_bytes = NULL;
    CK_RV rv = r->unwrap(&mech, unwrapping, wrapped, len, &key_bytes, &key_len);
    /* CBC_PAD notices only when the padding breaks, and the flip is mid-data */
    if (type != CKM_AES_CBC_PAD)
        assert_int_equal(rv, CKR_WRAPPED_KEY_INVALID);
    if (rv == CKR_OK)
        free(key_bytes);
    else
        assert_null(key_bytes);
    assert_int_equal(r->unwrap(&mech, unwrapping, wrapped, len - 1, &key_bytes, &key_len),
                     type == CKM_AES_GCM ? CKR_WRAPPED_KEY_INVALID : CKR_WRAPPED_KEY_LEN_RANGE);
    free(wrapped);
    buf_free(&secret);
}

static void test_wrap_unwrap(void **unused)
{
    (void)unused;
    buf k = buf_random(32), iv = buf_random(16);
    mech_key aes = secret_key(CKK_AES, &k);
    CK_GCM_PARAMS_V3 gcm = gcm_params(&(buf){iv.data, 12}, NULL, 128);
    check_wrap_round_trip(CKM_AES_GCM, &gcm, sizeof(gcm), &aes, &aes, 32 + 16);
    check_wrap_round_trip(CKM_AES_CBC_PAD, iv.data, 16, &aes, &aes, 48);
    mech_key pub = rsa_key(CKO_PUBLIC_KEY), priv = rsa_key(CKO_PRIVATE_KEY);
    CK_RSA_PKCS_OAEP_PARAMS oaep = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    check_wrap_round_trip(CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep), &pub, &priv, 256);

    /* C_WrapKey's error names */
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    unsigned char out[512] = {0}, *key_bytes = NULL;
    size_t len = sizeof(out), key_len;
    mech_key generic = secret_key(CKK_GENERIC_SECRET, &k);
    assert_int_equal(row(CKM_AES_GCM)->wrap(&mech, &generic, k.data, 32, out, &len),
                     CKR_WRAPPING_KEY_TYPE_INCONSISTENT);
    assert_int_equal(row(CKM_AES_GCM)->unwrap(&mech, &generic, out, 48, &key_bytes, &key_len),
                     CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT);
    buf k20 = {k.data, 20};
    mech_key odd = secret_key(CKK_AES, &k20);
    assert_int_equal(row(CKM_AES_GCM)->wrap(&mech, &odd, k.data, 32, out, &len),
                     CKR_WRAPPING_KEY_SIZE_RANGE);
    assert_int_equal(row(CKM_AES_GCM)->unwrap(&mech, &aes, out, 10, &key_bytes, &key_len),
                     CKR_WRAPPED_KEY_LEN_RANGE);
    CK_MECHANISM oaep_mech = {CKM_RSA_PKCS_OAEP, &oaep, sizeof(oaep)};
    unsigned char too_long[191] = {0};
    len = sizeof(out);
    assert_int_equal(row(CKM_RSA_PKCS_OAEP)->wrap(&oaep_mech, &pub, too_long, 191, out, &len),
                     CKR_KEY_SIZE_RANGE); /* the key to wrap is too long */
    buf_free(&k), buf_free(&iv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ecb_vector),
        cmocka_unit_test(test_cbc_vector),
        cmocka_unit_test(test_ctr_vector),
        cmocka_unit_test(test_ctr_counter_bits),
        cmocka_unit_test(test_gcm_vector),
        cmocka_unit_test(test_gcm_iv_lengths),
        cmocka_unit_test(test_gcm_tampered),
        cmocka_unit_test(test_gcm_params),
        cmocka_unit_test(test_aes_round_trips),
        cmocka_unit_test(test_aes_errors),
        cmocka_unit_test(test_cbc_pad_bad_padding),
        cmocka_unit_test(test_rsa_oaep),
        cmocka_unit_test(test_rsa_pkcs),
        cmocka_unit_test(test_rsa_keys),
        cmocka_unit_test(test_wrap_unwrap),
    };
    return cmocka_run_group_tests(tests, rsa_setup, rsa_teardown);
}
