/*
 * p11_fixture.c — see p11_fixture.h.
 */
#include "p11_fixture.h"
#include "names.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cmocka.h>

/* ---- the module ------------------------------------------------------------ */

static void *module_handle;

void *fx_module(void)
{
    if (module_handle)
        return module_handle;
    const char *path = getenv("SOFTSE_MODULE");
    if (!path || !*path) {
        fprintf(stderr, "SOFTSE_MODULE is not set: it names softse-pkcs11.so (meson sets it)\n");
        exit(1);
    }
    /* RTLD_NODELETE: nothing here unloads the module, and leak reports
     * keep their symbols. */
    module_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!module_handle) {
        fprintf(stderr, "cannot load %s: %s\n", path, dlerror());
        exit(1);
    }
    return module_handle;
}

void *fx_symbol(const char *name)
{
    return dlsym(fx_module(), name);
}

CK_FUNCTION_LIST_PTR fx_functions(void)
{
    static CK_FUNCTION_LIST_PTR list;
    if (list)
        return list;
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)fx_symbol("C_GetFunctionList");
    if (!get || get(&list) != CKR_OK || !list) {
        fprintf(stderr, "%s: C_GetFunctionList is missing or fails\n", getenv("SOFTSE_MODULE"));
        exit(1);
    }
    return list;
}

CK_FUNCTION_LIST_3_0_PTR fx_functions_3_0(void)
{
    CK_C_GetInterface get = (CK_C_GetInterface)fx_symbol("C_GetInterface");
    CK_VERSION version = {3, 0};
    CK_INTERFACE_PTR iface = NULL;
    if (!get || get((CK_UTF8CHAR_PTR) "PKCS 11", &version, &iface, 0) != CKR_OK || !iface)
        return NULL;
    return (CK_FUNCTION_LIST_3_0_PTR)iface->pFunctionList;
}

/* CK_C_INITIALIZE_ARGS of PKCS#11 3.0 (pkcs11t.h of OASIS). */
typedef struct std_initialize_args {
    CK_CREATEMUTEX CreateMutex;
    CK_DESTROYMUTEX DestroyMutex;
    CK_LOCKMUTEX LockMutex;
    CK_UNLOCKMUTEX UnlockMutex;
    CK_FLAGS flags;
    CK_VOID_PTR pReserved;
} std_initialize_args;

CK_RV fx_initialize_args(CK_CREATEMUTEX create, CK_DESTROYMUTEX destroy, CK_LOCKMUTEX lock,
                         CK_UNLOCKMUTEX unlock, CK_FLAGS flags, CK_VOID_PTR reserved)
{
    struct {
        std_initialize_args args;
        void *beyond;
    } padded = {{create, destroy, lock, unlock, flags, reserved}, (void *)&padded};
    return fx_functions()->C_Initialize(&padded.args);
}

/* ---- return values ------------------------------------------------------------ */

const char *fx_rv_name(CK_RV rv)
{
    return se_rv_name(rv); /* the one table: common/names.c */
}

void fx_assert_rv(CK_RV got, CK_RV expected, const char *what, const char *file, int line)
{
    if (got == expected)
        return;
    print_error("%s\n  expected %s, got %s\n", what, fx_rv_name(expected), fx_rv_name(got));
    _fail(file, line);
}

void fx_assert_rv_in(CK_RV got, const char *what, const char *file, int line, const CK_RV *allowed,
                     size_t count)
{
    char list[512] = "";
    for (size_t i = 0; i < count; i++) {
        if (got == allowed[i])
            return;
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? " or " : "",
                 fx_rv_name(allowed[i]));
    }
    print_error("%s\n  expected %s, got %s\n", what, list, fx_rv_name(got));
    _fail(file, line);
}

void fx_assert_child_ok(pid_t pid)
{
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            fail_msg("child %d killed by signal %d", (int)pid, WTERMSIG(status));
        fail_msg("child %d failed (exit status %d, see its message above)", (int)pid,
                 WEXITSTATUS(status));
    }
}

/* ---- environment ---------------------------------------------------------------- */

