/*
 * rot.h — the device root of trust (docs/spec.md, "The device root of
 * trust"): a device root key (DRK) kept outside the store directory by a
 * provider, and monotonic counters.
 *
 * The DRK never leaves its provider: callers get HMAC-SHA256 values
 * computed under it (rot_mac) and derive their keys from those.  Two
 * providers:
 *   file  32 random bytes in a 0600 file (rot_dir/drk, created on first
 *         use) and one counter file per counter (rot_dir/counters/).
 *   tpm   a keyed-hash object of a TPM 2.0 (tpm2-tss ESAPI, TCTI from the
 *         configuration), counters are TPM NV counters (tokens/rot_tpm.c).
 *
 * Thread safety: a rot may be used from several threads at once (each
 * provider locks what it shares).  Counters are shared between processes:
 * rot_counter_raise is atomic across processes (a lock file in rot_dir).
 */
#ifndef SOFTSE_ROT_H
#define SOFTSE_ROT_H

#include "p11.h"

#include <stdint.h>

typedef struct rot rot;

#define ROT_MAC_LEN 32
#define ROT_ID_LEN 32

typedef struct rot_config {
    const char *provider; /* "file" (NULL: file) or "tpm" */
    const char *dir;      /* the provider's own directory (not the store's): the
                           * DRK file and counters of "file", the lock file of
                           * both.  Created 0700 when missing. */
    const char *tcti;     /* "tpm": a TCTI configuration string for
                           * Tss2_TctiLdr_Initialize (NULL: "device:/dev/tpmrm0";
                           * e.g. "swtpm:host=127.0.0.1,port=2321") */
} rot_config;

/* Opens (and on first use creates) the provider's DRK.  CKR_DEVICE_ERROR
 * with a logged message naming the provider when it cannot be reached;
 * CKR_ARGUMENTS_BAD for an unknown provider name. */
CK_RV rot_open(const rot_config *cfg, rot **out);
void rot_close(rot *r);

/* "file" or "tpm". */
const char *rot_provider(const rot *r);

/* A public identifier of this DRK: HMAC under it of a fixed label.  The
 * same provider with the same DRK always gives the same bytes; another DRK
 * gives others.  Stored in each token so that a store opened under a
 * different root of trust is refused with a clear message. */
CK_RV rot_id(rot *r, unsigned char out[ROT_ID_LEN]);

/* HMAC-SHA256(DRK, data): computed inside the provider. */
CK_RV rot_mac(rot *r, const void *data, size_t len, unsigned char out[ROT_MAC_LEN]);

/* Monotonic counters.  rot_counter_new allocates a fresh counter (its id is
 * stored in a token) and gives its current value (a provider may start it
 * anywhere, e.g. a TPM NV counter starts at the highest value any counter
 * of that TPM had).  rot_counter_read gives the current value.
 * rot_counter_raise makes the counter at least target, atomically across
 * processes and threads (never above target unless it already was) and
 * gives the value after.  rot_counter_free releases it (the token is
 * deleted).  CKR_DEVICE_ERROR (logged) when the counter does not exist or
 * the provider fails. */
CK_RV rot_counter_new(rot *r, uint32_t *id, uint64_t *value);
CK_RV rot_counter_read(rot *r, uint32_t id, uint64_t *value);
CK_RV rot_counter_raise(rot *r, uint32_t id, uint64_t target, uint64_t *value);
CK_RV rot_counter_free(rot *r, uint32_t id);

/* Provider entry points (rot.c dispatches to them). */
typedef struct rot_ops {
    const char *name;
    CK_RV (*open)(const rot_config *cfg, void **state);
    void (*close)(void *state);
    CK_RV (*mac)(void *state, const void *data, size_t len, unsigned char out[ROT_MAC_LEN]);
    CK_RV (*counter_new)(void *state, uint32_t *id, uint64_t *value);
    CK_RV (*counter_read)(void *state, uint32_t id, uint64_t *value);
    /* increment by one; the caller (rot.c) holds the cross-process lock */
    CK_RV (*counter_increment)(void *state, uint32_t id, uint64_t *value);
    CK_RV (*counter_free)(void *state, uint32_t id);
} rot_ops;

extern const rot_ops rot_file_ops;
#ifdef SOFTSE_HAVE_TPM
extern const rot_ops rot_tpm_ops;
#endif

#endif
