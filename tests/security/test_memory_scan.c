/*
 * Secrets in memory (issue 14, "Secrets in memory"), attacked as an
 * attacker holding a core dump would: the test scans its own writable
 * memory (every mapping /proc/self/maps marks writable, read through
 * /proc/self/mem) for known key values and PINs it gave the module.
 *
 * Known values: a sensitive AES key (token object) that encrypts, a
 * sensitive HMAC key (session object) that signs, an EC P-256 private key
 * (token object) and an RSA-2048 private key (session object) that sign,
 * the user and SO PINs.  The EC scalar is searched whole, the RSA private
 * exponent and primes by 16-byte windows; key integers big-endian as
 * PKCS#11 gives them and byte-reversed as a BIGNUM keeps them in memory
 * (64-bit limbs, least significant first, on a little-endian machine).
 *
 * Points:
 *   (a) logged in, after use: the AES key's clear value and the PINs
 *       must not be there (the object cache keeps key values masked); the
 *       private keys (OpenSSL's EVP_PKEY, kept while logged in) and the
 *       HMAC key (OpenSSL's copy in the keyed context the session keeps)
 *       are counted and reported;
 *   (a') the HMAC key destroyed: no copy of it; (a'') the same after
 *       the close of a session whose HMAC key another session used;
 *   (b) after C_Logout, (c) after C_CloseAllSessions, (d) after
 *       C_Finalize: nothing at all.
 *
 * The test's own copies are kept XOR 0x5a and unmasked only into a buffer
 * that is cleansed right after the call that needs it; the scan compares
 * through the mask and reads memory into a mapping of its own that it
 * skips and cleanses.  The key pairs are made by a child process, which
 * sends them masked: OpenSSL's key generation would leave copies in this
 * process's heap.
 */
#include "p11_fixture.h"
#include "p11_keys.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/wait.h>

#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MASK 0x5a
#define WINDOW 16
#define SCAN_CHUNK (1u << 20)
#define SCAN_MAPPING_MAX (1ul << 32) /* larger writable mappings are sanitizer shadow */

/* ---- the test's own secrets, kept masked -------------------------------- */

typedef struct masked {
    unsigned char *data; /* each byte XOR MASK */
    size_t len;
} masked;

static void mask_in_place(unsigned char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] ^= MASK;
}

static masked masked_from(unsigned char *clear, size_t len) /* masks clear in place, takes it */
{
    mask_in_place(clear, len);
    return (masked){clear, len};
}

/* A clear copy for one call; the caller cleanses it with clear_done. */
static unsigned char *clear_copy(const masked *m)
{
    unsigned char *p = malloc(m->len + 1);
    assert_non_null(p);
    for (size_t i = 0; i < m->len; i++)
        p[i] = m->data[i] ^ MASK;
    p[m->len] = 0;
    return p;
}

static void clear_done(unsigned char *p, size_t len)
{
    explicit_bzero(p, len + 1);
    free(p);
}

/* The known secrets: [0] AES, [1] HMAC, then the key pairs' values. */
static struct {
    masked aes, hmac, user_pin, so_pin;
    masked ec_params, ec_point, ec_value;
    masked rsa[8]; /* modulus, public exponent, private exponent, p, q, dp, dq, qinv */
} known;

enum { RSA_N, RSA_E, RSA_D, RSA_P, RSA_Q, RSA_DP, RSA_DQ, RSA_QINV };

static masked random_masked(size_t len)
{
    unsigned char *p = malloc(len);
    assert_non_null(p);
    for (size_t got = 0; got < len;) {
        ssize_t n = getrandom(p + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    return masked_from(p, len);
}

static masked random_pin(const char *prefix)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    masked r = random_masked(24);
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < r.len; i++) {
        unsigned char c = (unsigned char)((r.data[i] ^ MASK) % (sizeof(digits) - 1));
        unsigned char clear = i < plen ? (unsigned char)prefix[i] : (unsigned char)digits[c];
        r.data[i] = clear ^ MASK;
    }
    return r;
}

