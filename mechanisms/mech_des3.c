/*
 * mech_des3.c — Triple DES (TDEA, NIST SP 800-67) as cards and issuer
 * systems use it: CKK_DES2 (K1‖K2, run as K1‖K2‖K1) and CKK_DES3 keys,
 * their generation, ECB / CBC / CBC_PAD encryption and key wrapping,
 * the CBC-MAC of FIPS 113 (CKM_DES3_MAC, _GENERAL) and CMAC of NIST
 * SP 800-38B (CKM_DES3_CMAC, _GENERAL).  No single DES: a key whose parts
 * collapse it to one DES key (K1 = K2, or K2 = K3) is refused.
 *
 * The cipher is OpenSSL's DES-EDE3 (default provider), fetched once per
 * process; a DES2 key is expanded to K1‖K2‖K1 before keying it.  ECB, CBC,
 * CBC_PAD and their wrapping are mech_block.c's, and CMAC mech_sign.c's
 * (with AES's), for DES-EDE3 as mech_block_des3 here describes it; the
 * CBC-MAC is this file's.
 */
#include "mech.h"
#include "mech_block.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define DES_BLOCK MECH_DES_BLOCK
#define DES_PART 8 /* one DES key of the bundle */
#define DES2_BYTES 16
#define DES3_BYTES 24
#define MAC_CHUNK 512       /* CBC-MAC: ciphertext blocks are produced here, then dropped */

/* ---- keys ------------------------------------------------------------------ */

size_t mech_des_key_len(CK_KEY_TYPE type)
{
    return type == CKK_DES2 ? DES2_BYTES : type == CKK_DES3 ? DES3_BYTES : 0;
}

/* FIPS 46-3: each byte's low bit makes its count of one bits odd. */
static unsigned char with_parity(unsigned char byte)
{
    unsigned char high = byte & 0xfe;
    return (unsigned char)(high | !__builtin_parity(high));
}

void mech_des_set_parity(unsigned char *value, size_t len)
{
    for (size_t i = 0; i < len; i++)
        value[i] = with_parity(value[i]);
}

/* K1 = K2 (DES2, DES3) or K2 = K3 (DES3): EDE then is one DES. */
static bool collapses_to_des(const unsigned char *value, size_t len)
{
    if (CRYPTO_memcmp(value, value + DES_PART, DES_PART) == 0)
        return true;
    return len == DES3_BYTES && CRYPTO_memcmp(value + DES_PART, value + 2 * DES_PART, DES_PART) == 0;
}

CK_RV mech_des_key_check(CK_KEY_TYPE type, const unsigned char *value, size_t len)
{
    if (!value || len == 0 || len != mech_des_key_len(type))
        return CKR_ATTRIBUTE_VALUE_INVALID;
    /* PKCS#11 3.0 ("DES2/DES3 secret key objects"): a key with incorrect
     * parity may not be created or unwrapped. */
    for (size_t i = 0; i < len; i++)
        if (value[i] != with_parity(value[i]))
            return CKR_ATTRIBUTE_VALUE_INVALID;
    return collapses_to_des(value, len) ? CKR_ATTRIBUTE_VALUE_INVALID : CKR_OK;
}

void mech_des3_key24(const unsigned char *value, size_t len, unsigned char out[24])
{
    memcpy(out, value, len == DES2_BYTES ? DES2_BYTES : DES3_BYTES);
    if (len == DES2_BYTES)
        memcpy(out + DES2_BYTES, value, DES_PART); /* keying option 2: K3 = K1 */
}

/* A key the rows take: a DES2 or DES3 secret of its type's length.  The
 * parity was checked when the key was made (keyconv.c); DES ignores it. */
static CK_RV check_key(const mech_key *key)
{
    if (!key || key->cls != CKO_SECRET_KEY || !key->secret || !mech_des_key_len(key->type))
        return CKR_KEY_TYPE_INCONSISTENT;
    if (key->secret_len != mech_des_key_len(key->type))
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}

/* ---- fetched algorithms ---------------------------------------------------- */

static EVP_CIPHER *des3_ecb, *des3_cbc; /* until C_Finalize (mech_once) */

