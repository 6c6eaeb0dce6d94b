/*
 * mech_block.c — ECB, CBC and CBC_PAD over any block cipher of a
 * mech_block_cipher (AES, DES-EDE3), key wrapping through a row's
 * single-part encryption, and the MAC helpers of the block-cipher MACs
 * (mech_block.h).
 *
 * CBC_PAD is PKCS #7 padding (EVP's); ECB and CBC take whole blocks only.
 * An operation owns one EVP_CIPHER_CTX.
 */
#include "mech_block.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EVP_CHUNK (1 << 30) /* EVP_CipherUpdate takes an int length; a block multiple */
#define BLOCK_MAX 16        /* the largest block (AES) */

CK_RV mech_cipher_update(EVP_CIPHER_CTX *ctx, unsigned char *out, size_t *out_len,
                         const unsigned char *in, size_t in_len, const char *label)
{
    size_t total = 0;
    while (in_len > 0) {
        int chunk = in_len > EVP_CHUNK ? EVP_CHUNK : (int)in_len;
        int n = 0;
        if (!EVP_CipherUpdate(ctx, out + total, &n, in, chunk)) {
            char what[32];
            snprintf(what, sizeof(what), "%s update", label);
            return mech_openssl_error(what, CKR_FUNCTION_FAILED);
        }
        total += (size_t)n;
        in += chunk;
        in_len -= (size_t)chunk;
    }
    *out_len = total;
    return CKR_OK;
}

CK_RV mech_mac_general_len(const CK_MECHANISM *mech, size_t block, size_t *len)
{
    if (!mech->pParameter || mech->ulParameterLen != sizeof(CK_MAC_GENERAL_PARAMS))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_MAC_GENERAL_PARAMS asked = *(const CK_MAC_GENERAL_PARAMS *)mech->pParameter;
    if (asked < 1 || asked > block)
        return CKR_MECHANISM_PARAM_INVALID;
    *len = asked;
    return CKR_OK;
}

CK_RV mech_mac_final(mech_mac_whole whole, void *state, size_t mac_len, unsigned char *out,
                     size_t *out_len)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    CK_RV rv = whole(state, mac);
    if (rv == CKR_OK) {
        memcpy(out, mac, mac_len);
        *out_len = mac_len;
    }
    OPENSSL_cleanse(mac, sizeof(mac));
    return rv;
}

CK_RV mech_mac_verify(mech_mac_whole whole, void *state, size_t mac_len, const unsigned char *sig,
                      size_t sig_len)
{
    if (sig_len != mac_len)
        return CKR_SIGNATURE_LEN_RANGE;
    unsigned char mac[EVP_MAX_MD_SIZE];
    CK_RV rv = whole(state, mac);
    if (rv == CKR_OK && CRYPTO_memcmp(mac, sig, sig_len) != 0)
        rv = CKR_SIGNATURE_INVALID;
    OPENSSL_cleanse(mac, sizeof(mac));
    return rv;
}

/* ---- ECB, CBC, CBC_PAD ------------------------------------------------------- */

typedef struct block_op {
    const mech_block_cipher *cipher;
    EVP_CIPHER_CTX *ctx;
    CK_MECHANISM_TYPE type;
    bool encrypt;
    size_t pending; /* bytes fed but not yet output */
} block_op;

/* Logs "<cipher> <step>" with OpenSSL's error; returns rv. */
static CK_RV block_error(const block_op *op, const char *step, CK_RV rv)
{
    char what[32];
    snprintf(what, sizeof(what), "%s %s", op->cipher->label, step);
    return mech_openssl_error(what, rv);
}

void mech_block_free(void *state)
{
    block_op *op = state;
    if (!op)
        return;
    EVP_CIPHER_CTX_free(op->ctx); /* cleanses the key schedule */
    OPENSSL_cleanse(op, sizeof(*op));
    free(op);
}

