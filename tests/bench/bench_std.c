/*
 * bench_std.c — the rows of the standard mechanisms: random, digests,
 * HMAC, ECDSA, EdDSA, RSA, AES-GCM, DES3-CBC, key generation, token
 * objects, login.
 *
 * One row per operation: the PKCS#11 calls of one iteration (the API's
 * way: C_SignInit… again per iteration) and the raw OpenSSL set-ups and
 * iterations doing the same work with a key already loaded, which are in
 * bench_raw.c (the careful side an application would write, and the naive
 * one of the first bench, issue 18).
 *
 * Keys live on the token (CKA_TOKEN TRUE, private, sensitive), as a
 * secure element's keys would; they are made once per module.
 */
#include "bench_raw.h"
#include "bench_rows.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixed inputs ------------------------------------------------------ */

CK_BBOOL yes = CK_TRUE;
CK_BBOOL no = CK_FALSE;
CK_BYTE p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
/* Ed25519: PKCS#11 3.0 §2.3.10 allows the OID or the curve name. */
static CK_BYTE ed25519_oid[] = {0x06, 0x03, 0x2b, 0x65, 0x70};
static CK_BYTE ed25519_name[] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                 'd',  's',  '2', '5', '5', '1', '9'};
static CK_BYTE rsa_exponent[] = {0x01, 0x00, 0x01};
static CK_ULONG rsa_bits = 2048;
CK_BYTE key_label[] = "softse-bench-key";
CK_BYTE secret32[32] = "softse-bench fixed 32-byte key!";
/* Three distinct DES keys with odd parity ("softse-bench-des3-key-24" with
 * each byte's low bit set for it): softse refuses a DES key whose parity is
 * wrong (docs/spec.md §10). */
CK_BYTE des3_key[24] = "sngusd,b"
                       "dnbh,dds"
                       "2,kdy,24";

/* ---- shared token keys ------------------------------------------------- */

CK_RV make_pair(bench_module *m, CK_MECHANISM_TYPE gen, CK_ATTRIBUTE *pub, CK_ULONG npub,
                CK_ATTRIBUTE *priv, CK_ULONG npriv, CK_OBJECT_HANDLE *hpub, CK_OBJECT_HANDLE *hpriv)
{
    CK_MECHANISM mech = {gen, NULL, 0};
    return m->fn->C_GenerateKeyPair(m->session, &mech, pub, npub, priv, npriv, hpub, hpriv);
}

static CK_RV need_ec(bench_module *m)
{
    if (m->keys.ec_priv != CK_INVALID_HANDLE)
        return CKR_OK;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_VERIFY, yes),
                          ATTR(CKA_EC_PARAMS, p256_params), ATTR(CKA_LABEL, key_label)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, yes), ATTR(CKA_SENSITIVE, yes),
                           ATTR(CKA_SIGN, yes), ATTR(CKA_LABEL, key_label)};
    return make_pair(m, CKM_EC_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv, ARRAY_SIZE(priv),
                     &m->keys.ec_pub, &m->keys.ec_priv);
}

static CK_RV need_ed(bench_module *m)
{
    if (m->keys.ed_priv != CK_INVALID_HANDLE)
        return CKR_OK;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_VERIFY, yes),
                          ATTR(CKA_EC_PARAMS, ed25519_oid), ATTR(CKA_LABEL, key_label)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, yes), ATTR(CKA_SENSITIVE, yes),
                           ATTR(CKA_SIGN, yes), ATTR(CKA_LABEL, key_label)};
    CK_RV rv = make_pair(m, CKM_EC_EDWARDS_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv,
                         ARRAY_SIZE(priv), &m->keys.ed_pub, &m->keys.ed_priv);
    if (rv == CKR_OK)
        return rv;
    pub[2] = (CK_ATTRIBUTE)ATTR(CKA_EC_PARAMS, ed25519_name);
    return make_pair(m, CKM_EC_EDWARDS_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv, ARRAY_SIZE(priv),
                     &m->keys.ed_pub, &m->keys.ed_priv);
}