static void write_masked(int fd, const unsigned char *p, size_t len)
{
    unsigned char buf[1024];
    assert_true(len <= sizeof(buf));
    for (size_t i = 0; i < len; i++)
        buf[i] = p[i] ^ MASK;
    uint32_t n = (uint32_t)len;
    if (write(fd, &n, sizeof(n)) != sizeof(n) || write(fd, buf, len) != (ssize_t)len)
        _exit(2);
}

static masked read_masked(int fd)
{
    uint32_t n = 0;
    assert_int_equal(read(fd, &n, sizeof(n)), sizeof(n));
    unsigned char *p = malloc(n ? n : 1);
    assert_non_null(p);
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, p + got, n - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    return (masked){p, n};
}

/* The key pairs, made in a child: its heap is not scanned. */
static void make_key_pairs(void)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        fx_ec_key ec;
        fx_rsa_key rsa;
        fx_ec_key_new(&ec);
        fx_rsa_key_new(&rsa);
        write_masked(fds[1], ec.params.data, ec.params.len);
        write_masked(fds[1], ec.point.data, ec.point.len);
        write_masked(fds[1], ec.value.data, ec.value.len);
        const fx_bytes *parts[] = {&rsa.modulus,   &rsa.public_exponent, &rsa.private_exponent,
                                   &rsa.prime1,    &rsa.prime2,          &rsa.exponent1,
                                   &rsa.exponent2, &rsa.coefficient};
        for (size_t i = 0; i < ARRAY_SIZE(parts); i++)
            write_masked(fds[1], parts[i]->data, parts[i]->len);
        _exit(0);
    }
    close(fds[1]);
    known.ec_params = read_masked(fds[0]);
    known.ec_point = read_masked(fds[0]);
    known.ec_value = read_masked(fds[0]);
    for (size_t i = 0; i < ARRAY_SIZE(known.rsa); i++)
        known.rsa[i] = read_masked(fds[0]);
    close(fds[0]);
    fx_assert_child_ok(pid);
}

/* ---- the scan ---------------------------------------------------------------- */

typedef struct needle {
    const char *name;
    unsigned char bytes[64]; /* masked, in the orientation searched */
    size_t len;
    bool must_be_absent_in_use; /* point (a) */
} needle;

static needle needles[32];
static size_t needle_count;

static void add_needle(const char *name, const masked *m, size_t offset, size_t len, bool reversed,
                       bool absent_in_use)
{
    assert_true(needle_count < ARRAY_SIZE(needles) && len <= sizeof(needles[0].bytes));
    assert_true(offset + len <= m->len);
    needle *n = &needles[needle_count++];
    n->name = name;
    n->len = len;
    n->must_be_absent_in_use = absent_in_use;
    for (size_t i = 0; i < len; i++)
        n->bytes[i] = reversed ? m->data[m->len - 1 - offset - i] : m->data[offset + i];
}

/* Whole values, and windows of the RSA integers at a few offsets, in
 * both byte orders. */
static void make_needles(void)
{
    for (int rev = 0; rev <= 1; rev++) {
        add_needle(rev ? "aes key (reversed)" : "aes key", &known.aes, 0, 32, rev, true);
        /* A session keeps its HMAC context keyed while logged in
         * (mechanisms/mech_util.c mech_hmac_keep): OpenSSL's copy of its key
         * is the one in use. */
        add_needle(rev ? "hmac key (reversed)" : "hmac key", &known.hmac, 0, 32, rev, false);
        add_needle(rev ? "ec scalar (reversed)" : "ec scalar", &known.ec_value, 0, 32, rev, false);
        static const size_t at[] = {0, 40, 100};
        for (size_t i = 0; i < ARRAY_SIZE(at); i++) {
            static const char *d_names[2][3] = {{"rsa d[0..16]", "rsa d[40..56]", "rsa d[100..116]"},
                                                {"rsa d[0..16] (reversed)", "rsa d[40..56] (reversed)",
                                                 "rsa d[100..116] (reversed)"}};
            static const char *p_names[2][3] = {{"rsa p[0..16]", "rsa p[40..56]", "rsa p[100..116]"},
                                                {"rsa p[0..16] (reversed)", "rsa p[40..56] (reversed)",
                                                 "rsa p[100..116] (reversed)"}};
            add_needle(d_names[rev][i], &known.rsa[RSA_D], at[i], WINDOW, rev, false);
            if (at[i] + WINDOW <= known.rsa[RSA_P].len)
                add_needle(p_names[rev][i], &known.rsa[RSA_P], at[i], WINDOW, rev, false);
        }
    }
    add_needle("user pin", &known.user_pin, 0, known.user_pin.len, false, true);
    add_needle("so pin", &known.so_pin, 0, known.so_pin.len, false, true);
}

