/*
 * p11_fixture.h — shared fixtures for tests that drive softse-pkcs11.so
 * through its public PKCS#11 interface, as any consumer would.
 *
 * The module is dlopen'ed from $SOFTSE_MODULE (meson passes the built
 * module).  Every test gets a fresh temporary store: SOFTSE_STORE and a
 * fast SOFTSE_PIN_KDF_ITERATIONS are set before C_Initialize, and the
 * directory is removed afterwards.  Pointing SOFTSE_MODULE at SoftHSM2
 * runs the same tests against a reference module (SOFTHSM2_CONF is set to
 * the same temporary store), which tells a test bug from a module bug
 * for everything softse does not choose differently.
 *
 * Include this after the C library headers and before <cmocka.h>.
 */
#ifndef SOFTSE_P11_FIXTURE_H
#define SOFTSE_P11_FIXTURE_H

#include <limits.h>
#include <pkcs11.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <softse/softse-pkcs11.h>

#ifndef NULL_PTR
#define NULL_PTR NULL
#endif

#define FX_SO_PIN "12345678"
#define FX_USER_PIN "123456"
#define FX_TOKEN_LABEL "softse-test"
#define FX_PIN_KDF_ITERATIONS "1000"

typedef struct fx {
    CK_FUNCTION_LIST_PTR f;      /* from C_GetFunctionList */
    CK_FUNCTION_LIST_3_0_PTR f3; /* from C_GetInterface("PKCS 11", 3.0) */
    char root[PATH_MAX];         /* temporary directory of this test */
    char store[PATH_MAX];        /* root/store: SOFTSE_STORE */
    CK_SLOT_ID slot;             /* the token made by fx_setup_token */
    CK_SESSION_HANDLE session;   /* RW session, user logged in (fx_setup_user) */
    int saved_stderr;            /* fx_stderr_begin/end */
} fx;

/* ---- the module --------------------------------------------------------- */

/* dlopen()s the module once per process; aborts the test program with a
 * message when it cannot be loaded. */
void *fx_module(void);
void *fx_symbol(const char *name); /* NULL when the module lacks it */
CK_FUNCTION_LIST_PTR fx_functions(void);
/* The 3.0 list from C_GetInterface("PKCS 11", {3,0}); NULL when absent. */
CK_FUNCTION_LIST_3_0_PTR fx_functions_3_0(void);

/* C_Initialize with a CK_C_INITIALIZE_ARGS laid out as PKCS#11 3.0 defines
 * it, as every consumer but NSS passes it.  (NSS's header inserts a
 * LibraryParameters field before pReserved: a module built with that
 * header must read the standard pReserved slot and nothing beyond.)  A
 * non-NULL word follows the structure, so a module that reads past it
 * sees a non-NULL "pReserved" and fails. */
CK_RV fx_initialize_args(CK_CREATEMUTEX create, CK_DESTROYMUTEX destroy, CK_LOCKMUTEX lock,
                         CK_UNLOCKMUTEX unlock, CK_FLAGS flags, CK_VOID_PTR reserved);

/* ---- return values -------------------------------------------------------- */

const char *fx_rv_name(CK_RV rv); /* "CKR_PIN_INCORRECT", or "CKR_0x..." */

/* assert_rv(C_Foo(...), CKR_OK): on mismatch names the call and both codes. */
#define assert_rv(call, expected) fx_assert_rv((call), (expected), #call, __FILE__, __LINE__)
/* assert_rv_in(call, CKR_DEVICE_ERROR, CKR_GENERAL_ERROR): one of these. */
#define assert_rv_in(call, ...)                                                                    \
    fx_assert_rv_in((call), #call, __FILE__, __LINE__, (const CK_RV[]){__VA_ARGS__},               \
                    sizeof((const CK_RV[]){__VA_ARGS__}) / sizeof(CK_RV))
void fx_assert_rv(CK_RV got, CK_RV expected, const char *what, const char *file, int line);
void fx_assert_rv_in(CK_RV got, const char *what, const char *file, int line, const CK_RV *allowed,
                     size_t count);

