/*
 * fuzz_der.c — DER the module parses: SubjectPublicKeyInfo (the CK_SE_GKEA
 * and CK_SE_KI parameters, CKA_PUBLIC_KEY_INFO), CKA_EC_PARAMS and
 * CKA_EC_POINT of EC keys, EC private values, ECDH public data, PKCS#8
 * (mech_attrs_from_pkcs8 directly, and C_UnwrapKey of the bytes wrapped
 * with AES-KWP), and X.509 certificate objects.
 *
 * Input: u8 kind, u8 flags, then the DER (kinds 0, 1 and 8 first take a
 * length-prefixed CKA_EC_PARAMS).  Each object made is then used (verify,
 * sign, attribute reads), so the key is built from the bytes, and
 * destroyed.
 */
#include "fuzz_common.h"
#include "attrs.h"
#include "mech.h"

#include <openssl/evp.h>
#include <string.h>

static fz_module m;
static CK_OBJECT_HANDLE unwrap_key, ec_private;
static const CK_BYTE p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
static unsigned char ec_point[80]; /* CKA_EC_POINT of ec_private's public key */
static CK_ULONG ec_point_len;
static const unsigned char kwp_key[32] = "fuzz-der-aes-kwp-unwrapping-key!";
static unsigned long runs;

enum {
    KIND_EC_PUBLIC,   /* CKA_EC_PARAMS ‖ CKA_EC_POINT */
    KIND_EC_PRIVATE,  /* CKA_EC_PARAMS ‖ CKA_VALUE */
    KIND_PUBLIC_INFO, /* CKA_PUBLIC_KEY_INFO of a public key */
    KIND_CERTIFICATE, /* CKA_VALUE of an X.509 certificate */
    KIND_PKCS8,       /* mech_attrs_from_pkcs8 */
    KIND_UNWRAP,      /* C_UnwrapKey(CKM_AES_KEY_WRAP_KWP) of KWP(PKCS#8) */
    KIND_GKEA,        /* CK_SE_GKEA_PARAMS.pServerPublicKey */
    KIND_KI,          /* CK_SE_KI_PARAMS.pIssuerPublicKey */
    KIND_EC_GENERATE, /* CKA_EC_PARAMS of C_GenerateKeyPair */
    KIND_ECDH,        /* CK_ECDH1_DERIVE_PARAMS.pPublicData */
    KIND_COUNT
};

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    m.manufacture = true;
    fz_module_setup(&m, "der");
    return 0;
}

static void make_keys(void)
{
    CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &no, sizeof(no)},         {CKA_VALUE, (void *)kwp_key, sizeof(kwp_key)},
        {CKA_UNWRAP, &yes, sizeof(yes)},
    };
    if (m.f->C_CreateObject(m.session, t, FZ_ARRAY_SIZE(t), &unwrap_key) != CKR_OK)
        fz_fail("setup: unwrapping key");
    CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, (void *)p256, sizeof(p256)}, {CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE priv[] = {{CKA_DERIVE, &yes, sizeof(yes)}, {CKA_TOKEN, &no, 1}};
    CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE ec_public;
    if (m.f->C_GenerateKeyPair(m.session, &gen, pub, 2, priv, 2, &ec_public, &ec_private) != CKR_OK)
        fz_fail("setup: EC key pair");
    CK_ATTRIBUTE point = {CKA_EC_POINT, ec_point, sizeof(ec_point)};
    if (m.f->C_GetAttributeValue(m.session, ec_public, &point, 1) != CKR_OK)
        fz_fail("setup: EC point");
    ec_point_len = point.ulValueLen;
}

