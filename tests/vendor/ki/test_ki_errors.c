/*
 * In-card KI derivation (docs/spec.md §5): every refusal with its exact CKR,
 * and after each one nothing created, nothing written to c and nothing
 * audited; the length query; c erased when KI cannot be stored; one audit
 * record per derivation; the mechanism info.
 *
 * Choices (vendor-mechs/ki.c): an issuer key of the wrong type, size or
 * shape is CKR_MECHANISM_PARAM_INVALID (it is a parameter, not a key
 * object); a CKA_VALUE_LEN the hash cannot fill is
 * CKR_ATTRIBUTE_VALUE_INVALID.
 */
#include "ki_helpers.h"

#include "issuer-ki.h"

#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define SENTINEL 0xA5

static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static const CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* One C_GenerateKey call under construction. */
typedef struct attempt {
    CK_MECHANISM mech;
    CK_SE_KI_PARAMS params;
    unsigned char c[KH_C_MAX];
    CK_ULONG c_len;
    CK_ATTRIBUTE tmpl[8];
    CK_ULONG count;
} attempt;

static void attempt_init(attempt *a, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                         const unsigned char *spki, size_t spki_len)
{
    memset(a->c, SENTINEL, sizeof(a->c));
    a->c_len = sizeof(a->c);
    a->params = (CK_SE_KI_PARAMS){hash, (CK_BYTE_PTR)spki, spki_len, a->c, &a->c_len};
    a->mech = (CK_MECHANISM){mech, &a->params, sizeof(a->params)};
    a->tmpl[0] = (CK_ATTRIBUTE){CKA_CLASS, &secret_class, sizeof(secret_class)};
    a->count = 1;
}

static void attempt_key(attempt *a, CK_MECHANISM_TYPE mech, const kh_key *key)
{
    attempt_init(a, mech, CKM_SHA256, key->spki, key->spki_len);
}

static void attempt_add(attempt *a, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    assert_true(a->count < ARRAY_SIZE(a->tmpl));
    a->tmpl[a->count++] = (CK_ATTRIBUTE){type, (void *)value, len};
}

static const char *const audited_events[] = {"CKM_SE_KI_RSA_RAW", "CKM_SE_KI_RSA_OAEP",
                                             "CKM_SE_KI_EC_ELGAMAL", "object-created"};

static long audit_total(fx *t)
{
    long total = 0;
    for (size_t i = 0; i < ARRAY_SIZE(audited_events); i++)
        total += kh_audit_count(t->store, t->slot, audited_events[i], NULL);
    return total;
}

static bool c_untouched(const attempt *a)
{
    for (size_t i = 0; i < sizeof(a->c); i++)
        if (a->c[i] != SENTINEL)
            return false;
    return true;
}

/* The call fails with expected and leaves no trace. */
static void expect(fx *t, attempt *a, CK_RV expected, const char *what)
{
    CK_ULONG objects = kh_count_objects(t->session);
    long records = audit_total(t);
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CK_RV rv = fx_functions()->C_GenerateKey(t->session, &a->mech, a->tmpl, a->count, &handle);
    if (rv != expected)
        fail_msg("%s: expected %s, got %s", what, fx_rv_name(expected), fx_rv_name(rv));
    if (kh_count_objects(t->session) != objects)
        fail_msg("%s: an object was created", what);
    if (audit_total(t) != records)
        fail_msg("%s: an audit record was written", what);
    if (!c_untouched(a))
        fail_msg("%s: c was written", what);
    assert_int_equal(handle, CK_INVALID_HANDLE);
}

static void expect_ok(fx *t, attempt *a, const char *what)
{
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    CK_RV rv = fx_functions()->C_GenerateKey(t->session, &a->mech, a->tmpl, a->count, &handle);
    if (rv != CKR_OK)
        fail_msg("%s: expected CKR_OK, got %s", what, fx_rv_name(rv));
    assert_int_not_equal(handle, CK_INVALID_HANDLE);
}

/* ---- the parameter ------------------------------------------------------------ */

