/*
 * token.c — the subcommands that drive a token through PKCS#11 alone:
 * init (C_InitToken + C_InitPIN), show (what a consumer sees without
 * login), lifecycle (the SO transitions of docs/spec.md §3).
 */
#include "ca.h"
#include "config.h"
#include "identity.h"
#include "softse-tool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- init ---------------------------------------------------------------------- */

int cmd_init(const tool_command *cmd, tool_opts *opts)
{
    const char *label = opts->select.label;
    if (strlen(label) == 0 || strlen(label) > P11_LABEL_LEN)
        return tool_usage_fail(cmd, "a token label has 1 to %d bytes", P11_LABEL_LEN);
    const char *so_pin = tool_pin(cmd, opts, CKU_SO);
    const char *pin = so_pin ? tool_pin(cmd, opts, CKU_USER) : NULL;
    if (!pin)
        return TOOL_USAGE;
    int rc = tool_load_module(opts);
    if (rc != TOOL_OK)
        return rc;

    /* One label, one token: --token must keep naming one. */
    p11_token existing;
    CK_RV rv = p11_find_token(&opts->select, &existing);
    if (rv == CKR_OK || rv == CKR_ARGUMENTS_BAD)
        return tool_fail("a token labelled \"%s\" exists already (serial %s)", label,
                         existing.serial);
    if (rv != CKR_TOKEN_NOT_PRESENT)
        return tool_ck_fail(rv, "listing the tokens");
    CK_SLOT_ID slot;
    rv = p11_blank_slot(&slot);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "finding the blank slot");
    CK_UTF8CHAR padded[P11_LABEL_LEN];
    memset(padded, ' ', sizeof(padded));
    memcpy(padded, label, strlen(label));
    rv = p11_functions()->C_InitToken(slot, (CK_UTF8CHAR_PTR)so_pin, strlen(so_pin), padded);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "C_InitToken of \"%s\" in slot %lu", label, (unsigned long)slot);
    CK_SESSION_HANDLE session;
    rv = p11_open(slot, true, CKU_SO, so_pin, &session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "SO login to the new token \"%s\"", label);
    rv = p11_functions()->C_InitPIN(session, (CK_UTF8CHAR_PTR)pin, strlen(pin));
    p11_close(session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "C_InitPIN on token \"%s\" (the token exists, without user PIN)",
                            label);
    p11_token made;
    rv = p11_token_info(slot, &made);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "C_GetTokenInfo of slot %lu", (unsigned long)slot);
    printf("token \"%s\" initialized in slot %lu, serial %s\n", made.label, (unsigned long)slot,
           made.serial);
    return TOOL_OK;
}

/* ---- show ----------------------------------------------------------------------- */

// clang-format off: one compact table
#define FLAG(name)                                                                                 \
    {                                                                                              \
        name, &#name[4]                                                                            \
    } /* without "CKF_" */
static const struct {
    CK_FLAGS flag;
    const char *name;
} token_flags[] = {
    FLAG(CKF_TOKEN_INITIALIZED),
    FLAG(CKF_USER_PIN_INITIALIZED),
    FLAG(CKF_LOGIN_REQUIRED),
    FLAG(CKF_WRITE_PROTECTED),
    FLAG(CKF_RNG),
    FLAG(CKF_RESTORE_KEY_NOT_NEEDED),
    FLAG(CKF_USER_PIN_COUNT_LOW),
    FLAG(CKF_USER_PIN_FINAL_TRY),
    FLAG(CKF_USER_PIN_LOCKED),
    FLAG(CKF_SO_PIN_COUNT_LOW),
    FLAG(CKF_SO_PIN_FINAL_TRY),
    FLAG(CKF_SO_PIN_LOCKED),
};
#undef FLAG
// clang-format on

/* "ok", "COUNT_LOW", "FINAL_TRY" or "LOCKED" from the three flags. */
static const char *pin_state(CK_FLAGS flags, CK_FLAGS low, CK_FLAGS final, CK_FLAGS locked)
{
    if (flags & locked)
        return "LOCKED";
    if (flags & final)
        return "FINAL_TRY (one try left)";
    if (flags & low)
        return "COUNT_LOW (a wrong PIN was given)";
    return "ok";
}

static void show_identity(CK_SESSION_HANDLE session)
{
    tool_identity id;
    CK_RV rv = identity_read(session, &id);
    if (rv != CKR_OK)
        printf("  identity:      unreadable (%s)\n", se_rv_name(rv));
    else if (id.pub == CK_INVALID_HANDLE)
        printf("  identity:      not manufactured\n");
    else if (id.cert == CK_INVALID_HANDLE)
        printf("  identity:      attestation key without device certificate "
               "(manufacture did not finish)\n");
    else {
        printf("  identity:      manufactured; device certificate:\n");
        if (!ca_print_summary(stdout, id.cert_der, id.cert_len, "   "))
            printf("     (CKA_VALUE is not an X.509 certificate)\n");
    }
    if (rv == CKR_OK && id.impostors > 0)
        printf("  warning:       %lu other certificate(s) labelled \"" P11_ATTESTATION_LABEL
               "\" do not certify the attestation key\n",
               (unsigned long)id.impostors);
    identity_free(&id);
}