static void des3_fetch_all(void)
{
    des3_ecb = EVP_CIPHER_fetch(NULL, "DES-EDE3-ECB", NULL);
    des3_cbc = EVP_CIPHER_fetch(NULL, "DES-EDE3-CBC", NULL);
    ERR_clear_error();
}

static void des3_free_all(void)
{
    EVP_CIPHER_free(des3_ecb);
    EVP_CIPHER_free(des3_cbc);
    des3_ecb = des3_cbc = NULL;
}

static mech_once des3_once = MECH_ONCE_INIT(des3_fetch_all, des3_free_all);

static const EVP_CIPHER *des3_evp(bool cbc, const mech_key *key)
{
    (void)key;
    if (!mech_once_run(&des3_once))
        return NULL;
    return cbc ? des3_cbc : des3_ecb;
}

static size_t des3_evp_key(const mech_key *key, unsigned char out[MECH_BLOCK_KEY_MAX])
{
    mech_des3_key24(key->secret, key->secret_len, out);
    return DES3_BYTES;
}

static const char *des3_cbc_name(const mech_key *key)
{
    (void)key;
    return "DES-EDE3-CBC";
}

/* ---- encryption: ECB, CBC, CBC_PAD, key wrapping (mech_block.c), CMAC ------- */

const mech_block_cipher mech_block_des3 = {
    .label = "DES-EDE3",
    .block = DES_BLOCK,
    .ecb = CKM_DES3_ECB,
    .cbc = CKM_DES3_CBC,
    .cbc_pad = CKM_DES3_CBC_PAD,
    .cmac = CKM_DES3_CMAC,
    .cmac_general = CKM_DES3_CMAC_GENERAL,
    .check_key = check_key,
    .evp = des3_evp,
    .evp_key = des3_evp_key,
    .cbc_name = des3_cbc_name,
};

static CK_RV des3_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                       const mech_env *env, void **state)
{
    (void)env;
    return mech_block_init(&mech_block_des3, mech, key, kind, state);
}

static const mech_ops des3_ops = MECH_BLOCK_OPS(des3_init);

/* ECB and CBC wrap only values of whole blocks (mech_block.c's wrap_error). */
MECH_WRAP_BY(des3, &des3_ops)

/* A CBC context with a zero IV and no padding keyed with key, for the CBC-MAC. */
static CK_RV cbc_mac_context(EVP_CIPHER_CTX **ctx, const mech_key *key)
{
    static const unsigned char zero_iv[DES_BLOCK];
    const EVP_CIPHER *cbc = des3_evp(true, key);
    if (!cbc)
        return CKR_FUNCTION_FAILED;
    if (!(*ctx = EVP_CIPHER_CTX_new()))
        return CKR_HOST_MEMORY;
    unsigned char key24[MECH_BLOCK_KEY_MAX];
    des3_evp_key(key, key24);
    int ok = EVP_CipherInit_ex2(*ctx, cbc, key24, zero_iv, 1, NULL);
    OPENSSL_cleanse(key24, sizeof(key24));
    if (!ok)
        return mech_openssl_error("DES-EDE3 init", CKR_FUNCTION_FAILED);
    EVP_CIPHER_CTX_set_padding(*ctx, 0);
    return CKR_OK;
}

/* ---- CBC-MAC (FIPS 113) ------------------------------------------------------ */

typedef struct des3_mac {
    EVP_CIPHER_CTX *cbc; /* CBC with a zero IV, no padding */
    unsigned char last[DES_BLOCK]; /* CBC-MAC: the last ciphertext block */
    unsigned char partial[DES_BLOCK];
    size_t partial_len;
    bool fed; /* CBC-MAC: any data came */
    size_t mac_len;
} des3_mac;

static void mac_free(void *state)
{
    des3_mac *m = state;
    if (!m)
        return;
    EVP_CIPHER_CTX_free(m->cbc); /* cleanses the key schedule */
    OPENSSL_cleanse(m, sizeof(*m));
    free(m);
}

/* The MAC length: half a block for CKM_DES3_MAC (PKCS#11 3.0, "General
 * block cipher MAC"), 1..8 bytes as CKM_DES3_MAC_GENERAL's parameter says. */