typedef struct scan_result {
    size_t hits[ARRAY_SIZE(needles)];
    size_t bytes_scanned;
    size_t skipped; /* mappings over SCAN_MAPPING_MAX */
} scan_result;

static void scan_buffer(const unsigned char *buf, size_t len, scan_result *r)
{
    for (size_t k = 0; k < needle_count; k++) {
        const needle *n = &needles[k];
        unsigned char first = n->bytes[0] ^ MASK;
        for (size_t i = 0; i + n->len <= len; i++) {
            if (buf[i] != first)
                continue;
            size_t j = 1;
            while (j < n->len && (buf[i + j] ^ MASK) == n->bytes[j])
                j++;
            if (j == n->len)
                r->hits[k]++;
        }
    }
}

/* Every writable mapping but the scan buffer itself.  A chunk overlaps
 * the next by a needle's length so values across a boundary are seen. */
static void scan_memory(scan_result *r)
{
    memset(r, 0, sizeof(*r));
    size_t overlap = 64;
    unsigned char *buf = mmap(NULL, SCAN_CHUNK + overlap, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(buf != MAP_FAILED);
    uintptr_t skip_lo = (uintptr_t)buf, skip_hi = skip_lo + SCAN_CHUNK + overlap;
    FILE *maps = fopen("/proc/self/maps", "r");
    assert_non_null(maps);
    int mem = open("/proc/self/mem", O_RDONLY);
    assert_true(mem >= 0);
    char line[512];
    while (fgets(line, sizeof(line), maps)) {
        unsigned long lo, hi;
        char perms[8] = "";
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[1] != 'w')
            continue;
        if (strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
            continue;
        if (lo < skip_hi && hi > skip_lo)
            continue;
        /* AddressSanitizer's shadow: terabytes reserved, no program data. */
        if (hi - lo > SCAN_MAPPING_MAX) {
            r->skipped++;
            continue;
        }
        for (unsigned long at = lo; at < hi; at += SCAN_CHUNK) {
            size_t want = hi - at < SCAN_CHUNK + overlap ? hi - at : SCAN_CHUNK + overlap;
            ssize_t got = pread(mem, buf, want, (off_t)at);
            if (got <= 0)
                continue; /* not readable (a guard page) */
            scan_buffer(buf, (size_t)got, r);
            r->bytes_scanned += (size_t)(got < SCAN_CHUNK ? got : SCAN_CHUNK);
        }
    }
    close(mem);
    fclose(maps);
    explicit_bzero(buf, SCAN_CHUNK + overlap);
    munmap(buf, SCAN_CHUNK + overlap);
}

/* Counts a value once per place: a chunk's overlap repeats at most what
 * straddles its end, so hits inside the overlap are in the next chunk
 * too — the overlap is counted twice only for values there; tolerable for
 * an assertion of zero, and reported as is. */
static size_t report(const char *point, bool in_use, bool assert_zero)
{
    scan_result r;
    scan_memory(&r);
    size_t total_must = 0;
    printf("# memory scan %s (%zu MiB scanned, %zu mappings over 4 GiB skipped):\n", point,
           r.bytes_scanned >> 20, r.skipped);
    for (size_t k = 0; k < needle_count; k++) {
        bool must = assert_zero || (in_use && needles[k].must_be_absent_in_use);
        if (r.hits[k] || must)
            printf("#   %-26s %zu%s\n", needles[k].name, r.hits[k], must ? "" : " (reported)");
        if (must)
            total_must += r.hits[k];
    }
    return total_must;
}

/* Scans and sums the hits of the needles whose name starts with prefix. */
static size_t scan_for(const char *point, const char *prefix)
{
    scan_result r;
    scan_memory(&r);
    size_t total = 0;
    printf("# memory scan %s, %s only:\n", point, prefix);
    for (size_t k = 0; k < needle_count; k++) {
        if (strncmp(needles[k].name, prefix, strlen(prefix)) != 0)
            continue;
        printf("#   %-26s %zu\n", needles[k].name, r.hits[k]);
        total += r.hits[k];
    }
    return total;
}

/* ---- the module's side ---------------------------------------------------------- */

static CK_FUNCTION_LIST_PTR f;
static CK_SLOT_ID slot;

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static CK_RV login(CK_SESSION_HANDLE session, CK_USER_TYPE user, const masked *pin)
{
    unsigned char *clear = clear_copy(pin);
    CK_RV rv = f->C_Login(session, user, clear, pin->len);
    clear_done(clear, pin->len);
    return rv;
}

/* C_CreateObject with the template's values from first_value on unmasked; the
 * template buffers are the caller's: cleansed right after. */
static CK_OBJECT_HANDLE create(CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                               const masked **values, CK_ULONG first_value)
{
    unsigned char *clear[8] = {0}; /* clear[v]: the value at tmpl[first_value + v] */
    assert_true(count - first_value <= ARRAY_SIZE(clear));
    for (CK_ULONG v = 0; first_value + v < count; v++) {
        clear[v] = clear_copy(values[v]);
        tmpl[first_value + v].pValue = clear[v];
        tmpl[first_value + v].ulValueLen = values[v]->len;
    }
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = f->C_CreateObject(session, tmpl, count, &h);
    for (CK_ULONG v = 0; first_value + v < count; v++) {
        clear_done(clear[v], values[v]->len);
        tmpl[first_value + v].pValue = NULL;
    }
    assert_rv(rv, CKR_OK);
    return h;
}

typedef struct keys {
    CK_OBJECT_HANDLE aes, hmac, ec, rsa;
} keys;

static void create_keys(CK_SESSION_HANDLE session, keys *k, bool token_objects)
{
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY, priv = CKO_PRIVATE_KEY;
    CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET, ec = CKK_EC, rsa = CKK_RSA;
    if (token_objects) {
        CK_ATTRIBUTE t[] = {{CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
                            {CKA_TOKEN, &yes, 1},    {CKA_PRIVATE, &yes, 1},
                            {CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1},
                            {CKA_ENCRYPT, &yes, 1},  {CKA_DECRYPT, &yes, 1},
                            {CKA_VALUE, NULL, 0}};
        const masked *v[] = {&known.aes};
        k->aes = create(session, t, ARRAY_SIZE(t), v, ARRAY_SIZE(t) - 1);
        CK_ATTRIBUTE e[] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_KEY_TYPE, &ec, sizeof(ec)},
                            {CKA_TOKEN, &yes, 1},  {CKA_PRIVATE, &yes, 1},
                            {CKA_SENSITIVE, &yes, 1}, {CKA_SIGN, &yes, 1},
                            {CKA_EC_PARAMS, NULL, 0}, {CKA_VALUE, NULL, 0}};
        const masked *ev[] = {&known.ec_params, &known.ec_value};
        k->ec = create(session, e, ARRAY_SIZE(e), ev, ARRAY_SIZE(e) - 2);
    }
    CK_ATTRIBUTE h[] = {{CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &generic, sizeof(generic)},
                        {CKA_TOKEN, &no, 1},     {CKA_PRIVATE, &yes, 1},
                        {CKA_SENSITIVE, &yes, 1}, {CKA_SIGN, &yes, 1},
                        {CKA_VERIFY, &yes, 1},   {CKA_VALUE, NULL, 0}};
    const masked *hv[] = {&known.hmac};
    k->hmac = create(session, h, ARRAY_SIZE(h), hv, ARRAY_SIZE(h) - 1);
    CK_ATTRIBUTE r[] = {{CKA_CLASS, &priv, sizeof(priv)},
                        {CKA_KEY_TYPE, &rsa, sizeof(rsa)},
                        {CKA_TOKEN, &no, 1},
                        {CKA_PRIVATE, &yes, 1},
                        {CKA_SENSITIVE, &yes, 1},
                        {CKA_SIGN, &yes, 1},
                        {CKA_MODULUS, NULL, 0},
                        {CKA_PUBLIC_EXPONENT, NULL, 0},
                        {CKA_PRIVATE_EXPONENT, NULL, 0},
                        {CKA_PRIME_1, NULL, 0},
                        {CKA_PRIME_2, NULL, 0},
                        {CKA_EXPONENT_1, NULL, 0},
                        {CKA_EXPONENT_2, NULL, 0},
                        {CKA_COEFFICIENT, NULL, 0}};
    const masked *rv[8];
    for (size_t i = 0; i < 8; i++)
        rv[i] = &known.rsa[i];
    k->rsa = create(session, r, ARRAY_SIZE(r), rv, ARRAY_SIZE(r) - 8);
}

