/*
 * slot_event.c — C_WaitForSlotEvent (PKCS#11 3.0 §5.5): a token file
 * that appears in the store is a card inserted, one deleted a card
 * pulled (docs/spec.md "Slot events").
 *
 * Every slot has the event flag of §5.5 (se_token.event).  slot.c sets
 * it wherever a slot's card changes, whoever notices (a refresh for
 * C_GetSlotList, a call on the slot, a wait): a new token in a slot, the
 * blank card in its new last slot, a token found pulled.  A wait clears
 * and reports the lowest slot whose flag is set, so an event that
 * happened while nobody waited is reported once, by the next wait.
 *
 * A blocking wait polls the store every SLOT_EVENT_POLL_MS with the
 * refresh C_GetSlotList runs (one stat of the directory while nothing
 * changes) and holds no module lock between two looks.  Not inotify:
 * it would cost every process that loads the module an inotify instance
 * (128 per user by default) and a file descriptor its children inherit,
 * and it does not see changes made by other hosts on a network file
 * system.  Events this process notes, and C_Finalize, wake the waiter at
 * once through a condition variable of this file's own.
 */
#include "core.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

/* Like a PC/SC reader's polling: a card is reported within this time. */
#define SLOT_EVENT_POLL_MS 200

static pthread_mutex_t wait_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake; /* an event noted, or C_Finalize (CLOCK_MONOTONIC) */
static pthread_cond_t left; /* a waiter left: C_Finalize waits for the last */
static pthread_once_t conds_once = PTHREAD_ONCE_INIT;
static bool conds_made;     /* conds_init ran (a forked child makes them again) */
static bool accepting;      /* between C_Initialize and C_Finalize */
static unsigned waiters;    /* threads inside C_WaitForSlotEvent */
static unsigned long noted; /* events noted so far: a waiter sleeps only if none came */

static void conds_init(void)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* a clock set back shortens no wait */
    pthread_cond_init(&wake, &attr);
    pthread_condattr_destroy(&attr);
    pthread_cond_init(&left, NULL);
    conds_made = true;
}

void slot_event_note(se_token *t)
{
    pthread_mutex_lock(&wait_lock);
    if (accepting) {
        t->event = true; /* under module.lock, held by the caller */
        noted++;
        pthread_cond_broadcast(&wake);
    }
    pthread_mutex_unlock(&wait_lock);
}

void slot_events_start(void)
{
    pthread_once(&conds_once, conds_init);
    pthread_mutex_lock(&wait_lock);
    accepting = true;
    pthread_mutex_unlock(&wait_lock);
}

void slot_events_stop(void)
{
    pthread_mutex_lock(&wait_lock);
    accepting = false;
    pthread_cond_broadcast(&wake);
    /* The state a waiter reads goes only after it left. */
    while (waiters > 0)
        pthread_cond_wait(&left, &wait_lock);
    pthread_mutex_unlock(&wait_lock);
}

void slot_events_forget(void)
{
    pthread_mutex_init(&wait_lock, NULL);
    if (conds_made) /* a parent's thread may have been waiting on them */
        conds_init();
    accepting = false;
    waiters = 0;
    noted = 0;
}

static bool waiter_enter(void)
{
    pthread_mutex_lock(&wait_lock);
    bool entered = accepting;
    waiters += entered;
    pthread_mutex_unlock(&wait_lock);
    return entered;
}

static void waiter_leave(void)
{
    pthread_mutex_lock(&wait_lock);
    if (--waiters == 0)
        pthread_cond_broadcast(&left);
    pthread_mutex_unlock(&wait_lock);
}

static unsigned long noted_so_far(void)
{
    pthread_mutex_lock(&wait_lock);
    unsigned long count = noted;
    pthread_mutex_unlock(&wait_lock);
    return count;
}

/* One look at the store, then the lowest slot whose flag is set.
 * CKR_NO_EVENT when none is; a refresh's error when it failed and no
 * flag was set. */
static CK_RV take_event(CK_SLOT_ID *slot)
{
    mutex_lock(module.lock);
    CK_RV rv = slot_refresh_for_wait();
    if (rv == CKR_OK)
        rv = CKR_NO_EVENT;
    for (size_t i = 0; i < module.slot_count; i++) {
        if (module.slots[i]->event) {
            module.slots[i]->event = false;
            *slot = module.slots[i]->slot_id;
            rv = CKR_OK;
            break;
        }
    }
    mutex_unlock(module.lock);
    return rv;
}

/* Until an event is noted after `seen`, C_Finalize or the next poll;
 * false once C_Finalize began. */
static bool sleep_until_noted(unsigned long seen)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += SLOT_EVENT_POLL_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&wait_lock);
    int rc = 0;
    while (accepting && noted == seen && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&wake, &wait_lock, &until);
    bool go_on = accepting;
    pthread_mutex_unlock(&wait_lock);
    return go_on;
}

static CK_RV wait_for_event(bool block, CK_SLOT_ID *slot)
{
    for (;;) {
        unsigned long seen = noted_so_far();
        CK_RV rv = take_event(slot);
        if (rv != CKR_NO_EVENT || !block)
            return rv;
        if (!sleep_until_noted(seen))
            return CKR_CRYPTOKI_NOT_INITIALIZED; /* §5.5: C_Finalize ends a blocked wait */
    }
}

CK_RV slot_event_wait(CK_FLAGS flags, CK_SLOT_ID_PTR slot, CK_VOID_PTR reserved)
{
    if (reserved || !slot || (flags & ~(CK_FLAGS)CKF_DONT_BLOCK))
        return CKR_ARGUMENTS_BAD;
    if (!waiter_enter())
        return CKR_CRYPTOKI_NOT_INITIALIZED; /* C_Finalize has begun */
    CK_RV rv = wait_for_event(!(flags & CKF_DONT_BLOCK), slot);
    waiter_leave();
    return rv;
}
