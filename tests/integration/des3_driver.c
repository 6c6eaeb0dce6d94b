/*
 * des3_driver — one operation of the built module on a fresh token,
 * printed in hex, for des3-openssl.sh to hold against the openssl
 * command line:
 *
 *   des3_driver encrypt MECH KEYTYPE KEY IV DATA   the ciphertext
 *   des3_driver mac MECH KEYTYPE KEY LEN DATA      the MAC (LEN: _GENERAL)
 *   des3_driver derive MECH KEYTYPE KEY IV DATA OUTTYPE
 *                                                  the derived key's value
 *   des3_driver kcv KEYTYPE KEY                     CKA_CHECK_VALUE
 *
 * KEY, IV and DATA in hex ("-" for none); MECH as pkcs11-tool names it
 * (DES3-CBC-PAD…), KEYTYPE DES2, DES3, AES or GENERIC.  Exit 0 with the
 * output on stdout, 1 with the CKR_ name on stderr.
 */
#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifndef CKM_DES3_CMAC
#define CKM_DES3_CMAC 0x00000138UL
#define CKM_DES3_CMAC_GENERAL 0x00000137UL
#endif

static const struct {
    const char *name;
    CK_ULONG value;
} mechs[] = {
    {"DES3-ECB", CKM_DES3_ECB},
    {"DES3-CBC", CKM_DES3_CBC},
    {"DES3-CBC-PAD", CKM_DES3_CBC_PAD},
    {"DES3-MAC", CKM_DES3_MAC},
    {"DES3-MAC-GENERAL", CKM_DES3_MAC_GENERAL},
    {"DES3-CMAC", CKM_DES3_CMAC},
    {"DES3-CMAC-GENERAL", CKM_DES3_CMAC_GENERAL},
    {"DES3-ECB-ENCRYPT-DATA", CKM_DES3_ECB_ENCRYPT_DATA},
    {"DES3-CBC-ENCRYPT-DATA", CKM_DES3_CBC_ENCRYPT_DATA},
    {"AES-ECB-ENCRYPT-DATA", CKM_AES_ECB_ENCRYPT_DATA},
    {"AES-CBC-ENCRYPT-DATA", CKM_AES_CBC_ENCRYPT_DATA},
}, key_types[] = {
    {"DES2", CKK_DES2}, {"DES3", CKK_DES3}, {"AES", CKK_AES}, {"GENERIC", CKK_GENERIC_SECRET},
};

static CK_ULONG lookup(const char *name, bool key_type)
{
    size_t n = key_type ? sizeof(key_types) / sizeof(key_types[0]) : sizeof(mechs) / sizeof(mechs[0]);
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, key_type ? key_types[i].name : mechs[i].name) == 0)
            return key_type ? key_types[i].value : mechs[i].value;
    fprintf(stderr, "unknown %s %s\n", key_type ? "key type" : "mechanism", name);
    exit(2);
}

/* Hex to bytes; "-" is empty.  The caller frees. */
static unsigned char *unhex(const char *text, CK_ULONG *len)
{
    size_t n = strcmp(text, "-") == 0 ? 0 : strlen(text) / 2;
    unsigned char *out = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        if (sscanf(text + 2 * i, "%2x", &byte) != 1) {
            fprintf(stderr, "bad hex %s\n", text);
            exit(2);
        }
        out[i] = (unsigned char)byte;
    }
    *len = n;
    return out;
}

static void print_hex(const unsigned char *data, CK_ULONG len)
{
    for (CK_ULONG i = 0; i < len; i++)
        printf("%02X", data[i]);
    printf("\n");
}

static int failed(const char *what, CK_RV rv)
{
    fprintf(stderr, "%s: %s\n", what, fx_rv_name(rv));
    return 1;
}

/* A readable session key: what is derived from it may be read too. */
static CK_RV make_key(CK_SESSION_HANDLE s, const char *type_name, const char *hex_value,
                      CK_ATTRIBUTE_TYPE usage, CK_OBJECT_HANDLE *h)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = lookup(type_name, true);
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ULONG len;
    unsigned char *value = unhex(hex_value, &len);
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_VALUE, value, len},             {usage, &yes, sizeof(yes)},
                           {CKA_SENSITIVE, &no, sizeof(no)},   {CKA_EXTRACTABLE, &yes, sizeof(yes)}};
    CK_RV rv = fx_functions()->C_CreateObject(s, tmpl, 6, h);
    free(value);
    return rv;
}

static int encrypt(CK_SESSION_HANDLE s, char **argv)
{
    CK_OBJECT_HANDLE key;
    CK_RV rv = make_key(s, argv[1], argv[2], CKA_ENCRYPT, &key);
    if (rv != CKR_OK)
        return failed("C_CreateObject", rv);
    CK_ULONG iv_len, len;
    unsigned char *iv = unhex(argv[3], &iv_len), *data = unhex(argv[4], &len);
    CK_MECHANISM mech = {lookup(argv[0], false), iv_len ? iv : NULL, iv_len};
    CK_ULONG out_len = 0;
    rv = fx_functions()->C_EncryptInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = fx_functions()->C_Encrypt(s, data, len, NULL, &out_len);
    unsigned char *out = malloc(out_len + 1);
    if (rv == CKR_OK)
        rv = fx_functions()->C_Encrypt(s, data, len, out, &out_len);
    if (rv == CKR_OK)
        print_hex(out, out_len);
    free(iv);
    free(data);
    free(out);
    return rv == CKR_OK ? 0 : failed("C_Encrypt", rv);
}

