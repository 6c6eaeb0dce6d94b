/*
 * ki-cli.c — the KI commands of softse-issuer (docs/spec.md §5, seed 000).
 *
 *   ki-recover  the issuer's step: "Id c" lines from the bureau → "Id KI"
 *   ki-batch    a personalization bureau simulated end to end: N cards
 *               derive KI from the issuer's public key, the issuer recovers
 *               each KI and checks the card by challenge-response
 *
 * ki-batch is a PKCS#11 client: it dlopen()s the module like any
 * consumer and uses nothing of its internals.
 */
#include <pkcs11.h>

#include "cli.h"
#include "hex.h"
#include "names.h"
#include "issuer-ki.h"

#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KI_C_MAX_LEN 1024 /* RSA-8192 */
#define KI_MAX_LEN 64
#define CHALLENGE_LEN 32
#define BATCH_SO_PIN "12345678"
#define BATCH_USER_PIN "123456"
#define BATCH_PIN_KDF_ITERATIONS "1000"
#define PROGRESS_WIDTH 40

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
} mech_names[] = {
    {"rsa-raw", CKM_SE_KI_RSA_RAW},
    {"rsa-oaep", CKM_SE_KI_RSA_OAEP},
    {"ec-elgamal", CKM_SE_KI_EC_ELGAMAL},
};

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
} hash_names[] = {
    {"sha1", CKM_SHA_1},
    {"sha256", CKM_SHA256},
};

/* ---- options shared by both commands ------------------------------------- */

typedef struct ki_options {
    CK_MECHANISM_TYPE mech;
    CK_MECHANISM_TYPE hash;
    size_t ki_len; /* 0: the hash length */
    const char *key_path;
    const char *in_path;
    const char *module_path;
    const char *store;
    const char *out_path;
    unsigned long tokens;
} ki_options;

static bool parse_mech(const char *text, CK_MECHANISM_TYPE *mech)
{
    for (size_t i = 0; i < sizeof(mech_names) / sizeof(mech_names[0]); i++)
        if (strcmp(text, mech_names[i].name) == 0) {
            *mech = mech_names[i].mech;
            return true;
        }
    return false;
}

static bool parse_hash(const char *text, CK_MECHANISM_TYPE *hash)
{
    for (size_t i = 0; i < sizeof(hash_names) / sizeof(hash_names[0]); i++)
        if (strcmp(text, hash_names[i].name) == 0) {
            *hash = hash_names[i].mech;
            return true;
        }
    return false;
}

static bool parse_count(const char *text, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long value = strtoul(text, &end, 10);
    if (errno || end == text || *end || value == 0 || value > max || text[0] == '-')
        return false;
    *out = value;
    return true;
}

