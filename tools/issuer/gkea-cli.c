/*
 * gkea-cli.c — the GKEA commands of softse-issuer (docs/spec.md §4, seed 001).
 *
 *   keygen       the server's key pair (RSA or EC) as PEM files
 *   gkea-verify  the server's step 4: check the card's EK, AK and SE
 *                certificate and only then write K or keys derived from it
 *   wrap-secret  encrypt a secret under a derived key for C_UnwrapKey
 *
 * Exit status: 0 done, 1 refused (bad chain, bad attestation, decryption
 * failed…), 2 usage or file errors.
 */
#include "cli.h"
#include "hex.h"
#include "issuer-gkea.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define FILE_MAX (1024 * 1024)
#define DERIVED_DEFAULT_LEN 32
#define DERIVED_MAX_LEN (255 * 32) /* RFC 5869 §2.3 with SHA-256 */

/* ---- small helpers ------------------------------------------------------------ */

static int complain(const char *cmd, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int complain(const char *cmd, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "softse-issuer: %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return status;
}

/* Even-length hex → malloc'ed bytes; false when malformed. */
static bool parse_hex(const char *text, unsigned char **out, size_t *len)
{
    size_t n = strlen(text);
    *out = malloc(n / 2 + 1);
    if (*out && se_hex_decode(text, n, *out, n / 2, len))
        return true;
    free(*out);
    *out = NULL;
    return false;
}

/* A whole file (at most FILE_MAX bytes) into malloc'ed memory. */
static bool read_file(const char *path, unsigned char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    unsigned char *buf = malloc(FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, FILE_MAX + 1, f) : 0;
    bool ok = buf && !ferror(f) && n <= FILE_MAX;
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    *out = buf;
    *len = n;
    return true;
}

/* Secrets and keys are written readable by the owner only. */
static bool write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return false;
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(fd);
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    return close(fd) == 0;
}

static FILE *open_private(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (fd >= 0 && !f)
        close(fd);
    return f;
}

static bool parse_size(const char *text, size_t min, size_t max, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || !end || *end || end == text || value < min || value > max)
        return false;
    *out = value;
    return true;
}

/* ---- keygen --------------------------------------------------------------------- */

static const struct {
    const char *name;
    const char *algorithm;
    const char *curve; /* EC */
    size_t bits;       /* RSA */
} key_types[] = {
    {"rsa2048", "RSA", NULL, 2048}, {"rsa3072", "RSA", NULL, 3072}, {"ec-p256", "EC", "P-256", 0},
    {"ec-p384", "EC", "P-384", 0},  {"ec-p521", "EC", "P-521", 0},
};

static void keygen_usage(FILE *out)
{
    fprintf(out, "usage: softse-issuer keygen --type TYPE --out KEY.pem --pub PUB.pem "
                 "[--pub-der PUB.der]\n\n"
                 "Makes the server's key pair for CKM_SE_GKEA (docs/spec.md §4).\n"
                 "  --type      rsa2048, rsa3072, ec-p256, ec-p384 or ec-p521\n"
                 "  --out       private key, PEM PKCS#8 (mode 0600)\n"
                 "  --pub       public key, PEM SubjectPublicKeyInfo\n"
                 "  --pub-der   public key, DER SubjectPublicKeyInfo: the bytes the card\n"
                 "              takes as pServerPublicKey\n");
}

