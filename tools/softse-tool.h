/*
 * softse-tool.h — what the subcommands of softse-tool share: the parsed
 * options, the command table's row type, and the few helpers that turn a
 * failure into the tool's one-line message.
 *
 * A subcommand is one row of the table in softse-tool.c (name, handler,
 * the options it accepts and requires, help text) and one cmd_* function
 * in the file of its concern:
 *   token.c        init, show, lifecycle   (PKCS#11, SPEC.md §3)
 *   manufacture.c  manufacture             (PKCS#11 + ca.c, SPEC.md §2)
 *   ca.c           ca create               (OpenSSL only)
 *   admin.c        audit, delete           (the token store directly)
 * with tool-p11.c (loading the module, PKCS#11 helpers) and identity.c
 * (recognizing the device identity) under them.
 */
#ifndef SOFTSE_TOOL_H
#define SOFTSE_TOOL_H

#include "tool-p11.h"

#include <stdbool.h>

#define TOOL_NAME "softse-tool"

/* Exit codes: 0 success, 1 an operation failed, 2 a usage error. */
enum { TOOL_OK = 0, TOOL_FAIL = 1, TOOL_USAGE = 2 };

/* One bit per option; a command row lists those it accepts/requires. */
enum {
    OPT_MODULE = 1u << 0,
    OPT_TOKEN = 1u << 1,
    OPT_SERIAL = 1u << 2,
    OPT_SLOT = 1u << 3,
    OPT_SO_PIN = 1u << 4,
    OPT_PIN = 1u << 5,
    OPT_CA = 1u << 6,
    OPT_CA_KEY = 1u << 7,
    OPT_OUT_KEY = 1u << 8,
    OPT_OUT_CERT = 1u << 9,
    OPT_SUBJECT = 1u << 10,
    OPT_KEY_TYPE = 1u << 11,
    OPT_TO = 1u << 12,
    OPT_VERIFY = 1u << 13,
    OPT_FORCE = 1u << 14,
    /* Token selection: --token, --serial or --slot. */
    OPT_SELECT = OPT_TOKEN | OPT_SERIAL | OPT_SLOT,
};

typedef struct tool_opts {
    unsigned given;      /* OPT_* bits seen on the command line */
    const char *module;  /* --module */
    p11_selector select; /* --token / --serial / --slot (init: the new label) */
    const char *so_pin, *pin;
    const char *ca, *ca_key;        /* manufacture */
    const char *out_key, *out_cert; /* ca create */
    const char *subject, *key_type; /* ca create, manufacture */
    const char *to;                 /* lifecycle */
    bool verify, force;
} tool_opts;

typedef struct tool_command tool_command;
struct tool_command {
    const char *name; /* one word, or two ("ca create") */
    int (*run)(const tool_command *cmd, tool_opts *opts);
    unsigned accepts;  /* OPT_* */
    unsigned requires; /* OPT_*; OPT_SELECT means one of the three */
    const char *summary;
    const char *description; /* for --help; may be NULL */
};

/* ---- messages: "softse-tool: <what failed>[: <CKR name>]" ----------------- */

int tool_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int tool_ck_fail(CK_RV rv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tool_usage_fail(const tool_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ---- helpers for commands -------------------------------------------------- */

/* The SO or user PIN from --so-pin/--pin or SOFTSE_SO_PIN/SOFTSE_PIN;
 * prints the usage error and returns NULL when there is none. */
const char *tool_pin(const tool_command *cmd, const tool_opts *opts, CK_USER_TYPE user);

/* Loads the module (p11_module_path); prints why on failure. */
int tool_load_module(const tool_opts *opts);

/* The selected token, for messages: `token "x"`, `token with serial x`,
 * `slot 3`. */
const char *tool_token_name(const p11_selector *sel);

/* p11_find_token with a message on failure. */
int tool_find_token(const tool_opts *opts, p11_token *token);

/* ---- the subcommands ----------------------------------------------------- */

int cmd_init(const tool_command *cmd, tool_opts *opts);
int cmd_show(const tool_command *cmd, tool_opts *opts);
int cmd_lifecycle(const tool_command *cmd, tool_opts *opts);
int cmd_manufacture(const tool_command *cmd, tool_opts *opts);
int cmd_ca_create(const tool_command *cmd, tool_opts *opts);
int cmd_audit(const tool_command *cmd, tool_opts *opts);
int cmd_delete(const tool_command *cmd, tool_opts *opts);

#endif
