/*
 * Triple DES, key diversification and CKA_CHECK_VALUE through the built
 * module (mechanisms/mech_des3.c, mech_encrypt_data.c, mech_check_value.c
 * and the core's key paths): generation, import with parity, encryption
 * single- and multi-part, MACs, wrapping, derivation with the base key's
 * protection, check values of sensitive keys, the mechanism info, and
 * the refusals with their CKR_ codes.  Vectors: NIST SP 800-67 and
 * SP 800-38B, the EMV "Option A" example of test_mech_encrypt_data.c.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

#ifndef CKM_DES3_CMAC
#define CKM_DES3_CMAC 0x00000138UL
#define CKM_DES3_CMAC_GENERAL 0x00000137UL
#endif

static const unsigned char sp800_67_key[24] = {
    0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x23, 0x45, 0x67, 0x89,
    0xAB, 0xCD, 0xEF, 0x01, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF, 0x01, 0x23};
static const unsigned char sp800_67_plain[24] = "The qufck brown fox jump";
static const unsigned char sp800_67_cipher[24] = {
    0xA8, 0x26, 0xFD, 0x8C, 0xE5, 0x3B, 0x85, 0x5F, 0xCC, 0xE2, 0x1C, 0x81,
    0x12, 0x25, 0x6F, 0xE6, 0x68, 0xD5, 0xC0, 0x5D, 0xD9, 0xB6, 0xB9, 0x00};
static const unsigned char sp800_67_kcv[3] = {0x4E, 0xBA, 0x73};
static const unsigned char imk[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF,
                                      0xFE, 0xDC, 0xBA, 0x98, 0x76, 0x54, 0x32, 0x10};
static unsigned char emv_data[16] = {0x13, 0x33, 0x00, 0x89, 0x60, 0x00, 0x10, 0x01,
                                     0xEC, 0xCC, 0xFF, 0x76, 0x9F, 0xFF, 0xEF, 0xFE};
static const unsigned char emv_mk[16] = {0x43, 0x8F, 0x4A, 0x97, 0x6E, 0xC8, 0x0D, 0xB3,
                                         0xF4, 0xD3, 0x1C, 0x0D, 0xCB, 0x32, 0xA2, 0x26};

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;

/* A session secret key of type with value, usage attribute TRUE and the
 * given sensitivity; the rest defaults. */
static CK_RV make_key(CK_SESSION_HANDLE s, CK_KEY_TYPE type, const void *value, CK_ULONG len,
                      CK_ATTRIBUTE_TYPE usage, bool readable, CK_OBJECT_HANDLE *h)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, (void *)value, len},
                           {usage, &yes, sizeof(yes)},
                           {CKA_SENSITIVE, readable ? &no : &yes, sizeof(yes)},
                           {CKA_EXTRACTABLE, readable ? &yes : &no, sizeof(yes)}};
    return fx_functions()->C_CreateObject(s, tmpl, N_OF(tmpl), h);
}

