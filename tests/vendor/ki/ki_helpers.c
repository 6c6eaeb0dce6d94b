/*
 * ki_helpers.c — see ki_helpers.h.
 */
#include "ki_helpers.h"
#include "test_keys.h"
#include "store_probe.h"

#include "issuer-ki.h"
#include "p11_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

/* ---- keys -------------------------------------------------------------------- */

void kh_key_set(kh_key *key, EVP_PKEY *pkey)
{
    assert_non_null(pkey);
    key->pkey = pkey;
    key->spki = NULL;
    int len = i2d_PUBKEY(pkey, &key->spki);
    assert_true(len > 0);
    key->spki_len = (size_t)len;
}

void kh_key_free(kh_key *key)
{
    EVP_PKEY_free(key->pkey);
    OPENSSL_free(key->spki);
    memset(key, 0, sizeof(*key));
}

static EVP_PKEY *rsa_generate(unsigned bits, unsigned long e)
{
    EVP_PKEY *pkey = test_fixed_rsa(bits, e);
    if (pkey)
        return pkey;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *exponent = BN_new();
    assert_non_null(ctx);
    assert_true(BN_set_word(exponent, e));
    assert_true(EVP_PKEY_keygen_init(ctx) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) > 0);
    assert_true(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, exponent) > 0);
    assert_true(EVP_PKEY_generate(ctx, &pkey) > 0);
    BN_free(exponent);
    EVP_PKEY_CTX_free(ctx);
    return pkey;
}

#define CACHE_SIZE 16
static struct cached {
    kh_owner owner;
    char kind[16];
    unsigned bits;
    unsigned long e;
    kh_key key;
} cache[CACHE_SIZE];
static size_t cached_count;

static const kh_key *cache_find(kh_owner owner, const char *kind, unsigned bits, unsigned long e)
{
    for (size_t i = 0; i < cached_count; i++)
        if (cache[i].owner == owner && strcmp(cache[i].kind, kind) == 0 && cache[i].bits == bits &&
            cache[i].e == e)
            return &cache[i].key;
    return NULL;
}

static const kh_key *cache_add(kh_owner owner, const char *kind, unsigned bits, unsigned long e,
                               EVP_PKEY *pkey)
{
    assert_true(cached_count < CACHE_SIZE);
    struct cached *c = &cache[cached_count++];
    c->owner = owner;
    snprintf(c->kind, sizeof(c->kind), "%s", kind);
    c->bits = bits;
    c->e = e;
    kh_key_set(&c->key, pkey);
    return &c->key;
}

const kh_key *kh_rsa(kh_owner owner, unsigned bits, unsigned long e)
{
    const kh_key *key = cache_find(owner, "RSA", bits, e);
    return key ? key : cache_add(owner, "RSA", bits, e, rsa_generate(bits, e));
}

const kh_key *kh_ec(kh_owner owner, const char *curve)
{
    const kh_key *key = cache_find(owner, curve, 0, 0);
    return key ? key : cache_add(owner, curve, 0, 0, EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve));
}

const kh_key *kh_issuer_for(CK_MECHANISM_TYPE mech)
{
    switch (mech) {
    case CKM_SE_KI_RSA_RAW:
        return kh_rsa(KH_ISSUER, 2048, 3);
    case CKM_SE_KI_RSA_OAEP:
        return kh_rsa(KH_ISSUER, 2048, 65537);
    default:
        return kh_ec(KH_ISSUER, "P-256");
    }
}

void kh_rsa_public(kh_key *key, const unsigned char *n, size_t n_len, unsigned long e)
{
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    BIGNUM *bn_n = BN_bin2bn(n, (int)n_len, NULL), *bn_e = BN_new();
    assert_true(bld && bn_n && bn_e && BN_set_word(bn_e, e));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n));
    assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e));
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    EVP_PKEY *pkey = NULL;
    assert_true(params && ctx && EVP_PKEY_fromdata_init(ctx) > 0);
    assert_true(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) > 0);
    kh_key_set(key, pkey);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn_n);
    BN_free(bn_e);
}