/* Returns 0 when parsed, 2 (usage error) otherwise. */
static int parse_options(int argc, char **argv, ki_options *o, const char *usage)
{
    static const struct option longs[] = {
        {"key", required_argument, NULL, 'k'},
        {"mech", required_argument, NULL, 'm'},
        {"hash", required_argument, NULL, 'H'},
        {"len", required_argument, NULL, 'l'},
        {"in", required_argument, NULL, 'i'},
        {"module", required_argument, NULL, 'M'},
        {"tokens", required_argument, NULL, 'n'},
        {"store", required_argument, NULL, 's'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned long value = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        bool ok = true;
        switch (opt) {
        case 'k':
            o->key_path = optarg;
            break;
        case 'm':
            ok = parse_mech(optarg, &o->mech);
            break;
        case 'H':
            ok = parse_hash(optarg, &o->hash);
            break;
        case 'l':
            ok = parse_count(optarg, KI_MAX_LEN, &value);
            o->ki_len = value;
            break;
        case 'i':
            o->in_path = optarg;
            break;
        case 'M':
            o->module_path = optarg;
            break;
        case 'n':
            ok = parse_count(optarg, 1000000, &o->tokens);
            break;
        case 's':
            o->store = optarg;
            break;
        case 'o':
            o->out_path = optarg;
            break;
        case 'h':
            printf("usage: softse-issuer %s %s\n", argv[0], usage);
            exit(0);
        default:
            ok = false;
            break;
        }
        if (!ok) {
            if (opt != '?')
                fprintf(stderr, "softse-issuer %s: bad value \"%s\"\n", argv[0], optarg);
            fprintf(stderr, "usage: softse-issuer %s %s\n", argv[0], usage);
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "usage: softse-issuer %s %s\n", argv[0], usage);
        return 2;
    }
    size_t hash_len = issuer_ki_hash_len(o->hash);
    if (o->ki_len == 0)
        o->ki_len = hash_len;
    if (o->ki_len > hash_len) {
        fprintf(stderr, "softse-issuer %s: --len %zu is longer than the hash (%zu)\n", argv[0],
                o->ki_len, hash_len);
        return 2;
    }
    return 0;
}

/* ---- hex and keys ---------------------------------------------------------------- */

static void hex_print(FILE *out, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%02x", data[i]);
}

static EVP_PKEY *load_private_key(const char *command, const char *path)
{
    FILE *file = fopen(path, "r");
    if (!file) {
        fprintf(stderr, "softse-issuer %s: %s: %s\n", command, path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *key = PEM_read_PrivateKey(file, NULL, NULL, NULL);
    fclose(file);
    if (!key)
        fprintf(stderr, "softse-issuer %s: %s: not a PEM private key\n", command, path);
    return key;
}

/* ---- ki-recover -------------------------------------------------------------------- */

static const char *const recover_usage =
    "--key issuer-key.pem --mech rsa-raw|rsa-oaep|ec-elgamal [--hash sha1|sha256] [--len N] "
    "[--in FILE]";

/* One "Id c" line → "Id KI" on stdout; false (reported) when malformed. */
static bool recover_line(const ki_options *o, EVP_PKEY *key, char *line, unsigned long number)
{
    static const char *const blanks = " \t\r\n";
    unsigned char c[KI_C_MAX_LEN], ki[KI_MAX_LEN];
    size_t c_len = 0, ki_len = o->ki_len;
    char *save = NULL;
    char *id = strtok_r(line, blanks, &save);
    if (!id || id[0] == '#')
        return true; /* blank line or comment */
    char *hex = strtok_r(NULL, blanks, &save);
    const char *problem = NULL;
    if (!hex || strtok_r(NULL, blanks, &save))
        problem = "expected \"Id c\"";
    else if (!se_hex_decode(hex, strlen(hex), c, sizeof(c), &c_len))
        problem = "c is not hex";
    if (problem) {
        fprintf(stderr, "softse-issuer ki-recover: line %lu: %s\n", number, problem);
        return false;
    }
    CK_RV rv = issuer_ki_recover(key, o->mech, o->hash, c, c_len, ki, &ki_len);
    if (rv != CKR_OK) {
        fprintf(stderr, "softse-issuer ki-recover: line %lu (%s): %s: %s\n", number, id,
                rv == CKR_ENCRYPTED_DATA_LEN_RANGE ? "c has the wrong length" : "cannot recover KI",
                se_rv_name(rv));
        return false;
    }
    printf("%s ", id);
    hex_print(stdout, ki, ki_len);
    putchar('\n');
    OPENSSL_cleanse(ki, sizeof(ki));
    return true;
}

int cmd_ki_recover(int argc, char **argv)
{
    ki_options o = {.mech = CK_UNAVAILABLE_INFORMATION, .hash = CKM_SHA256};
    int status = parse_options(argc, argv, &o, recover_usage);
    if (status)
        return status;
    if (!o.key_path || o.mech == CK_UNAVAILABLE_INFORMATION || o.module_path || o.tokens) {
        fprintf(stderr, "usage: softse-issuer %s %s\n", argv[0], recover_usage);
        return 2;
    }
    EVP_PKEY *key = load_private_key(argv[0], o.key_path);
    if (!key)
        return 2;
    FILE *in = o.in_path ? fopen(o.in_path, "r") : stdin;
    if (!in) {
        fprintf(stderr, "softse-issuer %s: %s: %s\n", argv[0], o.in_path, strerror(errno));
        EVP_PKEY_free(key);
        return 2;
    }
    char *line = NULL;
    size_t size = 0;
    unsigned long number = 0, failed = 0;
    while (getline(&line, &size, in) >= 0)
        if (!recover_line(&o, key, line, ++number))
            failed++;
    if (failed)
        fprintf(stderr, "softse-issuer %s: %lu of %lu lines failed\n", argv[0], failed, number);
    free(line);
    if (in != stdin)
        fclose(in);
    EVP_PKEY_free(key);
    return failed ? 1 : 0;
}

/* ---- ki-batch: the bureau ------------------------------------------------------------ */

static const char *const batch_usage =
    "--module PATH --tokens N [--mech rsa-raw|rsa-oaep|ec-elgamal] [--hash sha1|sha256] "
    "[--len N] [--key issuer-key.pem] [--store DIR] [--out FILE]";

typedef struct bureau {
    const ki_options *o;
    CK_FUNCTION_LIST_PTR p11;
    EVP_PKEY *issuer;    /* the issuer's key pair (the bureau sees only its public half) */
    unsigned char *spki; /* DER SubjectPublicKeyInfo sent to every card */
    size_t spki_len;
    FILE *out; /* "Id c" lines, or NULL */
} bureau;

/* A fresh issuer key for the mechanism: RSA-2048 with e = 3 for the raw
 * scheme (paper §5.1), with e = 65537 for OAEP, P-256 for ElGamal. */
static EVP_PKEY *fresh_issuer_key(CK_MECHANISM_TYPE mech)
{
    if (mech == CKM_SE_KI_EC_ELGAMAL)
        return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *e = BN_new();
    if (ctx && e && BN_set_word(e, mech == CKM_SE_KI_RSA_RAW ? 3 : RSA_F4) &&
        EVP_PKEY_keygen_init(ctx) > 0 && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) > 0 &&
        EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) > 0)
        EVP_PKEY_generate(ctx, &key);
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return key;
}

/* The blank card is the last slot (softse keeps it there), so the list
 * is walked from the end; the list is as long as the module says. */
static CK_RV blank_slot(CK_FUNCTION_LIST_PTR p11, CK_SLOT_ID *slot)
{
    CK_ULONG count = 0;
    CK_RV rv = p11->C_GetSlotList(CK_TRUE, NULL, &count);
    CK_SLOT_ID *slots = rv == CKR_OK ? calloc(count ? count : 1, sizeof(*slots)) : NULL;
    if (rv == CKR_OK && !slots)
        rv = CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv = p11->C_GetSlotList(CK_TRUE, slots, &count);
    bool found = false;
    for (CK_ULONG i = count; rv == CKR_OK && !found && i > 0; i--) {
        CK_TOKEN_INFO info;
        if (p11->C_GetTokenInfo(slots[i - 1], &info) == CKR_OK &&
            !(info.flags & CKF_TOKEN_INITIALIZED)) {
            *slot = slots[i - 1];
            found = true;
        }
    }
    free(slots);
    if (rv == CKR_OK && !found)
        rv = CKR_TOKEN_NOT_PRESENT;
    return rv;
}

static void pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t len = strlen(text);
    memset(field, ' ', size);
    memcpy(field, text, len < size ? len : size);
}

