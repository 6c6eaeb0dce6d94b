/*
 * The device identity (docs/spec.md §2) and the lifecycle (docs/spec.md §3) through
 * PKCS#11 alone, as softse-tool drives them: manufacture is an SO's
 * C_GenerateKeyPair with CKA_SE_ATTESTATION, then C_CreateObject of the
 * certificates; the identity then refuses every general use and every
 * change; the CKH_SE_LIFECYCLE object moves 1→2→3 (and 2→1, a reset that
 * keeps the identity) only for the SO; TERMINATED refuses key use and
 * leaves no secret value in the store file.
 */
#include "p11_fixture.h"
#include "p11_keys.h"

#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define ATTESTATION_LABEL "softse-attestation"
#define CA_LABEL "softse-manufacturer-ca"
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define TOK_ATTR_SECRET 0x1 /* tokens/tok.h: the attribute.flags bit of key values */

static const unsigned char device_id[] = {0x5e, 0x00, 0x01};
/* DER OID of P-256 */
static const unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};

typedef struct identity {
    CK_OBJECT_HANDLE priv, pub, cert, ca;
} identity;

/* ---- helpers ------------------------------------------------------------------ */

static CK_SESSION_HANDLE session_as(CK_SLOT_ID slot, CK_USER_TYPE user)
{
    CK_SESSION_HANDLE session;
    assert_rv(fx_open(slot, true, &session), CKR_OK);
    assert_rv(fx_login(session, user, user == CKU_SO ? FX_SO_PIN : FX_USER_PIN), CKR_OK);
    return session;
}

static void close_session(CK_SESSION_HANDLE session)
{
    assert_rv(fx_functions()->C_CloseSession(session), CKR_OK);
}

/* The attestation key pair as `softse-tool manufacture` asks for it; the
 * private template also asks for what the module must override. */
static CK_RV generate_identity(CK_SESSION_HANDLE session, bool rsa, CK_OBJECT_HANDLE *pub,
                               CK_OBJECT_HANDLE *priv)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 2048;
    static const unsigned char f4[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {rsa ? CKM_RSA_PKCS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL_PTR, 0};
    CK_ATTRIBUTE ec_pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)device_id, sizeof(device_id)},
        {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
    };
    CK_ATTRIBUTE rsa_pub[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)device_id, sizeof(device_id)},
        {CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)device_id, sizeof(device_id)},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
        {CKA_LABEL, "chosen-label", 12}, /* docs/spec.md §2: forced to softse-attestation */
        {CKA_SIGN, &yes, sizeof(yes)},   /* forced FALSE */
    };
    return fx_functions()->C_GenerateKeyPair(session, &mech, rsa ? rsa_pub : ec_pub,
                                             rsa ? ARRAY_SIZE(rsa_pub) : ARRAY_SIZE(ec_pub),
                                             priv_tmpl, ARRAY_SIZE(priv_tmpl), pub, priv);
}

static CK_OBJECT_HANDLE store_cert(CK_SESSION_HANDLE session, const char *label,
                                   const char *common_name)
{
    fx_cert cert;
    fx_cert_new(&cert, common_name);
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_CERTIFICATE_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_MODIFIABLE, &no, sizeof(no)},
        {CKA_DESTROYABLE, &no, sizeof(no)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)device_id, sizeof(device_id)},
        {CKA_SUBJECT, cert.subject.data, cert.subject.len},
        {CKA_ISSUER, cert.issuer.data, cert.issuer.len},
        {CKA_SERIAL_NUMBER, cert.serial.data, cert.serial.len},
        {CKA_VALUE, cert.value.data, cert.value.len},
    };
    CK_OBJECT_HANDLE object;
    assert_rv(fx_functions()->C_CreateObject(session, tmpl, ARRAY_SIZE(tmpl), &object), CKR_OK);
    fx_cert_free(&cert);
    return object;
}

/* Manufacture as softse-tool does it (the certificates are stand-ins:
 * only their object attributes matter here). */
