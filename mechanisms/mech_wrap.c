/*
 * mech_wrap.c — AES key wrap: CKM_AES_KEY_WRAP (RFC 3394) and
 * CKM_AES_KEY_WRAP_KWP (RFC 5649), for C_WrapKey/C_UnwrapKey and as
 * single-part C_Encrypt/C_Decrypt (PKCS#11 3.0, "AES Key Wrap").
 *
 * Implementations disagree on CKM_AES_KEY_WRAP_PAD: SoftHSMv2 reads it as
 * RFC 5649, NSS as RFC 3394 over PKCS #7-padded data.  softse follows
 * SoftHSMv2 (an alias of KWP); CKM_AES_KEY_WRAP_KWP is the unambiguous
 * name.
 */
#include "mech.h"
#include "mech_util.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#define KW_SEMIBLOCK 8
#define KW_IV_LEN 8   /* RFC 3394 §2.2.3: default A6A6A6A6A6A6A6A6 */
#define KWP_AIV_LEN 4 /* RFC 5649 §3: the constant half of the AIV, default A65959A6 */

/* ---- fetched ciphers ------------------------------------------------------ */

static const char *const kw_names[2][3] = {
    {"AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP"},
    {"AES-128-WRAP-PAD", "AES-192-WRAP-PAD", "AES-256-WRAP-PAD"},
};
static EVP_CIPHER *kw_ciphers[2][3]; /* until C_Finalize (mech_once) */

static void kw_fetch_all(void)
{
    for (int pad = 0; pad < 2; pad++)
        for (int size = 0; size < 3; size++)
            kw_ciphers[pad][size] = EVP_CIPHER_fetch(NULL, kw_names[pad][size], NULL);
    ERR_clear_error();
}

static void kw_free_all(void)
{
    for (int pad = 0; pad < 2; pad++)
        for (int size = 0; size < 3; size++) {
            EVP_CIPHER_free(kw_ciphers[pad][size]);
            kw_ciphers[pad][size] = NULL;
        }
}

static mech_once kw_once = MECH_ONCE_INIT(kw_fetch_all, kw_free_all);

static const EVP_CIPHER *kw_cipher(bool pad, size_t key_len)
{
    if (!mech_once_run(&kw_once))
        return NULL;
    return kw_ciphers[pad][(key_len - 16) / 8];
}

/* ---- the operation -------------------------------------------------------- */

/* The same failures have different names under C_Encrypt/C_Decrypt and
 * under C_WrapKey/C_UnwrapKey (PKCS#11 3.0 base specification). */
typedef struct kw_errors {
    CK_RV key_type; /* the (un)wrapping key is not AES */
    CK_RV key_size; /* nor 16, 24 or 32 bytes */
    CK_RV in_len;   /* input of a length the algorithm cannot take */
    CK_RV invalid;  /* the integrity check failed */
} kw_errors;

static const kw_errors encrypt_errors = {CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE,
                                         CKR_DATA_LEN_RANGE, CKR_FUNCTION_FAILED};
static const kw_errors decrypt_errors = {CKR_KEY_TYPE_INCONSISTENT, CKR_KEY_SIZE_RANGE,
                                         CKR_ENCRYPTED_DATA_LEN_RANGE, CKR_ENCRYPTED_DATA_INVALID};
static const kw_errors wrap_errors = {CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
                                      CKR_WRAPPING_KEY_SIZE_RANGE, CKR_KEY_SIZE_RANGE,
                                      CKR_FUNCTION_FAILED};
static const kw_errors unwrap_errors = {CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
                                        CKR_UNWRAPPING_KEY_SIZE_RANGE, CKR_WRAPPED_KEY_LEN_RANGE,
                                        CKR_WRAPPED_KEY_INVALID};

typedef struct kw_op {
    EVP_CIPHER_CTX *ctx;
    bool pad; /* KWP */
    bool encrypt;
    const kw_errors *errors;
} kw_op;

static void kw_end(kw_op *op)
{
    EVP_CIPHER_CTX_free(op->ctx); /* cleanses the key schedule */
    op->ctx = NULL;
}