/* Makes an object, uses it as a key when it is one, reads it, destroys it. */
static void create_and_use(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
    CK_OBJECT_HANDLE h;
    if (fz_trace(m.f->C_CreateObject(s, t, n, &h), "C_CreateObject") != CKR_OK)
        return;
    static const CK_MECHANISM_TYPE uses[] = {CKM_ECDSA, CKM_EDDSA, CKM_RSA_PKCS};
    unsigned char data[32] = {1}, sig[512] = {0};
    for (size_t i = 0; i < FZ_ARRAY_SIZE(uses); i++) {
        CK_MECHANISM mech = {uses[i], NULL, 0};
        if (m.f->C_VerifyInit(s, &mech, h) == CKR_OK)
            fz_trace(m.f->C_Verify(s, data, sizeof(data), sig, 64), "  C_Verify 0x%lx",
                     (unsigned long)uses[i]);
        if (m.f->C_SignInit(s, &mech, h) == CKR_OK) {
            CK_ULONG len = sizeof(sig);
            m.f->C_Sign(s, data, sizeof(data), sig, &len);
        }
    }
    unsigned char buf[4096];
    static const CK_ATTRIBUTE_TYPE reads[] = {CKA_PUBLIC_KEY_INFO, CKA_EC_POINT, CKA_EC_PARAMS,
                                              CKA_MODULUS, CKA_SUBJECT, CKA_VALUE};
    for (size_t i = 0; i < FZ_ARRAY_SIZE(reads); i++) {
        CK_ATTRIBUTE a = {reads[i], buf, sizeof(buf)};
        m.f->C_GetAttributeValue(s, h, &a, 1);
    }
    m.f->C_DestroyObject(s, h);
}

static void ec_key(CK_SESSION_HANDLE s, fz_input *in, bool private_key, uint8_t flags)
{
    CK_OBJECT_CLASS cls = private_key ? CKO_PRIVATE_KEY : CKO_PUBLIC_KEY;
    static const CK_KEY_TYPE types[] = {CKK_EC, CKK_EC_EDWARDS, CKK_EC_MONTGOMERY, CKK_EC};
    CK_KEY_TYPE type = types[flags % 4];
    CK_ULONG params_len = fz_len(in) % (FZ_MAX_BUFFER + 1);
    void *params = fz_take(in, params_len);
    CK_ULONG rest = in->left;
    void *value = fz_take(in, rest);
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},
        {private_key ? CKA_SIGN : CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_EC_PARAMS, params, params_len},
        {private_key ? CKA_VALUE : CKA_EC_POINT, value, rest},
    };
    create_and_use(s, t, FZ_ARRAY_SIZE(t));
}

/* flags bit 2: with the CKA_EC_PARAMS and CKA_EC_POINT of a real P-256 key
 * (the SPKI from the input then describes, or not, that key). */
static void public_info(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
    static const CK_KEY_TYPE types[] = {CKK_EC, CKK_RSA, CKK_EC_EDWARDS, CKK_DSA};
    CK_KEY_TYPE type = (flags & 4) ? CKK_EC : types[flags % 4];
    CK_ULONG len = in->left;
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},
        {CKA_VERIFY, &yes, sizeof(yes)},
        {CKA_PUBLIC_KEY_INFO, fz_take(in, len), len},
        {CKA_EC_PARAMS, (void *)p256, sizeof(p256)},
        {CKA_EC_POINT, ec_point, ec_point_len},
    };
    create_and_use(s, t, (flags & 4) ? 7 : 5);
}

static void certificate(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
    CK_CERTIFICATE_TYPE type = flags & 1 ? CKC_X_509 : CKC_X_509_ATTR_CERT;
    CK_ULONG len = in->left;
    void *der = fz_take(in, len);
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_CERTIFICATE_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},       {CKA_VALUE, der, len},
        {CKA_SUBJECT, der, len < 16 ? len : 16},
    };
    /* flags bit 1: let the module find the subject itself */
    create_and_use(s, t, FZ_ARRAY_SIZE(t) - ((flags & 2) ? 1 : 0));
}

static void pkcs8(CK_SESSION_HANDLE s, fz_input *in)
{
    CK_ULONG len = in->left;
    const unsigned char *der = fz_take(in, len);
    attr_list attrs;
    attr_list_init(&attrs);
    if (fz_trace(mech_attrs_from_pkcs8(der, len, &attrs), "mech_attrs_from_pkcs8") == CKR_OK) {
        /* The attributes become a private key the module must be able to use. */
        CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
        attr_list_set(&attrs, CKA_CLASS, &cls, sizeof(cls));
        attr_list_set(&attrs, CKA_TOKEN, &no, sizeof(no));
        attr_list_set(&attrs, CKA_SIGN, &yes, sizeof(yes));
        create_and_use(s, attrs.items, attrs.count);
    }
    attr_list_free(&attrs);
}