static void manufacture(fx *t, bool rsa, identity *id)
{
    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(generate_identity(so, rsa, &id->pub, &id->priv), CKR_OK);
    id->cert = store_cert(so, ATTESTATION_LABEL, "softse SE test");
    id->ca = store_cert(so, CA_LABEL, "softse test CA");
    close_session(so);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_OBJECT_HANDLE found[4];
    assert_int_equal(fx_find(session, tmpl, 2, found, 4), 1);
    return found[0];
}

static CK_ULONG count_class_label(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    return fx_find(session, tmpl, 2, NULL, 0);
}

static CK_OBJECT_HANDLE lifecycle_object(CK_SESSION_HANDLE session)
{
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE type = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_HW_FEATURE_TYPE, &type, sizeof(type)},
    };
    CK_OBJECT_HANDLE found[2];
    assert_int_equal(fx_find(session, tmpl, 2, found, 2), 1);
    return found[0];
}

static unsigned char lifecycle_state(CK_SESSION_HANDLE session)
{
    unsigned char state = 0;
    CK_ATTRIBUTE attr = {CKA_VALUE, &state, 1};
    assert_rv(fx_functions()->C_GetAttributeValue(session, lifecycle_object(session), &attr, 1),
              CKR_OK);
    assert_int_equal(attr.ulValueLen, 1);
    return state;
}

static CK_RV set_lifecycle(CK_SESSION_HANDLE session, unsigned char state)
{
    CK_ATTRIBUTE attr = {CKA_VALUE, &state, 1};
    return fx_functions()->C_SetAttributeValue(session, lifecycle_object(session), &attr, 1);
}

/* An ordinary user EC key pair that may sign. */
static void user_key_pair(CK_SESSION_HANDLE session, const char *label, CK_OBJECT_HANDLE *pub,
                          CK_OBJECT_HANDLE *priv)
{
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM mech = {CKM_EC_KEY_PAIR_GEN, NULL_PTR, 0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    assert_rv(
        fx_functions()->C_GenerateKeyPair(session, &mech, pub_tmpl, 3, priv_tmpl, 3, pub, priv),
        CKR_OK);
}

/* Rows of the token's store file whose flags mark a secret value. */
static int secret_rows(fx *t)
{
    CK_TOKEN_INFO info;
    assert_rv(fx_functions()->C_GetTokenInfo(t->slot, &info), CKR_OK);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/%.16s.sqlite", t->store, (const char *)info.serialNumber);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *s = NULL;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT count(*) FROM attribute WHERE (flags & ?1) != 0",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(s, 1, TOK_ATTR_SECRET);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int rows = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return rows;
}

/* ---- the identity (docs/spec.md §2) ------------------------------------------------- */

static void identity_attributes_are_forced(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);
    assert_int_equal(find_one(s, CKO_PRIVATE_KEY, ATTESTATION_LABEL), id.priv);
    assert_int_equal(find_one(s, CKO_PUBLIC_KEY, ATTESTATION_LABEL), id.pub);
    assert_int_equal(find_one(s, CKO_CERTIFICATE, ATTESTATION_LABEL), id.cert);
    assert_int_equal(find_one(s, CKO_CERTIFICATE, CA_LABEL), id.ca);
    assert_int_equal(fx_count_label(s, "chosen-label"), 0);

    assert_true(fx_get_bool(s, id.priv, CKA_SE_ATTESTATION));
    assert_true(fx_get_bool(s, id.priv, CKA_SENSITIVE));
    assert_false(fx_get_bool(s, id.priv, CKA_EXTRACTABLE));
    assert_false(fx_get_bool(s, id.priv, CKA_DESTROYABLE));
    assert_false(fx_get_bool(s, id.priv, CKA_MODIFIABLE));
    assert_false(fx_get_bool(s, id.priv, CKA_SIGN));
    assert_false(fx_get_bool(s, id.priv, CKA_DECRYPT));
    assert_false(fx_get_bool(s, id.priv, CKA_DERIVE));
    assert_false(fx_get_bool(s, id.priv, CKA_UNWRAP));
    assert_true(fx_get_bool(s, id.priv, CKA_TOKEN));
    assert_true(fx_get_bool(s, id.pub, CKA_SE_ATTESTATION));
    assert_false(fx_get_bool(s, id.pub, CKA_PRIVATE));

    unsigned char buffer[64];
    CK_ATTRIBUTE attr = {CKA_ID, buffer, sizeof(buffer)};
    for (size_t i = 0; i < 3; i++) {
        CK_OBJECT_HANDLE object = i == 0 ? id.priv : i == 1 ? id.pub : id.cert;
        attr.ulValueLen = sizeof(buffer);
        assert_rv(fx_functions()->C_GetAttributeValue(s, object, &attr, 1), CKR_OK);
        assert_int_equal(attr.ulValueLen, sizeof(device_id));
        assert_memory_equal(buffer, device_id, sizeof(device_id));
    }
    /* The tool certifies this: a DER SubjectPublicKeyInfo. */
    CK_ATTRIBUTE info = {CKA_PUBLIC_KEY_INFO, NULL_PTR, 0};
    assert_rv(fx_functions()->C_GetAttributeValue(s, id.pub, &info, 1), CKR_OK);
    assert_true(info.ulValueLen > 64 && info.ulValueLen < 128);
    close_session(s);
}

