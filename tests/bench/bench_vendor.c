/*
 * bench_vendor.c — the rows of the vendor mechanisms (docs/spec.md §4-6):
 * CKM_SE_GKEA, CKM_SE_KI_*, CKM_SE_SK3_*; --ops gkea,ki,sk3 or vendor.
 *
 * Each iteration does what an application would: GKEA and KI make a
 * session K/KI and destroy it; the SK3 queries run on token host keys
 * whose values this file computes from a known server value (so query 3
 * passes every time and never adds to the failure count).  The raw side is
 * the same cryptography composed with libcrypto: careful (raw_init_*:
 * HMAC contexts keyed once per key, RSA contexts kept per key, nonces from
 * a block) and naive (naive_init_*: all of it per call), issue 18.
 */
#include "bench_rows.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The KI issuer key (RSA-2048, e = 3) and the GKEA device key of the raw side. */
static EVP_PKEY *raw_rsa3, *raw_attest;

void bench_vendor_raw_keys_free(void)
{
    EVP_PKEY_free(raw_rsa3);
    EVP_PKEY_free(raw_attest);
    raw_rsa3 = raw_attest = NULL;
}

static CK_BYTE gkea_nonce[32] = "softse-bench GKEA nonce 32 bytes";
static const unsigned char sk3_id_i[16] = "softse-bench-h-i";
static const unsigned char sk3_id_j[16] = "softse-bench-h-j";
static unsigned char sk3_server_value[96]; /* K || K' || K'', fixed */

static bool hmac32(EVP_MAC *mac, const unsigned char *key, const void *in, size_t in_len,
                   unsigned char out[32])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    size_t len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(mac);
    bool ok = ctx && EVP_MAC_init(ctx, key, 32, params) && EVP_MAC_update(ctx, in, in_len) &&
              EVP_MAC_final(ctx, out, &len, 32) && len == 32;
    EVP_MAC_CTX_free(ctx);
    return ok;
}

static EVP_PKEY *raw_rsa_e3(void)
{
    if (raw_rsa3)
        return raw_rsa3;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *e = BN_new();
    if (ctx && e && BN_set_word(e, 3) && EVP_PKEY_keygen_init(ctx) > 0 &&
        EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0 &&
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0)
        EVP_PKEY_generate(ctx, &raw_rsa3);
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return raw_rsa3;
}

static CK_RV spki_of(EVP_PKEY *key, unsigned char *out, CK_ULONG *len)
{
    unsigned char *p = out;
    int n = key ? i2d_PUBKEY(key, NULL) : -1;
    if (n <= 0 || (size_t)n > 600)
        return CKR_FUNCTION_FAILED;
    i2d_PUBKEY(key, &p);
    *len = (CK_ULONG)n;
    return CKR_OK;
}

/* Manufacture: the device attestation key (P-256), generated in an SO
 * session; no certificate is needed for GKEA.  Once per module. */
static CK_RV need_attestation(bench_module *m)
{
    if (m->keys.attested)
        return CKR_OK;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_EC_PARAMS, p256_params)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_SE_ATTESTATION, yes)};
    CK_OBJECT_HANDLE hpub, hpriv;
    m->fn->C_Logout(m->session);
    CK_RV rv = m->fn->C_Login(m->session, CKU_SO, (CK_UTF8CHAR *)m->so_pin, strlen(m->so_pin));
    if (rv == CKR_OK) {
        rv = make_pair(m, CKM_EC_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv, ARRAY_SIZE(priv), &hpub,
                       &hpriv);
        m->fn->C_Logout(m->session);
    }
    CK_RV rv2 = m->fn->C_Login(m->session, CKU_USER, (CK_UTF8CHAR *)m->pin, strlen(m->pin));
    if (rv2 == CKR_USER_ALREADY_LOGGED_IN)
        rv2 = CKR_OK;
    /* Already manufactured (a token reused without --init): the existing
     * device key will do. */
    if (rv != CKR_OK)
        fprintf(stderr, "softse-bench: manufacture: %s (using the token's device key)\n",
                bench_rv_name(rv));
    m->keys.attested = rv2 == CKR_OK;
    return rv2;
}

typedef struct vendor_state {
    int kind; /* STATE_P11 */
    CK_FUNCTION_LIST *fn;
    CK_SESSION_HANDLE s;
    CK_MECHANISM_TYPE mech;
    CK_BYTE spki[600];
    CK_ULONG spki_len;
    CK_BYTE out1[600], out2[600];
    CK_ULONG len1, len2;
    CK_OBJECT_HANDLE host_i, host_j, server, server_gen, host_reject;
    CK_SE_SK3_Q3_PARAMS q3; /* one successful handshake, replayed */
    CK_BYTE rho[32];
} vendor_state;

static CK_RV vendor_new(bench_module *m, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech,
                        vendor_state **out)
{
    vendor_state *st = calloc(1, sizeof(*st));
    if (!st)
        return CKR_HOST_MEMORY;
    st->kind = STATE_P11;
    st->fn = m->fn;
    st->s = s;
    st->mech = mech;
    *out = st;
    return CKR_OK;
}

