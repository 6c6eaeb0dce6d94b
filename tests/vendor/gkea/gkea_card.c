/*
 * gkea_card.c — see gkea_card.h.
 */
#include "p11_fixture.h"
#include "store_probe.h"

#include "gkea_card.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define CERT_DAYS 3650

/* DER of OID 1.2.840.10045.3.1.7 (P-256), for CKA_EC_PARAMS. */
static const unsigned char p256_params[] = {0x06, 0x08, 0x2a, 0x86, 0x48,
                                            0xce, 0x3d, 0x03, 0x01, 0x07};
static const char attestation_label[] = "softse-attestation";
static const unsigned char identity_id[] = {0x5e, 0x00, 0x01};

/* ---- the manufacturer CA ------------------------------------------------------ */

static bool add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    bool ok = ext && X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok;
}

/* A certificate for key, signed by signer (issuer NULL: self-signed). */
static X509 *make_cert(EVP_PKEY *key, const char *common_name, X509 *issuer, EVP_PKEY *signer,
                       bool authority)
{
    static long serial = 1;
    X509 *cert = X509_new();
    X509_NAME *name = X509_NAME_new();
    bool ok = cert && name && X509_set_version(cert, 2) &&
              ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++) &&
              X509_gmtime_adj(X509_getm_notBefore(cert), -60) &&
              X509_gmtime_adj(X509_getm_notAfter(cert), 60L * 60 * 24 * CERT_DAYS) &&
              X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                         (const unsigned char *)"softse tests", -1, -1, 0) &&
              X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                         (const unsigned char *)common_name, -1, -1, 0) &&
              X509_set_subject_name(cert, name) &&
              X509_set_issuer_name(cert, issuer ? X509_get_subject_name(issuer) : name) &&
              X509_set_pubkey(cert, key);
    X509 *ext_issuer = issuer ? issuer : cert;
    if (ok && authority)
        ok = add_extension(cert, ext_issuer, NID_basic_constraints, "critical,CA:TRUE") &&
             add_extension(cert, ext_issuer, NID_key_usage, "critical,keyCertSign,cRLSign") &&
             add_extension(cert, ext_issuer, NID_subject_key_identifier, "hash");
    else if (ok)
        ok = add_extension(cert, ext_issuer, NID_basic_constraints, "critical,CA:FALSE") &&
             add_extension(cert, ext_issuer, NID_key_usage, "critical,digitalSignature");
    if (ok)
        ok = X509_sign(cert, signer, EVP_sha256()) > 0;
    X509_NAME_free(name);
    if (!ok) {
        ERR_print_errors_fp(stderr);
        X509_free(cert);
        return NULL;
    }
    return cert;
}

bool gkea_ca_new(gkea_ca *ca, const char *common_name)
{
    ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ca->cert = ca->key ? make_cert(ca->key, common_name, NULL, ca->key, true) : NULL;
    return ca->cert != NULL;
}

void gkea_ca_free(gkea_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    memset(ca, 0, sizeof(*ca));
}

/* ---- manufacture ------------------------------------------------------------------- */

static CK_RV read_bytes(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                        unsigned char **out, size_t *len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_ATTRIBUTE attr = {type, NULL, 0};
    CK_RV rv = f->C_GetAttributeValue(session, object, &attr, 1);
    if (rv != CKR_OK)
        return rv;
    attr.pValue = malloc(attr.ulValueLen ? attr.ulValueLen : 1);
    if (!attr.pValue)
        return CKR_HOST_MEMORY;
    rv = f->C_GetAttributeValue(session, object, &attr, 1);
    if (rv != CKR_OK) {
        free(attr.pValue);
        return rv;
    }
    *out = attr.pValue;
    *len = attr.ulValueLen;
    return CKR_OK;
}