static void attestation_key_refuses_general_use(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);

    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL_PTR, 0};
    assert_rv(f->C_SignInit(s, &ecdsa, id.priv), CKR_KEY_FUNCTION_NOT_PERMITTED);

    fx_ec_key peer;
    fx_ec_key_new(&peer);
    CK_ECDH1_DERIVE_PARAMS ecdh_params = {CKD_NULL, 0, NULL_PTR, peer.point.len, peer.point.data};
    CK_MECHANISM ecdh = {CKM_ECDH1_DERIVE, &ecdh_params, sizeof(ecdh_params)};
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ULONG len = 32;
    CK_ATTRIBUTE derived_tmpl[] = {
        {CKA_CLASS, &secret, sizeof(secret)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_VALUE_LEN, &len, sizeof(len)},
    };
    CK_OBJECT_HANDLE derived;
    assert_rv(f->C_DeriveKey(s, &ecdh, id.priv, derived_tmpl, 3, &derived),
              CKR_KEY_FUNCTION_NOT_PERMITTED);
    fx_ec_key_free(&peer);

    /* C_WrapKey checks the key to wrap: CKA_EXTRACTABLE is FALSE, so the
     * module answers CKR_KEY_UNEXTRACTABLE (PKCS#11 3.0 §5.18.1), which is
     * the precise code for "this key never leaves the token". */
    static const unsigned char kek_value[32] = {1, 2, 3};
    CK_OBJECT_HANDLE kek;
    assert_rv(fx_create_aes(s, "kek", false, true, false, kek_value, sizeof(kek_value), &kek),
              CKR_OK);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_PAD, NULL_PTR, 0};
    unsigned char wrapped[4096];
    CK_ULONG wrapped_len = sizeof(wrapped);
    assert_rv(f->C_WrapKey(s, &kwp, kek, id.priv, wrapped, &wrapped_len), CKR_KEY_UNEXTRACTABLE);

    unsigned char value[128];
    CK_ATTRIBUTE attr = {CKA_VALUE, value, sizeof(value)};
    assert_rv(f->C_GetAttributeValue(s, id.priv, &attr, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_int_equal(attr.ulValueLen, CK_UNAVAILABLE_INFORMATION);

    CK_OBJECT_HANDLE copy;
    assert_rv(f->C_CopyObject(s, id.priv, NULL_PTR, 0, &copy), CKR_ACTION_PROHIBITED);
    close_session(s);
}

static void rsa_attestation_key_refuses_general_use(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, true, &id);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);
    assert_int_equal(fx_get_ulong(s, id.pub, CKA_MODULUS_BITS), 2048);
    CK_MECHANISM sign = {CKM_SHA256_RSA_PKCS, NULL_PTR, 0};
    assert_rv(f->C_SignInit(s, &sign, id.priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_RSA_PKCS_OAEP_PARAMS oaep_params = {CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED,
                                           NULL_PTR, 0};
    CK_MECHANISM oaep = {CKM_RSA_PKCS_OAEP, &oaep_params, sizeof(oaep_params)};
    assert_rv(f->C_DecryptInit(s, &oaep, id.priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
    CK_MECHANISM pkcs = {CKM_RSA_PKCS, NULL_PTR, 0};
    assert_rv(f->C_DecryptInit(s, &pkcs, id.priv), CKR_KEY_FUNCTION_NOT_PERMITTED);
    unsigned char value[512];
    CK_ATTRIBUTE attr = {CKA_PRIVATE_EXPONENT, value, sizeof(value)};
    assert_rv(f->C_GetAttributeValue(s, id.priv, &attr, 1), CKR_ATTRIBUTE_SENSITIVE);
    close_session(s);
}

static void identity_objects_are_permanent(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_USER_TYPE users[] = {CKU_USER, CKU_SO};
    for (size_t u = 0; u < ARRAY_SIZE(users); u++) {
        CK_SESSION_HANDLE s = session_as(t->slot, users[u]);
        CK_OBJECT_HANDLE objects[] = {id.priv, id.pub, id.cert, id.ca};
        for (size_t i = 0; i < ARRAY_SIZE(objects); i++) {
            if (users[u] == CKU_SO && objects[i] == id.priv)
                continue; /* a private object: the user's */
            assert_rv(f->C_DestroyObject(s, objects[i]), CKR_ACTION_PROHIBITED);
            CK_ATTRIBUTE label = {CKA_LABEL, "renamed", 7};
            assert_rv(f->C_SetAttributeValue(s, objects[i], &label, 1), CKR_ACTION_PROHIBITED);
        }
        close_session(s);
    }
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);
    CK_BBOOL no = CK_FALSE;
    CK_ATTRIBUTE unattest = {CKA_SE_ATTESTATION, &no, sizeof(no)};
    assert_rv_in(f->C_SetAttributeValue(s, id.priv, &unattest, 1), CKR_ACTION_PROHIBITED,
                 CKR_ATTRIBUTE_READ_ONLY);
    assert_int_equal(count_class_label(s, CKO_CERTIFICATE, ATTESTATION_LABEL), 1);
    assert_int_equal(count_class_label(s, CKO_PRIVATE_KEY, ATTESTATION_LABEL), 1);
    close_session(s);
}

static void manufacture_once_and_by_the_so(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE pub, priv;
    /* Not manufactured yet: the user and a public session may not. */
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);
    assert_rv(generate_identity(s, false, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
    close_session(s);
    assert_rv(fx_open(t->slot, true, &s), CKR_OK);
    assert_rv(generate_identity(s, false, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
    close_session(s);

    identity id;
    manufacture(t, false, &id);
    s = session_as(t->slot, CKU_SO);
    assert_rv(generate_identity(s, false, &pub, &priv), CKR_ACTION_PROHIBITED);
    assert_rv(generate_identity(s, true, &pub, &priv), CKR_ACTION_PROHIBITED);
    close_session(s);
    s = session_as(t->slot, CKU_USER);
    assert_rv(generate_identity(s, false, &pub, &priv), CKR_USER_NOT_LOGGED_IN);
    assert_int_equal(count_class_label(s, CKO_PRIVATE_KEY, ATTESTATION_LABEL), 1);
    close_session(s);
}

static void attestation_attribute_is_read_only(void **state)
{
    fx *t = *state;
    fx_ec_key key;
    fx_ec_key_new(&key);
    CK_OBJECT_CLASS pub_cls = CKO_PUBLIC_KEY, priv_cls = CKO_PRIVATE_KEY;
    CK_KEY_TYPE ec = CKK_EC;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_CLASS, &pub_cls, sizeof(pub_cls)},
        {CKA_KEY_TYPE, &ec, sizeof(ec)},
        {CKA_EC_PARAMS, key.params.data, key.params.len},
        {CKA_EC_POINT, key.point.data, key.point.len},
        {CKA_LABEL, ATTESTATION_LABEL, strlen(ATTESTATION_LABEL)},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_CLASS, &priv_cls, sizeof(priv_cls)},
        {CKA_KEY_TYPE, &ec, sizeof(ec)},
        {CKA_EC_PARAMS, key.params.data, key.params.len},
        {CKA_VALUE, key.value.data, key.value.len},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE object;
    CK_USER_TYPE users[] = {CKU_USER, CKU_SO};
    for (size_t u = 0; u < ARRAY_SIZE(users); u++) {
        CK_SESSION_HANDLE s = session_as(t->slot, users[u]);
        assert_rv(fx_functions()->C_CreateObject(s, pub_tmpl, ARRAY_SIZE(pub_tmpl), &object),
                  CKR_ATTRIBUTE_READ_ONLY);
        assert_rv(fx_functions()->C_CreateObject(s, priv_tmpl, ARRAY_SIZE(priv_tmpl), &object),
                  CKR_ATTRIBUTE_READ_ONLY);
        close_session(s);
    }
    /* Nor can an ordinary key become one. */
    CK_SESSION_HANDLE s = session_as(t->slot, CKU_USER);
    CK_OBJECT_HANDLE pub, priv;
    user_key_pair(s, "ordinary", &pub, &priv);
    CK_ATTRIBUTE attest = {CKA_SE_ATTESTATION, &yes, sizeof(yes)};
    assert_rv(fx_functions()->C_SetAttributeValue(s, priv, &attest, 1), CKR_ATTRIBUTE_READ_ONLY);
    /* An ordinary key has no CKA_SE_ATTESTATION (the module gives no
     * default), or has it FALSE. */
    CK_BBOOL value = CK_TRUE;
    CK_ATTRIBUTE read = {CKA_SE_ATTESTATION, &value, sizeof(value)};
    CK_RV rv = fx_functions()->C_GetAttributeValue(s, priv, &read, 1);
    assert_rv_in(rv, CKR_OK, CKR_ATTRIBUTE_TYPE_INVALID);
    if (rv == CKR_OK)
        assert_int_equal(value, CK_FALSE);
    close_session(s);
    fx_ec_key_free(&key);
}

static void manufacture_needs_personalization(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(generate_identity(so, false, &pub, &priv), CKR_SE_LIFECYCLE);
    close_session(so);
}

/* ---- the lifecycle (docs/spec.md §3) ------------------------------------------------- */

static void lifecycle_object_reads_personalization(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE s;
    assert_rv(fx_open(t->slot, false, &s), CKR_OK); /* no login: a public object */
    assert_int_equal(lifecycle_state(s), SOFTSE_LIFECYCLE_PERSONALIZATION);
    close_session(s);

    s = session_as(t->slot, CKU_USER);
    assert_int_equal(lifecycle_state(s), SOFTSE_LIFECYCLE_PERSONALIZATION);
    assert_rv(set_lifecycle(s, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_USER_NOT_LOGGED_IN);
    assert_rv(set_lifecycle(s, SOFTSE_LIFECYCLE_TERMINATED), CKR_USER_NOT_LOGGED_IN);
    assert_rv(fx_functions()->C_DestroyObject(s, lifecycle_object(s)), CKR_ACTION_PROHIBITED);
    assert_int_equal(lifecycle_state(s), SOFTSE_LIFECYCLE_PERSONALIZATION);
    close_session(s);
}

static void lifecycle_rejects_bad_values(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(set_lifecycle(so, 7), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(set_lifecycle(so, 0), CKR_ATTRIBUTE_VALUE_INVALID);
    unsigned char two[2] = {SOFTSE_LIFECYCLE_OPERATIONAL, 0};
    CK_ATTRIBUTE wide = {CKA_VALUE, two, sizeof(two)};
    assert_rv(fx_functions()->C_SetAttributeValue(so, lifecycle_object(so), &wide, 1),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(lifecycle_state(so), SOFTSE_LIFECYCLE_PERSONALIZATION);
    /* 1 -> 3 directly, then nothing. */
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_PERSONALIZATION), CKR_SE_LIFECYCLE);
    assert_rv(set_lifecycle(so, 7), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(lifecycle_state(so), SOFTSE_LIFECYCLE_TERMINATED);
    close_session(so);
}

static void reset_keeps_only_the_identity(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_SESSION_HANDLE user = session_as(t->slot, CKU_USER);
    static const unsigned char aes[32] = {9, 8, 7};
    CK_OBJECT_HANDLE user_key, user_data;
    assert_rv(fx_create_aes(user, "user-key", true, true, false, aes, sizeof(aes), &user_key),
              CKR_OK);
    assert_rv(fx_create_data(user, "user-data", true, true, "data", 4, &user_data), CKR_OK);
    close_session(user);

    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    assert_int_equal(lifecycle_state(so), SOFTSE_LIFECYCLE_OPERATIONAL);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_PERSONALIZATION), CKR_OK);
    assert_int_equal(lifecycle_state(so), SOFTSE_LIFECYCLE_PERSONALIZATION);
    close_session(so);

    user = session_as(t->slot, CKU_USER);
    assert_int_equal(fx_count_label(user, "user-key"), 0);
    assert_int_equal(fx_count_label(user, "user-data"), 0);
    assert_int_equal(find_one(user, CKO_PRIVATE_KEY, ATTESTATION_LABEL), id.priv);
    assert_int_equal(find_one(user, CKO_PUBLIC_KEY, ATTESTATION_LABEL), id.pub);
    assert_int_equal(find_one(user, CKO_CERTIFICATE, ATTESTATION_LABEL), id.cert);
    assert_int_equal(find_one(user, CKO_CERTIFICATE, CA_LABEL), id.ca);
    assert_true(fx_get_bool(user, id.priv, CKA_SE_ATTESTATION));
    close_session(user);

    /* Still manufactured: a reset is not a new identity. */
    so = session_as(t->slot, CKU_SO);
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(generate_identity(so, false, &pub, &priv), CKR_ACTION_PROHIBITED);
    close_session(so);
}

static void terminated_is_final_and_erases_secrets(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE user = session_as(t->slot, CKU_USER);
    CK_OBJECT_HANDLE pub, priv, aes_key;
    user_key_pair(user, "user-signer", &pub, &priv);
    static const unsigned char aes[32] = {1, 1, 2, 3, 5, 8};
    assert_rv(fx_create_aes(user, "user-aes", true, true, false, aes, sizeof(aes), &aes_key),
              CKR_OK);
    CK_MECHANISM ecdsa = {CKM_ECDSA, NULL_PTR, 0};
    assert_rv(f->C_SignInit(user, &ecdsa, priv), CKR_OK);
    unsigned char digest[32] = {0}, signature[128];
    CK_ULONG signature_len = sizeof(signature);
    assert_rv(f->C_Sign(user, digest, sizeof(digest), signature, &signature_len), CKR_OK);
    close_session(user);
    assert_true(secret_rows(t) > 0);

    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_TERMINATED), CKR_OK);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_SE_LIFECYCLE);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_PERSONALIZATION), CKR_SE_LIFECYCLE);
    assert_rv(set_lifecycle(so, 7), CKR_ATTRIBUTE_VALUE_INVALID);
    assert_int_equal(lifecycle_state(so), SOFTSE_LIFECYCLE_TERMINATED);
    close_session(so);

    /* Login still works; key use does not; public objects stay readable. */
    user = session_as(t->slot, CKU_USER);
    assert_rv(f->C_SignInit(user, &ecdsa, priv), CKR_SE_LIFECYCLE);
    CK_MECHANISM ecb = {CKM_AES_ECB, NULL_PTR, 0};
    assert_rv(f->C_EncryptInit(user, &ecb, aes_key), CKR_SE_LIFECYCLE);
    assert_rv(f->C_SignInit(user, &ecdsa, id.priv), CKR_SE_LIFECYCLE);
    CK_ATTRIBUTE cert_value = {CKA_VALUE, NULL_PTR, 0};
    assert_rv(f->C_GetAttributeValue(user, id.cert, &cert_value, 1), CKR_OK);
    assert_true(cert_value.ulValueLen > 100);
    close_session(user);

    CK_SESSION_HANDLE public_session;
    assert_rv(fx_open(t->slot, false, &public_session), CKR_OK);
    CK_ATTRIBUTE info = {CKA_PUBLIC_KEY_INFO, NULL_PTR, 0};
    assert_rv(f->C_GetAttributeValue(public_session, id.pub, &info, 1), CKR_OK);
    assert_int_equal(lifecycle_state(public_session), SOFTSE_LIFECYCLE_TERMINATED);
    close_session(public_session);

    assert_int_equal(secret_rows(t), 0);
}