/* The card as the bureau receives it: initialized, user PIN set, user
 * logged in; *id is its serial number. */
static CK_RV card_prepare(const bureau *b, unsigned long index, CK_SESSION_HANDLE *session,
                          char id[17], const char **step)
{
    CK_FUNCTION_LIST_PTR p11 = b->p11;
    CK_SLOT_ID slot;
    CK_UTF8CHAR label[32];
    char text[33];
    snprintf(text, sizeof(text), "bureau-%06lu", index);
    pad(label, sizeof(label), text);
    CK_RV rv;
    *step = "finding a blank card";
    if ((rv = blank_slot(p11, &slot)) != CKR_OK)
        return rv;
    *step = "C_InitToken";
    if ((rv = p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)BATCH_SO_PIN, strlen(BATCH_SO_PIN), label)) !=
        CKR_OK)
        return rv;
    *step = "C_OpenSession";
    if ((rv = p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, session)) !=
        CKR_OK)
        return rv;
    *step = "C_InitPIN";
    rv = p11->C_Login(*session, CKU_SO, (CK_UTF8CHAR_PTR)BATCH_SO_PIN, strlen(BATCH_SO_PIN));
    if (rv == CKR_OK)
        rv = p11->C_InitPIN(*session, (CK_UTF8CHAR_PTR)BATCH_USER_PIN, strlen(BATCH_USER_PIN));
    if (rv == CKR_OK)
        rv = p11->C_Logout(*session);
    *step = "C_Login";
    if (rv == CKR_OK)
        rv = p11->C_Login(*session, CKU_USER, (CK_UTF8CHAR_PTR)BATCH_USER_PIN,
                          strlen(BATCH_USER_PIN));
    CK_TOKEN_INFO info;
    *step = "C_GetTokenInfo";
    if (rv == CKR_OK)
        rv = p11->C_GetTokenInfo(slot, &info);
    if (rv == CKR_OK) {
        size_t n = sizeof(info.serialNumber);
        while (n > 0 && info.serialNumber[n - 1] == ' ')
            n--;
        memcpy(id, info.serialNumber, n);
        id[n] = '\0';
    }
    return rv;
}

