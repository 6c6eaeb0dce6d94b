/*
 * softse-tool.h — what the subcommands of softse-tool share: the parsed
 * options, the command table's row type, and the few helpers that turn a
 * failure into the tool's one-line message.
 *
 * A subcommand is one row of the table in softse-tool.c (name, handler,
 * the options it accepts and requires, help text) and one cmd_* function
 * in the file of its concern:
 *   token.c        init, show, lifecycle   (PKCS#11, docs/spec.md §3)
 *   manufacture.c  manufacture             (PKCS#11 + ca.c, docs/spec.md §2)
 *   ca.c           ca create               (OpenSSL only)
 *   admin.c        audit, delete           (the token store directly)
 *   gkea.c         gkea, gkea-cert, hkdf, unwrap, hmac  (docs/spec.md §4)
 *   ki.c           ki                      (docs/spec.md §5)
 *   sk3.c          sk3 *, encrypt, decrypt (docs/spec.md §6)
 * with tool-p11.c (loading the module, PKCS#11 helpers) and identity.c
 * (recognizing the device identity) under them.
 *
 * The protocol commands take and print hex, and read and write binary
 * files, so that each step of a protocol is one process and a shell script
 * carries the values between them (docs/protocols.md).
 */
#ifndef SOFTSE_TOOL_H
#define SOFTSE_TOOL_H

#include "tool-p11.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TOOL_NAME "softse-tool"

/* Exit codes: 0 success, 1 an operation failed, 2 a usage error. */
enum { TOOL_OK = 0, TOOL_FAIL = 1, TOOL_USAGE = 2 };

/* One bit per option; a command row lists those it accepts/requires.  Two
 * rows of the option table may share a name (--mech, --key-type,
 * --server-key) when no command accepts both: each has its own help. */
typedef uint64_t tool_optset;
#define OPT_BIT(n) ((tool_optset)1 << (n))

#define OPT_MODULE OPT_BIT(0)
#define OPT_TOKEN OPT_BIT(1)
#define OPT_SERIAL OPT_BIT(2)
#define OPT_SLOT OPT_BIT(3)
#define OPT_SO_PIN OPT_BIT(4)
#define OPT_PIN OPT_BIT(5)
#define OPT_CA OPT_BIT(6)
#define OPT_CA_KEY OPT_BIT(7)
#define OPT_OUT_KEY OPT_BIT(8)
#define OPT_OUT_CERT OPT_BIT(9)
#define OPT_SUBJECT OPT_BIT(10)
#define OPT_KEY_TYPE OPT_BIT(11) /* --key-type of ca create, manufacture */
#define OPT_TO OPT_BIT(12)
#define OPT_VERIFY OPT_BIT(13)
#define OPT_FORCE OPT_BIT(14)
/* Keys and files of the protocol commands. */
#define OPT_LABEL OPT_BIT(15)
#define OPT_KEY OPT_BIT(16)
#define OPT_LEN OPT_BIT(17)
#define OPT_SECRET_TYPE OPT_BIT(18) /* --key-type of gkea */
#define OPT_IN OPT_BIT(19)
#define OPT_OUT OPT_BIT(20)
#define OPT_IV OPT_BIT(21)
#define OPT_DATA OPT_BIT(22)
#define OPT_WRAP_MECH OPT_BIT(23) /* --mech of unwrap */
#define OPT_HMAC_MECH OPT_BIT(24) /* --mech of hmac */
#define OPT_KI_MECH OPT_BIT(25)   /* --mech of ki */
/* gkea, hkdf (docs/spec.md §4) */
#define OPT_SERVER_PUB OPT_BIT(26) /* --server-key of gkea */
#define OPT_NONCE OPT_BIT(27)
#define OPT_OUT_EK OPT_BIT(28)
#define OPT_OUT_AK OPT_BIT(29)
#define OPT_TOKEN_OBJECT OPT_BIT(30)
#define OPT_ATTESTATION_KEY OPT_BIT(31)
#define OPT_BASE OPT_BIT(32)
#define OPT_SALT OPT_BIT(33)
#define OPT_INFO OPT_BIT(34)
/* ki (docs/spec.md §5) */
#define OPT_ISSUER_KEY OPT_BIT(35)
#define OPT_HASH OPT_BIT(36)
/* sk3 (docs/spec.md §6) */
#define OPT_SERVER_LABEL OPT_BIT(37) /* --server-key of sk3 host-derive */
#define OPT_HOST OPT_BIT(38)
#define OPT_TRANSPORT_KEY OPT_BIT(39)
#define OPT_VALUE OPT_BIT(40)
#define OPT_HOST_I OPT_BIT(41)
#define OPT_HOST_J OPT_BIT(42)
#define OPT_PEER OPT_BIT(43)
#define OPT_RI OPT_BIT(44)
#define OPT_CI OPT_BIT(45)
#define OPT_ALPHA OPT_BIT(46)
#define OPT_BETA OPT_BIT(47)
#define OPT_RJ OPT_BIT(48)
#define OPT_TAU OPT_BIT(49)
#define OPT_RHO OPT_BIT(50)
#define OPT_SIGMA_LABEL OPT_BIT(51)
/* Token selection: --token, --serial or --slot. */
#define OPT_SELECT (OPT_TOKEN | OPT_SERIAL | OPT_SLOT)
/* What every command on a logged-in token accepts and requires. */
#define OPT_USER_SESSION (OPT_MODULE | OPT_SELECT | OPT_PIN)