static void parameter_invalid(void **state)
{
    fx *t = *state;
    const kh_key *rsa = kh_issuer_for(CKM_SE_KI_RSA_OAEP);
    attempt a;

    attempt_key(&a, CKM_SE_KI_RSA_OAEP, rsa);
    a.mech.pParameter = NULL;
    a.mech.ulParameterLen = 0;
    expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "no parameter");

    attempt_key(&a, CKM_SE_KI_RSA_OAEP, rsa);
    a.mech.ulParameterLen = sizeof(a.params) - 1;
    expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "parameter one byte short");

    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, kh_issuer_for(CKM_SE_KI_EC_ELGAMAL));
    a.mech.ulParameterLen = sizeof(a.params) + sizeof(CK_ULONG);
    expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "parameter too long");

    attempt_key(&a, CKM_SE_KI_RSA_RAW, kh_issuer_for(CKM_SE_KI_RSA_RAW));
    a.params.pulCiphertextLen = NULL;
    expect(t, &a, CKR_ARGUMENTS_BAD, "NULL pulCiphertextLen");

    static const CK_MECHANISM_TYPE bad_hashes[] = {
        CKM_SHA224, CKM_SHA384, CKM_SHA512, CKM_MD5, CKM_SHA3_256, CKM_SHA256_HMAC, 0};
    for (size_t i = 0; i < ARRAY_SIZE(bad_hashes); i++) {
        attempt_key(&a, CKM_SE_KI_RSA_OAEP, rsa);
        a.params.hashAlg = bad_hashes[i];
        expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "hashAlg not SHA-1/SHA-256");
    }

    attempt_init(&a, CKM_SE_KI_RSA_OAEP, CKM_SHA256, NULL, rsa->spki_len);
    expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "NULL issuer key");
    attempt_init(&a, CKM_SE_KI_RSA_OAEP, CKM_SHA256, rsa->spki, 0);
    expect(t, &a, CKR_MECHANISM_PARAM_INVALID, "empty issuer key");
}

/* ---- the issuer key ------------------------------------------------------------- */

/* SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING { 00 } }:
 * the point at infinity. */
static const unsigned char p256_infinity[] = {
    0x30, 0x19, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06,
    0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x02, 0x00, 0x00,
};

static void each_mech(fx *t, const unsigned char *spki, size_t len, const CK_MECHANISM_TYPE *mechs,
                      size_t count, const char *what)
{
    for (size_t i = 0; i < count; i++) {
        attempt a;
        attempt_init(&a, mechs[i], CKM_SHA256, spki, len);
        expect(t, &a, CKR_MECHANISM_PARAM_INVALID, what);
    }
}

static const CK_MECHANISM_TYPE all_mechs[] = {CKM_SE_KI_RSA_RAW, CKM_SE_KI_RSA_OAEP,
                                              CKM_SE_KI_EC_ELGAMAL};
static const CK_MECHANISM_TYPE rsa_mechs[] = {CKM_SE_KI_RSA_RAW, CKM_SE_KI_RSA_OAEP};
static const CK_MECHANISM_TYPE ec_mech[] = {CKM_SE_KI_EC_ELGAMAL};

static void issuer_key_not_der(void **state)
{
    fx *t = *state;
    const kh_key *rsa = kh_issuer_for(CKM_SE_KI_RSA_RAW), *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    unsigned char buffer[2048];
    static const char garbage[] = "this is not a SubjectPublicKeyInfo";
    each_mech(t, (const unsigned char *)garbage, sizeof(garbage), all_mechs, 3, "garbage");
    each_mech(t, rsa->spki, rsa->spki_len - 1, rsa_mechs, 2, "truncated RSA SPKI");
    each_mech(t, ec->spki, ec->spki_len - 1, ec_mech, 1, "truncated EC SPKI");
    memcpy(buffer, rsa->spki, rsa->spki_len);
    buffer[rsa->spki_len] = 0;
    each_mech(t, buffer, rsa->spki_len + 1, rsa_mechs, 2, "RSA SPKI with a trailing byte");
    memcpy(buffer, ec->spki, ec->spki_len);
    buffer[ec->spki_len] = 0;
    each_mech(t, buffer, ec->spki_len + 1, ec_mech, 1, "EC SPKI with a trailing byte");
}

