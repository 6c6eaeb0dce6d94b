/*
 * manufacture.c — `softse-tool manufacture`: gives a token its device
 * identity (docs/spec.md §2, seed 004).
 *
 * In an SO session on a token in PERSONALIZATION:
 *   1. C_GenerateKeyPair with CKA_SE_ATTESTATION in the private template:
 *      the key pair is born inside the token, which forces its label and
 *      protections;
 *   2. C_GetAttributeValue(CKA_PUBLIC_KEY_INFO) of the public key;
 *   3. the manufacturer CA certifies it (ca.c);
 *   4. C_CreateObject of the device certificate and the CA certificate,
 *      public, read-only and undestroyable.
 * If a previous run stopped after step 1 (the attestation key exists, its
 * certificate does not), steps 2–4 are done for the existing key; a token
 * whose attestation key is certified is manufactured and is refused.  The
 * identity is recognized by CKA_SE_ATTESTATION, never by label (identity.h).
 */
#include "ca.h"
#include "identity.h"
#include "hex.h"
#include "softse-tool.h"

#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ID_MAX 32

/* The CKA_ID shared by the key pair and the device certificate: the token
 * serial's 8 bytes (it is 16 hex digits), else its text. */
static CK_ULONG identity_id(const char *serial, unsigned char id[ID_MAX])
{
    size_t len = strlen(serial), bytes;
    if (len > 0 && se_hex_decode(serial, len, id, ID_MAX, &bytes))
        return bytes;
    len = len < ID_MAX ? len : ID_MAX;
    memcpy(id, serial, len);
    return len;
}

static CK_RV generate_identity(CK_SESSION_HANDLE session, const ca_key_type *type,
                               const unsigned char *id, CK_ULONG id_len, CK_OBJECT_HANDLE *pub)
{
    CK_BBOOL yes = CK_TRUE;
    CK_ULONG bits = type->bits;
    static const unsigned char f4[] = {0x01, 0x00, 0x01};
    CK_MECHANISM mech = {type->is_ec ? CKM_EC_KEY_PAIR_GEN : CKM_RSA_PKCS_KEY_PAIR_GEN, NULL_PTR,
                         0};
    CK_ATTRIBUTE pub_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},
        type->is_ec ? (CK_ATTRIBUTE){CKA_EC_PARAMS, (void *)ca_p256_params, ca_p256_params_len}
                    : (CK_ATTRIBUTE){CKA_MODULUS_BITS, &bits, sizeof(bits)},
        {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)},
    };
    CK_ATTRIBUTE priv_tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_ID, (void *)id, id_len},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
    };
    CK_ULONG pub_count = type->is_ec ? ARRAY_SIZE(pub_tmpl) - 1 : ARRAY_SIZE(pub_tmpl);
    CK_OBJECT_HANDLE priv;
    return p11_functions()->C_GenerateKeyPair(session, &mech, pub_tmpl, pub_count, priv_tmpl,
                                              ARRAY_SIZE(priv_tmpl), pub, &priv);
}

/* CKA_ID of the CA certificate: its subject key identifier, else the
 * SHA-1 of its public key (RFC 5280 §4.2.1.2 method 1). */
static CK_ULONG ca_id(X509 *ca, unsigned char id[ID_MAX])
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
    if (ski && ASN1_STRING_length(ski) > 0 && ASN1_STRING_length(ski) <= ID_MAX) {
        memcpy(id, ASN1_STRING_get0_data(ski), (size_t)ASN1_STRING_length(ski));
        return (CK_ULONG)ASN1_STRING_length(ski);
    }
    unsigned int len = 0;
    X509_pubkey_digest(ca, EVP_sha1(), id, &len);
    return len;
}

/* A certificate object as docs/spec.md §2 wants it: public, read-only,
 * undestroyable, not copyable (a copy would be an identity look-alike). */
