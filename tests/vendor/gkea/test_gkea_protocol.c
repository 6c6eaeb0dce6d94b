/*
 * test_gkea_protocol.c — CKM_SE_GKEA end to end (docs/spec.md §4, seed 001):
 * the card (softse through PKCS#11) and the issuer (libsoftse-issuer)
 * establish K, derive working keys with HKDF on both sides, and move a
 * secret into the card; then the attacks the protocol exists for: a man
 * in the middle who swaps the server key gets K but the issuer refuses,
 * and every tampered or misattributed output is refused.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "gkea_fixture.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <string.h>

#define HMAC_LEN 32
#define DERIVED_LEN 32

static const unsigned char salt[] = "softse-gkea-test-salt";
static const char info_enc[] = "issuer ENC v1";
static const char info_mac[] = "issuer MAC v1";
static const unsigned char message[] = "a preset PIN and PUK for download into the SE";

static void hmac(const unsigned char *key, size_t key_len, const unsigned char *data,
                 size_t data_len, unsigned char out[HMAC_LEN])
{
    size_t len = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, data, data_len, out,
                              HMAC_LEN, &len));
    assert_int_equal(len, HMAC_LEN);
}

static void card_hmac(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE key, const unsigned char *data,
                      size_t data_len, unsigned char out[HMAC_LEN])
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM mech = {CKM_SHA256_HMAC, NULL, 0};
    CK_ULONG len = HMAC_LEN;
    assert_rv(f->C_SignInit(session, &mech, key), CKR_OK);
    assert_rv(f->C_Sign(session, (CK_BYTE_PTR)data, data_len, out, &len), CKR_OK);
    assert_int_equal(len, HMAC_LEN);
}

/* The secret imported into the card is usable there, as a generic secret
 * for HMAC, and gives the HMAC the issuer computes with it. */
static void card_imports(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE enc, issuer_wrap_mech how,
                         const unsigned char *enc_key)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char secret[48], *wrapped = NULL;
    size_t wrapped_len = 0;
    assert_int_equal(RAND_bytes(secret, sizeof(secret)), 1);
    assert_int_equal(issuer_gkea_wrap(how, enc_key, DERIVED_LEN, NULL, secret, sizeof(secret),
                                      &wrapped, &wrapped_len),
                     ISSUER_GKEA_OK);

    CK_GCM_PARAMS_V3 gcm = {wrapped, ISSUER_GCM_IV_LEN,     ISSUER_GCM_IV_LEN * 8, NULL,
                            0,       ISSUER_GCM_TAG_LEN * 8};
    CK_MECHANISM mech = how == ISSUER_WRAP_GCM ? (CK_MECHANISM){CKM_AES_GCM, &gcm, sizeof(gcm)}
                                               : (CK_MECHANISM){CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_BYTE_PTR in = how == ISSUER_WRAP_GCM ? wrapped + ISSUER_GCM_IV_LEN : wrapped;
    CK_ULONG in_len = how == ISSUER_WRAP_GCM ? wrapped_len - ISSUER_GCM_IV_LEN : wrapped_len;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_SIGN, &yes, sizeof(yes)},
                           {CKA_SENSITIVE, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE imported;
    assert_rv(f->C_UnwrapKey(session, &mech, enc, in, in_len, tmpl, 4, &imported), CKR_OK);
    assert_int_equal(fx_get_ulong(session, imported, CKA_VALUE_LEN), sizeof(secret));

    unsigned char on_card[HMAC_LEN], at_issuer[HMAC_LEN];
    card_hmac(session, imported, message, sizeof(message), on_card);
    hmac(secret, sizeof(secret), message, sizeof(message), at_issuer);
    assert_memory_equal(on_card, at_issuer, HMAC_LEN);

    /* A flipped byte is refused by the card (GCM tag, KWP integrity check). */
    in[in_len / 2] ^= 0x01;
    assert_rv_in(f->C_UnwrapKey(session, &mech, enc, in, in_len, tmpl, 4, &imported),
                 CKR_WRAPPED_KEY_INVALID, CKR_ENCRYPTED_DATA_INVALID);
    OPENSSL_free(wrapped);
}