static void issuer_key_wrong_type(void **state)
{
    fx *t = *state;
    const kh_key *rsa = kh_issuer_for(CKM_SE_KI_RSA_OAEP),
                 *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    each_mech(t, ec->spki, ec->spki_len, rsa_mechs, 2, "EC key for an RSA mechanism");
    each_mech(t, rsa->spki, rsa->spki_len, ec_mech, 1, "RSA key for ElGamal");
    kh_key ed, pss;
    kh_key_set(&ed, EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"));
    each_mech(t, ed.spki, ed.spki_len, all_mechs, 3, "Ed25519 key");
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
    EVP_PKEY *pss_key = NULL;
    assert_true(EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0);
    assert_true(EVP_PKEY_generate(ctx, &pss_key) > 0);
    EVP_PKEY_CTX_free(ctx);
    kh_key_set(&pss, pss_key);
    each_mech(t, pss.spki, pss.spki_len, rsa_mechs, 2, "RSA-PSS key");
    kh_key_free(&ed);
    kh_key_free(&pss);
}

static void issuer_key_kept_wrong_type(void **state)
{
    fx *t = *state;
    const kh_key *rsa = kh_issuer_for(CKM_SE_KI_RSA_OAEP),
                 *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    attempt a;
    for (int round = 0; round < 2; round++) {
        attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
        expect_ok(t, &a, "EC issuer");
        each_mech(t, ec->spki, ec->spki_len, rsa_mechs, 2, "kept EC key for an RSA mechanism");
        attempt_key(&a, CKM_SE_KI_RSA_RAW, rsa);
        expect_ok(t, &a, "RSA issuer raw");
        attempt_key(&a, CKM_SE_KI_RSA_OAEP, rsa);
        expect_ok(t, &a, "RSA issuer OAEP");
        each_mech(t, rsa->spki, rsa->spki_len, ec_mech, 1, "kept RSA key for ElGamal");
    }
}

static void issuer_key_rsa_invalid(void **state)
{
    fx *t = *state;
    const kh_key *small = kh_rsa(KH_ISSUER, 1024, 3), *short_ = kh_rsa(KH_ISSUER, 1536, 65537);
    each_mech(t, small->spki, small->spki_len, rsa_mechs, 2, "RSA-1024");
    each_mech(t, short_->spki, short_->spki_len, rsa_mechs, 2, "RSA-1536");

    unsigned char n[1100];
    size_t n_len = kh_rsa_modulus(kh_issuer_for(CKM_SE_KI_RSA_RAW)->pkey, n, sizeof(n));
    static const unsigned long bad_e[] = {1, 2, 4, 65536};
    for (size_t i = 0; i < ARRAY_SIZE(bad_e); i++) {
        kh_key crafted;
        kh_rsa_public(&crafted, n, n_len, bad_e[i]);
        each_mech(t, crafted.spki, crafted.spki_len, rsa_mechs, 2, "even e or e < 3");
        kh_key_free(&crafted);
    }
    /* An even modulus. */
    n[n_len - 1] ^= 1;
    kh_key even;
    kh_rsa_public(&even, n, n_len, 3);
    each_mech(t, even.spki, even.spki_len, rsa_mechs, 2, "even n");
    kh_key_free(&even);
    n[n_len - 1] ^= 1;
    /* Control: the same modulus with e = 3 is accepted. */
    kh_key good;
    kh_rsa_public(&good, n, n_len, 3);
    attempt a;
    attempt_key(&a, CKM_SE_KI_RSA_RAW, &good);
    expect_ok(t, &a, "crafted n with e = 3");
    kh_key_free(&good);

    /* Beyond the largest size offered (8192 bits). */
    unsigned char big[1026];
    assert_int_equal(RAND_bytes(big, sizeof(big)), 1);
    big[0] |= 0x80;
    big[sizeof(big) - 1] |= 1;
    kh_key huge;
    kh_rsa_public(&huge, big, sizeof(big), 3);
    each_mech(t, huge.spki, huge.spki_len, rsa_mechs, 2, "RSA-8208");
    kh_key_free(&huge);
}

static void issuer_key_ec_invalid(void **state)
{
    fx *t = *state;
    const kh_key *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    unsigned char off[256];
    memcpy(off, ec->spki, ec->spki_len);
    off[ec->spki_len - 1] ^= 0x01; /* Y changed: off the curve */
    each_mech(t, off, ec->spki_len, ec_mech, 1, "point not on the curve");
    each_mech(t, p256_infinity, sizeof(p256_infinity), ec_mech, 1, "point at infinity");
    static const char *const curves[] = {"P-224", "secp256k1", "brainpoolP256r1"};
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++) {
        kh_key other;
        kh_key_set(&other, EVP_PKEY_Q_keygen(NULL, NULL, "EC", curves[i]));
        each_mech(t, other.spki, other.spki_len, ec_mech, 1, curves[i]);
        kh_key_free(&other);
    }
}

