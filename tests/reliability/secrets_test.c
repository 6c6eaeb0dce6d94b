/*
 * secrets_test.c — secrets at rest and in logs (docs/spec.md §7: "no key bytes
 * ever appear in clear in the store files"; PKCS#11 3.0 §4.9 sensitive
 * attributes; retry counters survive restarts).
 *
 *  1. A workload in a child process, stderr to a file and
 *     SOFTSE_LOG_LEVEL=debug: a token with known SO and user PINs, a known
 *     AES value as a sensitive public token key and as a private one, a
 *     private data object with a known label and value, an RSA private key
 *     imported with known CRT values; it signs, encrypts, fails a login
 *     and changes the user PIN.  While it waits (before C_Finalize, with
 *     the -wal and -shm files present) and after it exits, every file of
 *     the store directory, the captured stderr and the text of the audit
 *     table are searched for each secret, raw and in hex: none may be
 *     there.
 *  2. Without a login no private object is found or readable by handle,
 *     and a sensitive key value is CKR_ATTRIBUTE_SENSITIVE; with a login
 *     too, and CKA_SENSITIVE cannot be turned off.
 *  3. A user PIN locked by 10 wrong tries stays locked after C_Finalize /
 *     C_Initialize and in another process.
 *  4. A token made with the default PIN KDF cost (no
 *     SOFTSE_PIN_KDF_ITERATIONS) records >= 600,000 PBKDF2-HMAC-SHA256
 *     iterations (OWASP 2023) in its token and pin rows, and the wrapped
 *     master key of each PIN opens with a KEK derived with exactly that
 *     count (and not with one less): the number is the one really used.
 *     Skipped with SOFTSE_RELIABILITY_SHORT (valgrind would take minutes).
 */
#include "rel_common.h"
#include "p11_keys.h"

#include "tok.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SO_PIN "Secret-SO-PIN-4c1f9e"
#define USER_PIN "Secret-User-PIN-8a2d71"
#define USER_PIN_2 "Secret-User-PIN-2-b35e06"
#define PRIVATE_LABEL "Private-Label-d94c2a7e"
#define PRIVATE_VALUE "Private-Data-Value-5f0b83c1e6"
#define MIN_ITERATIONS 600000UL /* OWASP 2023, PBKDF2-HMAC-SHA256 */

static fx env;
static fx_rsa_key rsa;
static unsigned char aes_sensitive[32], aes_private[32];

/* ---- the secrets and where they must not be ------------------------------------ */

typedef struct secret {
    const char *name;
    const unsigned char *data;
    size_t len;
} secret;

static secret secrets[16];
static size_t secret_count;

static void add_secret(const char *name, const void *data, size_t len)
{
    secrets[secret_count++] = (secret){name, data, len};
}

static bool contains(const unsigned char *hay, size_t hay_len, const unsigned char *needle,
                     size_t len)
{
    return len > 0 && hay_len >= len && memmem(hay, hay_len, needle, len) != NULL;
}

/* Raw, and the first 16 bytes in lower- and upper-case hex. */
static const char *find_secret(const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < secret_count; i++) {
        const secret *s = &secrets[i];
        if (contains(data, len, s->data, s->len))
            return s->name;
        char lower[33], upper[33];
        size_t n = s->len < 16 ? s->len : 16;
        for (size_t k = 0; k < n; k++) {
            snprintf(lower + 2 * k, 3, "%02x", s->data[k]);
            snprintf(upper + 2 * k, 3, "%02X", s->data[k]);
        }
        if (n >= 8 && (contains(data, len, (unsigned char *)lower, 2 * n) ||
                       contains(data, len, (unsigned char *)upper, 2 * n)))
            return s->name;
    }
    return NULL;
}