static CK_RV p11_gkea(void *state)
{
    vendor_state *st = state;
    st->len1 = sizeof(st->out1);
    st->len2 = sizeof(st->out2);
    CK_SE_GKEA_PARAMS params = {CK_INVALID_HANDLE, st->spki,           st->spki_len,
                                gkea_nonce,        sizeof(gkea_nonce), st->out1,
                                &st->len1,         st->out2,           &st->len2};
    CK_MECHANISM mech = {CKM_SE_GKEA, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls), ATTR(CKA_KEY_TYPE, type), ATTR(CKA_VALUE_LEN, len),
                           ATTR(CKA_TOKEN, no), ATTR(CKA_DERIVE, yes)};
    CK_OBJECT_HANDLE h;
    CK_RV rv = st->fn->C_GenerateKey(st->s, &mech, tmpl, ARRAY_SIZE(tmpl), &h);
    return rv != CKR_OK ? rv : st->fn->C_DestroyObject(st->s, h);
}

static CK_RV p11_ki(void *state)
{
    vendor_state *st = state;
    st->len1 = sizeof(st->out1);
    CK_SE_KI_PARAMS params = {CKM_SHA256, st->spki, st->spki_len, st->out1, &st->len1};
    CK_MECHANISM mech = {st->mech, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls), ATTR(CKA_KEY_TYPE, type), ATTR(CKA_VALUE_LEN, len),
                           ATTR(CKA_TOKEN, no), ATTR(CKA_SIGN, yes)};
    CK_OBJECT_HANDLE h;
    CK_RV rv = st->fn->C_GenerateKey(st->s, &mech, tmpl, ARRAY_SIZE(tmpl), &h);
    return rv != CKR_OK ? rv : st->fn->C_DestroyObject(st->s, h);
}

#define VENDOR_INIT(fname, mechanism, ...)                                                         \
    static CK_RV fname(bench_module *m, CK_SESSION_HANDLE s, void **state)                         \
    {                                                                                              \
        vendor_state *st;                                                                          \
        CK_RV rv = vendor_new(m, s, (mechanism), &st);                                             \
        if (rv != CKR_OK)                                                                          \
            return rv;                                                                             \
        __VA_ARGS__;                                                                               \
        if (rv != CKR_OK) {                                                                        \
            free(st);                                                                              \
            return rv;                                                                             \
        }                                                                                          \
        *state = st;                                                                               \
        return CKR_OK;                                                                             \
    }

VENDOR_INIT(p11_init_gkea_rsa, CKM_SE_GKEA, {
    rv = need_attestation(m);
    if (rv == CKR_OK)
        rv = spki_of(raw_key(&raw_rsa, "RSA"), st->spki, &st->spki_len);
})
VENDOR_INIT(p11_init_gkea_ec, CKM_SE_GKEA, {
    rv = need_attestation(m);
    if (rv == CKR_OK)
        rv = spki_of(raw_key(&raw_ec, "EC"), st->spki, &st->spki_len);
})
VENDOR_INIT(p11_init_ki_rsa_raw, CKM_SE_KI_RSA_RAW,
            rv = spki_of(raw_rsa_e3(), st->spki, &st->spki_len))
VENDOR_INIT(p11_init_ki_rsa_oaep, CKM_SE_KI_RSA_OAEP,
            rv = spki_of(raw_rsa_e3(), st->spki, &st->spki_len))
VENDOR_INIT(p11_init_ki_ec, CKM_SE_KI_EC_ELGAMAL,
            rv = spki_of(raw_key(&raw_ec, "EC"), st->spki, &st->spki_len))

/* ---- SK3 ---- */

/* K(i) || K'(i) || K''(i) from the fixed server value. */
static bool sk3_host_value(EVP_MAC *mac, const unsigned char id[16], unsigned char out[96])
{
    for (int n = 0; n < 3; n++)
        if (!hmac32(mac, sk3_server_value + 32 * n, id, 16, out + 32 * n))
            return false;
    return true;
}

/* A host key; limit: its CKA_SE_FAILURE_LIMIT, 0 for the default. */
static CK_RV sk3_create_host(bench_module *m, const unsigned char id[16], EVP_MAC *mac,
                             CK_ULONG limit, CK_OBJECT_HANDLE *out)
{
    unsigned char value[96];
    if (!sk3_host_value(mac, id, value))
        return CKR_FUNCTION_FAILED;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls),
                           ATTR(CKA_KEY_TYPE, type),
                           ATTR(CKA_TOKEN, yes),
                           ATTR(CKA_LABEL, key_label),
                           ATTR(CKA_VALUE, value),
                           {CKA_SE_HOST_ID, (void *)id, 16},
                           ATTR(CKA_SE_FAILURE_LIMIT, limit)};
    return m->fn->C_CreateObject(m->session, tmpl, ARRAY_SIZE(tmpl) - (limit == 0), out);
}

static CK_RV need_sk3(bench_module *m)
{
    if (m->keys.sk3_host_j != CK_INVALID_HANDLE)
        return CKR_OK;
    for (size_t i = 0; i < sizeof(sk3_server_value); i++)
        sk3_server_value[i] = (unsigned char)(i * 37 + 11);
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_SE_SK3_SERVER;
    CK_ATTRIBUTE known[] = {ATTR(CKA_CLASS, cls), ATTR(CKA_KEY_TYPE, type), ATTR(CKA_TOKEN, yes),
                            ATTR(CKA_LABEL, key_label), ATTR(CKA_VALUE, sk3_server_value)};
    CK_ATTRIBUTE gen_tmpl[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_LABEL, key_label)};
    CK_MECHANISM gen = {CKM_SE_SK3_KEY_GEN, NULL, 0};
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    CK_RV rv = mac ? CKR_OK : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK && m->keys.sk3_server_gen == CK_INVALID_HANDLE)
        rv = m->fn->C_GenerateKey(m->session, &gen, gen_tmpl, ARRAY_SIZE(gen_tmpl),
                                  &m->keys.sk3_server_gen);
    if (rv == CKR_OK && m->keys.sk3_server == CK_INVALID_HANDLE)
        rv = m->fn->C_CreateObject(m->session, known, ARRAY_SIZE(known), &m->keys.sk3_server);
    if (rv == CKR_OK && m->keys.sk3_host_i == CK_INVALID_HANDLE)
        rv = sk3_create_host(m, sk3_id_i, mac, 0, &m->keys.sk3_host_i);
    if (rv == CKR_OK)
        rv = sk3_create_host(m, sk3_id_j, mac, 0, &m->keys.sk3_host_j);
    EVP_MAC_free(mac);
    return rv;
}

