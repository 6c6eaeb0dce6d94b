/*
 * ki_helpers.h — what the KI tests share (docs/spec.md §5): issuer and insider
 * key pairs, crafted bad keys, the card's side through PKCS#11 (derive,
 * answer a challenge) and the evidence a test counts (objects, audit
 * records in the token's SQLite file).
 *
 * Include after p11_fixture.h and before <cmocka.h>.
 */
#ifndef SOFTSE_TEST_KI_HELPERS_H
#define SOFTSE_TEST_KI_HELPERS_H

#include "p11_fixture.h"

#include <openssl/evp.h>

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

#define KH_C_MAX 1024
#define KH_CHALLENGE_LEN 32

/* A key pair and the DER SubjectPublicKeyInfo a card is given. */
typedef struct kh_key {
    EVP_PKEY *pkey;
    unsigned char *spki;
    size_t spki_len;
} kh_key;

/* Whose key: the genuine issuer's or the bureau insider's (paper §4.3). */
typedef enum kh_owner { KH_ISSUER, KH_INSIDER } kh_owner;

/* Made once per process and kept (RSA generation is slow). */
const kh_key *kh_rsa(kh_owner owner, unsigned bits, unsigned long e);
const kh_key *kh_ec(kh_owner owner, const char *curve); /* "P-256", "P-384", "P-521" */
/* The issuer's default key for a mechanism: RSA-2048 e = 3 for the raw
 * scheme (paper §5.1), RSA-2048 e = 65537 for OAEP, P-256 for ElGamal. */
const kh_key *kh_issuer_for(CK_MECHANISM_TYPE mech);

/* Takes pkey (may be NULL for spki-only crafted keys); frees both. */
void kh_key_set(kh_key *key, EVP_PKEY *pkey);
void kh_key_free(kh_key *key);
/* An RSA public key from raw n (big-endian) and e, valid or not. */
void kh_rsa_public(kh_key *key, const unsigned char *n, size_t n_len, unsigned long e);
/* The big-endian modulus of an RSA key; returns its length. */
size_t kh_rsa_modulus(EVP_PKEY *pkey, unsigned char *out, size_t max);

/* C_GenerateKey(mech, {hash, spki, c, c_len}, tmpl). */
CK_RV kh_derive(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                const unsigned char *spki, size_t spki_len, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                unsigned char *c, CK_ULONG *c_len, CK_OBJECT_HANDLE *ki);
/* The default template: a token KI labelled "KI". */
CK_RV kh_derive_default(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                        const kh_key *issuer, unsigned char *c, CK_ULONG *c_len,
                        CK_OBJECT_HANDLE *ki);

/* The card's answer HMAC(KI, challenge) with the HMAC of hash. */
CK_RV kh_card_response(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki, CK_MECHANISM_TYPE hash,
                       const unsigned char *challenge, size_t challenge_len,
                       unsigned char *response, CK_ULONG *response_len);
/* True when the card's KI answers a fresh challenge as value would
 * (checked with the issuer library, issuer_ki_check_response). */
bool kh_card_proves(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE ki, CK_MECHANISM_TYPE hash,
                    const unsigned char *value, size_t len);

/* Every object the session sees. */
CK_ULONG kh_count_objects(CK_SESSION_HANDLE session);
/* Audit records of the token in slot whose event is event and whose detail
 * contains detail (NULL: any), read from <store>/<serial>.sqlite. */
long kh_audit_count(const char *store, CK_SLOT_ID slot, const char *event, const char *detail);

/* "sha256:<hex>" of data, as the card's audit record names the issuer key. */
void kh_fingerprint(const unsigned char *data, size_t len, char out[80]);

const char *kh_mech_name(CK_MECHANISM_TYPE mech);

#endif
