/*
 * sk3.c — SK3 (Shoup–Rubin, docs/spec.md §6, seed 002) from the shell: the
 * card is a stateless oracle, so every query is one PKCS#11 call in one
 * process, and what a host must remember between queries (r_i, c_i…) is
 * hex on its command line.
 *
 *   provisioning  sk3 keygen (server S), sk3 transport (S and a host),
 *                 sk3 host-derive (S), sk3 import-host (the host's card)
 *   a round       sk3 q1 (i), sk3 server (S), sk3 q2 (j), sk3 q3 (i),
 *                 sk3 q4 (j)
 *   the result    encrypt (with σ_i on i), decrypt (with σ_j on j)
 *
 * Each query prints one line of space-separated hex fields.
 */
#include "softse-tool.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SK3_LEN SOFTSE_SK3_LEN       /* r, c, α, β, τ, ρ, σ */
#define SK3_ID_LEN SOFTSE_SK3_ID_LEN /* host names */
#define WRAPPED_MAX 256              /* KWP of 96 bytes: 104 */
#define GCM_IV_LEN 12
#define GCM_TAG_BITS 128
#define GCM_TAG_LEN (GCM_TAG_BITS / 8)
#define FILE_MODE 0644
#define SECRET_FILE_MODE 0600

/* ---- shared steps ------------------------------------------------------------- */

/* A 16-byte host name of --name. */
static int host_option(const tool_command *cmd, const char *name, const char *text,
                       unsigned char id[SK3_ID_LEN])
{
    size_t len;
    return tool_hex_option(cmd, name, text, SK3_ID_LEN, SK3_ID_LEN, id, &len);
}

/* A 32-byte protocol value of --name. */
static int value_option(const tool_command *cmd, const char *name, const char *text,
                        unsigned char out[SK3_LEN])
{
    size_t len;
    return tool_hex_option(cmd, name, text, SK3_LEN, SK3_LEN, out, &len);
}

/* Logs in and finds the key --key (or another label). */
static int open_with_key(const tool_command *cmd, const tool_opts *opts, bool rw, const char *label,
                         p11_token *token, CK_SESSION_HANDLE *session, CK_OBJECT_HANDLE *key)
{
    int rc = tool_user_session(cmd, opts, rw, token, session);
    if (rc != TOOL_OK)
        return rc;
    rc = tool_find_secret_key(*session, token, label, key);
    if (rc != TOOL_OK)
        p11_close(*session);
    return rc;
}

/* Prints "<hex> <hex>…" for count values of SK3_LEN bytes. */
static void print_values(const unsigned char *values, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (i)
            putchar(' ');
        tool_print_hex(stdout, values + i * SK3_LEN, SK3_LEN);
    }
    putchar('\n');
}

/* C_SignInit + C_Sign with an SK3 mechanism whose answer is two values. */
static CK_RV sign_pair(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE type, CK_OBJECT_HANDLE key,
                       const unsigned char *data, CK_ULONG data_len, unsigned char out[2 * SK3_LEN])
{
    CK_MECHANISM mech = {type, NULL_PTR, 0};
    CK_ULONG len = 2 * SK3_LEN;
    CK_RV rv = p11_functions()->C_SignInit(session, &mech, key);
    if (rv == CKR_OK)
        rv = p11_functions()->C_Sign(session, (CK_BYTE_PTR)data, data_len, out, &len);
    if (rv == CKR_OK && len != 2 * SK3_LEN)
        rv = CKR_DEVICE_ERROR; /* docs/spec.md §6: both answers are 64 bytes */
    return rv;
}

/* The template of σ (docs/spec.md §6: class, type and flags from the
 * template): an AES-256 key for encrypt/decrypt, on the token when
 * labelled, else it ends with the process. */
static void sigma_template(p11_template *tmpl, const char *label)
{
    p11_secret_template(tmpl, CKK_AES, label != NULL, label);
    p11_template_value_len(tmpl, SK3_LEN);
    p11_template_uses(tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_ENCRYPT, CKA_DECRYPT}, 2);
}

