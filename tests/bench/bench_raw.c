/*
 * bench_raw.c — the raw OpenSSL side of the standard rows (bench_std.c):
 * the same work as a row's PKCS#11 calls, done with libcrypto directly
 * on a key already loaded.  careful_*: what an application keeps between
 * calls (a keyed HMAC context, a key's EVP_PKEY_CTX, a digest-sign
 * context copied per call, an AES key schedule, random bytes drawn in
 * blocks), the baseline the module's ratios are taken against; raw_* and
 * naive_*: the first bench's composition, which redoes its set-up per
 * call, reported as a second column (issue 18).
 */
#include "bench_raw.h"
#include "bench_rows.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

typedef struct raw_state {
    int kind;
    EVP_PKEY *pkey; /* borrowed from the shared raw keys */
    EVP_MD *md;
    EVP_MAC *mac;
    EVP_CIPHER *cipher;
    EVP_CIPHER_CTX *cctx;
    EVP_PKEY_CTX *gen;
    /* The careful side's kept contexts: a digest context reused, an HMAC
     * context keyed once, a key's sign/verify/encrypt context set up once,
     * a digest-sign context set up once and copied per call (tmpl). */
    EVP_MD_CTX *mdctx, *tmpl;
    EVP_MAC_CTX *mctx;
    EVP_PKEY_CTX *pctx;
    raw_block rnd;
    int padding; /* RSA padding for the digest-sign rows, 0 if none */
    const char *md_name;
    size_t in_len;
    unsigned char iv[12];
    uint64_t counter;
    unsigned char sig[512];
    size_t sig_len;
    unsigned char out[BENCH_DATA_MAX + 64];
} raw_state;

static CK_RV raw_new(size_t in_len, raw_state **out)
{
    raw_state *st = calloc(1, sizeof(*st));
    if (!st)
        return CKR_HOST_MEMORY;
    st->kind = STATE_RAW;
    st->in_len = in_len;
    *out = st;
    return CKR_OK;
}

void raw_state_free(void *state)
{
    raw_state *r = state;
    EVP_MD_free(r->md);
    EVP_MAC_free(r->mac);
    EVP_CIPHER_free(r->cipher);
    EVP_CIPHER_CTX_free(r->cctx);
    EVP_PKEY_CTX_free(r->gen);
    EVP_MD_CTX_free(r->mdctx);
    EVP_MD_CTX_free(r->tmpl);
    EVP_MAC_CTX_free(r->mctx);
    EVP_PKEY_CTX_free(r->pctx);
    OPENSSL_cleanse(&r->rnd, sizeof(r->rnd));
}

/* ---- raw OpenSSL --------------------------------------------------------- */

EVP_PKEY *raw_ec, *raw_rsa;
static EVP_PKEY *raw_ed, *raw_rsa1024;

void bench_raw_keys_free(void)
{
    EVP_PKEY_free(raw_ec);
    EVP_PKEY_free(raw_ed);
    EVP_PKEY_free(raw_rsa);
    EVP_PKEY_free(raw_rsa1024);
    raw_ec = raw_ed = raw_rsa = raw_rsa1024 = NULL;
    bench_vendor_raw_keys_free();
}

EVP_PKEY *raw_key(EVP_PKEY **slot, const char *type)
{
    if (*slot)
        return *slot;
    if (strcmp(type, "EC") == 0)
        *slot = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    else if (strcmp(type, "RSA") == 0)
        *slot = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    else if (strcmp(type, "RSA1024") == 0)
        *slot = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
    else
        *slot = EVP_PKEY_Q_keygen(NULL, NULL, type);
    return *slot;
}

CK_RV raw_random(void *state)
{
    raw_state *st = state;
    return OK(RAND_bytes(st->out, 32));
}

CK_RV raw_digest(void *state)
{
    raw_state *st = state;
    return OK(EVP_Digest(bench_data, st->in_len, st->out, NULL, st->md, NULL));
}

