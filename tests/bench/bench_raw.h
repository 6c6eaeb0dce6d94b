/*
 * bench_raw.h — the raw OpenSSL side of the standard rows (bench_raw.c),
 * which bench_std.c's row table names: a set-up per row and side (raw_init_*,
 * careful_init_*, naive_init_*) and the iterations they share.
 */
#ifndef SOFTSE_BENCH_RAW_H
#define SOFTSE_BENCH_RAW_H

#include "bench.h"

#define BENCH_RAW_SETUPS(X)                                                                        \
    X(raw_init_plain)                                                                              \
    X(raw_init_sha256_64)                                                                          \
    X(raw_init_sha256_1k)                                                                          \
    X(raw_init_hmac)                                                                               \
    X(raw_init_ecdsa)                                                                              \
    X(raw_init_ecdsa_sha256)                                                                       \
    X(raw_init_ecdsa_verify)                                                                       \
    X(raw_init_eddsa)                                                                              \
    X(raw_init_rsa_pkcs)                                                                           \
    X(raw_init_rsa_pss)                                                                            \
    X(raw_init_rsa_oaep)                                                                           \
    X(raw_init_gcm_1k)                                                                             \
    X(raw_init_gcm_64k)                                                                            \
    X(raw_init_ec_keygen)                                                                          \
    X(careful_init_plain)                                                                          \
    X(careful_init_sha256_64)                                                                      \
    X(careful_init_sha256_1k)                                                                      \
    X(careful_init_hmac)                                                                           \
    X(careful_init_ecdsa)                                                                          \
    X(careful_init_ecdsa_verify)                                                                   \
    X(careful_init_ecdsa_sha256)                                                                   \
    X(careful_init_eddsa)                                                                          \
    X(careful_init_rsa_pkcs)                                                                       \
    X(careful_init_rsa1024)                                                                        \
    X(careful_init_rsa_pss)                                                                        \
    X(careful_init_rsa_oaep)                                                                       \
    X(careful_init_gcm_1k)                                                                         \
    X(careful_init_gcm_64k)                                                                        \
    X(careful_init_des3_1k)                                                                        \
    X(raw_init_rsa1024)                                                                            \
    X(naive_init_des3_1k)

#define BENCH_RAW_RUNS(X)                                                                          \
    X(raw_random)                                                                                  \
    X(raw_digest)                                                                                  \
    X(raw_hmac)                                                                                    \
    X(raw_sign_hash)                                                                               \
    X(raw_verify_hash)                                                                             \
    X(raw_digest_sign)                                                                             \
    X(raw_oaep)                                                                                    \
    X(raw_gcm)                                                                                     \
    X(raw_des3)                                                                                    \
    X(raw_aes_keygen)                                                                              \
    X(raw_ec_keygen)                                                                               \
    X(raw_login)                                                                                   \
    X(careful_random)                                                                              \
    X(careful_digest)                                                                              \
    X(careful_hmac)                                                                                \
    X(careful_sign_hash)                                                                           \
    X(careful_verify_hash)                                                                         \
    X(careful_oaep)                                                                                \
    X(careful_digest_sign)                                                                         \
    X(careful_cipher)                                                                              \
    X(careful_aes_keygen)

#define BENCH_RAW_SETUP(f) CK_RV f(void **state);
#define BENCH_RAW_RUN(f) CK_RV f(void *state);
BENCH_RAW_SETUPS(BENCH_RAW_SETUP)
BENCH_RAW_RUNS(BENCH_RAW_RUN)
#undef BENCH_RAW_SETUP
#undef BENCH_RAW_RUN

/* Frees what a raw state holds (bench_state_free frees the state). */
void raw_state_free(void *state);

#endif
