/*
 * key_ops.c — making key objects: C_GenerateKey, C_GenerateKeyPair,
 * C_DeriveKey, C_WrapKey and C_UnwrapKey around the mechanism rows.  A new
 * key object is the caller's template checked, the mechanism's output
 * merged in and the policy's defaults applied (docs/spec.md §7.2); keys
 * used to make others are borrowed as crypto_ops.c borrows them.
 *
 * Only the session lock is held across cryptography; the token lock is
 * taken just to resolve keys and to store objects.
 */
#include "core.h"
#include "crypto_internal.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* ---- making keys ---------------------------------------------------- */

static const char *audit_for(const mech_row *row)
{
    return row->name ? row->name : "key";
}

/* The caller's template, checked, with the mechanism's values merged in
 * (the mechanism wins: it made the key) and the defaults applied. */
static CK_RV assemble(se_session *s, const attr_list *tmpl, const attr_list *made,
                      CK_OBJECT_CLASS cls, policy_origin origin, CK_MECHANISM_TYPE mech,
                      attr_list *out)
{
    CK_RV rv = policy_check_template(cls, tmpl, origin);
    if (rv == CKR_OK)
        rv = attr_list_copy(out, tmpl);
    if (rv == CKR_OK)
        rv = attr_list_copy(out, made);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_CLASS, cls);
    if (rv == CKR_OK && cls == CKO_SECRET_KEY) {
        rv = vendor_complete_key(&s->env, out); /* in-card secrets of vendor key types */
    }
    if (rv == CKR_OK)
        rv = policy_apply_defaults(out, origin);
    if (rv == CKR_OK && origin == ORIGIN_GENERATE)
        rv = attr_list_set_ulong(out, CKA_KEY_GEN_MECHANISM, mech);
    return rv;
}

static CK_RV template_class(const attr_list *tmpl, CK_OBJECT_CLASS dflt, CK_OBJECT_CLASS *cls)
{
    *cls = dflt;
    CK_RV rv = attr_list_ulong(tmpl, CKA_CLASS, cls);
    return rv == CKR_TEMPLATE_INCOMPLETE ? CKR_OK : rv;
}

/* Stores one new key, a secret one with its check value (docs/spec.md
 * §10); token->lock is taken here. */
static CK_RV store_new(se_session *s, attr_list *attrs, const char *audit, CK_OBJECT_HANDLE_PTR out)
{
    CK_ULONG cls = CKO_DATA;
    attr_list_ulong(attrs, CKA_CLASS, &cls);
    if (cls == CKO_SECRET_KEY) {
        CK_RV rv = mech_set_check_value(attrs);
        if (rv != CKR_OK)
            return rv;
    }
    mutex_lock(s->token->lock);
    CK_RV rv = check_lifecycle(s->token);
    if (rv == CKR_OK)
        rv = object_store(s, attrs, audit, out);
    mutex_unlock(s->token->lock);
    return rv;
}

CK_RV key_generate(se_session *s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count,
                   CK_OBJECT_HANDLE_PTR out)
{
    if (!out || (!tmpl && count > 0))
        return CKR_ARGUMENTS_BAD;
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, CKF_GENERATE, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->generate)
        return CKR_MECHANISM_INVALID;
    attr_list given, made, attrs;
    attr_list_init(&given);
    attr_list_init(&made);
    attr_list_init(&attrs);
    CK_OBJECT_CLASS cls;
    rv = attr_list_from_template(&given, tmpl, count);
    if (rv == CKR_OK)
        rv = template_class(&given, CKO_SECRET_KEY, &cls);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = policy_check_template(cls, &given, ORIGIN_GENERATE);
    bool generated = false;
    if (rv == CKR_OK) {
        rv = row->generate(mech, &given, &s->env, &made);
        generated = rv == CKR_OK;
    }
    if (rv == CKR_OK)
        rv = assemble(s, &given, &made, cls, ORIGIN_GENERATE, mech->mechanism, &attrs);
    if (rv == CKR_OK)
        rv = store_new(s, &attrs, audit_for(row), out);
    /* docs/spec.md §4: outputs without the key must not survive. */
    if (rv != CKR_OK && generated && row->generate_failed)
        row->generate_failed(mech, &s->env);
    attr_list_free(&given);
    attr_list_free(&made);
    attr_list_free(&attrs);
    return rv;
}

