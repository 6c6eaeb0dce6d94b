/*
 * gkea.c — the card's side of CKM_SE_GKEA (docs/spec.md §4, seed 001) and the
 * standard calls that put K to work, one process per step:
 *
 *   gkea       C_GenerateKey(CKM_SE_GKEA): K on the token, EK and AK in files
 *   gkea-cert  the device certificate the server checks AK with (docs/spec.md §2)
 *   hkdf       C_DeriveKey(CKM_HKDF_DERIVE): a working AES key from K
 *   unwrap     C_UnwrapKey(CKM_AES_GCM or CKM_AES_KEY_WRAP_KWP): a secret
 *              the server encrypted under that key
 *   hmac       C_Sign(CKM_SHA256_HMAC or CKM_SHA_1_HMAC): proof that the
 *              token holds a secret (the imported one, or KI of docs/spec.md §5)
 *
 * The server's side is softse-issuer (keygen, gkea-verify, wrap-secret);
 * docs/protocols.md scripts the two together.
 */
#include "ca.h"
#include "identity.h"
#include "softse-tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define GKEA_DEFAULT_LABEL "gkea-k"
#define GKEA_NONCE_MIN 16 /* docs/spec.md §4: CK_SE_GKEA_PARAMS.pNonce */
#define GKEA_NONCE_MAX 64
#define GENERIC_MIN 16 /* docs/spec.md §4: a generic-secret K has 16..64 bytes */
#define GENERIC_MAX 64
#define AES_DEFAULT_LEN 32
#define HKDF_SALT_MAX 256
#define GCM_IV_LEN 12
#define GCM_TAG_BITS 128
#define GCM_TAG_LEN (GCM_TAG_BITS / 8)
#define HMAC_MAX_LEN 64
#define FILE_MODE 0644

/* ---- key lengths --------------------------------------------------------------- */

static bool aes_len(unsigned long len)
{
    return len == 16 || len == 24 || len == 32;
}

/* --len of an AES key: 16, 24 or 32, default 32. */
static int aes_len_option(const tool_command *cmd, const tool_opts *opts, CK_ULONG *len)
{
    unsigned long value = AES_DEFAULT_LEN;
    if (opts->len && tool_count_option(cmd, "len", opts->len, 16, 32, &value) != TOOL_OK)
        return TOOL_USAGE;
    if (!aes_len(value))
        return tool_usage_fail(cmd, "an AES key has 16, 24 or 32 bytes, not %lu", value);
    *len = value;
    return TOOL_OK;
}

/* ---- gkea ----------------------------------------------------------------------- */

/* What the command line asks of K and the call. */
typedef struct gkea_request {
    CK_KEY_TYPE type;
    CK_ULONG len;
    const char *label;
    unsigned char nonce[GKEA_NONCE_MAX];
    size_t nonce_len;
    CK_OBJECT_HANDLE attestation;
} gkea_request;

static int gkea_parse(const tool_command *cmd, const tool_opts *opts, gkea_request *req)
{
    req->type = CKK_AES;
    req->label = opts->label ? opts->label : GKEA_DEFAULT_LABEL;
    req->attestation = CK_INVALID_HANDLE;
    if (opts->secret_type && strcmp(opts->secret_type, "generic") == 0)
        req->type = CKK_GENERIC_SECRET;
    else if (opts->secret_type && strcmp(opts->secret_type, "aes") != 0)
        return tool_usage_fail(cmd, "unknown key type \"%s\" (aes or generic)", opts->secret_type);
    if (req->type == CKK_AES) {
        if (aes_len_option(cmd, opts, &req->len) != TOOL_OK)
            return TOOL_USAGE;
    } else {
        unsigned long len = AES_DEFAULT_LEN;
        if (opts->len &&
            tool_count_option(cmd, "len", opts->len, GENERIC_MIN, GENERIC_MAX, &len) != TOOL_OK)
            return TOOL_USAGE;
        req->len = len;
    }
    if (tool_hex_option(cmd, "nonce", opts->nonce, GKEA_NONCE_MIN, GKEA_NONCE_MAX, req->nonce,
                        &req->nonce_len) != TOOL_OK)
        return TOOL_USAGE;
    if (opts->attestation_key) {
        char *end;
        errno = 0;
        unsigned long handle = strtoul(opts->attestation_key, &end, 0);
        if (errno || end == opts->attestation_key || *end || opts->attestation_key[0] == '-')
            return tool_usage_fail(cmd, "bad value \"%s\" for --attestation-key",
                                   opts->attestation_key);
        req->attestation = handle;
    }
    return TOOL_OK;
}

