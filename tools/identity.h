/*
 * identity.h — finding a token's device identity (docs/spec.md §2) as a
 * client sees it, for `show` and `manufacture`.
 *
 * A label proves nothing: any user may create an object labelled
 * "softse-attestation".  The attestation public key is the public key
 * with CKA_SE_ATTESTATION TRUE (read-only: only the token sets it), and
 * the device certificate is a certificate with that label whose public
 * key is that key.
 */
#ifndef SOFTSE_TOOL_IDENTITY_H
#define SOFTSE_TOOL_IDENTITY_H

#include "tool-p11.h"

typedef struct tool_identity {
    CK_OBJECT_HANDLE pub; /* CK_INVALID_HANDLE: not manufactured */
    unsigned char *spki;  /* its CKA_PUBLIC_KEY_INFO */
    CK_ULONG spki_len;
    CK_OBJECT_HANDLE cert; /* CK_INVALID_HANDLE: not certified (yet) */
    unsigned char *cert_der;
    CK_ULONG cert_len;
    CK_ULONG impostors; /* certificates with the label that certify another key */
} tool_identity;

/* Reads what the session can see; CKR_OK also when nothing is there. */
CK_RV identity_read(CK_SESSION_HANDLE session, tool_identity *id);
void identity_free(tool_identity *id);

#endif