CK_RV key_generate_pair(se_session *s, CK_MECHANISM_PTR mech, CK_ATTRIBUTE_PTR pub,
                        CK_ULONG pub_count, CK_ATTRIBUTE_PTR priv, CK_ULONG priv_count,
                        CK_OBJECT_HANDLE_PTR pub_out, CK_OBJECT_HANDLE_PTR priv_out)
{
    if (!pub_out || !priv_out || (!pub && pub_count > 0) || (!priv && priv_count > 0))
        return CKR_ARGUMENTS_BAD;
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, CKF_GENERATE_KEY_PAIR, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->generate_pair)
        return CKR_MECHANISM_INVALID;
    attr_list pub_tmpl, priv_tmpl, pub_made, priv_made, pub_attrs, priv_attrs;
    attr_list *lists[] = {&pub_tmpl, &priv_tmpl, &pub_made, &priv_made, &pub_attrs, &priv_attrs};
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
        attr_list_init(lists[i]);
    CK_OBJECT_CLASS pub_cls, priv_cls;
    rv = attr_list_from_template(&pub_tmpl, pub, pub_count);
    if (rv == CKR_OK)
        rv = attr_list_from_template(&priv_tmpl, priv, priv_count);
    if (rv == CKR_OK)
        rv = template_class(&pub_tmpl, CKO_PUBLIC_KEY, &pub_cls);
    if (rv == CKR_OK)
        rv = template_class(&priv_tmpl, CKO_PRIVATE_KEY, &priv_cls);
    if (rv == CKR_OK && (pub_cls != CKO_PUBLIC_KEY || priv_cls != CKO_PRIVATE_KEY))
        rv = CKR_TEMPLATE_INCONSISTENT;
    bool identity = attr_list_bool(&priv_tmpl, CKA_SE_ATTESTATION, false);
    if (rv == CKR_OK && identity)
        rv = identity_prepare(s, &pub_tmpl, &priv_tmpl);
    if (rv == CKR_OK)
        rv = policy_check_template(pub_cls, &pub_tmpl, ORIGIN_GENERATE);
    if (rv == CKR_OK)
        rv = policy_check_template(priv_cls, &priv_tmpl, ORIGIN_GENERATE);
    if (rv == CKR_OK)
        rv = row->generate_pair(mech, &pub_tmpl, &priv_tmpl, &pub_made, &priv_made);
    if (rv == CKR_OK)
        rv = assemble(s, &pub_tmpl, &pub_made, pub_cls, ORIGIN_GENERATE, mech->mechanism,
                      &pub_attrs);
    if (rv == CKR_OK)
        rv = assemble(s, &priv_tmpl, &priv_made, priv_cls, ORIGIN_GENERATE, mech->mechanism,
                      &priv_attrs);
    if (rv == CKR_OK && identity)
        rv = identity_finish(&pub_attrs, &priv_attrs);
    if (rv != CKR_OK)
        goto out;
    /* Both or neither (§5.14). */
    mutex_lock(s->token->lock);
    rv = check_lifecycle(s->token);
    if (rv == CKR_OK)
        rv = object_store(s, &pub_attrs, audit_for(row), pub_out);
    if (rv == CKR_OK) {
        rv = object_store(s, &priv_attrs, audit_for(row), priv_out);
        if (rv != CKR_OK) {
            mutex_unlock(s->token->lock);
            object_destroy(s, *pub_out);
            mutex_lock(s->token->lock);
        }
    }
    mutex_unlock(s->token->lock);
out:
    for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
        attr_list_free(lists[i]);
    return rv;
}

/* CKM_HKDF_* with CKF_HKDF_SALT_KEY (PKCS#11 3.0 §2.43): rows cannot
 * resolve handles, so the core hands them the same parameters with the
 * salt key's value as salt data.  *salted and *salt hold what is lent. */
static CK_RV resolve_hkdf_salt(se_session *s, CK_MECHANISM_PTR *mech, CK_MECHANISM *with_salt,
                               CK_HKDF_PARAMS *salted, mech_key *salt, attr_list *salt_attrs)
{
    const CK_MECHANISM *m = *mech;
    if ((m->mechanism != CKM_HKDF_DERIVE && m->mechanism != CKM_HKDF_DATA) || !m->pParameter ||
        m->ulParameterLen != sizeof(CK_HKDF_PARAMS))
        return CKR_OK;
    const CK_HKDF_PARAMS *p = m->pParameter;
    if (p->ulSaltType != CKF_HKDF_SALT_KEY)
        return CKR_OK;
    /* docs/spec.md §7.2: the salt key is used to derive, and what is
     * derived keeps its protection (key_derive checks). */
    CK_RV rv = borrow_key(s, p->hSaltKey, policy_role_usage(ROLE_HKDF_SALT), LEND_POLICY, salt,
                          salt_attrs, NULL);
    if (rv == CKR_OK && (salt->cls != CKO_SECRET_KEY || !salt->secret))
        rv = CKR_MECHANISM_PARAM_INVALID;
    if (rv == CKR_KEY_HANDLE_INVALID)
        rv = CKR_MECHANISM_PARAM_INVALID;
    if (rv != CKR_OK)
        return rv;
    *salted = *p;
    salted->ulSaltType = CKF_HKDF_SALT_DATA;
    salted->pSalt = salt->secret;
    salted->ulSaltLen = salt->secret_len;
    salted->hSaltKey = CK_INVALID_HANDLE;
    *with_salt = *m;
    with_salt->pParameter = salted;
    *mech = with_salt;
    return CKR_OK;
}

