/*
 * ca.c — see ca.h.  Also the `ca create` subcommand, which is nothing but
 * this file's work.
 */
#include "ca.h"
#include "softse-tool.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* X.509 validity of both certificates: 20 years, as a card's lifetime. */
#define CA_VALIDITY_DAYS (20 * 365 + 5)
#define CA_DEFAULT_SUBJECT "/CN=softse manufacturer CA/O=softse"
#define CA_SERIAL_BITS 127 /* a positive 128-bit INTEGER (RFC 5280 §4.1.2.2) */

static const ca_key_type key_types[] = {
    {"ec-p256", true, 256},
    {"rsa2048", false, 2048},
    {"rsa3072", false, 3072},
};

/* 1.2.840.10045.3.1.7 (prime256v1) */
const unsigned char ca_p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const size_t ca_p256_params_len = sizeof(ca_p256_params);

const ca_key_type *ca_key_type_find(const char *name)
{
    if (!name)
        return &key_types[0];
    for (size_t i = 0; i < ARRAY_SIZE(key_types); i++)
        if (strcmp(key_types[i].name, name) == 0)
            return &key_types[i];
    return NULL;
}

const char *ca_key_type_names(void)
{
    return "ec-p256, rsa2048 or rsa3072";
}

/* tool_fail with OpenSSL's first queued reason, if any. */
static int ssl_fail(const char *what)
{
    unsigned long err = ERR_get_error();
    ERR_clear_error();
    if (!err)
        return tool_fail("%s", what);
    return tool_fail("%s: %s", what,
                     ERR_reason_error_string(err) ? ERR_reason_error_string(err) : "OpenSSL error");
}

/* ---- building certificates ----------------------------------------------------- */

static EVP_PKEY *generate_key(const ca_key_type *type)
{
    if (type->is_ec)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)type->bits);
}

/* "/CN=x/O=y" → X509_NAME, in order (as `openssl req -subj`). */
static X509_NAME *parse_subject(const char *text)
{
    if (text[0] != '/')
        return NULL;
    char *copy = strdup(text + 1);
    X509_NAME *name = X509_NAME_new();
    bool ok = copy && name;
    char *save = NULL;
    size_t entries = 0;
    for (char *part = ok ? strtok_r(copy, "/", &save) : NULL; ok && part;
         part = strtok_r(NULL, "/", &save)) {
        char *eq = strchr(part, '=');
        ok = eq && eq != part && eq[1];
        if (ok) {
            *eq = '\0';
            ok = X509_NAME_add_entry_by_txt(name, part, MBSTRING_UTF8,
                                            (const unsigned char *)eq + 1, -1, -1, 0) == 1;
            entries++;
        }
    }
    free(copy);
    if (!ok || entries == 0) {
        X509_NAME_free(name);
        return NULL;
    }
    return name;
}

static bool add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    return ok;
}

/* A random positive serial number. */
static bool set_random_serial(X509 *cert)
{
    BIGNUM *bn = BN_new();
    bool ok = bn && BN_rand(bn, CA_SERIAL_BITS, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
              BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok;
}

/* The fields both certificates share: v3, serial, validity, names, key. */
static X509 *new_cert(const X509_NAME *subject, const X509_NAME *issuer, EVP_PKEY *key)
{
    X509 *cert = X509_new();
    bool ok = cert && X509_set_version(cert, X509_VERSION_3) == 1 && set_random_serial(cert) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), 0) &&
              X509_time_adj_ex(X509_getm_notAfter(cert), CA_VALIDITY_DAYS, 0, NULL) &&
              X509_set_subject_name(cert, subject) == 1 &&
              X509_set_issuer_name(cert, issuer) == 1 && X509_set_pubkey(cert, key) == 1;
    if (!ok) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

static int write_pem_key(const char *path, EVP_PKEY *key)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *file = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!file) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return tool_fail("cannot write %s: %s", path, strerror(err));
    }
    bool ok = PEM_write_PrivateKey(file, key, NULL, NULL, 0, NULL, NULL) == 1;
    ok = fclose(file) == 0 && ok;
    return ok ? TOOL_OK : ssl_fail("writing the CA key");
}

static int write_pem_cert(const char *path, X509 *cert)
{
    FILE *file = fopen(path, "w");
    if (!file)
        return tool_fail("cannot write %s: %s", path, strerror(errno));
    bool ok = PEM_write_X509(file, cert) == 1;
    ok = fclose(file) == 0 && ok;
    return ok ? TOOL_OK : ssl_fail("writing the CA certificate");
}

