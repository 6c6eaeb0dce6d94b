/*
 * ca.h — the manufacturer CA side of softse-tool, plain OpenSSL: key
 * types, the CA key and self-signed certificate, issuing a device
 * certificate for a token's attestation public key (docs/spec.md §2), and a
 * certificate summary for `show`.
 *
 * Functions returning int give TOOL_OK, or TOOL_FAIL after printing the
 * one-line message (with OpenSSL's reason when it has one).
 */
#ifndef SOFTSE_TOOL_CA_H
#define SOFTSE_TOOL_CA_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The key types of --key-type: one row each, used for the CA key
 * (OpenSSL) and for the attestation key (PKCS#11 templates). */
typedef struct ca_key_type {
    const char *name; /* "ec-p256" */
    bool is_ec;       /* EC P-256, else RSA */
    unsigned bits;    /* RSA modulus bits; 256 for P-256 */
} ca_key_type;

/* NULL (the option was not given) gives the default, EC P-256; an unknown
 * name gives NULL. */
const ca_key_type *ca_key_type_find(const char *name);
/* "ec-p256, rsa2048 or rsa3072" for messages. */
const char *ca_key_type_names(void);

/* DER of the P-256 named-curve OID: CKA_EC_PARAMS. */
extern const unsigned char ca_p256_params[];
extern const size_t ca_p256_params_len;

/* A CA key pair and its self-signed certificate, written as PEM (the key
 * file with mode 0600).  subject as "/CN=.../O=..."; NULL: the default. */
int ca_create(const ca_key_type *type, const char *subject, const char *key_path,
              const char *cert_path);

/* Loads a CA certificate and its private key (PEM) and checks that they
 * belong together and that the certificate is a CA's. */
int ca_load(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key);

/* The device certificate of docs/spec.md §2 for the DER SubjectPublicKeyInfo
 * spki: subject "CN=softse SE <serial>, serialNumber=<serial>, O=softse",
 * CA:FALSE, keyUsage digitalSignature, 20 years, signed by the CA. */
int ca_issue_device(X509 *ca, EVP_PKEY *ca_key, const unsigned char *spki, size_t spki_len,
                    const char *token_serial, X509 **out);

/* DER encodings for the PKCS#11 attributes; OPENSSL_free() *der. */
int ca_der_cert(X509 *cert, unsigned char **der, size_t *len);
int ca_der_name(const X509_NAME *name, unsigned char **der, size_t *len);
int ca_der_serial(X509 *cert, unsigned char **der, size_t *len);

/* Whether the DER certificate der certifies the key of the DER
 * SubjectPublicKeyInfo spki. */
bool ca_cert_certifies(const unsigned char *der, size_t len, const unsigned char *spki,
                       size_t spki_len);

/* "CN=softse SE ..., serialNumber=..., O=softse" in a malloc()ed string. */
char *ca_name_text(const X509_NAME *name);

/* Prints subject, issuer, serial, validity, key type and SHA-256
 * fingerprint of a DER certificate, one "indent  field: value" a line.
 * Returns false when der is not a certificate. */
bool ca_print_summary(FILE *out, const unsigned char *der, size_t len, const char *indent);

#endif