CK_RV key_derive(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE base, CK_ATTRIBUTE_PTR tmpl,
                 CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
    if ((!tmpl && count > 0))
        return CKR_ARGUMENTS_BAD;
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, CKF_DERIVE, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->derive)
        return CKR_MECHANISM_INVALID;
    attr_list given, made, attrs, base_attrs, salt_attrs;
    attr_list_init(&given);
    attr_list_init(&made);
    attr_list_init(&attrs);
    attr_list_init(&base_attrs);
    attr_list_init(&salt_attrs);
    mech_key key;
    memset(&key, 0, sizeof(key));
    CK_OBJECT_CLASS cls;
    if (!out)
        return CKR_ARGUMENTS_BAD; /* before the mechanism writes any output parameter */
    rv = attr_list_from_template(&given, tmpl, count);
    if (rv == CKR_OK)
        rv = policy_check_value_len(&given);
    if (rv == CKR_OK)
        rv = borrow_key(s, base, policy_role_usage(ROLE_DERIVE), LEND_POLICY, &key, &base_attrs,
                        NULL);
    if (rv == CKR_OK)
        rv = policy_apply_key_template(&given, &base_attrs, CKA_DERIVE_TEMPLATE);
    CK_MECHANISM with_salt;
    CK_HKDF_PARAMS salted;
    mech_key salt;
    memset(&salt, 0, sizeof(salt));
    if (rv == CKR_OK)
        rv = resolve_hkdf_salt(s, &mech, &with_salt, &salted, &salt, &salt_attrs);
    if (rv == CKR_OK)
        rv = row->derive(mech, &key, &given, &s->env, &made);
    mech_key_free(&salt); /* cleanses the lent salt value */
    if (rv != CKR_OK)
        goto out;
    rv = template_class(&made, CKO_SECRET_KEY, &cls);
    if (rv == CKR_OK) {
        CK_OBJECT_CLASS asked;
        rv = template_class(&given, cls, &asked);
        if (rv == CKR_OK && asked != cls)
            rv = CKR_TEMPLATE_INCONSISTENT;
    }
    if (rv == CKR_OK && cls == CKO_DATA) {
        /* CKM_HKDF_DATA: the length asked for is not an attribute of data. */
        attr_list_remove(&given, CKA_VALUE_LEN);
        attr_list_remove(&made, CKA_VALUE_LEN);
    }
    if (rv == CKR_OK)
        rv = assemble(s, &given, &made, cls, ORIGIN_DERIVE, mech->mechanism, &attrs);
    /* docs/spec.md §7.2: every secret the output comes from protects it.
     * docs/spec.md §6 still gives the SK3 σ and host keys "the flags of the
     * template" (the protocol reads σ and wraps host keys out): the vendor
     * derivations keep that rule until the two sections are reconciled. */
    bool vendor = (row->type & CKM_VENDOR_DEFINED) != 0;
    if (rv == CKR_OK && !vendor)
        rv = policy_check_derived(&base_attrs, cls, &attrs);
    if (rv == CKR_OK && salt_attrs.count > 0) /* a CKF_HKDF_SALT_KEY's */
        rv = policy_check_derived(&salt_attrs, cls, &attrs);
    if (rv == CKR_OK && cls == CKO_SECRET_KEY) {
        /* §4.9: a derived key keeps these only if its base had them. */
        if (!attr_list_bool(&base_attrs, CKA_ALWAYS_SENSITIVE, false))
            rv = attr_list_set_bool(&attrs, CKA_ALWAYS_SENSITIVE, false);
        if (rv == CKR_OK && !attr_list_bool(&base_attrs, CKA_NEVER_EXTRACTABLE, false))
            rv = attr_list_set_bool(&attrs, CKA_NEVER_EXTRACTABLE, false);
    }
    if (rv == CKR_OK)
        rv = store_new(s, &attrs, audit_for(row), out);
