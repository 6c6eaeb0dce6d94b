/*
 * identity.c — see identity.h.
 */
#include "identity.h"
#include "ca.h"

#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static CK_RV find_attestation_public_key(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *pub)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_SE_ATTESTATION, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    CK_RV rv = p11_find(session, tmpl, ARRAY_SIZE(tmpl), &found, &count);
    *pub = rv == CKR_OK && count > 0 ? found[0] : CK_INVALID_HANDLE;
    free(found);
    return rv;
}

/* Among the certificates labelled softse-attestation, the one that
 * certifies the attestation key; the others are counted. */
static CK_RV find_certificate(CK_SESSION_HANDLE session, tool_identity *id)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, P11_ATTESTATION_LABEL, strlen(P11_ATTESTATION_LABEL)},
    };
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    CK_RV rv = p11_find(session, tmpl, ARRAY_SIZE(tmpl), &found, &count);
    for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
        unsigned char *der;
        CK_ULONG len;
        rv = p11_get_bytes(session, found[i], CKA_VALUE, &der, &len);
        if (rv != CKR_OK)
            break;
        if (id->cert == CK_INVALID_HANDLE && id->spki &&
            ca_cert_certifies(der, len, id->spki, id->spki_len)) {
            id->cert = found[i];
            id->cert_der = der;
            id->cert_len = len;
        } else {
            id->impostors++;
            free(der);
        }
    }
    free(found);
    return rv;
}

CK_RV identity_read(CK_SESSION_HANDLE session, tool_identity *id)
{
    memset(id, 0, sizeof(*id));
    id->pub = CK_INVALID_HANDLE;
    id->cert = CK_INVALID_HANDLE;
    CK_RV rv = find_attestation_public_key(session, &id->pub);
    if (rv == CKR_OK && id->pub != CK_INVALID_HANDLE)
        rv = p11_get_bytes(session, id->pub, CKA_PUBLIC_KEY_INFO, &id->spki, &id->spki_len);
    if (rv == CKR_OK)
        rv = find_certificate(session, id);
    if (rv != CKR_OK)
        identity_free(id);
    return rv;
}

void identity_free(tool_identity *id)
{
    free(id->spki);
    free(id->cert_der);
    memset(id, 0, sizeof(*id));
    id->pub = CK_INVALID_HANDLE;
    id->cert = CK_INVALID_HANDLE;
}
