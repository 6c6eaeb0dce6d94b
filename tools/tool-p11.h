/*
 * tool-p11.h — softse-tool's PKCS#11 side: it loads softse-pkcs11.so with
 * dlopen, as any consumer would, and offers the few helpers every
 * subcommand needs (select a token, log in, find objects, read
 * attributes, the lifecycle object of docs/spec.md §3).
 *
 * Every helper returns a CK_RV; none prints.  The callers name what
 * failed (tool_ck_error in softse-tool.h).
 */
#ifndef SOFTSE_TOOL_P11_H
#define SOFTSE_TOOL_P11_H

#include <pkcs11.h>
#include <softse/softse-pkcs11.h>
#include <stdbool.h>
#include <stddef.h>

#include "names.h" /* se_rv_name: common/ */

#ifndef NULL_PTR
#define NULL_PTR NULL
#endif

/* The labels of the identity objects (docs/spec.md §2). */
#define P11_ATTESTATION_LABEL "softse-attestation"
#define P11_MANUFACTURER_CA_LABEL "softse-manufacturer-ca"

#define P11_LABEL_LEN 32  /* CK_TOKEN_INFO.label, blank padded */
#define P11_SERIAL_LEN 16 /* CK_TOKEN_INFO.serialNumber */

/* Which token a command works on: exactly one of the three, or none
 * (show: every slot). */
typedef struct p11_selector {
    const char *label;  /* --token */
    const char *serial; /* --serial */
    bool has_slot;      /* --slot */
    CK_SLOT_ID slot;
} p11_selector;

/* A selected token: its slot and what C_GetTokenInfo said, with the
 * label and serial as C strings (trailing blanks removed). */
typedef struct p11_token {
    CK_SLOT_ID slot;
    CK_TOKEN_INFO info;
    char label[P11_LABEL_LEN + 1];
    char serial[P11_SERIAL_LEN + 1];
} p11_token;


/* ---- the module ----------------------------------------------------------- */

/* The module path: explicit (--module), else $SOFTSE_MODULE, else the
 * module built next to this program, else the installed one. */
const char *p11_module_path(const char *explicit_path);

/* dlopen()s path and calls C_Initialize.  On failure *error says why in
 * one line (dlerror or the missing symbol) and the CK_RV is
 * CKR_LIBRARY_LOAD_FAILED, or C_Initialize's own code. */
CK_RV p11_load(const char *path, const char **error);
void p11_unload(void);
CK_FUNCTION_LIST_PTR p11_functions(void);

/* ---- tokens and sessions --------------------------------------------------- */

/* Every slot with a token present (the blank one last); free() *slots. */
CK_RV p11_slots(CK_SLOT_ID **slots, CK_ULONG *count);
CK_RV p11_token_info(CK_SLOT_ID slot, p11_token *out);

/* The initialized token that sel names.  CKR_TOKEN_NOT_PRESENT when none
 * matches, CKR_ARGUMENTS_BAD when a label matches several tokens. */
CK_RV p11_find_token(const p11_selector *sel, p11_token *out);
/* The slot of the blank (uninitialized) token. */
CK_RV p11_blank_slot(CK_SLOT_ID *slot);

/* Opens a session (RW when rw) and, when pin is not NULL, logs user in. */
CK_RV p11_open(CK_SLOT_ID slot, bool rw, CK_USER_TYPE user, const char *pin,
               CK_SESSION_HANDLE *session);
/* Logs out (when logged in) and closes; ignores CKR_USER_NOT_LOGGED_IN. */
void p11_close(CK_SESSION_HANDLE session);

/* ---- objects ------------------------------------------------------------------ */

/* Every object matching tmpl; free() *found (NULL when *count is 0). */
CK_RV p11_find(CK_SESSION_HANDLE session, CK_ATTRIBUTE *tmpl, CK_ULONG tmpl_count,
               CK_OBJECT_HANDLE **found, CK_ULONG *count);
/* Every object of class cls whose CKA_LABEL is label; free() *found. */
CK_RV p11_find_labelled(CK_SESSION_HANDLE session, CK_OBJECT_CLASS cls, const char *label,
                        CK_OBJECT_HANDLE **found, CK_ULONG *count);
/* Reads one attribute of any length into a malloc()ed buffer. */
CK_RV p11_get_bytes(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE object, CK_ATTRIBUTE_TYPE type,
                    unsigned char **value, CK_ULONG *len);

/* ---- templates of the keys the tool makes --------------------------------------- */

/* One place for the tool's key policy: every secret key it makes is
 * private, sensitive and not extractable unless a command says otherwise
 * (p11_template_flag replaces an attribute already in the template). */
#define P11_TEMPLATE_MAX 24
typedef struct p11_template {
    CK_ATTRIBUTE attrs[P11_TEMPLATE_MAX];
    CK_ULONG count;
    CK_OBJECT_CLASS cls;
    CK_KEY_TYPE type;
    CK_ULONG value_len;
    CK_BBOOL yes, no;
} p11_template;

/* CKO_SECRET_KEY, CKA_KEY_TYPE type, CKA_TOKEN token, CKA_PRIVATE,
 * CKA_SENSITIVE TRUE, CKA_EXTRACTABLE FALSE, and CKA_LABEL unless label
 * is NULL.  The template points into *t: do not copy it. */
void p11_secret_template(p11_template *t, CK_KEY_TYPE type, bool token, const char *label);
void p11_template_flag(p11_template *t, CK_ATTRIBUTE_TYPE type, bool value);
/* A key for one job: the usage attributes in uses (CKA_ENCRYPT, CKA_SIGN,
 * CKA_DERIVE…) TRUE, every other usage attribute FALSE. */
void p11_template_uses(p11_template *t, const CK_ATTRIBUTE_TYPE *uses, size_t count);
void p11_template_value_len(p11_template *t, CK_ULONG len);
/* value must outlive the template's use. */
void p11_template_bytes(p11_template *t, CK_ATTRIBUTE_TYPE type, const void *value, CK_ULONG len);

/* ---- the lifecycle (docs/spec.md §3) ----------------------------------------- */

/* The CKO_HW_FEATURE object of type CKH_SE_LIFECYCLE and its state byte. */
CK_RV p11_lifecycle_object(CK_SESSION_HANDLE session, CK_OBJECT_HANDLE *object);
CK_RV p11_lifecycle_get(CK_SESSION_HANDLE session, unsigned char *state);
/* C_SetAttributeValue(CKA_VALUE) on it: needs an SO session. */
CK_RV p11_lifecycle_set(CK_SESSION_HANDLE session, unsigned char state);

/* "PERSONALIZATION", "OPERATIONAL", "TERMINATED", or "UNKNOWN". */
const char *p11_lifecycle_name(unsigned char state);
/* "operational" (any case) → 2; false for an unknown name. */
bool p11_lifecycle_parse(const char *name, unsigned char *state);

#endif