static bool own_rot_dir;

void fx_own_rot_dir(bool on)
{
    own_rot_dir = on;
}

void fx_env_fresh(fx *t)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(t->root, sizeof(t->root), "%s/softse-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(t->root)) {
        fprintf(stderr, "mkdtemp %s: %s\n", t->root, strerror(errno));
        exit(1);
    }
    if (snprintf(t->store, sizeof(t->store), "%s/store", t->root) >= (int)sizeof(t->store) ||
        mkdir(t->store, 0700) != 0) {
        fprintf(stderr, "mkdir %s: %s\n", t->store, strerror(errno));
        exit(1);
    }
    setenv("SOFTSE_STORE", t->store, 1);
    if (own_rot_dir) {
        char rot[PATH_MAX + 8];
        snprintf(rot, sizeof(rot), "%s/rot", t->root);
        setenv("SOFTSE_ROT_DIR", rot, 1);
        unsetenv("SOFTSE_ROT_PROVIDER");
        unsetenv("SOFTSE_ROT_TCTI");
    }
    setenv("SOFTSE_PIN_KDF_ITERATIONS", FX_PIN_KDF_ITERATIONS, 1);
    unsetenv("SOFTSE_CONF");

    /* Reference mode: SoftHSM2 keeps its tokens in the same directory. */
    char conf[PATH_MAX + 32];
    snprintf(conf, sizeof(conf), "%s/softhsm2.conf", t->root);
    FILE *file = fopen(conf, "w");
    if (file) {
        fprintf(file, "directories.tokendir = %s\nobjectstore.backend = file\n", t->store);
        fclose(file);
        setenv("SOFTHSM2_CONF", conf, 1);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int fx_remove_tree(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void fx_env_cleanup(fx *t)
{
    if (t->root[0] && !getenv("SOFTSE_TEST_KEEP"))
        fx_remove_tree(t->root);
    t->root[0] = '\0';
}

/* ---- cmocka setups ------------------------------------------------------------------- */

int fx_setup_env(void **state)
{
    fx *t = calloc(1, sizeof(*t));
    if (!t)
        return -1;
    t->f = fx_functions();
    fx_env_fresh(t);
    *state = t;
    return 0;
}

int fx_setup_module(void **state)
{
    if (fx_setup_env(state) != 0)
        return -1;
    fx *t = *state;
    CK_RV rv = t->f->C_Initialize(NULL_PTR);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: C_Initialize: %s\n", fx_rv_name(rv));
        return -1;
    }
    t->f3 = fx_functions_3_0();
    return 0;
}

int fx_setup_token(void **state)
{
    if (fx_setup_module(state) != 0)
        return -1;
    fx *t = *state;
    CK_SLOT_ID blank = fx_blank_slot();
    CK_RV rv = fx_init_token(blank, FX_SO_PIN, FX_TOKEN_LABEL);
    if (rv == CKR_OK)
        rv = fx_init_user_pin(blank, FX_SO_PIN, FX_USER_PIN);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: token initialization: %s\n", fx_rv_name(rv));
        return -1;
    }
    t->slot = blank;
    return 0;
}

int fx_setup_user(void **state)
{
    if (fx_setup_token(state) != 0)
        return -1;
    fx *t = *state;
    CK_RV rv = fx_open(t->slot, true, &t->session);
    if (rv == CKR_OK)
        rv = fx_login(t->session, CKU_USER, FX_USER_PIN);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: session and login: %s\n", fx_rv_name(rv));
        return -1;
    }
    return 0;
}

int fx_teardown(void **state)
{
    fx *t = *state;
    if (!t)
        return 0;
    CK_RV rv = t->f->C_Finalize(NULL_PTR);
    if (rv != CKR_OK && rv != CKR_CRYPTOKI_NOT_INITIALIZED)
        fprintf(stderr, "teardown: C_Finalize: %s\n", fx_rv_name(rv));
    fx_env_cleanup(t);
    free(t);
    *state = NULL;
    return 0;
}

/* ---- tokens, sessions, objects ------------------------------------------------------ */