/* ---- the identity labels carry no authority ------------------------------------------ */
/*
 * Any user may label an object "softse-attestation" or
 * "softse-manufacturer-ca".  The identity is what the token made
 * (CKA_SE_ATTESTATION) and what the SO stored; look-alikes must neither
 * block manufacture nor survive a reset (docs/spec.md §2, §3).  Run as
 * `test_identity reserved-labels`.
 */

static void user_key_labelled_like_the_identity_does_not_block_manufacture(void **state)
{
    fx *t = *state;
    CK_SESSION_HANDLE user = session_as(t->slot, CKU_USER);
    CK_OBJECT_HANDLE look_pub, look_priv;
    user_key_pair(user, ATTESTATION_LABEL, &look_pub, &look_priv);
    close_session(user);

    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    CK_OBJECT_HANDLE pub, priv;
    assert_rv(generate_identity(so, false, &pub, &priv), CKR_OK);
    close_session(so);
}

static void reset_erases_objects_labelled_like_the_identity(void **state)
{
    fx *t = *state;
    identity id;
    manufacture(t, false, &id);
    CK_SESSION_HANDLE user = session_as(t->slot, CKU_USER);
    CK_OBJECT_HANDLE data, key;
    assert_rv(fx_create_data(user, ATTESTATION_LABEL, true, true, "look-alike", 10, &data), CKR_OK);
    static const unsigned char aes[32] = {4, 2};
    assert_rv(fx_create_aes(user, CA_LABEL, true, true, false, aes, sizeof(aes), &key), CKR_OK);
    close_session(user);

    CK_SESSION_HANDLE so = session_as(t->slot, CKU_SO);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_OPERATIONAL), CKR_OK);
    assert_rv(set_lifecycle(so, SOFTSE_LIFECYCLE_PERSONALIZATION), CKR_OK);
    close_session(so);

    user = session_as(t->slot, CKU_USER);
    assert_int_equal(count_class_label(user, CKO_DATA, ATTESTATION_LABEL), 0);
    assert_int_equal(count_class_label(user, CKO_SECRET_KEY, CA_LABEL), 0);
    assert_int_equal(find_one(user, CKO_PRIVATE_KEY, ATTESTATION_LABEL), id.priv);
    assert_int_equal(find_one(user, CKO_CERTIFICATE, CA_LABEL), id.ca);
    close_session(user);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest contract[] = {
        cmocka_unit_test_setup_teardown(identity_attributes_are_forced, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(attestation_key_refuses_general_use, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(rsa_attestation_key_refuses_general_use, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(identity_objects_are_permanent, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(manufacture_once_and_by_the_so, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(attestation_attribute_is_read_only, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(manufacture_needs_personalization, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(lifecycle_object_reads_personalization, fx_setup_token,
                                        fx_teardown),
        cmocka_unit_test_setup_teardown(lifecycle_rejects_bad_values, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(reset_keeps_only_the_identity, fx_setup_token, fx_teardown),
        cmocka_unit_test_setup_teardown(terminated_is_final_and_erases_secrets, fx_setup_token,
                                        fx_teardown),
    };
    const struct CMUnitTest reserved_labels[] = {
        cmocka_unit_test_setup_teardown(
            user_key_labelled_like_the_identity_does_not_block_manufacture, fx_setup_token,
            fx_teardown),
        cmocka_unit_test_setup_teardown(reset_erases_objects_labelled_like_the_identity,
                                        fx_setup_token, fx_teardown),
    };
    if (argc > 1 && strcmp(argv[1], "reserved-labels") == 0)
        return cmocka_run_group_tests_name("tools/identity reserved labels", reserved_labels, NULL,
                                           NULL);
    return cmocka_run_group_tests_name("tools/identity", contract, NULL, NULL);
}