int ca_create(const ca_key_type *type, const char *subject, const char *key_path,
              const char *cert_path)
{
    int rc = TOOL_FAIL;
    X509 *cert = NULL;
    X509_NAME *name = parse_subject(subject ? subject : CA_DEFAULT_SUBJECT);
    EVP_PKEY *key = NULL;
    if (!name) {
        rc = tool_fail("bad subject \"%s\": expected /type=value/... (e.g. /CN=My CA/O=Me)",
                       subject);
        goto out;
    }
    key = generate_key(type);
    if (!key) {
        rc = ssl_fail("generating the CA key");
        goto out;
    }
    cert = new_cert(name, name, key);
    if (!cert || !add_extension(cert, cert, NID_basic_constraints, "critical,CA:TRUE") ||
        !add_extension(cert, cert, NID_key_usage, "critical,keyCertSign,cRLSign") ||
        !add_extension(cert, cert, NID_subject_key_identifier, "hash") ||
        !add_extension(cert, cert, NID_authority_key_identifier, "keyid:always") ||
        X509_sign(cert, key, EVP_sha256()) <= 0) {
        rc = ssl_fail("making the CA certificate");
        goto out;
    }
    rc = write_pem_key(key_path, key);
    if (rc == TOOL_OK)
        rc = write_pem_cert(cert_path, cert);
out:
    X509_free(cert);
    X509_NAME_free(name);
    EVP_PKEY_free(key);
    return rc;
}

int ca_load(const char *cert_path, const char *key_path, X509 **cert, EVP_PKEY **key)
{
    *cert = NULL;
    *key = NULL;
    FILE *file = fopen(cert_path, "r");
    if (!file)
        return tool_fail("cannot read the CA certificate %s: %s", cert_path, strerror(errno));
    *cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    if (!*cert)
        return ssl_fail("the CA certificate is not a PEM certificate");
    file = fopen(key_path, "r");
    if (!file) {
        int rc = tool_fail("cannot read the CA key %s: %s", key_path, strerror(errno));
        X509_free(*cert);
        *cert = NULL;
        return rc;
    }
    *key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
    fclose(file);
    int rc = TOOL_OK;
    if (!*key)
        rc = ssl_fail("the CA key is not a PEM private key");
    else if (X509_check_private_key(*cert, *key) != 1)
        rc = tool_fail("the CA key %s does not belong to the certificate %s", key_path, cert_path);
    else if (X509_check_ca(*cert) == 0)
        rc = tool_fail("%s is not a CA certificate (basicConstraints CA:TRUE)", cert_path);
    ERR_clear_error();
    if (rc != TOOL_OK) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
    }
    return rc;
}

int ca_issue_device(X509 *ca, EVP_PKEY *ca_key, const unsigned char *spki, size_t spki_len,
                    const char *token_serial, X509 **out)
{
    *out = NULL;
    const unsigned char *p = spki;
    EVP_PKEY *device_key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    if (!device_key)
        return ssl_fail("the token's attestation public key is not a SubjectPublicKeyInfo");
    char common_name[64];
    snprintf(common_name, sizeof(common_name), "softse SE %s", token_serial);
    X509_NAME *subject = X509_NAME_new();
    bool ok = subject &&
              X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                         (const unsigned char *)common_name, -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(subject, "serialNumber", MBSTRING_UTF8,
                                         (const unsigned char *)token_serial, -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                                         (const unsigned char *)"softse", -1, -1, 0);
    X509 *cert = ok ? new_cert(subject, X509_get_subject_name(ca), device_key) : NULL;
    ok = cert && add_extension(cert, ca, NID_basic_constraints, "critical,CA:FALSE") &&
         add_extension(cert, ca, NID_key_usage, "critical,digitalSignature") &&
         add_extension(cert, ca, NID_subject_key_identifier, "hash") &&
         add_extension(cert, ca, NID_authority_key_identifier, "keyid") &&
         X509_sign(cert, ca_key, EVP_sha256()) > 0;
    int rc = TOOL_OK;
    if (ok)
        *out = cert;
    else {
        rc = ssl_fail("issuing the device certificate");
        X509_free(cert);
    }
    X509_NAME_free(subject);
    EVP_PKEY_free(device_key);
    return rc;
}

/* ---- DER for PKCS#11 attributes ------------------------------------------------- */

static int der_result(int n, unsigned char *der, unsigned char **out, size_t *len, const char *what)
{
    if (n <= 0) {
        *out = NULL;
        *len = 0;
        return ssl_fail(what);
    }
    *out = der;
    *len = (size_t)n;
    return TOOL_OK;
}

/* i2d_* allocate when given a NULL buffer; the length is computed before
 * the buffer is read (argument evaluation order is unspecified). */
int ca_der_cert(X509 *cert, unsigned char **der, size_t *len)
{
    unsigned char *buffer = NULL;
    int n = i2d_X509(cert, &buffer);
    return der_result(n, buffer, der, len, "encoding the certificate");
}

int ca_der_name(const X509_NAME *name, unsigned char **der, size_t *len)
{
    unsigned char *buffer = NULL;
    int n = i2d_X509_NAME(name, &buffer);
    return der_result(n, buffer, der, len, "encoding a name");
}