CK_RV raw_hmac(void *state)
{
    raw_state *st = state;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    size_t len;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(st->mac);
    CK_RV rv = OK(ctx && EVP_MAC_init(ctx, secret32, sizeof(secret32), params) &&
                  EVP_MAC_update(ctx, bench_data, st->in_len) &&
                  EVP_MAC_final(ctx, st->out, &len, sizeof(st->out)));
    EVP_MAC_CTX_free(ctx);
    return rv;
}

/* CKM_ECDSA: a signature over a hash the caller made. */
CK_RV raw_sign_hash(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->pkey, NULL);
    CK_RV rv = OK(ctx && EVP_PKEY_sign_init(ctx) &&
                  EVP_PKEY_sign(ctx, st->out, &len, bench_data, st->in_len));
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

CK_RV raw_verify_hash(void *state)
{
    raw_state *st = state;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->pkey, NULL);
    CK_RV rv = OK(ctx && EVP_PKEY_verify_init(ctx) &&
                  EVP_PKEY_verify(ctx, st->sig, st->sig_len, bench_data, st->in_len));
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

/* Hash-and-sign: ECDSA-SHA256, RSA PKCS#1 v1.5 and PSS, Ed25519 (no md). */
CK_RV raw_digest_sign(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    EVP_PKEY_CTX *pctx = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestSignInit_ex(ctx, &pctx, st->md_name, NULL, NULL, st->pkey, NULL);
    if (ok && st->padding == RSA_PKCS1_PSS_PADDING)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) > 0;
    ok = ok && EVP_DigestSign(ctx, st->out, &len, bench_data, st->in_len);
    EVP_MD_CTX_free(ctx);
    return OK(ok);
}

CK_RV raw_oaep(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->pkey, NULL);
    CK_RV rv = OK(ctx && EVP_PKEY_encrypt_init(ctx) &&
                  EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
                  EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) > 0 &&
                  EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) > 0 &&
                  EVP_PKEY_encrypt(ctx, st->out, &len, bench_data, st->in_len));
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

CK_RV raw_gcm(void *state)
{
    raw_state *st = state;
    int len, fin;
    next_iv(st->iv, 0, &st->counter);
    return OK(EVP_EncryptInit_ex2(st->cctx, st->cipher, secret32, st->iv, NULL) &&
              EVP_EncryptUpdate(st->cctx, st->out, &len, bench_data, (int)st->in_len) &&
              EVP_EncryptFinal_ex(st->cctx, st->out + len, &fin) &&
              EVP_CIPHER_CTX_ctrl(st->cctx, EVP_CTRL_GCM_GET_TAG, 16, st->sig));
}

/* DES3-CBC as an application new to EVP writes it: a context per message. */
CK_RV raw_des3(void *state)
{
    raw_state *st = state;
    int len, fin;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    CK_RV rv = OK(ctx && EVP_EncryptInit_ex2(ctx, st->cipher, des3_key, st->iv, NULL) &&
                  EVP_CIPHER_CTX_set_padding(ctx, 0) &&
                  EVP_EncryptUpdate(ctx, st->out, &len, bench_data, (int)st->in_len) &&
                  EVP_EncryptFinal_ex(ctx, st->out + len, &fin));
    EVP_CIPHER_CTX_free(ctx);
    return rv;
}

CK_RV raw_aes_keygen(void *state)
{
    raw_state *st = state;
    return OK(RAND_priv_bytes(st->out, 32));
}

CK_RV raw_ec_keygen(void *state)
{
    raw_state *st = state;
    EVP_PKEY *key = NULL;
    CK_RV rv = OK(EVP_PKEY_generate(st->gen, &key));
    EVP_PKEY_free(key);
    return rv;
}

/* softse derives its PIN key with PBKDF2-HMAC-SHA256 (docs/spec.md §7). */
CK_RV raw_login(void *state)
{
    raw_state *st = state;
    static const unsigned char salt[16] = "softse-bench-slt";
    return OK(PKCS5_PBKDF2_HMAC("1234", 4, salt, sizeof(salt), (int)bench_pin_kdf_iterations(),
                                EVP_sha256(), 32, st->out));
}

/* ---- raw OpenSSL, careful: contexts kept per key, random in blocks ------ */

