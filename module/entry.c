/*
 * entry.c — the C_* entry points, the 2.40 and 3.0 function lists and
 * the interfaces.  Each function checks that the module is initialized
 * in this process, resolves its session, calls one internal function and
 * traces its return (trace.h: one branch when tracing is off).
 */
#include "core.h"
#include "names.h"
#include "trace.h"

#include <string.h>

/* Every session-bound call: initialized?, a valid session?, one call;
 * traced with the session handle and, in the _ARGS form, fmt and its
 * arguments (evaluated only when tracing; they may read rv_, the result). */
#define WITH_SESSION_ARGS(handle, call, fmt, ...)                                                  \
    do {                                                                                           \
        CK_RV rv_ = module_check();                                                                \
        if (rv_ == CKR_OK) {                                                                       \
            se_session *s;                                                                         \
            rv_ = session_get((handle), &s);                                                       \
            if (rv_ == CKR_OK) {                                                                   \
                rv_ = (call);                                                                      \
                session_put(s);                                                                    \
            }                                                                                      \
        }                                                                                          \
        TRACE(rv_, "session=0x%lx" fmt, (unsigned long)(handle), ##__VA_ARGS__);                   \
        return rv_;                                                                                \
    } while (0)
#define WITH_SESSION(handle, call) WITH_SESSION_ARGS(handle, call, "%s", "")

/* Every call without a session: initialized?, one call, the trace. */
#define INITIALIZED_ARGS(call, fmt, ...)                                                           \
    do {                                                                                           \
        CK_RV rv_ = module_check();                                                                \
        if (rv_ == CKR_OK)                                                                         \
            rv_ = (call);                                                                          \
        TRACE(rv_, fmt, ##__VA_ARGS__);                                                            \
        return rv_;                                                                                \
    } while (0)
#define INITIALIZED(call) INITIALIZED_ARGS(call, "%s", "")

static CK_RV pad_copy(CK_UTF8CHAR *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    memset(dst, ' ', size);
    memcpy(dst, src, n < size ? n : size);
    return CKR_OK;
}

/* ---- general purpose -------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs)
{
    families_register();                     /* once: the vendor room's rows join the tables */
    CK_RV rv = module_initialize(pInitArgs); /* reads the trace switch */
    TRACE(rv, "args=%p", pInitArgs);
    return rv;
}

SOFTSE_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    CK_RV rv = module_finalize(pReserved);
    TRACE(rv, "%s", "");
    return rv;
}

static CK_RV module_info(CK_INFO_PTR pInfo)
{
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->cryptokiVersion.major = 3;
    pInfo->cryptokiVersion.minor = 0;
    pad_copy(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "softse project");
    pad_copy(pInfo->libraryDescription, sizeof(pInfo->libraryDescription), "softse secure element");
    pInfo->libraryVersion.major = 0;
    pInfo->libraryVersion.minor = 1;
    return CKR_OK;
}

SOFTSE_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    INITIALIZED(module_info(pInfo));
}

