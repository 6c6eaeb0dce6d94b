/*
 * In-card KI derivation (docs/spec.md §5, seed 000), card and issuer together:
 * the card derives KI and outputs c, the issuer library recovers the same
 * KI, and the card proves it by challenge-response; the insider's key
 * substitution of paper §4.3/§4.5 is detected; the lifecycle rule (§3).
 * The refusals are in test_ki_errors.c.
 */
#include "ki_helpers.h"

#include "issuer-ki.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

static const CK_BBOOL yes = CK_TRUE;

static size_t hash_len(CK_MECHANISM_TYPE hash)
{
    return issuer_ki_hash_len(hash);
}

/* What the issuer recovers from c with key (the full hash). */
static CK_RV recover(const kh_key *key, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                     const unsigned char *c, CK_ULONG c_len, unsigned char *ki, size_t len)
{
    size_t ki_len = len;
    CK_RV rv = issuer_ki_recover(key->pkey, mech, hash, c, c_len, ki, &ki_len);
    if (rv == CKR_OK)
        assert_int_equal(ki_len, len);
    return rv;
}

static void assert_ki_attributes(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki,
                                 CK_MECHANISM_TYPE mech, CK_KEY_TYPE type, CK_ULONG len)
{
    assert_int_equal(fx_get_ulong(session, ki, CKA_CLASS), CKO_SECRET_KEY);
    assert_int_equal(fx_get_ulong(session, ki, CKA_KEY_TYPE), type);
    assert_int_equal(fx_get_ulong(session, ki, CKA_VALUE_LEN), len);
    assert_int_equal(fx_get_ulong(session, ki, CKA_KEY_GEN_MECHANISM), mech);
    assert_true(fx_get_bool(session, ki, CKA_SENSITIVE));
    assert_false(fx_get_bool(session, ki, CKA_EXTRACTABLE));
    assert_true(fx_get_bool(session, ki, CKA_ALWAYS_SENSITIVE));
    assert_true(fx_get_bool(session, ki, CKA_NEVER_EXTRACTABLE));
    assert_true(fx_get_bool(session, ki, CKA_LOCAL));
    unsigned char value[64];
    CK_ATTRIBUTE get = {CKA_VALUE, value, sizeof(value)};
    assert_rv(fx_functions()->C_GetAttributeValue(session, ki, &get, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(get.ulValueLen, CK_UNAVAILABLE_INFORMATION);
    /* One-way (PKCS#11 3.0 §4.9): KI can never be made readable. */
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE unprotect[] = {{CKA_SENSITIVE, &no, sizeof(no)}};
    assert_rv(fx_functions()->C_SetAttributeValue(session, ki, unprotect, 1),
              CKR_ATTRIBUTE_READ_ONLY);
}

/* ---- 1. card and issuer agree ------------------------------------------------ */

static void round_trip(void **state, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                       const kh_key *issuer)
{
    fx *t = *state;
    unsigned char c[KH_C_MAX], c2[KH_C_MAX], ki[64], ki2[64];
    CK_ULONG c_len = sizeof(c), c2_len = sizeof(c2);
    CK_OBJECT_HANDLE handle, handle2;
    size_t len = hash_len(hash);

    assert_rv(kh_derive_default(t->session, mech, hash, issuer, c, &c_len, &handle), CKR_OK);
    assert_int_equal(c_len, issuer_ki_ciphertext_len(issuer->pkey, mech));
    assert_rv(recover(issuer, mech, hash, c, c_len, ki, len), CKR_OK);
    assert_true(kh_card_proves(t->session, handle, hash, ki, len));
    assert_ki_attributes(t->session, handle, mech, CKK_GENERIC_SECRET, len);

    /* A second card (or the same one again) draws a fresh r. */
    assert_rv(kh_derive_default(t->session, mech, hash, issuer, c2, &c2_len, &handle2), CKR_OK);
    assert_rv(recover(issuer, mech, hash, c2, c2_len, ki2, len), CKR_OK);
    assert_memory_not_equal(c, c2, c_len);
    assert_memory_not_equal(ki, ki2, len);
    assert_true(kh_card_proves(t->session, handle2, hash, ki2, len));
    assert_false(kh_card_proves(t->session, handle2, hash, ki, len));
}

static void rsa_raw_sha1(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_RAW, CKM_SHA_1, kh_issuer_for(CKM_SE_KI_RSA_RAW));
}

static void rsa_raw_sha256(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_RAW, CKM_SHA256, kh_issuer_for(CKM_SE_KI_RSA_RAW));
}