static void read_check_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, unsigned char kcv[3])
{
    CK_ATTRIBUTE attr = {CKA_CHECK_VALUE, kcv, 3};
    assert_rv(fx_functions()->C_GetAttributeValue(s, h, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, 3);
}

/* ---- generation, encryption ---------------------------------------------------- */

static void generate_and_encrypt(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    static const struct {
        CK_MECHANISM_TYPE mech;
        CK_KEY_TYPE type;
        CK_ULONG len;
    } gens[] = {{CKM_DES2_KEY_GEN, CKK_DES2, 16}, {CKM_DES3_KEY_GEN, CKK_DES3, 24}};
    for (size_t g = 0; g < N_OF(gens); g++) {
        CK_MECHANISM gen = {gens[g].mech, NULL, 0};
        CK_ATTRIBUTE tmpl[] = {{CKA_ENCRYPT, &yes, sizeof(yes)}, {CKA_DECRYPT, &yes, sizeof(yes)}};
        CK_OBJECT_HANDLE key;
        assert_rv(f->C_GenerateKey(t->session, &gen, tmpl, 2, &key), CKR_OK);
        assert_int_equal(fx_get_ulong(t->session, key, CKA_KEY_TYPE), gens[g].type);
        assert_int_equal(fx_get_ulong(t->session, key, CKA_VALUE_LEN), gens[g].len);
        assert_int_equal(fx_get_ulong(t->session, key, CKA_KEY_GEN_MECHANISM), gens[g].mech);
        /* sensitive: the value is not readable, its check value is */
        unsigned char value[24], kcv[3];
        CK_ATTRIBUTE secret = {CKA_VALUE, value, sizeof(value)};
        assert_rv(f->C_GetAttributeValue(t->session, key, &secret, 1), CKR_ATTRIBUTE_SENSITIVE);
        read_check_value(t->session, key, kcv);

        unsigned char iv[8] = {1, 2, 3, 4, 5, 6, 7, 8}, plain[100], cipher[112], back[112];
        memset(plain, 0x5A, sizeof(plain));
        CK_MECHANISM pad = {CKM_DES3_CBC_PAD, iv, sizeof(iv)};
        CK_ULONG len = sizeof(cipher);
        assert_rv(f->C_EncryptInit(t->session, &pad, key), CKR_OK);
        assert_rv(f->C_Encrypt(t->session, plain, sizeof(plain), cipher, &len), CKR_OK);
        assert_int_equal(len, 104);
        /* multi-part decrypt in odd pieces */
        CK_ULONG total = 0, part;
        assert_rv(f->C_DecryptInit(t->session, &pad, key), CKR_OK);
        for (CK_ULONG at = 0; at < len; at += 13) {
            part = sizeof(back) - total;
            assert_rv(f->C_DecryptUpdate(t->session, cipher + at, len - at < 13 ? len - at : 13,
                                         back + total, &part),
                      CKR_OK);
            total += part;
        }
        part = sizeof(back) - total;
        assert_rv(f->C_DecryptFinal(t->session, back + total, &part), CKR_OK);
        total += part;
        assert_int_equal(total, sizeof(plain));
        assert_memory_equal(back, plain, sizeof(plain));
    }
    /* a template naming another key type */
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE wrong[] = {{CKA_KEY_TYPE, &aes, sizeof(aes)}};
    CK_MECHANISM gen3 = {CKM_DES3_KEY_GEN, NULL, 0};
    CK_OBJECT_HANDLE h;
    assert_rv(f->C_GenerateKey(t->session, &gen3, wrong, 1, &h), CKR_TEMPLATE_INCONSISTENT);
}

static void known_key_and_check_value(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    CK_OBJECT_HANDLE key;
    /* sensitive, and its check value still reads */
    assert_rv(make_key(t->session, CKK_DES3, sp800_67_key, 24, CKA_ENCRYPT, false, &key), CKR_OK);
    unsigned char kcv[3];
    read_check_value(t->session, key, kcv);
    assert_memory_equal(kcv, sp800_67_kcv, 3);
    CK_MECHANISM ecb = {CKM_DES3_ECB, NULL, 0};
    unsigned char out[24];
    CK_ULONG len = sizeof(out);
    assert_rv(f->C_EncryptInit(t->session, &ecb, key), CKR_OK);
    assert_rv(f->C_Encrypt(t->session, (CK_BYTE_PTR)sp800_67_plain, 24, out, &len), CKR_OK);
    assert_int_equal(len, 24);
    assert_memory_equal(out, sp800_67_cipher, 24);
    /* data not whole blocks */
    len = sizeof(out);
    assert_rv(f->C_EncryptInit(t->session, &ecb, key), CKR_OK);
    assert_rv(f->C_Encrypt(t->session, (CK_BYTE_PTR)sp800_67_plain, 20, out, &len),
              CKR_DATA_LEN_RANGE);

    /* a check value given with the key: the right one, a wrong one, empty */
    CK_KEY_TYPE type = CKK_DES3;
    unsigned char bad_kcv[3] = {0x4E, 0xBA, 0x74};
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, (void *)sp800_67_key, 24},
                           {CKA_CHECK_VALUE, (void *)sp800_67_kcv, 3}};
    assert_rv(f->C_CreateObject(t->session, tmpl, 4, &key), CKR_OK);
    tmpl[3].pValue = bad_kcv;
    assert_rv(f->C_CreateObject(t->session, tmpl, 4, &key), CKR_ATTRIBUTE_VALUE_INVALID);
    tmpl[3].pValue = NULL;
    tmpl[3].ulValueLen = 0;
    assert_rv(f->C_CreateObject(t->session, tmpl, 4, &key), CKR_OK);
    CK_ATTRIBUTE empty = {CKA_CHECK_VALUE, NULL, 0};
    assert_rv(f->C_GetAttributeValue(t->session, key, &empty, 1), CKR_OK);
    assert_int_equal(empty.ulValueLen, 0);
    /* not changeable afterwards */
    CK_ATTRIBUTE change = {CKA_CHECK_VALUE, (void *)sp800_67_kcv, 3};
    assert_rv(f->C_SetAttributeValue(t->session, key, &change, 1), CKR_ATTRIBUTE_READ_ONLY);
}

