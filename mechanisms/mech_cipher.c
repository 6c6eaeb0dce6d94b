/*
 * mech_cipher.c — AES (ECB, CBC, CBC_PAD, CTR, GCM) and RSA (PKCS #1 v1.5,
 * OAEP) encryption, and C_WrapKey/C_UnwrapKey of key bytes through
 * AES-GCM, AES-CBC_PAD and RSA-OAEP.  ECB, CBC, CBC_PAD and the wrapping
 * are mech_block.c's, and CMAC mech_sign.c's, for AES as mech_block_aes
 * here describes it.
 *
 * The AES EVP_CIPHERs are fetched once per process: an implicit fetch
 * (EVP_aes_256_gcm()) would look the algorithm up again on every
 * C_EncryptInit.  Each operation owns one EVP_CIPHER_CTX.
 */
#include "mech.h"
#include "mech_block.h"
#include "mech_util.h"
#include "param.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define AES_BLOCK 16
#define GCM_IV_DEFAULT 12   /* SP 800-38D §8.2: 96 bits */
#define GCM_IV_MAX 128      /* OpenSSL's GCM provider refuses longer IVs */
#define EVP_CHUNK (1 << 30) /* EVP_CipherUpdate takes an int length; a block multiple */

__extension__ typedef unsigned __int128 u128;
#define U128_MAX (~(u128)0)

/* ---- AES ------------------------------------------------------------------ */

enum aes_mode { AES_MODE_ECB, AES_MODE_CBC, AES_MODE_CTR, AES_MODE_GCM, AES_MODE_COUNT };