bool raw_block_draw(raw_block *b, unsigned char *out, size_t len, bool secret)
{
    if (len > sizeof(b->bytes))
        return false;
    if (b->left < len) {
        if ((secret ? RAND_priv_bytes : RAND_bytes)(b->bytes, (int)sizeof(b->bytes)) != 1)
            return false;
        b->left = sizeof(b->bytes);
    }
    unsigned char *p = b->bytes + sizeof(b->bytes) - b->left;
    memcpy(out, p, len);
    OPENSSL_cleanse(p, len);
    b->left -= len;
    return true;
}

CK_RV careful_random(void *state)
{
    raw_state *st = state;
    return OK(raw_block_draw(&st->rnd, st->out, 32, false));
}

CK_RV careful_digest(void *state)
{
    raw_state *st = state;
    return OK(EVP_DigestInit_ex2(st->mdctx, st->md, NULL) &&
              EVP_DigestUpdate(st->mdctx, bench_data, st->in_len) &&
              EVP_DigestFinal_ex(st->mdctx, st->out, NULL));
}

/* The context keyed once; EVP_MAC_init without a key resets it. */
CK_RV careful_hmac(void *state)
{
    raw_state *st = state;
    size_t len;
    return OK(EVP_MAC_init(st->mctx, NULL, 0, NULL) &&
              EVP_MAC_update(st->mctx, bench_data, st->in_len) &&
              EVP_MAC_final(st->mctx, st->out, &len, sizeof(st->out)));
}

CK_RV careful_sign_hash(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    return OK(EVP_PKEY_sign(st->pctx, st->out, &len, bench_data, st->in_len));
}

CK_RV careful_verify_hash(void *state)
{
    raw_state *st = state;
    return OK(EVP_PKEY_verify(st->pctx, st->sig, st->sig_len, bench_data, st->in_len));
}

CK_RV careful_oaep(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    return OK(EVP_PKEY_encrypt(st->pctx, st->out, &len, bench_data, st->in_len));
}

/* A copy of the context set up once (key, digest, padding), used once:
 * EVP_MD_CTX_FLAG_FINALISE spares the final its own internal copy. */
CK_RV careful_digest_sign(void *state)
{
    raw_state *st = state;
    size_t len = sizeof(st->out);
    if (!st->tmpl) /* no copy for this key type: set up per call */
        return raw_digest_sign(state);
    if (!EVP_MD_CTX_copy_ex(st->mdctx, st->tmpl))
        return CKR_FUNCTION_FAILED;
    EVP_MD_CTX_set_flags(st->mdctx, EVP_MD_CTX_FLAG_FINALISE);
    return OK(EVP_DigestSign(st->mdctx, st->out, &len, bench_data, st->in_len));
}

/* The key schedule once; per message only the IV. */
CK_RV careful_cipher(void *state)
{
    raw_state *st = state;
    int len, fin;
    bool gcm = EVP_CIPHER_get_mode(st->cipher) == EVP_CIPH_GCM_MODE;
    if (gcm)
        next_iv(st->iv, 0, &st->counter);
    return OK(EVP_EncryptInit_ex2(st->cctx, NULL, NULL, st->iv, NULL) &&
              EVP_EncryptUpdate(st->cctx, st->out, &len, bench_data, (int)st->in_len) &&
              EVP_EncryptFinal_ex(st->cctx, st->out + len, &fin) &&
              (!gcm || EVP_CIPHER_CTX_ctrl(st->cctx, EVP_CTRL_GCM_GET_TAG, 16, st->sig)));
}

CK_RV careful_aes_keygen(void *state)
{
    raw_state *st = state;
    return OK(raw_block_draw(&st->rnd, st->out, 32, true));
}

/* Set-ups of the kept contexts. */
static bool keep_hmac(raw_state *st)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    return (st->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) && (st->mctx = EVP_MAC_CTX_new(st->mac)) &&
           EVP_MAC_init(st->mctx, secret32, sizeof(secret32), params);
}

static bool keep_pkey_ctx(raw_state *st, int (*init)(EVP_PKEY_CTX *))
{
    return st->pkey && (st->pctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->pkey, NULL)) &&
           init(st->pctx) > 0;
}

