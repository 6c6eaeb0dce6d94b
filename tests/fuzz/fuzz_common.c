/*
 * fuzz_common.c — see fuzz_common.h.
 *
 * Input encoding shared by the targets (tests/fuzz/make_corpus.py writes
 * the same encoding for the seeds):
 *   u8, u16, u32, ulong   little-endian, 1/2/4/8 bytes; 0 past the end
 *   len                   one byte b: b <= 250 is the length; 251: u16;
 *                         252: u32; 253: ulong; 254: 0; 255: FZ_MAX_BUFFER
 *   pick(table)           one byte s: table[s] when s < count, else a raw ulong
 *   buffer                one byte mode: 0: NULL with len 0; 1: NULL with a
 *                         len; 2: len then a buffer of min(len, FZ_MAX_BUFFER)
 *                         bytes claimed as len (only when len fits); else:
 *                         len, then exactly len bytes of data
 *   attribute             pick(fz_attribute_types), then a buffer
 *   template              u8 count (mod max + 1), then count attributes
 */
#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- reading the input ---------------------------------------------------- */

static uint64_t read_le(fz_input *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t b = 0;
        if (in->left > 0) {
            b = *in->data++;
            in->left--;
        }
        v |= b << (8 * i);
    }
    return v;
}

uint8_t fz_u8(fz_input *in)
{
    return (uint8_t)read_le(in, 1);
}

uint16_t fz_u16(fz_input *in)
{
    return (uint16_t)read_le(in, 2);
}

uint32_t fz_u32(fz_input *in)
{
    return (uint32_t)read_le(in, 4);
}

CK_ULONG fz_ulong(fz_input *in)
{
    return (CK_ULONG)read_le(in, 8);
}

bool fz_bool(fz_input *in)
{
    return fz_u8(in) & 1;
}

CK_ULONG fz_len(fz_input *in)
{
    uint8_t b = fz_u8(in);
    switch (b) {
    case 251:
        return fz_u16(in);
    case 252:
        return fz_u32(in);
    case 253:
        return fz_ulong(in);
    case 254:
        return 0;
    case 255:
        return FZ_MAX_BUFFER;
    default:
        return b;
    }
}

CK_ULONG fz_pick(fz_input *in, const CK_ULONG *table, size_t count)
{
    uint8_t s = fz_u8(in);
    return s < count ? table[s] : fz_ulong(in);
}

/* ---- the per-run arena -------------------------------------------------------- */

static void **arena;
static size_t arena_count, arena_cap;

static void *arena_keep(void *p)
{
    if (!p)
        fz_fail("out of memory");
    if (arena_count == arena_cap) {
        arena_cap = arena_cap ? 2 * arena_cap : 64;
        arena = realloc(arena, arena_cap * sizeof(*arena));
        if (!arena)
            fz_fail("out of memory");
    }
    arena[arena_count++] = p;
    return p;
}

void *fz_alloc(size_t len)
{
    return arena_keep(calloc(1, len ? len : 1));
}

void *fz_copy(const void *data, size_t len)
{
    void *p = fz_alloc(len);
    if (len)
        memcpy(p, data, len);
    return p;
}

void *fz_take(fz_input *in, size_t len)
{
    if (len == 0)
        return NULL;
    /* malloc, not calloc, for the exact size: ASan's redzone starts at len. */
    unsigned char *p = arena_keep(malloc(len));
    size_t n = len < in->left ? len : in->left;
    memcpy(p, in->data, n);
    memset(p + n, 0, len - n);
    in->data += n;
    in->left -= n;
    return p;
}

void fz_arena_free(void)
{
    for (size_t i = 0; i < arena_count; i++)
        free(arena[i]);
    arena_count = 0;
}