/* Finds the token objects again (a new login, another session). */
static void find_token_keys(CK_SESSION_HANDLE session, keys *k)
{
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY, priv = CKO_PRIVATE_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    CK_ATTRIBUTE a[] = {{CKA_CLASS, &secret, sizeof(secret)}, {CKA_TOKEN, &yes, 1}};
    assert_int_equal(fx_find(session, a, 2, &k->aes, 1), 1);
    CK_ATTRIBUTE e[] = {{CKA_CLASS, &priv, sizeof(priv)}, {CKA_KEY_TYPE, &ec, sizeof(ec)}};
    assert_int_equal(fx_find(session, e, 2, &k->ec, 1), 1);
}

static void use_keys(CK_SESSION_HANDLE session, const keys *k)
{
    unsigned char data[64], out[512];
    memset(data, 0x33, sizeof(data));
    CK_ULONG len;
    unsigned char iv[16] = {0};
    CK_MECHANISM cbc = {CKM_AES_CBC_PAD, iv, sizeof(iv)};
    for (int round = 0; round < 3; round++) {
        len = sizeof(out);
        assert_rv(f->C_EncryptInit(session, &cbc, k->aes), CKR_OK);
        assert_rv(f->C_Encrypt(session, data, sizeof(data), out, &len), CKR_OK);
        /* AES-GCM too: no AES context is kept keyed between operations
         * (its key schedule begins with the key itself). */
        unsigned char nonce[12] = {(unsigned char)round};
        CK_GCM_PARAMS_V3 gp = {nonce, sizeof(nonce), 96, NULL, 0, 128};
        CK_MECHANISM gcm = {CKM_AES_GCM, &gp, sizeof(gp)};
        len = sizeof(out);
        assert_rv(f->C_EncryptInit(session, &gcm, k->aes), CKR_OK);
        assert_rv(f->C_Encrypt(session, data, sizeof(data), out, &len), CKR_OK);
        CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
        len = sizeof(out);
        assert_rv(f->C_SignInit(session, &hmac, k->hmac), CKR_OK);
        assert_rv(f->C_Sign(session, data, sizeof(data), out, &len), CKR_OK);
        CK_MECHANISM ecdsa = {CKM_ECDSA_SHA256, NULL, 0};
        len = sizeof(out);
        assert_rv(f->C_SignInit(session, &ecdsa, k->ec), CKR_OK);
        assert_rv(f->C_Sign(session, data, sizeof(data), out, &len), CKR_OK);
        CK_MECHANISM pss = {CKM_SHA256_RSA_PKCS, NULL, 0};
        len = sizeof(out);
        assert_rv(f->C_SignInit(session, &pss, k->rsa), CKR_OK);
        assert_rv(f->C_Sign(session, data, sizeof(data), out, &len), CKR_OK);
    }
}