int ca_der_serial(X509 *cert, unsigned char **der, size_t *len)
{
    unsigned char *buffer = NULL;
    int n = i2d_ASN1_INTEGER(X509_get_serialNumber(cert), &buffer);
    return der_result(n, buffer, der, len, "encoding the serial number");
}

bool ca_cert_certifies(const unsigned char *der, size_t len, const unsigned char *spki,
                       size_t spki_len)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    p = spki;
    EVP_PKEY *key = d2i_PUBKEY(NULL, &p, (long)spki_len);
    bool same =
        cert && key && X509_get0_pubkey(cert) && EVP_PKEY_eq(X509_get0_pubkey(cert), key) == 1;
    X509_free(cert);
    EVP_PKEY_free(key);
    ERR_clear_error();
    return same;
}

/* ---- summaries ---------------------------------------------------------------------- */

static char *bio_text(BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *text = malloc((size_t)(n > 0 ? n : 0) + 1);
    if (text) {
        if (n > 0)
            memcpy(text, data, (size_t)n);
        text[n > 0 ? n : 0] = '\0';
    }
    return text;
}

char *ca_name_text(const X509_NAME *name)
{
    BIO *bio = BIO_new(BIO_s_mem());
    unsigned long flags =
        XN_FLAG_SEP_CPLUS_SPC | XN_FLAG_FN_SN | (ASN1_STRFLGS_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char *text = bio && X509_NAME_print_ex(bio, name, 0, flags) >= 0 ? bio_text(bio) : NULL;
    BIO_free(bio);
    return text;
}

static char *time_text(const ASN1_TIME *time)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *text = bio && ASN1_TIME_print(bio, time) == 1 ? bio_text(bio) : NULL;
    BIO_free(bio);
    return text;
}

static void print_key_type(FILE *out, const char *indent, X509 *cert)
{
    EVP_PKEY *key = X509_get0_pubkey(cert);
    char group[64] = "";
    size_t group_len = 0;
    if (!key)
        fprintf(out, "%s  key type:    unknown\n", indent);
    else if (EVP_PKEY_get_base_id(key) == EVP_PKEY_EC &&
             EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                            &group_len) == 1)
        fprintf(out, "%s  key type:    EC %s (%d bits)\n", indent, group, EVP_PKEY_get_bits(key));
    else
        fprintf(out, "%s  key type:    %s %d bits\n", indent,
                EVP_PKEY_get0_type_name(key) ? EVP_PKEY_get0_type_name(key) : "?",
                EVP_PKEY_get_bits(key));
}

bool ca_print_summary(FILE *out, const unsigned char *der, size_t len, const char *indent)
{
    const unsigned char *p = der;
    X509 *cert = d2i_X509(NULL, &p, (long)len);
    if (!cert) {
        ERR_clear_error();
        return false;
    }
    char *subject = ca_name_text(X509_get_subject_name(cert));
    char *issuer = ca_name_text(X509_get_issuer_name(cert));
    char *not_before = time_text(X509_get0_notBefore(cert));
    char *not_after = time_text(X509_get0_notAfter(cert));
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *serial_hex = serial ? BN_bn2hex(serial) : NULL;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    X509_digest(cert, EVP_sha256(), md, &md_len);

    fprintf(out, "%s  subject:     %s\n", indent, subject ? subject : "?");
    fprintf(out, "%s  issuer:      %s\n", indent, issuer ? issuer : "?");
    fprintf(out, "%s  serial:      %s\n", indent, serial_hex ? serial_hex : "?");
    fprintf(out, "%s  not before:  %s\n", indent, not_before ? not_before : "?");
    fprintf(out, "%s  not after:   %s\n", indent, not_after ? not_after : "?");
    print_key_type(out, indent, cert);
    fprintf(out, "%s  SHA-256:     ", indent);
    for (unsigned int i = 0; i < md_len; i++)
        fprintf(out, "%02X%s", md[i], i + 1 < md_len ? ":" : "\n");

    free(subject);
    free(issuer);
    free(not_before);
    free(not_after);
    OPENSSL_free(serial_hex);
    BN_free(serial);
    X509_free(cert);
    return true;
}

/* ---- softse-tool ca create ------------------------------------------------------------- */

int cmd_ca_create(const tool_command *cmd, tool_opts *opts)
{
    const ca_key_type *type = ca_key_type_find(opts->key_type);
    if (!type)
        return tool_usage_fail(cmd, "unknown key type \"%s\" (%s)", opts->key_type,
                               ca_key_type_names());
    int rc = ca_create(type, opts->subject, opts->out_key, opts->out_cert);
    if (rc == TOOL_OK)
        printf("CA key: %s\nCA certificate: %s\n", opts->out_key, opts->out_cert);
    return rc;
}
