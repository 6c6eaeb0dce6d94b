/*
 * spool_thread.c — the process's audit drain thread (tok_audit_thread):
 * spools chained for their owners, see spool.c for the spool itself.
 */
#include "spool.h"

#include <pthread.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * One thread per process chains the spools of every token the process
 * has open, each over a second connection, so that a query's audit
 * record costs its caller a copy into the spool.  Its lock is never held
 * across SQLite work; an owner waits for a drain of its spool in progress
 * only when it closes the spool.
 */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* the thread waits here: a kick or the period */
    pthread_cond_t idle; /* owners wait here for a job to stop being busy */
    pthread_t thread;
    bool allowed, running, stop, kicked;
    bool started; /* the thread reached drainer_main: its runtime set it up */
    spool_job *jobs;
    uint64_t drains;
} drainer = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .idle = PTHREAD_COND_INITIALIZER,
};
static pthread_once_t drainer_atfork_once = PTHREAD_ONCE_INIT;
/* Held by the thread while it is inside SQLite, and by fork() (atfork
 * prepare) so that a child never inherits SQLite's or OpenSSL's locks
 * held by a thread it does not have. */
static pthread_mutex_t drainer_sqlite = PTHREAD_MUTEX_INITIALIZER;

/* What a spool's owner may count as drained: its own drains and the thread's. */
uint64_t spool_drained(const tok_spool *sp)
{
    uint64_t by_thread = sp->job ? __atomic_load_n(&sp->job->drained, __ATOMIC_ACQUIRE) : 0;
    return by_thread > sp->drained ? by_thread : sp->drained;
}

static uint64_t job_waiting(const spool_job *job)
{
    uint64_t end = __atomic_load_n(&header_of(job->map)->end, __ATOMIC_ACQUIRE);
    uint64_t drained = __atomic_load_n(&job->drained, __ATOMIC_RELAXED);
    return end > drained ? end - drained : 0;
}

/* Under the lock: the job to drain next, the one with the most bytes
 * waiting: SPOOL_KICK_BYTES, or in a sweep any number if the job was not
 * drained since the sweep began (drains counted up to swept). */
static spool_job *job_pick(bool sweep, uint64_t swept)
{
    spool_job *best = NULL;
    uint64_t most = 0;
    for (spool_job *job = drainer.jobs; job; job = job->next) {
        uint64_t waiting = job_waiting(job);
        bool due = waiting >= SPOOL_KICK_BYTES || (sweep && job->last_used <= swept);
        if (due && waiting > most && !job->busy &&
            !__atomic_load_n(&job->failed, __ATOMIC_RELAXED)) {
            best = job;
            most = waiting;
        }
    }
    return best;
}

/* Outside the lock, the job busy: one drain transaction on the thread's
 * connection.  A failure (logged where it happened) hands the spool back
 * to its owner. */
static void job_drain(spool_job *job)
{
    uint64_t drained;
    CK_RV rv = job->conn ? CKR_OK : tok_open_drain_connection(job->token_path, &job->conn);
    tok *c = job->conn;
    if (rv == CKR_OK)
        rv = tok_begin(c, true);
    if (rv == CKR_OK)
        rv = spool_drain_locked(c, job->name, job->map, &drained);
    if (rv == CKR_OK)
        rv = tok_commit(c);
    if (c)
        tok_rollback(c);
    if (rv == CKR_OK)
        __atomic_store_n(&job->drained, drained, __ATOMIC_RELEASE);
    else
        __atomic_store_n(&job->failed, true, __ATOMIC_RELEASE);
}

/* Under the lock: takes the connections beyond SPOOL_DRAIN_CONNECTIONS
 * from the jobs drained longest ago, for the caller to close unlocked. */
