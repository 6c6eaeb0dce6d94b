/*
 * test_gkea_card.c — the card's side of CKM_SE_GKEA (docs/spec.md §1, §4):
 * every refusal with its exact return value and nothing created (no
 * object, EK and AK buffers untouched), the length query, all-or-nothing
 * when storing K fails, the lifecycle, K's attributes, audit records.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>

#include <cmocka.h>

#include "gkea_fixture.h"

#include <string.h>

#define EVENT "CKM_SE_GKEA"
#define UNTOUCHED 0xA5

typedef struct card_test {
    gkea_fx *g;
    EVP_PKEY *server;
    unsigned char *spki;
    size_t spki_len;
    char db[PATH_MAX + 64];
} card_test;

static void begin(void **state, card_test *c, const char *server_kind)
{
    c->g = *state;
    c->server = gkea_server(server_kind, &c->spki, &c->spki_len);
    assert_true(gkea_token_file(c->g->t->store, c->g->t->slot, c->db, sizeof(c->db)));
}

static void end(card_test *c)
{
    OPENSSL_free(c->spki);
    EVP_PKEY_free(c->server);
}

static bool all_bytes(const unsigned char *p, size_t len, unsigned char value)
{
    for (size_t i = 0; i < len; i++)
        if (p[i] != value)
            return false;
    return true;
}

/* One refused call: the code, no object, outputs as they were, one audit record. */
static void expect_refused(card_test *c, gkea_call *call, CK_MECHANISM *mech, CK_ATTRIBUTE *tmpl,
                           CK_ULONG count, CK_RV expected, const char *what)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = c->g->session;
    CK_ULONG before = gkea_count_objects(s);
    long audited = gkea_audit_count(c->db, EVENT, NULL);
    CK_ULONG ek_len = call->ek_len, ak_len = call->ak_len;
    CK_MECHANISM standard = {CKM_SE_GKEA, &call->params, sizeof(call->params)};
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    CK_RV rv = f->C_GenerateKey(s, mech ? mech : &standard, tmpl, count, &k);
    if (rv != expected)
        fail_msg("%s: expected %s, got %s", what, fx_rv_name(expected), fx_rv_name(rv));
    assert_int_equal(k, CK_INVALID_HANDLE);
    assert_int_equal(gkea_count_objects(s), before);
    assert_int_equal(call->ek_len, ek_len);
    assert_int_equal(call->ak_len, ak_len);
    assert_true(all_bytes(call->ek, sizeof(call->ek), UNTOUCHED));
    assert_true(all_bytes(call->ak, sizeof(call->ak), UNTOUCHED));
    /* Refusals the core makes before the mechanism runs are not GKEA's to audit. */
    long now = gkea_audit_count(c->db, EVENT, NULL);
    assert_true(now == audited || now == audited + 1);
}

static void refuse_template(card_test *c, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_RV expected,
                            const char *what)
{
    gkea_call call;
    gkea_prepare(&call, CK_INVALID_HANDLE, c->spki, c->spki_len, c->g->nonce, sizeof(c->g->nonce));
    expect_refused(c, &call, NULL, tmpl, count, expected, what);
}

/* ---- the mechanism --------------------------------------------------------------- */

static void mechanism_info(void **state)
{
    (void)state;
    CK_FUNCTION_LIST_PTR f = fx_functions();
    gkea_fx *g = *state;
    CK_MECHANISM_INFO info;
    assert_rv(f->C_GetMechanismInfo(g->t->slot, CKM_SE_GKEA, &info), CKR_OK);
    assert_int_equal(info.ulMinKeySize, 16);
    assert_int_equal(info.ulMaxKeySize, 64);
    assert_int_equal(info.flags & CKF_GENERATE, CKF_GENERATE);
    CK_MECHANISM_TYPE list[256];
    CK_ULONG count = 256;
    assert_rv(f->C_GetMechanismList(g->t->slot, list, &count), CKR_OK);
    bool listed = false;
    for (CK_ULONG i = 0; i < count; i++)
        listed |= list[i] == CKM_SE_GKEA;
    assert_true(listed);
}

/* ---- parameter errors --------------------------------------------------------------- */

