/* mech_digest.c: the hash rows against FIPS 180-4 / FIPS 202 vectors and raw EVP. */
#include "mech_test.h"

#include <string.h>

typedef struct digest_case {
    CK_MECHANISM_TYPE mech;
    const char *openssl_name;
} digest_case;

static const digest_case cases[] = {
    {CKM_SHA_1, "SHA1"},        {CKM_SHA224, "SHA224"},     {CKM_SHA256, "SHA256"},
    {CKM_SHA384, "SHA384"},     {CKM_SHA512, "SHA512"},     {CKM_SHA3_256, "SHA3-256"},
    {CKM_SHA3_384, "SHA3-384"}, {CKM_SHA3_512, "SHA3-512"},
};

/* Digest through the row as the core does (mech_test.h's driver),
 * feeding chunk bytes at a time. */
static CK_RV run_digest(CK_MECHANISM_TYPE type, const void *data, size_t len, size_t chunk,
                        unsigned char *out, size_t *out_len)
{
    const mech_row *row = row_of(&mech_table_digest, type);
    assert_true(row->multipart);
    assert_true(row->info.flags & CKF_DIGEST);
    CK_MECHANISM mech = {type, NULL, 0};
    buf digest;
    CK_RV rv = run_row(row, &mech, NULL, MECH_DIGEST, data, len, &chunk, 1, &digest);
    if (rv != CKR_OK)
        return rv;
    assert_true(digest.len <= EVP_MAX_MD_SIZE);
    memcpy(out, digest.data, digest.len);
    *out_len = digest.len;
    buf_free(&digest);
    return rv;
}

static void known_vectors(void **state)
{
    (void)state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *hex;
    } vectors[] = {
        {CKM_SHA_1, "a9993e364706816aba3e25717850c26c9cd0d89d"},
        {CKM_SHA256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {CKM_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"},
    };
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
        unsigned char expected[64], out[64];
        size_t expected_len = from_hex(vectors[i].hex, expected), out_len = 0;
        assert_int_equal(run_digest(vectors[i].mech, "abc", 3, 1, out, &out_len), CKR_OK);
        assert_int_equal(out_len, expected_len);
        assert_memory_equal(out, expected, expected_len);
    }
}

static void every_row_matches_evp(void **state)
{
    (void)state;
    unsigned char data[1000];
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7 + 3);
    assert_int_equal(mech_table_digest.count, sizeof(cases) / sizeof(cases[0]));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char expected[EVP_MAX_MD_SIZE], out[EVP_MAX_MD_SIZE];
        unsigned int expected_len = 0;
        size_t out_len = 0;
        EVP_MD *md = EVP_MD_fetch(NULL, cases[i].openssl_name, NULL);
        assert_non_null(md);
        assert_int_equal(EVP_Digest(data, sizeof(data), expected, &expected_len, md, NULL), 1);
        EVP_MD_free(md);
        for (size_t chunk = 1; chunk <= sizeof(data); chunk *= 10) {
            assert_int_equal(run_digest(cases[i].mech, data, sizeof(data), chunk, out, &out_len),
                             CKR_OK);
            assert_int_equal(out_len, expected_len);
            assert_memory_equal(out, expected, expected_len);
        }
    }
}

static void empty_input_and_sizes(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t out_len = 0;
    assert_int_equal(run_digest(CKM_SHA512, NULL, 0, 1, out, &out_len), CKR_OK);
    assert_int_equal(out_len, 64);
    unsigned char expected[64];
    from_hex("cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
             "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
             expected);
    assert_memory_equal(out, expected, 64);

    const mech_row *row = row_of(&mech_table_digest, CKM_SHA384);
    CK_MECHANISM mech = {CKM_SHA384, NULL, 0};
    void *st = NULL;
    size_t size = 1;
    assert_int_equal(row->ops->init(&mech, NULL, MECH_DIGEST, NULL, &st), CKR_OK);
    assert_int_equal(row->ops->out_size(st, MECH_PHASE_UPDATE, 100, &size), CKR_OK);
    assert_int_equal(size, 0);
    assert_int_equal(row->ops->out_size(st, MECH_PHASE_ONESHOT, 100, &size), CKR_OK);
    assert_int_equal(size, 48);
    row->ops->free(st);
}

static void parameter_rejected(void **state)
{
    (void)state;
    const mech_row *row = row_of(&mech_table_digest, CKM_SHA256);
    CK_ULONG junk = 1;
    CK_MECHANISM mech = {CKM_SHA256, &junk, sizeof(junk)};
    void *st = NULL;
    assert_int_equal(row->ops->init(&mech, NULL, MECH_DIGEST, NULL, &st),
                     CKR_MECHANISM_PARAM_INVALID);
    assert_null(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_vectors),
        cmocka_unit_test(every_row_matches_evp),
        cmocka_unit_test(empty_input_and_sizes),
        cmocka_unit_test(parameter_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
