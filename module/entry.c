/*
 * entry.c — the C_* entry points, the 2.40 and 3.0 function lists and
 * the interfaces.  Each function checks that the module is initialized
 * in this process, resolves its session, and calls one internal function.
 */
#include "core.h"

#include <string.h>

/* Every session-bound call: initialized?, a valid session?, one call. */
#define WITH_SESSION(handle, call)                        \
    do {                                                  \
        CK_RV rv_ = module_check();                       \
        if (rv_ != CKR_OK)                                \
            return rv_;                                   \
        se_session *s;                                    \
        rv_ = session_get((handle), &s);                  \
        if (rv_ != CKR_OK)                                \
            return rv_;                                   \
        rv_ = (call);                                     \
        session_put(s);                                   \
        return rv_;                                       \
    } while (0)

#define INITIALIZED(call)                                 \
    do {                                                  \
        CK_RV rv_ = module_check();                       \
        return rv_ != CKR_OK ? rv_ : (call);              \
    } while (0)

#define NOT_SUPPORTED()                                   \
    do {                                                  \
        CK_RV rv_ = module_check();                       \
        return rv_ != CKR_OK ? rv_ : CKR_FUNCTION_NOT_SUPPORTED; \
    } while (0)

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
    return module_initialize(pInitArgs);
}

SOFTSE_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved)
{
    return module_finalize(pReserved);
}

SOFTSE_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo)
{
    CK_RV rv = module_check();
    if (rv != CKR_OK)
        return rv;
    if (!pInfo)
        return CKR_ARGUMENTS_BAD;
    memset(pInfo, 0, sizeof(*pInfo));
    pInfo->cryptokiVersion.major = 3;
    pInfo->cryptokiVersion.minor = 0;
    pad_copy(pInfo->manufacturerID, sizeof(pInfo->manufacturerID), "softse project");
    pad_copy(pInfo->libraryDescription, sizeof(pInfo->libraryDescription),
             "softse secure element");
    pInfo->libraryVersion.major = 0;
    pInfo->libraryVersion.minor = 1;
    return CKR_OK;
}

/* ---- slots and tokens -------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
                                  CK_ULONG_PTR pulCount)
{
    INITIALIZED(slot_list(tokenPresent, pSlotList, pulCount));
}

SOFTSE_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo)
{
    INITIALIZED(slot_info(slotID, pInfo));
}

SOFTSE_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo)
{
    INITIALIZED(token_info(slotID, pInfo));
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
    INITIALIZED(mechanism_list(slotID, pMechanismList, pulCount));
}

SOFTSE_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
                                       CK_MECHANISM_INFO_PTR pInfo)
{
    INITIALIZED(mechanism_info(slotID, type, pInfo));
}

SOFTSE_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
                                CK_UTF8CHAR_PTR pLabel)
{
    INITIALIZED(token_init(slotID, pPin, ulPinLen, pLabel));
}

SOFTSE_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen)
{
    WITH_SESSION(hSession, token_init_pin(s, pPin, ulPinLen));
}

SOFTSE_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
                             CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen)
{
    WITH_SESSION(hSession, token_set_pin(s, pOldPin, ulOldLen, pNewPin, ulNewLen));
}

SOFTSE_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pRserved)
{
    INITIALIZED(slot_event_wait(flags, pSlot, pRserved));
}

/* ---- sessions ------------------------------------------------------------ */

SOFTSE_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
                                  CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession)
{
    (void)pApplication, (void)Notify; /* no callbacks: nothing is ever surrendered */
    INITIALIZED(session_open(slotID, flags, phSession));
}

SOFTSE_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession)
{
    INITIALIZED(session_close(hSession));
}

SOFTSE_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID)
{
    INITIALIZED(session_close_all(slotID));
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
    WITH_SESSION(hSession, token_login(s, userType, pPin, ulPinLen));
}

SOFTSE_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
                                CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername,
                                CK_ULONG ulUsernameLen)
{
    /* A card has one user: a user name is accepted and not interpreted. */
    if (!pUsername && ulUsernameLen > 0)
        return CKR_ARGUMENTS_BAD;
    WITH_SESSION(hSession, token_login(s, userType, pPin, ulPinLen));
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
    WITH_SESSION(hSession, session_cancel(s, flags));
}