/* "any e accepted" (docs/spec.md §5). */
static void rsa_raw_e65537(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_RAW, CKM_SHA256, kh_rsa(KH_ISSUER, 2048, 65537));
}

static void rsa_oaep_sha1(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_OAEP, CKM_SHA_1, kh_issuer_for(CKM_SE_KI_RSA_OAEP));
}

static void rsa_oaep_sha256(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_OAEP, CKM_SHA256, kh_issuer_for(CKM_SE_KI_RSA_OAEP));
}

static void rsa_oaep_3072(void **state)
{
    round_trip(state, CKM_SE_KI_RSA_OAEP, CKM_SHA256, kh_rsa(KH_ISSUER, 3072, 65537));
}

static void ec_elgamal_sha1(void **state)
{
    round_trip(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA_1, kh_issuer_for(CKM_SE_KI_EC_ELGAMAL));
}

static void ec_elgamal_sha256(void **state)
{
    round_trip(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, kh_issuer_for(CKM_SE_KI_EC_ELGAMAL));
}

static void ec_elgamal_p384(void **state)
{
    round_trip(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, kh_ec(KH_ISSUER, "P-384"));
}

static void ec_elgamal_p521(void **state)
{
    round_trip(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA_1, kh_ec(KH_ISSUER, "P-521"));
}

/* P(h) is the uncompressed encoding whatever the SPKI carried. */
static void ec_elgamal_compressed_spki(void **state)
{
    fx *t = *state;
    const kh_key *issuer = kh_issuer_for(CKM_SE_KI_EC_ELGAMAL);
    kh_key compressed;
    EVP_PKEY *copy = EVP_PKEY_dup(issuer->pkey);
    assert_true(EVP_PKEY_set_utf8_string_param(copy, "point-format", "compressed"));
    kh_key_set(&compressed, copy);
    assert_int_equal(compressed.spki_len, issuer->spki_len - 32);
    unsigned char c[KH_C_MAX], ki[32];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE handle;
    assert_rv(kh_derive_default(t->session, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, &compressed, c,
                                &c_len, &handle),
              CKR_OK);
    assert_rv(recover(issuer, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, c_len, ki, 32), CKR_OK);
    assert_true(kh_card_proves(t->session, handle, CKM_SHA256, ki, 32));
    kh_key_free(&compressed);
}

/* CKA_VALUE_LEN 16: KI is the first 16 bytes of H. */
static void value_len_prefix(void **state)
{
    fx *t = *state;
    static const CK_MECHANISM_TYPE mechs[] = {CKM_SE_KI_RSA_RAW, CKM_SE_KI_RSA_OAEP,
                                              CKM_SE_KI_EC_ELGAMAL};
    static const CK_MECHANISM_TYPE hashes[] = {CKM_SHA_1, CKM_SHA256};
    for (size_t m = 0; m < ARRAY_SIZE(mechs); m++) {
        for (size_t h = 0; h < ARRAY_SIZE(hashes); h++) {
            const kh_key *issuer = kh_issuer_for(mechs[m]);
            CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
            CK_ULONG sixteen = 16;
            CK_ATTRIBUTE tmpl[] = {
                {CKA_CLASS, &cls, sizeof(cls)},
                {CKA_VALUE_LEN, &sixteen, sizeof(sixteen)},
            };
            unsigned char c[KH_C_MAX], full[32], prefix[16];
            CK_ULONG c_len = sizeof(c);
            CK_OBJECT_HANDLE handle;
            size_t len = hash_len(hashes[h]);
            assert_rv(kh_derive(t->session, mechs[m], hashes[h], issuer->spki, issuer->spki_len,
                                tmpl, ARRAY_SIZE(tmpl), c, &c_len, &handle),
                      CKR_OK);
            assert_int_equal(fx_get_ulong(t->session, handle, CKA_VALUE_LEN), 16);
            assert_rv(recover(issuer, mechs[m], hashes[h], c, c_len, full, len), CKR_OK);
            assert_rv(recover(issuer, mechs[m], hashes[h], c, c_len, prefix, 16), CKR_OK);
            assert_memory_equal(full, prefix, 16);
            assert_true(kh_card_proves(t->session, handle, hashes[h], prefix, 16));
            assert_false(kh_card_proves(t->session, handle, hashes[h], full, len));
        }
    }
}

