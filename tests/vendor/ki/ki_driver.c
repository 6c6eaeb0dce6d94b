/*
 * ki_driver.c — the card's side of docs/spec.md §5 from the command line, for
 * the shell tests (ki-openssl.sh, ki-cli.sh) until softse-tool has a ki
 * command, and a throughput measurement run by hand.  The module comes
 * from $SOFTSE_MODULE, the store from $SOFTSE_STORE.
 *
 *   ki-driver init                                  a token "ki-card" with user PIN
 *   ki-driver derive MECH HASH SPKI LABEL [LEN]     token KI; prints c in hex
 *   ki-driver hmac LABEL HASH CHALLENGE_HEX         prints the card's HMAC(KI, challenge)
 *   ki-driver bench [SECONDS]                       derivations per second per mechanism
 *
 * MECH is rsa-raw, rsa-oaep or ec-elgamal; HASH sha1 or sha256; SPKI a
 * PEM or DER public key file.
 */
#include "p11_fixture.h"

#include "issuer-ki.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#define CARD_LABEL "ki-card"

static CK_FUNCTION_LIST_PTR f;

static void die(const char *what, CK_RV rv)
{
    fprintf(stderr, "ki-driver: %s: %s\n", what, fx_rv_name(rv));
    exit(1);
}

static void check(const char *what, CK_RV rv)
{
    if (rv != CKR_OK)
        die(what, rv);
}

static CK_MECHANISM_TYPE mech_of(const char *name)
{
    if (strcmp(name, "rsa-raw") == 0)
        return CKM_SE_KI_RSA_RAW;
    if (strcmp(name, "rsa-oaep") == 0)
        return CKM_SE_KI_RSA_OAEP;
    if (strcmp(name, "ec-elgamal") == 0)
        return CKM_SE_KI_EC_ELGAMAL;
    fprintf(stderr, "ki-driver: unknown mechanism %s\n", name);
    exit(2);
}

static CK_MECHANISM_TYPE hash_of(const char *name)
{
    if (strcmp(name, "sha1") == 0)
        return CKM_SHA_1;
    if (strcmp(name, "sha256") == 0)
        return CKM_SHA256;
    fprintf(stderr, "ki-driver: unknown hash %s\n", name);
    exit(2);
}

static void print_hex(const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", data[i]);
    putchar('\n');
}

/* The session of the card, user logged in. */
static CK_SESSION_HANDLE card_session(void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), CARD_LABEL);
    check("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &count));
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        check("C_GetTokenInfo", f->C_GetTokenInfo(slots[i], &info));
        if (!(info.flags & CKF_TOKEN_INITIALIZED) || memcmp(info.label, label, 32) != 0)
            continue;
        CK_SESSION_HANDLE session;
        check("C_OpenSession", fx_open(slots[i], true, &session));
        check("C_Login", fx_login(session, CKU_USER, FX_USER_PIN));
        return session;
    }
    fprintf(stderr, "ki-driver: no token \"%s\" (run ki-driver init)\n", CARD_LABEL);
    exit(1);
}

static int cmd_init(void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    check("C_GetSlotList", f->C_GetSlotList(CK_TRUE, slots, &count));
    for (CK_ULONG i = count; i-- > 0;) {
        CK_TOKEN_INFO info;
        check("C_GetTokenInfo", f->C_GetTokenInfo(slots[i], &info));
        if (info.flags & CKF_TOKEN_INITIALIZED)
            continue;
        check("C_InitToken", fx_init_token(slots[i], FX_SO_PIN, CARD_LABEL));
        check("C_InitPIN", fx_init_user_pin(slots[i], FX_SO_PIN, FX_USER_PIN));
        return 0;
    }
    fprintf(stderr, "ki-driver: no blank token\n");
    return 1;
}

static unsigned char *read_spki(const char *path, size_t *len)
{
    unsigned char *data = fx_read_file(path, len);
    if (!data) {
        fprintf(stderr, "ki-driver: cannot read %s\n", path);
        exit(1);
    }
    if (*len > 10 && memcmp(data, "-----BEGIN", 10) == 0) {
        BIO *bio = BIO_new_mem_buf(data, (int)*len);
        EVP_PKEY *key = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        free(data);
        unsigned char *der = NULL;
        int der_len = key ? i2d_PUBKEY(key, &der) : 0;
        EVP_PKEY_free(key);
        if (der_len <= 0) {
            fprintf(stderr, "ki-driver: %s is not a PEM public key\n", path);
            exit(1);
        }
        *len = (size_t)der_len;
        data = malloc(*len);
        memcpy(data, der, *len);
        OPENSSL_free(der);
    }
    return data;
}

