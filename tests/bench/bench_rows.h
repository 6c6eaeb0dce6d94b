/*
 * bench_rows.h — what the files of rows share: bench_std.c (the standard
 * mechanisms, their raw OpenSSL side in bench_raw.c) and bench_vendor.c
 * (the vendor mechanisms).  The driver never sees these; it knows rows
 * only through bench_op.
 */
#ifndef SOFTSE_BENCH_ROWS_H
#define SOFTSE_BENCH_ROWS_H

#include "bench.h"

#include <openssl/evp.h>
#include <string.h>

#define ATTR(type, var)                                                                            \
    {                                                                                              \
        (type), &(var), sizeof(var)                                                                \
    }

/* A raw OpenSSL result (1 or more is success) as a CK_RV. */
#define OK(expr) ((expr) > 0 ? CKR_OK : CKR_FUNCTION_FAILED)

/* The first int of every state says which kind it is, for bench_state_free. */
enum { STATE_P11 = 1, STATE_RAW = 2, STATE_RAW_VENDOR = 3 };

/* Fixed template values both files put in templates (bench_std.c). */
extern CK_BBOOL yes, no;
extern CK_BYTE p256_params[10]; /* the OID of P-256 */
extern CK_BYTE key_label[17];   /* "softse-bench-key" */
extern CK_BYTE secret32[32];    /* the HMAC and AES key value, also raw */
extern CK_BYTE des3_key[24];    /* the DES3 key value (odd parity), also raw */

/* C_GenerateKeyPair over the module's main session. */
CK_RV make_pair(bench_module *m, CK_MECHANISM_TYPE gen, CK_ATTRIBUTE *pub, CK_ULONG npub,
                CK_ATTRIBUTE *priv, CK_ULONG npriv, CK_OBJECT_HANDLE *hpub,
                CK_OBJECT_HANDLE *hpriv);

/* The raw side's P-256 and RSA-2048 keys, made on first use by raw_key
 * ("EC", "RSA" or a key type name) and shared by both files. */
extern EVP_PKEY *raw_ec, *raw_rsa;
EVP_PKEY *raw_key(EVP_PKEY **slot, const char *type);

/* Random bytes drawn from OpenSSL in blocks and handed out in pieces, as
 * a careful application (and softse's mech_random) draws them: one DRBG
 * call per 64 nonces of 32 bytes.  A zeroed block is empty.  Each raw
 * state has its own (one thread uses a state). */
typedef struct raw_block {
    unsigned char bytes[2048];
    size_t left; /* the last `left` bytes are still to hand out */
} raw_block;
bool raw_block_draw(raw_block *b, unsigned char *out, size_t len, bool secret);

/* bench_vendor.c: its raw state and its own raw keys. */
typedef struct raw_vendor raw_vendor;
void raw_vendor_free(raw_vendor *st);
void bench_vendor_raw_keys_free(void);

/* A GCM IV never repeats under one key: a per-state prefix and a counter. */
static inline void next_iv(unsigned char iv[12], uint32_t prefix, uint64_t *counter)
{
    uint64_t c = ++*counter;
    memcpy(iv, &prefix, 4);
    for (int i = 0; i < 8; i++)
        iv[4 + i] = (unsigned char)(c >> (56 - 8 * i));
}

#endif