static const char *const aes_names[AES_MODE_COUNT][3] = {
    {"AES-128-ECB", "AES-192-ECB", "AES-256-ECB"},
    {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"},
    {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"},
    {"AES-128-GCM", "AES-192-GCM", "AES-256-GCM"},
};
static EVP_CIPHER *aes_ciphers[AES_MODE_COUNT][3]; /* until C_Finalize (mech_once) */

static void aes_fetch_all(void)
{
    for (int mode = 0; mode < AES_MODE_COUNT; mode++)
        for (int size = 0; size < 3; size++)
            aes_ciphers[mode][size] = EVP_CIPHER_fetch(NULL, aes_names[mode][size], NULL);
    ERR_clear_error();
}

static void aes_free_all(void)
{
    for (int mode = 0; mode < AES_MODE_COUNT; mode++)
        for (int size = 0; size < 3; size++) {
            EVP_CIPHER_free(aes_ciphers[mode][size]);
            aes_ciphers[mode][size] = NULL;
        }
}

static mech_once aes_once = MECH_ONCE_INIT(aes_fetch_all, aes_free_all);

static const EVP_CIPHER *aes_cipher(enum aes_mode mode, size_t key_len)
{
    if (!mech_once_run(&aes_once))
        return NULL;
    return aes_ciphers[mode][(key_len - 16) / 8];
}

static CK_RV aes_check_key(const mech_key *key)
{
    if (!key || key->type != CKK_AES || !key->secret)
        return CKR_KEY_TYPE_INCONSISTENT;
    if (key->secret_len != 16 && key->secret_len != 24 && key->secret_len != 32)
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}

/* CKM_AES_CTR: the counter is the low ulCounterBits of the counter block
 * and wraps inside them (PKCS#11 3.0, "AES with Counter"), whereas
 * OpenSSL carries into the whole block.  So the stream is restarted with a
 * zero counter field where the field wraps, and data that would reuse a
 * counter value (more than 2^bits blocks) is refused with
 * CKR_DATA_LEN_RANGE. */
typedef struct ctr_state {
    unsigned char wrapped[AES_BLOCK]; /* the block with its counter field zeroed */
    u128 offset;                      /* bytes processed */
    u128 wrap_at;                     /* offset where the counter field wraps */
    u128 limit;                       /* bytes before a counter value repeats */
} ctr_state;

typedef struct aes_op {
    EVP_CIPHER_CTX *ctx;
    CK_MECHANISM_TYPE type;
    bool encrypt;
    size_t tag_len;      /* GCM */
    unsigned char *held; /* GCM decrypt: ciphertext ‖ tag, opened at final */
    size_t held_len, held_cap;
    ctr_state ctr;
} aes_op;

static CK_RV ctr_setup(ctr_state *ctr, const CK_AES_CTR_PARAMS *params)
{
    CK_ULONG bits = params->ulCounterBits;
    if (bits < 1 || bits > 128)
        return CKR_MECHANISM_PARAM_INVALID;
    u128 value = 0;
    for (int i = 0; i < AES_BLOCK; i++)
        value = value << 8 | params->cb[i];
    memcpy(ctr->wrapped, params->cb, AES_BLOCK);
    CK_ULONG clear = bits;
    for (int i = AES_BLOCK - 1; clear > 0; i--, clear -= clear >= 8 ? 8 : clear)
        ctr->wrapped[i] &= clear >= 8 ? 0 : (unsigned char)(0xff << clear);
    ctr->offset = 0;
    ctr->wrap_at = ctr->limit = U128_MAX; /* beyond any size_t length */
    if (bits < 128) {
        u128 field = (u128)1 << bits, blocks = field - (value & (field - 1));
        if (blocks <= U128_MAX / AES_BLOCK)
            ctr->wrap_at = blocks * AES_BLOCK;
        if (field <= U128_MAX / AES_BLOCK)
            ctr->limit = field * AES_BLOCK;
    }
    return CKR_OK;
}

static CK_RV ctr_update(aes_op *op, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    ctr_state *ctr = &op->ctr;
    if (in_len > ctr->limit - ctr->offset)
        return CKR_DATA_LEN_RANGE;
    size_t total = 0;
    while (in_len > 0) {
        size_t chunk = in_len, n;
        if (ctr->offset < ctr->wrap_at && ctr->wrap_at - ctr->offset < chunk)
            chunk = (size_t)(ctr->wrap_at - ctr->offset);
        CK_RV rv = mech_cipher_update(op->ctx, out + total, &n, in, chunk, "AES");
        if (rv != CKR_OK)
            return rv;
        ctr->offset += chunk;
        if (ctr->offset == ctr->wrap_at &&
            !EVP_CipherInit_ex2(op->ctx, NULL, NULL, ctr->wrapped, -1, NULL))
            return mech_openssl_error("AES-CTR counter wrap", CKR_FUNCTION_FAILED);
        total += n;
        in += chunk;
        in_len -= chunk;
    }
    *out_len = total;
    return CKR_OK;
}

static bool gcm_tag_bits_valid(CK_ULONG bits)
{
    /* NIST SP 800-38D §5.2.1.2: 128, 120, 112, 104, 96, and 64 or 32 for
     * some applications. */
    return bits == 32 || bits == 64 || (bits >= 96 && bits <= 128 && bits % 8 == 0);
}

/* Parses the mechanism's parameter (CTR's counter block, GCM's IV, AAD
 * and tag) and keys the context. */
static CK_RV aes_setup(aes_op *op, const CK_MECHANISM *mech, const mech_key *key)
{
    enum aes_mode mode;
    const unsigned char *iv = NULL;
    size_t iv_len = 0;
    const CK_GCM_PARAMS_V3 *gcm = NULL;

    switch (mech->mechanism) {
    case CKM_AES_CTR: {
        const CK_AES_CTR_PARAMS *ctr = se_param_struct(mech, sizeof(*ctr));
        if (!ctr || ctr_setup(&op->ctr, ctr) != CKR_OK)
            return CKR_MECHANISM_PARAM_INVALID;
        iv = ctr->cb;
        mode = AES_MODE_CTR;
        break;
    }
    case CKM_AES_GCM:
        /* ulIvBits is informative only (PKCS#11 3.0, "AES-GCM"): ulIvLen rules. */
        gcm = se_param_struct(mech, sizeof(*gcm));
        if (!gcm || !gcm->pIv || gcm->ulIvLen < 1 || gcm->ulIvLen > GCM_IV_MAX ||
            (gcm->ulAADLen > 0 && !gcm->pAAD) || !gcm_tag_bits_valid(gcm->ulTagBits))
            return CKR_MECHANISM_PARAM_INVALID;
        iv = gcm->pIv;
        iv_len = gcm->ulIvLen;
        op->tag_len = gcm->ulTagBits / 8;
        mode = AES_MODE_GCM;
        break;
    default:
        return CKR_MECHANISM_INVALID;
    }

    const EVP_CIPHER *cipher = aes_cipher(mode, key->secret_len);
    if (!cipher)
        return CKR_FUNCTION_FAILED;
    int enc = op->encrypt ? 1 : 0;
    if (mode == AES_MODE_GCM) {
        /* The IV length must be set before the IV; 12 bytes is the default
         * and saves an init. */
        if (iv_len != GCM_IV_DEFAULT) {
            if (!EVP_CipherInit_ex2(op->ctx, cipher, NULL, NULL, enc, NULL) ||
                EVP_CIPHER_CTX_ctrl(op->ctx, EVP_CTRL_GCM_SET_IVLEN, (int)iv_len, NULL) <= 0)
                return mech_openssl_error("AES-GCM init", CKR_FUNCTION_FAILED);
            cipher = NULL; /* passing it again would reset the IV length */
        }
        if (!EVP_CipherInit_ex2(op->ctx, cipher, key->secret, iv, enc, NULL))
            return mech_openssl_error("AES-GCM key", CKR_FUNCTION_FAILED);
        const unsigned char *aad = gcm->pAAD;
        for (size_t left = gcm->ulAADLen; left > 0;) {
            int chunk = left > EVP_CHUNK ? EVP_CHUNK : (int)left, n;
            if (!EVP_CipherUpdate(op->ctx, NULL, &n, aad, chunk))
                return mech_openssl_error("AES-GCM AAD", CKR_FUNCTION_FAILED);
            aad += chunk;
            left -= (size_t)chunk;
        }
        return CKR_OK;
    }
    if (!EVP_CipherInit_ex2(op->ctx, cipher, key->secret, iv, enc, NULL))
        return mech_openssl_error("AES init", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

static void aes_free(void *state)
{
    aes_op *op = state;
    if (!op)
        return;
    EVP_CIPHER_CTX_free(op->ctx); /* cleanses the key schedule */
    free(op->held);
    OPENSSL_cleanse(op, sizeof(*op));
    free(op);
}

static CK_RV aes_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                      const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_ENCRYPT && kind != MECH_DECRYPT)
        return CKR_MECHANISM_INVALID;
    CK_RV rv = aes_check_key(key);
    if (rv != CKR_OK)
        return rv;
    aes_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->ctx = EVP_CIPHER_CTX_new())) {
        free(op);
        return CKR_HOST_MEMORY;
    }
    op->type = mech->mechanism;
    op->encrypt = kind == MECH_ENCRYPT;
    rv = aes_setup(op, mech, key);
    if (rv != CKR_OK) {
        aes_free(op);
        return rv;
    }
    *state = op;
    return CKR_OK;
}