static void parameter_structure(void **state)
{
    card_test c;
    begin(state, &c, "rsa2048");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));

    CK_MECHANISM none = {CKM_SE_GKEA, NULL, 0};
    expect_refused(&c, &call, &none, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                   "no parameter");
    CK_MECHANISM null_with_len = {CKM_SE_GKEA, NULL, sizeof(CK_SE_GKEA_PARAMS)};
    expect_refused(&c, &call, &null_with_len, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                   "NULL parameter with a length");
    CK_MECHANISM short_len = {CKM_SE_GKEA, &call.params, sizeof(CK_SE_GKEA_PARAMS) - 1};
    expect_refused(&c, &call, &short_len, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                   "ulParameterLen too small");
    CK_MECHANISM long_len = {CKM_SE_GKEA, &call.params, sizeof(CK_SE_GKEA_PARAMS) + 1};
    expect_refused(&c, &call, &long_len, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                   "ulParameterLen too large");

    call.params.pulEncryptedKeyLen = NULL;
    expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_ARGUMENTS_BAD,
                   "NULL pulEncryptedKeyLen");
    call.params.pulEncryptedKeyLen = &call.ek_len;
    call.params.pulAttestationLen = NULL;
    expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_ARGUMENTS_BAD,
                   "NULL pulAttestationLen");
    end(&c);
}

static void nonce_length(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    unsigned char nonce[65] = {1, 2, 3};
    gkea_call call;
    const struct {
        const unsigned char *nonce;
        size_t len;
    } bad[] = {{NULL, 0}, {NULL, 32}, {nonce, 0}, {nonce, 15}, {nonce, 65}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, bad[i].nonce, bad[i].len);
        expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                       "nonce length");
    }
    for (size_t len = 16; len <= 64; len += 48) {
        assert_rv(gkea_generate(c.g->session, CK_INVALID_HANDLE, c.spki, c.spki_len, nonce, len,
                                tmpl.attrs, tmpl.count, &call),
                  CKR_OK);
        unsigned char k[ISSUER_GKEA_K_MAX];
        size_t k_len = 0;
        assert_int_equal(gkea_issuer_check(c.g, c.server, nonce, len, call.ek, call.ek_len, call.ak,
                                           call.ak_len, k, &k_len),
                         ISSUER_GKEA_OK);
    }
    end(&c);
}

/* Server keys that are not DER SPKI of RSA ≥ 2048 or EC P-256/384/521.
 * Another named curve is CKR_CURVE_NOT_SUPPORTED (vendor-mechs/gkea.c
 * documents why); everything else CKR_MECHANISM_PARAM_INVALID. */
static void server_key_refused(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    unsigned char garbage[91];
    memset(garbage, 0x30, sizeof(garbage));
    unsigned char *trailing = OPENSSL_malloc(c.spki_len + 1);
    memcpy(trailing, c.spki, c.spki_len);
    trailing[c.spki_len] = 0x00;
    const struct {
        const unsigned char *spki;
        size_t len;
        const char *what;
    } malformed[] = {
        {NULL, 0, "NULL SPKI"},
        {NULL, 91, "NULL SPKI with a length"},
        {c.spki, 0, "empty SPKI"},
        {garbage, sizeof(garbage), "not DER"},
        {c.spki, c.spki_len - 1, "truncated SPKI"},
        {trailing, c.spki_len + 1, "SPKI with a trailing byte"},
        {c.spki + 2, c.spki_len - 2, "SPKI without its SEQUENCE header"},
    };
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        gkea_prepare(&call, CK_INVALID_HANDLE, malformed[i].spki, malformed[i].len, c.g->nonce,
                     sizeof(c.g->nonce));
        expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_MECHANISM_PARAM_INVALID,
                       malformed[i].what);
    }
    OPENSSL_free(trailing);

    const struct {
        const char *kind;
        CK_RV rv;
    } keys[] = {
        {"rsa1024", CKR_MECHANISM_PARAM_INVALID},
        {"secp256k1", CKR_CURVE_NOT_SUPPORTED},
        {"ed25519", CKR_MECHANISM_PARAM_INVALID},
        {"x25519", CKR_MECHANISM_PARAM_INVALID},
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        unsigned char *spki;
        size_t len;
        EVP_PKEY *key = gkea_server(keys[i].kind, &spki, &len);
        gkea_prepare(&call, CK_INVALID_HANDLE, spki, len, c.g->nonce, sizeof(c.g->nonce));
        expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, keys[i].rv, keys[i].kind);
        OPENSSL_free(spki);
        EVP_PKEY_free(key);
    }
    end(&c);
}

