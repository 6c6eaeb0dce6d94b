/*
 * gkea_fixture.h — cmocka fixtures of the GKEA tests: a fresh store, a
 * token initialized and manufactured through PKCS#11 by a CA made here,
 * moved to OPERATIONAL, and an RW session with the user logged in; plus
 * the issuer's side of one call.  Include after <cmocka.h>.
 */
#ifndef SOFTSE_TEST_GKEA_FIXTURE_H
#define SOFTSE_TEST_GKEA_FIXTURE_H

#include "gkea_card.h"
#include "issuer-gkea.h"

typedef struct gkea_fx {
    fx *t;                     /* p11_fixture: store, slot */
    gkea_ca ca;                /* the manufacturer CA */
    X509 *se_cert;             /* the token's attestation certificate (NULL: blank) */
    X509_STORE *trusted;       /* ca.cert as the only trust anchor */
    CK_SESSION_HANDLE session; /* RW, user logged in */
    unsigned char nonce[GKEA_NONCE_LEN];
} gkea_fx;

int gkea_setup_ec(void **state);              /* EC P-256 identity, OPERATIONAL */
int gkea_setup_rsa(void **state);             /* RSA-2048 identity, OPERATIONAL */
int gkea_setup_personalization(void **state); /* EC P-256 identity, PERSONALIZATION */
int gkea_setup_blank(void **state);           /* initialized, never manufactured */
int gkea_teardown(void **state);

/* The issuer's check of call with server_key, the fixture's chain and
 * nonce: issuer_gkea_verify with the SPKI the server holds. */
issuer_gkea_status gkea_issuer_check(const gkea_fx *g, EVP_PKEY *server_key,
                                     const unsigned char *nonce, size_t nonce_len,
                                     const unsigned char *ek, size_t ek_len,
                                     const unsigned char *ak, size_t ak_len, unsigned char *k,
                                     size_t *k_len);

/* A server key of that kind and its SPKI; asserts. */
EVP_PKEY *gkea_server(const char *kind, unsigned char **spki, size_t *spki_len);

/* The default K template: generic secret of 32 bytes, CKA_DERIVE, session object. */
#define GKEA_DEFAULT_K(tmpl) gkea_k_template_init((tmpl), CKK_GENERIC_SECRET, 32, false)

#endif
