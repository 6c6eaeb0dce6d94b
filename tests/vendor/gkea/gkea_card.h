/*
 * gkea_card.h — the card side of CKM_SE_GKEA for the tests: a manufacturer
 * CA made with OpenSSL, "manufacture" of a token through PKCS#11 (SO:
 * attestation key pair born in the token, certificate issued by the CA and
 * stored), the GKEA call, and the small PKCS#11 chores the tests repeat.
 *
 * Nothing here uses cmocka: gkea-card (gkea_driver.c) links it too.
 * Include after p11_fixture.h.
 */
#ifndef SOFTSE_TEST_GKEA_CARD_H
#define SOFTSE_TEST_GKEA_CARD_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#define GKEA_EK_MAX 1024 /* RSA-8192 */
#define GKEA_AK_MAX 1024
#define GKEA_NONCE_LEN 32

/* A manufacturer CA: EC P-256, self-signed, CA:TRUE. */
typedef struct gkea_ca {
    EVP_PKEY *key;
    X509 *cert;
} gkea_ca;

bool gkea_ca_new(gkea_ca *ca, const char *common_name);
void gkea_ca_free(gkea_ca *ca);

typedef enum gkea_identity { GKEA_IDENTITY_EC_P256, GKEA_IDENTITY_RSA2048 } gkea_identity;

/* SO session on slot: C_GenerateKeyPair with CKA_SE_ATTESTATION, its
 * CKA_PUBLIC_KEY_INFO certified by ca, the certificate stored (label
 * "softse-attestation", public, read-only, undestroyable).  *se_cert (may
 * be NULL) receives the certificate. */
CK_RV gkea_manufacture(CK_SLOT_ID slot, const gkea_ca *ca, gkea_identity identity, X509 **se_cert);

/* An SO session sets the CKH_SE_LIFECYCLE object's CKA_VALUE. */
CK_RV gkea_set_lifecycle(CK_SLOT_ID slot, unsigned char state);

/* A server key of "rsa1024", "rsa2048", "rsa3072", "ec-p256", "ec-p384",
 * "ec-p521", "secp256k1", "ed25519", "x25519"; NULL on failure. */
EVP_PKEY *gkea_key_new(const char *kind);
/* DER SubjectPublicKeyInfo (OPENSSL_free). */
bool gkea_spki(EVP_PKEY *key, unsigned char **der, size_t *len);

/* One C_GenerateKey(CKM_SE_GKEA) and what it wrote. */
typedef struct gkea_call {
    CK_SE_GKEA_PARAMS params;
    unsigned char ek[GKEA_EK_MAX];
    CK_ULONG ek_len;
    unsigned char ak[GKEA_AK_MAX];
    CK_ULONG ak_len;
    CK_OBJECT_HANDLE k;
    CK_RV rv;
} gkea_call;

/* K: CKO_SECRET_KEY, key_type, CKA_VALUE_LEN k_len, CKA_DERIVE TRUE,
 * CKA_TOKEN token.  Writes the template into tmpl (at least 6 entries)
 * and returns its count; values live in static storage per call site. */
typedef struct gkea_k_template {
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    CK_ULONG len;
    CK_BBOOL yes, token;
    CK_ATTRIBUTE attrs[8];
    CK_ULONG count;
} gkea_k_template;
void gkea_k_template_init(gkea_k_template *t, CK_KEY_TYPE type, CK_ULONG len, bool token);

/* Fills call for one GKEA call: full-size EK and AK buffers filled with
 * 0xA5, their lengths the buffers' sizes, k CK_INVALID_HANDLE.  The
 * parameters point into call: do not copy it. */
void gkea_prepare(gkea_call *call, CK_OBJECT_HANDLE attestation, const unsigned char *spki,
                  size_t spki_len, const unsigned char *nonce, size_t nonce_len);
/* C_GenerateKey(CKM_SE_GKEA, &call->params); the result in call->rv too. */
CK_RV gkea_run(CK_SESSION_HANDLE session, gkea_call *call, CK_ATTRIBUTE *tmpl, CK_ULONG count);
/* gkea_prepare + gkea_run. */
CK_RV gkea_generate(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE attestation,
                    const unsigned char *spki, size_t spki_len, const unsigned char *nonce,
                    size_t nonce_len, CK_ATTRIBUTE *tmpl, CK_ULONG count, gkea_call *call);

/* Objects visible to the session (empty find template); (CK_ULONG)-1 on error. */
CK_ULONG gkea_count_objects(CK_SESSION_HANDLE session);
/* The first object of class cls labelled label. */
CK_RV gkea_find(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label,
                CK_OBJECT_HANDLE *object);
/* The device certificate's DER, read back from the token (malloc'ed). */
CK_RV gkea_read_cert(CK_SESSION_HANDLE session, unsigned char **der, size_t *len);

/* HKDF on the card: CKM_HKDF_DERIVE, SHA-256, extract (salt data, or
 * CKF_HKDF_SALT_NULL when salt_len is 0) and expand with info; the new
 * key's type and length as given, usable for every operation. */
CK_RV gkea_card_hkdf(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE base, const unsigned char *salt,
                     size_t salt_len, const char *info, CK_KEY_TYPE type, CK_ULONG len,
                     CK_OBJECT_HANDLE *derived);

/* Path of the token's SQLite file: <store>/<serial>.sqlite. */
bool gkea_token_file(const char *store, CK_SLOT_ID slot, char *path, size_t size);
/* Rows of table audit with this event (and, when detail_like is not
 * NULL, detail LIKE it); -1 on error. */
long gkea_audit_count(const char *db_path, const char *event, const char *detail_like);

#endif