static size_t connections_trim(tok **closing, size_t max)
{
    size_t open = 0, count = 0;
    for (spool_job *job = drainer.jobs; job; job = job->next)
        open += job->conn != NULL && !job->busy;
    while (open > SPOOL_DRAIN_CONNECTIONS && count < max) {
        spool_job *oldest = NULL;
        for (spool_job *job = drainer.jobs; job; job = job->next)
            if (job->conn && !job->busy && (!oldest || job->last_used < oldest->last_used))
                oldest = job;
        closing[count++] = oldest->conn;
        oldest->conn = NULL;
        open--;
    }
    return count;
}

static void *drainer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&drainer.lock);
    drainer.started = true;
    pthread_cond_broadcast(&drainer.idle);
    bool sweep = false; /* the period passed: every waiting record goes, once */
    uint64_t swept = 0;
    while (!drainer.stop) {
        spool_job *job = job_pick(sweep, swept);
        if (job == NULL) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += SPOOL_DRAIN_PERIOD_MS * 1000000L;
            until.tv_sec += until.tv_nsec / 1000000000L;
            until.tv_nsec %= 1000000000L;
            drainer.kicked = false;
            int rc = 0;
            while (!drainer.kicked && !drainer.stop && rc == 0)
                rc = pthread_cond_timedwait(&drainer.wake, &drainer.lock, &until);
            sweep = rc != 0; /* timed out */
            swept = drainer.drains;
            continue;
        }
        job->busy = true;
        pthread_mutex_unlock(&drainer.lock);
        pthread_mutex_lock(&drainer_sqlite);
        job_drain(job);
        /* OpenSSL's per-thread state (its error queue, allocated by the
         * key derivation and MACs of the token state) goes before fork
         * can run (atfork takes drainer_sqlite): a child, which lacks this
         * thread, would otherwise hold it unreachable. */
        OPENSSL_thread_stop();
        pthread_mutex_unlock(&drainer_sqlite);
        pthread_mutex_lock(&drainer.lock);
        job->busy = false;
        job->last_used = ++drainer.drains;
        tok *closing[SPOOL_DRAIN_CONNECTIONS];
        size_t count = connections_trim(closing, SPOOL_DRAIN_CONNECTIONS);
        pthread_cond_broadcast(&drainer.idle);
        if (count) {
            pthread_mutex_unlock(&drainer.lock);
            pthread_mutex_lock(&drainer_sqlite);
            for (size_t i = 0; i < count; i++)
                tok_close(closing[i]);
            OPENSSL_thread_stop();
            pthread_mutex_unlock(&drainer_sqlite);
            pthread_mutex_lock(&drainer.lock);
        }
    }
    pthread_mutex_unlock(&drainer.lock);
    return NULL;
}

/* A forked child has no drain thread and must not touch the parent's
 * connections: every job becomes the child's owner's to drain. */
static void drainer_after_fork(void)
{
    pthread_mutex_init(&drainer_sqlite, NULL);
    pthread_mutex_init(&drainer.lock, NULL);
    pthread_cond_init(&drainer.wake, NULL);
    pthread_cond_init(&drainer.idle, NULL);
    /* The parent's jobs and connections are neither used nor freed here;
     * kept where a leak checker still sees them. */
    static spool_job *inherited;
    for (spool_job *job = drainer.jobs; job; job = job->next) {
        job->busy = false;
        job->forgotten = true;
        job->failed = true;
        if (job->next == NULL) {
            job->next = inherited;
            inherited = drainer.jobs;
            break;
        }
    }
    drainer.jobs = NULL;
    drainer.running = drainer.stop = drainer.kicked = drainer.started = false;
}

/* Before fork: the thread is outside SQLite and the job list is still.
 * The order is the thread's: it never waits for drainer_sqlite holding
 * drainer.lock.  A thread just created is first let reach drainer_main:
 * until then it runs its runtime's set-up (a sanitizer's allocates under
 * the allocator's lock), which a child would inherit held. */
static void drainer_before_fork(void)
{
    pthread_mutex_lock(&drainer_sqlite);
    pthread_mutex_lock(&drainer.lock);
    while (drainer.running && !drainer.started)
        pthread_cond_wait(&drainer.idle, &drainer.lock);
}