static void import_refusals(void **state)
{
    fx *t = *state;
    CK_OBJECT_HANDLE h;
    unsigned char value[24];
    memcpy(value, sp800_67_key, 24);
    value[3] ^= 1; /* parity */
    assert_rv(make_key(t->session, CKK_DES3, value, 24, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(make_key(t->session, CKK_DES3, sp800_67_key, 16, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(make_key(t->session, CKK_DES2, sp800_67_key, 24, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID);
    memcpy(value, sp800_67_key, 8);
    memcpy(value + 8, sp800_67_key, 8); /* K1 = K2 */
    assert_rv(make_key(t->session, CKK_DES2, value, 16, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID);
    memcpy(value, sp800_67_key, 16);
    memcpy(value + 16, sp800_67_key + 8, 8); /* K2 = K3 */
    assert_rv(make_key(t->session, CKK_DES3, value, 24, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID);
    assert_rv(make_key(t->session, CKK_DES, sp800_67_key, 8, CKA_ENCRYPT, false, &h),
              CKR_ATTRIBUTE_VALUE_INVALID); /* no single DES */
}

/* ---- MACs ------------------------------------------------------------------- */

static void macs(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    /* SP 800-38B D.3's two-key TDEA key (its bytes have odd parity) */
    static const unsigned char key2[16] = {0x4C, 0xF1, 0x51, 0x34, 0xA2, 0x85, 0x0D, 0xD5,
                                           0x8A, 0x3D, 0x10, 0xBA, 0x80, 0x57, 0x0D, 0x38};
    static const unsigned char msg[8] = {0x6B, 0xC1, 0xBE, 0xE2, 0x2E, 0x40, 0x9F, 0x96};
    static const unsigned char tag[8] = {0x4F, 0xF2, 0xAB, 0x81, 0x3C, 0x53, 0xCE, 0x83};
    CK_OBJECT_HANDLE key, verify_key;
    assert_rv(make_key(t->session, CKK_DES2, key2, 16, CKA_SIGN, false, &key), CKR_OK);
    assert_rv(make_key(t->session, CKK_DES2, key2, 16, CKA_VERIFY, false, &verify_key), CKR_OK);
    CK_MECHANISM cmac = {CKM_DES3_CMAC, NULL, 0};
    unsigned char out[8];
    CK_ULONG len = sizeof(out);
    assert_rv(f->C_SignInit(t->session, &cmac, key), CKR_OK);
    assert_rv(f->C_Sign(t->session, (CK_BYTE_PTR)msg, sizeof(msg), out, &len), CKR_OK);
    assert_int_equal(len, 8);
    assert_memory_equal(out, tag, 8);
    assert_rv(f->C_VerifyInit(t->session, &cmac, verify_key), CKR_OK);
    assert_rv(f->C_Verify(t->session, (CK_BYTE_PTR)msg, sizeof(msg), out, 8), CKR_OK);
    out[0] ^= 1;
    assert_rv(f->C_VerifyInit(t->session, &cmac, verify_key), CKR_OK);
    assert_rv(f->C_Verify(t->session, (CK_BYTE_PTR)msg, sizeof(msg), out, 8), CKR_SIGNATURE_INVALID);
    /* general lengths: 4 works (the first 4 bytes), 9 and 0 are refused */
    CK_MAC_GENERAL_PARAMS four = 4, nine = 9, zero = 0;
    CK_MECHANISM general = {CKM_DES3_CMAC_GENERAL, &four, sizeof(four)};
    len = sizeof(out);
    assert_rv(f->C_SignInit(t->session, &general, key), CKR_OK);
    assert_rv(f->C_Sign(t->session, (CK_BYTE_PTR)msg, sizeof(msg), out, &len), CKR_OK);
    assert_int_equal(len, 4);
    assert_memory_equal(out, tag, 4);
    general.pParameter = &nine;
    assert_rv(f->C_SignInit(t->session, &general, key), CKR_MECHANISM_PARAM_INVALID);
    general.pParameter = &zero;
    general.mechanism = CKM_DES3_MAC_GENERAL;
    assert_rv(f->C_SignInit(t->session, &general, key), CKR_MECHANISM_PARAM_INVALID);
    general.pParameter = NULL;
    assert_rv(f->C_SignInit(t->session, &general, key), CKR_MECHANISM_PARAM_INVALID);
    /* CBC-MAC: half a block */
    CK_MECHANISM mac = {CKM_DES3_MAC, NULL, 0};
    len = sizeof(out);
    assert_rv(f->C_SignInit(t->session, &mac, key), CKR_OK);
    assert_rv(f->C_Sign(t->session, (CK_BYTE_PTR)msg, sizeof(msg), out, &len), CKR_OK);
    assert_int_equal(len, 4);
    /* a key of another type */
    unsigned char aes[16] = {1};
    CK_OBJECT_HANDLE aes_key;
    assert_rv(make_key(t->session, CKK_AES, aes, 16, CKA_SIGN, false, &aes_key), CKR_OK);
    assert_rv(f->C_SignInit(t->session, &cmac, aes_key), CKR_KEY_TYPE_INCONSISTENT);
}

/* ---- wrapping ------------------------------------------------------------------ */

static CK_OBJECT_HANDLE kek(CK_SESSION_HANDLE s)
{
    CK_KEY_TYPE type = CKK_DES3;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, (void *)sp800_67_key, 24},
                           {CKA_WRAP, &yes, sizeof(yes)},
                           {CKA_UNWRAP, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE h;
    assert_rv(fx_functions()->C_CreateObject(s, tmpl, N_OF(tmpl), &h), CKR_OK);
    return h;
}

static CK_RV unwrap(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE with,
                    unsigned char *blob, CK_ULONG len, CK_KEY_TYPE type, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_ENCRYPT, &yes, sizeof(yes)}};
    return fx_functions()->C_UnwrapKey(s, mech, with, blob, len, tmpl, N_OF(tmpl), out);
}

static void wrap_unwrap(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    CK_OBJECT_HANDLE wrapping = kek(t->session), target, back;
    unsigned char aes[32];
    for (size_t i = 0; i < sizeof(aes); i++)
        aes[i] = (unsigned char)(i * 7);
    assert_rv(fx_create_aes(t->session, "target", false, true, true, aes, 32, &target), CKR_OK);
    unsigned char kcv[3], kcv_back[3], iv[8] = {9, 8, 7, 6, 5, 4, 3, 2}, blob[64];
    read_check_value(t->session, target, kcv);
    CK_MECHANISM mechs[] = {{CKM_DES3_ECB, NULL, 0},
                            {CKM_DES3_CBC, iv, sizeof(iv)},
                            {CKM_DES3_CBC_PAD, iv, sizeof(iv)}};
    for (size_t m = 0; m < N_OF(mechs); m++) {
        CK_ULONG len = 0;
        assert_rv(f->C_WrapKey(t->session, &mechs[m], wrapping, target, NULL, &len), CKR_OK);
        assert_int_equal(len, mechs[m].mechanism == CKM_DES3_CBC_PAD ? 40 : 32);
        assert_rv(f->C_WrapKey(t->session, &mechs[m], wrapping, target, blob, &len), CKR_OK);
        assert_rv(unwrap(t->session, &mechs[m], wrapping, blob, len, CKK_AES, &back), CKR_OK);
        read_check_value(t->session, back, kcv_back); /* the same key came back */
        assert_memory_equal(kcv, kcv_back, 3);
    }
    /* the check value the sender gave with the wrapped key is checked */
    CK_KEY_TYPE aes_type = CKK_AES;
    CK_ATTRIBUTE with_kcv[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                               {CKA_KEY_TYPE, &aes_type, sizeof(aes_type)},
                               {CKA_ENCRYPT, &yes, sizeof(yes)},
                               {CKA_CHECK_VALUE, kcv, 3}};
    CK_ULONG blob_len = sizeof(blob);
    assert_rv(f->C_WrapKey(t->session, &mechs[2], wrapping, target, blob, &blob_len), CKR_OK);
    assert_rv(f->C_UnwrapKey(t->session, &mechs[2], wrapping, blob, blob_len, with_kcv, 4, &back),
              CKR_OK);
    kcv[0] ^= 0x80;
    assert_rv(f->C_UnwrapKey(t->session, &mechs[2], wrapping, blob, blob_len, with_kcv, 4, &back),
              CKR_ATTRIBUTE_VALUE_INVALID);
    /* a wrapped DES3 key of bad parity, and one too short for its type */
    unsigned char bad[24];
    memcpy(bad, sp800_67_key, 24);
    bad[0] ^= 1;
    CK_OBJECT_HANDLE generic;
    assert_rv(make_key(t->session, CKK_GENERIC_SECRET, bad, 24, CKA_DERIVE, true, &generic),
              CKR_OK);
    CK_ULONG len = sizeof(blob);
    assert_rv(f->C_WrapKey(t->session, &mechs[0], wrapping, generic, blob, &len), CKR_OK);
    assert_rv(unwrap(t->session, &mechs[0], wrapping, blob, len, CKK_DES3, &back),
              CKR_WRAPPED_KEY_INVALID);
    assert_rv(unwrap(t->session, &mechs[0], wrapping, blob, 16, CKK_DES3, &back),
              CKR_WRAPPED_KEY_LEN_RANGE);
    assert_rv(unwrap(t->session, &mechs[0], wrapping, blob, 20, CKK_DES3, &back),
              CKR_WRAPPED_KEY_LEN_RANGE);
    /* ECB cannot wrap a value that is not whole blocks */
    CK_OBJECT_HANDLE odd;
    assert_rv(make_key(t->session, CKK_GENERIC_SECRET, aes, 20, CKA_DERIVE, true, &odd), CKR_OK);
    len = sizeof(blob);
    assert_rv(f->C_WrapKey(t->session, &mechs[0], wrapping, odd, blob, &len), CKR_KEY_SIZE_RANGE);
}

/* ---- derivation ------------------------------------------------------------------ */

static CK_RV derive_mk(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE base, CK_BBOOL *sensitive,
                       CK_OBJECT_HANDLE *out)
{
    CK_KEY_DERIVATION_STRING_DATA param = {emv_data, sizeof(emv_data)};
    CK_MECHANISM mech = {CKM_DES3_ECB_ENCRYPT_DATA, &param, sizeof(param)};
    CK_KEY_TYPE type = CKK_DES2;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &secret_class, sizeof(secret_class)},
                           {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_DERIVE, &yes, sizeof(yes)},
                           {CKA_SENSITIVE, sensitive, sizeof(*sensitive)},
                           {CKA_EXTRACTABLE, sensitive == &no ? &yes : &no, sizeof(yes)}};
    return fx_functions()->C_DeriveKey(s, &mech, base, tmpl, sensitive ? 5 : 3, out);
}

static void derive_card_key(void **state)
{
    fx *t = *state;
    CK_FUNCTION_LIST_PTR f = t->f;
    /* a readable issuer master key: the card key is readable, and EMV's */
    CK_OBJECT_HANDLE open_imk, mk;
    assert_rv(make_key(t->session, CKK_DES2, imk, 16, CKA_DERIVE, true, &open_imk), CKR_OK);
    assert_rv(derive_mk(t->session, open_imk, &no, &mk), CKR_OK);
    unsigned char value[16], kcv_open[3], kcv_sealed[3];
    CK_ATTRIBUTE attr = {CKA_VALUE, value, sizeof(value)};
    assert_rv(f->C_GetAttributeValue(t->session, mk, &attr, 1), CKR_OK);
    assert_int_equal(attr.ulValueLen, 16);
    assert_memory_equal(value, emv_mk, 16);
    assert_int_equal(fx_get_ulong(t->session, mk, CKA_KEY_TYPE), CKK_DES2);
    read_check_value(t->session, mk, kcv_open);

    /* a sensitive one: the card key stays sensitive, its check value reads
     * and is the same key's */
    CK_OBJECT_HANDLE sealed_imk, sealed_mk;
    assert_rv(make_key(t->session, CKK_DES2, imk, 16, CKA_DERIVE, false, &sealed_imk), CKR_OK);
    assert_rv(derive_mk(t->session, sealed_imk, &no, &sealed_mk), CKR_TEMPLATE_INCONSISTENT);
    assert_rv(derive_mk(t->session, sealed_imk, NULL, &sealed_mk), CKR_OK);
    assert_true(fx_get_bool(t->session, sealed_mk, CKA_SENSITIVE));
    assert_rv(f->C_GetAttributeValue(t->session, sealed_mk, &attr, 1), CKR_ATTRIBUTE_SENSITIVE);
    read_check_value(t->session, sealed_mk, kcv_sealed);
    assert_memory_equal(kcv_open, kcv_sealed, 3);

    /* refusals: NULL parameter, data not whole blocks, a base of another type */
    CK_KEY_TYPE type = CKK_DES2;
    CK_ATTRIBUTE tmpl[] = {{CKA_KEY_TYPE, &type, sizeof(type)}};
    CK_MECHANISM null_param = {CKM_DES3_ECB_ENCRYPT_DATA, NULL, 0};
    assert_rv(f->C_DeriveKey(t->session, &null_param, open_imk, tmpl, 1, &mk),
              CKR_MECHANISM_PARAM_INVALID);
    CK_KEY_DERIVATION_STRING_DATA odd = {emv_data, 12};
    CK_MECHANISM odd_mech = {CKM_DES3_ECB_ENCRYPT_DATA, &odd, sizeof(odd)};
    assert_rv(f->C_DeriveKey(t->session, &odd_mech, open_imk, tmpl, 1, &mk), CKR_DATA_LEN_RANGE);
    unsigned char aes[16] = {2};
    CK_OBJECT_HANDLE aes_base;
    assert_rv(make_key(t->session, CKK_AES, aes, 16, CKA_DERIVE, true, &aes_base), CKR_OK);
    odd.ulLen = 16;
    assert_rv(f->C_DeriveKey(t->session, &odd_mech, aes_base, tmpl, 1, &mk),
              CKR_KEY_TYPE_INCONSISTENT);
}

/* ---- mechanism info ---------------------------------------------------------------- */

static void mechanism_info(void **state)
{
    fx *t = *state;
    static const struct {
        CK_MECHANISM_TYPE type;
        CK_ULONG min, max;
        CK_FLAGS flags;
    } rows[] = {
        {CKM_DES2_KEY_GEN, 16, 16, CKF_GENERATE},
        {CKM_DES3_KEY_GEN, 24, 24, CKF_GENERATE},
        {CKM_DES3_ECB, 16, 24, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
        {CKM_DES3_CBC, 16, 24, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
        {CKM_DES3_CBC_PAD, 16, 24, CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP},
        {CKM_DES3_MAC, 16, 24, CKF_SIGN | CKF_VERIFY},
        {CKM_DES3_MAC_GENERAL, 16, 24, CKF_SIGN | CKF_VERIFY},
        {CKM_DES3_CMAC, 16, 24, CKF_SIGN | CKF_VERIFY},
        {CKM_DES3_CMAC_GENERAL, 16, 24, CKF_SIGN | CKF_VERIFY},
        {CKM_DES3_ECB_ENCRYPT_DATA, 16, 24, CKF_DERIVE},
        {CKM_DES3_CBC_ENCRYPT_DATA, 16, 24, CKF_DERIVE},
        {CKM_AES_ECB_ENCRYPT_DATA, 16, 32, CKF_DERIVE},
        {CKM_AES_CBC_ENCRYPT_DATA, 16, 32, CKF_DERIVE},
    };
    for (size_t i = 0; i < N_OF(rows); i++) {
        CK_MECHANISM_INFO info;
        assert_rv(t->f->C_GetMechanismInfo(t->slot, rows[i].type, &info), CKR_OK);
        assert_int_equal(info.ulMinKeySize, rows[i].min);
        assert_int_equal(info.ulMaxKeySize, rows[i].max);
        assert_int_equal(info.flags, rows[i].flags | CKF_HW);
    }
    /* no single DES */
    static const CK_MECHANISM_TYPE absent[] = {CKM_DES_KEY_GEN, CKM_DES_ECB, CKM_DES_CBC,
                                               CKM_DES_MAC, CKM_DES_ECB_ENCRYPT_DATA};
    for (size_t i = 0; i < N_OF(absent); i++) {
        CK_MECHANISM_INFO info;
        assert_rv(t->f->C_GetMechanismInfo(t->slot, absent[i], &info), CKR_MECHANISM_INVALID);
    }
}

int main(void)
{
    fx_own_rot_dir(true);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(generate_and_encrypt, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(known_key_and_check_value, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(import_refusals, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(macs, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(wrap_unwrap, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(derive_card_key, fx_setup_user, fx_teardown),
        cmocka_unit_test_setup_teardown(mechanism_info, fx_setup_token, fx_teardown),
    };
    return cmocka_run_group_tests_name("des3", tests, NULL, NULL);
}