/* The card encrypts with its derived ENC key; the issuer opens it. */
static void card_encrypts(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE enc,
                          const unsigned char *enc_key)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char sealed[ISSUER_GCM_IV_LEN + sizeof(message) + ISSUER_GCM_TAG_LEN];
    assert_int_equal(RAND_bytes(sealed, ISSUER_GCM_IV_LEN), 1);
    CK_GCM_PARAMS_V3 gcm = {sealed, ISSUER_GCM_IV_LEN,     ISSUER_GCM_IV_LEN * 8, NULL,
                            0,      ISSUER_GCM_TAG_LEN * 8};
    CK_MECHANISM mech = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    CK_ULONG len = sizeof(sealed) - ISSUER_GCM_IV_LEN;
    assert_rv(f->C_EncryptInit(session, &mech, enc), CKR_OK);
    assert_rv(f->C_Encrypt(session, (CK_BYTE_PTR)message, sizeof(message),
                           sealed + ISSUER_GCM_IV_LEN, &len),
              CKR_OK);
    assert_int_equal(len, sizeof(message) + ISSUER_GCM_TAG_LEN);

    unsigned char *opened = NULL;
    size_t opened_len = 0;
    assert_int_equal(issuer_gkea_unwrap(ISSUER_WRAP_GCM, enc_key, DERIVED_LEN, sealed,
                                        sizeof(sealed), &opened, &opened_len),
                     ISSUER_GKEA_OK);
    assert_int_equal(opened_len, sizeof(message));
    assert_memory_equal(opened, message, sizeof(message));
    OPENSSL_clear_free(opened, opened_len);
    sealed[sizeof(sealed) - 1] ^= 0x80;
    assert_int_equal(issuer_gkea_unwrap(ISSUER_WRAP_GCM, enc_key, DERIVED_LEN, sealed,
                                        sizeof(sealed), &opened, &opened_len),
                     ISSUER_GKEA_DECRYPT_FAILED);
}

/* Card: GKEA → K; issuer: verify → K; both derive ENC and MAC; the
 * issuer sends a secret both ways (GCM, KWP); the card encrypts back. */
static void end_to_end(gkea_fx *g, const char *server_kind, CK_KEY_TYPE type, CK_ULONG k_len)
{
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *server = gkea_server(server_kind, &spki, &spki_len);
    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, type, k_len, false);
    gkea_call call;
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, spki, spki_len, g->nonce,
                            sizeof(g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);

    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t got_len = k_len;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &got_len),
                     ISSUER_GKEA_OK);
    assert_int_equal(got_len, k_len);
    size_t attested_len = 0; /* the issuer need not know |K|: AK says it */
    unsigned char k_again[ISSUER_GKEA_K_MAX];
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k_again, &attested_len),
                     ISSUER_GKEA_OK);
    assert_int_equal(attested_len, k_len);
    assert_memory_equal(k, k_again, k_len);

    unsigned char enc_key[DERIVED_LEN], mac_key[DERIVED_LEN];
    assert_int_equal(issuer_gkea_hkdf(k, k_len, salt, sizeof(salt), (const unsigned char *)info_enc,
                                      strlen(info_enc), enc_key, DERIVED_LEN),
                     ISSUER_GKEA_OK);
    assert_int_equal(issuer_gkea_hkdf(k, k_len, salt, sizeof(salt), (const unsigned char *)info_mac,
                                      strlen(info_mac), mac_key, DERIVED_LEN),
                     ISSUER_GKEA_OK);
    CK_OBJECT_HANDLE enc, mac;
    assert_rv(gkea_card_hkdf(g->session, call.k, salt, sizeof(salt), info_enc, CKK_AES, DERIVED_LEN,
                             &enc),
              CKR_OK);
    assert_rv(gkea_card_hkdf(g->session, call.k, salt, sizeof(salt), info_mac, CKK_GENERIC_SECRET,
                             DERIVED_LEN, &mac),
              CKR_OK);

    /* Same MAC key on both sides. */
    unsigned char on_card[HMAC_LEN], at_issuer[HMAC_LEN];
    card_hmac(g->session, mac, message, sizeof(message), on_card);
    hmac(mac_key, DERIVED_LEN, message, sizeof(message), at_issuer);
    assert_memory_equal(on_card, at_issuer, HMAC_LEN);

    card_imports(g->session, enc, ISSUER_WRAP_GCM, enc_key);
    card_imports(g->session, enc, ISSUER_WRAP_KWP, enc_key);
    card_encrypts(g->session, enc, enc_key);

    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_free(spki);
    EVP_PKEY_free(server);
}