void fx_pad(CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t len = strlen(text);
    memset(field, ' ', size);
    memcpy(field, text, len < size ? len : size);
}

CK_RV fx_restart(void)
{
    CK_RV rv = fx_functions()->C_Finalize(NULL_PTR);
    if (rv != CKR_OK)
        return rv;
    return fx_functions()->C_Initialize(NULL_PTR);
}

static CK_ULONG slot_list(CK_SLOT_ID *slots, CK_ULONG max)
{
    CK_ULONG count = max;
    assert_rv(fx_functions()->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    return count;
}

CK_SLOT_ID fx_blank_slot(void)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = slot_list(slots, 64);
    for (CK_ULONG i = count; i-- > 0;) {
        CK_TOKEN_INFO info;
        assert_rv(fx_functions()->C_GetTokenInfo(slots[i], &info), CKR_OK);
        if (!(info.flags & CKF_TOKEN_INITIALIZED))
            return slots[i];
    }
    fail_msg("no slot with an uninitialized token among %lu slots", (unsigned long)count);
    return 0;
}

CK_SLOT_ID fx_slot_by_label(const char *label)
{
    CK_UTF8CHAR padded[32];
    fx_pad(padded, sizeof(padded), label);
    CK_SLOT_ID slots[64];
    CK_ULONG count = slot_list(slots, 64);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        assert_rv(fx_functions()->C_GetTokenInfo(slots[i], &info), CKR_OK);
        if ((info.flags & CKF_TOKEN_INITIALIZED) && memcmp(info.label, padded, 32) == 0)
            return slots[i];
    }
    fail_msg("no token labelled \"%s\"", label);
    return 0;
}

CK_RV fx_init_token(CK_SLOT_ID slot, const char *so_pin, const char *label)
{
    CK_UTF8CHAR padded[32];
    fx_pad(padded, sizeof(padded), label);
    return fx_functions()->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
}

CK_RV fx_init_user_pin(CK_SLOT_ID slot, const char *so_pin, const char *user_pin)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE session;
    CK_RV rv = fx_open(slot, true, &session);
    if (rv != CKR_OK)
        return rv;
    rv = fx_login(session, CKU_SO, so_pin);
    if (rv == CKR_OK)
        rv = f->C_InitPIN(session, (CK_UTF8CHAR_PTR)user_pin, strlen(user_pin));
    CK_RV rv_logout = f->C_Logout(session);
    CK_RV rv_close = f->C_CloseSession(session);
    if (rv == CKR_OK)
        rv = rv_logout != CKR_OK ? rv_logout : rv_close;
    return rv;
}

CK_SLOT_ID fx_new_token(const char *label)
{
    CK_SLOT_ID slot = fx_blank_slot();
    assert_rv(fx_init_token(slot, FX_SO_PIN, label), CKR_OK);
    assert_rv(fx_init_user_pin(slot, FX_SO_PIN, FX_USER_PIN), CKR_OK);
    return slot;
}

CK_RV fx_open(CK_SLOT_ID slot, bool rw, CK_SESSION_HANDLE *session)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    return fx_functions()->C_OpenSession(slot, flags, NULL_PTR, NULL_PTR, session);
}

CK_RV fx_login(CK_SESSION_HANDLE session, CK_USER_TYPE user, const char *pin)
{
    return fx_functions()->C_Login(session, user, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

CK_FLAGS fx_token_flags(CK_SLOT_ID slot)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(slot, &info), CKR_OK);
    return info.flags;
}

CK_STATE fx_session_state(CK_SESSION_HANDLE session)
{
    CK_SESSION_INFO info;
    assert_rv(fx_functions()->C_GetSessionInfo(session, &info), CKR_OK);
    return info.state;
}

CK_ULONG fx_find(CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                 CK_OBJECT_HANDLE *found, CK_ULONG max)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_HANDLE scratch[16];
    CK_ULONG total = 0, got = 0;
    assert_rv(f->C_FindObjectsInit(session, tmpl, count), CKR_OK);
    do {
        CK_OBJECT_HANDLE *out = found && total < max ? found + total : scratch;
        CK_ULONG room = found && total < max ? max - total : 16;
        assert_rv(f->C_FindObjects(session, out, room, &got), CKR_OK);
        total += got;
    } while (got > 0);
    assert_rv(f->C_FindObjectsFinal(session), CKR_OK);
    return total;
}