static CK_RV sk3_sign(vendor_state *st, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key,
                      const void *in, CK_ULONG in_len, CK_BYTE out[64])
{
    CK_MECHANISM mech = {type, NULL, 0};
    CK_ULONG len = 64;
    CK_RV rv = st->fn->C_SignInit(st->s, &mech, key);
    return rv != CKR_OK ? rv : st->fn->C_Sign(st->s, (CK_BYTE_PTR)in, in_len, out, &len);
}

/* σ as a session AES key, destroyed at once. */
static CK_RV sk3_derive(vendor_state *st, CK_MECHANISM_TYPE type, void *params, CK_ULONG len,
                        CK_OBJECT_HANDLE key)
{
    CK_MECHANISM mech = {type, params, len};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG vlen = 32;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls), ATTR(CKA_KEY_TYPE, aes), ATTR(CKA_VALUE_LEN, vlen),
                           ATTR(CKA_ENCRYPT, yes), ATTR(CKA_TOKEN, no)};
    CK_OBJECT_HANDLE h;
    CK_RV rv = st->fn->C_DeriveKey(st->s, &mech, key, tmpl, ARRAY_SIZE(tmpl), &h);
    return rv != CKR_OK ? rv : st->fn->C_DestroyObject(st->s, h);
}

/* One whole handshake i -> j; with keep, its messages are kept in st. */
static CK_RV sk3_handshake(vendor_state *st, bool keep)
{
    CK_BYTE q1[64], ab[64], ij[32];
    CK_SE_SK3_Q2_PARAMS q2;
    CK_SE_SK3_Q3_PARAMS q3;
    CK_SE_SK3_Q4_PARAMS q4;
    memcpy(ij, sk3_id_i, 16);
    memcpy(ij + 16, sk3_id_j, 16);
    CK_RV rv = sk3_sign(st, CKM_SE_SK3_Q1, st->host_i, NULL, 0, q1);
    if (rv == CKR_OK)
        rv = sk3_sign(st, CKM_SE_SK3_SERVER, st->server, ij, sizeof(ij), ab);
    memset(&q2, 0, sizeof(q2));
    memcpy(q2.peerId, sk3_id_i, 16);
    memcpy(q2.ri, q1, 32);
    if (rv == CKR_OK)
        rv = sk3_derive(st, CKM_SE_SK3_Q2, &q2, sizeof(q2), st->host_j);
    memset(&q3, 0, sizeof(q3));
    memcpy(q3.peerId, sk3_id_j, 16);
    memcpy(q3.ri, q1, 32);
    memcpy(q3.ci, q1 + 32, 32);
    memcpy(q3.alpha, ab, 32);
    memcpy(q3.beta, ab + 32, 32);
    memcpy(q3.rj, q2.rj, 32);
    memcpy(q3.tauJ, q2.tauJ, 32);
    if (rv == CKR_OK)
        rv = sk3_derive(st, CKM_SE_SK3_Q3, &q3, sizeof(q3), st->host_i);
    memcpy(q4.peerId, sk3_id_i, 16);
    memcpy(q4.ri, q1, 32);
    memcpy(q4.rj, q2.rj, 32);
    CK_MECHANISM m4 = {CKM_SE_SK3_Q4, &q4, sizeof(q4)};
    if (rv == CKR_OK)
        rv = st->fn->C_VerifyInit(st->s, &m4, st->host_j);
    if (rv == CKR_OK)
        rv = st->fn->C_Verify(st->s, NULL, 0, q3.rhoI, sizeof(q3.rhoI));
    if (rv == CKR_OK && keep)
        st->q3 = q3;
    return rv;
}

static CK_RV p11_sk3_q1(void *state)
{
    vendor_state *st = state;
    return sk3_sign(st, CKM_SE_SK3_Q1, st->host_i, NULL, 0, st->out1);
}

static CK_RV p11_sk3_server(void *state)
{
    vendor_state *st = state;
    CK_BYTE ij[32];
    memcpy(ij, sk3_id_i, 16);
    memcpy(ij + 16, sk3_id_j, 16);
    return sk3_sign(st, CKM_SE_SK3_SERVER, st->server_gen, ij, sizeof(ij), st->out1);
}

static CK_RV p11_sk3_q2(void *state)
{
    vendor_state *st = state;
    CK_SE_SK3_Q2_PARAMS q2;
    memset(&q2, 0, sizeof(q2));
    memcpy(q2.peerId, sk3_id_i, 16);
    memcpy(q2.ri, st->q3.ri, 32);
    return sk3_derive(st, CKM_SE_SK3_Q2, &q2, sizeof(q2), st->host_j);
}

static CK_RV p11_sk3_q3(void *state)
{
    vendor_state *st = state;
    CK_SE_SK3_Q3_PARAMS q3 = st->q3;
    return sk3_derive(st, CKM_SE_SK3_Q3, &q3, sizeof(q3), st->host_i);
}

