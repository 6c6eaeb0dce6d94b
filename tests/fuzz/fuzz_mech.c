/*
 * fuzz_mech.c — mechanism parameters: a mechanism from the module's own
 * list (C_GetMechanismList, so vendor mechanisms are fuzzed as soon as
 * their rows land), a key made at setup, and a parameter laid out as that
 * mechanism's structure (CK_GCM_PARAMS_V3, CK_AES_CTR_PARAMS,
 * CK_RSA_PKCS_OAEP_PARAMS, CK_RSA_PKCS_PSS_PARAMS, CK_EDDSA_PARAMS,
 * CK_HKDF_PARAMS, CK_ECDH1_DERIVE_PARAMS, CK_SP800_108_KDF_PARAMS, the
 * *_ENCRYPT_DATA parameters, the CK_SE_* structures) whose inner pointers point into exactly-sized copies
 * of the input, with lengths from it, sometimes NULL with a length.  Then
 * C_EncryptInit, C_DecryptInit, C_SignInit, C_VerifyInit, C_DigestInit,
 * C_DeriveKey, C_GenerateKey, C_WrapKey or C_UnwrapKey, and when the init
 * succeeds a single-part or multi-part operation on input data.
 *
 * Input: u8 mechanism, u8 operation, u8 key, u8 parameter layout, the
 * structure's fields, u8 template, then the operation's data.
 * Checks, besides memory errors: no call claims more output than the
 * buffer it was given (PKCS#11 3.0 §5.2 length convention); no key made
 * by C_DeriveKey or C_GenerateKey is longer than MAX_SECRET_LEN (the
 * module's own limits are 512 bytes for generated and 1024 for base
 * secrets: a length a caller can make unbounded is a denial of service).
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <string.h>

static fz_module m;

enum {
    KEY_AES256,
    KEY_AES128,
    KEY_GENERIC,
    KEY_RSA_PUB,
    KEY_RSA_PRIV,
    KEY_EC_PUB,
    KEY_EC_PRIV,
    KEY_ED_PUB,
    KEY_ED_PRIV,
    KEY_SK3_SERVER,
    KEY_SK3_HOST,
    KEY_ATTESTATION,
    KEY_COUNT
};
static CK_OBJECT_HANDLE keys[KEY_COUNT];
static CK_OBJECT_HANDLE wrap_targets[2]; /* extractable AES, extractable RSA private */
static unsigned char rsa_spki[600], ec_spki[128], ec_point[80];
static CK_ULONG rsa_spki_len, ec_spki_len, ec_point_len;

#define MAX_SECRET_LEN 65536

static CK_MECHANISM_TYPE mechs[256];
static CK_ULONG mech_count;
static unsigned long runs;

static const CK_ULONG hashes[] = {
    CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512, CKM_SHA3_256, CKM_MD5, 0,
};
static const CK_ULONG mgfs[] = {
    CKG_MGF1_SHA1, CKG_MGF1_SHA224, CKG_MGF1_SHA256, CKG_MGF1_SHA384, CKG_MGF1_SHA512, 0,
};
static const CK_ULONG prfs[] = {
    CKM_SHA_1_HMAC,  CKM_SHA224_HMAC, CKM_SHA256_HMAC, CKM_SHA384_HMAC,
    CKM_SHA512_HMAC, CKM_AES_CMAC,    CKM_SHA256,      CKM_SHA3_256_HMAC,
};
static const CK_ULONG kdfs[] = {
    CKD_NULL,       CKD_SHA1_KDF,   CKD_SHA224_KDF, CKD_SHA256_KDF,
    CKD_SHA384_KDF, CKD_SHA512_KDF, CKD_SHA3_256_KDF, 0,
};
static const CK_ULONG salt_types[] = {CKF_HKDF_SALT_NULL, CKF_HKDF_SALT_DATA, CKF_HKDF_SALT_KEY, 0};
static const CK_ULONG kbkdf_data_types[] = {
    CK_SP800_108_ITERATION_VARIABLE, CK_SP800_108_OPTIONAL_COUNTER, CK_SP800_108_DKM_LENGTH,
    CK_SP800_108_BYTE_ARRAY, 0,
};
static const CK_ULONG widths[] = {8, 16, 24, 32, 0, 7, 64};

/* ---- setup ----------------------------------------------------------------- */

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

static CK_OBJECT_HANDLE secret_key(CK_KEY_TYPE type, const char *value, CK_ULONG len,
                                   CK_BBOOL extractable)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},      {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},        {CKA_VALUE, (void *)value, len},
        {CKA_ENCRYPT, &yes, sizeof(yes)},    {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},       {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_WRAP, &yes, sizeof(yes)},       {CKA_UNWRAP, &yes, sizeof(yes)},
        {CKA_DERIVE, &yes, sizeof(yes)},     {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
        {CKA_SENSITIVE, &no, sizeof(no)},
    };
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    m.f->C_CreateObject(m.session, t, FZ_ARRAY_SIZE(t), &h);
    return h;
}