static int store_certificate(CK_SESSION_HANDLE session, X509 *cert, const char *label,
                             const unsigned char *id, CK_ULONG id_len, bool authority)
{
    unsigned char *value = NULL, *subject = NULL, *issuer = NULL, *serial = NULL;
    size_t value_len, subject_len, issuer_len, serial_len;
    int rc = ca_der_cert(cert, &value, &value_len);
    if (rc == TOOL_OK)
        rc = ca_der_name(X509_get_subject_name(cert), &subject, &subject_len);
    if (rc == TOOL_OK)
        rc = ca_der_name(X509_get_issuer_name(cert), &issuer, &issuer_len);
    if (rc == TOOL_OK)
        rc = ca_der_serial(cert, &serial, &serial_len);
    if (rc != TOOL_OK)
        goto out;
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE cert_type = CKC_X_509;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    /* §4.6.2: 1 token user, 2 authority */
    CK_ULONG category = authority ? 2 : 1;
    // clang-format off: one attribute a line
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},    {CKA_CERTIFICATE_TYPE, &cert_type, sizeof(cert_type)},
        {CKA_TOKEN, &yes, sizeof(yes)},    {CKA_PRIVATE, &no, sizeof(no)},
        {CKA_MODIFIABLE, &no, sizeof(no)}, {CKA_DESTROYABLE, &no, sizeof(no)},
        {CKA_COPYABLE, &no, sizeof(no)},   {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_ID, (void *)id, id_len},      {CKA_SUBJECT, subject, subject_len},
        {CKA_ISSUER, issuer, issuer_len},  {CKA_SERIAL_NUMBER, serial, serial_len},
        {CKA_VALUE, value, value_len},     {CKA_CERTIFICATE_CATEGORY, &category, sizeof(category)},
    };
    // clang-format on
    CK_OBJECT_HANDLE object;
    CK_RV rv = p11_functions()->C_CreateObject(session, tmpl, ARRAY_SIZE(tmpl), &object);
    if (rv != CKR_OK)
        rc = tool_ck_fail(rv, "storing the certificate \"%s\" (C_CreateObject)", label);
out:
    OPENSSL_free(value);
    OPENSSL_free(subject);
    OPENSSL_free(issuer);
    OPENSSL_free(serial);
    return rc;
}

/* Decorates a refusal of C_GenerateKeyPair with the reason. */
static int generate_failed(CK_SESSION_HANDLE session, const p11_token *token, CK_RV rv)
{
    unsigned char state = 0;
    if (rv == CKR_SE_LIFECYCLE && p11_lifecycle_get(session, &state) == CKR_OK)
        return tool_ck_fail(rv, "manufacture needs lifecycle PERSONALIZATION; token \"%s\" is %s",
                            token->label, p11_lifecycle_name(state));
    return tool_ck_fail(rv, "generating the attestation key pair on token \"%s\"", token->label);
}

/* After CKR_ACTION_PROHIBITED: finish a run that stopped after step 1 (the
 * attestation key exists, its certificate does not), else refuse.  The
 * key is recognized by CKA_SE_ATTESTATION, never by its label alone:
 * any user may label a key "softse-attestation". */
static int resume(CK_SESSION_HANDLE session, const p11_token *token, CK_RV refused,
                  unsigned char **spki, CK_ULONG *spki_len, unsigned char *id, CK_ULONG *id_len)
{
    tool_identity existing;
    CK_RV rv = identity_read(session, &existing);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "reading the identity of token \"%s\"", token->label);
    int rc = TOOL_OK;
    if (existing.cert != CK_INVALID_HANDLE)
        rc = tool_ck_fail(refused, "token \"%s\" (serial %s) is already manufactured", token->label,
                          token->serial);
    else if (existing.pub == CK_INVALID_HANDLE)
        rc = tool_ck_fail(refused,
                          "token \"%s\" refuses a device key but shows no attestation public key "
                          "(a private key labelled \"" P11_ATTESTATION_LABEL "\" blocks it?)",
                          token->label);
    CK_ATTRIBUTE attr = {CKA_ID, id, ID_MAX};
    if (rc == TOOL_OK) {
        rv = p11_functions()->C_GetAttributeValue(session, existing.pub, &attr, 1);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "reading CKA_ID of the attestation key");
    }
    if (rc == TOOL_OK) {
        fprintf(stderr,
                TOOL_NAME ": token \"%s\" has an attestation key without certificate: "
                          "certifying the existing key\n",
                token->label);
        *id_len = attr.ulValueLen;
        *spki = existing.spki;
        *spki_len = existing.spki_len;
        existing.spki = NULL;
    }
    identity_free(&existing);
    return rc;
}