static CK_RV derive(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                    unsigned char *spki, size_t spki_len, const char *label, CK_ULONG len,
                    CK_BBOOL token, unsigned char *c, CK_ULONG *c_len, CK_OBJECT_HANDLE *ki)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &token, sizeof(token)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
    };
    CK_SE_KI_PARAMS params = {hash, spki, spki_len, c, c_len};
    CK_MECHANISM m = {mech, &params, sizeof(params)};
    return f->C_GenerateKey(session, &m, tmpl, len ? 4 : 3, ki);
}

static int cmd_derive(int argc, char **argv)
{
    if (argc < 6 || argc > 7) {
        fprintf(stderr, "usage: ki-driver derive MECH HASH SPKI LABEL [LEN]\n");
        return 2;
    }
    size_t spki_len;
    unsigned char *spki = read_spki(argv[4], &spki_len);
    unsigned char c[1024];
    CK_ULONG c_len = sizeof(c);
    CK_OBJECT_HANDLE ki;
    CK_SESSION_HANDLE session = card_session();
    check("C_GenerateKey",
          derive(session, mech_of(argv[2]), hash_of(argv[3]), spki, spki_len, argv[5],
                 argc == 7 ? strtoul(argv[6], NULL, 10) : 0, CK_TRUE, c, &c_len, &ki));
    print_hex(c, c_len);
    free(spki);
    return 0;
}

static int cmd_hmac(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: ki-driver hmac LABEL HASH CHALLENGE_HEX\n");
        return 2;
    }
    CK_SESSION_HANDLE session = card_session();
    CK_OBJECT_HANDLE ki;
    CK_ATTRIBUTE find = {CKA_LABEL, argv[2], strlen(argv[2])};
    CK_ULONG found = 0;
    check("C_FindObjectsInit", f->C_FindObjectsInit(session, &find, 1));
    check("C_FindObjects", f->C_FindObjects(session, &ki, 1, &found));
    check("C_FindObjectsFinal", f->C_FindObjectsFinal(session));
    if (found != 1) {
        fprintf(stderr, "ki-driver: no key labelled %s\n", argv[2]);
        return 1;
    }
    long challenge_len = 0;
    unsigned char *challenge = OPENSSL_hexstr2buf(argv[4], &challenge_len);
    if (!challenge)
        return 2;
    unsigned char response[64];
    CK_ULONG response_len = sizeof(response);
    CK_MECHANISM hmac = {issuer_ki_hmac_mechanism(hash_of(argv[3])), NULL, 0};
    check("C_SignInit", f->C_SignInit(session, &hmac, ki));
    check("C_Sign",
          f->C_Sign(session, challenge, (CK_ULONG)challenge_len, response, &response_len));
    print_hex(response, response_len);
    OPENSSL_free(challenge);
    return 0;
}

/* ---- throughput (run by hand) ------------------------------------------------------- */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static EVP_PKEY *bench_key(const char *kind, unsigned long e)
{
    if (strncmp(kind, "P-", 2) == 0)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *bn_e = BN_new();
    BN_set_word(bn_e, e);
    EVP_PKEY_keygen_init(ctx);
    EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, atoi(kind));
    EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, bn_e);
    EVP_PKEY_generate(ctx, &key);
    BN_free(bn_e);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static void bench_one(CK_SESSION_HANDLE session, const char *name, CK_MECHANISM_TYPE mech,
                      const char *kind, unsigned long e, double seconds)
{
    EVP_PKEY *key = bench_key(kind, e);
    unsigned char *spki = NULL;
    int spki_len = i2d_PUBKEY(key, &spki);
    double rate[2], recover_rate;
    for (int token = 0; token < 2; token++) {
        unsigned long n = 0;
        double start = now(), end;
        do {
            unsigned char c[1024];
            CK_ULONG c_len = sizeof(c);
            CK_OBJECT_HANDLE ki;
            check("C_GenerateKey", derive(session, mech, CKM_SHA256, spki, (size_t)spki_len,
                                          "bench", 0, token ? CK_TRUE : CK_FALSE, c, &c_len, &ki));
            check("C_DestroyObject", f->C_DestroyObject(session, ki));
            n++;
        } while ((end = now()) - start < seconds);
        rate[token] = (double)n / (end - start);
    }
    {
        unsigned char c[1024], ki[32];
        CK_ULONG c_len = sizeof(c);
        CK_OBJECT_HANDLE object;
        check("C_GenerateKey", derive(session, mech, CKM_SHA256, spki, (size_t)spki_len, "bench", 0,
                                      CK_FALSE, c, &c_len, &object));
        unsigned long n = 0;
        double start = now(), end;
        do {
            size_t ki_len = sizeof(ki);
            check("issuer_ki_recover",
                  issuer_ki_recover(key, mech, CKM_SHA256, c, c_len, ki, &ki_len));
            n++;
        } while ((end = now()) - start < seconds);
        recover_rate = (double)n / (end - start);
    }
    printf("%-22s %-10s %10.0f/s %12.0f/s %12.0f/s\n", name, kind, rate[0], rate[1], recover_rate);
    fflush(stdout);
    OPENSSL_free(spki);
    EVP_PKEY_free(key);
}

