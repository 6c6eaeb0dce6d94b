/*
 * gkea_driver.c — gkea-card: the card side of CKM_SE_GKEA as files, for
 * gkea-cli.sh (softse-tool gkea will replace it).  The module is
 * $SOFTSE_MODULE, the store $SOFTSE_STORE.
 *
 *   gkea-card generate --server-pub FILE --nonce HEX --out-dir DIR
 *                      [--identity ec|rsa] [--k-len N]
 *       initializes the store's blank token, manufactures it with a CA made
 *       here (DIR/ca.pem), moves it to OPERATIONAL and runs GKEA as the
 *       user; K is a token object labelled "gkea-k".  Writes DIR/ek.bin,
 *       DIR/ak.bin, DIR/se-cert.der (read back from the token) and
 *       DIR/spki.der (the bytes sent).
 *   gkea-card import --wrapped FILE --mech gcm|kwp --salt HEX --info STR --data STR
 *       derives the ENC key from "gkea-k" with CKM_HKDF_DERIVE (AES-256),
 *       C_UnwrapKey's the issuer's secret as a generic secret and prints
 *       HMAC-SHA256(secret, data) in hex.
 *
 * Exit status: 0 done, 1 a PKCS#11 call failed (named on stderr), 2 usage.
 */
#include "p11_fixture.h"

#include "gkea_card.h"
#include "hex.h"

#include <getopt.h>
#include <openssl/pem.h>
#include <string.h>

#define K_LABEL "gkea-k"
#define ENC_LEN 32
#define GCM_IV_LEN 12
#define GCM_TAG_BITS 128

static int failed(const char *what, CK_RV rv)
{
    fprintf(stderr, "gkea-card: %s: %s\n", what, fx_rv_name(rv));
    return 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: gkea-card generate --server-pub FILE --nonce HEX --out-dir DIR "
                    "[--identity ec|rsa] [--k-len N]\n"
                    "       gkea-card import --wrapped FILE --mech gcm|kwp --salt HEX "
                    "--info STR --data STR\n");
    return 2;
}

static bool parse_hex(const char *text, unsigned char *out, size_t max, size_t *len)
{
    return se_hex_decode(text, strlen(text), out, max, len);
}

static bool write_all(const char *dir, const char *name, const void *data, size_t len)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(data, 1, len, f) == len;
    if (f)
        ok = fclose(f) == 0 && ok;
    return ok;
}

/* The server key from PEM or DER SubjectPublicKeyInfo, as DER. */
static bool load_spki(const char *path, unsigned char **der, size_t *len)
{
    size_t file_len = 0;
    unsigned char *data = fx_read_file(path, &file_len);
    if (!data)
        return false;
    BIO *bio = BIO_new_mem_buf(data, (int)file_len);
    EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    bool ok;
    if (key) {
        ok = gkea_spki(key, der, len);
        EVP_PKEY_free(key);
        free(data);
    } else {
        *der = data; /* DER: sent exactly as given */
        *len = file_len;
        ok = true;
    }
    return ok;
}

static CK_SLOT_ID find_slot(bool blank)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    if (fx_functions()->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK)
        return (CK_SLOT_ID)-1;
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        if (fx_functions()->C_GetTokenInfo(slots[i], &info) != CKR_OK)
            continue;
        if (!(info.flags & CKF_TOKEN_INITIALIZED) == blank)
            return slots[i];
    }
    return (CK_SLOT_ID)-1;
}

static int generate(int argc, char **argv)
{
    static const struct option options[] = {
        {"server-pub", required_argument, NULL, 's'}, {"nonce", required_argument, NULL, 'n'},
        {"out-dir", required_argument, NULL, 'o'},    {"identity", required_argument, NULL, 'i'},
        {"k-len", required_argument, NULL, 'l'},      {NULL, 0, NULL, 0},
    };
    const char *server_pub = NULL, *nonce_hex = NULL, *dir = NULL;
    gkea_identity identity = GKEA_IDENTITY_EC_P256;
    CK_ULONG k_len = 32;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 's':
            server_pub = optarg;
            break;
        case 'n':
            nonce_hex = optarg;
            break;
        case 'o':
            dir = optarg;
            break;
        case 'i':
            identity = strcmp(optarg, "rsa") == 0 ? GKEA_IDENTITY_RSA2048 : GKEA_IDENTITY_EC_P256;
            break;
        case 'l':
            k_len = strtoul(optarg, NULL, 10);
            break;
        default:
            return usage();
        }
    }
    unsigned char nonce[128], *spki = NULL;
    size_t nonce_len = 0, spki_len = 0;
    if (!server_pub || !nonce_hex || !dir ||
        !parse_hex(nonce_hex, nonce, sizeof(nonce), &nonce_len))
        return usage();
    if (!load_spki(server_pub, &spki, &spki_len))
        return failed("reading the server key", CKR_ARGUMENTS_BAD);

    gkea_ca ca;
    if (!gkea_ca_new(&ca, "softse gkea-card manufacturer CA"))
        return failed("making the CA", CKR_FUNCTION_FAILED);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/ca.pem", dir);
    FILE *f = fopen(path, "w");
    if (!f || !PEM_write_X509(f, ca.cert))
        return failed("writing ca.pem", CKR_FUNCTION_FAILED);
    fclose(f);

    CK_RV rv = fx_functions()->C_Initialize(NULL);
    if (rv != CKR_OK)
        return failed("C_Initialize", rv);
    CK_SLOT_ID slot = find_slot(true);
    rv = fx_init_token(slot, FX_SO_PIN, FX_TOKEN_LABEL);
    if (rv != CKR_OK)
        return failed("C_InitToken", rv);
    if ((rv = fx_init_user_pin(slot, FX_SO_PIN, FX_USER_PIN)) != CKR_OK)
        return failed("C_InitPIN", rv);
    if ((rv = gkea_manufacture(slot, &ca, identity, NULL)) != CKR_OK)
        return failed("manufacture", rv);
    if ((rv = gkea_set_lifecycle(slot, SOFTSE_LIFECYCLE_OPERATIONAL)) != CKR_OK)
        return failed("lifecycle OPERATIONAL", rv);
    CK_SESSION_HANDLE session;
    if ((rv = fx_open(slot, true, &session)) != CKR_OK ||
        (rv = fx_login(session, CKU_USER, FX_USER_PIN)) != CKR_OK)
        return failed("user session", rv);

    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, CKK_GENERIC_SECRET, k_len, true);
    tmpl.attrs[tmpl.count++] = (CK_ATTRIBUTE){CKA_LABEL, K_LABEL, strlen(K_LABEL)};
    static gkea_call call;
    if ((rv = gkea_generate(session, CK_INVALID_HANDLE, spki, spki_len, nonce, nonce_len,
                            tmpl.attrs, tmpl.count, &call)) != CKR_OK)
        return failed("C_GenerateKey(CKM_SE_GKEA)", rv);
    unsigned char *cert = NULL;
    size_t cert_len = 0;
    if ((rv = gkea_read_cert(session, &cert, &cert_len)) != CKR_OK)
        return failed("reading the attestation certificate", rv);
    if (!write_all(dir, "ek.bin", call.ek, call.ek_len) ||
        !write_all(dir, "ak.bin", call.ak, call.ak_len) ||
        !write_all(dir, "se-cert.der", cert, cert_len) ||
        !write_all(dir, "spki.der", spki, spki_len))
        return failed("writing the outputs", CKR_FUNCTION_FAILED);
    free(cert);
    free(spki);
    gkea_ca_free(&ca);
    fx_functions()->C_Finalize(NULL);
    return 0;
}

