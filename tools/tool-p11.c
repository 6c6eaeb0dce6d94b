/*
 * tool-p11.c — see tool-p11.h.
 */
#include "tool-p11.h"

#include <dlfcn.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SOFTSE_MODULE_DEFAULT
#define SOFTSE_MODULE_DEFAULT "/usr/local/lib/softse/softse-pkcs11.so"
#endif

/* ---- the module ------------------------------------------------------------------ */

static void *module_handle;
static CK_FUNCTION_LIST_PTR functions;

/* <dir of this executable>/../module/softse-pkcs11.so: the build tree. */
static const char *built_module_path(void)
{
    static char path[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    if (snprintf(path, sizeof(path), "%s/../module/softse-pkcs11.so", dirname(exe)) >=
        (int)sizeof(path))
        return NULL;
    return access(path, R_OK) == 0 ? path : NULL;
}

const char *p11_module_path(const char *explicit_path)
{
    if (explicit_path && *explicit_path)
        return explicit_path;
    const char *env = getenv("SOFTSE_MODULE");
    if (env && *env)
        return env;
    const char *built = built_module_path();
    return built ? built : SOFTSE_MODULE_DEFAULT;
}

CK_RV p11_load(const char *path, const char **error)
{
    static char message[PATH_MAX + 256];
    *error = NULL;
    /* RTLD_NODELETE: the module keeps process-lifetime OpenSSL caches
     * (fetched MACs, curve groups) that would leak if it were unmapped. */
    module_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!module_handle) {
        snprintf(message, sizeof(message), "%s", dlerror());
        *error = message;
        return CKR_LIBRARY_LOAD_FAILED;
    }
    CK_C_GetFunctionList get = (CK_C_GetFunctionList)dlsym(module_handle, "C_GetFunctionList");
    if (!get || get(&functions) != CKR_OK || !functions) {
        snprintf(message, sizeof(message), "%s: no usable C_GetFunctionList", path);
        *error = message;
        p11_unload();
        return CKR_LIBRARY_LOAD_FAILED;
    }
    CK_RV rv = functions->C_Initialize(NULL_PTR);
    if (rv != CKR_OK) {
        snprintf(message, sizeof(message), "C_Initialize of %s", path);
        *error = message;
        functions = NULL;
        dlclose(module_handle);
        module_handle = NULL;
    }
    return rv;
}

void p11_unload(void)
{
    if (functions)
        functions->C_Finalize(NULL_PTR);
    functions = NULL;
    if (module_handle)
        dlclose(module_handle);
    module_handle = NULL;
}

CK_FUNCTION_LIST_PTR p11_functions(void)
{
    return functions;
}

/* ---- tokens and sessions ------------------------------------------------------------ */

CK_RV p11_slots(CK_SLOT_ID **slots, CK_ULONG *count)
{
    *slots = NULL;
    *count = 0;
    CK_ULONG n = 0;
    CK_RV rv = functions->C_GetSlotList(CK_TRUE, NULL_PTR, &n);
    if (rv != CKR_OK || n == 0)
        return rv;
    CK_SLOT_ID *list = calloc(n, sizeof(*list));
    if (!list)
        return CKR_HOST_MEMORY;
    rv = functions->C_GetSlotList(CK_TRUE, list, &n);
    if (rv != CKR_OK) {
        free(list);
        return rv;
    }
    *slots = list;
    *count = n;
    return CKR_OK;
}

/* Copies a blank-padded field into a C string without the padding. */
static void unpad(char *out, const CK_UTF8CHAR *field, size_t size)
{
    memcpy(out, field, size);
    out[size] = '\0';
    for (size_t n = size; n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'); n--)
        out[n - 1] = '\0';
}

CK_RV p11_token_info(CK_SLOT_ID slot, p11_token *out)
{
    memset(out, 0, sizeof(*out));
    out->slot = slot;
    CK_RV rv = functions->C_GetTokenInfo(slot, &out->info);
    if (rv != CKR_OK)
        return rv;
    unpad(out->label, out->info.label, P11_LABEL_LEN);
    unpad(out->serial, out->info.serialNumber, P11_SERIAL_LEN);
    return CKR_OK;
}

static bool token_matches(const p11_selector *sel, const p11_token *t)
{
    if (!(t->info.flags & CKF_TOKEN_INITIALIZED))
        return false;
    if (sel->has_slot)
        return t->slot == sel->slot;
    if (sel->serial)
        return strcasecmp(t->serial, sel->serial) == 0;
    return sel->label && strcmp(t->label, sel->label) == 0;
}

CK_RV p11_find_token(const p11_selector *sel, p11_token *out)
{
    CK_SLOT_ID *slots;
    CK_ULONG count, matches = 0;
    CK_RV rv = p11_slots(&slots, &count);
    for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
        p11_token t;
        rv = p11_token_info(slots[i], &t);
        if (rv == CKR_OK && token_matches(sel, &t)) {
            if (matches++ == 0)
                *out = t;
        }
    }
    free(slots);
    if (rv == CKR_OK && matches == 0)
        rv = CKR_TOKEN_NOT_PRESENT;
    if (rv == CKR_OK && matches > 1)
        rv = CKR_ARGUMENTS_BAD; /* two tokens with one label: ask for --serial */
    return rv;
}