static CK_SESSION_HANDLE user_session(void)
{
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(login(session, CKU_USER, &known.user_pin), CKR_OK);
    return session;
}

/* ---- the test ----------------------------------------------------------------- */

static void memory_scan(void **state)
{
    (void)state;
    f = fx_functions();
    known.aes = random_masked(32);
    known.hmac = random_masked(32);
    known.user_pin = random_pin("User-PIN-");
    known.so_pin = random_pin("SO-PIN-");
    make_key_pairs();
    make_needles();

    assert_rv(f->C_Initialize(NULL_PTR), CKR_OK);
    slot = fx_blank_slot();
    CK_UTF8CHAR label[32];
    fx_pad(label, sizeof(label), "memory-scan");
    unsigned char *so = clear_copy(&known.so_pin);
    CK_RV rv = f->C_InitToken(slot, so, known.so_pin.len, label);
    clear_done(so, known.so_pin.len);
    assert_rv(rv, CKR_OK);
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(login(session, CKU_SO, &known.so_pin), CKR_OK);
    unsigned char *user = clear_copy(&known.user_pin);
    rv = f->C_InitPIN(session, user, known.user_pin.len);
    clear_done(user, known.user_pin.len);
    assert_rv(rv, CKR_OK);
    assert_rv(f->C_Logout(session), CKR_OK);
    assert_rv(f->C_CloseSession(session), CKR_OK);

    size_t leaks = 0;
    keys k;
    /* (a) and (b) */
    session = user_session();
    create_keys(session, &k, true);
    use_keys(session, &k);
    size_t in_use = report("(a) logged in, after use", true, false);
    /* A destroyed key's in-use copies go with it: the HMAC context the
     * session kept keyed with it among them. */
    assert_rv(f->C_DestroyObject(session, k.hmac), CKR_OK);
    size_t destroyed = scan_for("(a') after C_DestroyObject of the HMAC key", "hmac key");
    /* So do the session keys of a closed session that another session
     * used: its HMAC key, kept keyed by the session that signed. */
    CK_SESSION_HANDLE owner;
    assert_rv(fx_open(slot, true, &owner), CKR_OK);
    keys theirs = k;
    create_keys(owner, &theirs, false);
    use_keys(session, &theirs);
    assert_rv(f->C_CloseSession(owner), CKR_OK);
    destroyed += scan_for("(a'') after the close of the session that owned the HMAC key", "hmac key");
    assert_rv(f->C_Logout(session), CKR_OK);
    leaks += report("(b) after C_Logout", false, true);

    /* (c): again with a new login, then every session closed */
    assert_rv(login(session, CKU_USER, &known.user_pin), CKR_OK);
    create_keys(session, &k, false); /* the session objects went with... nothing: new ones */
    use_keys(session, &k);
    CK_SESSION_HANDLE second;
    assert_rv(fx_open(slot, true, &second), CKR_OK); /* the login is the application's */
    use_keys(second, &k);
    assert_rv(f->C_CloseAllSessions(slot), CKR_OK);
    leaks += report("(c) after C_CloseAllSessions", false, true);

    /* (d) */
    session = user_session();
    find_token_keys(session, &k);
    create_keys(session, &k, false);
    use_keys(session, &k);
    assert_rv(f->C_Finalize(NULL_PTR), CKR_OK);
    leaks += report("(d) after C_Finalize", false, true);

    printf("# in use: %zu clear copies of what must stay masked; after: %zu\n", in_use, leaks);
    assert_int_equal(in_use, 0);
    assert_int_equal(destroyed, 0);
    assert_int_equal(leaks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(memory_scan, fx_setup_env, fx_teardown),
    };
    return cmocka_run_group_tests_name("memory-scan", tests, NULL, NULL);
}