static void key_pair(CK_MECHANISM_TYPE type, CK_ATTRIBUTE *pub_extra, CK_ULONG pub_extra_count,
                     CK_BBOOL extractable, CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
    CK_ATTRIBUTE pub_t[8] = {
        {CKA_TOKEN, &no, sizeof(no)},   {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_VERIFY, &yes, sizeof(yes)}, {CKA_WRAP, &yes, sizeof(yes)},
    };
    CK_ULONG n = 4;
    for (CK_ULONG i = 0; i < pub_extra_count; i++)
        pub_t[n++] = pub_extra[i];
    CK_ATTRIBUTE priv_t[] = {
        {CKA_TOKEN, &no, sizeof(no)},     {CKA_DECRYPT, &yes, sizeof(yes)},
        {CKA_SIGN, &yes, sizeof(yes)},    {CKA_UNWRAP, &yes, sizeof(yes)},
        {CKA_DERIVE, &yes, sizeof(yes)},  {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &extractable, sizeof(extractable)},
    };
    CK_MECHANISM mech = {type, NULL, 0};
    *pub = *priv = CK_INVALID_HANDLE;
    fz_trace(m.f->C_GenerateKeyPair(m.session, &mech, pub_t, n, priv_t, FZ_ARRAY_SIZE(priv_t), pub, priv),
             "setup: C_GenerateKeyPair(0x%lx)", (unsigned long)type);
}

static CK_ULONG get_bytes(CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, unsigned char *out,
                          CK_ULONG size)
{
    CK_ATTRIBUTE a = {type, out, size};
    return m.f->C_GetAttributeValue(m.session, h, &a, 1) == CKR_OK ? a.ulValueLen : 0;
}

static void make_keys(void)
{
    static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const CK_BYTE f4[] = {0x01, 0x00, 0x01};
    CK_ULONG bits = 2048;
    memset(keys, 0, sizeof(keys));
    keys[KEY_AES256] = secret_key(CKK_AES, "fuzz-mech-aes-256-key-value-0001", 32, CK_FALSE);
    keys[KEY_AES128] = secret_key(CKK_AES, "fuzz-mech-aes-16", 16, CK_FALSE);
    keys[KEY_GENERIC] = secret_key(CKK_GENERIC_SECRET, "fuzz-mech-generic-secret-value-1", 32,
                                   CK_FALSE);
    wrap_targets[0] = secret_key(CKK_AES, "fuzz-mech-wrapped-aes-key-value1", 32, CK_TRUE);
    CK_ATTRIBUTE rsa[] = {{CKA_MODULUS_BITS, &bits, sizeof(bits)},
                          {CKA_PUBLIC_EXPONENT, (void *)f4, sizeof(f4)}};
    key_pair(CKM_RSA_PKCS_KEY_PAIR_GEN, rsa, 2, CK_FALSE, &keys[KEY_RSA_PUB], &keys[KEY_RSA_PRIV]);
    CK_OBJECT_HANDLE unused;
    key_pair(CKM_RSA_PKCS_KEY_PAIR_GEN, rsa, 2, CK_TRUE, &unused, &wrap_targets[1]);
    CK_ATTRIBUTE ec[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}};
    key_pair(CKM_EC_KEY_PAIR_GEN, ec, 1, CK_FALSE, &keys[KEY_EC_PUB], &keys[KEY_EC_PRIV]);
    key_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0, CK_FALSE, &keys[KEY_ED_PUB], &keys[KEY_ED_PRIV]);
    rsa_spki_len = get_bytes(keys[KEY_RSA_PUB], CKA_PUBLIC_KEY_INFO, rsa_spki, sizeof(rsa_spki));
    ec_spki_len = get_bytes(keys[KEY_EC_PUB], CKA_PUBLIC_KEY_INFO, ec_spki, sizeof(ec_spki));
    ec_point_len = get_bytes(keys[KEY_EC_PUB], CKA_EC_POINT, ec_point, sizeof(ec_point));
    if (!keys[KEY_AES256] || !keys[KEY_RSA_PRIV] || !keys[KEY_EC_PRIV] || !rsa_spki_len ||
        !ec_spki_len || !ec_point_len)
        fz_fail("setup: keys (AES %lu, RSA %lu, EC %lu, SPKIs %lu %lu, point %lu)",
                (unsigned long)keys[KEY_AES256], (unsigned long)keys[KEY_RSA_PRIV],
                (unsigned long)keys[KEY_EC_PRIV], (unsigned long)rsa_spki_len,
                (unsigned long)ec_spki_len, (unsigned long)ec_point_len);

    /* SK3 keys (docs/spec.md §6), when the mechanisms exist. */
    static const char value96[] = "fuzz-sk3-server-key-K-----------fuzz-sk3-server-key-K'----------"
                                  "fuzz-sk3-server-key-K''---------";
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE server = CKK_SE_SK3_SERVER, host = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE server_t[] = {
        {CKA_CLASS, &cls, sizeof(cls)}, {CKA_KEY_TYPE, &server, sizeof(server)},
        {CKA_TOKEN, &no, sizeof(no)},   {CKA_VALUE, (void *)value96, 96},
        {CKA_SIGN, &yes, sizeof(yes)},  {CKA_DERIVE, &yes, sizeof(yes)},
    };
    CK_ATTRIBUTE host_t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},   {CKA_KEY_TYPE, &host, sizeof(host)},
        {CKA_TOKEN, &no, sizeof(no)},     {CKA_VALUE, (void *)value96, 96},
        {CKA_SE_HOST_ID, "fuzz-host-00001", 16},
        {CKA_SIGN, &yes, sizeof(yes)},    {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_DERIVE, &yes, sizeof(yes)},
    };
    m.f->C_CreateObject(m.session, server_t, FZ_ARRAY_SIZE(server_t), &keys[KEY_SK3_SERVER]);
    m.f->C_CreateObject(m.session, host_t, FZ_ARRAY_SIZE(host_t), &keys[KEY_SK3_HOST]);

    /* The device key made at manufacture (fuzz_common.c). */
    CK_OBJECT_CLASS priv = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE find[] = {{CKA_CLASS, &priv, sizeof(priv)},
                           {CKA_LABEL, "softse-attestation", 18}};
    CK_ULONG found = 0;
    if (m.f->C_FindObjectsInit(m.session, find, 2) == CKR_OK) {
        m.f->C_FindObjects(m.session, &keys[KEY_ATTESTATION], 1, &found);
        m.f->C_FindObjectsFinal(m.session);
    }

    fz_trace(keys[KEY_ATTESTATION], "setup: attestation key handle");
    fz_trace(keys[KEY_SK3_HOST], "setup: SK3 host key handle");
    CK_ULONG n = FZ_ARRAY_SIZE(mechs);
    if (m.f->C_GetMechanismList(m.slot, mechs, &n) != CKR_OK)
        fz_fail("setup: C_GetMechanismList");
    mech_count = n;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    m.manufacture = true;
    fz_module_setup(&m, "mech");
    make_keys();
    return 0;
}