static void rsa_server_end_to_end(void **state)
{
    end_to_end(*state, "rsa2048", CKK_GENERIC_SECRET, 32);
}

static void rsa3072_server_aes_k(void **state)
{
    end_to_end(*state, "rsa3072", CKK_AES, 16);
}

static void ec_p256_server_end_to_end(void **state)
{
    end_to_end(*state, "ec-p256", CKK_GENERIC_SECRET, 32);
}

static void ec_p384_server_end_to_end(void **state)
{
    end_to_end(*state, "ec-p384", CKK_GENERIC_SECRET, 64);
}

static void ec_p521_server_aes_k(void **state)
{
    end_to_end(*state, "ec-p521", CKK_AES, 24);
}

/* The RSA-2048 attestation key: AK is RSASSA-PSS. */
static void rsa_identity_end_to_end(void **state)
{
    end_to_end(*state, "rsa2048", CKK_GENERIC_SECRET, 32);
    end_to_end(*state, "ec-p256", CKK_AES, 32);
}

/* hAttestationKey may name the device key instead of CK_INVALID_HANDLE. */
static void explicit_attestation_handle(void **state)
{
    gkea_fx *g = *state;
    CK_OBJECT_HANDLE device;
    assert_rv(gkea_find(g->session, CKO_PRIVATE_KEY, "softse-attestation", &device), CKR_OK);
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *server = gkea_server("ec-p256", &spki, &spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(g->session, device, spki, spki_len, g->nonce, sizeof(g->nonce),
                            tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len = 32;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_OK);
    OPENSSL_free(spki);
    EVP_PKEY_free(server);
}

/* The bytes of docs/spec.md §4 checked without libsoftse-issuer: TBS written
 * out by hand, K decrypted with plain OpenSSL, AK verified as ECDSA-SHA256
 * r ‖ s with the certificate's key. */
static void tbs_layout_independent(void **state)
{
    gkea_fx *g = *state;
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *server = gkea_server("rsa2048", &spki, &spki_len);
    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, CKK_GENERIC_SECRET, 20, false);
    gkea_call call;
    unsigned char nonce[16];
    assert_int_equal(RAND_bytes(nonce, sizeof(nonce)), 1);
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, spki, spki_len, nonce, sizeof(nonce),
                            tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    assert_int_equal(call.ek_len, 256);
    assert_int_equal(call.ak_len, 64);

    unsigned char k[256];
    size_t k_len = sizeof(k);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, server, NULL);
    assert_int_equal(EVP_PKEY_decrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_decrypt(ctx, k, &k_len, call.ek, call.ek_len), 1);
    EVP_PKEY_CTX_free(ctx);
    assert_int_equal(k_len, 20);

    unsigned char tbs[2048], *w = tbs;
    memcpy(w, "SOFTSE-GKEA-1", 13);
    w += 13;
    const struct {
        const unsigned char *data;
        size_t len;
    } fields[] = {{k, k_len}, {spki, spki_len}, {nonce, sizeof(nonce)}, {call.ek, call.ek_len}};
    for (size_t i = 0; i < 4; i++) {
        *w++ = (unsigned char)(fields[i].len >> 8);
        *w++ = (unsigned char)fields[i].len;
        memcpy(w, fields[i].data, fields[i].len);
        w += fields[i].len;
    }
    unsigned char *library_tbs = NULL;
    size_t library_len = 0;
    assert_int_equal(issuer_gkea_tbs(k, k_len, spki, spki_len, nonce, sizeof(nonce), call.ek,
                                     call.ek_len, &library_tbs, &library_len),
                     ISSUER_GKEA_OK);
    assert_int_equal(library_len, (size_t)(w - tbs));
    assert_memory_equal(library_tbs, tbs, library_len);
    OPENSSL_clear_free(library_tbs, library_len);

    ECDSA_SIG *sig = ECDSA_SIG_new();
    assert_true(
        ECDSA_SIG_set0(sig, BN_bin2bn(call.ak, 32, NULL), BN_bin2bn(call.ak + 32, 32, NULL)));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(
        EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, X509_get0_pubkey(g->se_cert)), 1);
    assert_int_equal(EVP_DigestVerify(md, der, (size_t)der_len, tbs, (size_t)(w - tbs)), 1);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    OPENSSL_free(spki);
    EVP_PKEY_free(server);
}