int cmd_keygen(int argc, char **argv)
{
    static const struct option options[] = {
        {"type", required_argument, NULL, 't'}, {"out", required_argument, NULL, 'o'},
        {"pub", required_argument, NULL, 'p'},  {"pub-der", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *type = NULL, *out = NULL, *pub = NULL, *pub_der = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 't':
            type = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'p':
            pub = optarg;
            break;
        case 'd':
            pub_der = optarg;
            break;
        case 'h':
            keygen_usage(stdout);
            return 0;
        default:
            keygen_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!type || !out || !pub || optind != argc) {
        keygen_usage(stderr);
        return EXIT_USAGE;
    }
    size_t i = 0;
    while (i < sizeof(key_types) / sizeof(key_types[0]) && strcmp(type, key_types[i].name) != 0)
        i++;
    if (i == sizeof(key_types) / sizeof(key_types[0]))
        return complain(argv[0], EXIT_USAGE, "unknown key type \"%s\"", type);

    EVP_PKEY *key = key_types[i].curve ? EVP_PKEY_Q_keygen(NULL, NULL, "EC", key_types[i].curve)
                                       : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", key_types[i].bits);
    if (!key)
        return complain(argv[0], EXIT_USAGE, "key generation failed");
    int status = 0;
    FILE *f = open_private(out);
    if (!f || !PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        status = complain(argv[0], EXIT_USAGE, "cannot write %s", out);
    if (f)
        fclose(f);
    f = status ? NULL : fopen(pub, "w");
    if (!status && (!f || !PEM_write_PUBKEY(f, key)))
        status = complain(argv[0], EXIT_USAGE, "cannot write %s", pub);
    if (f)
        fclose(f);
    if (!status && pub_der) {
        unsigned char *der = NULL;
        int len = i2d_PUBKEY(key, &der);
        if (len <= 0 || !write_file(pub_der, der, (size_t)len))
            status = complain(argv[0], EXIT_USAGE, "cannot write %s", pub_der);
        OPENSSL_free(der);
    }
    EVP_PKEY_free(key);
    return status;
}

/* ---- gkea-verify ---------------------------------------------------------------- */

typedef struct verify_options {
    const char *key, *ca, *chain, *cert, *nonce_hex, *ek, *ak, *spki, *out_k;
    const char *derive_enc, *derive_mac, *salt_hex, *info_enc, *info_mac;
    size_t k_len, enc_len, mac_len;
} verify_options;

static void verify_usage(FILE *out)
{
    fprintf(out, "usage: softse-issuer gkea-verify --key KEY.pem --ca CA.pem --cert SE-CERT \\\n"
                 "         --nonce HEX --ek FILE --ak FILE [--out-k FILE] [--k-len N]\n"
                 "         [--chain FILE] [--spki FILE]\n"
                 "         [--derive-enc FILE --info-enc STR [--enc-len N]]\n"
                 "         [--derive-mac FILE --info-mac STR [--mac-len N]] [--salt HEX]\n\n"
                 "Checks what a card returned for CKM_SE_GKEA (docs/spec.md §4) and recovers K:\n"
                 "the SE certificate must chain to the manufacturer CA, EK must decrypt\n"
                 "with KEY, and AK must be the SE's signature over K, this server's public\n"
                 "key, the nonce and EK.  Prints \"OK\" and writes the outputs only then;\n"
                 "otherwise exits 1 with the reason (bad chain, decryption failed, bad\n"
                 "attestation).\n"
                 "  --key         the server's private key (PEM), the one whose public key\n"
                 "                was sent to the card\n"
                 "  --ca          manufacturer CA certificate(s), PEM: the trust anchors\n"
                 "  --chain       intermediate certificates, PEM\n"
                 "  --cert        the SE attestation certificate, PEM or DER\n"
                 "  --nonce       the nonce sent to the card (16..64 bytes, hex)\n"
                 "  --ek, --ak    the card's EK and AK (binary files)\n"
                 "  --spki        the exact DER SubjectPublicKeyInfo sent (default: KEY's)\n"
                 "  --k-len       the CKA_VALUE_LEN asked of the card (default: the attested one)\n"
                 "  --out-k       write K (binary, mode 0600)\n"
                 "  --derive-enc, --derive-mac\n"
                 "                write HKDF-SHA256(K, salt, info) keys, as the card's\n"
                 "                CKM_HKDF_DERIVE (bExtract and bExpand TRUE, CKM_SHA256)\n"
                 "  --salt        HKDF salt (hex; none: CKF_HKDF_SALT_NULL)\n"
                 "  --info-enc, --info-mac\n"
                 "                HKDF info of each key (a string, its bytes without NUL)\n"
                 "  --enc-len, --mac-len\n"
                 "                derived key lengths in bytes (default 32)\n");
}

static int parse_verify(int argc, char **argv, verify_options *o)
{
    static const struct option options[] = {
        {"key", required_argument, NULL, 'k'},
        {"ca", required_argument, NULL, 'c'},
        {"chain", required_argument, NULL, 'C'},
        {"cert", required_argument, NULL, 'e'},
        {"nonce", required_argument, NULL, 'n'},
        {"ek", required_argument, NULL, 'E'},
        {"ak", required_argument, NULL, 'A'},
        {"spki", required_argument, NULL, 's'},
        {"out-k", required_argument, NULL, 'o'},
        {"k-len", required_argument, NULL, 'l'},
        {"derive-enc", required_argument, NULL, '1'},
        {"derive-mac", required_argument, NULL, '2'},
        {"salt", required_argument, NULL, 'S'},
        {"info-enc", required_argument, NULL, '3'},
        {"info-mac", required_argument, NULL, '4'},
        {"enc-len", required_argument, NULL, '5'},
        {"mac-len", required_argument, NULL, '6'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->enc_len = o->mac_len = DERIVED_DEFAULT_LEN;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'k':
            o->key = optarg;
            break;
        case 'c':
            o->ca = optarg;
            break;
        case 'C':
            o->chain = optarg;
            break;
        case 'e':
            o->cert = optarg;
            break;
        case 'n':
            o->nonce_hex = optarg;
            break;
        case 'E':
            o->ek = optarg;
            break;
        case 'A':
            o->ak = optarg;
            break;
        case 's':
            o->spki = optarg;
            break;
        case 'o':
            o->out_k = optarg;
            break;
        case '1':
            o->derive_enc = optarg;
            break;
        case '2':
            o->derive_mac = optarg;
            break;
        case 'S':
            o->salt_hex = optarg;
            break;
        case '3':
            o->info_enc = optarg;
            break;
        case '4':
            o->info_mac = optarg;
            break;
        case 'l':
            if (!parse_size(optarg, ISSUER_GKEA_K_MIN, ISSUER_GKEA_K_MAX, &o->k_len))
                return complain(argv[0], EXIT_USAGE, "--k-len: %d..%d", ISSUER_GKEA_K_MIN,
                                ISSUER_GKEA_K_MAX);
            break;
        case '5':
        case '6':
            if (!parse_size(optarg, 1, DERIVED_MAX_LEN, c == '5' ? &o->enc_len : &o->mac_len))
                return complain(argv[0], EXIT_USAGE, "--%s-len: 1..%d", c == '5' ? "enc" : "mac",
                                DERIVED_MAX_LEN);
            break;
        case 'h':
            verify_usage(stdout);
            return -1;
        default:
            verify_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!o->key || !o->ca || !o->cert || !o->nonce_hex || !o->ek || !o->ak || optind != argc) {
        verify_usage(stderr);
        return EXIT_USAGE;
    }
    if ((o->derive_enc && !o->info_enc) || (o->derive_mac && !o->info_mac))
        return complain(argv[0], EXIT_USAGE,
                        "--derive-enc needs --info-enc, --derive-mac "
                        "needs --info-mac");
    return 0;
}

static EVP_PKEY *load_private_key(const char *path)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *key = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    return key;
}

/* A certificate in PEM or DER. */
static X509 *load_cert(const char *path)
{
    unsigned char *data = NULL;
    size_t len = 0;
    if (!read_file(path, &data, &len))
        return NULL;
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
    if (!cert) {
        const unsigned char *p = data;
        cert = d2i_X509(NULL, &p, (long)len);
        if (cert && p != data + len) {
            X509_free(cert);
            cert = NULL;
        }
    }
    BIO_free(bio);
    free(data);
    ERR_clear_error();
    return cert;
}

/* Every certificate of a PEM file; NULL when it has none. */
static STACK_OF(X509) * load_certs(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    STACK_OF(X509) *certs = sk_X509_new_null();
    for (X509 *cert; certs && (cert = PEM_read_X509(f, NULL, NULL, NULL));)
        if (!sk_X509_push(certs, cert))
            X509_free(cert);
    fclose(f);
    ERR_clear_error();
    if (certs && sk_X509_num(certs) == 0) {
        sk_X509_free(certs);
        certs = NULL;
    }
    return certs;
}

/* The derived keys and K, written only after everything verified. */
static int write_outputs(const char *cmd, const verify_options *o, const unsigned char *k,
                         size_t k_len)
{
    unsigned char *salt = NULL, *derived = NULL;
    size_t salt_len = 0;
    int status = 0;
    if (o->salt_hex && !parse_hex(o->salt_hex, &salt, &salt_len))
        return complain(cmd, EXIT_USAGE, "--salt is not hex");
    const struct {
        const char *path, *info;
        size_t len;
    } keys[] = {{o->derive_enc, o->info_enc, o->enc_len}, {o->derive_mac, o->info_mac, o->mac_len}};
    for (size_t i = 0; status == 0 && i < 2; i++) {
        if (!keys[i].path)
            continue;
        derived = OPENSSL_malloc(keys[i].len);
        if (!derived ||
            issuer_gkea_hkdf(k, k_len, salt, salt_len, (const unsigned char *)keys[i].info,
                             strlen(keys[i].info), derived, keys[i].len) != ISSUER_GKEA_OK)
            status = complain(cmd, EXIT_USAGE, "HKDF failed");
        else if (!write_file(keys[i].path, derived, keys[i].len))
            status = complain(cmd, EXIT_USAGE, "cannot write %s", keys[i].path);
        OPENSSL_clear_free(derived, keys[i].len);
        derived = NULL;
    }
    if (status == 0 && o->out_k && !write_file(o->out_k, k, k_len))
        status = complain(cmd, EXIT_USAGE, "cannot write %s", o->out_k);
    free(salt);
    return status;
}

int cmd_gkea_verify(int argc, char **argv)
{
    verify_options o;
    int status = parse_verify(argc, argv, &o);
    if (status != 0)
        return status < 0 ? 0 : status;

    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *anchors = NULL, *chain = NULL;
    X509_STORE *store = NULL;
    unsigned char *nonce = NULL, *ek = NULL, *ak = NULL, *spki = NULL;
    size_t nonce_len = 0, ek_len = 0, ak_len = 0, spki_len = 0;
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len = o.k_len;
    char why[256];

    if (!(key = load_private_key(o.key)))
        status = complain(argv[0], EXIT_USAGE, "cannot read the private key %s", o.key);
    else if (!(anchors = load_certs(o.ca)))
        status = complain(argv[0], EXIT_USAGE, "no certificate in %s", o.ca);
    else if (o.chain && !(chain = load_certs(o.chain)))
        status = complain(argv[0], EXIT_USAGE, "no certificate in %s", o.chain);
    else if (!(cert = load_cert(o.cert)))
        status = complain(argv[0], EXIT_USAGE, "cannot read the certificate %s", o.cert);
    else if (!parse_hex(o.nonce_hex, &nonce, &nonce_len))
        status = complain(argv[0], EXIT_USAGE, "--nonce is not hex");
    else if (!read_file(o.ek, &ek, &ek_len))
        status = complain(argv[0], EXIT_USAGE, "cannot read %s", o.ek);
    else if (!read_file(o.ak, &ak, &ak_len))
        status = complain(argv[0], EXIT_USAGE, "cannot read %s", o.ak);
    else if (o.spki && !read_file(o.spki, &spki, &spki_len))
        status = complain(argv[0], EXIT_USAGE, "cannot read %s", o.spki);
    else if (!(store = X509_STORE_new()))
        status = complain(argv[0], EXIT_USAGE, "out of memory");
    for (int i = 0; status == 0 && i < sk_X509_num(anchors); i++)
        if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i)))
            status = complain(argv[0], EXIT_USAGE, "cannot use the CA certificates");
    if (status != 0)
        goto out;

    issuer_gkea_status verdict =
        issuer_gkea_verify(key, spki, spki_len, cert, chain, store, nonce, nonce_len, ek, ek_len,
                           ak, ak_len, k, &k_len, why, sizeof(why));
    if (verdict == ISSUER_GKEA_BAD_INPUT) {
        status = complain(argv[0], EXIT_USAGE, "%s", why);
    } else if (verdict != ISSUER_GKEA_OK) {
        status = complain(argv[0], EXIT_REFUSED, "%s: %s", issuer_gkea_status_text(verdict), why);
    } else {
        status = write_outputs(argv[0], &o, k, k_len);
        if (status == 0)
            printf("OK\n");
    }
