/*
 * p11_keys.c — see p11_keys.h.
 */
#include "p11_keys.h"
#include "test_keys.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    fprintf(stderr, "OpenSSL: %s failed\n", what);
    ERR_print_errors_fp(stderr);
    abort();
}

static void bytes_set(fx_bytes *out, const unsigned char *data, size_t len)
{
    out->data = malloc(len ? len : 1);
    if (!out->data)
        die("malloc");
    memcpy(out->data, data, len);
    out->len = len;
}

static void bytes_free(fx_bytes *bytes)
{
    free(bytes->data);
    bytes->data = NULL;
    bytes->len = 0;
}

static void bytes_from_bn(fx_bytes *out, const EVP_PKEY *pkey, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(pkey, param, &bn))
        die(param);
    size_t len = pad > 0 ? (size_t)pad : (size_t)BN_num_bytes(bn);
    out->data = malloc(len ? len : 1);
    if (!out->data || BN_bn2binpad(bn, out->data, (int)len) < 0)
        die("BN_bn2binpad");
    out->len = len;
    BN_clear_free(bn);
}

void fx_ec_key_new(fx_ec_key *key)
{
    static const unsigned char p256_oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                             0xce, 0x3d, 0x03, 0x01, 0x07};
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (!pkey)
        die("EC key generation");
    unsigned char point[65];
    size_t point_len = 0;
    if (!EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                         &point_len) ||
        point_len != 65)
        die("EC public point");
    unsigned char octet_string[67] = {0x04, 0x41};
    memcpy(octet_string + 2, point, 65);
    bytes_set(&key->params, p256_oid, sizeof(p256_oid));
    bytes_set(&key->point, octet_string, sizeof(octet_string));
    bytes_from_bn(&key->value, pkey, OSSL_PKEY_PARAM_PRIV_KEY, 32);
    EVP_PKEY_free(pkey);
}

void fx_ec_key_free(fx_ec_key *key)
{
    bytes_free(&key->params);
    bytes_free(&key->point);
    bytes_free(&key->value);
}

void fx_rsa_key_new(fx_rsa_key *key)
{
    static EVP_PKEY *pkey; /* RSA generation is slow: once per process */
    if (!pkey)
        pkey = test_fixed_rsa(2048, 65537);
    if (!pkey && !(pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048)))
        die("RSA key generation");
    bytes_from_bn(&key->modulus, pkey, OSSL_PKEY_PARAM_RSA_N, 0);
    bytes_from_bn(&key->public_exponent, pkey, OSSL_PKEY_PARAM_RSA_E, 0);
    bytes_from_bn(&key->private_exponent, pkey, OSSL_PKEY_PARAM_RSA_D, 0);
    bytes_from_bn(&key->prime1, pkey, OSSL_PKEY_PARAM_RSA_FACTOR1, 0);
    bytes_from_bn(&key->prime2, pkey, OSSL_PKEY_PARAM_RSA_FACTOR2, 0);
    bytes_from_bn(&key->exponent1, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT1, 0);
    bytes_from_bn(&key->exponent2, pkey, OSSL_PKEY_PARAM_RSA_EXPONENT2, 0);
    bytes_from_bn(&key->coefficient, pkey, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, 0);
}

void fx_rsa_key_free(fx_rsa_key *key)
{
    bytes_free(&key->modulus);
    bytes_free(&key->public_exponent);
    bytes_free(&key->private_exponent);
    bytes_free(&key->prime1);
    bytes_free(&key->prime2);
    bytes_free(&key->exponent1);
    bytes_free(&key->exponent2);
    bytes_free(&key->coefficient);
}

static void bytes_from_der(fx_bytes *out, unsigned char *der, int len)
{
    if (len <= 0 || !der)
        die("DER encoding");
    out->data = der;
    out->len = (size_t)len;
}

void fx_cert_new(fx_cert *cert, const char *common_name)
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    X509 *x509 = X509_new();
    X509_NAME *name = X509_NAME_new();
    if (!pkey || !x509 || !name)
        die("certificate objects");
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)common_name,
                                    -1, -1, 0) ||
        !X509_set_version(x509, X509_VERSION_3) ||
        !ASN1_INTEGER_set(X509_get_serialNumber(x509), 4242) ||
        !X509_set_subject_name(x509, name) || !X509_set_issuer_name(x509, name) ||
        !X509_gmtime_adj(X509_getm_notBefore(x509), 0) ||
        !X509_gmtime_adj(X509_getm_notAfter(x509), 86400L * 365) || !X509_set_pubkey(x509, pkey) ||
        !X509_sign(x509, pkey, EVP_sha256()))
        die("certificate");
    unsigned char *der = NULL;
    int len = i2d_X509(x509, &der);
    bytes_from_der(&cert->value, der, len);
    der = NULL;
    len = i2d_X509_NAME(name, &der);
    bytes_from_der(&cert->subject, der, len);
    der = NULL;
    len = i2d_X509_NAME(name, &der);
    bytes_from_der(&cert->issuer, der, len);
    der = NULL;
    len = i2d_ASN1_INTEGER(X509_get_serialNumber(x509), &der);
    bytes_from_der(&cert->serial, der, len);
    X509_NAME_free(name);
    X509_free(x509);
    EVP_PKEY_free(pkey);
}

void fx_cert_free(fx_cert *cert)
{
    OPENSSL_free(cert->value.data);
    OPENSSL_free(cert->subject.data);
    OPENSSL_free(cert->issuer.data);
    OPENSSL_free(cert->serial.data);
    memset(cert, 0, sizeof(*cert));
}

size_t fx_digest(const char *name, const void *data, size_t len, unsigned char *out)
{
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    unsigned int out_len = 0;
    if (!md || !EVP_Digest(data, len, out, &out_len, md, NULL))
        die(name);
    EVP_MD_free(md);
    return out_len;
}