static bool keep_sign_template(raw_state *st)
{
    EVP_PKEY_CTX *pctx = NULL;
    bool ok = st->pkey && (st->tmpl = EVP_MD_CTX_new()) && (st->mdctx = EVP_MD_CTX_new()) &&
              EVP_DigestSignInit_ex(st->tmpl, &pctx, st->md_name, NULL, NULL, st->pkey, NULL);
    if (ok && st->padding == RSA_PKCS1_PSS_PADDING)
        ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, 32) > 0 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, "SHA256", NULL) > 0;
    if (ok && !EVP_MD_CTX_copy_ex(st->mdctx, st->tmpl)) { /* Ed25519 on OpenSSL 3.0 */
        EVP_MD_CTX_free(st->tmpl);
        st->tmpl = NULL;
        ERR_clear_error();
    }
    return ok;
}

static bool keep_cipher(raw_state *st, const char *name, const unsigned char *key)
{
    return (st->cipher = EVP_CIPHER_fetch(NULL, name, NULL)) && (st->cctx = EVP_CIPHER_CTX_new()) &&
           EVP_EncryptInit_ex2(st->cctx, st->cipher, key, NULL, NULL);
}

#define RAW_INIT(fname, in_len, ...)                                                               \
    CK_RV fname(void **state)                                                                      \
    {                                                                                              \
        raw_state *st;                                                                             \
        CK_RV rv = raw_new((in_len), &st);                                                         \
        if (rv != CKR_OK)                                                                          \
            return rv;                                                                             \
        __VA_ARGS__;                                                                               \
        if (rv != CKR_OK) {                                                                        \
            bench_state_free(st);                                                                  \
            return rv;                                                                             \
        }                                                                                          \
        *state = st;                                                                               \
        return CKR_OK;                                                                             \
    }

#define NEED(expr) rv = (expr) ? CKR_OK : CKR_FUNCTION_FAILED

RAW_INIT(raw_init_plain, 32, (void)0)
RAW_INIT(raw_init_sha256_64, 64, NEED(st->md = EVP_MD_fetch(NULL, "SHA256", NULL)))
RAW_INIT(raw_init_sha256_1k, 1024, NEED(st->md = EVP_MD_fetch(NULL, "SHA256", NULL)))
RAW_INIT(raw_init_hmac, 64, NEED(st->mac = EVP_MAC_fetch(NULL, "HMAC", NULL)))
RAW_INIT(raw_init_ecdsa, 32, NEED(st->pkey = raw_key(&raw_ec, "EC")))
RAW_INIT(raw_init_ecdsa_sha256, 64, {
    NEED(st->pkey = raw_key(&raw_ec, "EC"));
    st->md_name = "SHA256";
})
RAW_INIT(raw_init_ecdsa_verify, 32, {
    NEED(st->pkey = raw_key(&raw_ec, "EC"));
    if (rv == CKR_OK) {
        st->sig_len = sizeof(st->sig);
        EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, st->pkey, NULL);
        NEED(ctx && EVP_PKEY_sign_init(ctx) &&
             EVP_PKEY_sign(ctx, st->sig, &st->sig_len, bench_data, 32));
        EVP_PKEY_CTX_free(ctx);
    }
})
RAW_INIT(raw_init_eddsa, 64, NEED(st->pkey = raw_key(&raw_ed, "ED25519")))
RAW_INIT(raw_init_rsa_pkcs, 64, {
    NEED(st->pkey = raw_key(&raw_rsa, "RSA"));
    st->md_name = "SHA256";
})
RAW_INIT(raw_init_rsa_pss, 64, {
    NEED(st->pkey = raw_key(&raw_rsa, "RSA"));
    st->md_name = "SHA256";
    st->padding = RSA_PKCS1_PSS_PADDING;
})
RAW_INIT(raw_init_rsa_oaep, 32, NEED(st->pkey = raw_key(&raw_rsa, "RSA")))
RAW_INIT(raw_init_gcm_1k, 1024, {
    NEED((st->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) &&
         (st->cctx = EVP_CIPHER_CTX_new()));
})
RAW_INIT(raw_init_gcm_64k, 64 * 1024, {
    NEED((st->cipher = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) &&
         (st->cctx = EVP_CIPHER_CTX_new()));
})
RAW_INIT(raw_init_ec_keygen, 0, {
    NEED((st->gen = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) &&
         EVP_PKEY_keygen_init(st->gen) > 0 && EVP_PKEY_CTX_set_group_name(st->gen, "P-256") > 0);
})

