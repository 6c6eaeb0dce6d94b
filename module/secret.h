/*
 * secret.h — values kept masked in memory (issue 14, "Secrets in memory").
 *
 * A cached secret (a sealed attribute value, the token's store keys) is
 * kept XOR a keystream: a pad of random bytes drawn per process, at an
 * offset chosen by the value's nonce and tweak.  It is unmasked into a
 * short-lived buffer only for the operation that needs it; that buffer
 * is cleansed right after.  A process dump then holds no clear copy of a
 * value at rest in the cache, only the pad (which an attacker with the
 * whole dump can use: masking stops a scan for known values and copies
 * of them, as SoftHSMv2's masked keys do, not a reverse engineer).
 *
 * The pad is drawn by C_Initialize (fresh in a forked child, which must
 * call it) and cleansed by C_Finalize.
 */
#ifndef SOFTSE_SECRET_H
#define SOFTSE_SECRET_H

#include "p11.h"

#include <stddef.h>
#include <stdint.h>

#define SECRET_NONCE_LEN 16

/* C_Initialize: draws a new pad (replacing an inherited one). */
CK_RV secret_init(void);
/* C_Finalize: cleanses the pad; no value may stay masked after. */
void secret_release(void);

/* A fresh nonce for a set of values masked together. */
CK_RV secret_nonce(unsigned char nonce[SECRET_NONCE_LEN]);
/* XORs buf with the keystream of (nonce, tweak): masks a clear value in
 * place, or unmasks a masked one.  Each value masked under one nonce has
 * its own tweak (an attribute type). */
CK_RV secret_xor(const unsigned char nonce[SECRET_NONCE_LEN], uint64_t tweak, void *buf,
                 size_t len);

#endif