/* The card derives KI (docs/spec.md §5) and outputs c. */
static CK_RV card_derive(const bureau *b, CK_SESSION_HANDLE session, unsigned char *c,
                         CK_ULONG *c_len, CK_OBJECT_HANDLE *ki)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG len = b->o->ki_len;
    char label[] = "KI";
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},         {CKA_VALUE_LEN, &len, sizeof(len)},
        {CKA_LABEL, label, sizeof(label) - 1},
    };
    CK_SE_KI_PARAMS params = {b->o->hash, b->spki, b->spki_len, c, c_len};
    CK_MECHANISM mech = {b->o->mech, &params, sizeof(params)};
    return b->p11->C_GenerateKey(session, &mech, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), ki);
}

/* Issuer: KI from c; card: HMAC(KI, challenge); issuer: compare. */
static CK_RV issuer_verify(const bureau *b, CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki_object,
                           const unsigned char *c, size_t c_len, const char **step)
{
    unsigned char ki[KI_MAX_LEN], challenge[CHALLENGE_LEN], response[KI_MAX_LEN];
    size_t ki_len = b->o->ki_len;
    CK_ULONG response_len = sizeof(response);
    CK_MECHANISM hmac = {issuer_ki_hmac_mechanism(b->o->hash), NULL, 0};
    *step = "issuer_ki_recover";
    CK_RV rv = issuer_ki_recover(b->issuer, b->o->mech, b->o->hash, c, c_len, ki, &ki_len);
    if (rv == CKR_OK && RAND_bytes(challenge, sizeof(challenge)) != 1)
        rv = CKR_FUNCTION_FAILED;
    *step = "C_Sign (card's answer)";
    if (rv == CKR_OK)
        rv = b->p11->C_SignInit(session, &hmac, ki_object);
    if (rv == CKR_OK)
        rv = b->p11->C_Sign(session, challenge, sizeof(challenge), response, &response_len);
    *step = "challenge-response";
    if (rv == CKR_OK)
        rv = issuer_ki_check_response(b->o->hash, ki, ki_len, challenge, sizeof(challenge),
                                      response, response_len);
    OPENSSL_cleanse(ki, sizeof(ki));
    return rv;
}

static bool personalize(const bureau *b, unsigned long index, char id[17])
{
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE ki = CK_INVALID_HANDLE;
    unsigned char c[KI_C_MAX_LEN];
    CK_ULONG c_len = sizeof(c);
    const char *step = "";
    snprintf(id, 17, "#%lu", index);
    CK_RV rv = card_prepare(b, index, &session, id, &step);
    if (rv == CKR_OK) {
        step = "C_GenerateKey (KI)";
        rv = card_derive(b, session, c, &c_len, &ki);
    }
    if (rv == CKR_OK && b->out) {
        fprintf(b->out, "%s ", id);
        hex_print(b->out, c, c_len);
        fputc('\n', b->out);
    }
    if (rv == CKR_OK)
        rv = issuer_verify(b, session, ki, c, c_len, &step);
    if (session != CK_INVALID_HANDLE)
        b->p11->C_CloseSession(session);
    if (rv != CKR_OK)
        fprintf(stderr, "softse-issuer ki-batch: card %s: %s: %s%s\n", id, step, se_rv_name(rv),
                rv == CKR_SIGNATURE_INVALID ? " (card flagged)" : "");
    return rv == CKR_OK;
}