void fz_buffer(fz_input *in, CK_BYTE_PTR *ptr, CK_ULONG *len)
{
    uint8_t mode = fz_u8(in) % 4;
    *ptr = NULL;
    *len = 0;
    switch (mode) {
    case 0:
        return;
    case 1:
        *len = fz_len(in);
        return;
    default: {
        CK_ULONG n = fz_len(in);
        if (n > FZ_MAX_BUFFER) {
            *len = n; /* no buffer can back it: passed as NULL */
            return;
        }
        *ptr = fz_take(in, n);
        *len = n;
        return;
    }
    }
}

/* ---- templates ------------------------------------------------------------------- */

/* PKCS#11 3.0 CKA_NAME_HASH_ALGORITHM, absent from NSS's header. */
#define CKA_NAME_HASH_ALGORITHM_ 0x0000008CUL

const CK_ULONG fz_attribute_types[] = {
    CKA_CLASS, CKA_TOKEN, CKA_PRIVATE, CKA_LABEL, CKA_APPLICATION, CKA_VALUE, CKA_OBJECT_ID,
    CKA_CERTIFICATE_TYPE, CKA_ISSUER, CKA_SERIAL_NUMBER, CKA_AC_ISSUER, CKA_OWNER,
    CKA_ATTR_TYPES, CKA_TRUSTED, CKA_CERTIFICATE_CATEGORY, CKA_JAVA_MIDP_SECURITY_DOMAIN, CKA_URL,
    CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CKA_HASH_OF_ISSUER_PUBLIC_KEY, CKA_NAME_HASH_ALGORITHM_,
    CKA_CHECK_VALUE, CKA_KEY_TYPE, CKA_SUBJECT, CKA_ID, CKA_SENSITIVE, CKA_ENCRYPT, CKA_DECRYPT,
    CKA_WRAP, CKA_UNWRAP, CKA_SIGN, CKA_SIGN_RECOVER, CKA_VERIFY, CKA_VERIFY_RECOVER, CKA_DERIVE,
    CKA_START_DATE, CKA_END_DATE, CKA_MODULUS, CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT,
    CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
    CKA_COEFFICIENT, CKA_PUBLIC_KEY_INFO, CKA_PRIME, CKA_SUBPRIME, CKA_BASE, CKA_VALUE_BITS,
    CKA_VALUE_LEN, CKA_EXTRACTABLE, CKA_LOCAL, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_SENSITIVE,
    CKA_KEY_GEN_MECHANISM, CKA_MODIFIABLE, CKA_COPYABLE, CKA_DESTROYABLE, CKA_EC_PARAMS,
    CKA_EC_POINT, CKA_ALWAYS_AUTHENTICATE, CKA_WRAP_WITH_TRUSTED, CKA_WRAP_TEMPLATE,
    CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE, CKA_HW_FEATURE_TYPE, CKA_RESET_ON_INIT,
    CKA_HAS_RESET, CKA_UNIQUE_ID, CKA_ALLOWED_MECHANISMS, CKA_SE_HOST_ID, CKA_SE_FAILURE_COUNT,
    CKA_SE_FAILURE_LIMIT, CKA_SE_ATTESTATION, CKA_VENDOR_DEFINED, 0x7fffffffUL,
    (CK_ULONG)-1,
};
const size_t fz_attribute_type_count = FZ_ARRAY_SIZE(fz_attribute_types);

static bool is_template_type(CK_ATTRIBUTE_TYPE type)
{
    return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE ||
           type == CKA_DERIVE_TEMPLATE;
}

static CK_ATTRIBUTE *template_at(fz_input *in, CK_ULONG max, bool with_values, CK_ULONG *count,
                                 int depth);

/* A CKA_*_TEMPLATE value is an array of CK_ATTRIBUTE whose pointers the
 * caller owns: the fuzzer makes a valid one (with fuzzed types, values and
 * sometimes a length that is not a whole number of entries), never raw
 * bytes, whose "pointers" would be the harness's invalid memory, not the
 * module's.  Its entries are not templates again (the module refuses
 * those before reading them). */
