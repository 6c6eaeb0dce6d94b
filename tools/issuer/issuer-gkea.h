/*
 * issuer-gkea.h — the server side of CKM_SE_GKEA (docs/spec.md §4, seed 001),
 * in plain OpenSSL: check what a card returned, recover K only when the
 * card's attestation covers the key this server sent, derive working keys
 * from K as CKM_HKDF_DERIVE does, and encrypt secrets for the card's
 * C_UnwrapKey.  Part of libsoftse-issuer.
 */
#ifndef SOFTSE_ISSUER_GKEA_H
#define SOFTSE_ISSUER_GKEA_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ISSUER_GKEA_K_MIN 16 /* K: CKK_AES 16/24/32 or CKK_GENERIC_SECRET 16..64 bytes */
#define ISSUER_GKEA_K_MAX 64
#define ISSUER_GKEA_NONCE_MIN 16
#define ISSUER_GKEA_NONCE_MAX 64
#define ISSUER_GCM_IV_LEN 12  /* wrap-secret GCM output: IV ‖ ciphertext ‖ tag */
#define ISSUER_GCM_TAG_LEN 16 /* the card's CK_GCM_PARAMS: ulTagBits 128, no AAD */

typedef enum issuer_gkea_status {
    ISSUER_GKEA_OK = 0,
    ISSUER_GKEA_BAD_INPUT,       /* malformed argument (nonce length, SPKI not the key's…) */
    ISSUER_GKEA_BAD_CHAIN,       /* the SE certificate does not chain to the manufacturer CA */
    ISSUER_GKEA_DECRYPT_FAILED,  /* EK does not decrypt, or is no point of the server's curve */
    ISSUER_GKEA_BAD_ATTESTATION, /* AK is not the SE's signature over the TBS this server expects */
    ISSUER_GKEA_INTERNAL,        /* OpenSSL or memory failure */
} issuer_gkea_status;

/* "bad chain", "bad attestation", "decryption failed"… */
const char *issuer_gkea_status_text(issuer_gkea_status status);

/* TBS of docs/spec.md §4 step 2:
 *   "SOFTSE-GKEA-1" ‖ u16be(|K|) ‖ K ‖ u16be(|SPKI|) ‖ SPKI ‖
 *   u16be(|nonce|) ‖ nonce ‖ u16be(|EK|) ‖ EK
 * *tbs holds K: release it with OPENSSL_clear_free(*tbs, *tbs_len). */
issuer_gkea_status issuer_gkea_tbs(const unsigned char *k, size_t k_len, const unsigned char *spki,
                                   size_t spki_len, const unsigned char *nonce, size_t nonce_len,
                                   const unsigned char *ek, size_t ek_len, unsigned char **tbs,
                                   size_t *tbs_len);

/* Verifies a card's GKEA result and recovers K, in this order: the SE
 * certificate chains to a trust anchor of trusted (X509_verify_cert; chain
 * holds intermediates and may be NULL); EK is decrypted with issuer_key
 * (RSA-OAEP SHA-256) or, for an EC key, Z = ECDH(issuer_key, E) and
 * K = HKDF-SHA256(salt = nonce, Z, "SOFTSE-GKEA-ECDH-1" ‖ SPKI ‖ EK); TBS
 * is rebuilt with the SPKI this server sent — spki_sent, the exact bytes,
 * or the DER of issuer_key's public key when NULL; never a key the client
 * reports back — and AK is verified with the certificate's key (ECDSA-
 * SHA256 raw r ‖ s, or RSASSA-PSS SHA-256 / MGF1-SHA-256 / salt 32).
 * Only when everything holds is K written to k_out (ISSUER_GKEA_K_MAX
 * bytes) and ISSUER_GKEA_OK returned.
 *
 * *k_len: in, the length of K the server asked the card for (its template's
 * CKA_VALUE_LEN), or 0 to take the one the card attested; out, |K|.  why,
 * when not NULL, receives a sentence for people on failure. */
issuer_gkea_status issuer_gkea_verify(EVP_PKEY *issuer_key, const unsigned char *spki_sent,
                                      size_t spki_len, X509 *se_cert, STACK_OF(X509) * chain,
                                      X509_STORE *trusted, const unsigned char *nonce,
                                      size_t nonce_len, const unsigned char *ek, size_t ek_len,
                                      const unsigned char *ak, size_t ak_len, unsigned char *k_out,
                                      size_t *k_len, char *why, size_t why_len);

/* HKDF-SHA256 (RFC 5869) extract-and-expand, as the card's CKM_HKDF_DERIVE
 * with prfHashMechanism CKM_SHA256, bExtract and bExpand TRUE: salt NULL
 * or empty is CKF_HKDF_SALT_NULL, else CKF_HKDF_SALT_DATA. */
issuer_gkea_status issuer_gkea_hkdf(const unsigned char *key, size_t key_len,
                                    const unsigned char *salt, size_t salt_len,
                                    const unsigned char *info, size_t info_len, unsigned char *out,
                                    size_t out_len);

/* How a secret travels to the card's C_UnwrapKey. */
typedef enum issuer_wrap_mech {
    ISSUER_WRAP_GCM, /* CKM_AES_GCM: IV(12) ‖ ciphertext ‖ tag(16); the card passes the IV in
                        CK_GCM_PARAMS and the rest as the wrapped key */
    ISSUER_WRAP_KWP, /* CKM_AES_KEY_WRAP_KWP: RFC 5649 */
} issuer_wrap_mech;

/* Encrypts secret under an AES key (16, 24 or 32 bytes).  iv: GCM only,
 * ISSUER_GCM_IV_LEN bytes, NULL for a random one.  *out is OPENSSL_malloc'ed. */
issuer_gkea_status issuer_gkea_wrap(issuer_wrap_mech mech, const unsigned char *key, size_t key_len,
                                    const unsigned char *iv, const unsigned char *secret,
                                    size_t secret_len, unsigned char **out, size_t *out_len);
/* The reverse, e.g. for what the card's C_Encrypt(CKM_AES_GCM) returned
 * (given as IV ‖ ciphertext ‖ tag).  ISSUER_GKEA_DECRYPT_FAILED when the
 * tag or the integrity check fails.  *out: OPENSSL_clear_free it. */
issuer_gkea_status issuer_gkea_unwrap(issuer_wrap_mech mech, const unsigned char *key,
                                      size_t key_len, const unsigned char *in, size_t in_len,
                                      unsigned char **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
