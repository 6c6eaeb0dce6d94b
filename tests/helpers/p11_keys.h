/*
 * p11_keys.h — real key material made with OpenSSL, as PKCS#11 attribute
 * values, for tests that import keys and certificates.
 */
#ifndef SOFTSE_P11_KEYS_H
#define SOFTSE_P11_KEYS_H

#include <stddef.h>

typedef struct fx_bytes {
    unsigned char *data;
    size_t len;
} fx_bytes;

/* EC P-256: CKA_EC_PARAMS (named curve OID), CKA_EC_POINT (DER OCTET
 * STRING of the uncompressed point) and CKA_VALUE (the 32-byte scalar). */
typedef struct fx_ec_key {
    fx_bytes params, point, value;
} fx_ec_key;

/* RSA-2048: CKA_MODULUS … CKA_COEFFICIENT, big-endian without leading zeros. */
typedef struct fx_rsa_key {
    fx_bytes modulus, public_exponent, private_exponent, prime1, prime2, exponent1, exponent2,
        coefficient;
} fx_rsa_key;

/* A self-signed X.509 certificate: CKA_VALUE, CKA_SUBJECT, CKA_ISSUER,
 * CKA_SERIAL_NUMBER (DER INTEGER). */
typedef struct fx_cert {
    fx_bytes value, subject, issuer, serial;
} fx_cert;

/* Each returns a fresh key; aborts the program if OpenSSL fails. */
void fx_ec_key_new(fx_ec_key *key);
void fx_ec_key_free(fx_ec_key *key);
void fx_rsa_key_new(fx_rsa_key *key); /* generated once per process, then copied */
void fx_rsa_key_free(fx_rsa_key *key);
void fx_cert_new(fx_cert *cert, const char *common_name);
void fx_cert_free(fx_cert *cert);

/* Digest of data with an OpenSSL algorithm name ("SHA256", "SHA3-512"…);
 * returns the length written to out (at least 64 bytes). */
size_t fx_digest(const char *name, const void *data, size_t len, unsigned char *out);

#endif
