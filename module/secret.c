/*
 * secret.c — the per-process mask (see secret.h).
 *
 * Unmasking is on the path of every operation with a secret key: an HMAC
 * signature costs under a microsecond, and an AES-CTR keystream per value
 * (an EVP call, 140 ns) cost the HMAC row 15%.  So the keystream is drawn
 * once: a pad of random bytes from OpenSSL's DRBG, and each value is XORed
 * with the part of the pad its nonce and tweak select (a few ns).  Against
 * the attacker this stops — one who scans a dump for a known value or for
 * copies of it — a pad is as good as a key: neither survives a reader of
 * the whole dump who also finds the pad.
 */
#include "secret.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#define PAD_LEN 8192   /* offsets: a power of two */
#define PAD_TAIL 1024  /* pad bytes past the last offset: values up to this long are one run */

static struct {
    pthread_mutex_t lock; /* drawing and erasing the pad */
    bool ready;
    uint64_t seed;  /* spreads the values' offsets over the pad */
    uint64_t count; /* the last nonce given */
    unsigned char pad[PAD_LEN + PAD_TAIL];
} mask = {.lock = PTHREAD_MUTEX_INITIALIZER};

static CK_RV draw_locked(void)
{
    if (RAND_priv_bytes(mask.pad, sizeof(mask.pad)) != 1 ||
        RAND_priv_bytes((unsigned char *)&mask.seed, sizeof(mask.seed)) != 1) {
        se_log(SE_LOG_ERROR, "the memory mask: %s", ERR_reason_error_string(ERR_peek_error()));
        ERR_clear_error();
        OPENSSL_cleanse(mask.pad, sizeof(mask.pad));
        mask.ready = false;
        return CKR_FUNCTION_FAILED;
    }
    __atomic_store_n(&mask.ready, true, __ATOMIC_RELEASE);
    return CKR_OK;
}

CK_RV secret_init(void)
{
    pthread_mutex_lock(&mask.lock);
    CK_RV rv = draw_locked(); /* a forked child's C_Initialize: not its parent's */
    pthread_mutex_unlock(&mask.lock);
    return rv;
}

void secret_release(void)
{
    pthread_mutex_lock(&mask.lock);
    __atomic_store_n(&mask.ready, false, __ATOMIC_RELEASE);
    OPENSSL_cleanse(mask.pad, sizeof(mask.pad));
    OPENSSL_cleanse(&mask.seed, sizeof(mask.seed));
    pthread_mutex_unlock(&mask.lock);
}

/* Users that never called C_Initialize (the unit tests) get a pad on first use. */
static CK_RV ready(void)
{
    if (__atomic_load_n(&mask.ready, __ATOMIC_ACQUIRE))
        return CKR_OK;
    pthread_mutex_lock(&mask.lock);
    CK_RV rv = mask.ready ? CKR_OK : draw_locked();
    pthread_mutex_unlock(&mask.lock);
    return rv;
}

CK_RV secret_nonce(unsigned char nonce[SECRET_NONCE_LEN])
{
    /* Unique, not secret: a counter (the offsets it selects are spread by
     * the seed). */
    uint64_t n = __atomic_add_fetch(&mask.count, 1, __ATOMIC_RELAXED);
    memset(nonce, 0, SECRET_NONCE_LEN);
    memcpy(nonce, &n, sizeof(n));
    return CKR_OK;
}

/* splitmix64's finalizer: a well-spread offset from nonce, tweak and seed. */
static size_t offset_of(const unsigned char nonce[SECRET_NONCE_LEN], uint64_t tweak)
{
    uint64_t a, b;
    memcpy(&a, nonce, sizeof(a));
    memcpy(&b, nonce + sizeof(a), sizeof(b));
    uint64_t z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (tweak * 0xbf58476d1ce4e5b9ULL) ^ mask.seed;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return (size_t)(z ^ (z >> 31)) & (PAD_LEN - 1);
}

CK_RV secret_xor(const unsigned char nonce[SECRET_NONCE_LEN], uint64_t tweak, void *buf,
                 size_t len)
{
    if (len == 0)
        return CKR_OK;
    CK_RV rv = ready();
    if (rv != CKR_OK)
        return rv;
    unsigned char *p = buf;
    size_t at = offset_of(nonce, tweak);
    while (len > 0) { /* one run, but for a value longer than PAD_TAIL */
        size_t run = len < PAD_TAIL ? len : PAD_TAIL;
        const unsigned char *q = mask.pad + at;
        for (size_t i = 0; i < run; i++)
            p[i] ^= q[i];
        p += run;
        len -= run;
        at = (at + run) & (PAD_LEN - 1);
    }
    return CKR_OK;
}