/* An AES KI encrypts on the card; the issuer decrypts with its recovered KI. */
static void aes_ki(void **state, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash, CK_ULONG asked,
                   CK_ULONG expected)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    const kh_key *issuer = kh_issuer_for(mech);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_ENCRYPT, (void *)&yes, sizeof(yes)},
        {CKA_VALUE_LEN, &asked, sizeof(asked)},
    };
    unsigned char c[KH_C_MAX], ki[32], iv[16], out[64], back[64];
    static const char message[] = "issued to card 0042: PIN 1234";
    CK_ULONG c_len = sizeof(c), out_len = sizeof(out);
    CK_OBJECT_HANDLE handle;
    assert_rv(kh_derive(t->session, mech, hash, issuer->spki, issuer->spki_len, tmpl,
                        asked ? ARRAY_SIZE(tmpl) : ARRAY_SIZE(tmpl) - 1, c, &c_len, &handle),
              CKR_OK);
    assert_ki_attributes(t->session, handle, mech, CKK_AES, expected);
    assert_rv(recover(issuer, mech, hash, c, c_len, ki, expected), CKR_OK);

    assert_int_equal(RAND_bytes(iv, sizeof(iv)), 1);
    CK_MECHANISM cbc = {CKM_AES_CBC_PAD, iv, sizeof(iv)};
    assert_rv(f->C_EncryptInit(t->session, &cbc, handle), CKR_OK);
    assert_rv(f->C_Encrypt(t->session, (CK_BYTE_PTR)message, sizeof(message), out, &out_len),
              CKR_OK);

    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, last = 0;
    assert_true(EVP_DecryptInit_ex(ctx, expected == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc(),
                                   NULL, ki, iv));
    assert_true(EVP_DecryptUpdate(ctx, back, &n, out, (int)out_len));
    assert_true(EVP_DecryptFinal_ex(ctx, back + n, &last));
    EVP_CIPHER_CTX_free(ctx);
    assert_int_equal(n + last, sizeof(message));
    assert_memory_equal(back, message, sizeof(message));
}

static void aes_ki_128(void **state)
{
    aes_ki(state, CKM_SE_KI_RSA_OAEP, CKM_SHA256, 16, 16);
    aes_ki(state, CKM_SE_KI_RSA_RAW, CKM_SHA256, 16, 16);
    aes_ki(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, 16, 16);
}

/* Without CKA_VALUE_LEN: the largest AES key the hash fills. */
static void aes_ki_default_length(void **state)
{
    aes_ki(state, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, 0, 32);
    aes_ki(state, CKM_SE_KI_RSA_RAW, CKM_SHA_1, 0, 16);
}

/* ---- 3. the active attack (paper §4.3, §4.5) ------------------------------------- */

/* The issuer's acceptance step: recover KI from c with its own key and
 * challenge the card.  False means the card is flagged. */
static bool issuer_accepts(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE card_ki,
                           CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash, const kh_key *issuer,
                           const unsigned char *c, CK_ULONG c_len, CK_RV *recover_rv)
{
    unsigned char ki[32];
    size_t len = hash_len(hash);
    *recover_rv = recover(issuer, mech, hash, c, c_len, ki, len);
    bool accepted = *recover_rv == CKR_OK && kh_card_proves(session, card_ki, hash, ki, len);
    OPENSSL_cleanse(ki, sizeof(ki));
    return accepted;
}