static CK_RV p11_sk3_q4(void *state)
{
    vendor_state *st = state;
    CK_SE_SK3_Q4_PARAMS q4;
    memcpy(q4.peerId, sk3_id_i, 16);
    memcpy(q4.ri, st->q3.ri, 32);
    memcpy(q4.rj, st->q3.rj, 32);
    CK_MECHANISM mech = {CKM_SE_SK3_Q4, &q4, sizeof(q4)};
    CK_RV rv = st->fn->C_VerifyInit(st->s, &mech, st->host_j);
    return rv != CKR_OK ? rv : st->fn->C_Verify(st->s, NULL, 0, st->q3.rhoI, 32);
}

/* Query 4 with a wrong rho_i on the reject key (host j's value and name,
 * CKA_SE_FAILURE_LIMIT SK3_REJECT_LIMIT): CKR_SIGNATURE_INVALID, and the
 * key's persistent failure counter rises by one (docs/spec.md §6). */
static CK_RV p11_sk3_reject(void *state)
{
    vendor_state *st = state;
    CK_SE_SK3_Q4_PARAMS q4;
    CK_BYTE rho[32];
    memcpy(q4.peerId, sk3_id_i, 16);
    memcpy(q4.ri, st->q3.ri, 32);
    memcpy(q4.rj, st->q3.rj, 32);
    memcpy(rho, st->q3.rhoI, 32);
    rho[0] ^= 1;
    CK_MECHANISM mech = {CKM_SE_SK3_Q4, &q4, sizeof(q4)};
    CK_RV rv = st->fn->C_VerifyInit(st->s, &mech, st->host_reject);
    if (rv == CKR_OK)
        rv = st->fn->C_Verify(st->s, NULL, 0, rho, sizeof(rho));
    return rv == CKR_SIGNATURE_INVALID ? CKR_OK : rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
}

static CK_RV p11_sk3_full(void *state)
{
    return sk3_handshake(state, false);
}

static CK_RV sk3_setup(bench_module *m, vendor_state *st)
{
    CK_RV rv = need_sk3(m);
    st->host_i = m->keys.sk3_host_i;
    st->host_j = m->keys.sk3_host_j;
    st->server = m->keys.sk3_server;
    st->server_gen = m->keys.sk3_server_gen;
    return rv == CKR_OK ? sk3_handshake(st, true) : rv;
}

VENDOR_INIT(p11_init_sk3_q1, CKM_SE_SK3_Q1, rv = sk3_setup(m, st))
VENDOR_INIT(p11_init_sk3_server, CKM_SE_SK3_SERVER, rv = sk3_setup(m, st))
VENDOR_INIT(p11_init_sk3_q2, CKM_SE_SK3_Q2, rv = sk3_setup(m, st))
VENDOR_INIT(p11_init_sk3_q3, CKM_SE_SK3_Q3, rv = sk3_setup(m, st))
VENDOR_INIT(p11_init_sk3_q4, CKM_SE_SK3_Q4, rv = sk3_setup(m, st))
VENDOR_INIT(p11_init_sk3_full, CKM_SE_SK3_Q3, rv = sk3_setup(m, st))

/* High enough never to block in a run (each reject is a durable write:
 * some thousands per second at most). */
#define SK3_REJECT_LIMIT 1000000000UL

VENDOR_INIT(p11_init_sk3_reject, CKM_SE_SK3_Q4, {
    rv = sk3_setup(m, st);
    EVP_MAC *mac = NULL;
    if (rv == CKR_OK && m->keys.sk3_host_reject == CK_INVALID_HANDLE) {
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        rv = mac ? sk3_create_host(m, sk3_id_j, mac, SK3_REJECT_LIMIT, &m->keys.sk3_host_reject)
                 : CKR_FUNCTION_FAILED;
        EVP_MAC_free(mac);
    }
    st->host_reject = m->keys.sk3_host_reject;
})

/* ---- vendor mechanisms: the raw OpenSSL compositions ---- */

enum { RAWV_GKEA_RSA, RAWV_GKEA_EC, RAWV_KI_RAW, RAWV_KI_OAEP, RAWV_KI_EC, RAWV_HMACS };

struct raw_vendor {
    int kind; /* STATE_RAW_VENDOR */
    int mode;
    EVP_PKEY *server;  /* borrowed: GKEA server key / KI issuer key */
    EVP_PKEY *attest;  /* borrowed: the attestation key (GKEA) */
    EVP_PKEY_CTX *gen; /* ephemeral P-256 keys (GKEA EC) */
    EVP_MAC *mac;
    EVP_KDF *kdf;
    EVP_MD *sha256;
    BIGNUM *n, *bound, *r; /* KI RSA: modulus, n - 3; KI EC: order - 1 */
    EC_GROUP *group;
    EC_POINT *h, *gr, *hr;
    unsigned hmacs; /* SK3: HMAC-SHA-256 calls per iteration */
    bool rand32;    /* SK3: plus 32 random bytes (queries 1 and 2) */
    /* naive: contexts made per call and one DRBG call per nonce, as the
     * first bench composed it; else the careful side's kept state: */
    bool naive;
    EVP_MAC_CTX *keyed[3];  /* SK3: one HMAC context per key, keyed once */
    EVP_PKEY_CTX *enc;      /* GKEA RSA, KI RSA: the encryption set up once */
    EVP_MD_CTX *attest_set; /* GKEA: the attestation signature set up once */
    EVP_MD_CTX *attest_ctx; /* its copy per call */
    raw_block rnd;
    unsigned char spki[600];
    size_t spki_len, k;
    unsigned char n_bytes[512], g_bytes[133], h_bytes[133];
    unsigned char buf[2048], out[1024];
};

