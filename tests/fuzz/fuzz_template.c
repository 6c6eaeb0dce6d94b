/*
 * fuzz_template.c — attribute templates through the real entry points:
 * C_CreateObject, C_CopyObject, C_FindObjectsInit/C_FindObjects,
 * C_GetAttributeValue and C_SetAttributeValue on a logged-in session.
 *
 * Input: u8 ops, a create template, u8 fixed object, then as ops asks a
 * get template (bit 1), a set template (bit 2), a copy template (bit 3)
 * and a get template on the copy (bit 4), a find template (bit 5), in
 * that order (encoding in fuzz_common.c; make_corpus.py writes seeds).  Besides memory
 * errors (AddressSanitizer) the run checks what PKCS#11 promises whatever
 * the template:
 *   - a sensitive or unextractable key never reveals its key material
 *     (PKCS#11 3.0 §4.9: CKR_ATTRIBUTE_SENSITIVE), before or after any
 *     C_SetAttributeValue or C_CopyObject;
 *   - CKA_SENSITIVE never goes back to FALSE, CKA_EXTRACTABLE never to
 *     TRUE (§4.9, "can only be changed to CK_TRUE/CK_FALSE");
 *   - every CK_BBOOL attribute reads CK_TRUE or CK_FALSE (§2.2), since
 *     consumers and templates compare them bytewise;
 *   - C_GetAttributeValue writes no further than each ulValueLen, and a
 *     CKR_OK leaves no entry CK_UNAVAILABLE_INFORMATION (§5.7);
 *   - C_FindObjects returns at most the maximum asked, and only handles
 *     whose CKA_CLASS can be read.
 * Objects made by a run are destroyed by it; the token is re-initialized
 * when undestroyable ones pile up.
 */
#include "fuzz_common.h"

#include <stdio.h>
#include <string.h>

static fz_module m;
static CK_OBJECT_HANDLE fixed[4]; /* objects made at setup that a run may read and change */
static size_t fixed_count;
static unsigned leftovers;        /* objects a run could not destroy */
static unsigned long runs;        /* since the last reset: audit records pile up too */

static const CK_ATTRIBUTE_TYPE key_material[] = {
    CKA_VALUE,    CKA_PRIVATE_EXPONENT, CKA_PRIME_1,     CKA_PRIME_2,
    CKA_EXPONENT_1, CKA_EXPONENT_2,     CKA_COEFFICIENT,
};

typedef struct key_state {
    bool readable;  /* CKA_CLASS could be read */
    CK_OBJECT_CLASS cls;
    bool is_key;    /* secret or private key */
    bool sensitive; /* CKA_SENSITIVE TRUE */
    bool unextractable;
} key_state;

/* PKCS#11 3.0 §2.2 (CK_BBOOL): CK_TRUE or CK_FALSE, nothing else. */
static const CK_ATTRIBUTE_TYPE bools[] = {
    CKA_TOKEN,      CKA_PRIVATE,     CKA_MODIFIABLE,   CKA_COPYABLE,        CKA_DESTROYABLE,
    CKA_SENSITIVE,  CKA_EXTRACTABLE, CKA_ENCRYPT,      CKA_DECRYPT,         CKA_SIGN,
    CKA_VERIFY,     CKA_WRAP,        CKA_UNWRAP,       CKA_DERIVE,          CKA_LOCAL,
    CKA_TRUSTED,    CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE, CKA_ALWAYS_AUTHENTICATE,
    CKA_WRAP_WITH_TRUSTED, CKA_SIGN_RECOVER, CKA_VERIFY_RECOVER,
};