/* Checks the parameter (an optional IV) and the key, and keys the context. */
static CK_RV kw_start(kw_op *op, const CK_MECHANISM *mech, const mech_key *key, bool encrypt,
                      const kw_errors *errors)
{
    memset(op, 0, sizeof(*op));
    op->pad = mech->mechanism != CKM_AES_KEY_WRAP;
    op->encrypt = encrypt;
    op->errors = errors;

    const unsigned char *iv = NULL; /* NULL: the RFC's default */
    if (mech->ulParameterLen != 0) {
        if (!mech->pParameter || mech->ulParameterLen != (op->pad ? KWP_AIV_LEN : KW_IV_LEN))
            return CKR_MECHANISM_PARAM_INVALID;
        iv = mech->pParameter;
    }
    if (!key || key->type != CKK_AES || !key->secret)
        return errors->key_type;
    if (key->secret_len != 16 && key->secret_len != 24 && key->secret_len != 32)
        return errors->key_size;

    const EVP_CIPHER *cipher = kw_cipher(op->pad, key->secret_len);
    if (!cipher || !(op->ctx = EVP_CIPHER_CTX_new()))
        return CKR_HOST_MEMORY;
    EVP_CIPHER_CTX_set_flags(op->ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    if (!EVP_CipherInit_ex2(op->ctx, cipher, key->secret, iv, encrypt ? 1 : 0, NULL)) {
        mech_openssl_error("AES key wrap init", CKR_FUNCTION_FAILED);
        kw_end(op);
        return CKR_FUNCTION_FAILED;
    }
    return CKR_OK;
}

/* Output size for in_len bytes, or the length error.  RFC 3394 takes n ≥ 2
 * semiblocks; RFC 5649 takes 1 byte and more; both add one semiblock. */
static CK_RV kw_size(const kw_op *op, size_t in_len, size_t *out_len)
{
    if (in_len > INT_MAX - 2 * KW_SEMIBLOCK) /* EVP takes an int length */
        return op->errors->in_len;
    if (op->encrypt) {
        if (op->pad ? in_len < 1 : (in_len < 2 * KW_SEMIBLOCK || in_len % KW_SEMIBLOCK != 0))
            return op->errors->in_len;
        size_t padded = (in_len + KW_SEMIBLOCK - 1) / KW_SEMIBLOCK * KW_SEMIBLOCK;
        *out_len = padded + KW_SEMIBLOCK;
    } else {
        if (in_len < (op->pad ? 2 : 3) * KW_SEMIBLOCK || in_len % KW_SEMIBLOCK != 0)
            return op->errors->in_len;
        *out_len = in_len - KW_SEMIBLOCK; /* KWP: the maximum, padding is removed */
    }
    return CKR_OK;
}

/* Wraps or unwraps in one EVP call; a failed unwrap leaves nothing in out. */
static CK_RV kw_run(kw_op *op, const unsigned char *in, size_t in_len, unsigned char *out,
                    size_t *out_len)
{
    size_t max = 0;
    CK_RV rv = kw_size(op, in_len, &max);
    if (rv != CKR_OK)
        return rv;
    /* OpenSSL 3.0's CRYPTO_128_unwrap_pad cleanses in_len bytes of its
     * output on failure, 8 more than it ever writes: unwrap KWP into a
     * buffer that large. */
    unsigned char *dst = out;
    if (op->pad && !op->encrypt && !(dst = malloc(in_len)))
        return CKR_HOST_MEMORY;
    int n = 0;
    if (!EVP_CipherUpdate(op->ctx, dst, &n, in, (int)in_len) || n < 0 || (size_t)n > max) {
        mech_openssl_error(op->encrypt ? "AES key wrap" : "AES key unwrap", CKR_OK);
        OPENSSL_cleanse(out, max);
        rv = op->errors->invalid;
        n = 0;
    } else if (dst != out) {
        memcpy(out, dst, (size_t)n);
    }
    if (dst != out) {
        OPENSSL_cleanse(dst, in_len);
        free(dst);
    }
    *out_len = (size_t)n;
    return rv;
}

/* ---- C_Encrypt / C_Decrypt (single-part) ---------------------------------- */

static void kw_free(void *state)
{
    kw_op *op = state;
    if (!op)
        return;
    kw_end(op);
    free(op);
}

static CK_RV kw_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                     const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_ENCRYPT && kind != MECH_DECRYPT)
        return CKR_MECHANISM_INVALID;
    kw_op *op = malloc(sizeof(*op));
    if (!op)
        return CKR_HOST_MEMORY;
    bool encrypt = kind == MECH_ENCRYPT;
    CK_RV rv = kw_start(op, mech, key, encrypt, encrypt ? &encrypt_errors : &decrypt_errors);
    if (rv != CKR_OK) {
        kw_free(op);
        return rv;
    }
    *state = op;
    return CKR_OK;
}