void raw_vendor_free(raw_vendor *st)
{
    for (size_t i = 0; i < 3; i++)
        EVP_MAC_CTX_free(st->keyed[i]);
    EVP_PKEY_CTX_free(st->enc);
    EVP_MD_CTX_free(st->attest_set);
    EVP_MD_CTX_free(st->attest_ctx);
    OPENSSL_cleanse(&st->rnd, sizeof(st->rnd));
    EVP_PKEY_CTX_free(st->gen);
    EVP_MAC_free(st->mac);
    EVP_KDF_free(st->kdf);
    EVP_MD_free(st->sha256);
    BN_free(st->n);
    BN_free(st->bound);
    BN_free(st->r);
    EC_POINT_free(st->h);
    EC_POINT_free(st->gr);
    EC_POINT_free(st->hr);
    EC_GROUP_free(st->group);
}

static size_t put16(unsigned char *p, const void *v, size_t len)
{
    p[0] = (unsigned char)(len >> 8);
    p[1] = (unsigned char)len;
    memcpy(p + 2, v, len);
    return len + 2;
}

/* TBS of docs/spec.md §4 step 2, then AK = ECDSA-P256-SHA256 over it. */
static bool raw_attest_sign(raw_vendor *st, const unsigned char *k, const unsigned char *ek,
                            size_t ek_len)
{
    size_t at = 0;
    memcpy(st->buf, "SOFTSE-GKEA-1", 13);
    at = 13;
    at += put16(st->buf + at, k, 32);
    at += put16(st->buf + at, st->spki, st->spki_len);
    at += put16(st->buf + at, gkea_nonce, sizeof(gkea_nonce));
    at += put16(st->buf + at, ek, ek_len);
    size_t len = 80;
    unsigned char sig[80];
    if (!st->naive) {
        if (!EVP_MD_CTX_copy_ex(st->attest_ctx, st->attest_set))
            return false;
        EVP_MD_CTX_set_flags(st->attest_ctx, EVP_MD_CTX_FLAG_FINALISE);
        return EVP_DigestSign(st->attest_ctx, sig, &len, st->buf, at) > 0;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestSignInit_ex(ctx, NULL, "SHA256", NULL, NULL, st->attest, NULL) &&
              EVP_DigestSign(ctx, sig, &len, st->buf, at);
    EVP_MD_CTX_free(ctx);
    return ok;
}

static bool raw_oaep_to(EVP_PKEY *key, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    bool ok = ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
              EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) > 0 &&
              EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) > 0 &&
              EVP_PKEY_encrypt(ctx, out, out_len, in, in_len) > 0;
    EVP_PKEY_CTX_free(ctx);
    return ok;
}

static CK_RV raw_gkea(void *state)
{
    raw_vendor *st = state;
    unsigned char k[32], ek[520];
    size_t ek_len = sizeof(ek);
    if (st->mode == RAWV_GKEA_RSA && st->naive)
        return OK(RAND_priv_bytes(k, sizeof(k)) &&
                  raw_oaep_to(st->server, k, sizeof(k), ek, &ek_len) &&
                  raw_attest_sign(st, k, ek, ek_len));
    if (st->mode == RAWV_GKEA_RSA)
        return OK(raw_block_draw(&st->rnd, k, sizeof(k), true) &&
                  EVP_PKEY_encrypt(st->enc, ek, &ek_len, k, sizeof(k)) > 0 &&
                  raw_attest_sign(st, k, ek, ek_len));
    /* EC: ephemeral e, Z = ECDH, EK = E, K = HKDF(nonce, Z, info). */
    EVP_PKEY *eph = NULL;
    unsigned char z[32], info[700];
    size_t z_len = sizeof(z);
    bool ok = EVP_PKEY_generate(st->gen, &eph) > 0;
    EVP_PKEY_CTX *dh = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL) : NULL;
    ok = ok && dh && EVP_PKEY_derive_init(dh) > 0 && EVP_PKEY_derive_set_peer(dh, st->server) > 0 &&
         EVP_PKEY_derive(dh, z, &z_len) > 0;
    ok = ok &&
         EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, ek, sizeof(ek), &ek_len);
    size_t info_len = 0;
    if (ok) {
        memcpy(info, "SOFTSE-GKEA-ECDH-1", 18);
        memcpy(info + 18, st->spki, st->spki_len);
        memcpy(info + 18 + st->spki_len, ek, ek_len);
        info_len = 18 + st->spki_len + ek_len;
    }
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, gkea_nonce, sizeof(gkea_nonce)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z, z_len),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len),
        OSSL_PARAM_construct_end()};
    EVP_KDF_CTX *kctx = ok ? EVP_KDF_CTX_new(st->kdf) : NULL;
    ok = ok && kctx && EVP_KDF_derive(kctx, k, sizeof(k), params) > 0;
    ok = ok && raw_attest_sign(st, k, ek, ek_len);
    EVP_KDF_CTX_free(kctx);
    EVP_PKEY_CTX_free(dh);
    EVP_PKEY_free(eph);
    return OK(ok);
}