static CK_RV need_rsa(bench_module *m)
{
    if (m->keys.rsa_priv != CK_INVALID_HANDLE)
        return CKR_OK;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, yes),
                          ATTR(CKA_VERIFY, yes),
                          ATTR(CKA_ENCRYPT, yes),
                          ATTR(CKA_MODULUS_BITS, rsa_bits),
                          ATTR(CKA_PUBLIC_EXPONENT, rsa_exponent),
                          ATTR(CKA_LABEL, key_label)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, yes),     ATTR(CKA_PRIVATE, yes),
                           ATTR(CKA_SENSITIVE, yes), ATTR(CKA_SIGN, yes),
                           ATTR(CKA_DECRYPT, yes),   ATTR(CKA_LABEL, key_label)};
    return make_pair(m, CKM_RSA_PKCS_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv, ARRAY_SIZE(priv),
                     &m->keys.rsa_pub, &m->keys.rsa_priv);
}

/* The RSA-1024 pair, "n/a" (CKR_KEY_SIZE_RANGE) when the module's key
 * generation starts above 1024 bits (softse before issue 16: 2048). */
static CK_RV need_rsa1024(bench_module *m)
{
    if (m->keys.rsa1024_priv != CK_INVALID_HANDLE)
        return CKR_OK;
    CK_MECHANISM_INFO info;
    CK_RV rv = m->fn->C_GetMechanismInfo(m->slot, CKM_RSA_PKCS_KEY_PAIR_GEN, &info);
    if (rv != CKR_OK)
        return rv;
    if (info.ulMinKeySize > 1024)
        return CKR_KEY_SIZE_RANGE;
    CK_ULONG bits = 1024;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_VERIFY, yes), ATTR(CKA_MODULUS_BITS, bits),
                          ATTR(CKA_PUBLIC_EXPONENT, rsa_exponent), ATTR(CKA_LABEL, key_label)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, yes), ATTR(CKA_PRIVATE, yes), ATTR(CKA_SENSITIVE, yes),
                           ATTR(CKA_SIGN, yes), ATTR(CKA_LABEL, key_label)};
    return make_pair(m, CKM_RSA_PKCS_KEY_PAIR_GEN, pub, ARRAY_SIZE(pub), priv, ARRAY_SIZE(priv),
                     &m->keys.rsa1024_pub, &m->keys.rsa1024_priv);
}

static CK_RV make_secret_value(bench_module *m, CK_KEY_TYPE type, CK_BYTE *value, CK_ULONG len,
                               CK_OBJECT_HANDLE *out)
{
    if (*out != CK_INVALID_HANDLE)
        return CKR_OK;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    bool mac = type == CKK_GENERIC_SECRET;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls),
                           ATTR(CKA_KEY_TYPE, type),
                           ATTR(CKA_TOKEN, yes),
                           ATTR(CKA_PRIVATE, yes),
                           ATTR(CKA_SENSITIVE, yes),
                           {CKA_VALUE, value, len},
                           ATTR(CKA_LABEL, key_label),
                           ATTR(mac ? CKA_SIGN : CKA_ENCRYPT, yes),
                           ATTR(mac ? CKA_VERIFY : CKA_DECRYPT, yes)};
    return m->fn->C_CreateObject(m->session, tmpl, ARRAY_SIZE(tmpl), out);
}

static CK_RV make_secret(bench_module *m, CK_KEY_TYPE type, CK_OBJECT_HANDLE *out)
{
    return make_secret_value(m, type, secret32, sizeof(secret32), out);
}