static CK_RV kw_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    if (phase != MECH_PHASE_ONESHOT)
        return CKR_FUNCTION_NOT_SUPPORTED;
    return kw_size(state, in_len, out_len);
}

static CK_RV kw_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    return kw_run(state, in, in_len, out, out_len);
}

static const mech_ops kw_ops = {
    .init = kw_init,
    .out_size = kw_out_size,
    /* single-part: the core refuses C_*Update and C_*Final for these rows */
    .oneshot = kw_oneshot,
    .free = kw_free,
};

/* ---- C_WrapKey / C_UnwrapKey ---------------------------------------------- */

/* out NULL: *out_len = size needed; else *out_len is out's size on entry. */
static CK_RV kw_wrap(const CK_MECHANISM *mech, const mech_key *wrapping, const unsigned char *in,
                     size_t in_len, unsigned char *out, size_t *out_len)
{
    kw_op op;
    size_t need = 0;
    CK_RV rv = kw_start(&op, mech, wrapping, true, &wrap_errors);
    if (rv == CKR_OK)
        rv = kw_size(&op, in_len, &need);
    if (rv == CKR_OK) {
        if (!out || *out_len < need) {
            rv = out ? CKR_BUFFER_TOO_SMALL : CKR_OK;
            *out_len = need;
        } else {
            rv = kw_run(&op, in, in_len, out, out_len);
        }
    }
    kw_end(&op);
    return rv;
}

static CK_RV kw_unwrap(const CK_MECHANISM *mech, const mech_key *unwrapping,
                       const unsigned char *in, size_t in_len, unsigned char **out, size_t *out_len)
{
    kw_op op;
    unsigned char *buf = NULL;
    size_t max = 0, len = 0;
    CK_RV rv = kw_start(&op, mech, unwrapping, false, &unwrap_errors);
    if (rv == CKR_OK)
        rv = kw_size(&op, in_len, &max);
    if (rv == CKR_OK && !(buf = malloc(max)))
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = kw_run(&op, in, in_len, buf, &len);
    kw_end(&op);
    if (rv != CKR_OK) {
        free(buf); /* kw_run cleansed it */
        return rv;
    }
    *out = buf;
    *out_len = len;
    return CKR_OK;
}

/* ---- rows ----------------------------------------------------------------- */

#define KW_FLAGS (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP)

static const mech_row rows[] = {
    {.type = CKM_AES_KEY_WRAP,
     .name = "AES-KEY-WRAP",
     .info = {16, 32, KW_FLAGS},
     .ops = &kw_ops,
     .wrap = kw_wrap,
     .unwrap = kw_unwrap},
    {.type = CKM_AES_KEY_WRAP_KWP,
     .name = "AES-KEY-WRAP-KWP",
     .info = {16, 32, KW_FLAGS},
     .ops = &kw_ops,
     .wrap = kw_wrap,
     .unwrap = kw_unwrap},
    {.type = CKM_AES_KEY_WRAP_PAD,
     .name = "AES-KEY-WRAP-PAD",
     .info = {16, 32, KW_FLAGS},
     .ops = &kw_ops,
     .wrap = kw_wrap,
     .unwrap = kw_unwrap},
};

const mech_table mech_table_wrap = {rows, ARRAY_SIZE(rows)};