static void progress(unsigned long done, unsigned long total)
{
    int filled = (int)(done * PROGRESS_WIDTH / total);
    printf("\r[%.*s%*s] %lu/%lu", filled, "########################################",
           PROGRESS_WIDTH - filled, "", done, total);
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* The bureau's issuer key: --key, or a fresh pair.  Fills b->spki. */
static int bureau_issuer(bureau *b, const char *command)
{
    b->issuer =
        b->o->key_path ? load_private_key(command, b->o->key_path) : fresh_issuer_key(b->o->mech);
    if (!b->issuer) {
        if (!b->o->key_path)
            fprintf(stderr, "softse-issuer %s: cannot make an issuer key\n", command);
        return 2;
    }
    int len = i2d_PUBKEY(b->issuer, &b->spki);
    if (len <= 0) {
        fprintf(stderr, "softse-issuer %s: cannot encode the issuer key\n", command);
        return 2;
    }
    b->spki_len = (size_t)len;
    return 0;
}

static int run_batch(const bureau *b)
{
    unsigned long verified = 0, total = b->o->tokens;
    bool tty = isatty(STDOUT_FILENO);
    double slowest = 0, started = now_ms();
    for (unsigned long i = 1; i <= total; i++) {
        char id[17];
        double begin = now_ms();
        bool ok = personalize(b, i, id);
        double took = now_ms() - begin;
        verified += ok;
        if (took > slowest)
            slowest = took;
        if (tty)
            progress(i, total);
        else
            printf("%s %s %.1f ms\n", id, ok ? "verified" : "FAILED", took);
    }
    double average = (now_ms() - started) / (double)total;
    if (tty)
        putchar('\n');
    printf("per token: %.1f ms average, %.1f ms slowest\n", average, slowest);
    printf("rate: %.1f tokens/s\n", average > 0 ? 1000.0 / average : 0.0);
    printf("%lu tokens, %lu verified, %lu failed\n", total, verified, total - verified);
    return verified == total ? 0 : 1;
}

int cmd_ki_batch(int argc, char **argv)
{
    ki_options o = {.mech = CKM_SE_KI_RSA_OAEP, .hash = CKM_SHA256};
    int status = parse_options(argc, argv, &o, batch_usage);
    if (status)
        return status;
    if (!o.module_path || !o.tokens || o.in_path) {
        fprintf(stderr, "usage: softse-issuer %s %s\n", argv[0], batch_usage);
        return 2;
    }
    bureau b = {.o = &o};
    char fresh[4096] = "";
    void *module = NULL;
    bool initialized = false;
    status = 2;
    if (!o.store) {
        const char *tmp = getenv("TMPDIR");
        snprintf(fresh, sizeof(fresh), "%s/softse-ki-batch.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(fresh)) {
            fprintf(stderr, "softse-issuer %s: mkdtemp %s: %s\n", argv[0], fresh, strerror(errno));
            fresh[0] = '\0';
            goto out;
        }
    }
    /* Before C_Initialize, which reads them. */
    setenv("SOFTSE_STORE", o.store ? o.store : fresh, 1);
    setenv("SOFTSE_PIN_KDF_ITERATIONS", BATCH_PIN_KDF_ITERATIONS, 0);
    if (bureau_issuer(&b, argv[0]))
        goto out;
    if (o.out_path && !(b.out = fopen(o.out_path, "w"))) {
        fprintf(stderr, "softse-issuer %s: %s: %s\n", argv[0], o.out_path, strerror(errno));
        goto out;
    }
    /* RTLD_NODELETE: the module keeps process-lifetime caches (fetched
     * digests, curve groups) that would turn into leaks if it were unmapped. */
    module = dlopen(o.module_path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    CK_C_GetFunctionList get_list =
        module ? (CK_C_GetFunctionList)dlsym(module, "C_GetFunctionList") : NULL;
    if (!get_list || get_list(&b.p11) != CKR_OK) {
        fprintf(stderr, "softse-issuer %s: %s: not a PKCS#11 module (%s)\n", argv[0], o.module_path,
                module ? "no C_GetFunctionList" : dlerror());
        goto out;
    }
    CK_C_INITIALIZE_ARGS init = {.flags = CKF_OS_LOCKING_OK};
    CK_RV rv = b.p11->C_Initialize(&init);
    if (rv != CKR_OK) {
        fprintf(stderr, "softse-issuer %s: C_Initialize: %s\n", argv[0], se_rv_name(rv));
        goto out;
    }
    initialized = true;
    status = run_batch(&b);
out:
    if (initialized)
        b.p11->C_Finalize(NULL);
    if (module)
        dlclose(module);
    if (b.out)
        fclose(b.out);
    if (fresh[0])
        nftw(fresh, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    OPENSSL_free(b.spki);
    EVP_PKEY_free(b.issuer);
    return status;
}