static int mac(CK_SESSION_HANDLE s, char **argv)
{
    CK_OBJECT_HANDLE key;
    CK_RV rv = make_key(s, argv[1], argv[2], CKA_SIGN, &key);
    if (rv != CKR_OK)
        return failed("C_CreateObject", rv);
    CK_MAC_GENERAL_PARAMS general = strtoul(argv[3], NULL, 10);
    CK_MECHANISM mech = {lookup(argv[0], false), general ? &general : NULL,
                         general ? sizeof(general) : 0};
    CK_ULONG len, out_len = 8;
    unsigned char *data = unhex(argv[4], &len), out[8];
    rv = fx_functions()->C_SignInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = fx_functions()->C_Sign(s, data, len, out, &out_len);
    if (rv == CKR_OK)
        print_hex(out, out_len);
    free(data);
    return rv == CKR_OK ? 0 : failed("C_Sign", rv);
}

static int derive(CK_SESSION_HANDLE s, char **argv)
{
    CK_OBJECT_HANDLE base, key;
    CK_RV rv = make_key(s, argv[1], argv[2], CKA_DERIVE, &base);
    if (rv != CKR_OK)
        return failed("C_CreateObject", rv);
    CK_ULONG iv_len, len;
    unsigned char *iv = unhex(argv[3], &iv_len), *data = unhex(argv[4], &len);
    CK_KEY_DERIVATION_STRING_DATA ecb = {data, len};
    CK_DES_CBC_ENCRYPT_DATA_PARAMS des_cbc = {{0}, data, len};
    CK_AES_CBC_ENCRYPT_DATA_PARAMS aes_cbc = {{0}, data, len};
    memcpy(des_cbc.iv, iv, iv_len < 8 ? iv_len : 8);
    memcpy(aes_cbc.iv, iv, iv_len < 16 ? iv_len : 16);
    CK_MECHANISM mech = {lookup(argv[0], false), &ecb, sizeof(ecb)};
    if (mech.mechanism == CKM_DES3_CBC_ENCRYPT_DATA)
        mech = (CK_MECHANISM){mech.mechanism, &des_cbc, sizeof(des_cbc)};
    if (mech.mechanism == CKM_AES_CBC_ENCRYPT_DATA)
        mech = (CK_MECHANISM){mech.mechanism, &aes_cbc, sizeof(aes_cbc)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = lookup(argv[5], true);
    CK_ULONG value_len = len;
    CK_BBOOL no = CK_FALSE, yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},      {CKA_KEY_TYPE, &type, sizeof(type)},
                           {CKA_SENSITIVE, &no, sizeof(no)},    {CKA_EXTRACTABLE, &yes, sizeof(yes)},
                           {CKA_VALUE_LEN, &value_len, sizeof(value_len)}};
    bool with_len = type == CKK_AES; /* DES2/DES3 have a fixed length */
    rv = fx_functions()->C_DeriveKey(s, &mech, base, tmpl, with_len ? 5 : 4, &key);
    unsigned char value[64];
    CK_ATTRIBUTE read = {CKA_VALUE, value, sizeof(value)};
    if (rv == CKR_OK)
        rv = fx_functions()->C_GetAttributeValue(s, key, &read, 1);
    if (rv == CKR_OK)
        print_hex(value, read.ulValueLen);
    free(iv);
    free(data);
    return rv == CKR_OK ? 0 : failed("C_DeriveKey", rv);
}

static int kcv(CK_SESSION_HANDLE s, char **argv)
{
    CK_OBJECT_HANDLE key;
    CK_RV rv = make_key(s, argv[0], argv[1], CKA_DERIVE, &key);
    unsigned char value[3];
    CK_ATTRIBUTE read = {CKA_CHECK_VALUE, value, sizeof(value)};
    if (rv == CKR_OK)
        rv = fx_functions()->C_GetAttributeValue(s, key, &read, 1);
    if (rv == CKR_OK)
        print_hex(value, read.ulValueLen);
    return rv == CKR_OK ? 0 : failed("CKA_CHECK_VALUE", rv);
}

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int args;
        int (*run)(CK_SESSION_HANDLE, char **);
    } commands[] = {{"encrypt", 5, encrypt}, {"mac", 5, mac}, {"derive", 6, derive}, {"kcv", 2, kcv}};
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (argc < 2 || strcmp(argv[1], commands[i].name) != 0)
            continue;
        if (argc != commands[i].args + 2) {
            fprintf(stderr, "%s takes %d arguments\n", commands[i].name, commands[i].args);
            return 2;
        }
        void *state = NULL;
        fx_own_rot_dir(true);
        if (fx_setup_user(&state) != 0)
            return 1;
        fx *t = state;
        int status = commands[i].run(t->session, argv + 2);
        fx_teardown(&state);
        return status;
    }
    fprintf(stderr, "usage: %s encrypt|mac|derive|kcv …\n", argv[0]);
    return 2;
}