/* ---- objects ----------------------------------------------------------- */

SOFTSE_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                   CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject)
{
    WITH_SESSION(hSession, object_create(s, pTemplate, ulCount, phObject));
}

SOFTSE_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                 CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                                 CK_OBJECT_HANDLE_PTR phNewObject)
{
    WITH_SESSION(hSession, object_copy(s, hObject, pTemplate, ulCount, phNewObject));
}

SOFTSE_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject)
{
    WITH_SESSION(hSession, object_destroy(s, hObject));
}

SOFTSE_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                    CK_ULONG_PTR pulSize)
{
    WITH_SESSION(hSession, object_size(s, hObject, pulSize));
}

SOFTSE_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    WITH_SESSION(hSession, object_get_attributes(s, hObject, pTemplate, ulCount));
}

SOFTSE_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
                                        CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount)
{
    WITH_SESSION(hSession, object_set_attributes(s, hObject, pTemplate, ulCount));
}

SOFTSE_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
                                      CK_ULONG ulCount)
{
    WITH_SESSION(hSession, object_find_init(s, pTemplate, ulCount));
}

SOFTSE_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
                                  CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount)
{
    WITH_SESSION(hSession, object_find(s, phObject, ulMaxObjectCount, pulObjectCount));
}

SOFTSE_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession)
{
    WITH_SESSION(hSession, object_find_final(s));
}

/* ---- single- and multi-part operations ------------------------------------ */

#define OPERATION_FUNCTIONS(Name, KIND)                                                      \
    SOFTSE_EXPORT CK_RV C_##Name##Init(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMech,  \
                                       CK_OBJECT_HANDLE hKey)                               \
    {                                                                                        \
        WITH_SESSION(hSession, op_init(s, KIND, pMech, hKey));                               \
    }                                                                                        \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulIn, \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut)                      \
    {                                                                                        \
        WITH_SESSION(hSession, op_single(s, KIND, pIn, ulIn, pOut, pulOut));                 \
    }                                                                                        \
    SOFTSE_EXPORT CK_RV C_##Name##Final(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOut,        \
                                        CK_ULONG_PTR pulOut)                                 \
    {                                                                                        \
        WITH_SESSION(hSession, op_final(s, KIND, pOut, pulOut));                             \
    }

OPERATION_FUNCTIONS(Encrypt, MECH_ENCRYPT)
OPERATION_FUNCTIONS(Decrypt, MECH_DECRYPT)
OPERATION_FUNCTIONS(Sign, MECH_SIGN)

SOFTSE_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart,
                                    CK_ULONG_PTR pulEncryptedPartLen)
{
    WITH_SESSION(hSession, op_update(s, MECH_ENCRYPT, pPart, ulPartLen, pEncryptedPart,
                                     pulEncryptedPartLen));
}

SOFTSE_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
                                    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
                                    CK_ULONG_PTR pulPartLen)
{
    WITH_SESSION(hSession, op_update(s, MECH_DECRYPT, pEncryptedPart, ulEncryptedPartLen, pPart,
                                     pulPartLen));
}

SOFTSE_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen)
{
    WITH_SESSION(hSession, op_update(s, MECH_SIGN, pPart, ulPartLen, NULL, NULL));
}

SOFTSE_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism)
{
    WITH_SESSION(hSession, op_init(s, MECH_DIGEST, pMechanism, CK_INVALID_HANDLE));
}

SOFTSE_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                             CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen)
{
    WITH_SESSION(hSession, op_single(s, MECH_DIGEST, pData, ulDataLen, pDigest, pulDigestLen));
}

SOFTSE_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen)
{
    WITH_SESSION(hSession, op_update(s, MECH_DIGEST, pPart, ulPartLen, NULL, NULL));
}

SOFTSE_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION(hSession, op_digest_key(s, hKey));
}