static void active_attack(void **state, CK_MECHANISM_TYPE mech, const kh_key *issuer,
                          const kh_key *insider)
{
    fx *t = *state;
    CK_MECHANISM_TYPE hash = CKM_SHA256;
    unsigned char c[KH_C_MAX], insider_ki[32], issuer_ki[32];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE card_ki;
    CK_RV rv;

    /* Control: a card given the genuine key is accepted. */
    assert_rv(kh_derive_default(t->session, mech, hash, issuer, c, &c_len, &card_ki), CKR_OK);
    assert_true(issuer_accepts(t->session, card_ki, mech, hash, issuer, c, c_len, &rv));

    /* The insider hands the card PK' and keeps c'. */
    c_len = sizeof(c);
    assert_rv(kh_derive_default(t->session, mech, hash, insider, c, &c_len, &card_ki), CKR_OK);

    /* 1. The attack works against that card: the insider knows its KI'. */
    assert_rv(recover(insider, mech, hash, c, c_len, insider_ki, 32), CKR_OK);
    assert_true(kh_card_proves(t->session, card_ki, hash, insider_ki, 32));

    /* 2. The issuer, with the real key, gets a different KI or nothing. */
    rv = recover(issuer, mech, hash, c, c_len, issuer_ki, 32);
    if (mech == CKM_SE_KI_RSA_OAEP)
        assert_rv(rv, CKR_ENCRYPTED_DATA_INVALID); /* OAEP's check fails */
    else if (mech == CKM_SE_KI_EC_ELGAMAL)
        assert_rv(rv, CKR_OK); /* any point of the curve decrypts */
    else
        assert_rv_in(rv, CKR_OK, CKR_ENCRYPTED_DATA_INVALID); /* c' ≥ n fails */
    if (rv == CKR_OK) {
        assert_memory_not_equal(issuer_ki, insider_ki, 32);
        /* 3a. … and the challenge-response fails. */
        assert_false(kh_card_proves(t->session, card_ki, hash, issuer_ki, 32));
    }

    /* 3. The issuer flags the card. */
    assert_false(issuer_accepts(t->session, card_ki, mech, hash, issuer, c, c_len, &rv));

    /* The card's audit log names the key it was really given. */
    char insider_print[80], issuer_print[80];
    kh_fingerprint(insider->spki, insider->spki_len, insider_print);
    kh_fingerprint(issuer->spki, issuer->spki_len, issuer_print);
    assert_int_equal(kh_audit_count(t->store, t->slot, kh_mech_name(mech), insider_print), 1);
    assert_int_equal(kh_audit_count(t->store, t->slot, kh_mech_name(mech), issuer_print), 1);
}

static void attack_rsa_raw(void **state)
{
    active_attack(state, CKM_SE_KI_RSA_RAW, kh_rsa(KH_ISSUER, 2048, 3),
                  kh_rsa(KH_INSIDER, 2048, 3));
}

static void attack_rsa_oaep(void **state)
{
    active_attack(state, CKM_SE_KI_RSA_OAEP, kh_rsa(KH_ISSUER, 2048, 65537),
                  kh_rsa(KH_INSIDER, 2048, 65537));
}

static void attack_ec_elgamal(void **state)
{
    active_attack(state, CKM_SE_KI_EC_ELGAMAL, kh_ec(KH_ISSUER, "P-256"),
                  kh_ec(KH_INSIDER, "P-256"));
}

/* An insider key on another curve: c' does not even have the right length. */
static void attack_ec_other_curve(void **state)
{
    fx *t = *state;
    const kh_key *issuer = kh_ec(KH_ISSUER, "P-256"), *insider = kh_ec(KH_INSIDER, "P-384");
    unsigned char c[KH_C_MAX], ki[32];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE card_ki;
    CK_RV rv;
    assert_rv(kh_derive_default(t->session, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, insider, c, &c_len,
                                &card_ki),
              CKR_OK);
    assert_rv(recover(insider, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, c, c_len, ki, 32), CKR_OK);
    assert_true(kh_card_proves(t->session, card_ki, CKM_SHA256, ki, 32));
    assert_false(issuer_accepts(t->session, card_ki, CKM_SE_KI_EC_ELGAMAL, CKM_SHA256, issuer, c,
                                c_len, &rv));
    assert_rv(rv, CKR_ENCRYPTED_DATA_LEN_RANGE);
}

/* ---- 4. lifecycle (docs/spec.md §3) ------------------------------------------------------- */

static void set_lifecycle(fx *t, unsigned char state)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE so;
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE feature = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE find[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_HW_FEATURE_TYPE, &feature, sizeof(feature)},
    };
    CK_OBJECT_HANDLE lifecycle;
    assert_rv(f->C_Logout(t->session), CKR_OK);
    assert_rv(fx_open(t->slot, true, &so), CKR_OK);
    assert_rv(fx_login(so, CKU_SO, FX_SO_PIN), CKR_OK);
    assert_int_equal(fx_find(so, find, ARRAY_SIZE(find), &lifecycle, 1), 1);
    CK_ATTRIBUTE value = {CKA_VALUE, &state, 1};
    assert_rv(f->C_SetAttributeValue(so, lifecycle, &value, 1), CKR_OK);
    assert_rv(f->C_Logout(so), CKR_OK);
    assert_rv(f->C_CloseSession(so), CKR_OK);
    assert_rv(fx_login(t->session, CKU_USER, FX_USER_PIN), CKR_OK);
}