/* ---- slots and tokens -------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                                  CK_ULONG_PTR pulCount)
{
    INITIALIZED_ARGS(slot_list(tokenPresent, pSlotList, pulCount), "token_present=%u, count=%lu",
                     tokenPresent, trace_out(rv_, pulCount));
}

SOFTSE_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    INITIALIZED_ARGS(slot_info(slotID, pInfo), "slot=%lu", slotID);
}

SOFTSE_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    INITIALIZED_ARGS(token_info(slotID, pInfo), "slot=%lu", slotID);
}

static CK_RV check_slot(CK_SLOT_ID slot)
{
    mutex_lock(module.lock);
    bool ok = slot_token(slot) != NULL;
    mutex_unlock(module.lock);
    return ok ? CKR_OK : CKR_SLOT_ID_INVALID;
}

static CK_RV mechanism_list(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR count)
{
    CK_RV rv = check_slot(slot);
    if (rv != CKR_OK)
        return rv;
    if (!count)
        return CKR_ARGUMENTS_BAD;
    size_t n = mech_list(NULL, 0);
    if (list && *count < n)
        rv = CKR_BUFFER_TOO_SMALL;
    else if (list)
        mech_list(list, n);
    *count = n;
    return rv;
}

static CK_RV mechanism_info(CK_SLOT_ID slot, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR info)
{
    CK_RV rv = check_slot(slot);
    if (rv != CKR_OK)
        return rv;
    if (!info)
        return CKR_ARGUMENTS_BAD;
    return mech_info(type, info) ? CKR_OK : CKR_MECHANISM_INVALID;
}

SOFTSE_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
                                       CK_ULONG_PTR pulCount)
{
    INITIALIZED_ARGS(mechanism_list(slotID, pMechanismList, pulCount), "slot=%lu, count=%lu",
                     slotID, trace_out(rv_, pulCount));
}

SOFTSE_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                       CK_MECHANISM_INFO_PTR pInfo)
{
    INITIALIZED_ARGS(mechanism_info(slotID, type, pInfo), "slot=%lu, mechanism=%s", slotID,
                     se_mech_name(type));
}

SOFTSE_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                                CK_UTF8CHAR_PTR pLabel)
{
    INITIALIZED_ARGS(token_init(slotID, pPin, ulPinLen, pLabel), "slot=%lu", slotID);
}

SOFTSE_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    WITH_SESSION(hSession, token_init_pin(s, pPin, ulPinLen));
}

SOFTSE_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
                             CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    WITH_SESSION(hSession, token_set_pin(s, pOldPin, ulOldLen, pNewPin, ulNewLen));
}

SOFTSE_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pRserved)
{
    INITIALIZED_ARGS(slot_event_wait(flags, pSlot, pRserved), "flags=0x%lx", flags);
}

/* ---- sessions ------------------------------------------------------------ */

SOFTSE_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                                  CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    (void)pApplication, (void)Notify; /* no callbacks: nothing is ever surrendered */
    INITIALIZED_ARGS(session_open(slotID, flags, phSession),
                     "slot=%lu, flags=0x%lx -> session=0x%lx", slotID, flags,
                     trace_out(rv_, phSession));
}

SOFTSE_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    INITIALIZED_ARGS(session_close(hSession), "session=0x%lx", hSession);
}

SOFTSE_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    INITIALIZED_ARGS(session_close_all(slotID), "slot=%lu", slotID);
}

SOFTSE_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo)
{
    WITH_SESSION(hSession, session_info(s, pInfo));
}

SOFTSE_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                        CK_ULONG_PTR pulOperationStateLen)
{
    (void)pOperationState, (void)pulOperationStateLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                        CK_ULONG ulOperationStateLen,
                                        CK_OBJECT_HANDLE hEncryptionKey,
                                        CK_OBJECT_HANDLE hAuthenticationKey)
{
    (void)pOperationState, (void)ulOperationStateLen, (void)hEncryptionKey;
    (void)hAuthenticationKey;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                            CK_ULONG ulPinLen)
{
    WITH_SESSION_ARGS(hSession, token_login(s, userType, pPin, ulPinLen), ", user=%lu", userType);
}

/* A card has one user: a user name is accepted and not interpreted. */
static CK_RV login_user(se_session *s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len,
                        CK_UTF8CHAR_PTR name, CK_ULONG name_len)
{
    if (!name && name_len > 0)
        return CKR_ARGUMENTS_BAD;
    return token_login(s, user, pin, pin_len);
}

SOFTSE_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                                CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                                CK_ULONG ulUsernameLen)
{
    WITH_SESSION_ARGS(hSession, login_user(s, userType, pPin, ulPinLen, pUsername, ulUsernameLen),
                      ", user=%lu", userType);
}

SOFTSE_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession)
{
    WITH_SESSION(hSession, token_logout(s));
}