SOFTSE_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
                                  CK_ULONG_PTR pulDigestLen)
{
    WITH_SESSION(hSession, op_final(s, MECH_DIGEST, pDigest, pulDigestLen));
}

SOFTSE_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                 CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION(hSession, op_init(s, MECH_VERIFY, pMechanism, hKey));
}

SOFTSE_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
                             CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen)
{
    WITH_SESSION(hSession, op_verify(s, pData, ulDataLen, pSignature, ulSignatureLen));
}

SOFTSE_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
                                   CK_ULONG ulPartLen)
{
    WITH_SESSION(hSession, op_update(s, MECH_VERIFY, pPart, ulPartLen, NULL, NULL));
}

SOFTSE_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                  CK_ULONG ulSignatureLen)
{
    WITH_SESSION(hSession, op_verify_final(s, pSignature, ulSignatureLen));
}

/* Signatures with message recovery: single-part, CKM_RSA_X_509 and
 * CKM_RSA_PKCS (mechanisms/mech_rsa_raw.c); the keys need
 * CKA_SIGN_RECOVER / CKA_VERIFY_RECOVER (docs/spec.md §7.2). */
SOFTSE_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION(hSession, op_init(s, MECH_SIGN_RECOVER, pMechanism, hKey));
}

SOFTSE_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
                                  CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                  CK_ULONG_PTR pulSignatureLen)
{
    WITH_SESSION(hSession,
                 op_single(s, MECH_SIGN_RECOVER, pData, ulDataLen, pSignature, pulSignatureLen));
}

SOFTSE_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                        CK_OBJECT_HANDLE hKey)
{
    WITH_SESSION(hSession, op_init(s, MECH_VERIFY_RECOVER, pMechanism, hKey));
}

SOFTSE_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
                                    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData,
                                    CK_ULONG_PTR pulDataLen)
{
    WITH_SESSION(hSession, op_single(s, MECH_VERIFY_RECOVER, pSignature, ulSignatureLen, pData,
                                     pulDataLen));
}

/* Dual-function operations are not offered. */
#define DUAL_FUNCTION(Name)                                                                  \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pIn, CK_ULONG ulIn, \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut)                      \
    {                                                                                        \
        (void)pIn, (void)ulIn, (void)pOut, (void)pulOut;                                     \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                  \
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
    WITH_SESSION(hSession, key_generate(s, pMechanism, pTemplate, ulCount, phKey));
}

SOFTSE_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                      CK_ATTRIBUTE_PTR pPublicKeyTemplate,
                                      CK_ULONG ulPublicKeyAttributeCount,
                                      CK_ATTRIBUTE_PTR pPrivateKeyTemplate,
                                      CK_ULONG ulPrivateKeyAttributeCount,
                                      CK_OBJECT_HANDLE_PTR phPublicKey,
                                      CK_OBJECT_HANDLE_PTR phPrivateKey)
{
    WITH_SESSION(hSession, key_generate_pair(s, pMechanism, pPublicKeyTemplate,
                                             ulPublicKeyAttributeCount, pPrivateKeyTemplate,
                                             ulPrivateKeyAttributeCount, phPublicKey,
                                             phPrivateKey));
}

SOFTSE_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                              CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                              CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen)
{
    WITH_SESSION(hSession,
                 key_wrap(s, pMechanism, hWrappingKey, hKey, pWrappedKey, pulWrappedKeyLen));
}

SOFTSE_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey,
                                CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    WITH_SESSION(hSession, key_unwrap(s, pMechanism, hUnwrappingKey, pWrappedKey, ulWrappedKeyLen,
                                      pTemplate, ulAttributeCount, phKey));
}

SOFTSE_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate,
                                CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey)
{
    WITH_SESSION(hSession,
                 key_derive(s, pMechanism, hBaseKey, pTemplate, ulAttributeCount, phKey));
}

/* ---- random numbers and legacy parallel functions ------------------------ */

SOFTSE_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen)
{
    WITH_SESSION(hSession, random_seed(pSeed, ulSeedLen));
}