static CK_RV show_token(const p11_token *t)
{
    printf("Slot %lu: token \"%s\", serial %s\n", (unsigned long)t->slot, t->label, t->serial);
    CK_SESSION_HANDLE session;
    CK_RV rv = p11_open(t->slot, false, CKU_USER, NULL, &session);
    if (rv != CKR_OK)
        return rv;
    unsigned char state = 0;
    CK_RV lifecycle_rv = p11_lifecycle_get(session, &state);
    if (lifecycle_rv == CKR_OK)
        printf("  lifecycle:     %s\n", p11_lifecycle_name(state));
    else
        printf("  lifecycle:     unknown (%s)\n", se_rv_name(lifecycle_rv));
    printf("  flags:        ");
    for (size_t i = 0; i < ARRAY_SIZE(token_flags); i++)
        if (t->info.flags & token_flags[i].flag)
            printf(" %s", token_flags[i].name);
    printf("\n  user PIN:      %s\n", !(t->info.flags & CKF_USER_PIN_INITIALIZED)
                                          ? "not initialized"
                                          : pin_state(t->info.flags, CKF_USER_PIN_COUNT_LOW,
                                                      CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED));
    printf("  SO PIN:        %s\n",
           pin_state(t->info.flags, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED));
    show_identity(session);
    p11_close(session);
    return CKR_OK;
}

/* The store line C_Initialize logs at level info (module/module.c), from
 * the same module/config.c; the module was loaded without a settings
 * string, so it opened this store. */
static void show_store(void)
{
    CK_SLOT_ID *slots;
    CK_ULONG count;
    size_t tokens = 0;
    if (p11_slots(&slots, &count) != CKR_OK)
        return;
    for (CK_ULONG i = 0; i < count; i++) {
        p11_token token;
        if (p11_token_info(slots[i], &token) == CKR_OK &&
            (token.info.flags & CKF_TOKEN_INITIALIZED))
            tokens++;
    }
    free(slots);
    se_config cfg;
    if (config_load(&cfg, NULL) != CKR_OK)
        return;
    printf("Store %s (from %s): %zu token(s)\n", cfg.store_dir, cfg.store_dir_from, tokens);
    config_free(&cfg);
}

int cmd_show(const tool_command *cmd, tool_opts *opts)
{
    (void)cmd;
    int rc = tool_load_module(opts);
    if (rc != TOOL_OK)
        return rc;
    show_store();
    if (opts->given & OPT_SELECT) {
        p11_token token;
        rc = tool_find_token(opts, &token);
        if (rc != TOOL_OK)
            return rc;
        CK_RV rv = show_token(&token);
        return rv == CKR_OK ? TOOL_OK : tool_ck_fail(rv, "reading token \"%s\"", token.label);
    }
    CK_SLOT_ID *slots;
    CK_ULONG count;
    CK_RV rv = p11_slots(&slots, &count);
    for (CK_ULONG i = 0; rv == CKR_OK && i < count; i++) {
        p11_token token;
        rv = p11_token_info(slots[i], &token);
        if (rv == CKR_OK && !(token.info.flags & CKF_TOKEN_INITIALIZED))
            printf("Slot %lu: blank token (not initialized)\n", (unsigned long)slots[i]);
        else if (rv == CKR_OK)
            rv = show_token(&token);
    }
    free(slots);
    return rv == CKR_OK ? TOOL_OK : tool_ck_fail(rv, "listing the tokens");
}

/* ---- lifecycle ------------------------------------------------------------------ */

/* What a transition did besides changing the state (docs/spec.md §3). */
static const char *transition_effect(unsigned char from, unsigned char to)
{
    if (to == SOFTSE_LIFECYCLE_TERMINATED)
        return " (final; every secret and private key value erased)";
    if (from == SOFTSE_LIFECYCLE_OPERATIONAL && to == SOFTSE_LIFECYCLE_PERSONALIZATION)
        return " (reset: every object but the device identity erased)";
    return "";
}

int cmd_lifecycle(const tool_command *cmd, tool_opts *opts)
{
    unsigned char to;
    if (!p11_lifecycle_parse(opts->to, &to))
        return tool_usage_fail(cmd,
                               "unknown state \"%s\" (personalization, operational or "
                               "terminated)",
                               opts->to);
    const char *so_pin = tool_pin(cmd, opts, CKU_SO);
    if (!so_pin)
        return TOOL_USAGE;
    p11_token token;
    int rc = tool_load_module(opts);
    if (rc == TOOL_OK)
        rc = tool_find_token(opts, &token);
    if (rc != TOOL_OK)
        return rc;
    CK_SESSION_HANDLE session;
    CK_RV rv = p11_open(token.slot, true, CKU_SO, so_pin, &session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "SO login to token \"%s\"", token.label);
    unsigned char from = 0;
    rv = p11_lifecycle_get(session, &from);
    if (rv == CKR_OK && from != to)
        rv = p11_lifecycle_set(session, to);
    p11_close(session);
    if (rv == CKR_SE_LIFECYCLE)
        return tool_ck_fail(rv, "token \"%s\": no transition %s -> %s%s", token.label,
                            p11_lifecycle_name(from), p11_lifecycle_name(to),
                            from == SOFTSE_LIFECYCLE_TERMINATED ? " (TERMINATED is final)" : "");
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "token \"%s\": lifecycle %s -> %s", token.label,
                            p11_lifecycle_name(from), p11_lifecycle_name(to));
    if (from == to)
        printf("token \"%s\" is already %s\n", token.label, p11_lifecycle_name(to));
    else
        printf("token \"%s\": %s -> %s%s\n", token.label, p11_lifecycle_name(from),
               p11_lifecycle_name(to), transition_effect(from, to));
    return TOOL_OK;
}