/* ---- the man in the middle (seed 001 §3) ----------------------------------------- */

/* The client swaps the server's key for the attacker's.  The attacker
 * recovers K (his own check of AK succeeds: the card did sign his key),
 * re-encrypts it to the server and forwards AK; the server, rebuilding TBS
 * with the key it sent, refuses. */
static void mitm_rsa_swapped_key(void **state)
{
    gkea_fx *g = *state;
    unsigned char *server_spki, *attacker_spki;
    size_t server_spki_len, attacker_spki_len;
    EVP_PKEY *server = gkea_server("rsa2048", &server_spki, &server_spki_len);
    EVP_PKEY *attacker = gkea_server("rsa2048", &attacker_spki, &attacker_spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, attacker_spki, attacker_spki_len,
                            g->nonce, sizeof(g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);

    /* The attacker has K: it is the card's (his derived key opens what the card seals). */
    unsigned char stolen[ISSUER_GKEA_K_MAX];
    size_t stolen_len = 0;
    assert_int_equal(gkea_issuer_check(g, attacker, g->nonce, sizeof(g->nonce), call.ek,
                                       call.ek_len, call.ak, call.ak_len, stolen, &stolen_len),
                     ISSUER_GKEA_OK);
    unsigned char enc_key[DERIVED_LEN];
    assert_int_equal(issuer_gkea_hkdf(stolen, stolen_len, salt, sizeof(salt),
                                      (const unsigned char *)info_enc, strlen(info_enc), enc_key,
                                      DERIVED_LEN),
                     ISSUER_GKEA_OK);
    CK_OBJECT_HANDLE enc;
    assert_rv(gkea_card_hkdf(g->session, call.k, salt, sizeof(salt), info_enc, CKK_AES, DERIVED_LEN,
                             &enc),
              CKR_OK);
    card_encrypts(g->session, enc, enc_key);

    /* Forwarded as it is, EK does not even decrypt at the server. */
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len = 0;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_DECRYPT_FAILED);

    /* Re-encrypted to the server, EK decrypts, but AK covers the attacker's key. */
    unsigned char forged[512];
    size_t forged_len = sizeof(forged);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, server, NULL);
    assert_int_equal(EVP_PKEY_encrypt_init(ctx), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256()), 1);
    assert_int_equal(EVP_PKEY_encrypt(ctx, forged, &forged_len, stolen, stolen_len), 1);
    EVP_PKEY_CTX_free(ctx);
    memset(k, 0, sizeof(k));
    k_len = 0;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), forged, forged_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_BAD_ATTESTATION);
    unsigned char zero[ISSUER_GKEA_K_MAX] = {0};
    assert_memory_equal(k, zero, sizeof(k)); /* nothing of K is given out */

    /* Claiming the attacker's SPKI was sent is caught too: it is not the server's key. */
    char why[128];
    k_len = 0;
    assert_int_equal(issuer_gkea_verify(server, attacker_spki, attacker_spki_len, g->se_cert, NULL,
                                        g->trusted, g->nonce, sizeof(g->nonce), forged, forged_len,
                                        call.ak, call.ak_len, k, &k_len, why, sizeof(why)),
                     ISSUER_GKEA_BAD_INPUT);
    OPENSSL_cleanse(stolen, sizeof(stolen));
    OPENSSL_free(server_spki);
    OPENSSL_free(attacker_spki);
    EVP_PKEY_free(server);
    EVP_PKEY_free(attacker);
}