static void drainer_parent_after_fork(void)
{
    pthread_mutex_unlock(&drainer.lock);
    pthread_mutex_unlock(&drainer_sqlite);
}

static void drainer_register_atfork(void)
{
    pthread_atfork(drainer_before_fork, drainer_parent_after_fork, drainer_after_fork);
}

/* A process that exits (or unloads the module) without C_Finalize: the
 * thread stops first, not in the middle of the exit. */
static void drainer_at_exit(void)
{
    tok_audit_thread(false);
}

/* Under the lock: the thread runs, started with every signal blocked so
 * that the application's handlers never run on it. */
static bool drainer_start_locked(void)
{
    if (drainer.running)
        return true;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int rc = pthread_create(&drainer.thread, NULL, drainer_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    static bool at_exit_registered;
    if (rc == 0 && !at_exit_registered)
        at_exit_registered = atexit(drainer_at_exit) == 0;
    if (rc != 0) {
        se_log(SE_LOG_WARN, "token store: no audit drain thread (%s): callers drain", strerror(rc));
        return false;
    }
    drainer.running = true;
    return true;
}

void tok_audit_thread(bool allowed)
{
    pthread_once(&drainer_atfork_once, drainer_register_atfork);
    pthread_mutex_lock(&drainer.lock);
    drainer.allowed = allowed;
    bool join = !allowed && drainer.running;
    if (join) {
        drainer.stop = true;
        pthread_cond_signal(&drainer.wake);
    }
    pthread_mutex_unlock(&drainer.lock);
    if (!join)
        return;
    pthread_join(drainer.thread, NULL);
    pthread_mutex_lock(&drainer.lock);
    drainer.running = drainer.stop = drainer.started = false;
    for (spool_job *job = drainer.jobs; job; job = job->next)
        __atomic_store_n(&job->failed, true, __ATOMIC_RELEASE); /* their owners drain */
    pthread_mutex_unlock(&drainer.lock);
}

/* The new spool sp of token_path goes to the thread, when one may run. */
void job_register(tok_spool *sp, const char *token_path)
{
    pthread_once(&drainer_atfork_once, drainer_register_atfork);
    spool_job *job = calloc(1, sizeof(*job));
    if (job == NULL || (job->token_path = strdup(token_path)) == NULL) {
        free(job);
        return; /* the owner drains */
    }
    job->name = sp->name;
    job->map = sp->map;
    pthread_mutex_lock(&drainer.lock);
    if (drainer.allowed && drainer_start_locked()) {
        job->next = drainer.jobs;
        drainer.jobs = job;
        sp->job = job;
        job = NULL;
    }
    pthread_mutex_unlock(&drainer.lock);
    if (job) {
        free(job->token_path);
        free(job);
    }
}

/* The owner takes its spool back (at close): after the drain in progress. */
void job_unregister(tok_spool *sp)
{
    spool_job *job = sp->job;
    if (job == NULL)
        return;
    sp->drained = spool_drained(sp);
    sp->job = NULL;
    if (job->forgotten) /* a parent's, kept in the child's inherited list */
        return;
    pthread_mutex_lock(&drainer.lock);
    while (job->busy)
        pthread_cond_wait(&drainer.idle, &drainer.lock);
    for (spool_job **at = &drainer.jobs; *at; at = &(*at)->next)
        if (*at == job) {
            *at = job->next;
            break;
        }
    pthread_mutex_unlock(&drainer.lock);
    tok_close(job->conn);
    free(job->token_path);
    free(job);
}

/* The owner wakes the thread once per SPOOL_KICK_BYTES waiting. */
void spool_kick(tok_spool *sp, uint64_t drained, uint64_t waiting)
{
    if (waiting < SPOOL_KICK_BYTES || sp->kicked == drained + 1)
        return;
    sp->kicked = drained + 1; /* + 1: position 0 is a real position */
    pthread_mutex_lock(&drainer.lock);
    drainer.kicked = true;
    pthread_cond_signal(&drainer.wake);
    pthread_mutex_unlock(&drainer.lock);
}