typedef struct tool_opts {
    tool_optset given;   /* OPT_* bits seen on the command line */
    const char *module;  /* --module */
    p11_selector select; /* --token / --serial / --slot (init: the new label) */
    const char *so_pin, *pin;
    const char *ca, *ca_key;        /* manufacture */
    const char *out_key, *out_cert; /* ca create */
    const char *subject, *key_type; /* ca create, manufacture */
    const char *to;                 /* lifecycle */
    bool verify, force;
    /* The protocol commands: names of keys, files, hex values. */
    const char *label, *key, *len, *secret_type, *in, *out, *iv, *data, *mech;
    const char *server_pub, *nonce, *out_ek, *out_ak, *attestation_key; /* gkea */
    const char *base, *salt, *info;                                     /* hkdf */
    const char *issuer_key, *hash;                                      /* ki */
    const char *server_label, *host, *transport_key, *value;            /* sk3 provisioning */
    const char *host_i, *host_j, *peer, *ri, *ci, *alpha, *beta, *rj, *tau, *rho;
    const char *sigma_label;
    bool token_object;
} tool_opts;

typedef struct tool_command tool_command;
struct tool_command {
    const char *name; /* one word, or two ("ca create") */
    int (*run)(const tool_command *cmd, tool_opts *opts);
    tool_optset accepts;  /* OPT_* */
    tool_optset requires; /* OPT_*; OPT_SELECT means one of the three */
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

/* The user PIN, the module, the token, a session (RW when rw) logged in as
 * the user: what every protocol command starts with.  TOOL_OK, or the
 * exit code after the message.  Close with p11_close. */
int tool_user_session(const tool_command *cmd, const tool_opts *opts, bool rw, p11_token *token,
                      CK_SESSION_HANDLE *session);

/* The one secret key labelled label on the token; a message when there is
 * none or several. */
int tool_find_secret_key(CK_SESSION_HANDLE session, const p11_token *token, const char *label,
                         CK_OBJECT_HANDLE *key);

/* Refuses a label that a secret key on the token has already (with the
 * message): keys are found by label, which must name one. */
int tool_check_new_label(CK_SESSION_HANDLE session, const p11_token *token, const char *label);

/* The line of a command that made a key: "<handle in hex> <label>". */
void tool_print_key(CK_OBJECT_HANDLE key, const char *label);

/* ---- values on the command line ---------------------------------------------- */

/* Hex of --name: min..max bytes (min 0: may be empty); a usage error
 * naming the option otherwise. */
int tool_hex_option(const tool_command *cmd, const char *name, const char *text, size_t min,
                    size_t max, unsigned char *out, size_t *len);
/* A decimal number of --name in min..max; a usage error otherwise. */
int tool_count_option(const tool_command *cmd, const char *name, const char *text,
                      unsigned long min, unsigned long max, unsigned long *value);
/* Lower-case hex, no separator. */
void tool_print_hex(FILE *out, const unsigned char *data, size_t len);

/* ---- files --------------------------------------------------------------------- */

/* The whole file ("-": standard input) in a malloc()ed buffer. */
int tool_read_file(const char *path, unsigned char **data, size_t *len);
/* Writes (creates or truncates) the file with mode (before umask);
 * "-": standard output. */
int tool_write_file(const char *path, const void *data, size_t len, unsigned mode);
/* The DER SubjectPublicKeyInfo of a PEM ("PUBLIC KEY") or DER public key
 * file, exactly as written there: the bytes the vendor mechanisms take
 * (docs/spec.md §4: "SPKI is exactly the bytes passed").  free() *der. */
int tool_read_spki(const char *path, unsigned char **der, size_t *len);

/* ---- the subcommands ----------------------------------------------------- */

int cmd_init(const tool_command *cmd, tool_opts *opts);
int cmd_show(const tool_command *cmd, tool_opts *opts);
int cmd_lifecycle(const tool_command *cmd, tool_opts *opts);
int cmd_manufacture(const tool_command *cmd, tool_opts *opts);
int cmd_ca_create(const tool_command *cmd, tool_opts *opts);
int cmd_audit(const tool_command *cmd, tool_opts *opts);
int cmd_migrate(const tool_command *cmd, tool_opts *opts);
int cmd_delete(const tool_command *cmd, tool_opts *opts);
/* gkea.c */
int cmd_gkea(const tool_command *cmd, tool_opts *opts);
int cmd_gkea_cert(const tool_command *cmd, tool_opts *opts);
int cmd_hkdf(const tool_command *cmd, tool_opts *opts);
int cmd_unwrap(const tool_command *cmd, tool_opts *opts);
int cmd_hmac(const tool_command *cmd, tool_opts *opts);
/* ki.c */
int cmd_ki(const tool_command *cmd, tool_opts *opts);
/* sk3.c */
int cmd_sk3_keygen(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_transport(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_host_derive(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_import_host(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_q1(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_server(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_q2(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_q3(const tool_command *cmd, tool_opts *opts);
int cmd_sk3_q4(const tool_command *cmd, tool_opts *opts);
int cmd_encrypt(const tool_command *cmd, tool_opts *opts);
int cmd_decrypt(const tool_command *cmd, tool_opts *opts);

#endif