static CK_RV session_cancel(se_session *s, CK_FLAGS flags)
{
    static const CK_FLAGS kinds[MECH_OP_KINDS] = {
        [MECH_DIGEST] = CKF_DIGEST, [MECH_SIGN] = CKF_SIGN, [MECH_VERIFY] = CKF_VERIFY,
        [MECH_ENCRYPT] = CKF_ENCRYPT, [MECH_DECRYPT] = CKF_DECRYPT,
        [MECH_SIGN_RECOVER] = CKF_SIGN_RECOVER, [MECH_VERIFY_RECOVER] = CKF_VERIFY_RECOVER,
    };
    mutex_lock(s->lock);
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
        if (flags & kinds[i])
            session_end_operation(&s->ops[i]);
    mutex_unlock(s->lock);
    if ((flags & CKF_FIND_OBJECTS) && s->find.active)
        object_find_final(s);
    return CKR_OK;
}

SOFTSE_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags)
{
    WITH_SESSION_ARGS(hSession, session_cancel(s, flags), ", flags=0x%lx", flags);
}

/* ---- objects ----------------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    WITH_SESSION_ARGS(hSession, object_create(s, pTemplate, ulCount, phObject),
                      ", attributes=%lu -> object=0x%lx", ulCount, trace_out(rv_, phObject));
}

SOFTSE_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                 CK_OBJECT_HANDLE_PTR phNewObject)
{
    WITH_SESSION_ARGS(hSession, object_copy(s, hObject, pTemplate, ulCount, phNewObject),
                      ", object=0x%lx, attributes=%lu -> object=0x%lx", hObject, ulCount,
                      trace_out(rv_, phNewObject));
}

SOFTSE_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    WITH_SESSION_ARGS(hSession, object_destroy(s, hObject), ", object=0x%lx", hObject);
}

SOFTSE_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ULONG_PTR pulSize)
{
    WITH_SESSION_ARGS(hSession, object_size(s, hObject, pulSize), ", object=0x%lx", hObject);
}

SOFTSE_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    WITH_SESSION_ARGS(hSession, object_get_attributes(s, hObject, pTemplate, ulCount),
                      ", object=0x%lx, attributes=%lu", hObject, ulCount);
}

SOFTSE_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    WITH_SESSION_ARGS(hSession, object_set_attributes(s, hObject, pTemplate, ulCount),
                      ", object=0x%lx, attributes=%lu", hObject, ulCount);
}

SOFTSE_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                      CK_ULONG ulCount)
{
    WITH_SESSION_ARGS(hSession, object_find_init(s, pTemplate, ulCount), ", attributes=%lu",
                      ulCount);
}

SOFTSE_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                                  CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    WITH_SESSION_ARGS(hSession, object_find(s, phObject, ulMaxObjectCount, pulObjectCount),
                      ", max=%lu -> count=%lu", ulMaxObjectCount, trace_out(rv_, pulObjectCount));
}

SOFTSE_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    WITH_SESSION(hSession, object_find_final(s));
}

/* ---- single- and multi-part operations ------------------------------------ */

#define OPERATION_FUNCTIONS(Name, KIND)                                                            \
    SOFTSE_EXPORT CK_RV C_##Name##Init(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMech,         \
                                       CK_OBJECT_HANDLE hKey)                                      \
    {                                                                                              \
        WITH_SESSION_ARGS(hSession, op_init(s, KIND, pMech, hKey), ", mechanism=%s, key=0x%lx",    \
                          trace_mech(pMech), hKey);                                                \
    }                                                                                              \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulIn,       \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut)                            \
    {                                                                                              \
        WITH_SESSION_ARGS(hSession, op_single(s, KIND, pIn, ulIn, pOut, pulOut),                   \
                          ", in=%lu -> out=%lu", ulIn, trace_out(rv_, pulOut));                    \
    }                                                                                              \
    SOFTSE_EXPORT CK_RV C_##Name##Final(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOut,              \
                                        CK_ULONG_PTR pulOut)                                       \
    {                                                                                              \
        WITH_SESSION_ARGS(hSession, op_final(s, KIND, pOut, pulOut), " -> out=%lu",                \
                          trace_out(rv_, pulOut));                                                 \
    }

