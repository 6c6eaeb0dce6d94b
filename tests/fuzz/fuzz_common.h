/*
 * fuzz_common.h — what the libFuzzer targets of tests/fuzz/ share: a
 * reader that turns the fuzzer's bytes into typed values, a per-run arena
 * of exactly-sized heap copies (so that AddressSanitizer sees every read
 * past a length the caller gave), and the module set up once per process
 * with a fresh store, a token and a logged-in user.
 *
 * The targets call the module's entry points directly (the module's
 * sources are compiled into each target with coverage instrumentation,
 * tests/fuzz/meson.build); the replay driver (replay.c) links the same
 * targets against the ordinary build for the regression tests.
 */
#ifndef SOFTSE_FUZZ_COMMON_H
#define SOFTSE_FUZZ_COMMON_H

#include "p11.h" /* common/: PKCS#11 3.0 types as the module sees them */

#define FZ_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Largest buffer a target allocates for one length taken from the input:
 * longer lengths are only ever passed with a NULL pointer. */
#define FZ_MAX_BUFFER 4096

/* ---- reading the input ------------------------------------------------- */

typedef struct fz_input {
    const uint8_t *data;
    size_t left;
} fz_input;

uint8_t fz_u8(fz_input *in); /* 0 once the input is exhausted */
uint16_t fz_u16(fz_input *in);
uint32_t fz_u32(fz_input *in);
CK_ULONG fz_ulong(fz_input *in); /* 8 bytes */
bool fz_bool(fz_input *in);
/* A length: one byte (0..250), or a marker byte followed by 2 or 8 bytes,
 * so that small values are cheap and huge ones reachable. */
CK_ULONG fz_len(fz_input *in);
/* One of the values of a table, or (for a selector past its end) a raw
 * CK_ULONG from the input: the fuzzer reaches both known and unknown codes. */
CK_ULONG fz_pick(fz_input *in, const CK_ULONG *table, size_t count);

/* ---- the per-run arena ---------------------------------------------------- */

/* A heap copy of the next len bytes of the input (zero padded when the
 * input is shorter), exactly len bytes long; NULL for len 0.  Freed by
 * fz_arena_free.  len is capped at FZ_MAX_BUFFER by the callers. */
void *fz_take(fz_input *in, size_t len);
/* A zeroed arena allocation of exactly len bytes (len > 0). */
void *fz_alloc(size_t len);
void *fz_copy(const void *data, size_t len);
void fz_arena_free(void);

/* A (pointer, length) pair read from the input: usually a buffer of that
 * length, sometimes NULL with a length (which the module must refuse), or
 * a long length with no buffer. */
void fz_buffer(fz_input *in, CK_BYTE_PTR *ptr, CK_ULONG *len);

/* ---- templates -------------------------------------------------------------- */

/* The attribute types a template draws from (every CKA_ the module knows
 * of, the vendor ones, and a few it does not). */
extern const CK_ULONG fz_attribute_types[];
extern const size_t fz_attribute_type_count;

/* Reads up to max attributes: type, length mode, value (encoding in fuzz_common.c).  with_values false builds an
 * output template for C_GetAttributeValue (buffers of the given length,
 * filled with 0xA5, or NULL for a size query). */
CK_ATTRIBUTE *fz_template(fz_input *in, CK_ULONG max, bool with_values, CK_ULONG *count);

/* ---- the module --------------------------------------------------------- */

#define FZ_SO_PIN "fuzz-so-pin"
#define FZ_USER_PIN "fuzz-user-pin"

typedef struct fz_module {
    CK_FUNCTION_LIST_PTR f;
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session; /* RW, user logged in; keeps the session objects of setup */
    char root[1024];           /* temporary directory (removed at exit) */
    char store[1100];          /* root/store: SOFTSE_STORE */
    bool manufacture;          /* set before setup: give the token its device identity */
} fz_module;

/* Makes a temporary directory (under /dev/shm when it exists: SQLite's
 * fsyncs are free there) and points SOFTSE_STORE at it, with a fast PIN
 * KDF and the module's log silenced (SOFTSE_FUZZ_LOG=1 keeps it). */
void fz_env(fz_module *m, const char *name);
/* fz_env, then C_Initialize, a token with FZ_SO_PIN and FZ_USER_PIN, an RW
 * session with the user logged in (m->session).  Aborts on failure. */
void fz_module_setup(fz_module *m, const char *name);
/* The token's device key pair (docs/spec.md §2), made by the SO at setup when
 * m->manufacture is set: an SO's C_GenerateKeyPair with CKA_SE_ATTESTATION. */
/* Starts over: C_Finalize, an empty store, a new token, a session with
 * the user logged in.  Targets call it when objects they could not
 * destroy, or audit records, pile up; they make their fixtures again. */
void fz_module_reset(fz_module *m);
/* A new RW session on the token; the caller closes it. */
CK_SESSION_HANDLE fz_open_session(fz_module *m);

/* A failed invariant: prints and aborts (a crash for libFuzzer). */
void fz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define FZ_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fz_fail(__VA_ARGS__);                                                                  \
    } while (0)

/* SOFTSE_FUZZ_SKIP_KNOWN=1: the targets step around the defects already
 * reported (docs/reliability.md lists them), so that a long run explores
 * past them.  The short runs and the regression replays never set it. */
bool fz_skip_known(void);

/* SOFTSE_FUZZ_TRACE=1: prints what a run called and got (for checking
 * that a seed does what it was written for); returns rv. */
CK_RV fz_trace(CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* libFuzzer's entry points, implemented by each target. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