out:
    mech_key_free(&key);
    attr_list_free(&given);
    attr_list_free(&made);
    attr_list_free(&attrs);
    attr_list_free(&base_attrs);
    attr_list_free(&salt_attrs);
    return rv;
}

/* The bytes a wrap carries: a secret key's value or a private key's PKCS#8.
 * Without wrapping, only checks that h is a key that may leave at all. */
static CK_RV wrapped_bytes(se_session *s, const attr_list *wrapping, CK_OBJECT_HANDLE h,
                           unsigned char **bytes, size_t *len)
{
    se_token *t = s->token;
    mutex_lock(t->lock);
    se_object *o;
    CK_RV rv = object_lookup(s, h, &o);
    if (rv == CKR_OBJECT_HANDLE_INVALID)
        rv = CKR_KEY_HANDLE_INVALID;
    if (rv != CKR_OK)
        goto out;
    if (o->cls != CKO_SECRET_KEY && o->cls != CKO_PRIVATE_KEY) {
        rv = CKR_KEY_NOT_WRAPPABLE;
        goto out;
    }
    if (!attr_list_bool(&o->attrs, CKA_EXTRACTABLE, false) ||
        attr_list_bool(&o->attrs, CKA_SE_ATTESTATION, false)) {
        rv = CKR_KEY_UNEXTRACTABLE;
        goto out;
    }
    if (!wrapping) /* only the checks of the key itself */
        goto out;
    /* Sealed values are masked in o->attrs: a wrap template naming one
     * does not match (as C_FindObjects never matches an unreadable value). */
    rv = policy_check_wrap(wrapping, &o->attrs);
    if (rv != CKR_OK)
        goto out;
    if (o->sealed) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    mech_key k;
    rv = object_key(s, h, 0, &k, NULL);
    if (rv != CKR_OK)
        goto out;
    if (o->cls == CKO_SECRET_KEY) {
        *bytes = k.secret; /* the value unmasked for this call: the caller cleanses it */
        *len = k.secret_len;
        k.secret = NULL;
    } else {
        rv = mech_key_to_pkcs8(&k, bytes, len);
    }
    mech_key_free(&k);
out:
    mutex_unlock(t->lock);
    return rv;
}

CK_RV key_wrap(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE wrapping,
               CK_OBJECT_HANDLE key, CK_BYTE_PTR out, CK_ULONG_PTR out_len)
{
    if (!out_len)
        return CKR_ARGUMENTS_BAD;
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, CKF_WRAP, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->wrap)
        return CKR_MECHANISM_INVALID;
    mech_key wrapper;
    memset(&wrapper, 0, sizeof(wrapper));
    attr_list wrapper_attrs;
    attr_list_init(&wrapper_attrs);
    unsigned char *bytes = NULL;
    size_t len = 0;
    /* The key to wrap first: "it never leaves" is the answer that says most. */
    rv = wrapped_bytes(s, NULL, key, NULL, NULL);
    if (rv == CKR_OK)
        rv = borrow_key(s, wrapping, policy_role_usage(ROLE_WRAP), LEND_POLICY, &wrapper,
                        &wrapper_attrs, NULL);
    if (rv == CKR_WRAPPING_KEY_HANDLE_INVALID || rv == CKR_KEY_HANDLE_INVALID)
        rv = CKR_WRAPPING_KEY_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = wrapped_bytes(s, &wrapper_attrs, key, &bytes, &len);
    if (rv != CKR_OK)
        goto out;
    size_t need = 0;
    rv = row->wrap(mech, &wrapper, bytes, len, NULL, &need);
    if (rv != CKR_OK)
        goto out;
    if (!out) {
        *out_len = need;
        goto out;
    }
    if (*out_len < need) {
        *out_len = need;
        rv = CKR_BUFFER_TOO_SMALL;
        goto out;
    }
    size_t written = *out_len;
    rv = row->wrap(mech, &wrapper, bytes, len, out, &written);
    if (rv == CKR_OK)
        *out_len = written;
out:
    if (bytes) {
        OPENSSL_cleanse(bytes, len);
        free(bytes);
    }
    mech_key_free(&wrapper);
    attr_list_free(&wrapper_attrs);
    return rv;
}