static CK_RV aes_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    aes_op *op = state;
    if (op->type == CKM_AES_CTR) {
        *out_len = phase == MECH_PHASE_FINAL ? 0 : in_len;
    } else if (op->encrypt) { /* GCM */
        if (phase == MECH_PHASE_UPDATE)
            *out_len = in_len;
        else if (phase == MECH_PHASE_FINAL)
            *out_len = op->tag_len;
        else if (in_len > SIZE_MAX - op->tag_len)
            return CKR_DATA_LEN_RANGE;
        else
            *out_len = in_len + op->tag_len;
    } else {
        /* GCM decrypt releases plaintext only at final, after the tag
         * verifies (PKCS#11 3.0, "AES-GCM": an AEAD returns no data
         * before C_DecryptFinal). */
        size_t sealed = phase == MECH_PHASE_FINAL ? op->held_len : in_len;
        *out_len = phase == MECH_PHASE_UPDATE || sealed < op->tag_len ? 0 : sealed - op->tag_len;
    }
    return CKR_OK;
}

static CK_RV gcm_hold(aes_op *op, const unsigned char *in, size_t in_len)
{
    if (in_len > SIZE_MAX - op->held_len)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t need = op->held_len + in_len;
    if (need > op->held_cap) {
        size_t cap = op->held_cap > 0 ? op->held_cap : 256;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        unsigned char *held = realloc(op->held, cap); /* ciphertext: nothing to cleanse */
        if (!held)
            return CKR_HOST_MEMORY;
        op->held = held;
        op->held_cap = cap;
    }
    if (in_len > 0) /* an empty part may come with a NULL pointer */
        memcpy(op->held + op->held_len, in, in_len);
    op->held_len = need;
    return CKR_OK;
}

