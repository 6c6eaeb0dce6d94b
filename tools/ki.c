/*
 * ki.c — `softse-tool ki`: the card's side of in-card KI derivation
 * (docs/spec.md §5, seed 000) at the personalization bureau.
 *
 * The token picks r, keeps KI = H(r ‖ …) as a sensitive, non-extractable
 * token key and outputs only c = E_PK(r).  The command prints the bureau's
 * batch line "<token serial> <c in hex>", which is what
 * `softse-issuer ki-recover` reads: the bureau never sees KI, the issuer
 * recovers it from c with its private key, and the card later proves KI
 * with `softse-tool hmac` (docs/protocols.md).
 */
#include "softse-tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
    const char *mech_name;
} ki_mechs[] = {
    {"rsa-raw", CKM_SE_KI_RSA_RAW, "CKM_SE_KI_RSA_RAW"},
    {"rsa-oaep", CKM_SE_KI_RSA_OAEP, "CKM_SE_KI_RSA_OAEP"},
    {"ec-elgamal", CKM_SE_KI_EC_ELGAMAL, "CKM_SE_KI_EC_ELGAMAL"},
};

static const struct {
    const char *name;
    CK_MECHANISM_TYPE mech;
    unsigned long len; /* KI has at most the hash's length */
} ki_hashes[] = {
    {"sha256", CKM_SHA256, 32},
    {"sha1", CKM_SHA_1, 20},
};

/* C_GenerateKey(mech) twice: without the output buffer, which gives c's
 * size and creates nothing (docs/spec.md §1.3), then for real.  *c is malloc()ed. */
static CK_RV ki_generate(CK_SESSION_HANDLE session, CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE hash,
                         const unsigned char *spki, size_t spki_len, p11_template *tmpl,
                         unsigned char **c, CK_ULONG *c_len, CK_OBJECT_HANDLE *ki)
{
    *c = NULL;
    *c_len = 0;
    CK_SE_KI_PARAMS params = {hash, (CK_BYTE_PTR)spki, spki_len, NULL_PTR, c_len};
    CK_MECHANISM mechanism = {mech, &params, sizeof(params)};
    CK_RV rv = p11_functions()->C_GenerateKey(session, &mechanism, tmpl->attrs, tmpl->count, ki);
    if (rv == CKR_OK)
        return CKR_FUNCTION_FAILED; /* made KI without anywhere to put c: cannot be */
    if (rv != CKR_BUFFER_TOO_SMALL)
        return rv;
    *c = malloc(*c_len ? *c_len : 1);
    if (!*c)
        return CKR_HOST_MEMORY;
    params.pCiphertext = *c;
    return p11_functions()->C_GenerateKey(session, &mechanism, tmpl->attrs, tmpl->count, ki);
}

int cmd_ki(const tool_command *cmd, tool_opts *opts)
{
    size_t mech = 0, hash = 0;
    while (mech < ARRAY_SIZE(ki_mechs) && strcmp(ki_mechs[mech].name, opts->mech) != 0)
        mech++;
    if (mech == ARRAY_SIZE(ki_mechs))
        return tool_usage_fail(cmd, "unknown mechanism \"%s\" (rsa-raw, rsa-oaep or ec-elgamal)",
                               opts->mech);
    while (opts->hash && hash < ARRAY_SIZE(ki_hashes) && strcmp(ki_hashes[hash].name, opts->hash))
        hash++;
    if (hash == ARRAY_SIZE(ki_hashes))
        return tool_usage_fail(cmd, "unknown hash \"%s\" (sha256 or sha1)", opts->hash);
    unsigned long len = 0;
    if (opts->len &&
        tool_count_option(cmd, "len", opts->len, 1, ki_hashes[hash].len, &len) != TOOL_OK)
        return TOOL_USAGE;

    unsigned char *spki = NULL, *c = NULL;
    size_t spki_len = 0;
    CK_ULONG c_len = 0;
    CK_SESSION_HANDLE session = CK_INVALID_HANDLE;
    p11_token token;
    int rc = tool_read_spki(opts->issuer_key, &spki, &spki_len);
    if (rc == TOOL_OK)
        rc = tool_user_session(cmd, opts, true, &token, &session);
    if (rc == TOOL_OK)
        rc = tool_check_new_label(session, &token, opts->label);
    if (rc != TOOL_OK)
        goto out;

    /* A generic secret for CKM_SHA256_HMAC / CKM_SHA_1_HMAC: the card's
     * proof of KI (docs/spec.md §5). */
    p11_template tmpl;
    p11_secret_template(&tmpl, CKK_GENERIC_SECRET, true, opts->label);
    p11_template_uses(&tmpl, (CK_ATTRIBUTE_TYPE[]){CKA_SIGN, CKA_VERIFY}, 2);
    if (len)
        p11_template_value_len(&tmpl, len);
    CK_OBJECT_HANDLE ki;
    CK_RV rv = ki_generate(session, ki_mechs[mech].mech, ki_hashes[hash].mech, spki, spki_len,
                           &tmpl, &c, &c_len, &ki);
    if (rv != CKR_OK) {
        rc = tool_ck_fail(rv, "C_GenerateKey(%s) on token \"%s\"", ki_mechs[mech].mech_name,
                          token.label);
        goto out;
    }
    printf("%s ", token.serial);
    tool_print_hex(stdout, c, c_len);
    putchar('\n');
out:
    if (session != CK_INVALID_HANDLE)
        p11_close(session);
    free(spki);
    free(c);
    return rc;
}