/* The careful side's set-ups (bench.h): what an application keeps. */
RAW_INIT(careful_init_plain, 32, (void)0)
RAW_INIT(careful_init_sha256_64, 64,
         NEED((st->md = EVP_MD_fetch(NULL, "SHA256", NULL)) && (st->mdctx = EVP_MD_CTX_new())))
RAW_INIT(careful_init_sha256_1k, 1024,
         NEED((st->md = EVP_MD_fetch(NULL, "SHA256", NULL)) && (st->mdctx = EVP_MD_CTX_new())))
RAW_INIT(careful_init_hmac, 64, NEED(keep_hmac(st)))
RAW_INIT(careful_init_ecdsa, 32, {
    st->pkey = raw_key(&raw_ec, "EC");
    NEED(keep_pkey_ctx(st, EVP_PKEY_sign_init));
})
RAW_INIT(careful_init_ecdsa_verify, 32, {
    st->pkey = raw_key(&raw_ec, "EC");
    st->sig_len = sizeof(st->sig);
    NEED(keep_pkey_ctx(st, EVP_PKEY_sign_init) &&
         EVP_PKEY_sign(st->pctx, st->sig, &st->sig_len, bench_data, 32) > 0 &&
         EVP_PKEY_verify_init(st->pctx) > 0);
})
RAW_INIT(careful_init_ecdsa_sha256, 64, {
    st->pkey = raw_key(&raw_ec, "EC");
    st->md_name = "SHA256";
    NEED(keep_sign_template(st));
})
RAW_INIT(careful_init_eddsa, 64, {
    st->pkey = raw_key(&raw_ed, "ED25519");
    NEED(keep_sign_template(st));
})
RAW_INIT(careful_init_rsa_pkcs, 64, {
    st->pkey = raw_key(&raw_rsa, "RSA");
    st->md_name = "SHA256";
    NEED(keep_sign_template(st));
})
RAW_INIT(careful_init_rsa1024, 64, {
    st->pkey = raw_key(&raw_rsa1024, "RSA1024");
    st->md_name = "SHA256";
    NEED(keep_sign_template(st));
})
RAW_INIT(careful_init_rsa_pss, 64, {
    st->pkey = raw_key(&raw_rsa, "RSA");
    st->md_name = "SHA256";
    st->padding = RSA_PKCS1_PSS_PADDING;
    NEED(keep_sign_template(st));
})
RAW_INIT(careful_init_rsa_oaep, 32, {
    st->pkey = raw_key(&raw_rsa, "RSA");
    NEED(keep_pkey_ctx(st, EVP_PKEY_encrypt_init) &&
         EVP_PKEY_CTX_set_rsa_padding(st->pctx, RSA_PKCS1_OAEP_PADDING) > 0 &&
         EVP_PKEY_CTX_set_rsa_oaep_md_name(st->pctx, "SHA256", NULL) > 0 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md_name(st->pctx, "SHA256", NULL) > 0);
})
RAW_INIT(careful_init_gcm_1k, 1024, NEED(keep_cipher(st, "AES-256-GCM", secret32)))
RAW_INIT(careful_init_gcm_64k, 64 * 1024, NEED(keep_cipher(st, "AES-256-GCM", secret32)))
RAW_INIT(careful_init_des3_1k, 1024, {
    NEED(keep_cipher(st, "DES-EDE3-CBC", des3_key) && EVP_CIPHER_CTX_set_padding(st->cctx, 0));
})
RAW_INIT(raw_init_rsa1024, 64, {
    NEED(st->pkey = raw_key(&raw_rsa1024, "RSA1024"));
    st->md_name = "SHA256";
})
RAW_INIT(naive_init_des3_1k, 1024, NEED(st->cipher = EVP_CIPHER_fetch(NULL, "DES-EDE3-CBC", NULL)))
