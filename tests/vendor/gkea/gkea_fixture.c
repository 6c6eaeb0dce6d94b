/*
 * gkea_fixture.c — see gkea_fixture.h.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "gkea_fixture.h"

#include <openssl/rand.h>
#include <string.h>

static int setup(void **state, bool manufacture, gkea_identity identity, unsigned char lifecycle)
{
    gkea_fx *g = calloc(1, sizeof(*g));
    if (!g)
        return -1;
    *state = g;
    void *inner = NULL;
    if (fx_setup_token(&inner) != 0)
        return -1;
    g->t = inner;
    if (!gkea_ca_new(&g->ca, "softse test manufacturer CA") || !(g->trusted = X509_STORE_new()) ||
        !X509_STORE_add_cert(g->trusted, g->ca.cert) || RAND_bytes(g->nonce, GKEA_NONCE_LEN) != 1)
        return -1;
    CK_RV rv = CKR_OK;
    if (manufacture)
        rv = gkea_manufacture(g->t->slot, &g->ca, identity, &g->se_cert);
    if (rv == CKR_OK && manufacture && lifecycle != SOFTSE_LIFECYCLE_PERSONALIZATION)
        rv = gkea_set_lifecycle(g->t->slot, lifecycle);
    if (rv == CKR_OK)
        rv = fx_open(g->t->slot, true, &g->session);
    if (rv == CKR_OK)
        rv = fx_login(g->session, CKU_USER, FX_USER_PIN);
    if (rv != CKR_OK) {
        fprintf(stderr, "gkea setup: %s\n", fx_rv_name(rv));
        return -1;
    }
    return 0;
}

int gkea_setup_ec(void **state)
{
    return setup(state, true, GKEA_IDENTITY_EC_P256, SOFTSE_LIFECYCLE_OPERATIONAL);
}

int gkea_setup_rsa(void **state)
{
    return setup(state, true, GKEA_IDENTITY_RSA2048, SOFTSE_LIFECYCLE_OPERATIONAL);
}

int gkea_setup_personalization(void **state)
{
    return setup(state, true, GKEA_IDENTITY_EC_P256, SOFTSE_LIFECYCLE_PERSONALIZATION);
}

int gkea_setup_blank(void **state)
{
    return setup(state, false, GKEA_IDENTITY_EC_P256, SOFTSE_LIFECYCLE_PERSONALIZATION);
}

int gkea_teardown(void **state)
{
    gkea_fx *g = *state;
    if (!g)
        return 0;
    void *inner = g->t;
    fx_teardown(&inner);
    X509_STORE_free(g->trusted);
    X509_free(g->se_cert);
    gkea_ca_free(&g->ca);
    free(g);
    *state = NULL;
    return 0;
}

issuer_gkea_status gkea_issuer_check(const gkea_fx *g, EVP_PKEY *server_key,
                                     const unsigned char *nonce, size_t nonce_len,
                                     const unsigned char *ek, size_t ek_len,
                                     const unsigned char *ak, size_t ak_len, unsigned char *k,
                                     size_t *k_len)
{
    char why[256];
    issuer_gkea_status status =
        issuer_gkea_verify(server_key, NULL, 0, g->se_cert, NULL, g->trusted, nonce, nonce_len, ek,
                           ek_len, ak, ak_len, k, k_len, why, sizeof(why));
    if (status != ISSUER_GKEA_OK)
        print_message("issuer: %s: %s\n", issuer_gkea_status_text(status), why);
    return status;
}

EVP_PKEY *gkea_server(const char *kind, unsigned char **spki, size_t *spki_len)
{
    EVP_PKEY *key = gkea_key_new(kind);
    assert_non_null(key);
    assert_true(gkea_spki(key, spki, spki_len));
    return key;
}