static CK_RV raw_ki(void *state)
{
    raw_vendor *st = state;
    unsigned char *r = st->buf, *c = st->out;
    size_t c_len = sizeof(st->out), r_len = st->k;
    bool ok;
    if (st->mode == RAWV_KI_RAW) {
        /* r uniform in [2, n-2], c = r^e mod n (RSA without padding). */
        ok = BN_rand_range(st->r, st->bound) && BN_add_word(st->r, 2) &&
             BN_bn2binpad(st->r, r, (int)st->k) == (int)st->k;
        EVP_PKEY_CTX *ctx = st->enc;
        if (st->naive) {
            ctx = ok ? EVP_PKEY_CTX_new_from_pkey(NULL, st->server, NULL) : NULL;
            ok = ok && ctx && EVP_PKEY_encrypt_init(ctx) > 0 &&
                 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_NO_PADDING) > 0;
        }
        ok = ok && EVP_PKEY_encrypt(ctx, c, &c_len, r, st->k) > 0;
        if (st->naive)
            EVP_PKEY_CTX_free(ctx);
    } else if (st->mode == RAWV_KI_OAEP && st->naive) {
        r_len = 32;
        ok = RAND_priv_bytes(r, 32) && raw_oaep_to(st->server, r, 32, c, &c_len);
    } else if (st->mode == RAWV_KI_OAEP) {
        r_len = 32;
        ok = raw_block_draw(&st->rnd, r, 32, true) &&
             EVP_PKEY_encrypt(st->enc, c, &c_len, r, 32) > 0;
    } else {
        /* r uniform in [1, q-1]; c = P(g^r); the hash takes P(h^r). */
        const size_t pl = 65;
        ok =
            BN_rand_range(st->r, st->bound) && BN_add_word(st->r, 1) &&
            EC_POINT_mul(st->group, st->gr, st->r, NULL, NULL, NULL) &&
            EC_POINT_mul(st->group, st->hr, NULL, st->h, st->r, NULL) &&
            EC_POINT_point2oct(st->group, st->gr, POINT_CONVERSION_UNCOMPRESSED, c, pl, NULL) ==
                pl &&
            EC_POINT_point2oct(st->group, st->hr, POINT_CONVERSION_UNCOMPRESSED, r, pl, NULL) == pl;
        memcpy(r + pl, st->g_bytes, pl);
        memcpy(r + 2 * pl, st->h_bytes, pl);
        return OK(ok && EVP_Digest(r, 3 * pl, st->out + 512, NULL, st->sha256, NULL));
    }
    memcpy(r + r_len, st->n_bytes, st->k);
    return OK(ok && EVP_Digest(r, r_len + st->k, st->out + 512, NULL, st->sha256, NULL));
}

static CK_RV raw_sk3(void *state)
{
    raw_vendor *st = state;
    size_t len;
    if (st->naive) {
        bool ok = !st->rand32 || RAND_bytes(st->out, 32);
        for (unsigned i = 0; ok && i < st->hmacs; i++)
            ok = hmac32(st->mac, st->buf + (i % 3) * 32, st->out, 48, st->out + 64);
        return OK(ok);
    }
    bool ok = !st->rand32 || raw_block_draw(&st->rnd, st->out, 32, false);
    for (unsigned i = 0; ok && i < st->hmacs; i++) {
        EVP_MAC_CTX *ctx = st->keyed[i % 3];
        ok = EVP_MAC_init(ctx, NULL, 0, NULL) && EVP_MAC_update(ctx, st->out, 48) &&
             EVP_MAC_final(ctx, st->out + 64, &len, 32);
    }
    return OK(ok);
}

/* The careful side's kept state (see struct raw_vendor). */
static bool raw_vendor_keep(raw_vendor *st)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    bool ok = true;
    if (st->mode == RAWV_HMACS)
        for (size_t i = 0; ok && i < 3; i++)
            ok = (st->keyed[i] = EVP_MAC_CTX_new(st->mac)) &&
                 EVP_MAC_init(st->keyed[i], st->buf + 32 * i, 32, params);
    if (ok && (st->mode == RAWV_GKEA_RSA || st->mode == RAWV_KI_OAEP || st->mode == RAWV_KI_RAW)) {
        bool oaep = st->mode != RAWV_KI_RAW;
        ok = (st->enc = EVP_PKEY_CTX_new_from_pkey(NULL, st->server, NULL)) &&
             EVP_PKEY_encrypt_init(st->enc) > 0 &&
             EVP_PKEY_CTX_set_rsa_padding(st->enc, oaep ? RSA_PKCS1_OAEP_PADDING : RSA_NO_PADDING) >
                 0 &&
             (!oaep || (EVP_PKEY_CTX_set_rsa_oaep_md_name(st->enc, "SHA256", NULL) > 0 &&
                        EVP_PKEY_CTX_set_rsa_mgf1_md_name(st->enc, "SHA256", NULL) > 0));
    }
    if (ok && (st->mode == RAWV_GKEA_RSA || st->mode == RAWV_GKEA_EC))
        ok = (st->attest_set = EVP_MD_CTX_new()) && (st->attest_ctx = EVP_MD_CTX_new()) &&
             EVP_DigestSignInit_ex(st->attest_set, NULL, "SHA256", NULL, NULL, st->attest, NULL);
    return ok;
}

static CK_RV raw_vendor_new(int mode, raw_vendor **out)
{
    raw_vendor *st = calloc(1, sizeof(*st));
    if (!st)
        return CKR_HOST_MEMORY;
    st->kind = STATE_RAW_VENDOR;
    st->mode = mode;
    st->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    *out = st;
    return st->sha256 ? CKR_OK : CKR_FUNCTION_FAILED;
}