static CK_RV generate_identity(CK_SESSION_HANDLE session, gkea_identity identity,
                               CK_OBJECT_HANDLE *pub)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = 2048;
    bool ec = identity == GKEA_IDENTITY_EC_P256;
    CK_MECHANISM mech = {ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)identity_id, sizeof(identity_id)},
        ec ? (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)p256_params, sizeof(p256_params)}
           : (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)identity_id, sizeof(identity_id)},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE priv;
    return fx_functions()->C_GenerateKeyPair(session, &mech, pub_tmpl, ARRAY_LEN(pub_tmpl),
                                             priv_tmpl, ARRAY_LEN(priv_tmpl), pub, &priv);
}

static CK_RV store_cert(CK_SESSION_HANDLE session, X509 *cert)
{
    unsigned char *der = NULL;
    int len = i2d_X509(cert, &der);
    if (len <= 0)
        return CKR_FUNCTION_FAILED;
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
        {CKA_LABEL, (void *)attestation_label, strlen(attestation_label)},
        {CKA_ID, (void *)identity_id, sizeof(identity_id)},
        {CKA_VALUE, der, (CK_ULONG)len},
    };
    CK_OBJECT_HANDLE object;
    CK_RV rv = fx_functions()->C_CreateObject(session, tmpl, ARRAY_LEN(tmpl), &object);
    OPENSSL_free(der);
    return rv;
}

CK_RV gkea_manufacture(CK_SLOT_ID slot, const gkea_ca *ca, gkea_identity identity, X509 **se_cert)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE pub;
    unsigned char *spki = NULL;
    size_t spki_len = 0;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    CK_RV rv = fx_open(slot, true, &session);
    if (rv != CKR_OK)
        return rv;
    rv = fx_login(session, CKU_SO, FX_SO_PIN);
    if (rv == CKR_OK)
        rv = generate_identity(session, identity, &pub);
    if (rv == CKR_OK)
        rv = read_bytes(session, pub, CKA_PUBLIC_KEY_INFO, &spki, &spki_len);
    if (rv == CKR_OK) {
        const unsigned char *p = spki;
        key = d2i_PUBKEY(NULL, &p, (long)spki_len);
        cert = key ? make_cert(key, "softse SE", ca->cert, ca->key, false) : NULL;
        if (!cert)
            rv = CKR_FUNCTION_FAILED;
    }
    if (rv == CKR_OK)
        rv = store_cert(session, cert);
    f->C_Logout(session);
    f->C_CloseSession(session);
    if (rv == CKR_OK && se_cert) {
        *se_cert = cert;
        cert = NULL;
    }
    X509_free(cert);
    EVP_PKEY_free(key);
    free(spki);
    return rv;
}

CK_RV gkea_set_lifecycle(CK_SLOT_ID slot, unsigned char state)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE session;
    CK_RV rv = fx_open(slot, true, &session);
    if (rv != CKR_OK)
        return rv;
    rv = fx_login(session, CKU_SO, FX_SO_PIN);
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE feature = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_HW_FEATURE_TYPE, &feature, sizeof(feature)}};
    CK_OBJECT_HANDLE object = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    if (rv == CKR_OK)
        rv = f->C_FindObjectsInit(session, match, ARRAY_LEN(match));
    if (rv == CKR_OK) {
        rv = f->C_FindObjects(session, &object, 1, &found);
        f->C_FindObjectsFinal(session);
    }
    if (rv == CKR_OK && found != 1)
        rv = CKR_OBJECT_HANDLE_INVALID;
    CK_ATTRIBUTE value = {CKA_VALUE, &state, 1};
    if (rv == CKR_OK)
        rv = f->C_SetAttributeValue(session, object, &value, 1);
    f->C_Logout(session);
    f->C_CloseSession(session);
    return rv;
}

/* ---- keys ------------------------------------------------------------------------- */