static void nested_value(fz_input *in, bool with_values, CK_ATTRIBUTE *a, int depth)
{
    CK_ULONG n = 0;
    CK_ATTRIBUTE *nested = template_at(in, 4, with_values, &n, depth + 1);
    a->pValue = nested;
    a->ulValueLen = n * sizeof(CK_ATTRIBUTE);
    if (n > 0 && fz_u8(in) % 8 == 0)
        a->ulValueLen -= 1 + fz_u8(in) % (sizeof(CK_ATTRIBUTE) - 1); /* not whole entries */
}

CK_ATTRIBUTE *fz_template(fz_input *in, CK_ULONG max, bool with_values, CK_ULONG *count)
{
    return template_at(in, max, with_values, count, 0);
}

static CK_ATTRIBUTE *template_at(fz_input *in, CK_ULONG max, bool with_values, CK_ULONG *count,
                                 int depth)
{
    CK_ULONG n = fz_u8(in) % (max + 1);
    *count = n;
    if (n == 0)
        return NULL;
    CK_ATTRIBUTE *t = fz_alloc(n * sizeof(*t));
    for (CK_ULONG i = 0; i < n; i++) {
        t[i].type = fz_pick(in, fz_attribute_types, fz_attribute_type_count);
        while (depth > 0 && is_template_type(t[i].type))
            t[i].type = CKA_LABEL;
        if (is_template_type(t[i].type)) {
            nested_value(in, with_values, &t[i], depth);
            continue;
        }
        if (with_values) {
            CK_BYTE_PTR p;
            fz_buffer(in, &p, &t[i].ulValueLen);
            t[i].pValue = p;
        } else {
            /* An output buffer: its length from the input, or NULL for a
             * size query; the module must write no more than its length. */
            CK_ULONG len = fz_len(in);
            if (len > FZ_MAX_BUFFER || fz_bool(in)) {
                t[i].pValue = NULL;
                t[i].ulValueLen = len;
            } else {
                t[i].pValue = len ? memset(fz_alloc(len), 0xA5, len) : NULL;
                t[i].ulValueLen = len;
            }
        }
    }
    return t;
}

/* ---- the module ------------------------------------------------------------------------- */

static void remove_root(void);

void fz_fail(const char *fmt, ...)
{
    remove_root(); /* abort() skips atexit */
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz invariant failed: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* Undefined behaviour stops the run like a memory error (the checks stay
 * recoverable so that known.supp can suppress what is already reported). */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
    return "halt_on_error=1:print_stacktrace=1";
}

bool fz_skip_known(void)
{
    const char *v = getenv("SOFTSE_FUZZ_SKIP_KNOWN");
    return v && *v && strcmp(v, "0") != 0;
}

CK_RV fz_trace(CK_RV rv, const char *fmt, ...)
{
    static int on = -1;
    if (on < 0)
        on = getenv("SOFTSE_FUZZ_TRACE") != NULL;
    if (on) {
        va_list ap;
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " -> 0x%lx\n", (unsigned long)rv);
    }
    return rv;
}

extern int se_log_level; /* common/log.c: silenced while fuzzing */