/* ---- provisioning ---------------------------------------------------------------- */

int cmd_sk3_keygen(const tool_command *cmd, tool_opts *opts)
{
    p11_token token;
    CK_SESSION_HANDLE session;
    int rc = tool_user_session(cmd, opts, true, &token, &session);
    if (rc != TOOL_OK)
        return rc;
    rc = tool_check_new_label(session, &token, opts->label);
    if (rc == TOOL_OK) {
        p11_template tmpl;
        p11_secret_template(&tmpl, CKK_SE_SK3_SERVER, true, opts->label);
        CK_MECHANISM mech = {CKM_SE_SK3_KEY_GEN, NULL_PTR, 0};
        CK_OBJECT_HANDLE key;
        CK_RV rv = p11_functions()->C_GenerateKey(session, &mech, tmpl.attrs, tmpl.count, &key);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "C_GenerateKey(CKM_SE_SK3_KEY_GEN) on token \"%s\"", token.label);
        else
            tool_print_key(key, opts->label);
    }
    p11_close(session);
    return rc;
}

int cmd_sk3_transport(const tool_command *cmd, tool_opts *opts)
{
    unsigned char value[32];
    size_t value_len = 0;
    if (tool_hex_option(cmd, "value", opts->value, 16, 32, value, &value_len) != TOOL_OK)
        return TOOL_USAGE;
    if (value_len != 16 && value_len != 24 && value_len != 32) {
        OPENSSL_cleanse(value, sizeof(value));
        return tool_usage_fail(cmd, "an AES key has 16, 24 or 32 bytes, not %zu", value_len);
    }
    p11_token token;
    CK_SESSION_HANDLE session;
    int rc = tool_user_session(cmd, opts, true, &token, &session);
    if (rc != TOOL_OK) {
        OPENSSL_cleanse(value, sizeof(value));
        return rc;
    }
    rc = tool_check_new_label(session, &token, opts->label);
    if (rc == TOOL_OK) {
        p11_template tmpl;
        p11_secret_template(&tmpl, CKK_AES, true, opts->label);
        p11_template_uses(&tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_WRAP, CKA_UNWRAP}, 2);
        p11_template_bytes(&tmpl, CKA_VALUE, value, value_len);
        CK_OBJECT_HANDLE key;
        CK_RV rv = p11_functions()->C_CreateObject(session, tmpl.attrs, tmpl.count, &key);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "C_CreateObject of the AES key \"%s\" on token \"%s\"",
                              opts->label, token.label);
        else
            tool_print_key(key, opts->label);
    }
    OPENSSL_cleanse(value, sizeof(value));
    p11_close(session);
    return rc;
}

int cmd_sk3_host_derive(const tool_command *cmd, tool_opts *opts)
{
    CK_SE_SK3_HOST_PARAMS params;
    if (host_option(cmd, "host", opts->host, params.hostId) != TOOL_OK)
        return TOOL_USAGE;
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE server, transport, derived = CK_INVALID_HANDLE;
    int rc = open_with_key(cmd, opts, false, opts->server_label, &token, &session, &server);
    if (rc != TOOL_OK)
        return rc;
    rc = tool_find_secret_key(session, &token, opts->transport_key, &transport);
    if (rc != TOOL_OK)
        goto out;

    /* K(i) ‖ K'(i) ‖ K''(i) lives only in this session, wrappable but
     * never readable. */
    CK_MECHANISM derive = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    p11_template tmpl;
    p11_secret_template(&tmpl, CKK_GENERIC_SECRET, false, NULL);
    p11_template_flag(&tmpl, CKA_EXTRACTABLE, true);
    CK_RV rv =
        p11_functions()->C_DeriveKey(session, &derive, server, tmpl.attrs, tmpl.count, &derived);
    if (rv != CKR_OK) {
        derived = CK_INVALID_HANDLE;
        rc = tool_ck_fail(rv, "C_DeriveKey(CKM_SE_SK3_HOST_DERIVE) from \"%s\" on token \"%s\"",
                          opts->server_label, token.label);
        goto out;
    }
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL_PTR, 0};
    unsigned char wrapped[WRAPPED_MAX];
    CK_ULONG wrapped_len = sizeof(wrapped);
    rv = p11_functions()->C_WrapKey(session, &kwp, transport, derived, wrapped, &wrapped_len);
    if (rv != CKR_OK) {
        rc = tool_ck_fail(rv, "C_WrapKey(CKM_AES_KEY_WRAP_KWP) under \"%s\" on token \"%s\"",
                          opts->transport_key, token.label);
        goto out;
    }
    rc = tool_write_file(opts->out, wrapped, wrapped_len, FILE_MODE);
    if (rc == TOOL_OK)
        printf("%s %lu\n", opts->host, (unsigned long)wrapped_len);