/* ECB: no parameter; CBC, CBC_PAD: an IV of one block.  Keys the context. */
static CK_RV block_setup(block_op *op, const CK_MECHANISM *mech, const mech_key *key)
{
    const mech_block_cipher *cipher = op->cipher;
    bool cbc = mech->mechanism != cipher->ecb;
    if (cbc ? !mech->pParameter || mech->ulParameterLen != cipher->block
            : mech->ulParameterLen != 0)
        return CKR_MECHANISM_PARAM_INVALID;
    const EVP_CIPHER *evp = cipher->evp(cbc, key);
    if (!evp)
        return CKR_FUNCTION_FAILED;
    unsigned char expanded[MECH_BLOCK_KEY_MAX];
    const unsigned char *evp_key = key->secret;
    if (cipher->evp_key) {
        cipher->evp_key(key, expanded);
        evp_key = expanded;
    }
    int ok = EVP_CipherInit_ex2(op->ctx, evp, evp_key, cbc ? mech->pParameter : NULL,
                                op->encrypt ? 1 : 0, NULL);
    OPENSSL_cleanse(expanded, sizeof(expanded));
    if (!ok)
        return block_error(op, "init", CKR_FUNCTION_FAILED);
    EVP_CIPHER_CTX_set_padding(op->ctx, mech->mechanism == cipher->cbc_pad);
    return CKR_OK;
}

CK_RV mech_block_init(const mech_block_cipher *cipher, const CK_MECHANISM *mech,
                      const mech_key *key, mech_op_kind kind, void **state)
{
    if (kind != MECH_ENCRYPT && kind != MECH_DECRYPT)
        return CKR_MECHANISM_INVALID;
    if (mech->mechanism != cipher->ecb && mech->mechanism != cipher->cbc &&
        mech->mechanism != cipher->cbc_pad)
        return CKR_MECHANISM_INVALID;
    CK_RV rv = cipher->check_key(key);
    if (rv != CKR_OK)
        return rv;
    block_op *op = calloc(1, sizeof(*op));
    if (!op || !(op->ctx = EVP_CIPHER_CTX_new())) {
        free(op);
        return CKR_HOST_MEMORY;
    }
    op->cipher = cipher;
    op->type = mech->mechanism;
    op->encrypt = kind == MECH_ENCRYPT;
    rv = block_setup(op, mech, key);
    if (rv != CKR_OK) {
        mech_block_free(op);
        return rv;
    }
    *state = op;
    return CKR_OK;
}

static size_t round_down_block(const block_op *op, size_t n)
{
    return n - n % op->cipher->block;
}

CK_RV mech_block_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    block_op *op = state;
    size_t block = op->cipher->block;
    CK_RV len_range = op->encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    size_t fed = op->pending + in_len;
    if (fed < in_len)
        return len_range;
    if (op->type == op->cipher->cbc_pad) {
        if (op->encrypt && phase != MECH_PHASE_UPDATE) {
            if (fed > SIZE_MAX - block)
                return CKR_DATA_LEN_RANGE;
            *out_len = round_down_block(op, fed) + block; /* 1..block bytes of padding */
            return CKR_OK;
        }
        if (!op->encrypt && phase == MECH_PHASE_ONESHOT && (fed == 0 || fed % block != 0))
            return CKR_ENCRYPTED_DATA_LEN_RANGE;
        /* Decrypt: at most what was fed, whole blocks (FINAL: the held-back one). */
        *out_len = phase == MECH_PHASE_FINAL ? op->pending : round_down_block(op, fed);
        return CKR_OK;
    }
    /* ECB, CBC: whole blocks, so a single part that is not is refused now. */
    if (phase == MECH_PHASE_ONESHOT && fed % block != 0)
        return len_range;
    *out_len = phase == MECH_PHASE_FINAL ? 0 : round_down_block(op, fed);
    return CKR_OK;
}

CK_RV mech_block_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    block_op *op = state;
    unsigned char none[BLOCK_MAX];
    if (!out)
        out = none; /* out_size was 0: EVP writes nothing */
    *out_len = 0;
    CK_RV rv = mech_cipher_update(op->ctx, out, out_len, in, in_len, op->cipher->label);
    if (rv == CKR_OK)
        op->pending = op->pending + in_len - *out_len;
    return rv;
}

CK_RV mech_block_final(void *state, unsigned char *out, size_t *out_len)
{
    block_op *op = state;
    unsigned char none[BLOCK_MAX];
    int n = 0;
    *out_len = 0;
    if (op->type == op->cipher->cbc_pad) {
        if (!op->encrypt && op->pending != op->cipher->block)
            return CKR_ENCRYPTED_DATA_LEN_RANGE;
    } else if (op->pending != 0) { /* ECB, CBC: no padding, so the data must be whole blocks */
        return op->encrypt ? CKR_DATA_LEN_RANGE : CKR_ENCRYPTED_DATA_LEN_RANGE;
    }
    if (!EVP_CipherFinal_ex(op->ctx, out ? out : none, &n)) /* decrypt: bad padding */
        return block_error(op, "final",
                           op->encrypt ? CKR_FUNCTION_FAILED : CKR_ENCRYPTED_DATA_INVALID);
    op->pending = 0;
    *out_len = (size_t)n;
    return CKR_OK;
}