OPERATION_FUNCTIONS(Encrypt, MECH_ENCRYPT)
OPERATION_FUNCTIONS(Decrypt, MECH_DECRYPT)
OPERATION_FUNCTIONS(Sign, MECH_SIGN)

SOFTSE_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                    CK_ULONG_PTR pulEncryptedPartLen)
{
    WITH_SESSION_ARGS(
        hSession, op_update(s, MECH_ENCRYPT, pPart, ulPartLen, pEncryptedPart, pulEncryptedPartLen),
        ", in=%lu -> out=%lu", ulPartLen, trace_out(rv_, pulEncryptedPartLen));
}

SOFTSE_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                    CK_ULONG_PTR pulPartLen)
{
    WITH_SESSION_ARGS(
        hSession, op_update(s, MECH_DECRYPT, pEncryptedPart, ulEncryptedPartLen, pPart, pulPartLen),
        ", in=%lu -> out=%lu", ulEncryptedPartLen, trace_out(rv_, pulPartLen));
}

SOFTSE_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    WITH_SESSION_ARGS(hSession, op_update(s, MECH_SIGN, pPart, ulPartLen, NULL, NULL), ", in=%lu",
                      ulPartLen);
}

SOFTSE_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    WITH_SESSION_ARGS(hSession, op_init(s, MECH_DIGEST, pMechanism, CK_INVALID_HANDLE),
                      ", mechanism=%s", trace_mech(pMechanism));
}

SOFTSE_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                             CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    WITH_SESSION_ARGS(hSession, op_single(s, MECH_DIGEST, pData, ulDataLen, pDigest, pulDigestLen),
                      ", in=%lu -> out=%lu", ulDataLen, trace_out(rv_, pulDigestLen));
}

SOFTSE_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen)
{
    WITH_SESSION_ARGS(hSession, op_update(s, MECH_DIGEST, pPart, ulPartLen, NULL, NULL), ", in=%lu",
                      ulPartLen);
}

SOFTSE_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION_ARGS(hSession, op_digest_key(s, hKey), ", key=0x%lx", hKey);
}

SOFTSE_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                                  CK_ULONG_PTR pulDigestLen)
{
    WITH_SESSION_ARGS(hSession, op_final(s, MECH_DIGEST, pDigest, pulDigestLen), " -> out=%lu",
                      trace_out(rv_, pulDigestLen));
}

SOFTSE_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION_ARGS(hSession, op_init(s, MECH_VERIFY, pMechanism, hKey),
                      ", mechanism=%s, key=0x%lx", trace_mech(pMechanism), hKey);
}

SOFTSE_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                             CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    WITH_SESSION_ARGS(hSession, op_verify(s, pData, ulDataLen, pSignature, ulSignatureLen),
                      ", in=%lu, signature=%lu", ulDataLen, ulSignatureLen);
}

SOFTSE_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen)
{
    WITH_SESSION_ARGS(hSession, op_update(s, MECH_VERIFY, pPart, ulPartLen, NULL, NULL), ", in=%lu",
                      ulPartLen);
}

SOFTSE_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                  CK_ULONG ulSignatureLen)
{
    WITH_SESSION_ARGS(hSession, op_verify_final(s, pSignature, ulSignatureLen), ", signature=%lu",
                      ulSignatureLen);
}

/* Signatures with message recovery: single-part, CKM_RSA_X_509 and
 * CKM_RSA_PKCS (mechanisms/mech_rsa_raw.c); the keys need
 * CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER (docs/spec.md §7.2). */