static unsigned long scan_dir(const char *dir, const char *when)
{
    DIR *d = opendir(dir);
    rel_check(d != NULL, "%s: %s", dir, strerror(errno));
    unsigned long files = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[PATH_MAX + 256];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        size_t len = 0;
        unsigned char *data = fx_read_file(path, &len);
        if (!data)
            continue;
        const char *found = find_secret(data, len);
        rel_check(!found, "%s: %s is in the store file %s", when, found, path);
        free(data);
        files++;
    }
    closedir(d);
    return files;
}

/* ---- processes ---------------------------------------------------------------------- */

static void run_child(void (*fn)(void *), void *arg, const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    rel_check(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status;
    rel_check(waitpid(pid, &status, 0) == pid, "waitpid");
    rel_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s failed (status 0x%x)", what,
              status);
}

static CK_OBJECT_HANDLE create(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE h;
    rel_rv(fx_functions()->C_CreateObject(s, t, n, &h), CKR_OK);
    return h;
}

/* ---- 1. the workload ------------------------------------------------------------------- */

typedef struct workload {
    int ready_fd, go_fd;
    char log_path[PATH_MAX + 32];
} workload;

static void workload_main(void *arg)
{
    workload *w = arg;
    int log = open(w->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    rel_check(log >= 0 && dup2(log, 2) == 2, "stderr to %s", w->log_path);
    close(log);
    setenv("SOFTSE_LOG_LEVEL", "debug", 1);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = rel_new_token("secrets", SO_PIN, USER_PIN);
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, true, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_OK);

    CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY, data = CKO_DATA, priv = CKO_PRIVATE_KEY;
    CK_KEY_TYPE aes = CKK_AES, rsa_type = CKK_RSA;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE sensitive_t[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)},
        {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &no, 1},
        {CKA_SENSITIVE, &yes, 1},
        {CKA_ENCRYPT, &yes, 1},
        {CKA_LABEL, "aes-sensitive", 13},
        {CKA_VALUE, aes_sensitive, sizeof(aes_sensitive)},
    };
    CK_OBJECT_HANDLE key = create(s, sensitive_t, 8);
    CK_ATTRIBUTE private_t[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)},
        {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &no, 1},
        {CKA_EXTRACTABLE, &yes, 1},
        {CKA_LABEL, "aes-private", 11},
        {CKA_VALUE, aes_private, sizeof(aes_private)},
    };
    create(s, private_t, 8);
    CK_ATTRIBUTE data_t[] = {
        {CKA_CLASS, &data, sizeof(data)},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_LABEL, PRIVATE_LABEL, strlen(PRIVATE_LABEL)},
        {CKA_VALUE, PRIVATE_VALUE, strlen(PRIVATE_VALUE)},
    };
    create(s, data_t, 5);
    CK_ATTRIBUTE rsa_t[] = {
        {CKA_CLASS, &priv, sizeof(priv)},
        {CKA_KEY_TYPE, &rsa_type, sizeof(rsa_type)},
        {CKA_TOKEN, &yes, 1},
        {CKA_PRIVATE, &yes, 1},
        {CKA_SENSITIVE, &yes, 1},
        {CKA_SIGN, &yes, 1},
        {CKA_LABEL, "rsa-private", 11},
        {CKA_MODULUS, rsa.modulus.data, rsa.modulus.len},
        {CKA_PUBLIC_EXPONENT, rsa.public_exponent.data, rsa.public_exponent.len},
        {CKA_PRIVATE_EXPONENT, rsa.private_exponent.data, rsa.private_exponent.len},
        {CKA_PRIME_1, rsa.prime1.data, rsa.prime1.len},
        {CKA_PRIME_2, rsa.prime2.data, rsa.prime2.len},
        {CKA_EXPONENT_1, rsa.exponent1.data, rsa.exponent1.len},
        {CKA_EXPONENT_2, rsa.exponent2.data, rsa.exponent2.len},
        {CKA_COEFFICIENT, rsa.coefficient.data, rsa.coefficient.len},
    };
    CK_OBJECT_HANDLE rsa_key = create(s, rsa_t, 15);

    /* use the keys */
    CK_MECHANISM sign = {CKM_SHA256_RSA_PKCS, NULL, 0};
    unsigned char out[512];
    CK_ULONG out_len = sizeof(out);
    rel_rv(f->C_SignInit(s, &sign, rsa_key), CKR_OK);
    rel_rv(f->C_Sign(s, (CK_BYTE_PTR) "message", 7, out, &out_len), CKR_OK);
    unsigned char iv[12] = {0};
    CK_GCM_PARAMS_V3 gcm = {iv, sizeof(iv), 96, NULL, 0, 128};
    CK_MECHANISM enc = {CKM_AES_GCM, &gcm, sizeof(gcm)};
    out_len = sizeof(out);
    rel_rv(f->C_EncryptInit(s, &enc, key), CKR_OK);
    rel_rv(f->C_Encrypt(s, (CK_BYTE_PTR) "plaintext", 9, out, &out_len), CKR_OK);

    /* failures the module may log: a forged GCM tag, PKCS#8 that is not */
    rel_rv(f->C_DecryptInit(s, &enc, key), CKR_OK);
    memset(out, 0x5a, 32);
    CK_ULONG plain_len = sizeof(out);
    unsigned char plain[512];
    rel_check(f->C_Decrypt(s, out, 32, plain, &plain_len) != CKR_OK, "a forged tag decrypts");
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_ATTRIBUTE unwrap_t[] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_KEY_TYPE, &rsa_type, sizeof(rsa_type)}};
    CK_OBJECT_HANDLE unwrapped;
    f->C_UnwrapKey(s, &kwp, key, out, 40, unwrap_t, 2, &unwrapped);
    CK_OBJECT_CLASS pub = CKO_PUBLIC_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    unsigned char bad_point[67] = {0x04, 65, 0x04};
    CK_ATTRIBUTE ec_t[] = {{CKA_CLASS, &pub, sizeof(pub)}, {CKA_KEY_TYPE, &ec, sizeof(ec)},
                           {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
                           {CKA_EC_POINT, bad_point, sizeof(bad_point)}};
    rel_check(f->C_CreateObject(s, ec_t, 4, &unwrapped) != CKR_OK, "a point off the curve");

    /* a failed login, a PIN change */
    rel_rv(f->C_Logout(s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, "Wrong-PIN-0000"), CKR_PIN_INCORRECT);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_OK);
    rel_rv(f->C_SetPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN), (CK_UTF8CHAR_PTR)USER_PIN_2,
                       strlen(USER_PIN_2)),
           CKR_OK);
    rel_rv(f->C_Logout(s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN_2), CKR_OK);

    /* the parent looks at the files while they are open, -wal and -shm too */
    char c = 'r';
    rel_check(write(w->ready_fd, &c, 1) == 1, "pipe");
    rel_check(read(w->go_fd, &c, 1) == 1, "pipe");
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