size_t kh_rsa_modulus(EVP_PKEY *pkey, unsigned char *out, size_t max)
{
    BIGNUM *n = NULL;
    assert_true(EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n));
    size_t len = (size_t)BN_num_bytes(n);
    assert_true(len <= max);
    BN_bn2bin(n, out);
    BN_free(n);
    return len;
}

/* ---- the card ---------------------------------------------------------------- */

CK_RV kh_derive(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                const unsigned char *spki, size_t spki_len, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                unsigned char *c, CK_ULONG *c_len, CK_OBJECT_HANDLE *ki)
{
    CK_SE_KI_PARAMS params = {hash, (CK_BYTE_PTR)spki, spki_len, c, c_len};
    CK_MECHANISM m = {mech, &params, sizeof(params)};
    return fx_functions()->C_GenerateKey(session, &m, tmpl, count, ki);
}

CK_RV kh_derive_default(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                        const kh_key *issuer, unsigned char *c, CK_ULONG *c_len,
                        CK_OBJECT_HANDLE *ki)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, "KI", 2},
    };
    return kh_derive(session, mech, hash, issuer->spki, issuer->spki_len, tmpl, 3, c, c_len, ki);
}

CK_RV kh_card_response(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki, CK_MECHANISM_TYPE hash,
                       const unsigned char *challenge, size_t challenge_len,
                       unsigned char *response, CK_ULONG *response_len)
{
    CK_MECHANISM hmac = {issuer_ki_hmac_mechanism(hash), NULL, 0};
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_RV rv = f->C_SignInit(session, &hmac, ki);
    if (rv == CKR_OK)
        rv = f->C_Sign(session, (CK_BYTE_PTR)challenge, challenge_len, response, response_len);
    return rv;
}

bool kh_card_proves(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki, CK_MECHANISM_TYPE hash,
                    const unsigned char *value, size_t len)
{
    unsigned char challenge[KH_CHALLENGE_LEN], response[64];
    CK_ULONG response_len = sizeof(response);
    assert_int_equal(RAND_bytes(challenge, sizeof(challenge)), 1);
    assert_rv(
        kh_card_response(session, ki, hash, challenge, sizeof(challenge), response, &response_len),
        CKR_OK);
    CK_RV rv = issuer_ki_check_response(hash, value, len, challenge, sizeof(challenge), response,
                                        response_len);
    assert_true(rv == CKR_OK || rv == CKR_SIGNATURE_INVALID);
    return rv == CKR_OK;
}

/* ---- evidence ------------------------------------------------------------------- */

CK_ULONG kh_count_objects(CK_SESSION_HANDLE session)
{
    return fx_find(session, NULL, 0, NULL, 0);
}

long kh_audit_count(const char *store, CK_SLOT_ID slot, const char *event, const char *detail)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(slot, &info), CKR_OK);
    size_t n = sizeof(info.serialNumber);
    while (n > 0 && info.serialNumber[n - 1] == ' ')
        n--;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%.*s.sqlite", store, (int)n, (const char *)info.serialNumber);
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    assert_int_equal(store_probe_flush_audit(path), 0);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM audit WHERE event = ?1"
                                        " AND (?2 IS NULL OR instr(detail, ?2) > 0)",
                                        -1, &stmt, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(stmt, 1, event, -1, SQLITE_STATIC);
    if (detail)
        sqlite3_bind_text(stmt, 2, detail, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, 2);
    assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
    long count = (long)sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}

void kh_fingerprint(const unsigned char *data, size_t len, char out[80])
{
    unsigned char digest[32];
    assert_int_equal(fx_digest("SHA256", data, len, digest), 32);
    int n = snprintf(out, 80, "sha256:");
    for (size_t i = 0; i < sizeof(digest); i++)
        n += snprintf(out + n, 80 - (size_t)n, "%02x", digest[i]);
}

const char *kh_mech_name(CK_MECHANISM_TYPE mech)
{
    switch (mech) {
    case CKM_SE_KI_RSA_RAW:
        return "CKM_SE_KI_RSA_RAW";
    case CKM_SE_KI_RSA_OAEP:
        return "CKM_SE_KI_RSA_OAEP";
    case CKM_SE_KI_EC_ELGAMAL:
        return "CKM_SE_KI_EC_ELGAMAL";
    default:
        return "?";
    }
}
