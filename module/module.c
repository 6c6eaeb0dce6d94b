/*
 * module.c — C_Initialize / C_Finalize, the locking model of
 * CK_C_INITIALIZE_ARGS, and fork safety.
 *
 * PKCS#11 3.0 §5.4: the application either lets us use OS locking
 * (CKF_OS_LOCKING_OK, or no callbacks) or gives four mutex callbacks that
 * we must use instead.  A forked child inherits our memory but not our
 * threads or SQLite connections; every call in it answers
 * CKR_CRYPTOKI_NOT_INITIALIZED until it calls C_Initialize, which starts
 * from fresh state and never touches what was inherited.
 */
#include "core.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

se_module module;

/* Serializes C_Initialize / C_Finalize themselves; re-created in a child. */
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static CK_C_INITIALIZE_ARGS callbacks; /* used when CreateMutex != NULL */
static bool threads_allowed;           /* no CKF_LIBRARY_CANT_CREATE_OS_THREADS */

struct se_mutex {
    pthread_mutex_t os;
    void *app; /* the application's mutex, when it gave callbacks */
};

#define CACHE_LINE 64

void *se_alloc_line(size_t size)
{
    size_t rounded = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
    void *p = aligned_alloc(CACHE_LINE, rounded);
    if (p)
        memset(p, 0, rounded);
    return p;
}

CK_RV mutex_create(se_mutex **out)
{
    /* A cache line of its own: two sessions' locks, taken by two threads
     * on every call, would otherwise share one (issue 18). */
    se_mutex *m = se_alloc_line(sizeof(*m));
    if (!m)
        return CKR_HOST_MEMORY;
    if (callbacks.CreateMutex) {
        CK_RV rv = callbacks.CreateMutex(&m->app);
        if (rv != CKR_OK) {
            free(m);
            return rv;
        }
    } else {
        pthread_mutex_init(&m->os, NULL);
    }
    *out = m;
    return CKR_OK;
}

void mutex_destroy(se_mutex *m)
{
    if (!m)
        return;
    if (callbacks.DestroyMutex)
        callbacks.DestroyMutex(m->app);
    else
        pthread_mutex_destroy(&m->os);
    free(m);
}

void mutex_lock(se_mutex *m)
{
    if (callbacks.LockMutex)
        callbacks.LockMutex(m->app);
    else
        pthread_mutex_lock(&m->os);
}

void mutex_unlock(se_mutex *m)
{
    if (callbacks.UnlockMutex)
        callbacks.UnlockMutex(m->app);
    else
        pthread_mutex_unlock(&m->os);
}

static void child_after_fork(void)
{
    pthread_mutex_init(&init_lock, NULL);
    /* Forget (do not free or close) what the parent owns: its SQLite
     * connections must not be used or closed from here. */
    memset(&module, 0, sizeof(module));
    memset(&callbacks, 0, sizeof(callbacks));
    slot_events_forget();
}

static void register_atfork(void)
{
    pthread_atfork(NULL, NULL, child_after_fork);
}

/* *reserved: the settings string the caller passed, or NULL. */
static CK_RV parse_args(const CK_C_INITIALIZE_ARGS *args, const char **reserved)
{
    memset(&callbacks, 0, sizeof(callbacks));
    threads_allowed = true;
    *reserved = NULL;
    if (!args)
        return CKR_OK;
    /* NSS's header names LibraryParameters the field the standard
     * structure calls pReserved (and adds a pReserved after it, which a
     * standard caller's structure does not have and we never read).  NSS
     * passes a module's parameters there and p11-kit a module file's
     * x-init-reserved: a settings string (config.c). */
    *reserved = (const char *)args->LibraryParameters;
    bool any = args->CreateMutex || args->DestroyMutex || args->LockMutex || args->UnlockMutex;
    bool all = args->CreateMutex && args->DestroyMutex && args->LockMutex && args->UnlockMutex;
    if (any && !all)
        return CKR_ARGUMENTS_BAD;
    threads_allowed = !(args->flags & CKF_LIBRARY_CANT_CREATE_OS_THREADS);
    if (all && !(args->flags & CKF_OS_LOCKING_OK)) {
        callbacks.CreateMutex = args->CreateMutex;
        callbacks.DestroyMutex = args->DestroyMutex;
        callbacks.LockMutex = args->LockMutex;
        callbacks.UnlockMutex = args->UnlockMutex;
    }
    return CKR_OK;
}

/* Which store a process opened, for whoever wonders why it sees no keys. */
static void log_store(void)
{
    se_log(SE_LOG_INFO, "store %s (from %s): %zu token(s)", module.config.store_dir,
           module.config.store_dir_from, module.token_path_count);
}

CK_RV module_initialize(CK_VOID_PTR args)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&init_lock);
    CK_RV rv;
    if (module.initialized) {
        rv = CKR_CRYPTOKI_ALREADY_INITIALIZED;
        goto out;
    }
    memset(&module, 0, sizeof(module));
    const char *reserved;
    rv = parse_args(args, &reserved);
    if (rv != CKR_OK)
        goto out;
    rv = config_load(&module.config, reserved);
    if (rv == CKR_OK)
        mech_rsa_set_min_bits(module.config.rsa_min_bits);
    if (rv == CKR_OK)
        rv = secret_init(); /* a fresh masking key, in a forked child too */
    if (rv == CKR_OK)
        rv = tok_rot_configure(module.config.rot_provider, module.config.rot_dir,
                               module.config.rot_tcti);
    if (rv != CKR_OK)
        goto out;
    /* The one thread we create chains audit records (tokens/spool.c). */
    tok_audit_thread(threads_allowed);
    rv = mutex_create(&module.lock);
    if (rv != CKR_OK)
        goto out;
    module.pid = getpid();
    mutex_lock(module.lock);
    rv = slot_refresh();
    mutex_unlock(module.lock);
    if (rv != CKR_OK) {
        slots_free();
        mutex_destroy(module.lock);
        goto out;
    }
    module.initialized = true;
    slot_events_start();
    log_store();
out:
    if (rv != CKR_OK && !module.initialized)
        config_free(&module.config);
    pthread_mutex_unlock(&init_lock);
    return rv;
}

CK_RV module_finalize(CK_VOID_PTR reserved)
{
    if (reserved)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&init_lock);
    CK_RV rv = module_check();
    if (rv == CKR_OK) {
        slot_events_stop(); /* no thread waits for an event in what goes next */
        sessions_free();
        slots_free();
        tok_audit_thread(false);
        tok_rot_release(); /* after the last token closed */
        mech_caches_release(); /* nothing fetched outlives the module */
        secret_release();      /* after the last masked value went */
        mutex_destroy(module.lock);
        config_free(&module.config);
        memset(&module, 0, sizeof(module));
    }
    pthread_mutex_unlock(&init_lock);
    return rv;
}

/* No getpid() per call: the atfork child handler has already cleared
 * module.initialized in a forked child. */
CK_RV module_check(void)
{
    return module.initialized ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
}