/* hAttestationKey must be the token's attestation private key. */
static void attestation_handle_refused(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = c.g->session;
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);

    /* An ordinary signing key of the user's, on the same curve. */
    static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                         0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM ec_gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    CK_ATTRIBUTE priv_tmpl[] = {{CKA_SIGN, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE pub, priv, device_pub, secret;
    assert_rv(f->C_GenerateKeyPair(s, &ec_gen, pub_tmpl, 1, priv_tmpl, 1, &pub, &priv), CKR_OK);
    assert_rv(gkea_find(s, CKO_PUBLIC_KEY, "softse-attestation", &device_pub), CKR_OK);
    assert_rv(fx_create_aes(s, "aes", false, true, false, (const unsigned char *)"0123456789abcdef",
                            16, &secret),
              CKR_OK);

    const struct {
        CK_OBJECT_HANDLE h;
        const char *what;
    } handles[] = {
        {priv, "an ordinary EC private key"},
        {pub, "an ordinary EC public key"},
        {device_pub, "the attestation public key"},
        {secret, "an AES key"},
        {0x7777, "no object"},
    };
    for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++) {
        gkea_call call;
        gkea_prepare(&call, handles[i].h, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));
        expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_KEY_HANDLE_INVALID,
                       handles[i].what);
    }
    end(&c);
}

static void not_manufactured(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    refuse_template(&c, tmpl.attrs, tmpl.count, CKR_KEY_NEEDED, "token without identity");
    end(&c);
}

/* ---- K's template ------------------------------------------------------------------- */