/* C_GenerateKey(CKM_SE_GKEA) twice: first without output buffers, which
 * gives their sizes and creates nothing (docs/spec.md §1.3), then for real.
 * *ek and *ak are malloc()ed. */
static CK_RV gkea_generate(CK_SESSION_HANDLE session, const gkea_request *req,
                           const unsigned char *spki, size_t spki_len, p11_template *tmpl,
                           unsigned char **ek, CK_ULONG *ek_len, unsigned char **ak,
                           CK_ULONG *ak_len, CK_OBJECT_HANDLE *k)
{
    *ek = *ak = NULL;
    *ek_len = *ak_len = 0;
    CK_SE_GKEA_PARAMS params = {
        .hAttestationKey = req->attestation,
        .pServerPublicKey = (CK_BYTE_PTR)spki,
        .ulServerPublicKeyLen = spki_len,
        .pNonce = (CK_BYTE_PTR)req->nonce,
        .ulNonceLen = req->nonce_len,
        .pEncryptedKey = NULL_PTR,
        .pulEncryptedKeyLen = ek_len,
        .pAttestation = NULL_PTR,
        .pulAttestationLen = ak_len,
    };
    CK_MECHANISM mech = {CKM_SE_GKEA, &params, sizeof(params)};
    CK_RV rv = p11_functions()->C_GenerateKey(session, &mech, tmpl->attrs, tmpl->count, k);
    if (rv == CKR_OK)
        return CKR_FUNCTION_FAILED; /* made K without anywhere to put EK: cannot be */
    if (rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    *ek = malloc(*ek_len ? *ek_len : 1);
    *ak = malloc(*ak_len ? *ak_len : 1);
    if (!*ek || !*ak)
        return CKR_HOST_MEMORY;
    params.pEncryptedKey = *ek;
    params.pAttestation = *ak;
    return p11_functions()->C_GenerateKey(session, &mech, tmpl->attrs, tmpl->count, k);
}

int cmd_gkea(const tool_command *cmd, tool_opts *opts)
{
    gkea_request req;
    if (gkea_parse(cmd, opts, &req) != TOOL_OK)
        return TOOL_USAGE;
    unsigned char *spki = NULL, *ek = NULL, *ak = NULL;
    size_t spki_len = 0;
    CK_ULONG ek_len = 0, ak_len = 0;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    CK_OBJECT_HANDLE k = CK_INVALID_HANDLE;
    p11_token token;
    int rc = tool_read_spki(opts->server_pub, &spki, &spki_len);
    if (rc == TOOL_OK)
        rc = tool_user_session(cmd, opts, opts->token_object, &token, &session);
    if (rc != TOOL_OK)
        goto out;
    if (opts->token_object && (rc = tool_check_new_label(session, &token, req.label)) != TOOL_OK)
        goto out;

    /* K: sensitive and never extractable whatever we ask (docs/spec.md §4); a
     * base for the working keys and nothing else. */
    p11_template tmpl;
    p11_secret_template(&tmpl, req.type, opts->token_object, req.label);
    p11_template_value_len(&tmpl, req.len);
    p11_template_uses(&tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_DERIVE}, 1);
    CK_RV rv = gkea_generate(session, &req, spki, spki_len, &tmpl, &ek, &ek_len, &ak, &ak_len, &k);
    if (rv != CKR_OK) {
        k = CK_INVALID_HANDLE;
        rc = tool_ck_fail(rv, "C_GenerateKey(CKM_SE_GKEA) on token \"%s\"", token.label);
        goto out;
    }
    rc = tool_write_file(opts->out_ek, ek, ek_len, FILE_MODE);
    if (rc == TOOL_OK)
        rc = tool_write_file(opts->out_ak, ak, ak_len, FILE_MODE);
    if (rc != TOOL_OK) {
        /* Without EK the server never gets K: do not leave it behind. */
        p11_functions()->C_DestroyObject(session, k);
        goto out;
    }
    tool_print_key(k, req.label);
out:
    if (session != CK_INVALID_HANDLE)
        p11_close(session);
    free(spki);
    free(ek);
    free(ak);
    return rc;
}

/* ---- gkea-cert ------------------------------------------------------------------------ */