/* A CK_BBOOL as the module itself reads it (anything but CK_FALSE is true). */
static bool get_bool(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, bool *out)
{
    CK_BBOOL v = CK_FALSE;
    CK_ATTRIBUTE a = {type, &v, sizeof(v)};
    if (m.f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
        return false;
    *out = v != CK_FALSE;
    return true;
}

/* Every CK_BBOOL attribute of the object reads CK_TRUE or CK_FALSE. */
static void check_bools(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const char *when)
{
    if (fz_skip_known())
        return;
    for (size_t i = 0; i < FZ_ARRAY_SIZE(bools); i++) {
        CK_BYTE v[8];
        CK_ATTRIBUTE a = {bools[i], v, sizeof(v)};
        if (m.f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
            continue;
        FZ_CHECK(a.ulValueLen == sizeof(CK_BBOOL) && (v[0] == CK_TRUE || v[0] == CK_FALSE),
                 "%s: CK_BBOOL attribute 0x%lx reads %lu byte(s), first 0x%02x", when,
                 (unsigned long)bools[i], (unsigned long)a.ulValueLen, v[0]);
    }
}

static key_state read_state(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    key_state k = {0};
    CK_OBJECT_CLASS cls = 0;
    CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};
    if (m.f->C_GetAttributeValue(s, h, &a, 1) != CKR_OK)
        return k;
    k.readable = true;
    k.cls = cls;
    k.is_key = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY;
    bool v;
    if (k.is_key && get_bool(s, h, CKA_SENSITIVE, &v))
        k.sensitive = v;
    if (k.is_key && get_bool(s, h, CKA_EXTRACTABLE, &v))
        k.unextractable = !v;
    return k;
}

/* A sensitive or unextractable key: no key material comes out. */
static void check_protected(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, const key_state *k,
                            const char *when)
{
    if (!k->is_key || !(k->sensitive || k->unextractable))
        return;
    for (size_t i = 0; i < FZ_ARRAY_SIZE(key_material); i++) {
        unsigned char buf[1024];
        CK_ATTRIBUTE a = {key_material[i], buf, sizeof(buf)};
        CK_RV rv = m.f->C_GetAttributeValue(s, h, &a, 1);
        FZ_CHECK(rv != CKR_OK && rv != CKR_BUFFER_TOO_SMALL,
                 "%s: C_GetAttributeValue(0x%lx) of a %s key (class %lu) returned 0x%lx", when,
                 (unsigned long)key_material[i], k->sensitive ? "sensitive" : "unextractable",
                 (unsigned long)k->cls, (unsigned long)rv);
        a.pValue = NULL;
        rv = m.f->C_GetAttributeValue(s, h, &a, 1);
        FZ_CHECK(rv != CKR_OK || a.ulValueLen == CK_UNAVAILABLE_INFORMATION,
                 "%s: the size of key material 0x%lx of a protected key is revealed", when,
                 (unsigned long)key_material[i]);
    }
}

/* CKA_SENSITIVE only goes to TRUE, CKA_EXTRACTABLE only to FALSE. */
static void check_one_way(const key_state *before, const key_state *after, const char *when)
{
    if (!before->is_key || !after->readable)
        return;
    FZ_CHECK(!before->sensitive || after->sensitive, "%s: CKA_SENSITIVE went back to FALSE", when);
    FZ_CHECK(!before->unextractable || after->unextractable, "%s: CKA_EXTRACTABLE went back to TRUE",
             when);
}

static void get_attributes(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, fz_input *in)
{
    CK_ULONG count;
    CK_ATTRIBUTE *t = fz_template(in, 16, false, &count);
    CK_ULONG given[16];
    for (CK_ULONG i = 0; i < count; i++)
        given[i] = t[i].pValue ? t[i].ulValueLen : 0;
    CK_RV rv = fz_trace(m.f->C_GetAttributeValue(s, h, t, count), "C_GetAttributeValue");
    for (CK_ULONG i = 0; i < count; i++) {
        if (t[i].pValue && t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION)
            FZ_CHECK(t[i].ulValueLen <= given[i],
                     "C_GetAttributeValue(0x%lx) claims %lu bytes in a buffer of %lu",
                     (unsigned long)t[i].type, (unsigned long)t[i].ulValueLen,
                     (unsigned long)given[i]);
        if (rv == CKR_OK)
            FZ_CHECK(t[i].ulValueLen != CK_UNAVAILABLE_INFORMATION,
                     "C_GetAttributeValue returned CKR_OK with attribute 0x%lx unavailable",
                     (unsigned long)t[i].type);
    }
}

static void destroy(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h)
{
    if (m.f->C_DestroyObject(s, h) != CKR_OK)
        leftovers++;
}

static void find(CK_SESSION_HANDLE s, fz_input *in)
{
    CK_ULONG count;
    CK_ATTRIBUTE *t = fz_template(in, 12, true, &count);
    uint8_t hostile = fz_u8(in);
    if (t == NULL && hostile == 0xff)
        count = fz_u8(in); /* a count with no template behind it */
    if (t == NULL && count > 0) {
        CK_RV rv = m.f->C_FindObjectsInit(s, NULL, count);
        FZ_CHECK(rv != CKR_OK, "C_FindObjectsInit(NULL, %lu) returned CKR_OK", (unsigned long)count);
        return;
    }
    if (m.f->C_FindObjectsInit(s, t, count) != CKR_OK)
        return;
    for (int round = 0; round < 8; round++) {
        CK_ULONG max = fz_u8(in) % 17, found = 0;
        CK_OBJECT_HANDLE handles[17];
        CK_RV rv = m.f->C_FindObjects(s, max ? handles : NULL, max, &found);
        if (rv != CKR_OK)
            break;
        FZ_CHECK(found <= max, "C_FindObjects returned %lu handles for a maximum of %lu",
                 (unsigned long)found, (unsigned long)max);
        for (CK_ULONG i = 0; i < found; i++) {
            CK_OBJECT_CLASS cls;
            CK_ATTRIBUTE a = {CKA_CLASS, &cls, sizeof(cls)};
            CK_RV crv = m.f->C_GetAttributeValue(s, handles[i], &a, 1);
            FZ_CHECK(crv == CKR_OK, "C_FindObjects returned handle 0x%lx whose class reads 0x%lx",
                     (unsigned long)handles[i], (unsigned long)crv);
        }
        if (found < max || max == 0)
            break;
    }
    m.f->C_FindObjectsFinal(s);
}

static void make_fixed(void)
{
    static CK_OBJECT_CLASS data = CKO_DATA, secret = CKO_SECRET_KEY;
    static CK_KEY_TYPE aes = CKK_AES;
    static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    static unsigned char value[32] = "fuzz-fixed-aes-key-value-32-byt";
    CK_ATTRIBUTE data_tmpl[] = {
        {CKA_CLASS, &data, sizeof(data)},     {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, "fixed-data", 10},         {CKA_VALUE, "hello", 5},
        {CKA_APPLICATION, "fuzz", 4},
    };
    CK_ATTRIBUTE key_tmpl[] = {
        {CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &yes, sizeof(yes)},       {CKA_SENSITIVE, &yes, sizeof(yes)},
        {CKA_EXTRACTABLE, &no, sizeof(no)},   {CKA_LABEL, "fixed-aes", 9},
        {CKA_VALUE, value, sizeof(value)},
    };
    CK_ATTRIBUTE session_key_tmpl[] = {
        {CKA_CLASS, &secret, sizeof(secret)}, {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_TOKEN, &no, sizeof(no)},         {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_LABEL, "fixed-session-aes", 17},
        {CKA_VALUE, value, 16},
    };
    fixed_count = 0;
    if (m.f->C_CreateObject(m.session, data_tmpl, FZ_ARRAY_SIZE(data_tmpl), &fixed[fixed_count]) ==
        CKR_OK)
        fixed_count++;
    if (m.f->C_CreateObject(m.session, key_tmpl, FZ_ARRAY_SIZE(key_tmpl), &fixed[fixed_count]) ==
        CKR_OK)
        fixed_count++;
    if (m.f->C_CreateObject(m.session, session_key_tmpl, FZ_ARRAY_SIZE(session_key_tmpl),
                            &fixed[fixed_count]) == CKR_OK)
        fixed_count++;
    /* The lifecycle hardware feature (docs/spec.md §3). */
    CK_OBJECT_CLASS hw = CKO_HW_FEATURE;
    CK_ATTRIBUTE find_hw = {CKA_CLASS, &hw, sizeof(hw)};
    CK_ULONG found = 0;
    if (m.f->C_FindObjectsInit(m.session, &find_hw, 1) == CKR_OK) {
        if (m.f->C_FindObjects(m.session, &fixed[fixed_count], 1, &found) == CKR_OK && found == 1)
            fixed_count++;
        m.f->C_FindObjectsFinal(m.session);
    }
    if (fixed_count < 3)
        fz_fail("setup: fixed objects (%zu made)", fixed_count);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fz_module_setup(&m, "template");
    make_fixed();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_input in = {data, size};
    CK_SESSION_HANDLE s = m.session;
    uint8_t ops = fz_u8(&in);

    CK_ULONG count;
    CK_ATTRIBUTE *create = fz_template(&in, 24, true, &count);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE, copy = CK_INVALID_HANDLE;
    bool made = fz_trace(m.f->C_CreateObject(s, create, count, &h), "C_CreateObject (%lu attributes)",
                         (unsigned long)count) == CKR_OK;
    /* ops bit 0: work on one of the fixed objects rather than the new one */
    uint8_t pick = fz_u8(&in);
    CK_OBJECT_HANDLE target = h;
    if ((ops & 1) || !made)
        target = fixed[pick % fixed_count];

    key_state before = read_state(s, target);
    check_protected(s, target, &before, "after C_CreateObject");
    if (made)
        check_bools(s, target, "after C_CreateObject");
    if (ops & 2)
        get_attributes(s, target, &in);
    if (ops & 4) {
        CK_ATTRIBUTE *set = fz_template(&in, 12, true, &count);
        fz_trace(m.f->C_SetAttributeValue(s, target, set, count), "C_SetAttributeValue");
        key_state after = read_state(s, target);
        check_one_way(&before, &after, "C_SetAttributeValue");
        check_protected(s, target, &after, "after C_SetAttributeValue");
        check_bools(s, target, "after C_SetAttributeValue");
    }
    if (ops & 8) {
        CK_ATTRIBUTE *tmpl = fz_template(&in, 8, true, &count);
        if (fz_trace(m.f->C_CopyObject(s, target, tmpl, count, &copy), "C_CopyObject") == CKR_OK) {
            key_state copied = read_state(s, copy);
            check_one_way(&before, &copied, "C_CopyObject");
            check_protected(s, copy, &copied, "after C_CopyObject");
            check_bools(s, copy, "after C_CopyObject");
            if (ops & 16)
                get_attributes(s, copy, &in);
            destroy(s, copy);
        }
    }
    if (ops & 32)
        find(s, &in);
    if (made)
        destroy(s, h);
    fz_arena_free();
    if (leftovers > 32 || ++runs > 20000) {
        fz_module_reset(&m);
        make_fixed();
        leftovers = 0;
        runs = 0;
    }
    return 0;
}