/* Decrypts ciphertext ‖ tag; on a tag mismatch no plaintext remains in out. */
static CK_RV gcm_open(aes_op *op, const unsigned char *in, size_t in_len, unsigned char *out,
                      size_t *out_len)
{
    if (in_len < op->tag_len)
        return CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t ct_len = in_len - op->tag_len, n = 0;
    unsigned char none[AES_BLOCK];
    int fin = 0;
    CK_RV rv = mech_cipher_update(op->ctx, out, &n, in, ct_len, "AES");
    if (rv == CKR_OK) {
        if (EVP_CIPHER_CTX_ctrl(op->ctx, EVP_CTRL_GCM_SET_TAG, (int)op->tag_len,
                                (void *)(in + ct_len)) <= 0)
            rv = mech_openssl_error("AES-GCM tag", CKR_FUNCTION_FAILED);
        else if (!EVP_DecryptFinal_ex(op->ctx, out ? out + n : none, &fin))
            rv = mech_openssl_error("AES-GCM open", CKR_ENCRYPTED_DATA_INVALID);
    }
    if (rv != CKR_OK) {
        if (out)
            OPENSSL_cleanse(out, ct_len);
        *out_len = 0;
        return rv;
    }
    *out_len = n + (size_t)fin;
    return CKR_OK;
}

static CK_RV aes_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    aes_op *op = state;
    unsigned char none[AES_BLOCK];
    if (!out)
        out = none; /* out_size was 0: EVP writes nothing */
    *out_len = 0;
    if (op->type == CKM_AES_GCM && !op->encrypt)
        return gcm_hold(op, in, in_len);
    if (op->type == CKM_AES_CTR)
        return ctr_update(op, in, in_len, out, out_len);
    return mech_cipher_update(op->ctx, out, out_len, in, in_len, "AES"); /* GCM encrypt */
}

static CK_RV aes_final(void *state, unsigned char *out, size_t *out_len)
{
    aes_op *op = state;
    unsigned char none[AES_BLOCK];
    int n = 0;
    *out_len = 0;
    if (op->type == CKM_AES_CTR)
        return CKR_OK; /* nothing held back */
    if (!op->encrypt)
        return gcm_open(op, op->held, op->held_len, out, out_len);
    if (!EVP_EncryptFinal_ex(op->ctx, out ? out : none, &n) ||
        EVP_CIPHER_CTX_ctrl(op->ctx, EVP_CTRL_GCM_GET_TAG, (int)op->tag_len, out + n) <= 0)
        return mech_openssl_error("AES-GCM seal", CKR_FUNCTION_FAILED);
    *out_len = (size_t)n + op->tag_len;
    return CKR_OK;
}

static CK_RV aes_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    aes_op *op = state;
    *out_len = 0;
    if (op->type == CKM_AES_GCM && !op->encrypt)
        return gcm_open(op, in, in_len, out, out_len); /* no copy into the hold buffer */

    size_t head = 0, tail = 0;
    CK_RV rv = aes_update(op, in, in_len, out, &head);
    if (rv == CKR_OK)
        rv = aes_final(op, out ? out + head : NULL, &tail);
    if (rv != CKR_OK) {
        if (out && !op->encrypt)
            OPENSSL_cleanse(out, head); /* bad padding: release nothing */
        return rv;
    }
    *out_len = head + tail;
    return CKR_OK;
}

static const mech_ops aes_ops = {
    .init = aes_init,
    .out_size = aes_out_size,
    .update = aes_update,
    .final = aes_final,
    .oneshot = aes_oneshot,
    .free = aes_free,
};

/* ---- RSA ------------------------------------------------------------------ */

#define RSA_MIN_BITS 1024
#define RSA_MAX_BITS 4096
#define PKCS1_V15_OVERHEAD 11 /* RFC 8017 §7.2.1 */

typedef struct rsa_op {
    EVP_PKEY_CTX *pctx;
    bool encrypt;
    size_t modulus_len;
    size_t max_plain; /* RFC 8017 §7.1.1 / §7.2.1 message length limits */
} rsa_op;

static void rsa_free(void *state)
{
    rsa_op *op = state;
    if (!op)
        return;
    EVP_PKEY_CTX_free(op->pctx);
    free(op);
}

/* OAEP: hash, MGF1 hash (may differ) and label (CK_RSA_PKCS_OAEP_PARAMS);
 * the hashes are those of the hash table offered for OAEP (mech_hash.h). */