static void audit_text_check(void)
{
    char **paths = NULL;
    size_t count = 0;
    rel_rv(tok_scan(env.store, &paths, &count), CKR_OK);
    for (size_t i = 0; i < count; i++) {
        sqlite3 *db;
        sqlite3_stmt *st;
        rel_check(sqlite3_open_v2(paths[i], &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
                      sqlite3_prepare_v2(db, "SELECT time, event, detail FROM audit", -1, &st,
                                         NULL) == SQLITE_OK,
                  "%s: reading the audit table", paths[i]);
        while (sqlite3_step(st) == SQLITE_ROW) {
            for (int col = 0; col < 3; col++) {
                const unsigned char *text = sqlite3_column_text(st, col);
                const char *found = find_secret(text, (size_t)sqlite3_column_bytes(st, col));
                rel_check(!found, "%s is in the audit log of %s: \"%s\"", found, paths[i], text);
            }
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    tok_free_paths(paths, count);
}

static void check_workload(void)
{
    int ready[2], go[2];
    rel_check(pipe(ready) == 0 && pipe(go) == 0, "pipe");
    workload w = {ready[1], go[0], ""};
    snprintf(w.log_path, sizeof(w.log_path), "%s/stderr.txt", env.root);
    fflush(NULL);
    pid_t pid = fork();
    rel_check(pid >= 0, "fork");
    if (pid == 0) {
        workload_main(&w);
        _exit(0);
    }
    char c;
    rel_check(read(ready[0], &c, 1) == 1, "the workload died before it was ready: see %s",
              w.log_path);
    unsigned long files = scan_dir(env.store, "while the token is open");
    rel_check(write(go[1], &c, 1) == 1, "pipe");
    int status;
    rel_check(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "the workload failed: see %s", w.log_path);
    files += scan_dir(env.store, "after C_Finalize");
    size_t log_len = 0;
    unsigned char *log = fx_read_file(w.log_path, &log_len);
    rel_check(log != NULL, "%s", w.log_path);
    const char *found = find_secret(log, log_len);
    rel_check(!found, "%s is in the module's debug log (%s)", found, w.log_path);
    free(log);
    audit_text_check();
    printf("secrets_test: %zu secrets absent from %lu store file snapshots (with -wal/-shm), "
           "%zu bytes of debug log and the audit table\n",
           secret_count, files, log_len);
}

/* ---- 2. visibility and sensitivity ------------------------------------------------ */

static void visibility_main(void *arg)
{
    (void)arg;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = rel_slot_by_label("secrets");
    rel_check(slot != (CK_SLOT_ID)-1, "no token \"secrets\"");
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, false, &s), CKR_OK);

    /* logged in once to learn the handles (stable across sessions) */
    rel_rv(fx_login(s, CKU_USER, USER_PIN_2), CKR_OK);
    CK_OBJECT_HANDLE *all;
    CK_ULONG n_all;
    rel_rv(rel_find(s, NULL, 0, &all, &n_all), CKR_OK);
    CK_OBJECT_HANDLE private_handles[8];
    CK_ULONG n_private = 0;
    for (CK_ULONG i = 0; i < n_all; i++) {
        CK_BBOOL p = CK_FALSE;
        if (rel_get(s, all[i], CKA_PRIVATE, &p, 1, NULL) == 1 && p && n_private < 8)
            private_handles[n_private++] = all[i];
    }
    rel_check(n_private == 3, "%lu private objects, 3 made", (unsigned long)n_private);
    CK_ATTRIBUTE by_label = {CKA_LABEL, "rsa-private", 11};
    CK_OBJECT_HANDLE *found;
    CK_ULONG n;
    rel_rv(rel_find(s, &by_label, 1, &found, &n), CKR_OK);
    rel_check(n == 1, "rsa-private: %lu", (unsigned long)n);
    CK_OBJECT_HANDLE rsa_key = found[0];
    free(found);
    static const CK_ATTRIBUTE_TYPE rsa_secret[] = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2,
                                                   CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT};
    unsigned char buf[1024];
    CK_RV rv;
    for (size_t i = 0; i < sizeof(rsa_secret) / sizeof(rsa_secret[0]); i++) {
        rel_check(rel_get(s, rsa_key, rsa_secret[i], buf, sizeof(buf), &rv) ==
                          CK_UNAVAILABLE_INFORMATION &&
                      rv == CKR_ATTRIBUTE_SENSITIVE,
                  "sensitive RSA attribute 0x%lx, logged in: %s", (unsigned long)rsa_secret[i],
                  fx_rv_name(rv));
    }
    CK_ATTRIBUTE aes_label = {CKA_LABEL, "aes-sensitive", 13};
    rel_rv(rel_find(s, &aes_label, 1, &found, &n), CKR_OK);
    rel_check(n == 1, "aes-sensitive: %lu", (unsigned long)n);
    CK_OBJECT_HANDLE aes_key = found[0];
    free(found);
    rel_check(rel_get(s, aes_key, CKA_VALUE, buf, sizeof(buf), &rv) == CK_UNAVAILABLE_INFORMATION &&
                  rv == CKR_ATTRIBUTE_SENSITIVE,
              "sensitive AES CKA_VALUE, logged in: %s", fx_rv_name(rv));
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE unsensitive = {CKA_SENSITIVE, &no, 1};
    rv = f->C_SetAttributeValue(s, aes_key, &unsensitive, 1);
    rel_check(rv != CKR_OK, "CKA_SENSITIVE could be set back to FALSE");
    CK_ATTRIBUTE private_label = {CKA_LABEL, "aes-private", 11};
    rel_rv(rel_find(s, &private_label, 1, &found, &n), CKR_OK);
    rel_check(n == 1 && rel_get(s, found[0], CKA_VALUE, buf, sizeof(buf), &rv) == 32 &&
                  memcmp(buf, aes_private, 32) == 0,
              "the non-sensitive private AES key does not read back (%s)", fx_rv_name(rv));
    free(found);
    rel_rv(f->C_Logout(s), CKR_OK);

    /* not logged in */
    CK_OBJECT_HANDLE *visible;
    CK_ULONG n_visible;
    rel_rv(rel_find(s, NULL, 0, &visible, &n_visible), CKR_OK);
    rel_check(n_visible + n_private == n_all, "%lu objects visible without a login, %lu with, "
                                              "%lu of them private",
              (unsigned long)n_visible, (unsigned long)n_all, (unsigned long)n_private);
    for (CK_ULONG i = 0; i < n_visible; i++)
        for (CK_ULONG k = 0; k < n_private; k++)
            rel_check(visible[i] != private_handles[k], "a private object is found without login");
    CK_ATTRIBUTE label = {CKA_LABEL, PRIVATE_LABEL, strlen(PRIVATE_LABEL)};
    rel_rv(rel_find(s, &label, 1, &found, &n), CKR_OK);
    rel_check(n == 0, "the private label is found without a login");
    free(found);
    for (CK_ULONG k = 0; k < n_private; k++) {
        rel_get(s, private_handles[k], CKA_LABEL, buf, sizeof(buf), &rv);
        rel_check(rv == CKR_OBJECT_HANDLE_INVALID,
                  "a private object's label by handle without a login: %s", fx_rv_name(rv));
        rel_get(s, private_handles[k], CKA_VALUE, buf, sizeof(buf), &rv);
        rel_check(rv == CKR_OBJECT_HANDLE_INVALID,
                  "a private object's value by handle without a login: %s", fx_rv_name(rv));
    }
    rel_check(rel_get(s, aes_key, CKA_VALUE, buf, sizeof(buf), &rv) == CK_UNAVAILABLE_INFORMATION &&
                  rv == CKR_ATTRIBUTE_SENSITIVE,
              "sensitive public AES CKA_VALUE without a login: %s", fx_rv_name(rv));
    free(visible);
    free(all);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

/* ---- 3. a locked PIN stays locked -------------------------------------------------- */

static void lock_main(void *arg)
{
    (void)arg;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = rel_new_token("locked", SO_PIN, USER_PIN);
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, false, &s), CKR_OK);
    for (int i = 1; i <= 10; i++) {
        CK_RV rv = fx_login(s, CKU_USER, "Wrong-PIN-0000");
        rel_check(rv == CKR_PIN_INCORRECT || (i == 10 && rv == CKR_PIN_LOCKED),
                  "wrong PIN try %d: %s", i, fx_rv_name(rv));
    }
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_PIN_LOCKED);
    rel_check(fx_token_flags(slot) & CKF_USER_PIN_LOCKED, "CKF_USER_PIN_LOCKED is not set");
    rel_rv(f->C_Finalize(NULL), CKR_OK);
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    rel_rv(fx_open(slot, false, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_PIN_LOCKED);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

static void locked_elsewhere_main(void *arg)
{
    (void)arg;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    CK_SLOT_ID slot = rel_slot_by_label("locked");
    rel_check(slot != (CK_SLOT_ID)-1, "no token \"locked\"");
    rel_check(fx_token_flags(slot) & CKF_USER_PIN_LOCKED,
              "CKF_USER_PIN_LOCKED is not set in another process");
    CK_SESSION_HANDLE s;
    rel_rv(fx_open(slot, false, &s), CKR_OK);
    rel_rv(fx_login(s, CKU_USER, USER_PIN), CKR_PIN_LOCKED);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

/* ---- 4. the default PIN KDF cost ------------------------------------------------------ */

static void default_kdf_main(void *arg)
{
    (void)arg;
    unsetenv("SOFTSE_PIN_KDF_ITERATIONS");
    unsetenv("SOFTSE_CONF");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    rel_rv(f->C_Initialize(NULL), CKR_OK);
    rel_new_token("default-kdf", SO_PIN, USER_PIN);
    rel_rv(f->C_Finalize(NULL), CKR_OK);
}

/* AES-256-GCM open of nonce ‖ ciphertext ‖ tag: whether it authenticates. */
static bool gcm_opens(const unsigned char kek[32], const unsigned char *aad, size_t aad_len,
                      const unsigned char *blob, size_t blob_len)
{
    if (blob_len < 28)
        return false;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    unsigned char plain[256];
    int n = 0;
    size_t ct_len = blob_len - 28;
    bool ok = ct_len <= sizeof(plain) &&
              EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, blob) &&
              EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) &&
              EVP_DecryptUpdate(ctx, plain, &n, blob + 12, (int)ct_len) &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(blob + blob_len - 16)) &&
              EVP_DecryptFinal_ex(ctx, plain + n, &n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    return ok;
}