EVP_PKEY *gkea_key_new(const char *kind)
{
    static const struct {
        const char *kind, *algorithm, *group;
        size_t bits;
    } kinds[] = {
        {"rsa1024", "RSA", NULL, 1024},      {"rsa2048", "RSA", NULL, 2048},
        {"rsa3072", "RSA", NULL, 3072},      {"ec-p256", "EC", "P-256", 0},
        {"ec-p384", "EC", "P-384", 0},       {"ec-p521", "EC", "P-521", 0},
        {"secp256k1", "EC", "secp256k1", 0}, {"ed25519", "ED25519", NULL, 0},
        {"x25519", "X25519", NULL, 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(kinds); i++) {
        if (strcmp(kind, kinds[i].kind) != 0)
            continue;
        if (kinds[i].group)
            return EVP_PKEY_Q_keygen(NULL, NULL, "EC", kinds[i].group);
        if (kinds[i].bits)
            return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", kinds[i].bits);
        return EVP_PKEY_Q_keygen(NULL, NULL, kinds[i].algorithm);
    }
    return NULL;
}

bool gkea_spki(EVP_PKEY *key, unsigned char **der, size_t *len)
{
    *der = NULL;
    int n = i2d_PUBKEY(key, der);
    *len = n > 0 ? (size_t)n : 0;
    return n > 0;
}

/* ---- GKEA ------------------------------------------------------------------------- */

void gkea_k_template_init(gkea_k_template *t, CK_KEY_TYPE type, CK_ULONG len, bool token)
{
    t->cls = CKO_SECRET_KEY;
    t->type = type;
    t->len = len;
    t->yes = CK_TRUE;
    t->token = token ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE attrs[] = {
        {CKA_CLASS, &t->cls, sizeof(t->cls)},     {CKA_KEY_TYPE, &t->type, sizeof(t->type)},
        {CKA_VALUE_LEN, &t->len, sizeof(t->len)}, {CKA_DERIVE, &t->yes, sizeof(t->yes)},
        {CKA_TOKEN, &t->token, sizeof(t->token)},
    };
    memcpy(t->attrs, attrs, sizeof(attrs));
    t->count = ARRAY_LEN(attrs);
}

void gkea_prepare(gkea_call *call, CK_OBJECT_HANDLE attestation, const unsigned char *spki,
                  size_t spki_len, const unsigned char *nonce, size_t nonce_len)
{
    memset(call, 0, sizeof(*call));
    memset(call->ek, 0xA5, sizeof(call->ek));
    memset(call->ak, 0xA5, sizeof(call->ak));
    call->ek_len = sizeof(call->ek);
    call->ak_len = sizeof(call->ak);
    call->k = CK_INVALID_HANDLE;
    call->params = (CK_SE_GKEA_PARAMS){
        .hAttestationKey = attestation,
        .pServerPublicKey = (CK_BYTE_PTR)spki,
        .ulServerPublicKeyLen = spki_len,
        .pNonce = (CK_BYTE_PTR)nonce,
        .ulNonceLen = nonce_len,
        .pEncryptedKey = call->ek,
        .pulEncryptedKeyLen = &call->ek_len,
        .pAttestation = call->ak,
        .pulAttestationLen = &call->ak_len,
    };
}

CK_RV gkea_run(CK_SESSION_HANDLE session, gkea_call *call, CK_ATTRIBUTE *tmpl, CK_ULONG count)
{
    CK_MECHANISM mech = {CKM_SE_GKEA, &call->params, sizeof(call->params)};
    call->rv = fx_functions()->C_GenerateKey(session, &mech, tmpl, count, &call->k);
    return call->rv;
}

CK_RV gkea_generate(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE attestation,
                    const unsigned char *spki, size_t spki_len, const unsigned char *nonce,
                    size_t nonce_len, CK_ATTRIBUTE *tmpl, CK_ULONG count, gkea_call *call)
{
    gkea_prepare(call, attestation, spki, spki_len, nonce, nonce_len);
    return gkea_run(session, call, tmpl, count);
}

/* ---- objects ------------------------------------------------------------------------ */

CK_ULONG gkea_count_objects(CK_SESSION_HANDLE session)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_HANDLE handles[64];
    CK_ULONG total = 0, found = 0;
    if (f->C_FindObjectsInit(session, NULL, 0) != CKR_OK)
        return (CK_ULONG)-1;
    do {
        if (f->C_FindObjects(session, handles, ARRAY_LEN(handles), &found) != CKR_OK) {
            f->C_FindObjectsFinal(session);
            return (CK_ULONG)-1;
        }
        total += found;
    } while (found > 0);
    f->C_FindObjectsFinal(session);
    return total;
}