static CK_RV rsa_set_oaep(rsa_op *op, const CK_MECHANISM *mech)
{
    const CK_RSA_PKCS_OAEP_PARAMS *p = se_param_struct(mech, sizeof(*p));
    if (!p || (p->ulSourceDataLen > 0 && !p->pSourceData) || p->ulSourceDataLen > INT_MAX)
        return CKR_MECHANISM_PARAM_INVALID;
    /* CKZ_DATA_SPECIFIED is the only source defined; source 0 with no
     * label is what pkcs11-tool 0.23 sends for "no label", and means it. */
    bool no_label = p->ulSourceDataLen == 0;
    if (p->source != CKZ_DATA_SPECIFIED && !(p->source == 0 && no_label))
        return CKR_MECHANISM_PARAM_INVALID;
    const mech_hash *hash = mech_hash_find(MECH_HASH_BY_MECH, p->hashAlg, MECH_HASH_OAEP);
    const mech_hash *mgf = mech_hash_find(MECH_HASH_BY_MGF1, p->mgf, MECH_HASH_OAEP);
    if (!hash || !mgf)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!mech_hash_evp(hash))
        return mech_openssl_error("OAEP hash", CKR_FUNCTION_FAILED);
    if (op->modulus_len < 2 * hash->len + 2)
        return CKR_KEY_SIZE_RANGE; /* no room for any message */
    op->max_plain = op->modulus_len - 2 * hash->len - 2;

    if (EVP_PKEY_CTX_set_rsa_padding(op->pctx, RSA_PKCS1_OAEP_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_rsa_oaep_md_name(op->pctx, hash->md_name, NULL) <= 0 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md_name(op->pctx, mgf->md_name, NULL) <= 0)
        return mech_openssl_error("OAEP parameters", CKR_FUNCTION_FAILED);
    if (p->ulSourceDataLen > 0) {
        void *label = OPENSSL_memdup(p->pSourceData, p->ulSourceDataLen);
        if (!label)
            return CKR_HOST_MEMORY;
        if (EVP_PKEY_CTX_set0_rsa_oaep_label(op->pctx, label, (int)p->ulSourceDataLen) <= 0) {
            OPENSSL_free(label);
            return mech_openssl_error("OAEP label", CKR_FUNCTION_FAILED);
        }
    }
    return CKR_OK;
}

static CK_RV rsa_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                      const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_ENCRYPT && kind != MECH_DECRYPT)
        return CKR_MECHANISM_INVALID;
    bool oaep = mech->mechanism == CKM_RSA_PKCS_OAEP;
    if (!oaep && mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    if (!key || key->type != CKK_RSA || !key->pkey || !EVP_PKEY_is_a(key->pkey, "RSA"))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (kind == MECH_DECRYPT && key->cls != CKO_PRIVATE_KEY)
        return CKR_KEY_TYPE_INCONSISTENT;
    int bits = EVP_PKEY_get_bits(key->pkey);
    if (bits < 0 || (CK_ULONG)bits < mech_rsa_min_bits() || bits > RSA_MAX_BITS) /* mech.h */
        return CKR_KEY_SIZE_RANGE;

    rsa_op *op = calloc(1, sizeof(*op));
    if (!op)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    op->encrypt = kind == MECH_ENCRYPT;
    op->modulus_len = (size_t)EVP_PKEY_get_size(key->pkey);
    op->max_plain = op->modulus_len - PKCS1_V15_OVERHEAD;
    op->pctx = mech_key_ctx(key, op->encrypt ? CKA_ENCRYPT : CKA_DECRYPT); /* holds a reference */
    if (!op->pctx) {
        rv = mech_openssl_error("RSA encryption init", CKR_KEY_TYPE_INCONSISTENT);
        goto out;
    }
    if (oaep)
        rv = rsa_set_oaep(op, mech);
    else if (EVP_PKEY_CTX_set_rsa_padding(op->pctx, RSA_PKCS1_PADDING) <= 0)
        rv = mech_openssl_error("RSA PKCS #1 padding", CKR_FUNCTION_FAILED);
out:
    if (rv != CKR_OK)
        rsa_free(op);
    else
        *state = op;
    return rv;
}

static CK_RV rsa_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    rsa_op *op = state;
    (void)phase;
    (void)in_len;
    *out_len = op->modulus_len; /* decrypt: the maximum; OpenSSL needs the full size */
    return CKR_OK;
}

