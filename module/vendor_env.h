/*
 * vendor_env.h — what the core offers the vendor mechanisms of docs/spec.md
 * §4–6 beyond a key: the lifecycle rules, the token's attestation key,
 * persistent failure counters and the audit log.  Implemented in
 * module/vendor_env.c; used from vendor-mechs/.
 */
#ifndef SOFTSE_VENDOR_ENV_H
#define SOFTSE_VENDOR_ENV_H

#include "mech.h"

/* In-card secret of a key (K~(i) of an SK3 host key, docs/spec.md §6): stored
 * sealed, never readable, never wrapped.  It is in mech_key.attrs. */
#define CKA_SE_INTERNAL_SECRET (SOFTSE_VENDOR_BASE | 0xF1UL)

#define SOFTSE_ATTESTATION_LABEL "softse-attestation"
#define SOFTSE_MANUFACTURER_CA_LABEL "softse-manufacturer-ca"
#define SOFTSE_DEFAULT_FAILURE_LIMIT 1000

/* What a lifecycle state permits (docs/spec.md §3): one table in lifecycle.c. */
typedef enum lifecycle_action {
    LC_KEY_USE,      /* standard crypto with a key */
    LC_OBJECT_WRITE, /* create, copy, modify, destroy objects */
    LC_GKEA,         /* CKM_SE_GKEA */
    LC_KI_DERIVE,    /* CKM_SE_KI_* */
    LC_SK3_CREATE,   /* creating SK3 host/server keys */
    LC_SK3_QUERY,    /* SK3 queries 1–4, server query, host-key derivation */
} lifecycle_action;

/* CKR_OK, or CKR_SE_LIFECYCLE when the token's state forbids action. */
CK_RV env_lifecycle_allows(const mech_env *env, lifecycle_action action);

/* The attestation private key (CKA_SE_ATTESTATION TRUE): h, or the token's
 * device key when h is CK_INVALID_HANDLE.  CKR_KEY_HANDLE_INVALID when h
 * is not an attestation key, CKR_KEY_NEEDED when the token has none (not
 * manufactured).  *key is the caller's: EVP_PKEY_free it. */
CK_RV env_attestation_key(const mech_env *env, CK_OBJECT_HANDLE h, EVP_PKEY **key);

/* Appends an audit record to the session's token (tok_audit_note: for
 * calls that change nothing else; a key made is recorded by the core). */
CK_RV env_audit(const mech_env *env, const char *event, const char *detail);

/* The key's persistent CKA_SE_FAILURE_COUNT and CKA_SE_FAILURE_LIMIT, read
 * from the store (another process may have counted meanwhile), after
 * the check of env_lifecycle_allows(action) made in the same look at
 * the store (a query's gate costs one). */
CK_RV env_failure_count(const mech_env *env, const mech_key *key, lifecycle_action action,
                        CK_ULONG *count, CK_ULONG *limit);
/* Adds one failure, atomically across processes, with an audit record
 * (detail says what failed); *count is the new value. */
CK_RV env_failure_add(const mech_env *env, const mech_key *key, const char *detail,
                      CK_ULONG *count);

/* What a family does when an object of its own key type is made
 * (C_CreateObject, C_UnwrapKey, C_GenerateKey): SK3's (vendor-mechs/sk3.c)
 * checks the value (96 bytes), generates the in-card secret
 * (CKA_SE_INTERNAL_SECRET), sets CKA_SE_FAILURE_COUNT 0 and the default
 * CKA_SE_FAILURE_LIMIT, and applies the lifecycle rule. */
typedef CK_RV (*env_key_completer)(const mech_env *env, CK_KEY_TYPE type, attr_list *attrs);

/* A family registers its key types with their completer: once, before the
 * first C_Initialize goes on (module/families.c).  False when full. */
bool env_register_key_type(CK_KEY_TYPE type, env_key_completer complete);

/* Runs the completer of the object's key type; CKR_OK and nothing done
 * for a key type no family registered. */
CK_RV vendor_complete_key(const mech_env *env, attr_list *attrs);

#endif