static void unwrap(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    CK_ULONG len = in->left;
    const unsigned char *der = fz_take(in, len);
    unsigned char *wrapped = fz_alloc(len + 16);
    int out_len = 0, final_len = 0;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
    bool ok = len > 0 && EVP_EncryptInit_ex(ctx, EVP_aes_256_wrap_pad(), NULL, kwp_key, NULL) &&
              EVP_EncryptUpdate(ctx, wrapped, &out_len, der, (int)len) &&
              EVP_EncryptFinal_ex(ctx, wrapped + out_len, &final_len);
    EVP_CIPHER_CTX_free(ctx);
    if (!ok)
        return;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    static const CK_KEY_TYPE types[] = {CKK_EC, CKK_RSA, CKK_EC_EDWARDS, CKK_GENERIC_SECRET};
    CK_KEY_TYPE type = types[flags % 4];
    CK_ATTRIBUTE t[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},
        {CKA_SIGN, &yes, sizeof(yes)},
    };
    CK_MECHANISM mech = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_OBJECT_HANDLE h;
    /* flags bit 2: no key type in the template (the PKCS#8 decides) */
    if (fz_trace(m.f->C_UnwrapKey(s, &mech, unwrap_key, wrapped, (CK_ULONG)(out_len + final_len),
                                  t, (flags & 4) ? 1 : FZ_ARRAY_SIZE(t), &h),
                 "C_UnwrapKey") == CKR_OK) {
        unsigned char data[32] = {0}, sig[1024];
        static const CK_MECHANISM_TYPE uses[] = {CKM_ECDSA, CKM_EDDSA, CKM_RSA_PKCS};
        for (size_t i = 0; i < FZ_ARRAY_SIZE(uses); i++) {
            CK_MECHANISM use = {uses[i], NULL, 0};
            if (m.f->C_SignInit(s, &use, h) == CKR_OK) {
                CK_ULONG sl = sizeof(sig);
                m.f->C_Sign(s, data, sizeof(data), sig, &sl);
            }
        }
        m.f->C_DestroyObject(s, h);
    }
}

static void secret_template(CK_ATTRIBUTE *t, CK_KEY_TYPE *type, CK_ULONG *len)
{
    static CK_OBJECT_CLASS secret = CKO_SECRET_KEY;
    t[0] = (CK_ATTRIBUTE){CKA_CLASS, &secret, sizeof(secret)};
    t[1] = (CK_ATTRIBUTE){CKA_KEY_TYPE, type, sizeof(*type)};
    t[2] = (CK_ATTRIBUTE){CKA_VALUE_LEN, len, sizeof(*len)};
    t[3] = (CK_ATTRIBUTE){CKA_TOKEN, &no, sizeof(no)};
}

static void gkea(CK_SESSION_HANDLE s, fz_input *in)
{
    CK_ULONG ek_len = 4096, ak_len = 1024;
    CK_ULONG len = in->left;
    CK_SE_GKEA_PARAMS p = {
        .hAttestationKey = CK_INVALID_HANDLE,
        .pServerPublicKey = fz_take(in, len),
        .ulServerPublicKeyLen = len,
        .pNonce = (CK_BYTE_PTR) "fuzz-der-gkea-nonce-16b",
        .ulNonceLen = 16,
        .pEncryptedKey = fz_alloc(ek_len),
        .pulEncryptedKeyLen = &ek_len,
        .pAttestation = fz_alloc(ak_len),
        .pulAttestationLen = &ak_len,
    };
    CK_MECHANISM mech = {CKM_SE_GKEA, &p, sizeof(p)};
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG klen = 32;
    CK_ATTRIBUTE t[4];
    secret_template(t, &aes, &klen);
    CK_OBJECT_HANDLE h;
    if (fz_trace(m.f->C_GenerateKey(s, &mech, t, 4, &h), "C_GenerateKey GKEA") == CKR_OK) {
        FZ_CHECK(ek_len <= 4096 && ak_len <= 1024, "GKEA claims %lu/%lu bytes of EK/AK",
                 (unsigned long)ek_len, (unsigned long)ak_len);
        m.f->C_DestroyObject(s, h);
    }
}