out:
    if (derived != CK_INVALID_HANDLE)
        p11_functions()->C_DestroyObject(session, derived);
    p11_close(session);
    return rc;
}

int cmd_sk3_import_host(const tool_command *cmd, tool_opts *opts)
{
    unsigned char id[SK3_ID_LEN];
    if (host_option(cmd, "host", opts->host, id) != TOOL_OK)
        return TOOL_USAGE;
    unsigned char *wrapped;
    size_t wrapped_len;
    int rc = tool_read_file(opts->in, &wrapped, &wrapped_len);
    if (rc != TOOL_OK)
        return rc;
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE transport, host;
    rc = open_with_key(cmd, opts, true, opts->transport_key, &token, &session, &transport);
    if (rc != TOOL_OK) {
        free(wrapped);
        return rc;
    }
    rc = tool_check_new_label(session, &token, opts->label);
    if (rc == TOOL_OK) {
        CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL_PTR, 0};
        p11_template tmpl;
        p11_secret_template(&tmpl, CKK_SE_SK3_HOST, true, opts->label);
        p11_template_bytes(&tmpl, CKA_SE_HOST_ID, id, SK3_ID_LEN);
        CK_RV rv = p11_functions()->C_UnwrapKey(session, &kwp, transport, wrapped, wrapped_len,
                                                tmpl.attrs, tmpl.count, &host);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "C_UnwrapKey(CKM_AES_KEY_WRAP_KWP) of host %s on token \"%s\"",
                              opts->host, token.label);
        else
            tool_print_key(host, opts->label);
    }
    p11_close(session);
    free(wrapped);
    return rc;
}

/* ---- the queries -------------------------------------------------------------------- */

int cmd_sk3_q1(const tool_command *cmd, tool_opts *opts)
{
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int rc = open_with_key(cmd, opts, false, opts->key, &token, &session, &key);
    if (rc != TOOL_OK)
        return rc;
    unsigned char out[2 * SK3_LEN];
    CK_RV rv = sign_pair(session, CKM_SE_SK3_Q1, key, NULL_PTR, 0, out);
    p11_close(session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "query 1 (C_Sign CKM_SE_SK3_Q1) with \"%s\" on token \"%s\"",
                            opts->key, token.label);
    print_values(out, 2); /* r_i c_i */
    return TOOL_OK;
}

int cmd_sk3_server(const tool_command *cmd, tool_opts *opts)
{
    unsigned char ids[2 * SK3_ID_LEN]; /* i ‖ j */
    if (host_option(cmd, "i", opts->host_i, ids) != TOOL_OK ||
        host_option(cmd, "j", opts->host_j, ids + SK3_ID_LEN) != TOOL_OK)
        return TOOL_USAGE;
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int rc = open_with_key(cmd, opts, false, opts->key, &token, &session, &key);
    if (rc != TOOL_OK)
        return rc;
    unsigned char out[2 * SK3_LEN];
    CK_RV rv = sign_pair(session, CKM_SE_SK3_SERVER, key, ids, sizeof(ids), out);
    p11_close(session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv,
                            "the server query (C_Sign CKM_SE_SK3_SERVER) with \"%s\" on "
                            "token \"%s\"",
                            opts->key, token.label);
    print_values(out, 2); /* alpha beta */
    return TOOL_OK;
}