/* In a forked child, where cmocka cannot be used: print and _exit(1). */
#define child_rv(call, expected)                                                                   \
    do {                                                                                           \
        CK_RV child_rv_got_ = (call);                                                              \
        if (child_rv_got_ != (CK_RV)(expected)) {                                                  \
            fprintf(stderr, "%s:%d (child %d): %s: expected %s, got %s\n", __FILE__, __LINE__,     \
                    (int)getpid(), #call, fx_rv_name(expected), fx_rv_name(child_rv_got_));        \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)
#define child_check(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d (child %d): check failed: %s\n", __FILE__, __LINE__,            \
                    (int)getpid(), #cond);                                                         \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)
/* Waits for pid and asserts it exited with status 0. */
void fx_assert_child_ok(pid_t pid);

/* ---- environment ----------------------------------------------------------- */

/* Makes a fresh temporary root with an empty store/ and points
 * SOFTSE_STORE (and SOFTHSM2_CONF) at it; sets the fast PIN KDF cost and
 * unsets SOFTSE_CONF. */
void fx_env_fresh(fx *t);
/* From now on fx_env_fresh also gives each test its own device root of
 * trust: SOFTSE_ROT_DIR = root/rot (file provider; SOFTSE_ROT_PROVIDER and
 * SOFTSE_ROT_TCTI unset).  Off by default: those tests share the user's. */
void fx_own_rot_dir(bool on);
void fx_env_cleanup(fx *t); /* removes root recursively */
int fx_remove_tree(const char *path);

/* ---- cmocka setups (state is a fx *) --------------------------------------- */

int fx_setup_env(void **state);    /* fresh store, not initialized */
int fx_setup_module(void **state); /* + C_Initialize(NULL) */
int fx_setup_token(void **state);  /* + token FX_TOKEN_LABEL with SO and user PINs: t->slot */
int fx_setup_user(void **state);   /* + RW session with the user logged in: t->session */
int fx_teardown(void **state);     /* C_Finalize (if initialized), store removed */

/* ---- tokens, sessions, objects ------------------------------------------- */

void fx_pad(CK_UTF8CHAR *field, size_t size, const char *text); /* blank padded */
CK_RV fx_restart(void);                                         /* C_Finalize + C_Initialize */
/* The slot with a present but uninitialized token (asserts there is one). */
CK_SLOT_ID fx_blank_slot(void);
/* The slot whose token has this label (asserts there is one). */
CK_SLOT_ID fx_slot_by_label(const char *label);
CK_RV fx_init_token(CK_SLOT_ID slot, const char *so_pin, const char *label);
/* Opens an RW session, logs the SO in, C_InitPIN, closes it. */
CK_RV fx_init_user_pin(CK_SLOT_ID slot, const char *so_pin, const char *user_pin);
/* Initializes the blank slot's token and its user PIN; returns its slot. */
CK_SLOT_ID fx_new_token(const char *label);
CK_RV fx_open(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *session);
CK_RV fx_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, const char *pin);
CK_FLAGS fx_token_flags(CK_SLOT_ID slot);
CK_STATE fx_session_state(CK_SESSION_HANDLE session);

/* C_FindObjectsInit/C_FindObjects/C_FindObjectsFinal; asserts each call. */
CK_ULONG fx_find(CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                 CK_OBJECT_HANDLE *found, CK_ULONG max);
CK_ULONG fx_count_label(CK_SESSION_HANDLE session, const char *label);
CK_RV fx_create_data(CK_SESSION_HANDLE session, const char *label, bool token, bool private_,
                     const void *value, size_t len, CK_OBJECT_HANDLE *object);
/* An AES key from known bytes; sensitive/extractable as given. */
CK_RV fx_create_aes(CK_SESSION_HANDLE session, const char *label, bool token, bool sensitive,
                    bool extractable, const unsigned char *value, size_t len,
                    CK_OBJECT_HANDLE *object);
/* An AES key that only wraps and unwraps (docs/spec.md §7.2: a key
 * either carries keys or encrypts data), sensitive, not extractable. */
CK_RV fx_create_kek(CK_SESSION_HANDLE session, const char *label, const unsigned char *value,
                    size_t len, CK_OBJECT_HANDLE *object);
/* Reads a CK_BBOOL / CK_ULONG attribute (asserts CKR_OK and size). */
CK_BBOOL fx_get_bool(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);
CK_ULONG fx_get_ulong(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type);

/* Reads a whole file; NULL when missing.  Free with free(). */
unsigned char *fx_read_file(const char *path, size_t *len);

/* Sends this process's stderr to a file in t->root until fx_stderr_end,
 * which restores it and returns what was written (NUL terminated; free). */
void fx_stderr_begin(fx *t);
char *fx_stderr_end(fx *t);

#endif