SOFTSE_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR RandomData,
                                     CK_ULONG ulRandomLen)
{
    WITH_SESSION(hSession, random_generate(RandomData, ulRandomLen));
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

#define MESSAGE_INIT(Name)                                                                   \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,   \
                                 CK_OBJECT_HANDLE hKey)                                      \
    {                                                                                        \
        (void)pMechanism, (void)hKey;                                                        \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                  \
    }
#define MESSAGE_FINAL(Name)                                                                  \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession)                                 \
    {                                                                                        \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                  \
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

#define MESSAGE_BEGIN(Name)                                                                  \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,        \
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,       \
                                 CK_ULONG ulAssociatedDataLen)                               \
    {                                                                                        \
        (void)pParameter, (void)ulParameterLen, (void)pAssociatedData;                       \
        (void)ulAssociatedDataLen;                                                           \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                  \
    }
MESSAGE_BEGIN(EncryptMessageBegin)
MESSAGE_BEGIN(DecryptMessageBegin)

#define MESSAGE_NEXT(Name)                                                                   \
    SOFTSE_EXPORT CK_RV C_##Name(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,        \
                                 CK_ULONG ulParameterLen, CK_BYTE_PTR pIn, CK_ULONG ulIn,    \
                                 CK_BYTE_PTR pOut, CK_ULONG_PTR pulOut, CK_FLAGS flags)      \
    {                                                                                        \
        (void)pParameter, (void)ulParameterLen, (void)pIn, (void)ulIn, (void)pOut;           \
        (void)pulOut, (void)flags;                                                           \
        WITH_SESSION(hSession, CKR_FUNCTION_NOT_SUPPORTED);                                  \
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

#define COMMON_FUNCTIONS                                                                     \
    C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList, C_GetSlotInfo,    \
        C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo, C_InitToken, C_InitPIN,      \
        C_SetPIN, C_OpenSession, C_CloseSession, C_CloseAllSessions, C_GetSessionInfo,       \
        C_GetOperationState, C_SetOperationState, C_Login, C_Logout, C_CreateObject,         \
        C_CopyObject, C_DestroyObject, C_GetObjectSize, C_GetAttributeValue,                 \
        C_SetAttributeValue, C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal,           \
        C_EncryptInit, C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt, \
        C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate, C_DigestKey, \
        C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal, C_SignRecoverInit,     \
        C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate, C_VerifyFinal,                \
        C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate, C_DecryptDigestUpdate,  \
        C_SignEncryptUpdate, C_DecryptVerifyUpdate, C_GenerateKey, C_GenerateKeyPair,        \
        C_WrapKey, C_UnwrapKey, C_DeriveKey, C_SeedRandom, C_GenerateRandom,                 \
        C_GetFunctionStatus, C_CancelFunction, C_WaitForSlotEvent

static CK_FUNCTION_LIST function_list_2_40 = {{2, 40}, COMMON_FUNCTIONS};

static CK_FUNCTION_LIST_3_0 function_list_3_0 = {
    {3, 0},
    COMMON_FUNCTIONS,
    C_GetInterfaceList,
    C_GetInterface,
    C_LoginUser,
    C_SessionCancel,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal,
    C_MessageSignInit,
    C_SignMessage,
    C_SignMessageBegin,
    C_SignMessageNext,
    C_MessageSignFinal,
    C_MessageVerifyInit,
    C_VerifyMessage,
    C_VerifyMessageBegin,
    C_VerifyMessageNext,
    C_MessageVerifyFinal,
};

static CK_INTERFACE interfaces[] = {
    {(CK_UTF8CHAR_PTR) "PKCS 11", &function_list_3_0, 0},
    {(CK_UTF8CHAR_PTR) "PKCS 11", &function_list_2_40, 0},
};

SOFTSE_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (!ppFunctionList)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &function_list_2_40;
    return CKR_OK;
}

SOFTSE_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
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

SOFTSE_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                                   CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    if (!ppInterface)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < ARRAY_SIZE(interfaces); i++) {
        CK_INTERFACE *it = &interfaces[i];
        const CK_VERSION *v = it->pFunctionList; /* every list starts with its version */
        if (pInterfaceName && strcmp((const char *)pInterfaceName, (const char *)it->pInterfaceName))
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