/* C_DeriveKey of σ with query 2 or 3's parameters; checks the new label
 * first when σ is kept. */
static int derive_sigma(const tool_command *cmd, const tool_opts *opts, CK_MECHANISM *mech,
                        const char *what)
{
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key, sigma;
    bool keep = opts->sigma_label != NULL;
    int rc = open_with_key(cmd, opts, keep, opts->key, &token, &session, &key);
    if (rc != TOOL_OK)
        return rc;
    if (keep)
        rc = tool_check_new_label(session, &token, opts->sigma_label);
    if (rc == TOOL_OK) {
        p11_template tmpl;
        sigma_template(&tmpl, opts->sigma_label);
        CK_RV rv = p11_functions()->C_DeriveKey(session, mech, key, tmpl.attrs, tmpl.count, &sigma);
        if (rv != CKR_OK)
            rc = tool_ck_fail(rv, "%s with \"%s\" on token \"%s\"", what, opts->key, token.label);
    }
    p11_close(session);
    return rc;
}

int cmd_sk3_q2(const tool_command *cmd, tool_opts *opts)
{
    CK_SE_SK3_Q2_PARAMS params;
    memset(&params, 0, sizeof(params));
    if (host_option(cmd, "peer", opts->peer, params.peerId) != TOOL_OK ||
        value_option(cmd, "ri", opts->ri, params.ri) != TOOL_OK)
        return TOOL_USAGE;
    CK_MECHANISM mech = {CKM_SE_SK3_Q2, &params, sizeof(params)};
    int rc = derive_sigma(cmd, opts, &mech, "query 2 (C_DeriveKey CKM_SE_SK3_Q2)");
    if (rc == TOOL_OK) {
        unsigned char out[2 * SK3_LEN];
        memcpy(out, params.rj, SK3_LEN);
        memcpy(out + SK3_LEN, params.tauJ, SK3_LEN);
        print_values(out, 2); /* r_j tau_j */
    }
    return rc;
}

int cmd_sk3_q3(const tool_command *cmd, tool_opts *opts)
{
    CK_SE_SK3_Q3_PARAMS params;
    memset(&params, 0, sizeof(params));
    if (host_option(cmd, "peer", opts->peer, params.peerId) != TOOL_OK ||
        value_option(cmd, "ri", opts->ri, params.ri) != TOOL_OK ||
        value_option(cmd, "ci", opts->ci, params.ci) != TOOL_OK ||
        value_option(cmd, "alpha", opts->alpha, params.alpha) != TOOL_OK ||
        value_option(cmd, "beta", opts->beta, params.beta) != TOOL_OK ||
        value_option(cmd, "rj", opts->rj, params.rj) != TOOL_OK ||
        value_option(cmd, "tau", opts->tau, params.tauJ) != TOOL_OK)
        return TOOL_USAGE;
    CK_MECHANISM mech = {CKM_SE_SK3_Q3, &params, sizeof(params)};
    int rc = derive_sigma(cmd, opts, &mech, "query 3 (C_DeriveKey CKM_SE_SK3_Q3)");
    if (rc == TOOL_OK)
        print_values(params.rhoI, 1); /* rho_i */
    return rc;
}