/* ---- parameters ------------------------------------------------------------- */

/* An output length pointer for a vendor structure: NULL (hostile) or a
 * CK_ULONG holding the size of the buffer given with it. */
static void out_buffer(fz_input *in, CK_BYTE_PTR *buf, CK_ULONG_PTR *len)
{
    uint8_t mode = fz_u8(in) % 4;
    *buf = NULL;
    *len = NULL;
    if (mode == 0)
        return; /* NULL length pointer: the module must refuse it */
    *len = fz_alloc(sizeof(CK_ULONG));
    CK_ULONG n = fz_len(in);
    if (mode == 1 || n > FZ_MAX_BUFFER) {
        **len = n; /* size query */
        return;
    }
    *buf = n ? fz_alloc(n) : NULL;
    **len = n;
}

static void spki(fz_input *in, CK_BYTE_PTR *p, CK_ULONG *len)
{
    switch (fz_u8(in) % 3) {
    case 0:
        *p = fz_copy(rsa_spki, rsa_spki_len);
        *len = rsa_spki_len;
        return;
    case 1:
        *p = fz_copy(ec_spki, ec_spki_len);
        *len = ec_spki_len;
        return;
    default:
        fz_buffer(in, p, len);
    }
}

static CK_OBJECT_HANDLE pick_key(fz_input *in)
{
    uint8_t s = fz_u8(in);
    if (s == 0xff)
        return fz_ulong(in);
    if (s == 0xfe)
        return CK_INVALID_HANDLE;
    return keys[s % KEY_COUNT];
}

static CK_ATTRIBUTE *small_template(fz_input *in, CK_ULONG *count);