/* ---- the template -------------------------------------------------------------- */

static void template_invalid(void **state)
{
    fx *t = *state;
    const kh_key *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    const kh_key *raw = kh_issuer_for(CKM_SE_KI_RSA_RAW);
    attempt a;
    static const struct {
        CK_MECHANISM_TYPE hash;
        CK_KEY_TYPE type;
        CK_ULONG len;
    } bad_lengths[] = {
        {CKM_SHA256, CKK_GENERIC_SECRET, 33},
        {CKM_SHA256, CKK_GENERIC_SECRET, 64},
        {CKM_SHA_1, CKK_GENERIC_SECRET, 21},
        {CKM_SHA_1, CKK_GENERIC_SECRET, 0},
        {CKM_SHA256, CKK_AES, 20},
        {CKM_SHA_1, CKK_AES, 24},
        {CKM_SHA256, CKK_AES, 8},
        {CKM_SHA_1, CKK_AES, 32},
        {CKM_SHA256, CKK_AES, 0},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad_lengths); i++) {
        attempt_init(&a, CKM_SE_KI_EC_ELGAMAL, bad_lengths[i].hash, ec->spki, ec->spki_len);
        attempt_add(&a, CKA_KEY_TYPE, &bad_lengths[i].type, sizeof(CK_KEY_TYPE));
        attempt_add(&a, CKA_VALUE_LEN, &bad_lengths[i].len, sizeof(CK_ULONG));
        expect(t, &a, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN the hash cannot fill");
    }

    static const CK_KEY_TYPE bad_types[] = {CKK_DES3, CKK_RSA, CKK_SHA256_HMAC, CKK_EC};
    for (size_t i = 0; i < ARRAY_SIZE(bad_types); i++) {
        attempt_key(&a, CKM_SE_KI_RSA_RAW, raw);
        attempt_add(&a, CKA_KEY_TYPE, &bad_types[i], sizeof(CK_KEY_TYPE));
        expect(t, &a, CKR_TEMPLATE_INCONSISTENT, "key type not generic secret or AES");
    }

    attempt_key(&a, CKM_SE_KI_RSA_RAW, raw);
    attempt_add(&a, CKA_EXTRACTABLE, &yes, sizeof(yes));
    expect(t, &a, CKR_TEMPLATE_INCONSISTENT, "extractable KI");
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
    attempt_add(&a, CKA_SENSITIVE, &no, sizeof(no));
    expect(t, &a, CKR_TEMPLATE_INCONSISTENT, "non-sensitive KI");

    unsigned char value[32] = {0};
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
    attempt_add(&a, CKA_VALUE, value, sizeof(value));
    expect(t, &a, CKR_TEMPLATE_INCONSISTENT, "KI value in the template"); /* core policy */
    CK_OBJECT_CLASS data = CKO_DATA;
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
    a.tmpl[0].pValue = &data;
    expect(t, &a, CKR_TEMPLATE_INCONSISTENT, "not a secret key"); /* core */

    /* Asking for what is forced anyway is fine. */
    attempt_key(&a, CKM_SE_KI_RSA_RAW, raw);
    attempt_add(&a, CKA_EXTRACTABLE, &no, sizeof(no));
    attempt_add(&a, CKA_SENSITIVE, &yes, sizeof(yes));
    expect_ok(t, &a, "sensitive, not extractable");
}

