/*
 * softse-tool.c — the token admin tool of softse: the command table,
 * option parsing, --help, and the helpers shared by every subcommand.
 *
 *   softse-tool <command> [options]      softse-tool <command> --help
 *
 * Options are one table (name, argument, help) and each command row says
 * which of them it accepts and requires, so parsing, the usage line and
 * --help are all derived from the two tables.
 */
#include "softse-tool.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef SOFTSE_VERSION
#define SOFTSE_VERSION "unknown"
#endif

/* ---- the options ------------------------------------------------------------ */

/* Where a parsed option goes in tool_opts. */
typedef enum { ARG_STRING, ARG_FLAG, ARG_SLOT } tool_arg_kind;

typedef struct tool_option {
    unsigned bit;
    const char *name;
    const char *arg; /* the value's name in help; NULL: a flag */
    tool_arg_kind kind;
    size_t field; /* offsetof(tool_opts, ...) */
    const char *help;
} tool_option;

#define STRING(field) ARG_STRING, offsetof(tool_opts, field)
#define FLAG(field) ARG_FLAG, offsetof(tool_opts, field)

static const tool_option options[] = {
    {OPT_MODULE, "module", "PATH", STRING(module),
     "the PKCS#11 module (default: $SOFTSE_MODULE, else the built or the installed one)"},
    {OPT_TOKEN, "token", "LABEL", STRING(select.label), "the token's label"},
    {OPT_SERIAL, "serial", "SERIAL", STRING(select.serial),
     "the token's serial number (16 hex digits)"},
    {OPT_SLOT, "slot", "N", ARG_SLOT, 0, "the token's slot number"},
    {OPT_SO_PIN, "so-pin", "PIN", STRING(so_pin), "the SO PIN (default: $SOFTSE_SO_PIN)"},
    {OPT_PIN, "pin", "PIN", STRING(pin), "the user PIN (default: $SOFTSE_PIN)"},
    {OPT_CA, "ca", "FILE", STRING(ca), "the manufacturer CA certificate (PEM)"},
    {OPT_CA_KEY, "ca-key", "FILE", STRING(ca_key), "the manufacturer CA private key (PEM)"},
    {OPT_OUT_KEY, "out-key", "FILE", STRING(out_key),
     "where to write the CA private key (PEM, mode 0600)"},
    {OPT_OUT_CERT, "out-cert", "FILE", STRING(out_cert), "where to write the CA certificate (PEM)"},
    {OPT_SUBJECT, "subject", "DN", STRING(subject),
     "the CA subject as /type=value/... (default: /CN=softse manufacturer CA/O=softse)"},
    {OPT_KEY_TYPE, "key-type", "TYPE", STRING(key_type), "ec-p256 (default), rsa2048 or rsa3072"},
    {OPT_TO, "to", "STATE", STRING(to), "personalization, operational or terminated"},
    {OPT_VERIFY, "verify", NULL, FLAG(verify),
     "check the hash chain; fail naming the first broken record"},
    {OPT_FORCE, "force", NULL, FLAG(force), "also delete a manufactured token"},
};
#undef STRING
#undef FLAG

/* ---- the commands --------------------------------------------------------- */

