/*
 * KI derivations from several sessions at once (vendor-mechs/ki.c keeps
 * checked issuer keys and their RSA contexts across calls): every thread
 * cycles through more issuer keys than are kept, so kept entries are
 * replaced while other calls use them, and every KI must still be the one
 * the issuer recovers.
 */
#include "ki_helpers.h"

#include "issuer-ki.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define THREADS 4
#define ROUNDS 40
#define KEYS 6

static const kh_key *keys[KEYS];

typedef struct worker {
    fx *t;
    int index;
    int failures;
} worker;

static CK_MECHANISM_TYPE mechanism_for(const kh_key *key, int round)
{
    if (EVP_PKEY_get_base_id(key->pkey) == EVP_PKEY_EC)
        return CKM_SE_KI_EC_ELGAMAL;
    return round % 2 ? CKM_SE_KI_RSA_OAEP : CKM_SE_KI_RSA_RAW;
}

static void *work(void *arg)
{
    worker *w = arg;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE session;
    if (f->C_OpenSession(w->t->slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &session) !=
        CKR_OK) {
        w->failures++;
        return NULL;
    }
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_TOKEN, &no, sizeof(no)},
                           {CKA_SIGN, &yes, sizeof(yes)}};
    for (int round = 0; round < ROUNDS; round++) {
        const kh_key *key = keys[(w->index + round) % KEYS];
        CK_MECHANISM_TYPE mech = mechanism_for(key, round);
        unsigned char c[KH_C_MAX], ki[32];
        CK_ULONG c_len = sizeof(c);
        size_t ki_len = sizeof(ki);
        CK_OBJECT_HANDLE handle;
        if (kh_derive(session, mech, CKM_SHA256, key->spki, key->spki_len, tmpl, 3, c, &c_len,
                      &handle) != CKR_OK) {
            w->failures++;
            continue;
        }
        if (issuer_ki_recover(key->pkey, mech, CKM_SHA256, c, c_len, ki, &ki_len) != CKR_OK ||
            !kh_card_proves(session, handle, CKM_SHA256, ki, ki_len))
            w->failures++;
        if (f->C_DestroyObject(session, handle) != CKR_OK)
            w->failures++;
    }
    f->C_CloseSession(session);
    return NULL;
}

static void sessions_in_parallel(void **state)
{
    fx *t = *state;
    keys[0] = kh_rsa(KH_ISSUER, 2048, 3);
    keys[1] = kh_ec(KH_ISSUER, "P-256");
    keys[2] = kh_rsa(KH_ISSUER, 2048, 65537);
    keys[3] = kh_ec(KH_ISSUER, "P-384");
    keys[4] = kh_rsa(KH_INSIDER, 2048, 3);
    keys[5] = kh_ec(KH_INSIDER, "P-256");
    pthread_t threads[THREADS];
    worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (worker){t, i, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(workers[i].failures, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sessions_in_parallel, fx_setup_user, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