CK_RV p11_blank_slot(CK_SLOT_ID *slot)
{
    CK_SLOT_ID *slots;
    CK_ULONG count;
    CK_RV rv = p11_slots(&slots, &count);
    bool found = false;
    for (CK_ULONG i = count; rv == CKR_OK && !found && i-- > 0;) {
        CK_TOKEN_INFO info;
        rv = functions->C_GetTokenInfo(slots[i], &info);
        if (rv == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED)) {
            *slot = slots[i];
            found = true;
        }
    }
    free(slots);
    if (rv == CKR_OK && !found)
        rv = CKR_TOKEN_NOT_PRESENT;
    return rv;
}

CK_RV p11_open(CK_SLOT_ID slot, bool rw, CK_USER_TYPE user, const char *pin,
               CK_SESSION_HANDLE *session)
{
    CK_FLAGS flags = CKF_SERIAL_SESSION | (rw ? CKF_RW_SESSION : 0);
    CK_RV rv = functions->C_OpenSession(slot, flags, NULL_PTR, NULL_PTR, session);
    if (rv != CKR_OK || !pin)
        return rv;
    rv = functions->C_Login(*session, user, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    if (rv != CKR_OK)
        functions->C_CloseSession(*session);
    return rv;
}

void p11_close(CK_SESSION_HANDLE session)
{
    functions->C_Logout(session); /* CKR_USER_NOT_LOGGED_IN is fine */
    functions->C_CloseSession(session);
}

/* ---- objects --------------------------------------------------------------------------- */

CK_RV p11_find(CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl, CK_ULONG tmpl_count,
               CK_OBJECT_HANDLE **found, CK_ULONG *count)
{
    *found = NULL;
    *count = 0;
    CK_OBJECT_HANDLE *list = NULL;
    CK_ULONG total = 0, got = 0;
    CK_RV rv = functions->C_FindObjectsInit(session, tmpl, tmpl_count);
    if (rv != CKR_OK)
        return rv;
    do {
        CK_OBJECT_HANDLE *bigger = realloc(list, (total + 16) * sizeof(*list));
        if (!bigger) {
            rv = CKR_HOST_MEMORY;
            break;
        }
        list = bigger;
        rv = functions->C_FindObjects(session, list + total, 16, &got);
        if (rv == CKR_OK)
            total += got;
    } while (rv == CKR_OK && got > 0);
    CK_RV final_rv = functions->C_FindObjectsFinal(session);
    if (rv == CKR_OK)
        rv = final_rv;
    if (rv != CKR_OK || total == 0) {
        free(list);
        return rv;
    }
    *found = list;
    *count = total;
    return CKR_OK;
}

CK_RV p11_find_labelled(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label,
                        CK_OBJECT_HANDLE **found, CK_ULONG *count)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, (void *)label, strlen(label)},
    };
    return p11_find(session, tmpl, ARRAY_SIZE(tmpl), found, count);
}

CK_RV p11_get_bytes(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                    unsigned char **value, CK_ULONG *len)
{
    *value = NULL;
    *len = 0;
    CK_ATTRIBUTE attr = {type, NULL_PTR, 0};
    CK_RV rv = functions->C_GetAttributeValue(session, object, &attr, 1);
    if (rv != CKR_OK)
        return rv;
    unsigned char *buffer = malloc(attr.ulValueLen ? attr.ulValueLen : 1);
    if (!buffer)
        return CKR_HOST_MEMORY;
    attr.pValue = buffer;
    rv = functions->C_GetAttributeValue(session, object, &attr, 1);
    if (rv != CKR_OK) {
        free(buffer);
        return rv;
    }
    *value = buffer;
    *len = attr.ulValueLen;
    return CKR_OK;
}

/* ---- templates ------------------------------------------------------------------------------ */

/* Sets type to value, replacing an earlier setting: a template naming an
 * attribute twice is CKR_TEMPLATE_INCONSISTENT. */