static CK_PRF_DATA_PARAM *kbkdf_data(fz_input *in, CK_ULONG count)
{
    CK_PRF_DATA_PARAM *d = fz_alloc(count * sizeof(*d));
    for (CK_ULONG i = 0; i < count; i++) {
        d[i].type = fz_pick(in, kbkdf_data_types, FZ_ARRAY_SIZE(kbkdf_data_types));
        if (fz_u8(in) & 1) { /* the structure the type calls for */
            if (d[i].type == CK_SP800_108_OPTIONAL_COUNTER ||
                d[i].type == CK_SP800_108_ITERATION_VARIABLE) {
                CK_SP800_108_COUNTER_FORMAT *f = fz_alloc(sizeof(*f));
                f->bLittleEndian = fz_u8(in);
                f->ulWidthInBits = fz_pick(in, widths, FZ_ARRAY_SIZE(widths));
                d[i].pValue = f;
                d[i].ulValueLen = sizeof(*f);
                continue;
            }
            if (d[i].type == CK_SP800_108_DKM_LENGTH) {
                CK_SP800_108_DKM_LENGTH_FORMAT *f = fz_alloc(sizeof(*f));
                f->dkmLengthMethod = fz_u8(in) % 4;
                f->bLittleEndian = fz_u8(in);
                f->ulWidthInBits = fz_pick(in, widths, FZ_ARRAY_SIZE(widths));
                d[i].pValue = f;
                d[i].ulValueLen = sizeof(*f);
                continue;
            }
        }
        CK_BYTE_PTR p;
        fz_buffer(in, &p, &d[i].ulValueLen);
        d[i].pValue = p;
    }
    return d;
}

/* One byte, or (0xff) a raw CK_ULONG. */
static CK_ULONG small_or_raw(fz_input *in)
{
    uint8_t b = fz_u8(in);
    return b == 0xff ? fz_ulong(in) : b;
}