static void template_refused(void **state)
{
    card_test c;
    begin(state, &c, "rsa2048");
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY, private_key = CKO_PRIVATE_KEY;
    CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET, des3 = CKK_DES3, ec = CKK_EC;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len15 = 15, len20 = 20, len64 = 64, len65 = 65, len0 = 0;
    unsigned char value[32] = {0};
    const struct {
        CK_ATTRIBUTE attrs[3];
        CK_ULONG count;
        CK_RV rv;
        const char *what;
    } cases[] = {
        {{{CKA_EXTRACTABLE, &yes, 1}}, 1, CKR_TEMPLATE_INCONSISTENT, "CKA_EXTRACTABLE TRUE"},
        {{{CKA_SENSITIVE, &no, 1}}, 1, CKR_TEMPLATE_INCONSISTENT, "CKA_SENSITIVE FALSE"},
        {{{CKA_KEY_TYPE, &des3, sizeof(des3)}}, 1, CKR_TEMPLATE_INCONSISTENT, "CKK_DES3"},
        {{{CKA_KEY_TYPE, &ec, sizeof(ec)}}, 1, CKR_TEMPLATE_INCONSISTENT, "CKK_EC"},
        {{{CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_VALUE_LEN, &len20, sizeof(len20)}},
         2,
         CKR_ATTRIBUTE_VALUE_INVALID,
         "AES of 20 bytes"},
        {{{CKA_KEY_TYPE, &aes, sizeof(aes)}, {CKA_VALUE_LEN, &len64, sizeof(len64)}},
         2,
         CKR_ATTRIBUTE_VALUE_INVALID,
         "AES of 64 bytes"},
        {{{CKA_KEY_TYPE, &generic, sizeof(generic)}, {CKA_VALUE_LEN, &len15, sizeof(len15)}},
         2,
         CKR_ATTRIBUTE_VALUE_INVALID,
         "generic of 15 bytes"},
        {{{CKA_KEY_TYPE, &generic, sizeof(generic)}, {CKA_VALUE_LEN, &len65, sizeof(len65)}},
         2,
         CKR_ATTRIBUTE_VALUE_INVALID,
         "generic of 65 bytes"},
        {{{CKA_VALUE_LEN, &len0, sizeof(len0)}}, 1, CKR_ATTRIBUTE_VALUE_INVALID, "length 0"},
        /* The core's checks, before the mechanism runs. */
        {{{CKA_VALUE, value, sizeof(value)}}, 1, CKR_TEMPLATE_INCONSISTENT, "CKA_VALUE given"},
        {{{CKA_CLASS, &private_key, sizeof(private_key)}},
         1,
         CKR_TEMPLATE_INCONSISTENT,
         "CKO_PRIVATE_KEY"},
        {{{CKA_LOCAL, &yes, 1}}, 1, CKR_ATTRIBUTE_READ_ONLY, "CKA_LOCAL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        CK_ATTRIBUTE tmpl[4] = {{CKA_CLASS, &secret, sizeof(secret)}};
        memcpy(tmpl + 1, cases[i].attrs, cases[i].count * sizeof(CK_ATTRIBUTE));
        refuse_template(&c, tmpl, cases[i].count + 1, cases[i].rv, cases[i].what);
    }
    end(&c);
}

/* K's type and length: the defaults and the ends of the ranges. */
static void template_accepted(void **state)
{
    card_test c;
    begin(state, &c, "ec-p384");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = c.g->session;
    CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG lens[] = {16, 24, 32, 16, 64, 0, 0};
    CK_KEY_TYPE *types[] = {&aes, &aes, &aes, &generic, &generic, &aes, NULL};
    CK_KEY_TYPE expect_type[] = {
        CKK_AES, CKK_AES,           CKK_AES, CKK_GENERIC_SECRET, CKK_GENERIC_SECRET,
        CKK_AES, CKK_GENERIC_SECRET};
    CK_ULONG expect_len[] = {16, 24, 32, 16, 64, 32, 32};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        CK_ATTRIBUTE tmpl[4] = {{CKA_SENSITIVE, &yes, 1}, {CKA_EXTRACTABLE, &no, 1}};
        CK_ULONG count = 2;
        if (types[i])
            tmpl[count++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, types[i], sizeof(CK_KEY_TYPE)};
        if (lens[i])
            tmpl[count++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, &lens[i], sizeof(CK_ULONG)};
        gkea_call call;
        assert_rv(gkea_generate(s, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce,
                                sizeof(c.g->nonce), tmpl, count, &call),
                  CKR_OK);
        assert_int_equal(fx_get_ulong(s, call.k, CKA_KEY_TYPE), expect_type[i]);
        assert_int_equal(fx_get_ulong(s, call.k, CKA_VALUE_LEN), expect_len[i]);
        assert_int_equal(fx_get_ulong(s, call.k, CKA_CLASS), CKO_SECRET_KEY);
        unsigned char k[ISSUER_GKEA_K_MAX];
        size_t k_len = 0;
        assert_int_equal(gkea_issuer_check(c.g, c.server, c.g->nonce, sizeof(c.g->nonce), call.ek,
                                           call.ek_len, call.ak, call.ak_len, k, &k_len),
                         ISSUER_GKEA_OK);
        assert_int_equal(k_len, expect_len[i]);
        assert_rv(f->C_DestroyObject(s, call.k), CKR_OK);
    }
    end(&c);
}

/* ---- the length query ---------------------------------------------------------------- */

static void sizes(card_test *c, const char *server_kind, CK_ULONG ek_len, CK_ULONG ak_len)
{
    unsigned char *spki;
    size_t spki_len;
    EVP_PKEY *key = gkea_server(server_kind, &spki, &spki_len);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = c->g->session;
    CK_ULONG before = gkea_count_objects(s);

    for (int variant = 0; variant < 5; variant++) {
        gkea_call call;
        gkea_prepare(&call, CK_INVALID_HANDLE, spki, spki_len, c->g->nonce, sizeof(c->g->nonce));
        switch (variant) {
        case 0:
            call.params.pEncryptedKey = NULL;
            break;
        case 1:
            call.params.pAttestation = NULL;
            break;
        case 2:
            call.params.pEncryptedKey = call.params.pAttestation = NULL;
            break;
        case 3:
            call.ek_len = ek_len - 1;
            break;
        case 4:
            call.ak_len = ak_len - 1;
            break;
        }
        assert_rv(gkea_run(s, &call, tmpl.attrs, tmpl.count), CKR_BUFFER_TOO_SMALL);
        assert_int_equal(call.ek_len, ek_len);
        assert_int_equal(call.ak_len, ak_len);
        assert_int_equal(call.k, CK_INVALID_HANDLE);
        assert_true(all_bytes(call.ek, sizeof(call.ek), UNTOUCHED));
        assert_true(all_bytes(call.ak, sizeof(call.ak), UNTOUCHED));
        assert_int_equal(gkea_count_objects(s), before);
    }
    /* The sizes given are enough. */
    gkea_call call;
    gkea_prepare(&call, CK_INVALID_HANDLE, spki, spki_len, c->g->nonce, sizeof(c->g->nonce));
    call.ek_len = ek_len;
    call.ak_len = ak_len;
    assert_rv(gkea_run(s, &call, tmpl.attrs, tmpl.count), CKR_OK);
    assert_int_equal(call.ek_len, ek_len);
    assert_int_equal(call.ak_len, ak_len);
    assert_true(all_bytes(call.ek + ek_len, sizeof(call.ek) - ek_len, UNTOUCHED));
    assert_int_equal(gkea_count_objects(s), before + 1);
    assert_rv(f->C_DestroyObject(s, call.k), CKR_OK);
    OPENSSL_free(spki);
    EVP_PKEY_free(key);
}