static void ki(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    static const CK_MECHANISM_TYPE mechs[] = {CKM_SE_KI_RSA_RAW, CKM_SE_KI_RSA_OAEP,
                                              CKM_SE_KI_EC_ELGAMAL, CKM_SE_KI_RSA_OAEP};
    CK_ULONG c_len = 2048;
    CK_ULONG len = in->left;
    CK_SE_KI_PARAMS p = {
        .hashAlg = (flags & 4) ? CKM_SHA_1 : CKM_SHA256,
        .pIssuerPublicKey = fz_take(in, len),
        .ulIssuerPublicKeyLen = len,
        .pCiphertext = fz_alloc(c_len),
        .pulCiphertextLen = &c_len,
    };
    CK_MECHANISM mech = {mechs[flags % 4], &p, sizeof(p)};
    CK_KEY_TYPE aes = CKK_AES;
    CK_ULONG klen = 16;
    CK_ATTRIBUTE t[4];
    secret_template(t, &aes, &klen);
    CK_OBJECT_HANDLE h;
    if (fz_trace(m.f->C_GenerateKey(s, &mech, t, 4, &h), "C_GenerateKey KI 0x%lx",
                 (unsigned long)mech.mechanism) == CKR_OK) {
        FZ_CHECK(c_len <= 2048, "KI claims %lu bytes of c", (unsigned long)c_len);
        m.f->C_DestroyObject(s, h);
    }
}

static void ec_generate(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    CK_ULONG len = in->left;
    CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, fz_take(in, len), len}, {CKA_TOKEN, &no, 1}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &no, 1}};
    CK_MECHANISM mech = {(flags & 1) ? CKM_EC_EDWARDS_KEY_PAIR_GEN : CKM_EC_KEY_PAIR_GEN, NULL, 0};
    CK_OBJECT_HANDLE hpub, hpriv;
    if (fz_trace(m.f->C_GenerateKeyPair(s, &mech, pub, 2, priv, 1, &hpub, &hpriv),
                 "C_GenerateKeyPair") == CKR_OK) {
        m.f->C_DestroyObject(s, hpub);
        m.f->C_DestroyObject(s, hpriv);
    }
}

static void ecdh(CK_SESSION_HANDLE s, fz_input *in, uint8_t flags)
{
    CK_ULONG len = in->left;
    CK_ECDH1_DERIVE_PARAMS p = {
        .kdf = (flags & 1) ? CKD_SHA256_KDF : CKD_NULL,
        .pPublicData = fz_take(in, len),
        .ulPublicDataLen = len,
    };
    CK_MECHANISM mech = {CKM_ECDH1_DERIVE, &p, sizeof(p)};
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET;
    CK_ULONG klen = 32;
    CK_ATTRIBUTE t[4];
    secret_template(t, &generic, &klen);
    CK_OBJECT_HANDLE h;
    if (fz_trace(m.f->C_DeriveKey(s, &mech, ec_private, t, 4, &h), "C_DeriveKey ECDH") == CKR_OK)
        m.f->C_DestroyObject(s, h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!unwrap_key)
        make_keys();
    fz_input in = {data, size};
    uint8_t kind = fz_u8(&in) % KIND_COUNT;
    uint8_t flags = fz_u8(&in);
    CK_SESSION_HANDLE s = fz_open_session(&m);
    switch (kind) {
    case KIND_EC_PUBLIC:
        ec_key(s, &in, false, flags);
        break;
    case KIND_EC_PRIVATE:
        ec_key(s, &in, true, flags);
        break;
    case KIND_PUBLIC_INFO:
        public_info(s, &in, flags);
        break;
    case KIND_CERTIFICATE:
        certificate(s, &in, flags);
        break;
    case KIND_PKCS8:
        pkcs8(s, &in);
        break;
    case KIND_UNWRAP:
        unwrap(s, &in, flags);
        break;
    case KIND_GKEA:
        gkea(s, &in);
        break;
    case KIND_KI:
        ki(s, &in, flags);
        break;
    case KIND_EC_GENERATE:
        ec_generate(s, &in, flags);
        break;
    default:
        ecdh(s, &in, flags);
        break;
    }
    m.f->C_CloseSession(s);
    fz_arena_free();
    if (++runs > 20000) { /* GKEA and KI append audit records */
        fz_module_reset(&m);
        unwrap_key = 0;
        runs = 0;
    }
    return 0;
}