static const tool_command commands[] = {
    {"init", cmd_init, OPT_MODULE | OPT_TOKEN | OPT_SO_PIN | OPT_PIN, OPT_TOKEN,
     "initialize the blank token and its user PIN",
     "C_InitToken on the blank slot with the SO PIN and the label given by --token, then\n"
     "C_InitPIN with the user PIN."},
    {"ca create", cmd_ca_create, OPT_OUT_KEY | OPT_OUT_CERT | OPT_SUBJECT | OPT_KEY_TYPE,
     OPT_OUT_KEY | OPT_OUT_CERT, "make a manufacturer CA key and certificate (files)",
     "A key pair and a self-signed certificate (CA:TRUE, keyCertSign, 20 years), for\n"
     "demonstrations and tests: a real manufacturer keeps its CA key in an HSM."},
    {"manufacture", cmd_manufacture,
     OPT_MODULE | OPT_SELECT | OPT_SO_PIN | OPT_CA | OPT_CA_KEY | OPT_KEY_TYPE,
     OPT_SELECT | OPT_CA | OPT_CA_KEY, "give a token its device identity (SPEC.md §2)",
     "As the SO, in lifecycle PERSONALIZATION: generates the attestation key pair inside\n"
     "the token (CKA_SE_ATTESTATION), certifies its public key with the manufacturer CA\n"
     "and stores the certificate and the CA certificate on the token, read-only.\n"
     "Prints the token serial and the certificate subject.  Once per token."},
    {"show", cmd_show, OPT_MODULE | OPT_SELECT, 0, "slots, tokens, lifecycle and identity",
     "Without login: labels, serials, the lifecycle state, token flags with the PIN\n"
     "counters, and the device certificate of manufactured tokens."},
    {"lifecycle", cmd_lifecycle, OPT_MODULE | OPT_SELECT | OPT_SO_PIN | OPT_TO, OPT_SELECT | OPT_TO,
     "move a token to another lifecycle state (SPEC.md §3)",
     "As the SO: personalization -> operational -> terminated (also personalization ->\n"
     "terminated).  operational -> personalization is a reset: it erases every object\n"
     "but the device identity.  terminated is final and erases every secret key value."},
    {"audit", cmd_audit, OPT_SELECT | OPT_VERIFY, OPT_SELECT, "print (and verify) the audit log",
     "Reads the token file in the store directory without the module: $SOFTSE_STORE,\n"
     "else store_dir of $SOFTSE_CONF, else $XDG_DATA_HOME/softse, else\n"
     "~/.local/share/softse (as the module).  Exits 1 naming the first broken record."},
    {"delete", cmd_delete, OPT_SELECT | OPT_FORCE, OPT_SELECT, "delete a token's file",
     "Deletes the token from the store directory.  A manufactured token is refused\n"
     "without --force: its device identity cannot be made again."},
    /* The vendor protocol commands (gkea, ki, sk3) go here: one row each, a
     * cmd_* in their own file declared in softse-tool.h, and any new
     * option as an OPT_* bit plus a row of options[]. */
};

/* ---- messages --------------------------------------------------------------- */

int tool_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, TOOL_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return TOOL_FAIL;
}

int tool_ck_fail(CK_RV rv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, TOOL_NAME ": ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, ": %s\n", p11_rv_name(rv));
    va_end(ap);
    return TOOL_FAIL;
}

static const tool_option *option_by_bit(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_SIZE(options); i++)
        if (options[i].bit == bit)
            return &options[i];
    return NULL;
}

static void print_option(FILE *out, const tool_option *o)
{
    if (o->arg)
        fprintf(out, "--%s %s", o->name, o->arg);
    else
        fprintf(out, "--%s", o->name);
}

/* "usage: softse-tool lifecycle (--token LABEL | --serial SERIAL | --slot N) --to STATE [...]" */
static void print_synopsis(FILE *out, const tool_command *cmd)
{
    fprintf(out, "usage: " TOOL_NAME " %s", cmd->name);
    if ((cmd->requires & OPT_SELECT) == OPT_SELECT) {
        fputs(" (", out);
        print_option(out, option_by_bit(OPT_TOKEN));
        fputs(" | ", out);
        print_option(out, option_by_bit(OPT_SERIAL));
        fputs(" | ", out);
        print_option(out, option_by_bit(OPT_SLOT));
        fputc(')', out);
    }
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        unsigned bit = options[i].bit;
        if (!(cmd->accepts & bit) ||
            ((cmd->requires & OPT_SELECT) == OPT_SELECT && (bit & OPT_SELECT)))
            continue;
        bool required = cmd->requires & bit;
        fputs(required ? " " : " [", out);
        print_option(out, &options[i]);
        if (!required)
            fputc(']', out);
    }
    fputc('\n', out);
}

int tool_usage_fail(const tool_command *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, TOOL_NAME " %s: ", cmd->name);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    print_synopsis(stderr, cmd);
    return TOOL_USAGE;
}