static void length_query_ec_identity(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    sizes(&c, "rsa2048", 256, 64);
    sizes(&c, "rsa3072", 384, 64);
    sizes(&c, "ec-p256", 65, 64);
    sizes(&c, "ec-p384", 97, 64);
    sizes(&c, "ec-p521", 133, 64);
    end(&c);
}

static void length_query_rsa_identity(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    sizes(&c, "rsa2048", 256, 256);
    sizes(&c, "ec-p256", 65, 256);
    end(&c);
}

/* ---- all or nothing ------------------------------------------------------------------- */

/* K asked as a token object in a read-only session: the mechanism has run
 * (EK and AK written) when storing fails; the core's generate_failed must
 * erase both and zero their lengths. */
static void atomic_when_storing_fails(void **state)
{
    card_test c;
    begin(state, &c, "rsa2048");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE ro;
    assert_rv(fx_open(c.g->t->slot, false, &ro), CKR_OK); /* the user's login covers it */
    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, CKK_AES, 32, true);
    CK_ULONG before = gkea_count_objects(ro);
    long audited = gkea_audit_count(c.db, EVENT, NULL);

    gkea_call call;
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));
    assert_rv(gkea_run(ro, &call, tmpl.attrs, tmpl.count), CKR_SESSION_READ_ONLY);
    assert_int_equal(call.k, CK_INVALID_HANDLE);
    assert_int_equal(call.ek_len, 0);
    assert_int_equal(call.ak_len, 0);
    assert_true(all_bytes(call.ek, 256, 0)); /* what was written is erased */
    assert_true(all_bytes(call.ak, 64, 0));
    assert_true(all_bytes(call.ek + 256, sizeof(call.ek) - 256, UNTOUCHED));
    assert_int_equal(gkea_count_objects(ro), before);
    assert_int_equal(gkea_count_objects(c.g->session), before);
    /* The call's record, then the rollback's: the log says K never existed. */
    assert_int_equal(gkea_audit_count(c.db, EVENT, NULL), audited + 2);

    /* The same call as a session object is fine in a read-only session. */
    gkea_k_template_init(&tmpl, CKK_AES, 32, false);
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));
    assert_rv(gkea_run(ro, &call, tmpl.attrs, tmpl.count), CKR_OK);
    assert_int_equal(call.ek_len, 256);
    assert_rv(f->C_CloseSession(ro), CKR_OK);
    end(&c);
}

/* ---- lifecycle -------------------------------------------------------------------------- */

static void refused_when_terminated(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    assert_rv(f->C_Logout(c.g->session), CKR_OK);
    assert_rv(gkea_set_lifecycle(c.g->t->slot, SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    assert_rv(fx_login(c.g->session, CKU_USER, FX_USER_PIN), CKR_OK);
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    long refused = gkea_audit_count(c.db, EVENT, "refused%");
    refuse_template(&c, tmpl.attrs, tmpl.count, CKR_SE_LIFECYCLE, "TERMINATED");
    /* Even the length query. */
    gkea_call call;
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));
    call.params.pEncryptedKey = NULL;
    expect_refused(&c, &call, NULL, tmpl.attrs, tmpl.count, CKR_SE_LIFECYCLE, "TERMINATED size");
    assert_int_equal(gkea_audit_count(c.db, EVENT, "refused%"), refused + 2);
    end(&c);
}