/* The same with ECDH: the attacker derives K from E with his key; the
 * server's ECDH with E gives another K, which AK does not cover. */
static void mitm_ec_swapped_key(void **state)
{
    gkea_fx *g = *state;
    unsigned char *server_spki, *attacker_spki;
    size_t server_spki_len, attacker_spki_len;
    EVP_PKEY *server = gkea_server("ec-p256", &server_spki, &server_spki_len);
    EVP_PKEY *attacker = gkea_server("ec-p256", &attacker_spki, &attacker_spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, attacker_spki, attacker_spki_len,
                            g->nonce, sizeof(g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    unsigned char stolen[ISSUER_GKEA_K_MAX], k[ISSUER_GKEA_K_MAX];
    size_t stolen_len = 32, k_len = 32;
    assert_int_equal(gkea_issuer_check(g, attacker, g->nonce, sizeof(g->nonce), call.ek,
                                       call.ek_len, call.ak, call.ak_len, stolen, &stolen_len),
                     ISSUER_GKEA_OK);
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_BAD_ATTESTATION);
    OPENSSL_free(server_spki);
    OPENSSL_free(attacker_spki);
    EVP_PKEY_free(server);
    EVP_PKEY_free(attacker);
}

/* ---- tampering ------------------------------------------------------------------- */

static void tampering(gkea_fx *g, const char *server_kind)
{
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *server = gkea_server(server_kind, &spki, &spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, spki, spki_len, g->nonce,
                            sizeof(g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len;

    /* Untouched, it verifies. */
    k_len = 0;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_OK);

    /* Any byte of AK. */
    for (size_t i = 0; i < call.ak_len; i += call.ak_len / 4) {
        call.ak[i] ^= 0x01;
        k_len = 0;
        assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek,
                                           call.ek_len, call.ak, call.ak_len, k, &k_len),
                         ISSUER_GKEA_BAD_ATTESTATION);
        call.ak[i] ^= 0x01;
    }
    /* A byte of EK: no longer decrypts, no longer a point, or another K. */
    call.ek[call.ek_len - 1] ^= 0x01;
    k_len = 0;
    issuer_gkea_status status = gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek,
                                                  call.ek_len, call.ak, call.ak_len, k, &k_len);
    assert_true(status == ISSUER_GKEA_DECRYPT_FAILED || status == ISSUER_GKEA_BAD_ATTESTATION);
    call.ek[call.ek_len - 1] ^= 0x01;
    /* A truncated EK. */
    k_len = 0;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek,
                                       call.ek_len - 1, call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_DECRYPT_FAILED);
    /* Another nonce than the server sent (a replay of an old answer). */
    unsigned char other[GKEA_NONCE_LEN];
    memcpy(other, g->nonce, sizeof(other));
    other[0] ^= 0x01;
    k_len = 0;
    assert_int_equal(gkea_issuer_check(g, server, other, sizeof(other), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_BAD_ATTESTATION);
    /* The wrong length of K asked for. */
    k_len = 48;
    assert_int_equal(gkea_issuer_check(g, server, g->nonce, sizeof(g->nonce), call.ek, call.ek_len,
                                       call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_BAD_ATTESTATION);
    OPENSSL_free(spki);
    EVP_PKEY_free(server);
}

static void tampered_outputs_rsa_server(void **state)
{
    tampering(*state, "rsa2048");
}

static void tampered_outputs_ec_server(void **state)
{
    tampering(*state, "ec-p256");
}

/* A certificate from another CA, even over a genuine key and AK, is
 * refused; so is a genuine certificate against another anchor. */
static void foreign_certificate(void **state)
{
    gkea_fx *g = *state;
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *server = gkea_server("ec-p256", &spki, &spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(g->session, CK_INVALID_HANDLE, spki, spki_len, g->nonce,
                            sizeof(g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);

    /* A look-alike CA certifies the same SE key. */
    gkea_ca rogue;
    assert_true(gkea_ca_new(&rogue, "softse test manufacturer CA"));
    X509 *rogue_cert = X509_dup(g->se_cert);
    assert_non_null(rogue_cert);
    assert_true(X509_set_issuer_name(rogue_cert, X509_get_subject_name(rogue.cert)));
    assert_true(X509_sign(rogue_cert, rogue.key, EVP_sha256()) > 0);
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len = 0;
    char why[256];
    assert_int_equal(issuer_gkea_verify(server, NULL, 0, rogue_cert, NULL, g->trusted, g->nonce,
                                        sizeof(g->nonce), call.ek, call.ek_len, call.ak,
                                        call.ak_len, k, &k_len, why, sizeof(why)),
                     ISSUER_GKEA_BAD_CHAIN);
    /* The genuine certificate, but the server trusts only the rogue CA. */
    X509_STORE *rogue_store = X509_STORE_new();
    assert_true(X509_STORE_add_cert(rogue_store, rogue.cert));
    assert_int_equal(issuer_gkea_verify(server, NULL, 0, g->se_cert, NULL, rogue_store, g->nonce,
                                        sizeof(g->nonce), call.ek, call.ek_len, call.ak,
                                        call.ak_len, k, &k_len, why, sizeof(why)),
                     ISSUER_GKEA_BAD_CHAIN);
    /* A self-made "SE" certificate whose key signs a fake AK. */
    EVP_PKEY *fake = gkea_key_new("ec-p256");
    X509 *fake_cert = X509_dup(g->se_cert);
    assert_true(X509_set_pubkey(fake_cert, fake));
    assert_true(X509_sign(fake_cert, fake, EVP_sha256()) > 0);
    assert_int_equal(issuer_gkea_verify(server, NULL, 0, fake_cert, NULL, g->trusted, g->nonce,
                                        sizeof(g->nonce), call.ek, call.ek_len, call.ak,
                                        call.ak_len, k, &k_len, why, sizeof(why)),
                     ISSUER_GKEA_BAD_CHAIN);
    X509_free(fake_cert);
    EVP_PKEY_free(fake);
    X509_STORE_free(rogue_store);
    X509_free(rogue_cert);
    gkea_ca_free(&rogue);
    OPENSSL_free(spki);
    EVP_PKEY_free(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(rsa_server_end_to_end, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(rsa3072_server_aes_k, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(ec_p256_server_end_to_end, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(ec_p384_server_end_to_end, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(ec_p521_server_aes_k, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(rsa_identity_end_to_end, gkea_setup_rsa, gkea_teardown),
        cmocka_unit_test_setup_teardown(explicit_attestation_handle, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(tbs_layout_independent, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(mitm_rsa_swapped_key, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(mitm_ec_swapped_key, gkea_setup_rsa, gkea_teardown),
        cmocka_unit_test_setup_teardown(tampered_outputs_rsa_server, gkea_setup_ec, gkea_teardown),
        cmocka_unit_test_setup_teardown(tampered_outputs_ec_server, gkea_setup_rsa, gkea_teardown),
        cmocka_unit_test_setup_teardown(foreign_certificate, gkea_setup_ec, gkea_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
