/*
 * issuer-ki.h — the issuer side of in-card KI derivation (docs/spec.md §5,
 * seed 000), in plain OpenSSL: from the card's output c and the issuer's
 * private key, recover the KI the card made, and check the card's answer
 * to a challenge with it.
 *
 * Include a PKCS#11 3.0 header (e.g. <pkcs11.h>) first: the mechanisms
 * are the vendor constants of <softse/softse-pkcs11.h>.
 */
#ifndef SOFTSE_ISSUER_KI_H
#define SOFTSE_ISSUER_KI_H

#include <softse/softse-pkcs11.h>

#include <openssl/evp.h>
#include <stddef.h>

/* Length of H for hash_alg (CKM_SHA_1: 20, CKM_SHA256: 32), the default
 * length of KI; 0 for any other hash. */
size_t issuer_ki_hash_len(CK_MECHANISM_TYPE hash_alg);

/* Length of the c a card makes for this issuer key and mechanism (RSA: k,
 * ElGamal: 1 + 2 * field bytes); 0 when the key does not fit the mechanism. */
size_t issuer_ki_ciphertext_len(EVP_PKEY *issuer, CK_MECHANISM_TYPE mech);

/* Recovers KI from c with the issuer's private key:
 *   CKM_SE_KI_RSA_RAW     r = c^d mod n,   KI = H(I2OSP(r,k) ‖ I2OSP(n,k))
 *   CKM_SE_KI_RSA_OAEP    r = OAEP⁻¹(c),   KI = H(r ‖ I2OSP(n,k))
 *   CKM_SE_KI_EC_ELGAMAL  h^r = x·c,        KI = H(P(h^r) ‖ P(g) ‖ P(h))
 * *ki_len is the length of KI the card kept (its CKA_VALUE_LEN, 1 …
 * issuer_ki_hash_len): ki receives the first *ki_len bytes of H.  With ki
 * NULL, *ki_len is set to the hash length.
 * Errors: CKR_ARGUMENTS_BAD (also *ki_len 0 or beyond the hash);
 * CKR_MECHANISM_INVALID (not a KI mechanism); CKR_MECHANISM_PARAM_INVALID
 * (hash_alg); CKR_KEY_TYPE_INCONSISTENT (key not RSA/EC as the mechanism
 * needs, or not private); CKR_ENCRYPTED_DATA_LEN_RANGE (c of the wrong
 * length); CKR_ENCRYPTED_DATA_INVALID (c that the card could not have made
 * under this key: c ≥ n, r outside [2, n−2], OAEP decoding failure, a
 * point off the curve). */
CK_RV issuer_ki_recover(EVP_PKEY *issuer_priv, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash_alg,
                        const unsigned char *c, size_t c_len, unsigned char *ki, size_t *ki_len);

/* The HMAC a card proves KI with (docs/spec.md §5): CKM_SHA256_HMAC for a
 * SHA-256 KI, CKM_SHA_1_HMAC for a SHA-1 KI; CKM_VENDOR_DEFINED otherwise. */
CK_MECHANISM_TYPE issuer_ki_hmac_mechanism(CK_MECHANISM_TYPE hash_alg);

/* The answer of the card that holds KI: HMAC-H(KI, challenge).  *out_len
 * in: size of out; out: the HMAC length.  CKR_BUFFER_TOO_SMALL when short. */
CK_RV issuer_ki_response(CK_MECHANISM_TYPE hash_alg, const unsigned char *ki, size_t ki_len,
                         const unsigned char *challenge, size_t challenge_len, unsigned char *out,
                         size_t *out_len);

/* CKR_OK when response is the answer of a card holding KI (compared in
 * constant time), CKR_SIGNATURE_INVALID otherwise: the issuer flags that
 * card (paper §4.1: a card personalized under a substituted key). */
CK_RV issuer_ki_check_response(CK_MECHANISM_TYPE hash_alg, const unsigned char *ki, size_t ki_len,
                               const unsigned char *challenge, size_t challenge_len,
                               const unsigned char *response, size_t response_len);

#endif