CK_RV mech_block_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len)
{
    block_op *op = state;
    size_t probe = 0, head = 0, tail = 0;
    *out_len = 0;
    CK_RV rv = mech_block_out_size(op, MECH_PHASE_ONESHOT, in_len, &probe);
    if (rv == CKR_OK)
        rv = mech_block_update(op, in, in_len, out, &head);
    if (rv == CKR_OK)
        rv = mech_block_final(op, out ? out + head : NULL, &tail);
    if (rv != CKR_OK) {
        if (out && !op->encrypt)
            OPENSSL_cleanse(out, head); /* bad padding: release nothing */
        return rv;
    }
    *out_len = head + tail;
    return CKR_OK;
}

/* ---- C_WrapKey / C_UnwrapKey ------------------------------------------------- */

/* Wrapping is single-part encryption of the key bytes; the errors take
 * the names C_WrapKey and C_UnwrapKey return (PKCS#11 3.0 base
 * specification): the wrapping key's type and size, CKR_KEY_SIZE_RANGE for
 * a key too long to wrap (or, for ECB and CBC, not of whole blocks: softse
 * does not pad a key with zeros it could not tell from the key on
 * unwrap), CKR_WRAPPED_KEY_* for what cannot be unwrapped. */
static CK_RV wrap_error(CK_RV rv)
{
    switch (rv) {
    case CKR_KEY_TYPE_INCONSISTENT:
        return CKR_WRAPPING_KEY_TYPE_INCONSISTENT;
    case CKR_KEY_SIZE_RANGE:
        return CKR_WRAPPING_KEY_SIZE_RANGE;
    case CKR_DATA_LEN_RANGE:
        return CKR_KEY_SIZE_RANGE;
    default:
        return rv;
    }
}

static CK_RV unwrap_error(CK_RV rv)
{
    switch (rv) {
    case CKR_KEY_TYPE_INCONSISTENT:
        return CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT;
    case CKR_KEY_SIZE_RANGE:
        return CKR_UNWRAPPING_KEY_SIZE_RANGE;
    case CKR_ENCRYPTED_DATA_LEN_RANGE:
        return CKR_WRAPPED_KEY_LEN_RANGE;
    case CKR_ENCRYPTED_DATA_INVALID:
        return CKR_WRAPPED_KEY_INVALID;
    default:
        return rv;
    }
}

/* out NULL: *out_len = size needed; else *out_len is out's size on entry. */
CK_RV mech_wrap_by_ops(const mech_ops *ops, const CK_MECHANISM *mech, const mech_key *key,
                       const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len)
{
    void *state = NULL;
    size_t need = 0;
    CK_RV rv = ops->init(mech, key, MECH_ENCRYPT, NULL, &state);
    if (rv == CKR_OK)
        rv = ops->out_size(state, MECH_PHASE_ONESHOT, in_len, &need);
    if (rv != CKR_OK)
        goto out;
    if (!out || *out_len < need) {
        rv = out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
        *out_len = need;
        goto out;
    }
    rv = ops->oneshot(state, in, in_len, out, out_len);
out:
    if (state)
        ops->free(state);
    return wrap_error(rv);
}

CK_RV mech_unwrap_by_ops(const mech_ops *ops, const CK_MECHANISM *mech, const mech_key *key,
                         const unsigned char *in, size_t in_len, unsigned char **out,
                         size_t *out_len)
{
    void *state = NULL;
    unsigned char *buf = NULL;
    size_t need = 0, len = 0;
    CK_RV rv = ops->init(mech, key, MECH_DECRYPT, NULL, &state);
    if (rv == CKR_OK)
        rv = ops->out_size(state, MECH_PHASE_ONESHOT, in_len, &need);
    if (rv != CKR_OK)
        goto out;
    if (!(buf = malloc(need > 0 ? need : 1))) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = ops->oneshot(state, in, in_len, buf, &len);
    if (rv == CKR_OK && len == 0)
        rv = CKR_WRAPPED_KEY_INVALID; /* an empty key */
out:
    if (state)
        ops->free(state);
    if (rv != CKR_OK) {
        if (buf)
            OPENSSL_cleanse(buf, need);
        free(buf);
        return unwrap_error(rv);
    }
    *out = buf;
    *out_len = len;
    return CKR_OK;
}
