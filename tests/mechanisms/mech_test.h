/*
 * mech_test.h — the row driver and fixtures of the mechanism tests
 * (tests/mechanisms/, one test file per file of mechanisms/).
 *
 * The driver plays the core's part (module/crypto_ops.c): out_size
 * before every call and a buffer of exactly that size, so ASan catches
 * any write past what out_size promised; multi-part calls in chunks of
 * given sizes; a single-part call as the row offers it (oneshot, or
 * update + final as the core does when it has none).
 */
#ifndef SOFTSE_TEST_MECH_H
#define SOFTSE_TEST_MECH_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h> /* after the headers it needs */

#include "mech.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* ---- bytes ------------------------------------------------------------------ */

/* A byte string; freed by buf_free. */
typedef struct buf {
    unsigned char *data;
    size_t len;
} buf;

buf hex(const char *text);
buf buf_random(size_t len);
void buf_free(buf *b);
/* Decodes hex into out (large enough); returns the length. */
size_t from_hex(const char *hex, unsigned char *out);

#define assert_buf_equal(b, expected_data, expected_len)                                           \
    do {                                                                                           \
        assert_int_equal((b).len, (expected_len));                                                 \
        assert_memory_equal((b).data, (expected_data), (expected_len));                            \
    } while (0)

/* ---- rows and the driver ------------------------------------------------------ */

/* The first row of type in table; the test fails when there is none. */
const mech_row *row_of(const mech_table *table, CK_MECHANISM_TYPE type);

/* Chunk sizes for multi-part calls, taken in turn. */
extern const size_t odd_splits[4];
extern const size_t whole_split[1];

/* Runs a digest, sign, encrypt or decrypt as the core would: init, then
 * update on chunks of the split sizes and final (or one single-part call
 * when splits is NULL).  The output is appended to out (empty on error). */
CK_RV run_row(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
              const void *in, size_t in_len, const size_t *splits, size_t split_count, buf *out);
/* A verify, the same way: verify_oneshot (or updates + verify_final). */
CK_RV run_verify_row(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                     const void *in, size_t in_len, const size_t *splits, size_t split_count,
                     const unsigned char *sig, size_t sig_len);

/* Encrypt/decrypt single-part and, for a multi-part row, in odd chunks
 * and in one update: each must give expected. */
void check_cipher(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                  mech_op_kind kind, const buf *in, const buf *expected);

/* Sign or MAC with the row of table: single-part for a single-part row,
 * in 7-byte chunks for a multi-part one.  *sig_len: sig's size in, the
 * signature's length out. */
CK_RV run_sign(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
               const void *in, size_t in_len, unsigned char *sig, size_t *sig_len);
/* Verify likewise, in 5-byte chunks for a multi-part row. */
CK_RV run_verify(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
                 const void *in, size_t in_len, const unsigned char *sig, size_t sig_len);

/* ---- keys ------------------------------------------------------------------- */

/* A secret key as a mech_key over value's bytes (not copied). */
mech_key secret_key(CK_KEY_TYPE type, const buf *value);
/* A secret key object's attributes. */
void secret_attrs(attr_list *out, CK_KEY_TYPE type, const void *value, size_t len);
/* mech_key_from_attrs (keyconv.c), asserted to succeed. */
void load_key(const attr_list *attrs, mech_key *key);

/* DER of the named curves' OIDs and names, written out independently. */
extern const unsigned char oid_p256[10], oid_p384[7], oid_p521[7], oid_ed25519[5], oid_secp256k1[7];
extern const unsigned char name_prime256v1[12], name_edwards25519[14];

/* Runs a pair keygen row and adds CKA_CLASS the way the core would. */
CK_RV generate_pair(CK_MECHANISM_TYPE mech, const attr_list *pub_tmpl, const attr_list *priv_tmpl,
                    attr_list *pub, attr_list *priv);
void generate_rsa(CK_ULONG bits, attr_list *pub, attr_list *priv);
void generate_ec(const unsigned char *params, size_t params_len, attr_list *pub, attr_list *priv);
void generate_ed25519(attr_list *pub, attr_list *priv);

/* The public key of a key object's attributes, rebuilt with OpenSSL only
 * (CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS/CKA_EC_POINT); also
 * checks that CKA_PUBLIC_KEY_INFO, when present, is the same key. */
EVP_PKEY *independent_public_key(const attr_list *pub);

/* ---- attributes ------------------------------------------------------------- */

/* An attribute of an attr_list, asserted present. */
const CK_ATTRIBUTE *attr_of(const attr_list *list, CK_ATTRIBUTE_TYPE type);
CK_ULONG ulong_of(const attr_list *list, CK_ATTRIBUTE_TYPE type);

#endif