/* The parameter of mechanism type, laid out as its structure. */
static void natural_parameter(CK_MECHANISM *mech, fz_input *in)
{
    switch (mech->mechanism) {
    case CKM_AES_CTR: {
        CK_AES_CTR_PARAMS *p = fz_alloc(sizeof(*p));
        p->ulCounterBits = small_or_raw(in);
        memcpy(p->cb, fz_take(in, sizeof(p->cb)), sizeof(p->cb));
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_AES_GCM: {
        CK_GCM_PARAMS_V3 *p = fz_alloc(sizeof(*p));
        fz_buffer(in, &p->pIv, &p->ulIvLen);
        p->ulIvBits = fz_len(in);
        fz_buffer(in, &p->pAAD, &p->ulAADLen);
        p->ulTagBits = small_or_raw(in);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_RSA_PKCS_OAEP: {
        CK_RSA_PKCS_OAEP_PARAMS *p = fz_alloc(sizeof(*p));
        p->hashAlg = fz_pick(in, hashes, FZ_ARRAY_SIZE(hashes));
        p->mgf = fz_pick(in, mgfs, FZ_ARRAY_SIZE(mgfs));
        p->source = fz_u8(in) % 3;
        CK_BYTE_PTR src;
        fz_buffer(in, &src, &p->ulSourceDataLen);
        p->pSourceData = src;
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_RSA_PKCS_PSS:
    case CKM_SHA1_RSA_PKCS_PSS:
    case CKM_SHA224_RSA_PKCS_PSS:
    case CKM_SHA256_RSA_PKCS_PSS:
    case CKM_SHA384_RSA_PKCS_PSS:
    case CKM_SHA512_RSA_PKCS_PSS: {
        CK_RSA_PKCS_PSS_PARAMS *p = fz_alloc(sizeof(*p));
        p->hashAlg = fz_pick(in, hashes, FZ_ARRAY_SIZE(hashes));
        p->mgf = fz_pick(in, mgfs, FZ_ARRAY_SIZE(mgfs));
        p->sLen = fz_len(in);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_EDDSA: {
        CK_EDDSA_PARAMS *p = fz_alloc(sizeof(*p));
        p->phFlag = fz_u8(in);
        fz_buffer(in, &p->pContextData, &p->ulContextDataLen);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_HKDF_DERIVE:
    case CKM_HKDF_DATA: {
        CK_HKDF_PARAMS *p = fz_alloc(sizeof(*p));
        p->bExtract = fz_u8(in);
        p->bExpand = fz_u8(in);
        p->prfHashMechanism = fz_pick(in, hashes, FZ_ARRAY_SIZE(hashes));
        p->ulSaltType = fz_pick(in, salt_types, FZ_ARRAY_SIZE(salt_types));
        fz_buffer(in, &p->pSalt, &p->ulSaltLen);
        p->hSaltKey = pick_key(in);
        fz_buffer(in, &p->pInfo, &p->ulInfoLen);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_ECDH1_DERIVE:
    case CKM_ECDH1_COFACTOR_DERIVE: {
        CK_ECDH1_DERIVE_PARAMS *p = fz_alloc(sizeof(*p));
        p->kdf = fz_pick(in, kdfs, FZ_ARRAY_SIZE(kdfs));
        fz_buffer(in, &p->pSharedData, &p->ulSharedDataLen);
        switch (fz_u8(in) % 3) {
        case 0: /* DER OCTET STRING of the point, as CKA_EC_POINT holds it */
            p->pPublicData = fz_copy(ec_point, ec_point_len);
            p->ulPublicDataLen = ec_point_len;
            break;
        case 1: /* the raw uncompressed point */
            p->pPublicData = fz_copy(ec_point + 2, ec_point_len - 2);
            p->ulPublicDataLen = ec_point_len - 2;
            break;
        default:
            fz_buffer(in, &p->pPublicData, &p->ulPublicDataLen);
        }
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_SP800_108_COUNTER_KDF:
    case CKM_SP800_108_FEEDBACK_KDF:
    case CKM_SP800_108_DOUBLE_PIPELINE_KDF: {
        CK_SP800_108_KDF_PARAMS *p = fz_alloc(sizeof(*p));
        p->prfType = fz_pick(in, prfs, FZ_ARRAY_SIZE(prfs));
        p->ulNumberOfDataParams = fz_u8(in) % 6;
        if (p->ulNumberOfDataParams && fz_u8(in) != 0xff)
            p->pDataParams = kbkdf_data(in, p->ulNumberOfDataParams);
        p->ulAdditionalDerivedKeys = fz_u8(in) % 4;
        if (p->ulAdditionalDerivedKeys && fz_u8(in) != 0xff) {
            CK_DERIVED_KEY *k = fz_alloc(p->ulAdditionalDerivedKeys * sizeof(*k));
            for (CK_ULONG i = 0; i < p->ulAdditionalDerivedKeys; i++) {
                k[i].pTemplate = small_template(in, &k[i].ulAttributeCount);
                k[i].phKey = fz_u8(in) == 0xff ? NULL : fz_alloc(sizeof(CK_OBJECT_HANDLE));
            }
            p->pAdditionalDerivedKeys = k;
        }
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_SE_GKEA: {
        CK_SE_GKEA_PARAMS *p = fz_alloc(sizeof(*p));
        p->hAttestationKey = fz_u8(in) & 1 ? pick_key(in) : CK_INVALID_HANDLE;
        spki(in, &p->pServerPublicKey, &p->ulServerPublicKeyLen);
        fz_buffer(in, &p->pNonce, &p->ulNonceLen);
        out_buffer(in, &p->pEncryptedKey, &p->pulEncryptedKeyLen);
        out_buffer(in, &p->pAttestation, &p->pulAttestationLen);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_SE_KI_RSA_RAW:
    case CKM_SE_KI_RSA_OAEP:
    case CKM_SE_KI_EC_ELGAMAL: {
        CK_SE_KI_PARAMS *p = fz_alloc(sizeof(*p));
        p->hashAlg = fz_pick(in, hashes, FZ_ARRAY_SIZE(hashes));
        spki(in, &p->pIssuerPublicKey, &p->ulIssuerPublicKeyLen);
        out_buffer(in, &p->pCiphertext, &p->pulCiphertextLen);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_SE_SK3_Q2:
        mech->ulParameterLen = sizeof(CK_SE_SK3_Q2_PARAMS);
        mech->pParameter = fz_take(in, mech->ulParameterLen);
        return;
    case CKM_SE_SK3_Q3:
        mech->ulParameterLen = sizeof(CK_SE_SK3_Q3_PARAMS);
        mech->pParameter = fz_take(in, mech->ulParameterLen);
        return;
    case CKM_SE_SK3_Q4:
        mech->ulParameterLen = sizeof(CK_SE_SK3_Q4_PARAMS);
        mech->pParameter = fz_take(in, mech->ulParameterLen);
        return;
    case CKM_DES3_ECB_ENCRYPT_DATA:
    case CKM_AES_ECB_ENCRYPT_DATA: {
        CK_KEY_DERIVATION_STRING_DATA *p = fz_alloc(sizeof(*p));
        fz_buffer(in, &p->pData, &p->ulLen);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_DES3_CBC_ENCRYPT_DATA: {
        CK_DES_CBC_ENCRYPT_DATA_PARAMS *p = fz_alloc(sizeof(*p));
        memcpy(p->iv, fz_take(in, sizeof(p->iv)), sizeof(p->iv));
        fz_buffer(in, &p->pData, &p->length);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_AES_CBC_ENCRYPT_DATA: {
        CK_AES_CBC_ENCRYPT_DATA_PARAMS *p = fz_alloc(sizeof(*p));
        memcpy(p->iv, fz_take(in, sizeof(p->iv)), sizeof(p->iv));
        fz_buffer(in, &p->pData, &p->length);
        mech->pParameter = p;
        mech->ulParameterLen = sizeof(*p);
        return;
    }
    case CKM_SE_SK3_HOST_DERIVE:
        mech->ulParameterLen = sizeof(CK_SE_SK3_HOST_PARAMS);
        mech->pParameter = fz_take(in, mech->ulParameterLen);
        return;
    default: { /* IVs (CBC, key wrap), or no parameter */
        CK_BYTE_PTR p;
        fz_buffer(in, &p, &mech->ulParameterLen);
        mech->pParameter = p;
        return;
    }
    }
}

/* layout 0-3: the structure; 4: the structure cut short (a length less
 * than its size, the copy exactly that long); 5: NULL with the size;
 * 6-7: raw bytes. */
static void parameter(CK_MECHANISM *mech, fz_input *in)
{
    uint8_t layout = fz_u8(in) % 8;
    if (layout < 4) {
        natural_parameter(mech, in);
    } else if (layout == 4) {
        natural_parameter(mech, in);
        if (mech->ulParameterLen > 0 && mech->pParameter) {
            CK_ULONG cut = fz_u8(in) % mech->ulParameterLen;
            mech->pParameter = cut ? fz_copy(mech->pParameter, cut) : NULL;
            mech->ulParameterLen = cut;
        }
    } else if (layout == 5) {
        natural_parameter(mech, in);
        mech->pParameter = NULL;
    } else {
        CK_BYTE_PTR p;
        fz_buffer(in, &p, &mech->ulParameterLen);
        mech->pParameter = p;
    }
}

/* ---- templates for new keys ---------------------------------------------------- */

static CK_ATTRIBUTE *small_template(fz_input *in, CK_ULONG *count)
{
    static CK_OBJECT_CLASS secret = CKO_SECRET_KEY, priv = CKO_PRIVATE_KEY, data = CKO_DATA;
    static CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET, ec = CKK_EC, rsa = CKK_RSA,
                       host = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE *t = fz_alloc(8 * sizeof(*t));
    CK_ULONG *len = fz_alloc(sizeof(*len));
    *len = fz_u8(in) == 0xff ? fz_ulong(in) : 32; /* CKA_VALUE_LEN */
    CK_ULONG n = 0;
    uint8_t kind = fz_u8(in) % 8;
    switch (kind) {
    case 0:
    case 1:
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &secret, sizeof(secret)};
        t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &aes, sizeof(aes)};
        if (kind == 1)
            t[n++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, len, sizeof(*len)};
        break;
    case 2:
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &secret, sizeof(secret)};
        t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &generic, sizeof(generic)};
        t[n++] = (CK_ATTRIBUTE){CKA_VALUE_LEN, len, sizeof(*len)};
        break;
    case 3:
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &priv, sizeof(priv)};
        t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, fz_u8(in) & 1 ? &ec : &rsa, sizeof(ec)};
        break;
    case 4:
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &data, sizeof(data)};
        break;
    case 5:
        t[n++] = (CK_ATTRIBUTE){CKA_CLASS, &secret, sizeof(secret)};
        t[n++] = (CK_ATTRIBUTE){CKA_KEY_TYPE, &host, sizeof(host)};
        t[n++] = (CK_ATTRIBUTE){CKA_SE_HOST_ID, fz_take(in, 16), 16};
        break;
    case 6: {
        CK_ULONG fuzzed;
        CK_ATTRIBUTE *f = fz_template(in, 8, true, &fuzzed);
        for (CK_ULONG i = 0; i < fuzzed; i++)
            t[n++] = f[i];
        break;
    }
    default:
        break; /* empty */
    }
    /* token objects now and then: they must be destroyed by the run */
    if (n < 8 && fz_u8(in) == 0x7f)
        t[n++] = (CK_ATTRIBUTE){CKA_TOKEN, &yes, sizeof(yes)};
    *count = n;
    return n ? t : NULL;
}

/* ---- operations ------------------------------------------------------------------- */

/* A NULL buffer is a size query (any length may come back). */
static void check_out(CK_RV rv, const void *buffer, CK_ULONG given, CK_ULONG got, const char *call)
{
    if (rv == CKR_OK && buffer)
        FZ_CHECK(got <= given, "%s: %lu bytes claimed written into %lu", call, (unsigned long)got,
                 (unsigned long)given);
}

/* A single-part call: size query, then the call with that size. */
typedef CK_RV (*single_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);

static void single(CK_SESSION_HANDLE s, single_fn call, const char *name, fz_input *in)
{
    CK_BYTE_PTR data;
    CK_ULONG len;
    fz_buffer(in, &data, &len);
    CK_ULONG size = 0;
    CK_RV rv = fz_trace(call(s, data, len, NULL, &size), "  %s size query", name);
    if (rv != CKR_OK)
        return;
    if (size > 1 << 20)
        fz_fail("%s: size query answered %lu bytes for %lu bytes of input", name,
                (unsigned long)size, (unsigned long)len);
    CK_BYTE_PTR out = size ? fz_alloc(size) : NULL;
    CK_ULONG got = size;
    rv = fz_trace(call(s, data, len, out, &got), "  %s", name);
    check_out(rv, out, size, got, name);
}

typedef CK_RV (*update_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR);
typedef CK_RV (*final_fn)(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG_PTR);

static void multi(CK_SESSION_HANDLE s, update_fn update, final_fn final, const char *name,
                  fz_input *in)
{
    for (int i = fz_u8(in) % 4; i > 0; i--) {
        CK_BYTE_PTR data;
        CK_ULONG len;
        fz_buffer(in, &data, &len);
        CK_ULONG size = fz_len(in) % (FZ_MAX_BUFFER + 1);
        CK_BYTE_PTR out = size ? fz_alloc(size) : NULL;
        CK_ULONG got = size;
        CK_RV rv = update(s, data, len, out, &got);
        check_out(rv, out, size, got, name);
        if (rv != CKR_OK)
            return;
    }
    CK_ULONG size = fz_len(in) % (FZ_MAX_BUFFER + 1);
    CK_BYTE_PTR out = size ? fz_alloc(size) : NULL;
    CK_ULONG got = size;
    CK_RV rv = fz_trace(final(s, out, &got), "  %s final", name);
    check_out(rv, out, size, got, name);
}

static CK_RV sign_update(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n, CK_BYTE_PTR o,
                         CK_ULONG_PTR ol)
{
    (void)o, (void)ol;
    return m.f->C_SignUpdate(s, d, n);
}

static CK_RV digest_update(CK_SESSION_HANDLE s, CK_BYTE_PTR d, CK_ULONG n, CK_BYTE_PTR o,
                           CK_ULONG_PTR ol)
{
    (void)o, (void)ol;
    return m.f->C_DigestUpdate(s, d, n);
}

/* Objects a run made on the token: destroyed before it ends. */
static void drop(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    if (h == CK_INVALID_HANDLE)
        return;
    CK_BBOOL token = CK_FALSE;
    CK_ATTRIBUTE a = {CKA_TOKEN, &token, sizeof(token)};
    if (m.f->C_GetAttributeValue(s, h, &a, 1) == CKR_OK && token)
        m.f->C_DestroyObject(s, h);
}

static void check_made(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const CK_MECHANISM *mech,
                       const char *call)
{
    CK_ULONG len = 0;
    CK_ATTRIBUTE a = {CKA_VALUE_LEN, &len, sizeof(len)};
    if (m.f->C_GetAttributeValue(s, h, &a, 1) == CKR_OK)
        FZ_CHECK(len <= MAX_SECRET_LEN, "%s(0x%lx) made a key of %lu bytes", call,
                 (unsigned long)mech->mechanism, (unsigned long)len);
}

/* SOFTSE_FUZZ_SKIP_KNOWN: templates asking for huge keys (reported). */
static bool known_huge(const CK_ATTRIBUTE *t, CK_ULONG n)
{
    for (CK_ULONG i = 0; i < n; i++)
        if (t[i].type == CKA_VALUE_LEN && t[i].pValue && t[i].ulValueLen == sizeof(CK_ULONG) &&
            *(const CK_ULONG *)t[i].pValue > MAX_SECRET_LEN)
            return true;
    return false;
}

static void drop_additional(CK_SESSION_HANDLE s, const CK_MECHANISM *mech)
{
    if (mech->mechanism != CKM_SP800_108_COUNTER_KDF || !mech->pParameter ||
        mech->ulParameterLen != sizeof(CK_SP800_108_KDF_PARAMS))
        return;
    const CK_SP800_108_KDF_PARAMS *p = mech->pParameter;
    if (!p->pAdditionalDerivedKeys)
        return;
    /* The array points into the fuzz input: copy each entry (it may be
     * misaligned) rather than reading through a typed pointer. */
    for (CK_ULONG i = 0; i < p->ulAdditionalDerivedKeys; i++) {
        CK_DERIVED_KEY entry;
        memcpy(&entry, (const unsigned char *)p->pAdditionalDerivedKeys + i * sizeof(entry),
               sizeof(entry));
        if (entry.phKey) {
            CK_OBJECT_HANDLE h;
            memcpy(&h, entry.phKey, sizeof(h));
            drop(s, h);
        }
    }
}

/* The traced call of a run: mechanism, operation, key. */
#define T(call) fz_trace((call), "mechanism 0x%lx op %u key 0x%lx param %lu: %s", \
                         (unsigned long)mech.mechanism, op, (unsigned long)key,          \
                         (unsigned long)mech.ulParameterLen, #call)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = {data, size};
    CK_MECHANISM mech = {fz_pick(&in, mechs, mech_count), NULL, 0};
    uint8_t op = fz_u8(&in) % 10;
    CK_OBJECT_HANDLE key = pick_key(&in);
    parameter(&mech, &in);
    CK_ULONG count = 0;
    CK_ATTRIBUTE *tmpl = small_template(&in, &count);
    bool multipart = fz_u8(&in) & 1;

    CK_SESSION_HANDLE s = fz_open_session(&m);
    CK_OBJECT_HANDLE made = CK_INVALID_HANDLE;
    CK_RV rv;
    switch (op) {
    case 0:
        if (T(m.f->C_EncryptInit(s, &mech, key)) == CKR_OK) {
            if (multipart)
                multi(s, m.f->C_EncryptUpdate, m.f->C_EncryptFinal, "C_EncryptUpdate/Final", &in);
            else
                single(s, m.f->C_Encrypt, "C_Encrypt", &in);
        }
        break;
    case 1:
        if (T(m.f->C_DecryptInit(s, &mech, key)) == CKR_OK) {
            if (multipart)
                multi(s, m.f->C_DecryptUpdate, m.f->C_DecryptFinal, "C_DecryptUpdate/Final", &in);
            else
                single(s, m.f->C_Decrypt, "C_Decrypt", &in);
        }
        break;
    case 2:
        if (T(m.f->C_SignInit(s, &mech, key)) == CKR_OK) {
            if (multipart)
                multi(s, sign_update, m.f->C_SignFinal, "C_SignUpdate/Final", &in);
            else
                single(s, m.f->C_Sign, "C_Sign", &in);
        }
        break;
    case 3:
        if (T(m.f->C_VerifyInit(s, &mech, key)) == CKR_OK) {
            CK_BYTE_PTR d, sig;
            CK_ULONG dl, sl;
            fz_buffer(&in, &d, &dl);
            fz_buffer(&in, &sig, &sl);
            if (multipart) {
                if (m.f->C_VerifyUpdate(s, d, dl) == CKR_OK)
                    m.f->C_VerifyFinal(s, sig, sl);
            } else {
                T(m.f->C_Verify(s, d, dl, sig, sl));
            }
        }
        break;
    case 4:
        if (T(m.f->C_DigestInit(s, &mech)) == CKR_OK) {
            if (multipart)
                multi(s, digest_update, m.f->C_DigestFinal, "C_DigestUpdate/Final", &in);
            else
                single(s, m.f->C_Digest, "C_Digest", &in);
        }
        break;
    case 5:
    case 6:
        if (fz_skip_known() && known_huge(tmpl, count))
            break;
        rv = T(m.f->C_DeriveKey(s, &mech, key, tmpl, count, &made));
        if (rv == CKR_OK) {
            check_made(s, made, &mech, "C_DeriveKey");
            drop(s, made);
            /* Only an accepted derivation wrote through the (fuzz-made)
             * pointers of additional derived keys. */
            drop_additional(s, &mech);
        }
        break;
    case 7:
        if (fz_skip_known() && known_huge(tmpl, count))
            break;
        if (T(m.f->C_GenerateKey(s, &mech, tmpl, count, &made)) == CKR_OK) {
            check_made(s, made, &mech, "C_GenerateKey");
            drop(s, made);
        }
        break;
    case 8: {
        CK_BYTE_PTR wrapped;
        CK_ULONG len;
        fz_buffer(&in, &wrapped, &len);
        if (T(m.f->C_UnwrapKey(s, &mech, key, wrapped, len, tmpl, count, &made)) == CKR_OK)
            drop(s, made);
        break;
    }
    default: {
        CK_OBJECT_HANDLE target = wrap_targets[fz_u8(&in) & 1];
        CK_ULONG need = 0;
        rv = T(m.f->C_WrapKey(s, &mech, key, target, NULL, &need));
        if (rv == CKR_OK) {
            FZ_CHECK(need <= 1 << 16, "C_WrapKey size query answered %lu", (unsigned long)need);
            CK_BYTE_PTR out = need ? fz_alloc(need) : NULL;
            CK_ULONG got = need;
            rv = m.f->C_WrapKey(s, &mech, key, target, out, &got);
            check_out(rv, out, need, got, "C_WrapKey");
        }
        break;
    }
    }
    m.f->C_CloseSession(s);
    fz_arena_free();
    /* Vendor mechanisms append audit records: start over now and then. */
    if (++runs > 20000) {
        fz_module_reset(&m);
        make_keys();
        runs = 0;
    }
    return 0;
}