void bench_keys_destroy(bench_module *m)
{
    CK_OBJECT_HANDLE *all[] = {
        &m->keys.ec_priv,         &m->keys.ec_pub,     &m->keys.ed_priv,      &m->keys.ed_pub,
        &m->keys.rsa_priv,        &m->keys.rsa_pub,    &m->keys.hmac,         &m->keys.aes,
        &m->keys.sk3_server_gen,  &m->keys.sk3_server, &m->keys.sk3_host_i,   &m->keys.sk3_host_j,
        &m->keys.sk3_host_reject, &m->keys.des3,       &m->keys.rsa1024_priv, &m->keys.rsa1024_pub};
    for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
        if (*all[i] != CK_INVALID_HANDLE)
            m->fn->C_DestroyObject(m->session, *all[i]);
        *all[i] = CK_INVALID_HANDLE;
    }
}

/* ---- states -------------------------------------------------------------- */

typedef struct p11_state {
    int kind;
    bench_module *m;
    CK_FUNCTION_LIST *fn;
    CK_SESSION_HANDLE s;
    CK_MECHANISM mech;
    union {
        CK_RSA_PKCS_PSS_PARAMS pss;
        CK_RSA_PKCS_OAEP_PARAMS oaep;
        CK_GCM_PARAMS gcm;
    } param;
    CK_OBJECT_HANDLE key;
    CK_ULONG in_len;
    CK_BYTE iv[12];
    uint64_t counter;
    CK_BYTE sig[512];
    CK_ULONG sig_len;
    CK_BYTE out[BENCH_DATA_MAX + 64];
} p11_state;

void bench_state_free(void *state)
{
    if (!state)
        return;
    if (*(int *)state == STATE_RAW)
        raw_state_free(state);
    else if (*(int *)state == STATE_RAW_VENDOR)
        raw_vendor_free(state);
    free(state);
}

static CK_RV p11_new(bench_module *m, CK_SESSION_HANDLE s, CK_MECHANISM_TYPE mech, CK_ULONG in_len,
                     p11_state **out)
{
    p11_state *st = calloc(1, sizeof(*st));
    if (!st)
        return CKR_HOST_MEMORY;
    st->kind = STATE_P11;
    st->m = m;
    st->fn = m->fn;
    st->s = s;
    st->mech.mechanism = mech;
    st->in_len = in_len;
    *out = st;
    return CKR_OK;
}

/* ---- PKCS#11 iterations --------------------------------------------------- */

static CK_RV p11_random(void *state)
{
    p11_state *st = state;
    return st->fn->C_GenerateRandom(st->s, st->out, 32);
}

static CK_RV p11_digest(void *state)
{
    p11_state *st = state;
    CK_ULONG len = sizeof(st->out);
    CK_RV rv = st->fn->C_DigestInit(st->s, &st->mech);
    return rv != CKR_OK ? rv : st->fn->C_Digest(st->s, bench_data, st->in_len, st->out, &len);
}

static CK_RV p11_sign(void *state)
{
    p11_state *st = state;
    CK_ULONG len = sizeof(st->out);
    CK_RV rv = st->fn->C_SignInit(st->s, &st->mech, st->key);
    return rv != CKR_OK ? rv : st->fn->C_Sign(st->s, bench_data, st->in_len, st->out, &len);
}

static CK_RV p11_verify(void *state)
{
    p11_state *st = state;
    CK_RV rv = st->fn->C_VerifyInit(st->s, &st->mech, st->key);
    return rv != CKR_OK ? rv
                        : st->fn->C_Verify(st->s, bench_data, st->in_len, st->sig, st->sig_len);
}

static CK_RV p11_encrypt(void *state)
{
    p11_state *st = state;
    CK_ULONG len = sizeof(st->out);
    if (st->mech.mechanism == CKM_AES_GCM)
        next_iv(st->iv, (uint32_t)st->s, &st->counter);
    CK_RV rv = st->fn->C_EncryptInit(st->s, &st->mech, st->key);
    return rv != CKR_OK ? rv : st->fn->C_Encrypt(st->s, bench_data, st->in_len, st->out, &len);
}