SOFTSE_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION_ARGS(hSession, op_init(s, MECH_SIGN_RECOVER, pMechanism, hKey),
                      ", mechanism=%s, key=0x%lx", trace_mech(pMechanism), hKey);
}

SOFTSE_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                  CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    WITH_SESSION(hSession,
                 op_single(s, MECH_SIGN_RECOVER, pData, ulDataLen, pSignature, pulSignatureLen));
}

SOFTSE_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                        CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION_ARGS(hSession, op_init(s, MECH_VERIFY_RECOVER, pMechanism, hKey),
                      ", mechanism=%s, key=0x%lx", trace_mech(pMechanism), hKey);
}

SOFTSE_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                                    CK_ULONG_PTR pulDataLen)
{
    WITH_SESSION(hSession, op_single(s, MECH_VERIFY_RECOVER, pSignature, ulSignatureLen, pData,
                                     pulDataLen));
}

#define DUAL_FUNCTION(Name)                                                                        \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulIn,       \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut)                            \
    {                                                                                              \
        (void)pIn, (void)ulIn, (void)pOut, (void)pulOut;                                           \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                        \
    }

DUAL_FUNCTION(DigestEncryptUpdate)
DUAL_FUNCTION(DecryptDigestUpdate)
DUAL_FUNCTION(SignEncryptUpdate)
DUAL_FUNCTION(DecryptVerifyUpdate)

/* ---- keys ---------------------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                  CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                  CK_OBJECT_HANDLE_PTR phKey)
{
    WITH_SESSION_ARGS(hSession, key_generate(s, pMechanism, pTemplate, ulCount, phKey),
                      ", mechanism=%s, attributes=%lu -> key=0x%lx", trace_mech(pMechanism),
                      ulCount, trace_out(rv_, phKey));
}

SOFTSE_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                      CK_ULONG ulPublicKeyAttributeCount,
                                      CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                      CK_ULONG ulPrivateKeyAttributeCount,
                                      CK_OBJECT_HANDLE_PTR phPublicKey,
                                      CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    WITH_SESSION_ARGS(hSession,
                      key_generate_pair(s, pMechanism, pPublicKeyTemplate,
                                        ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                                        ulPrivateKeyAttributeCount, phPublicKey, phPrivateKey),
                      ", mechanism=%s -> public=0x%lx, private=0x%lx", trace_mech(pMechanism),
                      trace_out(rv_, phPublicKey), trace_out(rv_, phPrivateKey));
}

SOFTSE_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                              CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    WITH_SESSION_ARGS(hSession,
                      key_wrap(s, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen),
                      ", mechanism=%s, wrapping_key=0x%lx, key=0x%lx -> out=%lu",
                      trace_mech(pMechanism), hWrappingKey, hKey, trace_out(rv_, pulWrappedKeyLen));
}

SOFTSE_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                                CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    WITH_SESSION_ARGS(hSession,
                      key_unwrap(s, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen,
                                 pTemplate, ulAttributeCount, phKey),
                      ", mechanism=%s, unwrapping_key=0x%lx, in=%lu -> key=0x%lx",
                      trace_mech(pMechanism), hUnwrappingKey, ulWrappedKeyLen,
                      trace_out(rv_, phKey));
}

SOFTSE_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    WITH_SESSION_ARGS(hSession,
                      key_derive(s, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey),
                      ", mechanism=%s, base_key=0x%lx -> key=0x%lx", trace_mech(pMechanism),
                      hBaseKey, trace_out(rv_, phKey));
}

/* ---- random numbers and legacy parallel functions ------------------------ */

SOFTSE_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    WITH_SESSION_ARGS(hSession, random_seed(pSeed, ulSeedLen), ", length=%lu", ulSeedLen);
}

SOFTSE_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                                     CK_ULONG ulRandomLen)
{
    WITH_SESSION_ARGS(hSession, random_generate(RandomData, ulRandomLen), ", length=%lu",
                      ulRandomLen);
}

