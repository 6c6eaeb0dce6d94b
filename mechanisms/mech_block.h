/*
 * mech_block.h — what AES (mech_cipher.c) and Triple DES (mech_des3.c)
 * share: the ECB, CBC and CBC_PAD modes as streaming operations,
 * C_WrapKey/C_UnwrapKey as single-part encryption through a row's ops
 * (AES, DES3, RSA-OAEP), and CMAC (NIST SP 800-38B), whose operations are
 * mech_sign.c's EVP_MAC ones, shared with HMAC.  What differs between the block ciphers (the
 * mechanisms, the block size, the keys taken, the EVP cipher per key) is
 * one mech_block_cipher each family defines.
 */
#ifndef SOFTSE_MECH_BLOCK_H
#define SOFTSE_MECH_BLOCK_H

#include "mech.h"

#define MECH_BLOCK_KEY_MAX 32 /* bytes of the longest EVP key (AES-256, DES-EDE3: 24) */

typedef struct mech_block_cipher {
    const char *label; /* in logs: "AES", "DES-EDE3" */
    size_t block;      /* bytes */
    CK_MECHANISM_TYPE ecb, cbc, cbc_pad;
    CK_MECHANISM_TYPE cmac, cmac_general; /* CK_UNAVAILABLE_INFORMATION: not offered */
    /* CKR_KEY_TYPE_INCONSISTENT or CKR_KEY_SIZE_RANGE for a key the cipher does not take. */
    CK_RV (*check_key)(const mech_key *key);
    /* The EVP cipher (fetched once) for ECB or CBC and a checked key; NULL when unavailable. */
    const EVP_CIPHER *(*evp)(bool cbc, const mech_key *key);
    /* The EVP key of a checked key into out (DES2: K1‖K2‖K1), its length
     * returned; NULL: the key's secret as it is. */
    size_t (*evp_key)(const mech_key *key, unsigned char out[MECH_BLOCK_KEY_MAX]);
    /* The CBC cipher's name for a checked key, CMAC's OSSL_MAC_PARAM_CIPHER. */
    const char *(*cbc_name)(const mech_key *key);
} mech_block_cipher;

extern const mech_block_cipher mech_block_aes;  /* mech_cipher.c */
extern const mech_block_cipher mech_block_des3; /* mech_des3.c */

/* The mech_ops of a cipher's ECB, CBC and CBC_PAD rows, around the
 * family's init (which calls mech_block_init with its cipher). */
CK_RV mech_block_init(const mech_block_cipher *cipher, const CK_MECHANISM *mech,
                      const mech_key *key, mech_op_kind kind, void **state);
CK_RV mech_block_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len);
CK_RV mech_block_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                        size_t *out_len);
CK_RV mech_block_final(void *state, unsigned char *out, size_t *out_len);
CK_RV mech_block_oneshot(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                         size_t *out_len);
void mech_block_free(void *state);
#define MECH_BLOCK_OPS(init_fn)                                                                    \
    {                                                                                              \
        .init = init_fn, .out_size = mech_block_out_size, .update = mech_block_update,             \
        .final = mech_block_final, .oneshot = mech_block_oneshot, .free = mech_block_free,         \
    }

/* The MAC length a _GENERAL mechanism's CK_MAC_GENERAL_PARAMS asks for:
 * 1..block bytes (a MAC of no bytes would verify anything), else
 * CKR_MECHANISM_PARAM_INVALID. */
CK_RV mech_mac_general_len(const CK_MECHANISM *mech, size_t block, size_t *len);

/* A MAC's final and verify_final (mech_ops) when whole(state, mac) writes
 * the whole MAC (at most EVP_MAX_MD_SIZE bytes) and the caller gets its
 * first mac_len bytes: out receives them; sig must be mac_len bytes
 * (else CKR_SIGNATURE_LEN_RANGE) and equal them (CRYPTO_memcmp; else
 * CKR_SIGNATURE_INVALID).  The whole MAC is cleansed after. */
typedef CK_RV (*mech_mac_whole)(void *state, unsigned char *mac);
CK_RV mech_mac_final(mech_mac_whole whole, void *state, size_t mac_len, unsigned char *out,
                     size_t *out_len);
CK_RV mech_mac_verify(mech_mac_whole whole, void *state, size_t mac_len, const unsigned char *sig,
                      size_t sig_len);

/* The rows of CKM_AES_CMAC, CKM_DES3_CMAC and CKM_DES3_CMAC_GENERAL
 * (mech_sign.c): the cipher is the mech_block_cipher whose cmac or
 * cmac_general the mechanism is, CMAC's block cipher follows the key. */
extern const mech_ops mech_cmac_ops;

/* EVP_CipherUpdate over any length (it takes an int); *out_len = bytes
 * written.  out is never NULL (for GCM that would mean AAD); label names
 * the cipher in the log on failure ("<label> update"). */
CK_RV mech_cipher_update(EVP_CIPHER_CTX *ctx, unsigned char *out, size_t *out_len,
                         const unsigned char *in, size_t in_len, const char *label);

/* C_WrapKey and C_UnwrapKey of key bytes as single-part encryption and
 * decryption through ops (the row's own), with the failures renamed as
 * those calls return them.  mech_row's wrap and unwrap contracts. */
CK_RV mech_wrap_by_ops(const mech_ops *ops, const CK_MECHANISM *mech, const mech_key *key,
                       const unsigned char *in, size_t in_len, unsigned char *out, size_t *out_len);
CK_RV mech_unwrap_by_ops(const mech_ops *ops, const CK_MECHANISM *mech, const mech_key *key,
                         const unsigned char *in, size_t in_len, unsigned char **out,
                         size_t *out_len);
/* Defines prefix_wrap and prefix_unwrap, a row's callbacks, through ops. */
#define MECH_WRAP_BY(prefix, ops)                                                                  \
    static CK_RV prefix##_wrap(const CK_MECHANISM *mech, const mech_key *wrapping,                 \
                               const unsigned char *in, size_t in_len, unsigned char *out,         \
                               size_t *out_len)                                                    \
    {                                                                                              \
        return mech_wrap_by_ops(ops, mech, wrapping, in, in_len, out, out_len);                    \
    }                                                                                              \
    static CK_RV prefix##_unwrap(const CK_MECHANISM *mech, const mech_key *unwrapping,             \
                                 const unsigned char *in, size_t in_len, unsigned char **out,      \
                                 size_t *out_len)                                                  \
    {                                                                                              \
        return mech_unwrap_by_ops(ops, mech, unwrapping, in, in_len, out, out_len);                \
    }

#endif