CK_RV key_unwrap(se_session *s, CK_MECHANISM_PTR mech, CK_OBJECT_HANDLE unwrapping, CK_BYTE_PTR in,
                 CK_ULONG in_len, CK_ATTRIBUTE_PTR tmpl, CK_ULONG count, CK_OBJECT_HANDLE_PTR out)
{
    if (!out || !in || (!tmpl && count > 0))
        return CKR_ARGUMENTS_BAD;
    const mech_row *row;
    CK_RV rv = check_mechanism(mech, CKF_UNWRAP, &row);
    if (rv != CKR_OK)
        return rv;
    if (!row->unwrap)
        return CKR_MECHANISM_INVALID;
    attr_list given, made, attrs, unwrapper_attrs;
    attr_list_init(&given);
    attr_list_init(&made);
    attr_list_init(&attrs);
    attr_list_init(&unwrapper_attrs);
    mech_key unwrapper;
    memset(&unwrapper, 0, sizeof(unwrapper));
    unsigned char *bytes = NULL;
    size_t len = 0;
    CK_OBJECT_CLASS cls;
    rv = attr_list_from_template(&given, tmpl, count);
    if (rv == CKR_OK)
        rv = attr_list_ulong(&given, CKA_CLASS, &cls);
    if (rv == CKR_OK && cls != CKO_SECRET_KEY && cls != CKO_PRIVATE_KEY)
        rv = CKR_TEMPLATE_INCONSISTENT;
    if (rv == CKR_OK)
        rv = policy_check_template(cls, &given, ORIGIN_UNWRAP);
    if (rv == CKR_OK) {
        rv = borrow_key(s, unwrapping, policy_role_usage(ROLE_UNWRAP), LEND_POLICY, &unwrapper,
                        &unwrapper_attrs, NULL);
        if (rv == CKR_KEY_HANDLE_INVALID)
            rv = CKR_UNWRAPPING_KEY_HANDLE_INVALID;
    }
    if (rv == CKR_OK) /* PKCS#11 3.0 §4.9: as if given with the caller's template */
        rv = policy_apply_key_template(&given, &unwrapper_attrs, CKA_UNWRAP_TEMPLATE);
    if (rv == CKR_OK)
        rv = row->unwrap(mech, &unwrapper, in, in_len, &bytes, &len);
    if (rv != CKR_OK)
        goto out;
    if (cls == CKO_SECRET_KEY) {
        CK_ULONG want;
        if (attr_list_ulong(&given, CKA_VALUE_LEN, &want) == CKR_OK && want != len) {
            rv = want < len ? CKR_TEMPLATE_INCONSISTENT : CKR_WRAPPED_KEY_LEN_RANGE;
            goto out;
        }
        rv = attr_list_set(&made, CKA_VALUE, bytes, len);
        if (rv == CKR_OK)
            rv = attr_list_set_ulong(&made, CKA_VALUE_LEN, len);
        if (rv == CKR_OK && !attr_list_has(&given, CKA_KEY_TYPE))
            rv = CKR_TEMPLATE_INCOMPLETE;
    } else {
        rv = mech_attrs_from_pkcs8(bytes, len, &made);
        if (rv != CKR_OK)
            rv = CKR_WRAPPED_KEY_INVALID;
    }
    if (rv == CKR_OK) {
        rv = assemble(s, &given, &made, cls, ORIGIN_UNWRAP, mech->mechanism, &attrs);
        if (rv == CKR_ATTRIBUTE_VALUE_INVALID)
            rv = CKR_WRAPPED_KEY_LEN_RANGE; /* e.g. an SK3 key value that is not 96 bytes */
    }
    if (rv == CKR_OK) {
        mech_key check;
        memset(&check, 0, sizeof(check));
        rv = mech_key_from_attrs(&attrs, &check); /* e.g. an AES key of 20 bytes */
        CK_ULONG type = 0;
        attr_list_ulong(&attrs, CKA_KEY_TYPE, &type);
        /* A DES key of bad parity, or single DES, is a bad wrapped key
         * (PKCS#11 3.0: it may not be unwrapped); else the type does not fit. */
        if (rv != CKR_OK && mech_des_key_len(type))
            rv =
                len != mech_des_key_len(type) ? CKR_WRAPPED_KEY_LEN_RANGE : CKR_WRAPPED_KEY_INVALID;
        else if (rv != CKR_OK)
            rv = CKR_TEMPLATE_INCONSISTENT;
        else if (check.type == CKK_RSA && mech_key_size(&check) < mech_rsa_min_bits())
            rv = CKR_WRAPPED_KEY_INVALID; /* rsa_min_bits (mech.h): C_CreateObject refuses it too */
        mech_key_free(&check);
    }
    if (rv == CKR_OK)
        rv = store_new(s, &attrs, audit_for(row), out);
out:
    if (bytes) {
        OPENSSL_cleanse(bytes, len);
        free(bytes);
    }
    mech_key_free(&unwrapper);
    attr_list_free(&given);
    attr_list_free(&made);
    attr_list_free(&attrs);
    attr_list_free(&unwrapper_attrs);
    return rv;
}