SOFTSE_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession)
{
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

SOFTSE_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession)
{
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_PARALLEL);
}

/* ---- message-based functions (PKCS#11 3.0 §5.13+): not offered --------- */

#define MESSAGE_INIT(Name)                                                                         \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,          \
                                 CK_OBJECT_HANDLE hKey)                                            \
    {                                                                                              \
        WITH_SESSION_ARGS(hSession, CKR_FUNCTION_NOT_SUPPORTED, ", mechanism=%s, key=0x%lx",       \
                          trace_mech(pMechanism), hKey);                                           \
    }
#define MESSAGE_FINAL(Name)                                                                        \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession)                                       \
    {                                                                                              \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                        \
    }

MESSAGE_INIT(MessageEncryptInit)
MESSAGE_INIT(MessageDecryptInit)
MESSAGE_INIT(MessageSignInit)
MESSAGE_INIT(MessageVerifyInit)
MESSAGE_FINAL(MessageEncryptFinal)
MESSAGE_FINAL(MessageDecryptFinal)
MESSAGE_FINAL(MessageSignFinal)
MESSAGE_FINAL(MessageVerifyFinal)

SOFTSE_EXPORT CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                     CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                                     CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
                                     CK_ULONG_PTR pulCiphertextLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pAssociatedData, (void)ulAssociatedDataLen;
    (void)pPlaintext, (void)ulPlaintextLen, (void)pCiphertext, (void)pulCiphertextLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                     CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                                     CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
                                     CK_ULONG_PTR pulPlaintextLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pAssociatedData, (void)ulAssociatedDataLen;
    (void)pCiphertext, (void)ulCiphertextLen, (void)pPlaintext, (void)pulPlaintextLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

#define MESSAGE_BEGIN(Name)                                                                        \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,               \
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,             \
                                 CK_ULONG ulAssociatedDataLen)                                     \
    {                                                                                              \
        (void)pParameter, (void)ulParameterLen, (void)pAssociatedData;                             \
        (void)ulAssociatedDataLen;                                                                 \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                        \
    }
MESSAGE_BEGIN(EncryptMessageBegin)
MESSAGE_BEGIN(DecryptMessageBegin)

#define MESSAGE_NEXT(Name)                                                                         \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,               \
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pIn, CK_ULONG ulIn,          \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut, CK_FLAGS flags)            \
    {                                                                                              \
        (void)pParameter, (void)ulParameterLen, (void)pIn, (void)ulIn, (void)pOut;                 \
        (void)pulOut, (void)flags;                                                                 \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                        \
    }
MESSAGE_NEXT(EncryptMessageNext)
MESSAGE_NEXT(DecryptMessageNext)

SOFTSE_EXPORT CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                  CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                  CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen, (void)pSignature;
    (void)pulSignatureLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                                    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen, (void)pSignature;
    (void)ulSignatureLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                       CK_ULONG ulParameterLen)
{
    (void)pParameter, (void)ulParameterLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                         CK_ULONG ulParameterLen)
{
    (void)pParameter, (void)ulParameterLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                      CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                      CK_ULONG_PTR pulSignatureLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen, (void)pSignature;
    (void)pulSignatureLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

SOFTSE_EXPORT CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                        CK_ULONG ulParameterLen, CK_BYTE_PTR pData,
                                        CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                        CK_ULONG ulSignatureLen)
{
    (void)pParameter, (void)ulParameterLen, (void)pData, (void)ulDataLen, (void)pSignature;
    (void)ulSignatureLen;
    WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);
}

/* ---- function lists and interfaces ---------------------------------------- */

/* The members of the function lists, by name: each list is written with
 * designated initializers (.C_Sign = C_Sign), so no entry can land in
 * another's slot whatever the order of the struct. */