static char cleanup_root[1024];

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_root(void)
{
    if (cleanup_root[0] && !getenv("SOFTSE_FUZZ_KEEP"))
        nftw(cleanup_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Directories left by runs that crashed (a crash skips atexit): named
 * softse-fuzz-<pid>-..., removed when that process is gone. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        long pid;
        if (sscanf(e->d_name, "softse-fuzz-%ld-", &pid) != 1 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    closedir(d);
}

void fz_env(fz_module *m, const char *name)
{
    bool manufacture = m->manufacture;
    memset(m, 0, sizeof(*m));
    m->manufacture = manufacture;
    const char *base = getenv("TMPDIR");
    struct stat st;
    if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
        base = "/dev/shm";
    if (!base || !*base)
        base = "/tmp";
    remove_stale(base);
    snprintf(m->root, sizeof(m->root), "%s/softse-fuzz-%ld-%s.XXXXXX", base, (long)getpid(), name);
    if (!mkdtemp(m->root))
        fz_fail("mkdtemp %s: %s", m->root, strerror(errno));
    snprintf(m->store, sizeof(m->store), "%s/store", m->root);
    if (mkdir(m->store, 0700) != 0)
        fz_fail("mkdir %s: %s", m->store, strerror(errno));
    snprintf(cleanup_root, sizeof(cleanup_root), "%s", m->root);
    atexit(remove_root);
    setenv("SOFTSE_STORE", m->store, 1);
    setenv("SOFTSE_PIN_KDF_ITERATIONS", "1", 1);
    unsetenv("SOFTSE_CONF");
    /* The harnesses give one key every usage, to reach every mechanism;
     * the strict separation (docs/spec.md §7.2) is tested elsewhere. */
    setenv("SOFTSE_KEY_SEPARATION", "relaxed", 1);
}

static void pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t n = strlen(text);
    memset(field, ' ', size);
    memcpy(field, text, n < size ? n : size);
}

static void must(CK_RV rv, const char *what)
{
    if (rv != CKR_OK)
        fz_fail("setup: %s: 0x%lx", what, (unsigned long)rv);
}

static void manufacture(fz_module *m, CK_SESSION_HANDLE so)
{
    /* DER of the OID prime256v1 (1.2.840.10045.3.1.7) */
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    CK_ATTRIBUTE priv[] = {{CKA_SE_ATTESTATION, &yes, sizeof(yes)}};
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE hpub, hpriv;
    must(m->f->C_GenerateKeyPair(so, &mech, pub, 1, priv, 1, &hpub, &hpriv),
         "C_GenerateKeyPair (device identity)");
}

static void token_login(fz_module *m)
{
    CK_FUNCTION_LIST_PTR f = m->f;
    CK_SESSION_HANDLE so;
    must(f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &so),
         "C_OpenSession (SO)");
    must(f->C_Login(so, CKU_SO, (CK_UTF8CHAR_PTR)FZ_SO_PIN, strlen(FZ_SO_PIN)), "C_Login SO");
    must(f->C_InitPIN(so, (CK_UTF8CHAR_PTR)FZ_USER_PIN, strlen(FZ_USER_PIN)), "C_InitPIN");
    if (m->manufacture)
        manufacture(m, so);
    must(f->C_CloseSession(so), "C_CloseSession");
    must(f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &m->session),
         "C_OpenSession");
    must(f->C_Login(m->session, CKU_USER, (CK_UTF8CHAR_PTR)FZ_USER_PIN, strlen(FZ_USER_PIN)),
         "C_Login user");
}

static void token_create(fz_module *m, const char *label_text)
{
    must(m->f->C_Initialize(NULL), "C_Initialize");
    if (!getenv("SOFTSE_FUZZ_LOG"))
        se_log_level = -1;
    CK_SLOT_ID slots[8];
    CK_ULONG count = FZ_ARRAY_SIZE(slots);
    must(m->f->C_GetSlotList(CK_TRUE, slots, &count), "C_GetSlotList");
    if (count == 0)
        fz_fail("setup: no slot");
    m->slot = slots[count - 1]; /* the blank token comes last */
    CK_UTF8CHAR label[32];
    pad(label, sizeof(label), label_text);
    must(m->f->C_InitToken(m->slot, (CK_UTF8CHAR_PTR)FZ_SO_PIN, strlen(FZ_SO_PIN), label),
         "C_InitToken");
    token_login(m);
}

void fz_module_setup(fz_module *m, const char *name)
{
    fz_env(m, name);
    must(C_GetFunctionList(&m->f), "C_GetFunctionList");
    token_create(m, name);
}

void fz_module_reset(fz_module *m)
{
    must(m->f->C_Finalize(NULL), "C_Finalize (reset)");
    nftw(m->store, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(m->store, 0700) != 0)
        fz_fail("mkdir %s: %s", m->store, strerror(errno));
    token_create(m, "fuzz-reset");
}

CK_SESSION_HANDLE fz_open_session(fz_module *m)
{
    CK_SESSION_HANDLE h;
    must(m->f->C_OpenSession(m->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &h),
         "C_OpenSession");
    return h;
}