static void hkdf_sha256(const unsigned char *ikm, size_t ikm_len, const void *salt,
                        size_t salt_len, const char *info, unsigned char out[32])
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
    size_t out_len = 32;
    rel_check(ctx && EVP_PKEY_derive_init(ctx) == 1 &&
                  EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_salt(ctx, salt, (int)salt_len) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_key(ctx, ikm, (int)ikm_len) == 1 &&
                  EVP_PKEY_CTX_add1_hkdf_info(ctx, (const unsigned char *)info,
                                              (int)strlen(info)) == 1 &&
                  EVP_PKEY_derive(ctx, out, &out_len) == 1,
              "HKDF");
    EVP_PKEY_CTX_free(ctx);
}

/* The token's PIN wrap key from the file provider's device root key, as
 * docs/spec.md ("The device root of trust") defines it, computed here
 * with plain OpenSSL: HMAC-SHA256(DRK, "softse token key v2" ‖ serial),
 * then HKDF(salt = serial, info "softse pin wrap v2"). */
static void wrap_key(const char serial[16], unsigned char out[32])
{
    char path[PATH_MAX + 16];
    unsigned char drk[32], input[19 + 16], token_key[32];
    unsigned int len = 0;
    snprintf(path, sizeof(path), "%s/rot/drk", env.root);
    FILE *file = fopen(path, "rb");
    rel_check(file && fread(drk, 1, sizeof(drk), file) == sizeof(drk), "reading %s", path);
    fclose(file);
    memcpy(input, "softse token key v2", 19);
    memcpy(input + 19, serial, 16);
    rel_check(HMAC(EVP_sha256(), drk, sizeof(drk), input, sizeof(input), token_key, &len) &&
                  len == 32,
              "HMAC");
    hkdf_sha256(token_key, sizeof(token_key), serial, 16, "softse pin wrap v2", out);
}

