/*
 * mech_hash.h — the hashes softse knows, one row each, with every fact a
 * mechanism family needs about one: the digest mechanism, OpenSSL's name
 * and the length, the MGF1 and X9.63 KDF constants, the HMAC mechanism
 * and key type, the hash-and-sign mechanisms, and where softse offers it.
 *
 * MECH_HASHES is that one table.  The rows of the families are generated
 * from it: the digest rows (mech_digest.c), RSA PKCS #1 v1.5, PSS and
 * ECDSA with a hash and the HMAC rows (mech_sign.c); the parameters that
 * name a hash are looked up in it (PSS and OAEP's hashAlg and mgf, the
 * KDFs' in mech_derive.c, HMAC key types).  So:
 *   - offering SHA3-256 for HMAC and OAEP: set its HMAC and OAEP columns
 *     to 1 (one row);
 *   - a new hash: one more row (and its PKCS#11 constants).
 */
#ifndef SOFTSE_MECH_HASH_H
#define SOFTSE_MECH_HASH_H

#include "p11.h"

#include <stddef.h>

/* Where a hash is offered: the 0/1 columns of MECH_HASHES. */
typedef enum mech_hash_use {
    MECH_HASH_DIGEST = 1u << 0, /* C_Digest with the hash mechanism */
    MECH_HASH_SIGN = 1u << 1,   /* CKM_<hash>_RSA_PKCS, _RSA_PKCS_PSS, CKM_ECDSA_<hash> */
    MECH_HASH_HMAC = 1u << 2,   /* CKM_<hash>_HMAC, and CKK_<hash>_HMAC keys */
    MECH_HASH_OAEP = 1u << 3,   /* CK_RSA_PKCS_OAEP_PARAMS hashAlg and mgf */
    MECH_HASH_KDF = 1u << 4,    /* X9.63 (ECDH), HKDF, SP 800-108's HMAC PRF */
} mech_hash_use;

/* clang-format off */
/* The columns, in order:
 *   digest mechanism, OpenSSL name, length (bytes), MGF1, X9.63 KDF,
 *   HMAC mechanism, HMAC key type,
 *   RSA PKCS #1 v1.5, RSA PSS and ECDSA mechanisms with the hash,
 *   offered (0/1) for: digest, sign, HMAC, OAEP, KDF.
 * PSS parameters and MGF1 take any row (PKCS#11 3.0 §2.1.13).  Each row
 * is generated into the families in this order, which is the order of
 * C_GetMechanismList. */
#define MECH_HASHES(X)                                                                             \
    X(CKM_SHA_1, "SHA1", 20, CKG_MGF1_SHA1, CKD_SHA1_KDF,                                          \
      CKM_SHA_1_HMAC, CKK_SHA_1_HMAC,                                                              \
      CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_ECDSA_SHA1,                                    \
      1, 1, 1, 1, 1)                                                                               \
    X(CKM_SHA224, "SHA2-224", 28, CKG_MGF1_SHA224, CKD_SHA224_KDF,                                 \
      CKM_SHA224_HMAC, CKK_SHA224_HMAC,                                                            \
      CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, CKM_ECDSA_SHA224,                              \
      1, 1, 1, 1, 1)                                                                               \
    X(CKM_SHA256, "SHA2-256", 32, CKG_MGF1_SHA256, CKD_SHA256_KDF,                                 \
      CKM_SHA256_HMAC, CKK_SHA256_HMAC,                                                            \
      CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_ECDSA_SHA256,                              \
      1, 1, 1, 1, 1)                                                                               \
    X(CKM_SHA384, "SHA2-384", 48, CKG_MGF1_SHA384, CKD_SHA384_KDF,                                 \
      CKM_SHA384_HMAC, CKK_SHA384_HMAC,                                                            \
      CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, CKM_ECDSA_SHA384,                              \
      1, 1, 1, 1, 1)                                                                               \
    X(CKM_SHA512, "SHA2-512", 64, CKG_MGF1_SHA512, CKD_SHA512_KDF,                                 \
      CKM_SHA512_HMAC, CKK_SHA512_HMAC,                                                            \
      CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, CKM_ECDSA_SHA512,                              \
      1, 1, 1, 1, 1)                                                                               \
    X(CKM_SHA3_224, "SHA3-224", 28, CKG_MGF1_SHA3_224, CKD_SHA3_224_KDF,                           \
      CKM_SHA3_224_HMAC, CKK_SHA3_224_HMAC,                                                        \
      CKM_SHA3_224_RSA_PKCS, CKM_SHA3_224_RSA_PKCS_PSS, CKM_ECDSA_SHA3_224,                        \
      0, 0, 0, 0, 0)                                                                               \
    X(CKM_SHA3_256, "SHA3-256", 32, CKG_MGF1_SHA3_256, CKD_SHA3_256_KDF,                           \
      CKM_SHA3_256_HMAC, CKK_SHA3_256_HMAC,                                                        \
      CKM_SHA3_256_RSA_PKCS, CKM_SHA3_256_RSA_PKCS_PSS, CKM_ECDSA_SHA3_256,                        \
      1, 0, 0, 0, 0)                                                                               \
    X(CKM_SHA3_384, "SHA3-384", 48, CKG_MGF1_SHA3_384, CKD_SHA3_384_KDF,                           \
      CKM_SHA3_384_HMAC, CKK_SHA3_384_HMAC,                                                        \
      CKM_SHA3_384_RSA_PKCS, CKM_SHA3_384_RSA_PKCS_PSS, CKM_ECDSA_SHA3_384,                        \
      1, 0, 0, 0, 0)                                                                               \
    X(CKM_SHA3_512, "SHA3-512", 64, CKG_MGF1_SHA3_512, CKD_SHA3_512_KDF,                           \
      CKM_SHA3_512_HMAC, CKK_SHA3_512_HMAC,                                                        \
      CKM_SHA3_512_RSA_PKCS, CKM_SHA3_512_RSA_PKCS_PSS, CKM_ECDSA_SHA3_512,                        \
      1, 0, 0, 0, 0)