int cmd_sk3_q4(const tool_command *cmd, tool_opts *opts)
{
    CK_SE_SK3_Q4_PARAMS params;
    unsigned char rho[SK3_LEN];
    if (host_option(cmd, "peer", opts->peer, params.peerId) != TOOL_OK ||
        value_option(cmd, "ri", opts->ri, params.ri) != TOOL_OK ||
        value_option(cmd, "rj", opts->rj, params.rj) != TOOL_OK ||
        value_option(cmd, "rho", opts->rho, rho) != TOOL_OK)
        return TOOL_USAGE;
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    int rc = open_with_key(cmd, opts, false, opts->key, &token, &session, &key);
    if (rc != TOOL_OK)
        return rc;
    CK_MECHANISM mech = {CKM_SE_SK3_Q4, &params, sizeof(params)};
    CK_RV rv = p11_functions()->C_VerifyInit(session, &mech, key);
    if (rv == CKR_OK)
        rv = p11_functions()->C_Verify(session, NULL_PTR, 0, rho, sizeof(rho));
    p11_close(session);
    if (rv == CKR_OK) {
        printf("accepted\n");
        return TOOL_OK;
    }
    if (rv == CKR_SIGNATURE_INVALID) {
        printf("rejected: %s\n", se_rv_name(rv));
        return TOOL_FAIL;
    }
    return tool_ck_fail(rv, "query 4 (C_Verify CKM_SE_SK3_Q4) with \"%s\" on token \"%s\"",
                        opts->key, token.label);
}

/* ---- encrypt, decrypt: showing σ_i = σ_j --------------------------------------------- */

/* AES-GCM (12-byte IV, 128-bit tag, no AAD) of --in into --out. */
static int gcm(const tool_command *cmd, tool_opts *opts, bool encrypt)
{
    unsigned char iv[GCM_IV_LEN];
    size_t iv_len;
    if (tool_hex_option(cmd, "iv", opts->iv, GCM_IV_LEN, GCM_IV_LEN, iv, &iv_len) != TOOL_OK)
        return TOOL_USAGE;
    unsigned char *in, *out = NULL;
    size_t in_len;
    int rc = tool_read_file(opts->in, &in, &in_len);
    if (rc != TOOL_OK)
        return rc;
    if (!encrypt && in_len < GCM_TAG_LEN) {
        free(in);
        return tool_fail("%s: shorter than a %d-byte tag", opts->in, GCM_TAG_LEN);
    }
    p11_token token;
    CK_SESSION_HANDLE session;
    CK_OBJECT_HANDLE key;
    rc = open_with_key(cmd, opts, false, opts->key, &token, &session, &key);
    if (rc != TOOL_OK) {
        free(in);
        return rc;
    }
    size_t out_size = encrypt ? in_len + GCM_TAG_LEN : in_len;
    CK_ULONG out_len = out_size;
    out = malloc(out_size ? out_size : 1);
    CK_GCM_PARAMS_V3 params = {iv, GCM_IV_LEN, GCM_IV_LEN * 8, NULL_PTR, 0, GCM_TAG_BITS};
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    CK_FUNCTION_LIST_PTR f = p11_functions();
    CK_RV rv = out ? CKR_OK : CKR_HOST_MEMORY;
    if (rv == CKR_OK)
        rv =
            encrypt ? f->C_EncryptInit(session, &mech, key) : f->C_DecryptInit(session, &mech, key);
    if (rv == CKR_OK)
        rv = encrypt ? f->C_Encrypt(session, in, in_len, out, &out_len)
                     : f->C_Decrypt(session, in, in_len, out, &out_len);
    p11_close(session);
    if (rv != CKR_OK)
        rc = tool_ck_fail(rv, "%s(CKM_AES_GCM) with \"%s\" on token \"%s\"",
                          encrypt ? "C_Encrypt" : "C_Decrypt", opts->key, token.label);
    else
        rc = tool_write_file(opts->out, out, out_len, encrypt ? FILE_MODE : SECRET_FILE_MODE);
    if (out)
        OPENSSL_cleanse(out, out_size);
    OPENSSL_cleanse(in, in_len);
    free(out);
    free(in);
    return rc;
}

int cmd_encrypt(const tool_command *cmd, tool_opts *opts)
{
    return gcm(cmd, opts, true);
}

int cmd_decrypt(const tool_command *cmd, tool_opts *opts)
{
    return gcm(cmd, opts, false);
}