static void print_command_help(FILE *out, const tool_command *cmd)
{
    print_synopsis(out, cmd);
    fprintf(out, "\n%s.\n", cmd->summary);
    if (cmd->description)
        fprintf(out, "\n%s\n", cmd->description);
    fputs("\noptions:\n", out);
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        if (!(cmd->accepts & options[i].bit))
            continue;
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(out, "  %-20s %s\n", left, options[i].help);
    }
    fprintf(out, "  %-20s %s\n", "-h, --help", "this help");
}

static void print_usage(FILE *out)
{
    fputs("usage: " TOOL_NAME " <command> [options]   (" TOOL_NAME " <command> --help)\n\n"
          "The token admin tool of softse.  Commands:\n",
          out);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

/* ---- helpers for commands ---------------------------------------------------- */

const char *tool_pin(const tool_command *cmd, const tool_opts *opts, CK_USER_TYPE user)
{
    bool so = user == CKU_SO;
    const char *pin = so ? opts->so_pin : opts->pin;
    if (!pin || !*pin)
        pin = getenv(so ? "SOFTSE_SO_PIN" : "SOFTSE_PIN");
    if (!pin || !*pin) {
        tool_usage_fail(cmd, "missing %s PIN (or %s)", so ? "--so-pin" : "--pin",
                        so ? "SOFTSE_SO_PIN" : "SOFTSE_PIN");
        return NULL;
    }
    return pin;
}

int tool_load_module(const tool_opts *opts)
{
    const char *path = p11_module_path(opts->module);
    const char *why = NULL;
    CK_RV rv = p11_load(path, &why);
    if (rv == CKR_LIBRARY_LOAD_FAILED)
        return tool_fail("cannot load the module: %s", why);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "%s", why);
    return TOOL_OK;
}

const char *tool_token_name(const p11_selector *sel)
{
    static char name[128];
    if (sel->has_slot)
        snprintf(name, sizeof(name), "slot %lu", (unsigned long)sel->slot);
    else if (sel->serial)
        snprintf(name, sizeof(name), "token with serial %s", sel->serial);
    else
        snprintf(name, sizeof(name), "token \"%s\"", sel->label ? sel->label : "");
    return name;
}

int tool_find_token(const tool_opts *opts, p11_token *token)
{
    CK_RV rv = p11_find_token(&opts->select, token);
    if (rv == CKR_TOKEN_NOT_PRESENT)
        return tool_ck_fail(rv, "no initialized %s", tool_token_name(&opts->select));
    if (rv == CKR_ARGUMENTS_BAD)
        return tool_fail("several tokens are labelled \"%s\": select one with --serial",
                         opts->select.label);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "listing the tokens");
    return TOOL_OK;
}

/* ---- parsing ---------------------------------------------------------------- */

static bool set_option(tool_opts *o, const tool_option *opt, const char *value)
{
    char *field = (char *)o + opt->field;
    switch (opt->kind) {
    case ARG_STRING:
        *(const char **)field = value;
        return true;
    case ARG_FLAG:
        *(bool *)field = true;
        return true;
    case ARG_SLOT: {
        char *end;
        errno = 0;
        unsigned long slot = strtoul(value, &end, 10);
        if (errno || end == value || *end || value[0] == '-')
            return false;
        o->select.has_slot = true;
        o->select.slot = slot;
        return true;
    }
    }
    return false;
}

