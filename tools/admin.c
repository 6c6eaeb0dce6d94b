/*
 * admin.c — the subcommands that work on the token store itself, through
 * tokens/tok.h and without the module: audit (print and verify the
 * hash-chained log of docs/spec.md §3) and delete (remove a token's file).
 *
 * The store directory is found as the module finds it, by the module's
 * own module/config.c (SOFTSE_STORE, SOFTSE_CONF, the system file, the
 * default).  --slot N is the Nth usable token in store order, which is the
 * module's slot N.
 */
#include "config.h"
#include "softse-tool.h"
#include "tok.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the store directory ------------------------------------------------------- */

/* The store directory the module would open, its root of trust
 * configured as the module would configure it; NULL on a configuration
 * error, which config_load has reported. */
static char *store_dir(void)
{
    se_config cfg;
    if (config_load(&cfg, NULL) != CKR_OK)
        return NULL;
    tok_rot_configure(cfg.rot_provider, cfg.rot_dir, cfg.rot_tcti);
    char *dir = cfg.store_dir;
    cfg.store_dir = NULL;
    config_free(&cfg);
    return dir;
}

/* ---- selecting a token file ------------------------------------------------------ */

typedef struct store_token {
    tok *t;
    char label[TOK_LABEL_LEN + 1];
    char serial[TOK_SERIAL_LEN + 1];
} store_token;

static void copy_field(char *out, const char *field, size_t size)
{
    memcpy(out, field, size);
    out[size] = '\0';
    for (size_t n = size; n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\0'); n--)
        out[n - 1] = '\0';
}

static bool store_matches(const p11_selector *sel, size_t index, const store_token *st)
{
    if (sel->has_slot)
        return index == sel->slot;
    if (sel->serial)
        return strcasecmp(st->serial, sel->serial) == 0;
    return strcmp(st->label, sel->label) == 0;
}

/* Opens the one token file that opts selects. */
static int open_selected(const tool_opts *opts, store_token *out)
{
    memset(out, 0, sizeof(*out));
    char *dir = store_dir();
    if (!dir)
        return tool_fail("no store directory (see the message above)");
    char **paths = NULL;
    size_t count = 0, usable = 0, matches = 0;
    CK_RV rv = tok_scan(dir, &paths, &count);
    if (rv != CKR_OK) {
        int rc = tool_ck_fail(rv, "reading the store directory %s", dir);
        free(dir);
        return rc;
    }
    for (size_t i = 0; rv == CKR_OK && i < count; i++) {
        store_token st = {0};
        tok_info info;
        if (tok_open(paths[i], &st.t) != CKR_OK)
            continue; /* the module skips it too: it has no slot */
        rv = tok_get_info(st.t, &info);
        if (rv == CKR_OK) {
            copy_field(st.label, info.label, TOK_LABEL_LEN);
            copy_field(st.serial, info.serial, TOK_SERIAL_LEN);
        }
        if (rv == CKR_OK && store_matches(&opts->select, usable, &st) && matches++ == 0) {
            *out = st;
            st.t = NULL;
        }
        if (st.t)
            tok_close(st.t);
        usable++;
    }
    tok_free_paths(paths, count);
    int rc = TOOL_OK;
    if (rv != CKR_OK)
        rc = tool_ck_fail(rv, "reading the tokens in %s", dir);
    else if (matches == 0)
        rc = tool_ck_fail(CKR_TOKEN_NOT_PRESENT, "no %s in the store %s",
                          tool_token_name(&opts->select), dir);
    else if (matches > 1)
        rc = tool_fail("several tokens are labelled \"%s\" in %s: select one with --serial",
                       opts->select.label, dir);
    if (rc != TOOL_OK && out->t) {
        tok_close(out->t);
        out->t = NULL;
    }
    free(dir);
    return rc;
}

/* ---- audit ------------------------------------------------------------------------ */

typedef struct audit_listing {
    unsigned long records;
} audit_listing;

static void print_record(void *ctx, unsigned long seq, const char *time, const char *event,
                         const char *detail)
{
    audit_listing *listing = ctx;
    listing->records++;
    printf("%6lu  %s  %-22s %s\n", seq, time, event, detail);
}

int cmd_audit(const tool_command *cmd, tool_opts *opts)
{
    (void)cmd;
    store_token st;
    int rc = open_selected(opts, &st);
    if (rc != TOOL_OK)
        return rc;
    printf("audit log of token \"%s\" (serial %s)\n", st.label, st.serial);
    printf("%6s  %-27s  %-22s %s\n", "seq", "time (UTC)", "event", "detail");
    audit_listing listing = {0};
    unsigned long broken = 0;
    CK_RV rv = tok_audit_verify(st.t, print_record, &listing, &broken);
    tok_close(st.t);
    if (rv == CKR_DEVICE_ERROR && broken > 0) {
        if (opts->verify)
            return tool_fail("audit chain broken at record %lu of token \"%s\"", broken, st.label);
        fprintf(stderr, TOOL_NAME ": warning: audit chain broken at record %lu\n", broken);
        return TOOL_OK;
    }
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "reading the audit log of token \"%s\"", st.label);
    if (opts->verify)
        printf("audit chain verified: %lu records\n", listing.records);
    return TOOL_OK;
}