static CK_RV p11_aes_keygen(void *state)
{
    p11_state *st = state;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ULONG len = 32;
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls), ATTR(CKA_KEY_TYPE, type), ATTR(CKA_VALUE_LEN, len),
                           ATTR(CKA_TOKEN, no),  ATTR(CKA_SENSITIVE, yes), ATTR(CKA_ENCRYPT, yes)};
    CK_OBJECT_HANDLE h;
    CK_RV rv = st->fn->C_GenerateKey(st->s, &st->mech, tmpl, ARRAY_SIZE(tmpl), &h);
    return rv != CKR_OK ? rv : st->fn->C_DestroyObject(st->s, h);
}

static CK_RV p11_ec_keygen(void *state)
{
    p11_state *st = state;
    CK_ATTRIBUTE pub[] = {ATTR(CKA_TOKEN, no), ATTR(CKA_VERIFY, yes),
                          ATTR(CKA_EC_PARAMS, p256_params)};
    CK_ATTRIBUTE priv[] = {ATTR(CKA_TOKEN, no), ATTR(CKA_PRIVATE, yes), ATTR(CKA_SENSITIVE, yes),
                           ATTR(CKA_SIGN, yes)};
    CK_OBJECT_HANDLE hpub, hpriv;
    CK_RV rv = st->fn->C_GenerateKeyPair(st->s, &st->mech, pub, ARRAY_SIZE(pub), priv,
                                         ARRAY_SIZE(priv), &hpub, &hpriv);
    if (rv != CKR_OK)
        return rv;
    rv = st->fn->C_DestroyObject(st->s, hpriv);
    CK_RV rv2 = st->fn->C_DestroyObject(st->s, hpub);
    return rv != CKR_OK ? rv : rv2;
}

static CK_RV p11_object(void *state)
{
    p11_state *st = state;
    CK_OBJECT_CLASS cls = CKO_DATA;
    static CK_BYTE label[] = "softse-bench-tmp";
    CK_ATTRIBUTE tmpl[] = {ATTR(CKA_CLASS, cls),
                           ATTR(CKA_TOKEN, yes),
                           ATTR(CKA_PRIVATE, no),
                           ATTR(CKA_LABEL, label),
                           {CKA_VALUE, bench_data, 16}};
    CK_OBJECT_HANDLE h;
    CK_RV rv = st->fn->C_CreateObject(st->s, tmpl, ARRAY_SIZE(tmpl), &h);
    return rv != CKR_OK ? rv : st->fn->C_DestroyObject(st->s, h);
}

/* C_Login is per application (PKCS#11 3.0 §5.6): one iteration logs out
 * and back in, so the session stays logged in between iterations. */
static CK_RV p11_login(void *state)
{
    p11_state *st = state;
    CK_RV rv = st->fn->C_Logout(st->s);
    if (rv != CKR_OK)
        return rv;
    return st->fn->C_Login(st->s, CKU_USER, (CK_UTF8CHAR *)st->m->pin, strlen(st->m->pin));
}

/* A wrong user PIN: one C_Login answered CKR_PIN_INCORRECT, the failure
 * counted by the token.  So that the PIN never locks, a token that says
 * the next failure is the last (CKF_USER_PIN_FINAL_TRY) gets a good
 * C_Login + C_Logout, which resets its retry counter; that check and the
 * reset are left out of the timing (bench_untimed_*).  softse: at the
 * default user_max_failures of 10, one reset per 9 failed logins. */
static const char wrong_pin[] = "0000-not-the-pin";

static CK_RV p11_login_fail(void *state)
{
    p11_state *st = state;
    CK_RV rv = st->fn->C_Login(st->s, CKU_USER, (CK_UTF8CHAR *)wrong_pin, strlen(wrong_pin));
    if (rv != CKR_PIN_INCORRECT)
        return rv == CKR_OK ? CKR_GENERAL_ERROR : rv;
    double t0 = bench_untimed_begin();
    CK_TOKEN_INFO ti;
    rv = st->fn->C_GetTokenInfo(st->m->slot, &ti);
    if (rv == CKR_OK && (ti.flags & (CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED))) {
        rv = st->fn->C_Login(st->s, CKU_USER, (CK_UTF8CHAR *)st->m->pin, strlen(st->m->pin));
        if (rv == CKR_OK)
            rv = st->fn->C_Logout(st->s);
    }
    bench_untimed_end(t0);
    return rv;
}