static CK_RV mac_length(const CK_MECHANISM *mech, size_t *len)
{
    switch (mech->mechanism) {
    case CKM_DES3_MAC:
        if (mech->ulParameterLen != 0)
            return CKR_MECHANISM_PARAM_INVALID;
        *len = DES_BLOCK / 2;
        return CKR_OK;
    case CKM_DES3_MAC_GENERAL:
        return mech_mac_general_len(mech, DES_BLOCK, len);
    default:
        return CKR_MECHANISM_INVALID;
    }
}

static CK_RV mac_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                      const mech_env *env, void **state)
{
    (void)env;
    if (kind != MECH_SIGN && kind != MECH_VERIFY)
        return CKR_MECHANISM_INVALID;
    size_t mac_len = 0;
    CK_RV rv = mac_length(mech, &mac_len);
    if (rv == CKR_OK)
        rv = check_key(key);
    if (rv != CKR_OK)
        return rv;
    des3_mac *m = calloc(1, sizeof(*m));
    if (!m)
        return CKR_HOST_MEMORY;
    m->mac_len = mac_len;
    rv = cbc_mac_context(&m->cbc, key);
    if (rv != CKR_OK) {
        mac_free(m);
        return rv;
    }
    *state = m;
    return CKR_OK;
}

static CK_RV mac_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)in_len;
    const des3_mac *m = state;
    *out_len = phase == MECH_PHASE_UPDATE ? 0 : m->mac_len;
    return CKR_OK;
}

/* CBC-encrypts whole blocks, keeping only the last ciphertext block. */
static CK_RV cbc_mac_blocks(des3_mac *m, const unsigned char *in, size_t len)
{
    unsigned char scratch[MAC_CHUNK];
    while (len > 0) {
        size_t chunk = len > MAC_CHUNK ? MAC_CHUNK : len, n = 0;
        CK_RV rv = mech_cipher_update(m->cbc, scratch, &n, in, chunk, "DES-EDE3");
        if (rv != CKR_OK)
            return rv;
        memcpy(m->last, scratch + n - DES_BLOCK, DES_BLOCK);
        in += chunk;
        len -= chunk;
    }
    return CKR_OK;
}

static CK_RV mac_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len)
{
    (void)out;
    des3_mac *m = state;
    if (out_len)
        *out_len = 0;
    CK_RV rv = CKR_OK;
    m->fed = m->fed || in_len > 0;
    if (m->partial_len > 0) { /* complete the held block first */
        size_t take = DES_BLOCK - m->partial_len;
        take = take < in_len ? take : in_len;
        memcpy(m->partial + m->partial_len, in, take);
        m->partial_len += take;
        in += take;
        in_len -= take;
        if (m->partial_len < DES_BLOCK)
            return CKR_OK;
        rv = cbc_mac_blocks(m, m->partial, DES_BLOCK);
        m->partial_len = 0;
    }
    size_t whole = in_len - in_len % DES_BLOCK;
    if (rv == CKR_OK && whole > 0)
        rv = cbc_mac_blocks(m, in, whole);
    if (rv == CKR_OK && in_len > whole) {
        memcpy(m->partial, in + whole, in_len - whole);
        m->partial_len = in_len - whole;
    }
    return rv;
}

/* The full MAC block; CBC-MAC pads with zeros (ISO/IEC 9797-1 method 1:
 * empty data is one zero block). */
static CK_RV mac_block(void *state, unsigned char *block)
{
    des3_mac *m = state;
    if (m->partial_len > 0 || !m->fed) {
        memset(m->partial + m->partial_len, 0, DES_BLOCK - m->partial_len);
        CK_RV rv = cbc_mac_blocks(m, m->partial, DES_BLOCK);
        m->partial_len = 0;
        if (rv != CKR_OK)
            return rv;
    }
    memcpy(block, m->last, DES_BLOCK);
    return CKR_OK;
}

static CK_RV mac_final(void *state, unsigned char *out, size_t *out_len)
{
    return mech_mac_final(mac_block, state, ((des3_mac *)state)->mac_len, out, out_len);
}

static CK_RV mac_verify_final(void *state, const unsigned char *sig, size_t sig_len)
{
    return mech_mac_verify(mac_block, state, ((des3_mac *)state)->mac_len, sig, sig_len);
}