/* ---- delete ------------------------------------------------------------------------ */

/* Manufactured = holds the attestation public key: a public object
 * labelled softse-attestation with CKA_SE_ATTESTATION TRUE (docs/spec.md §2),
 * which the store lists and loads without any PIN.  The label alone
 * proves nothing: any user may give it to an object. */
static CK_RV is_manufactured(tok *t, bool *manufactured)
{
    static const char label[] = P11_ATTESTATION_LABEL;
    tok_attr match = {CKA_LABEL, (unsigned char *)label, sizeof(label) - 1, TOK_ATTR_LOOKUP};
    tok_id *ids = NULL;
    size_t found = 0;
    *manufactured = false;
    CK_RV rv = tok_object_find(t, NULL, &match, 1, &ids, &found);
    for (size_t i = 0; rv == CKR_OK && !*manufactured && i < found; i++) {
        bool is_private;
        tok_attr *attrs = NULL;
        size_t count = 0;
        rv = tok_object_load(t, NULL, ids[i], &is_private, &attrs, &count);
        for (size_t a = 0; rv == CKR_OK && a < count; a++)
            if (attrs[a].type == CKA_SE_ATTESTATION && attrs[a].value && attrs[a].len == 1 &&
                attrs[a].value[0] == CK_TRUE)
                *manufactured = true;
        tok_attrs_free(attrs, count);
    }
    free(ids);
    return rv;
}

int cmd_delete(const tool_command *cmd, tool_opts *opts)
{
    (void)cmd;
    store_token st;
    int rc = open_selected(opts, &st);
    if (rc != TOOL_OK)
        return rc;
    bool manufactured = false;
    CK_RV rv = is_manufactured(st.t, &manufactured);
    if (rv != CKR_OK) {
        tok_close(st.t);
        return tool_ck_fail(rv, "reading the objects of token \"%s\"", st.label);
    }
    if (manufactured && !opts->force) {
        tok_close(st.t);
        return tool_fail("token \"%s\" (serial %s) is manufactured: deleting it destroys its "
                         "device identity for good; add --force to delete it anyway",
                         st.label, st.serial);
    }
    char *path = strdup(tok_path(st.t));
    rv = tok_delete(st.t);
    if (rv != CKR_OK) {
        free(path);
        return tool_ck_fail(rv, "deleting token \"%s\"", st.label);
    }
    printf("deleted token \"%s\" (serial %s%s): %s\n", st.label, st.serial,
           manufactured ? ", manufactured" : "", path ? path : "");
    free(path);
    return TOOL_OK;
}

/* ---- migrate ------------------------------------------------------------------------ */

int cmd_migrate(const tool_command *cmd, tool_opts *opts)
{
    const char *so_pin = tool_pin(cmd, opts, CKU_SO);
    if (!so_pin)
        return TOOL_USAGE;
    const char *pin = opts->pin && *opts->pin ? opts->pin : getenv("SOFTSE_PIN");
    char *dir = store_dir(), *path = NULL;
    if (!dir)
        return tool_fail("no store directory (see the message above)");
    char serial[TOK_SERIAL_LEN + 1] = {0};
    for (size_t i = 0; i < TOK_SERIAL_LEN && opts->select.serial[i]; i++)
        serial[i] = (char)toupper((unsigned char)opts->select.serial[i]);
    if (asprintf(&path, "%s/%s.sqlite", dir, serial) < 0) {
        free(dir);
        return tool_fail("out of memory");
    }
    free(dir);
    CK_RV rv = tok_migrate(path, (const CK_UTF8CHAR *)so_pin, strlen(so_pin),
                           (const CK_UTF8CHAR *)pin, pin ? strlen(pin) : 0);
    int rc = rv == CKR_OK ? TOOL_OK : tool_ck_fail(rv, "migrating the token %s", path);
    if (rv == CKR_OK)
        printf("migrated token %s to store format 2 (bound to the device root of trust)\n", serial);
    free(path);
    return rc;
}