/* one name per X(), wrapped by hand */
// clang-format off
#define FUNCTIONS_2_40(X) X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList)        \
    X(C_GetSlotList) X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList)                    \
    X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession)               \
    X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState)           \
    X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject)              \
    X(C_DestroyObject) X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue)          \
    X(C_FindObjectsInit) X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt)    \
    X(C_EncryptUpdate) X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate)        \
    X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey)               \
    X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit) \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal)              \
    X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate)  \
    X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) X(C_GenerateKey) X(C_GenerateKeyPair)        \
    X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) X(C_SeedRandom) X(C_GenerateRandom)               \
    X(C_GetFunctionStatus) X(C_CancelFunction) X(C_WaitForSlotEvent)

#define FUNCTIONS_3_0(X) X(C_GetInterfaceList) X(C_GetInterface) X(C_LoginUser)                  \
    X(C_SessionCancel) X(C_MessageEncryptInit) X(C_EncryptMessage) X(C_EncryptMessageBegin)      \
    X(C_EncryptMessageNext) X(C_MessageEncryptFinal) X(C_MessageDecryptInit) X(C_DecryptMessage) \
    X(C_DecryptMessageBegin) X(C_DecryptMessageNext) X(C_MessageDecryptFinal)                    \
    X(C_MessageSignInit) X(C_SignMessage) X(C_SignMessageBegin) X(C_SignMessageNext)             \
    X(C_MessageSignFinal) X(C_MessageVerifyInit) X(C_VerifyMessage) X(C_VerifyMessageBegin)      \
    X(C_VerifyMessageNext) X(C_MessageVerifyFinal)
#define DESIGNATE(name) .name = name,

static CK_FUNCTION_LIST function_list_2_40 = {
    .version = {2, 40},
    FUNCTIONS_2_40(DESIGNATE)
};

static CK_FUNCTION_LIST_3_0 function_list_3_0 = {
    .version = {3, 0},
    FUNCTIONS_2_40(DESIGNATE)
    FUNCTIONS_3_0(DESIGNATE)
};
// clang-format on

static CK_INTERFACE interfaces[] = {
    {(CK_UTF8CHAR_PTR) "PKCS 11", &function_list_3_0, 0},
    {(CK_UTF8CHAR_PTR) "PKCS 11", &function_list_2_40, 0},
};

SOFTSE_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    CK_RV rv = CKR_ARGUMENTS_BAD;
    if (ppFunctionList) {
        *ppFunctionList = &function_list_2_40;
        rv = CKR_OK;
    }
    TRACE(rv, "%s", "");
    return rv;
}

static CK_RV interface_list(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (!pulCount)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = CKR_OK;
    if (pInterfacesList && *pulCount < ARRAY_SIZE(interfaces))
        rv = CKR_BUFFER_TOO_SMALL;
    else if (pInterfacesList)
        memcpy(pInterfacesList, interfaces, sizeof(interfaces));
    *pulCount = ARRAY_SIZE(interfaces);
    return rv;
}

SOFTSE_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    CK_RV rv = interface_list(pInterfacesList, pulCount);
    TRACE(rv, "count=%lu", trace_out(rv, pulCount));
    return rv;
}

static CK_RV interface_find(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                            CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (!ppInterface)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++) {
        CK_INTERFACE *it = &interfaces[i];
        const CK_VERSION *v = it->pFunctionList; /* every list starts with its version */
        if (pInterfaceName &&
            strcmp((const char *)pInterfaceName, (const char *)it->pInterfaceName))
            continue;
        if (pVersion && (pVersion->major != v->major || pVersion->minor != v->minor))
            continue;
        if ((flags & it->flags) != flags)
            continue;
        *ppInterface = it;
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

SOFTSE_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                   CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    CK_RV rv = interface_find(pInterfaceName, pVersion, ppInterface, flags);
    TRACE(rv, "name=%s, version=%d.%d, flags=0x%lx",
          pInterfaceName ? (const char *)pInterfaceName : "NULL", pVersion ? pVersion->major : -1,
          pVersion ? pVersion->minor : -1, flags);
    return rv;
}
