/*
 * softse-pkcs11.h — the vendor ABI of the softse PKCS#11 module.
 *
 * Every number here is fixed by docs/spec.md §1; external tests depend on them.
 * Include a PKCS#11 3.0 header first (NSS <pkcs11.h>, p11-kit's
 * <p11-kit/pkcs11.h> or OpenSC's): this header only adds the vendor
 * constants and parameter structures, with the platform's normal packing.
 */
#ifndef SOFTSE_PKCS11_H
#define SOFTSE_PKCS11_H

#if !defined(CKM_VENDOR_DEFINED)
#error "include a PKCS#11 header (e.g. <pkcs11.h>) before <softse/softse-pkcs11.h>"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* CKM_VENDOR_DEFINED | 'S' 'E' */
#define SOFTSE_VENDOR_BASE 0x80534500UL

/* Mechanisms */
#define CKM_SE_GKEA 0x80534501UL            /* C_GenerateKey, CK_SE_GKEA_PARAMS */
#define CKM_SE_KI_RSA_RAW 0x80534511UL      /* C_GenerateKey, CK_SE_KI_PARAMS */
#define CKM_SE_KI_RSA_OAEP 0x80534512UL     /* C_GenerateKey, CK_SE_KI_PARAMS */
#define CKM_SE_KI_EC_ELGAMAL 0x80534513UL   /* C_GenerateKey, CK_SE_KI_PARAMS */
#define CKM_SE_SK3_Q1 0x80534521UL          /* C_SignInit/C_Sign, no parameter, data empty */
#define CKM_SE_SK3_Q2 0x80534522UL          /* C_DeriveKey, CK_SE_SK3_Q2_PARAMS */
#define CKM_SE_SK3_Q3 0x80534523UL          /* C_DeriveKey, CK_SE_SK3_Q3_PARAMS */
#define CKM_SE_SK3_Q4 0x80534524UL          /* C_VerifyInit/C_Verify, CK_SE_SK3_Q4_PARAMS */
#define CKM_SE_SK3_SERVER 0x80534525UL      /* C_SignInit/C_Sign, data = i || j */
#define CKM_SE_SK3_HOST_DERIVE 0x80534526UL /* C_DeriveKey, CK_SE_SK3_HOST_PARAMS */
#define CKM_SE_SK3_KEY_GEN 0x80534527UL     /* C_GenerateKey (server key) */

/* Key types */
#define CKK_SE_SK3_SERVER 0x80534501UL /* value K || K' || K'' (96 bytes) */
#define CKK_SE_SK3_HOST 0x80534502UL   /* value K(i) || K'(i) || K''(i) (96 bytes) + in-card K~(i) */

/* Attributes */
#define CKA_SE_HOST_ID 0x80534501UL       /* 16-byte host name i of an SK3 host key */
#define CKA_SE_FAILURE_COUNT 0x80534502UL /* CK_ULONG, read-only */
#define CKA_SE_FAILURE_LIMIT 0x80534503UL /* CK_ULONG, set at creation only; default 1000; 0 = none */
#define CKA_SE_ATTESTATION 0x80534504UL   /* CK_BBOOL, read-only */

/* Hardware feature: the token lifecycle; CKA_VALUE is one byte */
#define CKH_SE_LIFECYCLE 0x80534501UL
#define SOFTSE_LIFECYCLE_PERSONALIZATION 1
#define SOFTSE_LIFECYCLE_OPERATIONAL 2
#define SOFTSE_LIFECYCLE_TERMINATED 3

/* Return values */
#define CKR_SE_PROTOCOL_REJECTED 0x80534501UL /* an SK3 query 3 check failed */
#define CKR_SE_LIFECYCLE 0x80534502UL         /* not permitted in the token's lifecycle state */
#define CKR_SE_BLOCKED 0x80534503UL           /* the key's failure limit is reached */

#define SOFTSE_SK3_ID_LEN 16
#define SOFTSE_SK3_LEN 32

typedef struct CK_SE_GKEA_PARAMS {
    CK_OBJECT_HANDLE hAttestationKey; /* CK_INVALID_HANDLE: the token's device key */
    CK_BYTE_PTR pServerPublicKey;     /* DER SubjectPublicKeyInfo */
    CK_ULONG ulServerPublicKeyLen;
    CK_BYTE_PTR pNonce; /* 16..64 bytes */
    CK_ULONG ulNonceLen;
    CK_BYTE_PTR pEncryptedKey; /* out: EK */
    CK_ULONG_PTR pulEncryptedKeyLen;
    CK_BYTE_PTR pAttestation; /* out: AK */
    CK_ULONG_PTR pulAttestationLen;
} CK_SE_GKEA_PARAMS;

typedef struct CK_SE_KI_PARAMS {
    CK_MECHANISM_TYPE hashAlg;  /* CKM_SHA_1 or CKM_SHA256 */
    CK_BYTE_PTR pIssuerPublicKey; /* DER SubjectPublicKeyInfo */
    CK_ULONG ulIssuerPublicKeyLen;
    CK_BYTE_PTR pCiphertext; /* out: c */
    CK_ULONG_PTR pulCiphertextLen;
} CK_SE_KI_PARAMS;

typedef struct CK_SE_SK3_Q2_PARAMS {
    CK_BYTE peerId[16]; /* i */
    CK_BYTE ri[32];
    CK_BYTE rj[32];   /* out */
    CK_BYTE tauJ[32]; /* out */
} CK_SE_SK3_Q2_PARAMS;

typedef struct CK_SE_SK3_Q3_PARAMS {
    CK_BYTE peerId[16]; /* j */
    CK_BYTE ri[32], ci[32], alpha[32], beta[32], rj[32], tauJ[32];
    CK_BYTE rhoI[32]; /* out */
} CK_SE_SK3_Q3_PARAMS;

typedef struct CK_SE_SK3_Q4_PARAMS {
    CK_BYTE peerId[16]; /* i */
    CK_BYTE ri[32], rj[32];
} CK_SE_SK3_Q4_PARAMS; /* C_Verify signature = rhoI (32 bytes) */

typedef struct CK_SE_SK3_HOST_PARAMS {
    CK_BYTE hostId[16];
} CK_SE_SK3_HOST_PARAMS;

typedef CK_SE_GKEA_PARAMS *CK_SE_GKEA_PARAMS_PTR;
typedef CK_SE_KI_PARAMS *CK_SE_KI_PARAMS_PTR;
typedef CK_SE_SK3_Q2_PARAMS *CK_SE_SK3_Q2_PARAMS_PTR;
typedef CK_SE_SK3_Q3_PARAMS *CK_SE_SK3_Q3_PARAMS_PTR;
typedef CK_SE_SK3_Q4_PARAMS *CK_SE_SK3_Q4_PARAMS_PTR;
typedef CK_SE_SK3_HOST_PARAMS *CK_SE_SK3_HOST_PARAMS_PTR;

#ifdef __cplusplus
}
#endif

#endif /* SOFTSE_PKCS11_H */