CK_RV gkea_find(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label,
                CK_OBJECT_HANDLE *object)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_ATTRIBUTE match[] = {{CKA_CLASS, &cls, sizeof(cls)},
                            {CKA_LABEL, (void *)label, strlen(label)}};
    CK_ULONG found = 0;
    CK_RV rv = f->C_FindObjectsInit(session, match, ARRAY_LEN(match));
    if (rv != CKR_OK)
        return rv;
    rv = f->C_FindObjects(session, object, 1, &found);
    f->C_FindObjectsFinal(session);
    if (rv == CKR_OK && found != 1)
        rv = CKR_OBJECT_HANDLE_INVALID;
    return rv;
}

CK_RV gkea_read_cert(CK_SESSION_HANDLE session, unsigned char **der, size_t *len)
{
    CK_OBJECT_HANDLE cert;
    CK_RV rv = gkea_find(session, CKO_CERTIFICATE, attestation_label, &cert);
    return rv == CKR_OK ? read_bytes(session, cert, CKA_VALUE, der, len) : rv;
}

CK_RV gkea_card_hkdf(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE base, const unsigned char *salt,
                     size_t salt_len, const char *info, CK_KEY_TYPE type, CK_ULONG len,
                     CK_OBJECT_HANDLE *derived)
{
    CK_HKDF_PARAMS params = {
        .bExtract = CK_TRUE,
        .bExpand = CK_TRUE,
        .prfHashMechanism = CKM_SHA256,
        .ulSaltType = salt_len ? CKF_HKDF_SALT_DATA : CKF_HKDF_SALT_NULL,
        .pSalt = (CK_BYTE_PTR)salt,
        .ulSaltLen = salt_len,
        .hSaltKey = CK_INVALID_HANDLE,
        .pInfo = (CK_BYTE_PTR)info,
        .ulInfoLen = strlen(info),
    };
    CK_MECHANISM mech = {CKM_HKDF_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},   {CKA_UNWRAP, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},      {CKA_VERIFY, &yes, sizeof(yes)},
    };
    return fx_functions()->C_DeriveKey(session, &mech, base, tmpl, ARRAY_LEN(tmpl), derived);
}

/* ---- the store ------------------------------------------------------------------------- */

bool gkea_token_file(const char *store, CK_SLOT_ID slot, char *path, size_t size)
{
    CK_TOKEN_INFO info;
    if (fx_functions()->C_GetTokenInfo(slot, &info) != CKR_OK)
        return false;
    size_t len = sizeof(info.serialNumber);
    while (len > 0 && info.serialNumber[len - 1] == ' ')
        len--;
    int n = snprintf(path, size, "%s/%.*s.sqlite", store, (int)len, info.serialNumber);
    return n > 0 && (size_t)n < size;
}

long gkea_audit_count(const char *db_path, const char *event, const char *detail_like)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    long count = -1;
    const char *sql = detail_like ? "SELECT count(*) FROM audit WHERE event = ?1 AND detail LIKE ?2"
                                  : "SELECT count(*) FROM audit WHERE event = ?1";
    if (store_probe_flush_audit(db_path) == 0 &&
        sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_bind_text(stmt, 1, event, -1, SQLITE_STATIC) == SQLITE_OK &&
        (!detail_like || sqlite3_bind_text(stmt, 2, detail_like, -1, SQLITE_STATIC) == SQLITE_OK) &&
        sqlite3_step(stmt) == SQLITE_ROW)
        count = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return count;
}
