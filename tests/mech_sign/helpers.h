/*
 * helpers.h — fixtures shared by the mechanism tests: row lookup, key
 * pairs from the keygen rows, a driver that calls a row the way the core
 * does, and public keys rebuilt independently with plain OpenSSL.
 */
#ifndef SOFTSE_TEST_MECH_HELPERS_H
#define SOFTSE_TEST_MECH_HELPERS_H

#include "mech.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h> /* after the headers it needs */

/* DER of the named curves' OIDs and names, written out independently. */
extern const unsigned char oid_p256[10], oid_p384[7], oid_p521[7], oid_ed25519[5], oid_secp256k1[7];
extern const unsigned char name_prime256v1[12], name_edwards25519[14];

const mech_row *find_row(const mech_table *table, CK_MECHANISM_TYPE type);
/* Decodes hex into out (large enough); returns the length. */
size_t from_hex(const char *hex, unsigned char *out);

/* Runs a pair keygen row and adds CKA_CLASS the way the core would. */
CK_RV generate_pair(CK_MECHANISM_TYPE mech, const attr_list *pub_tmpl, const attr_list *priv_tmpl,
                    attr_list *pub, attr_list *priv);
void generate_rsa(CK_ULONG bits, attr_list *pub, attr_list *priv);
void generate_ec(const unsigned char *params, size_t params_len, attr_list *pub, attr_list *priv);
void generate_ed25519(attr_list *pub, attr_list *priv);
/* A secret key object's attributes. */
void secret_attrs(attr_list *out, CK_KEY_TYPE type, const void *value, size_t len);
/* mech_key_from_attrs, asserted to succeed. */
void load_key(const attr_list *attrs, mech_key *key);

/* The public key of a key object's attributes, rebuilt with OpenSSL only
 * (CKA_MODULUS/CKA_PUBLIC_EXPONENT or CKA_EC_PARAMS/CKA_EC_POINT); also
 * checks that CKA_PUBLIC_KEY_INFO, when present, is the same key. */
EVP_PKEY *independent_public_key(const attr_list *pub);

/* Calls a sign or MAC row as the core does: init, out_size, then oneshot
 * or updates in small chunks and final.  *sig_len: buffer size in. */
CK_RV run_sign(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
               const void *in, size_t in_len, unsigned char *sig, size_t *sig_len);
CK_RV run_verify(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
                 const void *in, size_t in_len, const unsigned char *sig, size_t sig_len);

#endif