/* ---- PKCS#11 set-ups ------------------------------------------------------ */

#define P11_INIT(fname, mechanism, in_len, ...)                                                    \
    static CK_RV fname(bench_module *m, CK_SESSION_HANDLE s, void **state)                         \
    {                                                                                              \
        p11_state *st;                                                                             \
        CK_RV rv = p11_new(m, s, (mechanism), (in_len), &st);                                      \
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

P11_INIT(p11_init_plain, 0, 32, (void)0)
P11_INIT(p11_init_sha256_64, CKM_SHA256, 64, (void)0)
P11_INIT(p11_init_sha256_1k, CKM_SHA256, 1024, (void)0)
P11_INIT(p11_init_hmac, CKM_SHA256_HMAC, 64, {
    rv = make_secret(m, CKK_GENERIC_SECRET, &m->keys.hmac);
    st->key = m->keys.hmac;
})
P11_INIT(p11_init_ecdsa, CKM_ECDSA, 32, {
    rv = need_ec(m);
    st->key = m->keys.ec_priv;
})
P11_INIT(p11_init_ecdsa_sha256, CKM_ECDSA_SHA256, 64, {
    rv = need_ec(m);
    st->key = m->keys.ec_priv;
})
P11_INIT(p11_init_ecdsa_verify, CKM_ECDSA, 32, {
    rv = need_ec(m);
    st->sig_len = sizeof(st->sig);
    if (rv == CKR_OK)
        rv = st->fn->C_SignInit(s, &st->mech, m->keys.ec_priv);
    if (rv == CKR_OK)
        rv = st->fn->C_Sign(s, bench_data, 32, st->sig, &st->sig_len);
    st->key = m->keys.ec_pub;
})
P11_INIT(p11_init_eddsa, CKM_EDDSA, 64, {
    rv = need_ed(m);
    st->key = m->keys.ed_priv;
})
P11_INIT(p11_init_rsa_pkcs, CKM_SHA256_RSA_PKCS, 64, {
    rv = need_rsa(m);
    st->key = m->keys.rsa_priv;
})
P11_INIT(p11_init_rsa_pss, CKM_SHA256_RSA_PKCS_PSS, 64, {
    rv = need_rsa(m);
    st->key = m->keys.rsa_priv;
    st->param.pss = (CK_RSA_PKCS_PSS_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, 32};
    st->mech.pParameter = &st->param.pss;
    st->mech.ulParameterLen = sizeof(st->param.pss);
})
P11_INIT(p11_init_rsa_oaep, CKM_RSA_PKCS_OAEP, 32, {
    rv = need_rsa(m);
    st->key = m->keys.rsa_pub;
    st->param.oaep =
        (CK_RSA_PKCS_OAEP_PARAMS){CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, NULL, 0};
    st->mech.pParameter = &st->param.oaep;
    st->mech.ulParameterLen = sizeof(st->param.oaep);
})

static CK_RV gcm_setup(bench_module *m, p11_state *st)
{
    CK_RV rv = make_secret(m, CKK_AES, &m->keys.aes);
    st->key = m->keys.aes;
    st->param.gcm.pIv = st->iv;
    st->param.gcm.ulIvLen = sizeof(st->iv);
    st->param.gcm.ulIvBits = 8 * sizeof(st->iv);
    st->param.gcm.ulTagBits = 128;
    st->mech.pParameter = &st->param.gcm;
    st->mech.ulParameterLen = sizeof(st->param.gcm);
    return rv;
}

P11_INIT(p11_init_gcm_1k, CKM_AES_GCM, 1024, rv = gcm_setup(m, st))
P11_INIT(p11_init_des3_1k, CKM_DES3_CBC, 1024, {
    rv = make_secret_value(m, CKK_DES3, des3_key, sizeof(des3_key), &m->keys.des3);
    st->key = m->keys.des3;
    st->mech.pParameter = st->iv; /* 8 bytes, fixed */
    st->mech.ulParameterLen = 8;
})
P11_INIT(p11_init_rsa1024, CKM_SHA256_RSA_PKCS, 64, {
    rv = need_rsa1024(m);
    st->key = m->keys.rsa1024_priv;
})
P11_INIT(p11_init_gcm_64k, CKM_AES_GCM, 64 * 1024, rv = gcm_setup(m, st))
P11_INIT(p11_init_aes_keygen, CKM_AES_KEY_GEN, 0, (void)0)
P11_INIT(p11_init_ec_keygen, CKM_EC_KEY_PAIR_GEN, 0, (void)0)
P11_INIT(p11_init_object, 0, 0, (void)0)
P11_INIT(p11_init_login, 0, 0, (void)0)
/* Logged out, so that the wrong PIN is tried (not CKR_USER_ALREADY_LOGGED_IN);
 * the driver logs the module back in after the row. */
P11_INIT(p11_init_login_fail, 0, 0, {
    rv = st->fn->C_Logout(s);
    if (rv == CKR_USER_NOT_LOGGED_IN)
        rv = CKR_OK;
})

/* ---- the rows ------------------------------------------------------------------ */

#define P11(name) p11_init_##name
#define RAW(name) raw_init_##name
#define CAREFUL(name) careful_init_##name
#define NAIVE(name) naive_init_##name

const bench_op bench_std_ops[] = {
    {"random-32", "random", "C_GenerateRandom 32 B", 0, true, P11(plain), p11_random,
     CAREFUL(plain), careful_random, RAW(plain), raw_random},
    {"digest-sha256-64", "digest", "C_DigestInit+C_Digest SHA-256, 64 B", CKM_SHA256, true,
     P11(sha256_64), p11_digest, CAREFUL(sha256_64), careful_digest, RAW(sha256_64), raw_digest},
    {"digest-sha256-1k", "digest", "C_DigestInit+C_Digest SHA-256, 1 KiB", CKM_SHA256, true,
     P11(sha256_1k), p11_digest, CAREFUL(sha256_1k), careful_digest, RAW(sha256_1k), raw_digest},
    {"hmac-sha256-64", "hmac", "C_SignInit+C_Sign CKM_SHA256_HMAC, 64 B", CKM_SHA256_HMAC, true,
     P11(hmac), p11_sign, CAREFUL(hmac), careful_hmac, RAW(hmac), raw_hmac},
    {"ecdsa-p256-sign", "ecdsa", "C_SignInit+C_Sign CKM_ECDSA, 32-B hash", CKM_ECDSA, true,
     P11(ecdsa), p11_sign, CAREFUL(ecdsa), careful_sign_hash, RAW(ecdsa), raw_sign_hash},
    {"ecdsa-sha256-sign", "ecdsa", "C_SignInit+C_Sign CKM_ECDSA_SHA256, 64 B", CKM_ECDSA_SHA256,
     true, P11(ecdsa_sha256), p11_sign, CAREFUL(ecdsa_sha256), careful_digest_sign,
     RAW(ecdsa_sha256), raw_digest_sign},
    {"ecdsa-p256-verify", "ecdsa", "C_VerifyInit+C_Verify CKM_ECDSA, 32-B hash", CKM_ECDSA, true,
     P11(ecdsa_verify), p11_verify, CAREFUL(ecdsa_verify), careful_verify_hash, RAW(ecdsa_verify),
     raw_verify_hash},
    {"ed25519-sign", "eddsa", "C_SignInit+C_Sign CKM_EDDSA, 64 B", CKM_EDDSA, true, P11(eddsa),
     p11_sign, CAREFUL(eddsa), careful_digest_sign, RAW(eddsa), raw_digest_sign},
    {"rsa2048-pkcs-sign", "rsa", "C_SignInit+C_Sign CKM_SHA256_RSA_PKCS, 64 B", CKM_SHA256_RSA_PKCS,
     true, P11(rsa_pkcs), p11_sign, CAREFUL(rsa_pkcs), careful_digest_sign, RAW(rsa_pkcs),
     raw_digest_sign},
    {"rsa2048-pss-sign", "rsa", "C_SignInit+C_Sign CKM_SHA256_RSA_PKCS_PSS, 64 B",
     CKM_SHA256_RSA_PKCS_PSS, true, P11(rsa_pss), p11_sign, CAREFUL(rsa_pss), careful_digest_sign,
     RAW(rsa_pss), raw_digest_sign},
    {"rsa1024-sign", "rsa", "C_SignInit+C_Sign CKM_SHA256_RSA_PKCS, 1024-bit key, 64 B",
     CKM_SHA256_RSA_PKCS, true, P11(rsa1024), p11_sign, CAREFUL(rsa1024), careful_digest_sign,
     RAW(rsa1024), raw_digest_sign},
    {"rsa2048-oaep-encrypt", "rsa", "C_EncryptInit+C_Encrypt CKM_RSA_PKCS_OAEP SHA-256, 32 B",
     CKM_RSA_PKCS_OAEP, true, P11(rsa_oaep), p11_encrypt, CAREFUL(rsa_oaep), careful_oaep,
     RAW(rsa_oaep), raw_oaep},
    {"aes256-gcm-1k", "aes", "C_EncryptInit+C_Encrypt CKM_AES_GCM, 1 KiB", CKM_AES_GCM, true,
     P11(gcm_1k), p11_encrypt, CAREFUL(gcm_1k), careful_cipher, RAW(gcm_1k), raw_gcm},
    {"aes256-gcm-64k", "aes", "C_EncryptInit+C_Encrypt CKM_AES_GCM, 64 KiB", CKM_AES_GCM, true,
     P11(gcm_64k), p11_encrypt, CAREFUL(gcm_64k), careful_cipher, RAW(gcm_64k), raw_gcm},
    {"des3-cbc-1k", "des3", "C_EncryptInit+C_Encrypt CKM_DES3_CBC, 1 KiB", CKM_DES3_CBC, true,
     P11(des3_1k), p11_encrypt, CAREFUL(des3_1k), careful_cipher, NAIVE(des3_1k), raw_des3},
    {"aes256-keygen", "keygen", "C_GenerateKey CKM_AES_KEY_GEN session key + C_DestroyObject",
     CKM_AES_KEY_GEN, false, P11(aes_keygen), p11_aes_keygen, CAREFUL(plain), careful_aes_keygen,
     RAW(plain), raw_aes_keygen},
    {"ec-p256-keygen", "keygen", "C_GenerateKeyPair P-256 session keys + 2 C_DestroyObject",
     CKM_EC_KEY_PAIR_GEN, false, P11(ec_keygen), p11_ec_keygen, RAW(ec_keygen), raw_ec_keygen, NULL,
     NULL},
    {"object-create-destroy", "object", "C_CreateObject token CKO_DATA + C_DestroyObject", 0, false,
     P11(object), p11_object, NULL, NULL, NULL, NULL},
    {"login-user", "login", "C_Logout + C_Login(CKU_USER); raw: PBKDF2-HMAC-SHA256", 0, false,
     P11(login), p11_login, RAW(plain), raw_login, NULL, NULL},
    {"login-fail", "login",
     "C_Login(CKU_USER) with a wrong PIN -> CKR_PIN_INCORRECT (the failure counted); "
     "raw: PBKDF2-HMAC-SHA256",
     0, false, P11(login_fail), p11_login_fail, RAW(plain), raw_login, NULL, NULL},
};

const size_t bench_std_ops_count = ARRAY_SIZE(bench_std_ops);