static const tool_option *find_option(const tool_command *cmd, const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(options); i++)
        if ((cmd->accepts & options[i].bit) && strlen(options[i].name) == len &&
            strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* Parses argv (argv[0] is the command's last word): "--name value",
 * "--name=value", flags, -h/--help; exact names only (no getopt
 * abbreviations: "--to" must not mean "--token").  Returns TOOL_OK, or
 * TOOL_USAGE after a message, or -1 when --help was printed. */
static int parse(const tool_command *cmd, int argc, char **argv, tool_opts *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_command_help(stdout, cmd);
            return -1;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            return tool_usage_fail(cmd, "unexpected argument \"%s\"", arg);
        const char *name = arg[1] == '-' ? arg + 2 : arg + 1;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const tool_option *opt = arg[1] == '-' ? find_option(cmd, name, len) : NULL;
        if (!opt)
            return tool_usage_fail(cmd, "unknown option \"%.*s\"", (int)(name + len - arg), arg);
        const char *value = NULL;
        if (opt->arg && eq)
            value = eq + 1;
        else if (opt->arg && i + 1 < argc)
            value = argv[++i];
        else if (opt->arg)
            return tool_usage_fail(cmd, "option --%s needs a value", opt->name);
        else if (eq)
            return tool_usage_fail(cmd, "option --%s takes no value", opt->name);
        if (!set_option(o, opt, value))
            return tool_usage_fail(cmd, "bad value \"%s\" for --%s", value, opt->name);
        o->given |= opt->bit;
    }

    unsigned selected = o->given & OPT_SELECT;
    if ((cmd->accepts & OPT_SELECT) == OPT_SELECT && (selected & (selected - 1)))
        return tool_usage_fail(cmd, "give only one of --token, --serial and --slot");
    if ((cmd->requires & OPT_SELECT) == OPT_SELECT && !selected)
        return tool_usage_fail(cmd, "missing --token LABEL (or --serial, --slot)");
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        unsigned bit = options[i].bit;
        if ((cmd->requires & OPT_SELECT) == OPT_SELECT && (bit & OPT_SELECT))
            continue;
        if ((cmd->requires & bit) && !(o->given & bit))
            return tool_usage_fail(cmd, "missing --%s %s", options[i].name,
                                   options[i].arg ? options[i].arg : "");
    }
    return TOOL_OK;
}

/* ---- dispatch -------------------------------------------------------------- */

/* Matches "name" against argv[1] or "argv[1] argv[2]"; returns the number
 * of words used, 0 when it does not match. */
static int match_command(const tool_command *cmd, int argc, char **argv)
{
    const char *space = strchr(cmd->name, ' ');
    if (!space)
        return strcmp(cmd->name, argv[1]) == 0 ? 1 : 0;
    size_t first = (size_t)(space - cmd->name);
    if (strlen(argv[1]) != first || strncmp(cmd->name, argv[1], first) != 0)
        return 0;
    return argc > 2 && strcmp(space + 1, argv[2]) == 0 ? 2 : 0;
}

static bool is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

static bool in_group(const tool_command *cmd, const char *group)
{
    size_t len = strlen(group);
    return strncmp(cmd->name, group, len) == 0 && cmd->name[len] == ' ';
}

/* "softse-tool ca" or "softse-tool ca --help": the commands under "ca";
 * -1 when argv[1] is no group. */
static int group_usage(int argc, char **argv)
{
    size_t found = 0;
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        found += in_group(&commands[i], argv[1]);
    if (!found)
        return -1;
    bool help = argc > 2 && is_help(argv[2]);
    if (!help)
        fprintf(stderr, TOOL_NAME ": unknown command \"%s%s%s\"\n", argv[1], argc > 2 ? " " : "",
                argc > 2 ? argv[2] : "");
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        if (in_group(&commands[i], argv[1]))
            print_synopsis(help ? stdout : stderr, &commands[i]);
    return help ? TOOL_OK : TOOL_USAGE;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return TOOL_USAGE;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return TOOL_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf(TOOL_NAME " %s\n", SOFTSE_VERSION);
        return TOOL_OK;
    }
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
        int words = match_command(&commands[i], argc, argv);
        if (!words)
            continue;
        tool_opts opts;
        int rc = parse(&commands[i], argc - words, argv + words, &opts);
        if (rc < 0)
            return TOOL_OK; /* --help */
        if (rc != TOOL_OK)
            return rc;
        rc = commands[i].run(&commands[i], &opts);
        p11_unload();
        return rc;
    }
    int rc = group_usage(argc, argv);
    if (rc >= 0)
        return rc;
    fprintf(stderr, TOOL_NAME ": unknown command \"%s\"\n", argv[1]);
    print_usage(stderr);
    return TOOL_USAGE;
}