/* ---- length query --------------------------------------------------------------- */

static void length_query(void **state)
{
    fx *t = *state;
    static const struct {
        CK_MECHANISM_TYPE mech;
        const char *curve;
        unsigned bits;
        CK_ULONG c_len;
    } cases[] = {
        {CKM_SE_KI_RSA_RAW, NULL, 2048, 256},   {CKM_SE_KI_RSA_OAEP, NULL, 2048, 256},
        {CKM_SE_KI_RSA_OAEP, NULL, 3072, 384},  {CKM_SE_KI_EC_ELGAMAL, "P-256", 0, 65},
        {CKM_SE_KI_EC_ELGAMAL, "P-384", 0, 97}, {CKM_SE_KI_EC_ELGAMAL, "P-521", 0, 133},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        const kh_key *key = cases[i].curve ? kh_ec(KH_ISSUER, cases[i].curve)
                                           : kh_rsa(KH_ISSUER, cases[i].bits, 65537);
        attempt a;
        attempt_key(&a, cases[i].mech, key);
        a.params.pCiphertext = NULL;
        a.c_len = 0;
        expect(t, &a, CKR_BUFFER_TOO_SMALL, "NULL pCiphertext");
        assert_int_equal(a.c_len, cases[i].c_len);

        attempt_key(&a, cases[i].mech, key);
        a.c_len = cases[i].c_len - 1;
        expect(t, &a, CKR_BUFFER_TOO_SMALL, "one byte short");
        assert_int_equal(a.c_len, cases[i].c_len);

        attempt_key(&a, cases[i].mech, key);
        a.c_len = cases[i].c_len;
        expect_ok(t, &a, "exact size");
        assert_int_equal(a.c_len, cases[i].c_len);
    }
}

/* ---- all or nothing ------------------------------------------------------------- */

/* KI cannot be stored: the core calls generate_failed and c is erased. */
static void store_failure_erases_c(void **state)
{
    fx *t = *state;
    const kh_key *oaep = kh_issuer_for(CKM_SE_KI_RSA_OAEP);
    CK_SESSION_HANDLE ro;
    assert_rv(fx_open(t->slot, false, &ro), CKR_OK);
    CK_SESSION_HANDLE rw = t->session;
    t->session = ro;
    attempt a;
    attempt_key(&a, CKM_SE_KI_RSA_OAEP, oaep);
    attempt_add(&a, CKA_TOKEN, &yes, sizeof(yes));
    CK_ULONG objects = kh_count_objects(ro);
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    assert_rv(fx_functions()->C_GenerateKey(ro, &a.mech, a.tmpl, a.count, &handle),
              CKR_SESSION_READ_ONLY);
    assert_int_equal(kh_count_objects(ro), objects);
    assert_int_equal(a.c_len, 256);
    for (size_t i = 0; i < a.c_len; i++)
        assert_int_equal(a.c[i], 0); /* cleansed */
    /* The card did run the derivation: the call is on record, no object is. */
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_OAEP", NULL), 1);
    assert_int_equal(kh_audit_count(t->store, t->slot, "object-created", "CKM_SE_KI"), 0);
    t->session = rw;
    assert_rv(fx_functions()->C_CloseSession(ro), CKR_OK);

    /* The same without a user: a private KI cannot be stored. */
    assert_rv(fx_functions()->C_Logout(rw), CKR_OK);
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, kh_issuer_for(CKM_SE_KI_EC_ELGAMAL));
    assert_rv(fx_functions()->C_GenerateKey(rw, &a.mech, a.tmpl, a.count, &handle),
              CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(a.c_len, 65);
    for (size_t i = 0; i < a.c_len; i++)
        assert_int_equal(a.c[i], 0);
}