static bool raw_spki(raw_vendor *st)
{
    unsigned char *p = st->spki;
    int n = i2d_PUBKEY(st->server, NULL);
    if (n <= 0 || (size_t)n > sizeof(st->spki))
        return false;
    i2d_PUBKEY(st->server, &p);
    st->spki_len = (size_t)n;
    return true;
}

static bool raw_rsa_modulus(raw_vendor *st)
{
    st->k = (size_t)EVP_PKEY_get_size(st->server);
    return EVP_PKEY_get_bn_param(st->server, OSSL_PKEY_PARAM_RSA_N, &st->n) &&
           st->k <= sizeof(st->n_bytes) &&
           BN_bn2binpad(st->n, st->n_bytes, (int)st->k) == (int)st->k &&
           (st->bound = BN_dup(st->n)) && BN_sub_word(st->bound, 3) && (st->r = BN_new());
}

static bool raw_ec_issuer(raw_vendor *st)
{
    size_t hl = 0;
    st->group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    bool ok = st->group && (st->h = EC_POINT_new(st->group)) &&
              (st->gr = EC_POINT_new(st->group)) && (st->hr = EC_POINT_new(st->group)) &&
              (st->r = BN_new()) && (st->bound = BN_dup(EC_GROUP_get0_order(st->group))) &&
              BN_sub_word(st->bound, 1) &&
              EVP_PKEY_get_octet_string_param(st->server, OSSL_PKEY_PARAM_PUB_KEY, st->h_bytes,
                                              sizeof(st->h_bytes), &hl) &&
              hl == 65 && EC_POINT_oct2point(st->group, st->h, st->h_bytes, hl, NULL) &&
              EC_POINT_point2oct(st->group, EC_GROUP_get0_generator(st->group),
                                 POINT_CONVERSION_UNCOMPRESSED, st->g_bytes, 65, NULL) == 65;
    return ok;
}