static int import(int argc, char **argv)
{
    static const struct option options[] = {
        {"wrapped", required_argument, NULL, 'w'}, {"mech", required_argument, NULL, 'm'},
        {"salt", required_argument, NULL, 's'},    {"info", required_argument, NULL, 'i'},
        {"data", required_argument, NULL, 'd'},    {NULL, 0, NULL, 0},
    };
    const char *wrapped_path = NULL, *mech_name = NULL, *salt_hex = NULL, *info = NULL;
    const char *data = NULL;
    for (int c; (c = getopt_long(argc, argv, "", options, NULL)) != -1;) {
        switch (c) {
        case 'w':
            wrapped_path = optarg;
            break;
        case 'm':
            mech_name = optarg;
            break;
        case 's':
            salt_hex = optarg;
            break;
        case 'i':
            info = optarg;
            break;
        case 'd':
            data = optarg;
            break;
        default:
            return usage();
        }
    }
    unsigned char salt[128];
    size_t salt_len = 0, wrapped_len = 0;
    if (!wrapped_path || !mech_name || !salt_hex || !info || !data ||
        !parse_hex(salt_hex, salt, sizeof(salt), &salt_len))
        return usage();
    bool gcm = strcmp(mech_name, "gcm") == 0;
    unsigned char *wrapped = fx_read_file(wrapped_path, &wrapped_len);
    if (!wrapped || (gcm && wrapped_len <= GCM_IV_LEN))
        return failed("reading the wrapped secret", CKR_ARGUMENTS_BAD);

    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_RV rv = f->C_Initialize(NULL);
    if (rv != CKR_OK)
        return failed("C_Initialize", rv);
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE k, enc, secret;
    if ((rv = fx_open(find_slot(false), true, &session)) != CKR_OK ||
        (rv = fx_login(session, CKU_USER, FX_USER_PIN)) != CKR_OK)
        return failed("user session", rv);
    if ((rv = gkea_find(session, CKO_SECRET_KEY, K_LABEL, &k)) != CKR_OK)
        return failed("finding K", rv);
    if ((rv = gkea_card_hkdf(session, k, salt, salt_len, info, CKK_AES, ENC_LEN, &enc)) != CKR_OK)
        return failed("C_DeriveKey(CKM_HKDF_DERIVE)", rv);

    CK_GCM_PARAMS_V3 params = {wrapped, GCM_IV_LEN, GCM_IV_LEN * 8, NULL, 0, GCM_TAG_BITS};
    CK_MECHANISM mech = gcm ? (CK_MECHANISM){CKM_AES_GCM, &params, sizeof(params)}
                            : (CK_MECHANISM){CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_SIGN, &yes, sizeof(yes)}};
    size_t skip = gcm ? GCM_IV_LEN : 0;
    if ((rv = f->C_UnwrapKey(session, &mech, enc, wrapped + skip, wrapped_len - skip, tmpl, 3,
                             &secret)) != CKR_OK)
        return failed("C_UnwrapKey", rv);
    CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
    unsigned char mac[32];
    CK_ULONG mac_len = sizeof(mac);
    if ((rv = f->C_SignInit(session, &hmac, secret)) != CKR_OK ||
        (rv = f->C_Sign(session, (CK_BYTE_PTR)data, strlen(data), mac, &mac_len)) != CKR_OK)
        return failed("C_Sign(CKM_SHA256_HMAC)", rv);
    for (CK_ULONG i = 0; i < mac_len; i++)
        printf("%02x", mac[i]);
    printf("\n");
    free(wrapped);
    f->C_Finalize(NULL);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return usage();
    if (strcmp(argv[1], "generate") == 0)
        return generate(argc - 1, argv + 1);
    if (strcmp(argv[1], "import") == 0)
        return import(argc - 1, argv + 1);
    return usage();
}