/* ---- audit ------------------------------------------------------------------------ */

static void audit_per_derivation(void **state)
{
    fx *t = *state;
    const kh_key *raw = kh_issuer_for(CKM_SE_KI_RSA_RAW), *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    attempt a;
    for (int i = 0; i < 2; i++) { /* session KIs */
        attempt_key(&a, CKM_SE_KI_RSA_RAW, raw);
        expect_ok(t, &a, "session KI");
    }
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
    attempt_add(&a, CKA_TOKEN, &yes, sizeof(yes));
    expect_ok(t, &a, "token KI");

    char raw_print[80], ec_print[80];
    kh_fingerprint(raw->spki, raw->spki_len, raw_print);
    kh_fingerprint(ec->spki, ec->spki_len, ec_print);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_RAW", NULL), 2);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_RAW", raw_print), 2);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_RAW", "hash SHA-256"), 2);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_EC_ELGAMAL", ec_print), 1);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_OAEP", NULL), 0);
    /* The core records every key it made, session keys too (docs/spec.md §3),
     * named after the row. */
    assert_int_equal(kh_audit_count(t->store, t->slot, "object-created", "CKM_SE_KI_EC_ELGAMAL"),
                     1);
    assert_int_equal(kh_audit_count(t->store, t->slot, "object-created", "CKM_SE_KI_RSA_RAW"), 2);

    attempt_init(&a, CKM_SE_KI_RSA_RAW, CKM_SHA_1, raw->spki, raw->spki_len);
    expect_ok(t, &a, "SHA-1 KI");
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_RAW", "hash SHA-1"), 1);
}

/* ---- mechanism info ------------------------------------------------------------------ */

static void mechanism_info(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM_TYPE list[256];
    CK_ULONG count = ARRAY_SIZE(list);
    assert_rv(f->C_GetMechanismList(t->slot, list, &count), CKR_OK);
    static const struct {
        CK_MECHANISM_TYPE mech;
        CK_ULONG min, max;
    } expected[] = {
        {CKM_SE_KI_RSA_RAW, 2048, 8192},
        {CKM_SE_KI_RSA_OAEP, 2048, 8192},
        {CKM_SE_KI_EC_ELGAMAL, 256, 521},
    };
    for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
        bool listed = false;
        for (CK_ULONG j = 0; j < count; j++)
            listed |= list[j] == expected[i].mech;
        assert_true(listed);
        CK_MECHANISM_INFO info;
        assert_rv(f->C_GetMechanismInfo(t->slot, expected[i].mech, &info), CKR_OK);
        assert_int_equal(info.ulMinKeySize, expected[i].min);
        assert_int_equal(info.ulMaxKeySize, expected[i].max);
        assert_true(info.flags & CKF_GENERATE);
        assert_false(info.flags & (CKF_GENERATE_KEY_PAIR | CKF_DERIVE | CKF_SIGN | CKF_ENCRYPT));
    }
    /* Only C_GenerateKey takes them. */
    const kh_key *ec = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    attempt a;
    attempt_key(&a, CKM_SE_KI_EC_ELGAMAL, ec);
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(f->C_GenerateKeyPair(t->session, &a.mech, NULL, 0, NULL, 0, &pub, &priv),
              CKR_MECHANISM_INVALID);
    assert_true(c_untouched(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(parameter_invalid, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(issuer_key_not_der, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(issuer_key_wrong_type, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(issuer_key_kept_wrong_type, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(issuer_key_rsa_invalid, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(issuer_key_ec_invalid, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(template_invalid, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(length_query, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(store_failure_erases_c, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(audit_per_derivation, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(mechanism_info, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("ki-errors", tests, NULL, NULL);
}