/* GKEA is allowed in PERSONALIZATION as in OPERATIONAL (docs/spec.md §3). */
static void allowed_in_personalization(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    gkea_call call;
    assert_rv(gkea_generate(c.g->session, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce,
                            sizeof(c.g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    end(&c);
}

/* ---- K ------------------------------------------------------------------------------------ */

static void k_attributes(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = c.g->session;
    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, CKK_AES, 32, false);
    gkea_call call;
    assert_rv(gkea_generate(s, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce,
                            sizeof(c.g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    CK_OBJECT_HANDLE k = call.k;
    assert_int_equal(fx_get_bool(s, k, CKA_SENSITIVE), CK_TRUE);
    assert_int_equal(fx_get_bool(s, k, CKA_EXTRACTABLE), CK_FALSE);
    assert_int_equal(fx_get_bool(s, k, CKA_LOCAL), CK_TRUE);
    assert_int_equal(fx_get_bool(s, k, CKA_ALWAYS_SENSITIVE), CK_TRUE);
    assert_int_equal(fx_get_bool(s, k, CKA_NEVER_EXTRACTABLE), CK_TRUE);
    assert_int_equal(fx_get_bool(s, k, CKA_DERIVE), CK_TRUE);
    assert_int_equal(fx_get_ulong(s, k, CKA_KEY_GEN_MECHANISM), CKM_SE_GKEA);
    unsigned char value[64];
    CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
    assert_rv(f->C_GetAttributeValue(s, k, &read, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(read.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    /* It cannot be made extractable later, nor wrapped out. */
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE extractable = {CKA_EXTRACTABLE, &yes, 1};
    CK_ATTRIBUTE sensitive = {CKA_SENSITIVE, &no, 1};
    assert_rv_in(f->C_SetAttributeValue(s, k, &extractable, 1), CKR_ATTRIBUTE_READ_ONLY,
                 CKR_ACTION_PROHIBITED);
    assert_rv_in(f->C_SetAttributeValue(s, k, &sensitive, 1), CKR_ATTRIBUTE_READ_ONLY,
                 CKR_ACTION_PROHIBITED);
    CK_OBJECT_HANDLE wrapper;
    assert_rv(fx_create_aes(s, "wrapper", false, true, false,
                            (const unsigned char *)"0123456789abcdef0123456789abcdef", 32,
                            &wrapper),
              CKR_OK);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    unsigned char wrapped[128];
    CK_ULONG wrapped_len = sizeof(wrapped);
    assert_rv(f->C_WrapKey(s, &kwp, wrapper, k, wrapped, &wrapped_len), CKR_KEY_UNEXTRACTABLE);
    end(&c);
}

/* A token K survives a restart and still derives the issuer's keys. */
static void token_k_persists(void **state)
{
    card_test c;
    begin(state, &c, "rsa2048");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    gkea_k_template tmpl;
    gkea_k_template_init(&tmpl, CKK_GENERIC_SECRET, 48, true);
    CK_ATTRIBUTE with_label[8];
    memcpy(with_label, tmpl.attrs, tmpl.count * sizeof(CK_ATTRIBUTE));
    with_label[tmpl.count] = (CK_ATTRIBUTE){CKA_LABEL, "gkea-k", 6};
    long created = gkea_audit_count(c.db, "object-created", "%" EVENT "%");
    gkea_call call;
    assert_rv(gkea_generate(c.g->session, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce,
                            sizeof(c.g->nonce), with_label, tmpl.count + 1, &call),
              CKR_OK);
    assert_int_equal(gkea_audit_count(c.db, "object-created", "%" EVENT "%"), created + 1);
    unsigned char k[ISSUER_GKEA_K_MAX];
    size_t k_len = 48;
    assert_int_equal(gkea_issuer_check(c.g, c.server, c.g->nonce, sizeof(c.g->nonce), call.ek,
                                       call.ek_len, call.ak, call.ak_len, k, &k_len),
                     ISSUER_GKEA_OK);

    assert_rv(fx_restart(), CKR_OK);
    assert_rv(fx_open(c.g->t->slot, true, &c.g->session), CKR_OK);
    assert_rv(fx_login(c.g->session, CKU_USER, FX_USER_PIN), CKR_OK);
    CK_OBJECT_HANDLE stored, mac;
    assert_rv(gkea_find(c.g->session, CKO_SECRET_KEY, "gkea-k", &stored), CKR_OK);
    assert_int_equal(fx_get_ulong(c.g->session, stored, CKA_KEY_GEN_MECHANISM), CKM_SE_GKEA);
    assert_rv(gkea_card_hkdf(c.g->session, stored, NULL, 0, "mac", CKK_GENERIC_SECRET, 32, &mac),
              CKR_OK);
    unsigned char mac_key[32], on_card[32], at_issuer[32];
    assert_int_equal(issuer_gkea_hkdf(k, k_len, NULL, 0, (const unsigned char *)"mac", 3, mac_key,
                                      sizeof(mac_key)),
                     ISSUER_GKEA_OK);
    CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
    CK_ULONG len = sizeof(on_card);
    assert_rv(f->C_SignInit(c.g->session, &hmac, mac), CKR_OK);
    assert_rv(f->C_Sign(c.g->session, (CK_BYTE_PTR) "challenge", 9, on_card, &len), CKR_OK);
    size_t issuer_len = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, mac_key, sizeof(mac_key),
                              (const unsigned char *)"challenge", 9, at_issuer, sizeof(at_issuer),
                              &issuer_len));
    assert_memory_equal(on_card, at_issuer, 32);
    end(&c);
}

/* ---- audit ----------------------------------------------------------------------------------- */

/* Every call the mechanism sees leaves a record: made, refused, size query. */
static void audit_per_call(void **state)
{
    card_test c;
    begin(state, &c, "ec-p256");
    gkea_k_template tmpl;
    GKEA_DEFAULT_K(&tmpl);
    long all = gkea_audit_count(c.db, EVENT, NULL);
    long made = gkea_audit_count(c.db, EVENT, "K %");
    long refused = gkea_audit_count(c.db, EVENT, "refused%");
    long queries = gkea_audit_count(c.db, EVENT, "size query");
    assert_true(all >= 0 && made >= 0 && refused >= 0 && queries >= 0);

    gkea_call call;
    assert_rv(gkea_generate(c.g->session, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce,
                            sizeof(c.g->nonce), tmpl.attrs, tmpl.count, &call),
              CKR_OK);
    assert_int_equal(gkea_audit_count(c.db, EVENT, "K %"), made + 1);
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, 8);
    assert_rv(gkea_run(c.g->session, &call, tmpl.attrs, tmpl.count), CKR_MECHANISM_PARAM_INVALID);
    assert_int_equal(gkea_audit_count(c.db, EVENT, "refused%"), refused + 1);
    gkea_prepare(&call, CK_INVALID_HANDLE, c.spki, c.spki_len, c.g->nonce, sizeof(c.g->nonce));
    call.params.pAttestation = NULL;
    assert_rv(gkea_run(c.g->session, &call, tmpl.attrs, tmpl.count), CKR_BUFFER_TOO_SMALL);
    assert_int_equal(gkea_audit_count(c.db, EVENT, "size query"), queries + 1);
    assert_int_equal(gkea_audit_count(c.db, EVENT, NULL), all + 3);
    end(&c);
}

int main(void)
{
#define EC(test) cmocka_unit_test_setup_teardown(test, gkea_setup_ec, gkea_teardown)
    const struct CMUnitTest tests[] = {
        EC(mechanism_info),
        EC(parameter_structure),
        EC(nonce_length),
        EC(server_key_refused),
        EC(attestation_handle_refused),
        cmocka_unit_test_setup_teardown(not_manufactured, gkea_setup_blank, gkea_teardown),
        EC(template_refused),
        EC(template_accepted),
        EC(length_query_ec_identity),
        cmocka_unit_test_setup_teardown(length_query_rsa_identity, gkea_setup_rsa, gkea_teardown),
        EC(atomic_when_storing_fails),
        EC(refused_when_terminated),
        cmocka_unit_test_setup_teardown(allowed_in_personalization, gkea_setup_personalization,
                                        gkea_teardown),
        EC(k_attributes),
        EC(token_k_persists),
        EC(audit_per_call),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