static CK_RV rsa_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    rsa_op *op = state;
    size_t n = op->modulus_len;
    if (op->encrypt) {
        if (in_len > op->max_plain)
            return CKR_DATA_LEN_RANGE;
        if (EVP_PKEY_encrypt(op->pctx, out, &n, in, in_len) <= 0)
            return mech_openssl_error("RSA encryption", CKR_FUNCTION_FAILED);
    } else {
        if (in_len != op->modulus_len)
            return CKR_ENCRYPTED_DATA_LEN_RANGE;
        if (EVP_PKEY_decrypt(op->pctx, out, &n, in, in_len) <= 0)
            return mech_openssl_error("RSA decryption", CKR_ENCRYPTED_DATA_INVALID);
    }
    *out_len = n;
    return CKR_OK;
}

static const mech_ops rsa_ops = {
    .init = rsa_init,
    .out_size = rsa_out_size,
    /* single-part: the core refuses C_*Update and C_*Final for these rows */
    .oneshot = rsa_oneshot,
    .free = rsa_free,
};

/* ---- ECB, CBC, CBC_PAD (mech_block.c) -------------------------------------- */

static const EVP_CIPHER *aes_block_evp(bool cbc, const mech_key *key)
{
    return aes_cipher(cbc ? AES_MODE_CBC : AES_MODE_ECB, key->secret_len);
}

static const char *aes_cbc_name(const mech_key *key)
{
    return aes_names[AES_MODE_CBC][(key->secret_len - 16) / 8];
}

const mech_block_cipher mech_block_aes = {
    .label = "AES",
    .block = AES_BLOCK,
    .ecb = CKM_AES_ECB,
    .cbc = CKM_AES_CBC,
    .cbc_pad = CKM_AES_CBC_PAD,
    .cmac = CKM_AES_CMAC, /* its row: mech_sign.c */
    .cmac_general = CK_UNAVAILABLE_INFORMATION,
    .check_key = aes_check_key,
    .evp = aes_block_evp,
    .cbc_name = aes_cbc_name,
};

static CK_RV aes_block_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                            const mech_env *env, void **state)
{
    (void)env;
    return mech_block_init(&mech_block_aes, mech, key, kind, state);
}

static const mech_ops aes_block_ops = MECH_BLOCK_OPS(aes_block_init);

/* ---- C_WrapKey / C_UnwrapKey: through the row's own encryption --------------- */

MECH_WRAP_BY(aes_block, &aes_block_ops)
MECH_WRAP_BY(aes, &aes_ops)
MECH_WRAP_BY(rsa, &rsa_ops)

/* ---- rows ----------------------------------------------------------------- */

#define CRYPT (CKF_ENCRYPT | CKF_DECRYPT)
#define CRYPT_WRAP (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP)

static const mech_row rows[] = {
    {.type = CKM_AES_ECB,
     .name = "AES-ECB",
     .info = {16, 32, CRYPT},
     .multipart = true,
     .ops = &aes_block_ops},
    {.type = CKM_AES_CBC,
     .name = "AES-CBC",
     .info = {16, 32, CRYPT},
     .multipart = true,
     .ops = &aes_block_ops},
    {.type = CKM_AES_CBC_PAD,
     .name = "AES-CBC-PAD",
     .info = {16, 32, CRYPT_WRAP},
     .multipart = true,
     .ops = &aes_block_ops,
     .wrap = aes_block_wrap,
     .unwrap = aes_block_unwrap},
    {.type = CKM_AES_CTR,
     .name = "AES-CTR",
     .info = {16, 32, CRYPT},
     .multipart = true,
     .ops = &aes_ops},
    {.type = CKM_AES_GCM,
     .name = "AES-GCM",
     .info = {16, 32, CRYPT_WRAP},
     .multipart = true,
     .ops = &aes_ops,
     .wrap = aes_wrap,
     .unwrap = aes_unwrap},
    {.type = CKM_RSA_PKCS_OAEP,
     .name = "RSA-PKCS-OAEP",
     .info = {RSA_MIN_BITS, RSA_MAX_BITS, CRYPT_WRAP},
     .ops = &rsa_ops,
     .wrap = rsa_wrap,
     .unwrap = rsa_unwrap,
     .rsa_sized = true},
    {.type = CKM_RSA_PKCS,
     .name = "RSA-PKCS",
     .info = {RSA_MIN_BITS, RSA_MAX_BITS, CRYPT},
     .ops = &rsa_ops,
     .rsa_sized = true},
};

const mech_table mech_table_cipher = {rows, ARRAY_SIZE(rows)};