int cmd_gkea_cert(const tool_command *cmd, tool_opts *opts)
{
    (void)cmd;
    p11_token token;
    int rc = tool_load_module(opts);
    if (rc == TOOL_OK)
        rc = tool_find_token(opts, &token);
    if (rc != TOOL_OK)
        return rc;
    CK_SESSION_HANDLE session;
    CK_RV rv = p11_open(token.slot, false, CKU_USER, NULL, &session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "opening a session on token \"%s\"", token.label);
    tool_identity id;
    rv = identity_read(session, &id);
    p11_close(session);
    if (rv != CKR_OK)
        rc = tool_ck_fail(rv, "reading the identity of token \"%s\"", token.label);
    else if (id.cert == CK_INVALID_HANDLE)
        rc = tool_fail("token \"%s\" has no device certificate (softse-tool manufacture)",
                       token.label);
    else
        rc = tool_write_file(opts->out, id.cert_der, id.cert_len, FILE_MODE);
    if (rc == TOOL_OK) {
        const unsigned char *p = id.cert_der;
        X509 *cert = d2i_X509(NULL, &p, (long)id.cert_len);
        char *subject = cert ? ca_name_text(X509_get_subject_name(cert)) : NULL;
        printf("%s %s\n", opts->out, subject ? subject : "(unreadable subject)");
        free(subject);
        X509_free(cert);
    }
    identity_free(&id);
    return rc;
}

/* ---- hkdf ------------------------------------------------------------------------------- */

int cmd_hkdf(const tool_command *cmd, tool_opts *opts)
{
    unsigned char salt[HKDF_SALT_MAX];
    size_t salt_len = 0;
    CK_ULONG len = 0; /* set by aes_len_option; gcc -O3 cannot see that */
    if (aes_len_option(cmd, opts, &len) != TOOL_OK ||
        (opts->salt &&
         tool_hex_option(cmd, "salt", opts->salt, 1, sizeof(salt), salt, &salt_len) != TOOL_OK))
        return TOOL_USAGE;
    const char *info = opts->info ? opts->info : "";
    p11_token token;
    CK_SESSION_HANDLE session;
    int rc = tool_user_session(cmd, opts, true, &token, &session);
    if (rc != TOOL_OK)
        return rc;
    CK_OBJECT_HANDLE base, derived;
    rc = tool_find_secret_key(session, &token, opts->base, &base);
    if (rc == TOOL_OK)
        rc = tool_check_new_label(session, &token, opts->label);
    if (rc != TOOL_OK)
        goto out;
    /* As softse-issuer gkea-verify --derive-enc: extract and expand with
     * SHA-256 (PKCS#11 3.0 §2.43.2). */
    CK_HKDF_PARAMS params = {
        .bExtract = CK_TRUE,
        .bExpand = CK_TRUE,
        .prfHashMechanism = CKM_SHA256,
        .ulSaltType = salt_len ? CKF_HKDF_SALT_DATA : CKF_HKDF_SALT_NULL,
        .pSalt = salt_len ? salt : NULL_PTR,
        .ulSaltLen = salt_len,
        .hSaltKey = CK_INVALID_HANDLE,
        .pInfo = (CK_BYTE_PTR)info,
        .ulInfoLen = strlen(info),
    };
    CK_MECHANISM mech = {CKM_HKDF_DERIVE, &params, sizeof(params)};
    p11_template tmpl;
    p11_secret_template(&tmpl, CKK_AES, true, opts->label);
    p11_template_value_len(&tmpl, len);
    p11_template_uses(&tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_ENCRYPT, CKA_DECRYPT, CKA_UNWRAP}, 3);
    CK_RV rv = p11_functions()->C_DeriveKey(session, &mech, base, tmpl.attrs, tmpl.count, &derived);
    if (rv != CKR_OK)
        rc = tool_ck_fail(rv, "C_DeriveKey(CKM_HKDF_DERIVE) from \"%s\" on token \"%s\"",
                          opts->base, token.label);
    else
        tool_print_key(derived, opts->label);
out:
    p11_close(session);
    return rc;
}

/* ---- unwrap ----------------------------------------------------------------------------- */