out:
    OPENSSL_cleanse(k, sizeof(k));
    X509_STORE_free(store);
    sk_X509_pop_free(anchors, X509_free);
    sk_X509_pop_free(chain, X509_free);
    X509_free(cert);
    EVP_PKEY_free(key);
    free(nonce);
    free(ek);
    free(ak);
    free(spki);
    return status;
}

/* ---- wrap-secret ------------------------------------------------------------------ */

static void wrap_usage(FILE *out)
{
    fprintf(out, "usage: softse-issuer wrap-secret --key-file KEY.bin --mech gcm|kwp\n"
                 "         (--secret HEX | --in FILE) --out FILE [--iv HEX]\n\n"
                 "Encrypts a secret for the card's C_UnwrapKey under a key derived from K\n"
                 "(an AES key of 16, 24 or 32 bytes, e.g. gkea-verify --derive-enc).\n"
                 "  --mech gcm   CKM_AES_GCM: writes IV(12) || ciphertext || tag(16); the card\n"
                 "               passes the IV in CK_GCM_PARAMS (ulTagBits 128, no AAD) and\n"
                 "               the rest as the wrapped key\n"
                 "  --mech kwp   CKM_AES_KEY_WRAP_KWP (RFC 5649)\n"
                 "  --iv         the GCM IV, 12 bytes hex (default: random)\n");
}