/* The KEK: PBKDF2-HMAC-SHA256 of the PIN, then HKDF with the wrap key as
 * salt (info "softse pin kek v2"); with_drk false tries the recipe of a
 * store without a root of trust (PBKDF2 alone), which must not open. */
static bool pin_opens(const char *pin, const unsigned char *salt, int salt_len,
                      unsigned long iterations, const char serial[16], bool with_drk,
                      const unsigned char *aad, size_t aad_len, const unsigned char *wrapped,
                      size_t wrapped_len)
{
    unsigned char stretched[32], kek[32], wrap[32];
    rel_check(PKCS5_PBKDF2_HMAC(pin, (int)strlen(pin), salt, salt_len, (int)iterations,
                                EVP_sha256(), sizeof(stretched), stretched) == 1,
              "PBKDF2");
    if (!with_drk)
        return gcm_opens(stretched, aad, aad_len, wrapped, wrapped_len);
    wrap_key(serial, wrap);
    hkdf_sha256(stretched, sizeof(stretched), wrap, sizeof(wrap), "softse pin kek v2", kek);
    return gcm_opens(kek, aad, aad_len, wrapped, wrapped_len);
}

static void check_default_kdf(void)
{
    run_child(default_kdf_main, NULL, "a token with the default PIN KDF cost");
    char **paths = NULL;
    size_t count = 0;
    rel_rv(tok_scan(env.store, &paths, &count), CKR_OK);
    bool checked = false;
    for (size_t i = 0; i < count; i++) {
        sqlite3 *db;
        sqlite3_stmt *st;
        rel_check(sqlite3_open_v2(paths[i], &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK,
                  "%s", paths[i]);
        rel_check(sqlite3_prepare_v2(db, "SELECT label, serial, pin_kdf_iterations FROM token", -1,
                                     &st, NULL) == SQLITE_OK &&
                      sqlite3_step(st) == SQLITE_ROW,
                  "%s: the token row", paths[i]);
        bool is_default = sqlite3_column_bytes(st, 0) >= 11 &&
                          memcmp(sqlite3_column_blob(st, 0), "default-kdf", 11) == 0;
        char serial[17] = {0};
        memcpy(serial, sqlite3_column_text(st, 1), 16);
        unsigned long token_iterations = (unsigned long)sqlite3_column_int64(st, 2);
        sqlite3_finalize(st);
        if (!is_default) {
            sqlite3_close(db);
            continue;
        }
        rel_check(token_iterations >= MIN_ITERATIONS,
                  "token.pin_kdf_iterations = %lu, below %lu", token_iterations, MIN_ITERATIONS);
        rel_check(sqlite3_prepare_v2(db, "SELECT user, kdf_iterations, salt, wrapped FROM pin",
                                     -1, &st, NULL) == SQLITE_OK,
                  "the pin rows");
        int rows = 0;
        while (sqlite3_step(st) == SQLITE_ROW) {
            CK_USER_TYPE user = (CK_USER_TYPE)sqlite3_column_int64(st, 0);
            unsigned long iterations = (unsigned long)sqlite3_column_int64(st, 1);
            rel_check(iterations >= MIN_ITERATIONS, "pin row %lu: kdf_iterations %lu, below %lu",
                      (unsigned long)user, iterations, MIN_ITERATIONS);
            /* AAD of tokens/pin.c: "softse-pin-v1" ‖ serial ‖ u8(user) */
            unsigned char aad[13 + 16 + 1];
            memcpy(aad, "softse-pin-v1", 13);
            memcpy(aad + 13, serial, 16);
            aad[29] = (unsigned char)user;
            const char *pin = user == CKU_SO ? SO_PIN : USER_PIN;
            const unsigned char *salt = sqlite3_column_blob(st, 2);
            int salt_len = sqlite3_column_bytes(st, 2);
            const unsigned char *wrapped = sqlite3_column_blob(st, 3);
            size_t wrapped_len = (size_t)sqlite3_column_bytes(st, 3);
            rel_check(pin_opens(pin, salt, salt_len, iterations, serial, true, aad, sizeof(aad),
                                wrapped, wrapped_len),
                      "pin row %lu: PBKDF2-HMAC-SHA256 with %lu iterations and the DRK does not "
                      "open the wrapped master key",
                      (unsigned long)user, iterations);
            rel_check(!pin_opens(pin, salt, salt_len, iterations - 1, serial, true, aad,
                                 sizeof(aad), wrapped, wrapped_len),
                      "pin row %lu opens with %lu iterations too", (unsigned long)user,
                      iterations - 1);
            rel_check(!pin_opens(pin, salt, salt_len, iterations, serial, false, aad, sizeof(aad),
                                 wrapped, wrapped_len),
                      "pin row %lu opens with the PIN alone, without the device root key",
                      (unsigned long)user);
            printf("secrets_test: default PIN KDF of the %s PIN: PBKDF2-HMAC-SHA256, %lu "
                   "iterations (recorded and verified by unwrapping), minimum %lu\n",
                   user == CKU_SO ? "SO" : "user", iterations, MIN_ITERATIONS);
            rows++;
        }
        sqlite3_finalize(st);
        sqlite3_close(db);
        rel_check(rows == 2, "%d pin rows with a PIN", rows);
        checked = true;
    }
    tok_free_paths(paths, count);
    rel_check(checked, "no token \"default-kdf\" in the store");
}

int main(void)
{
    memset(&env, 0, sizeof(env));
    fx_env_fresh(&env);
    /* The device root key where check_default_kdf reads it. */
    char rot_dir[PATH_MAX + 8];
    snprintf(rot_dir, sizeof(rot_dir), "%s/rot", env.root);
    setenv("SOFTSE_ROT_DIR", rot_dir, 1);
    fx_rsa_key_new(&rsa);
    rel_bytes_for("aes-sensitive value", aes_sensitive, sizeof(aes_sensitive));
    rel_bytes_for("aes-private value", aes_private, sizeof(aes_private));
    add_secret("the sensitive AES key value", aes_sensitive, sizeof(aes_sensitive));
    add_secret("the private AES key value", aes_private, sizeof(aes_private));
    add_secret("the private data object's label", PRIVATE_LABEL, strlen(PRIVATE_LABEL));
    add_secret("the private data object's value", PRIVATE_VALUE, strlen(PRIVATE_VALUE));
    add_secret("the RSA private exponent", rsa.private_exponent.data, rsa.private_exponent.len);
    add_secret("the RSA prime 1", rsa.prime1.data, rsa.prime1.len);
    add_secret("the RSA prime 2", rsa.prime2.data, rsa.prime2.len);
    add_secret("the RSA exponent 1", rsa.exponent1.data, rsa.exponent1.len);
    add_secret("the RSA exponent 2", rsa.exponent2.data, rsa.exponent2.len);
    add_secret("the RSA coefficient", rsa.coefficient.data, rsa.coefficient.len);
    add_secret("the SO PIN", SO_PIN, strlen(SO_PIN));
    add_secret("the first user PIN", USER_PIN, strlen(USER_PIN));
    add_secret("the second user PIN", USER_PIN_2, strlen(USER_PIN_2));

    check_workload();
    run_child(visibility_main, NULL, "visibility and sensitivity");
    printf("secrets_test: private objects invisible and unreadable without a login, sensitive "
           "values CKR_ATTRIBUTE_SENSITIVE with and without one\n");
    run_child(lock_main, NULL, "locking the user PIN");
    run_child(locked_elsewhere_main, NULL, "the locked PIN in another process");
    printf("secrets_test: a user PIN locked by 10 wrong tries stays locked after "
           "C_Finalize/C_Initialize and in another process\n");
    if (rel_short())
        printf("secrets_test: default PIN KDF check skipped (SOFTSE_RELIABILITY_SHORT)\n");
    else
        check_default_kdf();
    fx_rsa_key_free(&rsa);
    fx_env_cleanup(&env);
    return 0;
}