CK_ULONG fx_count_label(CK_SESSION_HANDLE session, const char *label)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_LABEL, (void *)label, strlen(label)}};
    return fx_find(session, tmpl, 1, NULL, 0);
}

CK_RV fx_create_data(CK_SESSION_HANDLE session, const char *label, bool token, bool private_,
                     const void *value, size_t len, CK_OBJECT_HANDLE *object)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL is_token = token, is_private = private_;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &is_token, sizeof(is_token)},
        {CKA_PRIVATE, &is_private, sizeof(is_private)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, (void *)value, len},
    };
    return fx_functions()->C_CreateObject(session, tmpl, 5, object);
}

CK_RV fx_create_aes(CK_SESSION_HANDLE session, const char *label, bool token, bool sensitive,
                    bool extractable, const unsigned char *value, size_t len,
                    CK_OBJECT_HANDLE *object)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL is_token = token, is_sensitive = sensitive, is_extractable = extractable;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &is_token, sizeof(is_token)},
        {CKA_SENSITIVE, &is_sensitive, sizeof(is_sensitive)},
        {CKA_EXTRACTABLE, &is_extractable, sizeof(is_extractable)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_VALUE, (void *)value, len},
    };
    return fx_functions()->C_CreateObject(session, tmpl, 9, object);
}

CK_RV fx_create_kek(CK_SESSION_HANDLE session, const char *label, const unsigned char *value,
                    size_t len, CK_OBJECT_HANDLE *object)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_WRAP, &yes, sizeof(yes)},  {CKA_UNWRAP, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)}, {CKA_VALUE, (void *)value, len},
    };
    return fx_functions()->C_CreateObject(session, tmpl, 6, object);
}

CK_BBOOL fx_get_bool(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type)
{
    CK_BBOOL value = 0xAA;
    CK_ATTRIBUTE attr = {type, &value, sizeof(value)};
    assert_rv(fx_functions()->C_GetAttributeValue(session, object, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, sizeof(CK_BBOOL));
    assert_true(value == CK_TRUE || value == CK_FALSE);
    return value;
}

CK_ULONG fx_get_ulong(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG value = 0;
    CK_ATTRIBUTE attr = {type, &value, sizeof(value)};
    assert_rv(fx_functions()->C_GetAttributeValue(session, object, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, sizeof(CK_ULONG));
    return value;
}

unsigned char *fx_read_file(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return NULL;
    size_t cap = 4096, used = 0;
    unsigned char *data = malloc(cap);
    size_t n;
    while (data && (n = fread(data + used, 1, cap - used, file)) > 0) {
        used += n;
        if (used == cap) {
            unsigned char *bigger = realloc(data, cap * 2);
            if (!bigger) {
                free(data);
                data = NULL;
                break;
            }
            data = bigger;
            cap *= 2;
        }
    }
    fclose(file);
    *len = used;
    return data;
}

static void stderr_path(const fx *t, char *path, size_t size)
{
    if (snprintf(path, size, "%s/stderr.log", t->root) >= (int)size)
        fail_msg("path too long: %s", t->root);
}

void fx_stderr_begin(fx *t)
{
    char path[PATH_MAX + 16];
    stderr_path(t, path, sizeof(path));
    fflush(stderr);
    t->saved_stderr = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(t->saved_stderr >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
}

char *fx_stderr_end(fx *t)
{
    fflush(stderr);
    dup2(t->saved_stderr, 2);
    close(t->saved_stderr);
    t->saved_stderr = -1;
    char path[PATH_MAX + 16];
    stderr_path(t, path, sizeof(path));
    size_t len = 0;
    unsigned char *data = fx_read_file(path, &len);
    assert_non_null(data);
    char *text = realloc(data, len + 1);
    assert_non_null(text);
    text[len] = '\0';
    return text;
}