int cmd_wrap_secret(int argc, char **argv)
{
    static const struct option options[] = {
        {"key-file", required_argument, NULL, 'k'}, {"mech", required_argument, NULL, 'm'},
        {"secret", required_argument, NULL, 's'},   {"in", required_argument, NULL, 'i'},
        {"out", required_argument, NULL, 'o'},      {"iv", required_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
    };
    const char *key_path = NULL, *mech_name = NULL, *secret_hex = NULL, *in = NULL, *out = NULL;
    const char *iv_hex = NULL;
    optind = 1;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'k':
            key_path = optarg;
            break;
        case 'm':
            mech_name = optarg;
            break;
        case 's':
            secret_hex = optarg;
            break;
        case 'i':
            in = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case 'v':
            iv_hex = optarg;
            break;
        case 'h':
            wrap_usage(stdout);
            return 0;
        default:
            wrap_usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (!key_path || !mech_name || !out || !secret_hex == !in || optind != argc) {
        wrap_usage(stderr);
        return EXIT_USAGE;
    }
    issuer_wrap_mech mech;
    if (strcmp(mech_name, "gcm") == 0)
        mech = ISSUER_WRAP_GCM;
    else if (strcmp(mech_name, "kwp") == 0)
        mech = ISSUER_WRAP_KWP;
    else
        return complain(argv[0], EXIT_USAGE, "--mech: gcm or kwp");

    unsigned char *key = NULL, *secret = NULL, *iv = NULL, *wrapped = NULL;
    size_t key_len = 0, secret_len = 0, iv_len = 0, wrapped_len = 0;
    int status = 0;
    if (!read_file(key_path, &key, &key_len) || (key_len != 16 && key_len != 24 && key_len != 32))
        status =
            complain(argv[0], EXIT_USAGE, "%s: not an AES key of 16, 24 or 32 bytes", key_path);
    else if (secret_hex ? !parse_hex(secret_hex, &secret, &secret_len)
                        : !read_file(in, &secret, &secret_len))
        status = complain(argv[0], EXIT_USAGE, "cannot read the secret");
    else if (secret_len == 0)
        status = complain(argv[0], EXIT_USAGE, "the secret is empty");
    else if (iv_hex && (mech != ISSUER_WRAP_GCM || !parse_hex(iv_hex, &iv, &iv_len) ||
                        iv_len != ISSUER_GCM_IV_LEN))
        status = complain(argv[0], EXIT_USAGE, "--iv: %d bytes hex, with --mech gcm only",
                          ISSUER_GCM_IV_LEN);
    else if (issuer_gkea_wrap(mech, key, key_len, iv, secret, secret_len, &wrapped, &wrapped_len) !=
             ISSUER_GKEA_OK)
        status = complain(argv[0], EXIT_USAGE, "encryption failed");
    else if (!write_file(out, wrapped, wrapped_len))
        status = complain(argv[0], EXIT_USAGE, "cannot write %s", out);
    if (key)
        OPENSSL_cleanse(key, key_len);
    if (secret)
        OPENSSL_cleanse(secret, secret_len);
    free(key);
    free(secret);
    free(iv);
    OPENSSL_free(wrapped);
    return status;
}