/* clang-format on */

/* MECH_IF(flag, ...): the tokens when flag is 1, nothing when it is 0 —
 * how a family emits rows only for the hashes it offers. */
#define MECH_IF(flag, ...) MECH_IF_##flag(__VA_ARGS__)
#define MECH_IF_0(...)
#define MECH_IF_1(...) __VA_ARGS__

/* The index of a row, by its digest mechanism's name (mech_hash_at_CKM_SHA256). */
#define MECH_HASH_ENUM(digest, ...) mech_hash_at_##digest,
enum { MECH_HASHES(MECH_HASH_ENUM) MECH_HASH_COUNT };

typedef struct mech_hash {
    CK_MECHANISM_TYPE mech;     /* the digest; also hashAlg/prfHashMechanism in parameters */
    const char *md_name;        /* OpenSSL's algorithm name */
    size_t len;                 /* digest length in bytes */
    CK_RSA_PKCS_MGF_TYPE mgf1;  /* CKG_MGF1_<hash> */
    CK_EC_KDF_TYPE x963;        /* CKD_<hash>_KDF */
    CK_MECHANISM_TYPE hmac;     /* CKM_<hash>_HMAC, also the PRF of SP 800-108 */
    CK_KEY_TYPE hmac_key;       /* CKK_<hash>_HMAC */
    CK_MECHANISM_TYPE rsa_pkcs; /* CKM_<hash>_RSA_PKCS */
    CK_MECHANISM_TYPE rsa_pss;  /* CKM_<hash>_RSA_PKCS_PSS */
    CK_MECHANISM_TYPE ecdsa;    /* CKM_ECDSA_<hash> */
    unsigned uses;              /* mech_hash_use: where it is offered */
} mech_hash;

/* Every row of MECH_HASHES, in order (mech_hash.c). */
extern const mech_hash mech_hashes[MECH_HASH_COUNT];

/* Inside a MECH_HASHES expansion, a generated row's data is its hash's
 * entry, &mech_hashes[mech_hash_at_##digest] (pasted there: a macro
 * given `digest` would see it already expanded to its number). */

/* The column a lookup compares. */
typedef enum mech_hash_by {
    MECH_HASH_BY_MECH,
    MECH_HASH_BY_MGF1,
    MECH_HASH_BY_X963,
    MECH_HASH_BY_HMAC,
    MECH_HASH_BY_HMAC_KEY,
} mech_hash_by;

/* The hash whose column `by` is value among those offered for every use
 * in uses (0: any row); NULL when there is none. */
const mech_hash *mech_hash_find(mech_hash_by by, CK_ULONG value, unsigned uses);

#endif