static void template_set(p11_template *t, CK_ATTRIBUTE_TYPE type, void *value, CK_ULONG len)
{
    CK_ULONG at = 0;
    while (at < t->count && t->attrs[at].type != type)
        at++;
    if (at == P11_TEMPLATE_MAX)
        abort(); /* a command asks for more attributes than P11_TEMPLATE_MAX */
    t->attrs[at] = (CK_ATTRIBUTE){type, value, len};
    if (at == t->count)
        t->count++;
}

void p11_secret_template(p11_template *t, CK_KEY_TYPE type, bool token, const char *label)
{
    memset(t, 0, sizeof(*t));
    t->cls = CKO_SECRET_KEY;
    t->type = type;
    t->yes = CK_TRUE;
    t->no = CK_FALSE;
    template_set(t, CKA_CLASS, &t->cls, sizeof(t->cls));
    template_set(t, CKA_KEY_TYPE, &t->type, sizeof(t->type));
    p11_template_flag(t, CKA_TOKEN, token);
    p11_template_flag(t, CKA_PRIVATE, true);
    p11_template_flag(t, CKA_SENSITIVE, true);
    p11_template_flag(t, CKA_EXTRACTABLE, false);
    if (label)
        template_set(t, CKA_LABEL, (void *)label, strlen(label));
}

void p11_template_flag(p11_template *t, CK_ATTRIBUTE_TYPE type, bool value)
{
    template_set(t, type, value ? &t->yes : &t->no, sizeof(CK_BBOOL));
}

void p11_template_uses(p11_template *t, const CK_ATTRIBUTE_TYPE *uses, size_t count)
{
    static const CK_ATTRIBUTE_TYPE usages[] = {
        CKA_ENCRYPT, CKA_DECRYPT, CKA_SIGN, CKA_VERIFY, CKA_WRAP, CKA_UNWRAP, CKA_DERIVE,
    };
    for (size_t i = 0; i < ARRAY_SIZE(usages); i++) {
        bool allowed = false;
        for (size_t j = 0; j < count; j++)
            allowed = allowed || uses[j] == usages[i];
        p11_template_flag(t, usages[i], allowed);
    }
}

void p11_template_value_len(p11_template *t, CK_ULONG len)
{
    t->value_len = len;
    template_set(t, CKA_VALUE_LEN, &t->value_len, sizeof(t->value_len));
}

void p11_template_bytes(p11_template *t, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len)
{
    template_set(t, type, (void *)value, len);
}

/* ---- the lifecycle ------------------------------------------------------------------------ */

static const struct {
    unsigned char state;
    const char *name;
} lifecycle_names[] = {
    {SOFTSE_LIFECYCLE_PERSONALIZATION, "PERSONALIZATION"},
    {SOFTSE_LIFECYCLE_OPERATIONAL, "OPERATIONAL"},
    {SOFTSE_LIFECYCLE_TERMINATED, "TERMINATED"},
};

const char *p11_lifecycle_name(unsigned char state)
{
    for (size_t i = 0; i < ARRAY_SIZE(lifecycle_names); i++)
        if (lifecycle_names[i].state == state)
            return lifecycle_names[i].name;
    return "UNKNOWN";
}

bool p11_lifecycle_parse(const char *name, unsigned char *state)
{
    for (size_t i = 0; i < ARRAY_SIZE(lifecycle_names); i++)
        if (strcasecmp(lifecycle_names[i].name, name) == 0) {
            *state = lifecycle_names[i].state;
            return true;
        }
    return false;
}

CK_RV p11_lifecycle_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *object)
{
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE type = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_HW_FEATURE_TYPE, &type, sizeof(type)},
    };
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    CK_RV rv = p11_find(session, tmpl, ARRAY_SIZE(tmpl), &found, &count);
    if (rv == CKR_OK && count == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        *object = found[0];
    free(found);
    return rv;
}

CK_RV p11_lifecycle_get(CK_SESSION_HANDLE session, unsigned char *state)
{
    CK_OBJECT_HANDLE object;
    CK_RV rv = p11_lifecycle_object(session, &object);
    if (rv != CKR_OK)
        return rv;
    CK_ATTRIBUTE attr = {CKA_VALUE, state, 1};
    rv = functions->C_GetAttributeValue(session, object, &attr, 1);
    if (rv == CKR_OK && attr.ulValueLen != 1)
        rv = CKR_DEVICE_ERROR; /* docs/spec.md §3: the state is one byte */
    return rv;
}

CK_RV p11_lifecycle_set(CK_SESSION_HANDLE session, unsigned char state)
{
    CK_OBJECT_HANDLE object;
    CK_RV rv = p11_lifecycle_object(session, &object);
    if (rv != CKR_OK)
        return rv;
    CK_ATTRIBUTE attr = {CKA_VALUE, &state, 1};
    return functions->C_SetAttributeValue(session, object, &attr, 1);
}