int cmd_unwrap(const tool_command *cmd, tool_opts *opts)
{
    bool gcm = strcmp(opts->mech, "gcm") == 0;
    if (!gcm && strcmp(opts->mech, "kwp") != 0)
        return tool_usage_fail(cmd, "unknown mechanism \"%s\" (gcm or kwp)", opts->mech);
    unsigned char iv[GCM_IV_LEN];
    size_t iv_len = 0;
    if (opts->iv && !gcm)
        return tool_usage_fail(cmd, "--iv goes with --mech gcm");
    if (opts->iv &&
        tool_hex_option(cmd, "iv", opts->iv, GCM_IV_LEN, GCM_IV_LEN, iv, &iv_len) != TOOL_OK)
        return TOOL_USAGE;
    unsigned char *wrapped;
    size_t wrapped_len;
    int rc = tool_read_file(opts->in, &wrapped, &wrapped_len);
    if (rc != TOOL_OK)
        return rc;
    /* softse-issuer wrap-secret --mech gcm writes IV || ciphertext || tag. */
    size_t skip = gcm && !opts->iv ? GCM_IV_LEN : 0;
    if (gcm && wrapped_len < skip + GCM_TAG_LEN + 1) {
        free(wrapped);
        return tool_fail("%s: too short for %sciphertext and a %d-byte tag", opts->in,
                         skip ? "an IV, " : "", GCM_TAG_LEN);
    }
    if (skip)
        memcpy(iv, wrapped, GCM_IV_LEN);

    p11_token token;
    CK_SESSION_HANDLE session;
    rc = tool_user_session(cmd, opts, true, &token, &session);
    if (rc != TOOL_OK) {
        free(wrapped);
        return rc;
    }
    CK_OBJECT_HANDLE key, secret;
    rc = tool_find_secret_key(session, &token, opts->key, &key);
    if (rc == TOOL_OK)
        rc = tool_check_new_label(session, &token, opts->label);
    if (rc == TOOL_OK) {
        CK_GCM_PARAMS_V3 params = {iv, GCM_IV_LEN, GCM_IV_LEN * 8, NULL_PTR, 0, GCM_TAG_BITS};
        CK_MECHANISM mech = gcm ? (CK_MECHANISM){CKM_AES_GCM, &params, sizeof(params)}
                                : (CK_MECHANISM){CKM_AES_KEY_WRAP_KWP, NULL_PTR, 0};
        p11_template tmpl;
        p11_secret_template(&tmpl, CKK_GENERIC_SECRET, true, opts->label);
        p11_template_uses(&tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_SIGN, CKA_VERIFY}, 2);
        CK_RV rv =
            p11_functions()->C_UnwrapKey(session, &mech, key, wrapped + skip, wrapped_len - skip,
                                         tmpl.attrs, tmpl.count, &secret);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "C_UnwrapKey(%s) with \"%s\" on token \"%s\"",
                              gcm ? "CKM_AES_GCM" : "CKM_AES_KEY_WRAP_KWP", opts->key, token.label);
        else
            tool_print_key(secret, opts->label);
    }
    p11_close(session);
    free(wrapped);
    return rc;
}

/* ---- hmac ------------------------------------------------------------------------------- */

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
    const char *mech_name;
} hmac_mechs[] = {
    {"sha256", CKM_SHA256_HMAC, "CKM_SHA256_HMAC"},
    {"sha1", CKM_SHA_1_HMAC, "CKM_SHA_1_HMAC"},
};

int cmd_hmac(const tool_command *cmd, tool_opts *opts)
{
    size_t which = 0;
    if (opts->mech) {
        while (which < ARRAY_SIZE(hmac_mechs) && strcmp(hmac_mechs[which].name, opts->mech) != 0)
            which++;
        if (which == ARRAY_SIZE(hmac_mechs))
            return tool_usage_fail(cmd, "unknown hash \"%s\" (sha256 or sha1)", opts->mech);
    }
    size_t max = strlen(opts->data) / 2, data_len = 0;
    unsigned char *data = malloc(max ? max : 1);
    if (!data)
        return tool_fail("out of memory");
    if (tool_hex_option(cmd, "data", opts->data, 0, max, data, &data_len) != TOOL_OK) {
        free(data);
        return TOOL_USAGE;
    }
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int rc = tool_user_session(cmd, opts, false, &token, &session);
    if (rc != TOOL_OK) {
        free(data);
        return rc;
    }
    rc = tool_find_secret_key(session, &token, opts->key, &key);
    if (rc == TOOL_OK) {
        CK_MECHANISM mech = {hmac_mechs[which].mech, NULL_PTR, 0};
        unsigned char mac[HMAC_MAX_LEN];
        CK_ULONG mac_len = sizeof(mac);
        CK_RV rv = p11_functions()->C_SignInit(session, &mech, key);
        if (rv == CKR_OK)
            rv = p11_functions()->C_Sign(session, data, data_len, mac, &mac_len);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "C_Sign(%s) with \"%s\" on token \"%s\"",
                              hmac_mechs[which].mech_name, opts->key, token.label);
        else {
            tool_print_hex(stdout, mac, mac_len);
            putchar('\n');
        }
    }
    p11_close(session);
    free(data);
    return rc;
}