static void assert_refused(fx *t, CK_MECHANISM_TYPE mech, CK_RV expected)
{
    const kh_key *issuer = kh_issuer_for(mech);
    unsigned char c[KH_C_MAX];
    CK_ULONG c_len = sizeof(c), before = kh_count_objects(t->session);
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    memset(c, 0xA5, sizeof(c));
    assert_rv(kh_derive_default(t->session, mech, CKM_SHA256, issuer, c, &c_len, &handle),
              expected);
    assert_int_equal(handle, CK_INVALID_HANDLE);
    assert_int_equal(c[0], 0xA5);
    assert_int_equal(c[c_len - 1], 0xA5); /* nothing written */
    c_len = 0;                            /* the length query is refused the same way */
    assert_rv(kh_derive_default(t->session, mech, CKM_SHA256, issuer, NULL, &c_len, &handle),
              expected);
    assert_int_equal(kh_count_objects(t->session), before);
    assert_int_equal(kh_audit_count(t->store, t->slot, kh_mech_name(mech), NULL), 0);
}

static void refused_after_personalization(void **state)
{
    fx *t = *state;
    unsigned char c[KH_C_MAX], ki[32];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE kept;
    const kh_key *issuer = kh_issuer_for(CKM_SE_KI_RSA_OAEP);
    /* A KI made during personalization… */
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}, {CKA_TOKEN, (void *)&yes, 1}};
    assert_rv(kh_derive(t->session, CKM_SE_KI_RSA_OAEP, CKM_SHA256, issuer->spki, issuer->spki_len,
                        tmpl, ARRAY_SIZE(tmpl), c, &c_len, &kept),
              CKR_OK);
    assert_rv(recover(issuer, CKM_SE_KI_RSA_OAEP, CKM_SHA256, c, c_len, ki, 32), CKR_OK);

    set_lifecycle(t, SOFTSE_LIFECYCLE_OPERATIONAL);
    long oaep_records = kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_OAEP", NULL);
    assert_int_equal(oaep_records, 1);
    /* …no new derivation in OPERATIONAL, with any mechanism. */
    assert_refused(t, CKM_SE_KI_RSA_RAW, CKR_SE_LIFECYCLE);
    assert_refused(t, CKM_SE_KI_EC_ELGAMAL, CKR_SE_LIFECYCLE);
    CK_ULONG before = kh_count_objects(t->session);
    c_len = sizeof(c);
    CK_OBJECT_HANDLE handle = CK_INVALID_HANDLE;
    assert_rv(
        kh_derive_default(t->session, CKM_SE_KI_RSA_OAEP, CKM_SHA256, issuer, c, &c_len, &handle),
        CKR_SE_LIFECYCLE);
    assert_int_equal(kh_count_objects(t->session), before);
    assert_int_equal(kh_audit_count(t->store, t->slot, "CKM_SE_KI_RSA_OAEP", NULL), oaep_records);
    /* …while the personalized KI still serves. */
    assert_true(kh_card_proves(t->session, kept, CKM_SHA256, ki, 32));
}

static void refused_when_terminated(void **state)
{
    fx *t = *state;
    set_lifecycle(t, SOFTSE_LIFECYCLE_TERMINATED);
    assert_refused(t, CKM_SE_KI_RSA_OAEP, CKR_SE_LIFECYCLE);
    assert_refused(t, CKM_SE_KI_EC_ELGAMAL, CKR_SE_LIFECYCLE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rsa_raw_sha1, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_raw_sha256, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_raw_e65537, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_oaep_sha1, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_oaep_sha256, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_oaep_3072, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_elgamal_sha1, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_elgamal_sha256, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_elgamal_p384, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_elgamal_p521, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(ec_elgamal_compressed_spki, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(value_len_prefix, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(aes_ki_128, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(aes_ki_default_length, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(attack_rsa_raw, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(attack_rsa_oaep, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(attack_ec_elgamal, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(attack_ec_other_curve, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(refused_after_personalization, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(refused_when_terminated, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests_name("ki", tests, NULL, NULL);
}