/* The core's own cost for comparison: a plain 32-byte generic secret. */
static void bench_baseline(CK_SESSION_HANDLE session, double seconds)
{
    double rate[2];
    for (int token = 0; token < 2; token++) {
        CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
        CK_BBOOL on_token = token ? CK_TRUE : CK_FALSE;
        CK_ULONG len = 32;
        CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                               {CKA_TOKEN, &on_token, sizeof(on_token)},
                               {CKA_VALUE_LEN, &len, sizeof(len)}};
        CK_MECHANISM m = {CKM_GENERIC_SECRET_KEY_GEN, NULL, 0};
        unsigned long n = 0;
        double start = now(), end;
        do {
            CK_OBJECT_HANDLE key;
            check("C_GenerateKey", f->C_GenerateKey(session, &m, tmpl, 3, &key));
            check("C_DestroyObject", f->C_DestroyObject(session, key));
            n++;
        } while ((end = now()) - start < seconds);
        rate[token] = (double)n / (end - start);
    }
    printf("%-22s %-10s %10.0f/s %12.0f/s %14s\n", "(generic secret, core)", "-", rate[0], rate[1],
           "-");
}

static int cmd_bench(int argc, char **argv)
{
    double seconds = argc > 2 ? atof(argv[2]) : 2.0;
    CK_SESSION_HANDLE session = card_session();
    printf("%-22s %-10s %12s %14s %14s\n", "mechanism", "issuer key", "session KI", "token KI",
           "issuer recover");
    bench_baseline(session, seconds);
    bench_one(session, "CKM_SE_KI_RSA_RAW", CKM_SE_KI_RSA_RAW, "2048", 3, seconds);
    bench_one(session, "CKM_SE_KI_RSA_RAW", CKM_SE_KI_RSA_RAW, "2048", 65537, seconds);
    bench_one(session, "CKM_SE_KI_RSA_RAW", CKM_SE_KI_RSA_RAW, "3072", 3, seconds);
    bench_one(session, "CKM_SE_KI_RSA_OAEP", CKM_SE_KI_RSA_OAEP, "2048", 65537, seconds);
    bench_one(session, "CKM_SE_KI_RSA_OAEP", CKM_SE_KI_RSA_OAEP, "3072", 65537, seconds);
    bench_one(session, "CKM_SE_KI_EC_ELGAMAL", CKM_SE_KI_EC_ELGAMAL, "P-256", 0, seconds);
    bench_one(session, "CKM_SE_KI_EC_ELGAMAL", CKM_SE_KI_EC_ELGAMAL, "P-384", 0, seconds);
    bench_one(session, "CKM_SE_KI_EC_ELGAMAL", CKM_SE_KI_EC_ELGAMAL, "P-521", 0, seconds);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: ki-driver init|derive|hmac|bench ...\n");
        return 2;
    }
    f = fx_functions();
    check("C_Initialize", f->C_Initialize(NULL));
    int status;
    if (strcmp(argv[1], "init") == 0)
        status = cmd_init();
    else if (strcmp(argv[1], "derive") == 0)
        status = cmd_derive(argc, argv);
    else if (strcmp(argv[1], "hmac") == 0)
        status = cmd_hmac(argc, argv);
    else if (strcmp(argv[1], "bench") == 0)
        status = cmd_bench(argc, argv);
    else {
        fprintf(stderr, "ki-driver: unknown command %s\n", argv[1]);
        status = 2;
    }
    f->C_Finalize(NULL);
    return status;
}