static CK_RV raw_vendor_init(int mode, unsigned hmacs, bool rand32, bool naive, void **state)
{
    raw_vendor *st = NULL;
    CK_RV rv = raw_vendor_new(mode, &st);
    if (!st)
        return rv;
    bool ok = rv == CKR_OK;
    switch (mode) {
    case RAWV_GKEA_RSA:
    case RAWV_GKEA_EC:
        ok = ok &&
             (st->server = raw_key(mode == RAWV_GKEA_RSA ? &raw_rsa : &raw_ec,
                                   mode == RAWV_GKEA_RSA ? "RSA" : "EC")) &&
             (st->attest = raw_attest
                               ? raw_attest
                               : (raw_attest = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256"))) &&
             raw_spki(st);
        if (mode == RAWV_GKEA_EC)
            ok = ok && (st->kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) &&
                 (st->gen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) &&
                 EVP_PKEY_keygen_init(st->gen) > 0 &&
                 EVP_PKEY_CTX_set_group_name(st->gen, "P-256") > 0;
        break;
    case RAWV_KI_RAW:
    case RAWV_KI_OAEP:
        ok = ok && (st->server = raw_rsa_e3()) && raw_rsa_modulus(st);
        break;
    case RAWV_KI_EC:
        ok = ok && (st->server = raw_key(&raw_ec, "EC")) && raw_ec_issuer(st);
        break;
    default:
        st->hmacs = hmacs;
        st->rand32 = rand32;
        memcpy(st->buf, sk3_server_value, sizeof(sk3_server_value));
        ok = ok && (st->mac = EVP_MAC_fetch(NULL, "HMAC", NULL));
    }
    st->naive = naive;
    ok = ok && (naive || raw_vendor_keep(st));
    if (!ok) {
        bench_state_free(st);
        return CKR_FUNCTION_FAILED;
    }
    *state = st;
    return CKR_OK;
}

/* Each composition twice: careful (raw_init_*) and naive (naive_init_*). */
#define RAWV_INIT(name, mode, hmacs, rand32)                                                       \
    static CK_RV raw_init_##name(void **state)                                                     \
    {                                                                                              \
        return raw_vendor_init((mode), (hmacs), (rand32), false, state);                           \
    }                                                                                              \
    static CK_RV naive_init_##name(void **state)                                                   \
    {                                                                                              \
        return raw_vendor_init((mode), (hmacs), (rand32), true, state);                            \
    }

RAWV_INIT(gkea_rsa, RAWV_GKEA_RSA, 0, false)
RAWV_INIT(gkea_ec, RAWV_GKEA_EC, 0, false)
RAWV_INIT(ki_rsa_raw, RAWV_KI_RAW, 0, false)
RAWV_INIT(ki_rsa_oaep, RAWV_KI_OAEP, 0, false)
RAWV_INIT(ki_ec, RAWV_KI_EC, 0, false)
/* HMAC-SHA-256 calls per query, docs/spec.md §6: Q1 f_K~(r_i); server K(j),
 * K(j,i), K'(i), K'(i,j), K''(i), K''(i,j), beta; Q2 K(j,i), tau, sigma; Q3
 * c_i, K''(i,j), beta, K'(i,j), tau, rho, sigma; Q4 K(j,i), rho. */
RAWV_INIT(sk3_q1, RAWV_HMACS, 1, true)
RAWV_INIT(sk3_server, RAWV_HMACS, 7, false)
RAWV_INIT(sk3_q2, RAWV_HMACS, 3, true)
RAWV_INIT(sk3_q3, RAWV_HMACS, 7, false)
RAWV_INIT(sk3_q4, RAWV_HMACS, 2, false)
RAWV_INIT(sk3_full, RAWV_HMACS, 20, true)

/* ---- the rows ------------------------------------------------------------------ */

#define P11(name) p11_init_##name
#define RAW(name) raw_init_##name
#define NAIVE(name) naive_init_##name

const bench_op bench_vendor_ops[] = {
    {"se-gkea-rsa2048", "gkea",
     "C_GenerateKey CKM_SE_GKEA session AES-256 K, RSA-2048 server, P-256 device key + "
     "C_DestroyObject; raw: RAND 32 B + OAEP-SHA256 + ECDSA-P256-SHA256 over the TBS",
     CKM_SE_GKEA, true, P11(gkea_rsa), p11_gkea, RAW(gkea_rsa), raw_gkea, NAIVE(gkea_rsa),
     raw_gkea},
    {"se-gkea-p256", "gkea",
     "C_GenerateKey CKM_SE_GKEA session AES-256 K, P-256 server, P-256 device key + "
     "C_DestroyObject; raw: EC keygen + ECDH + HKDF + ECDSA-P256-SHA256 over the TBS",
     CKM_SE_GKEA, true, P11(gkea_ec), p11_gkea, RAW(gkea_ec), raw_gkea, NAIVE(gkea_ec), raw_gkea},
    {"se-ki-rsa-raw", "ki",
     "C_GenerateKey CKM_SE_KI_RSA_RAW SHA-256, RSA-2048 e=3, session KI + C_DestroyObject; "
     "raw: random r + RSA no padding + SHA-256",
     CKM_SE_KI_RSA_RAW, true, P11(ki_rsa_raw), p11_ki, RAW(ki_rsa_raw), raw_ki, NAIVE(ki_rsa_raw),
     raw_ki},
    {"se-ki-rsa-oaep", "ki",
     "C_GenerateKey CKM_SE_KI_RSA_OAEP SHA-256, RSA-2048 e=3, session KI + C_DestroyObject; "
     "raw: RAND 32 B + OAEP-SHA256 + SHA-256",
     CKM_SE_KI_RSA_OAEP, true, P11(ki_rsa_oaep), p11_ki, RAW(ki_rsa_oaep), raw_ki,
     NAIVE(ki_rsa_oaep), raw_ki},
    {"se-ki-ec-elgamal", "ki",
     "C_GenerateKey CKM_SE_KI_EC_ELGAMAL SHA-256, P-256, session KI + C_DestroyObject; "
     "raw: random r + 2 EC scalar mults + SHA-256",
     CKM_SE_KI_EC_ELGAMAL, true, P11(ki_ec), p11_ki, RAW(ki_ec), raw_ki, NAIVE(ki_ec), raw_ki},
    {"se-sk3-q1", "sk3", "C_SignInit+C_Sign CKM_SE_SK3_Q1; raw: RAND 32 B + 1 HMAC-SHA256",
     CKM_SE_SK3_Q1, true, P11(sk3_q1), p11_sk3_q1, RAW(sk3_q1), raw_sk3, NAIVE(sk3_q1), raw_sk3},
    {"se-sk3-server", "sk3",
     "C_SignInit+C_Sign CKM_SE_SK3_SERVER (CKM_SE_SK3_KEY_GEN key); raw: 7 HMAC-SHA256",
     CKM_SE_SK3_SERVER, true, P11(sk3_server), p11_sk3_server, RAW(sk3_server), raw_sk3,
     NAIVE(sk3_server), raw_sk3},
    {"se-sk3-q2", "sk3",
     "C_DeriveKey CKM_SE_SK3_Q2 session AES sigma + C_DestroyObject; raw: RAND 32 B + 3 HMAC",
     CKM_SE_SK3_Q2, true, P11(sk3_q2), p11_sk3_q2, RAW(sk3_q2), raw_sk3, NAIVE(sk3_q2), raw_sk3},
    {"se-sk3-q3", "sk3",
     "C_DeriveKey CKM_SE_SK3_Q3 session AES sigma + C_DestroyObject; raw: 7 HMAC", CKM_SE_SK3_Q3,
     true, P11(sk3_q3), p11_sk3_q3, RAW(sk3_q3), raw_sk3, NAIVE(sk3_q3), raw_sk3},
    {"se-sk3-q4", "sk3", "C_VerifyInit+C_Verify CKM_SE_SK3_Q4; raw: 2 HMAC-SHA256", CKM_SE_SK3_Q4,
     true, P11(sk3_q4), p11_sk3_q4, RAW(sk3_q4), raw_sk3, NAIVE(sk3_q4), raw_sk3},
    {"se-sk3-reject", "sk3",
     "C_VerifyInit+C_Verify CKM_SE_SK3_Q4 with a wrong rho_i -> CKR_SIGNATURE_INVALID, the key's "
     "failure counter raised; raw: 2 HMAC-SHA256",
     CKM_SE_SK3_Q4, false, P11(sk3_reject), p11_sk3_reject, RAW(sk3_q4), raw_sk3, NAIVE(sk3_q4),
     raw_sk3},
    {"se-sk3-handshake", "sk3",
     "Q1 + server + Q2 + Q3 + Q4 (sigma keys destroyed); raw: RAND 32 B + 20 HMAC-SHA256",
     CKM_SE_SK3_Q3, false, P11(sk3_full), p11_sk3_full, RAW(sk3_full), raw_sk3, NAIVE(sk3_full),
     raw_sk3},
};

const size_t bench_vendor_ops_count = ARRAY_SIZE(bench_vendor_ops);
