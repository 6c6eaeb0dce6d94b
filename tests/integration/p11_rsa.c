/*
 * p11-rsa — what pkcs11-tool cannot do, for tests/integration/rsa-cards.sh:
 * RSA key pairs with a chosen exponent and CKA_SIGN_RECOVER, and
 * C_SignRecover / C_VerifyRecover / C_Encrypt / C_Decrypt with
 * CKM_RSA_X_509 or CKM_RSA_PKCS, one call per process, files in and out.
 *
 *   p11-rsa MODULE PIN LABEL keygen BITS EXPONENT_HEX
 *   p11-rsa MODULE PIN LABEL sign-recover|verify-recover|encrypt|decrypt x509|pkcs IN OUT
 *
 * The token is the one labelled "t"; the keys are token objects labelled
 * LABEL, with LABEL's bytes as CKA_ID.  On a PKCS#11 error it prints "CALL: CKR_..." and exits 1.
 */
#include <dlfcn.h>
#include <pkcs11.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "p11_fixture.h"

#define MAX_BYTES 1024

static CK_FUNCTION_LIST_PTR f;

static void check(CK_RV rv, const char *what)
{
    if (rv == CKR_OK)
        return;
    printf("%s: %s\n", what, fx_rv_name(rv));
    exit(1);
}

static size_t read_all(const char *path, unsigned char *buf)
{
    FILE *in = fopen(path, "rb");
    if (!in) {
        perror(path);
        exit(2);
    }
    size_t len = fread(buf, 1, MAX_BYTES, in);
    fclose(in);
    return len;
}

static void write_all(const char *path, const unsigned char *buf, size_t len)
{
    FILE *out = fopen(path, "wb");
    if (!out || fwrite(buf, 1, len, out) != len || fclose(out) != 0) {
        perror(path);
        exit(2);
    }
}

static CK_SESSION_HANDLE open_token(const char *pin)
{
    CK_SLOT_ID slots[16];
    CK_ULONG count = 16;
    check(f->C_GetSlotList(CK_TRUE, slots, &count), "C_GetSlotList");
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        check(f->C_GetTokenInfo(slots[i], &info), "C_GetTokenInfo");
        if (memcmp(info.label, "t ", 2) != 0)
            continue;
        CK_SESSION_HANDLE s;
        check(f->C_OpenSession(slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s),
              "C_OpenSession");
        check(f->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)pin, strlen(pin)), "C_Login");
        return s;
    }
    fprintf(stderr, "no token labelled t\n");
    exit(2);
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s, const char *label, CK_OBJECT_CLASS cls)
{
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)},
                           {CKA_LABEL, (void *)label, strlen(label)}};
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_ULONG found = 0;
    check(f->C_FindObjectsInit(s, tmpl, 2), "C_FindObjectsInit");
    check(f->C_FindObjects(s, &h, 1, &found), "C_FindObjects");
    check(f->C_FindObjectsFinal(s), "C_FindObjectsFinal");
    if (found != 1) {
        fprintf(stderr, "no key %s\n", label);
        exit(2);
    }
    return h;
}

static void keygen(CK_SESSION_HANDLE s, const char *label, CK_ULONG bits, const char *e_hex)
{
    unsigned char e[8];
    size_t e_len = strlen(e_hex) / 2;
    for (size_t i = 0; i < e_len && i < sizeof(e); i++)
        sscanf(e_hex + 2 * i, "%2hhx", &e[i]);
    CK_BBOOL yes = CK_TRUE;
    CK_MECHANISM mech = {CKM_RSA_PKCS_KEY_PAIR_GEN, NULL, 0};
    /* CKA_ID: the label's bytes, for pkcs11-tool's --id. */
    CK_ATTRIBUTE pub[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                          {CKA_LABEL, (void *)label, strlen(label)},
                          {CKA_ID, (void *)label, strlen(label)},
                          {CKA_MODULUS_BITS, &bits, sizeof(bits)},
                          {CKA_PUBLIC_EXPONENT, e, e_len}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, sizeof(yes)},
                           {CKA_LABEL, (void *)label, strlen(label)},
                           {CKA_ID, (void *)label, strlen(label)},
                           {CKA_SIGN_RECOVER, &yes, sizeof(yes)}};
    CK_OBJECT_HANDLE hpub, hpriv;
    check(f->C_GenerateKeyPair(s, &mech, pub, 5, priv, 4, &hpub, &hpriv), "C_GenerateKeyPair");
}

/* One single-part operation: init, size query, call. */
static void operate(CK_SESSION_HANDLE s, const char *label, const char *op, const char *mech_name,
                    const char *in_path, const char *out_path)
{
    CK_MECHANISM mech = {strcmp(mech_name, "pkcs") == 0 ? CKM_RSA_PKCS : CKM_RSA_X_509, NULL, 0};
    static const struct {
        const char *name;
        CK_OBJECT_CLASS cls; /* of the key it takes */
    } ops[] = {{"sign-recover", CKO_PRIVATE_KEY},
               {"verify-recover", CKO_PUBLIC_KEY},
               {"encrypt", CKO_PUBLIC_KEY},
               {"decrypt", CKO_PRIVATE_KEY}};
    size_t which = 0;
    while (which < 4 && strcmp(ops[which].name, op) != 0)
        which++;
    if (which == 4) {
        fprintf(stderr, "unknown operation %s\n", op);
        exit(2);
    }
    CK_OBJECT_HANDLE key = find_key(s, label, ops[which].cls);
    unsigned char in[MAX_BYTES], out[MAX_BYTES];
    CK_ULONG in_len = read_all(in_path, in), out_len = 0;
    const CK_C_SignRecoverInit inits[] = {f->C_SignRecoverInit, f->C_VerifyRecoverInit,
                                          f->C_EncryptInit, f->C_DecryptInit};
    const CK_C_SignRecover calls[] = {f->C_SignRecover, f->C_VerifyRecover, f->C_Encrypt,
                                      f->C_Decrypt};
    check(inits[which](s, &mech, key), op);
    check(calls[which](s, in, in_len, NULL, &out_len), op);
    if (out_len > sizeof(out)) {
        fprintf(stderr, "%s: %lu bytes asked\n", op, (unsigned long)out_len);
        exit(2);
    }
    check(calls[which](s, in, in_len, out, &out_len), op);
    write_all(out_path, out, out_len);
}

int main(int argc, char **argv)
{
    if (argc < 6) {
        fprintf(stderr, "usage: see the head of p11_rsa.c\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW);
    CK_C_GetFunctionList get = lib ? (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList") : NULL;
    if (!get || get(&f) != CKR_OK) {
        fprintf(stderr, "cannot load %s\n", argv[1]);
        return 2;
    }
    check(f->C_Initialize(NULL), "C_Initialize");
    CK_SESSION_HANDLE s = open_token(argv[2]);
    if (strcmp(argv[4], "keygen") == 0 && argc == 7)
        keygen(s, argv[3], strtoul(argv[5], NULL, 10), argv[6]);
    else if (argc == 8)
        operate(s, argv[3], argv[4], argv[5], argv[6], argv[7]);
    else
        return 2;
    check(f->C_Finalize(NULL), "C_Finalize");
    return 0;
}