static const mech_ops mac_ops = {
    .init = mac_init,
    .out_size = mac_out_size,
    .update = mac_update,
    .final = mac_final,
    .verify_final = mac_verify_final,
    .free = mac_free,
};

/* ---- key generation ---------------------------------------------------------- */

/* The template may name the class and key type; they must be the
 * mechanism's.  DES2 and DES3 keys have no CKA_VALUE_LEN in PKCS#11 3.0
 * (their length is fixed), so one given is not read: pkcs11-tool 0.23
 * sends 16 with --key-type DES3:.  The key records its true length. */
static CK_RV check_template(const attr_list *tmpl, CK_KEY_TYPE type)
{
    CK_ULONG value;
    if (attr_list_ulong(tmpl, CKA_CLASS, &value) == CKR_OK && value != CKO_SECRET_KEY)
        return CKR_TEMPLATE_INCONSISTENT;
    if (attr_list_ulong(tmpl, CKA_KEY_TYPE, &value) == CKR_OK && value != type)
        return CKR_TEMPLATE_INCONSISTENT;
    return CKR_OK;
}

static CK_RV des_generate(const CK_MECHANISM *mech, const attr_list *tmpl, const mech_env *env,
                          attr_list *out)
{
    (void)env;
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    CK_KEY_TYPE type = mech->mechanism == CKM_DES2_KEY_GEN ? CKK_DES2 : CKK_DES3;
    size_t len = mech_des_key_len(type);
    CK_RV rv = check_template(tmpl, type);
    if (rv != CKR_OK)
        return rv;
    unsigned char value[DES3_BYTES];
    do { /* a collapsed key comes once in 2^56 draws */
        if (RAND_priv_bytes(value, (int)len) != 1) {
            rv = mech_openssl_error("random key", CKR_FUNCTION_FAILED);
            break;
        }
        mech_des_set_parity(value, len);
    } while (collapses_to_des(value, len));
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_KEY_TYPE, type);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, value, (CK_ULONG)len);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_VALUE_LEN, (CK_ULONG)len);
    OPENSSL_cleanse(value, sizeof(value));
    return rv;
}

/* ---- rows ---------------------------------------------------------------------- */

#define CRYPT_WRAP (CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP)
#define SIGN_FLAGS (CKF_SIGN | CKF_VERIFY)
/* Key sizes in bytes like softse's other secret-key rows (PKCS#11 says
 * the fields are not used for DES): DES2 16, DES3 24. */
#define DES_SIZES DES2_BYTES, DES3_BYTES

#define CIPHER_ROW(mech)                                                                           \
    {                                                                                              \
        .type = mech, .name = #mech, .info = {DES_SIZES, CRYPT_WRAP}, .multipart = true,           \
        .ops = &des3_ops, .wrap = des3_wrap, .unwrap = des3_unwrap                                  \
    }
#define MAC_ROW(mech, row_ops)                                                                     \
    {                                                                                              \
        .type = mech, .name = #mech, .info = {DES_SIZES, SIGN_FLAGS}, .multipart = true,           \
        .ops = row_ops                                                                             \
    }

static const mech_row rows[] = {
    {.type = CKM_DES2_KEY_GEN,
     .name = "CKM_DES2_KEY_GEN",
     .info = {DES2_BYTES, DES2_BYTES, CKF_GENERATE},
     .generate = des_generate},
    {.type = CKM_DES3_KEY_GEN,
     .name = "CKM_DES3_KEY_GEN",
     .info = {DES3_BYTES, DES3_BYTES, CKF_GENERATE},
     .generate = des_generate},
    CIPHER_ROW(CKM_DES3_ECB),
    CIPHER_ROW(CKM_DES3_CBC),
    CIPHER_ROW(CKM_DES3_CBC_PAD),
    MAC_ROW(CKM_DES3_MAC, &mac_ops),
    MAC_ROW(CKM_DES3_MAC_GENERAL, &mac_ops),
    MAC_ROW(CKM_DES3_CMAC, &mech_cmac_ops), /* mech_sign.c */
    MAC_ROW(CKM_DES3_CMAC_GENERAL, &mech_cmac_ops),
};

const mech_table mech_table_des3 = {rows, ARRAY_SIZE(rows)};