/* Steps 1–2, or only 2 when a previous run stopped after 1.  id holds the
 * CKA_ID for a new key and receives the key's. */
static int attestation_key(CK_SESSION_HANDLE session, const p11_token *token,
                           const ca_key_type *type, unsigned char *id, CK_ULONG *id_len,
                           unsigned char **spki, CK_ULONG *spki_len)
{
    CK_OBJECT_HANDLE pub;
    CK_RV rv = generate_identity(session, type, id, *id_len, &pub);
    if (rv == CKR_ACTION_PROHIBITED) /* manufactured once (docs/spec.md §2) */
        return resume(session, token, rv, spki, spki_len, id, id_len);
    if (rv != CKR_OK)
        return generate_failed(session, token, rv);
    rv = p11_get_bytes(session, pub, CKA_PUBLIC_KEY_INFO, spki, spki_len);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "reading the attestation public key (CKA_PUBLIC_KEY_INFO)");
    return TOOL_OK;
}

/* Whether this CA certificate is on the token already (a resumed run). */
static bool ca_stored(CK_SESSION_HANDLE session, X509 *ca)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    unsigned char *der = NULL;
    size_t len = 0;
    if (ca_der_cert(ca, &der, &len) != TOOL_OK)
        return false;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, P11_MANUFACTURER_CA_LABEL, strlen(P11_MANUFACTURER_CA_LABEL)},
        {CKA_VALUE, der, len},
    };
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;
    CK_RV rv = p11_find(session, tmpl, ARRAY_SIZE(tmpl), &found, &count);
    free(found);
    OPENSSL_free(der);
    return rv == CKR_OK && count > 0;
}

int cmd_manufacture(const tool_command *cmd, tool_opts *opts)
{
    const ca_key_type *type = ca_key_type_find(opts->key_type);
    if (!type)
        return tool_usage_fail(cmd, "unknown key type \"%s\" (%s)", opts->key_type,
                               ca_key_type_names());
    const char *so_pin = tool_pin(cmd, opts, CKU_SO);
    if (!so_pin)
        return TOOL_USAGE;
    X509 *ca = NULL, *device = NULL;
    EVP_PKEY *ca_key = NULL;
    unsigned char *spki = NULL;
    CK_ULONG spki_len = 0;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    p11_token token;
    int rc = ca_load(opts->ca, opts->ca_key, &ca, &ca_key);
    if (rc == TOOL_OK)
        rc = tool_load_module(opts);
    if (rc == TOOL_OK)
        rc = tool_find_token(opts, &token);
    if (rc != TOOL_OK)
        goto out;
    CK_RV rv = p11_open(token.slot, true, CKU_SO, so_pin, &session);
    if (rv != CKR_OK) {
        session = CK_INVALID_HANDLE;
        rc = tool_ck_fail(rv, "SO login to token \"%s\"", token.label);
        goto out;
    }
    unsigned char id[ID_MAX], authority_id[ID_MAX];
    CK_ULONG id_len = identity_id(token.serial, id);
    rc = attestation_key(session, &token, type, id, &id_len, &spki, &spki_len);
    if (rc == TOOL_OK)
        rc = ca_issue_device(ca, ca_key, spki, spki_len, token.serial, &device);
    if (rc == TOOL_OK)
        rc = store_certificate(session, device, P11_ATTESTATION_LABEL, id, id_len, false);
    if (rc == TOOL_OK && !ca_stored(session, ca))
        rc = store_certificate(session, ca, P11_MANUFACTURER_CA_LABEL, authority_id,
                               ca_id(ca, authority_id), true);
    if (rc == TOOL_OK) {
        char *subject = ca_name_text(X509_get_subject_name(device));
        printf("token serial: %s\ncertificate subject: %s\n", token.serial,
               subject ? subject : "?");
        free(subject);
    }
out:
    if (session != CK_INVALID_HANDLE)
        p11_close(session);
    free(spki);
    X509_free(device);
    X509_free(ca);
    EVP_PKEY_free(ca_key);
    return rc;
}
