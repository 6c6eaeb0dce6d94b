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
#include "hex.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#ifndef SOFTSE_VERSION
#define SOFTSE_VERSION "unknown"
#endif

/* ---- the options ------------------------------------------------------------ */

/* Where a parsed option goes in tool_opts. */
typedef enum { ARG_STRING, ARG_FLAG, ARG_SLOT } tool_arg_kind;

typedef struct tool_option {
    tool_optset bit;
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
    /* Keys and files of the protocol commands. */
    {OPT_LABEL, "label", "LABEL", STRING(label), "CKA_LABEL of the key made"},
    {OPT_KEY, "key", "LABEL", STRING(key), "the label of the secret key to use"},
    {OPT_LEN, "len", "N", STRING(len), "CKA_VALUE_LEN of the key made, in bytes"},
    {OPT_SECRET_TYPE, "key-type", "TYPE", STRING(secret_type),
     "K's type: aes (default; 16, 24 or 32 bytes) or generic (16..64)"},
    {OPT_IN, "in", "FILE", STRING(in), "the input file (-: standard input)"},
    {OPT_OUT, "out", "FILE", STRING(out), "the output file (-: standard output)"},
    {OPT_IV, "iv", "HEX", STRING(iv), "the AES-GCM IV, 12 bytes"},
    {OPT_DATA, "data", "HEX", STRING(data), "the data to MAC (may be empty)"},
    {OPT_WRAP_MECH, "mech", "MECH", STRING(mech),
     "gcm (CKM_AES_GCM) or kwp (CKM_AES_KEY_WRAP_KWP)"},
    {OPT_HMAC_MECH, "mech", "HASH", STRING(mech),
     "sha256 (CKM_SHA256_HMAC, default) or sha1 (CKM_SHA_1_HMAC)"},
    {OPT_KI_MECH, "mech", "MECH", STRING(mech), "rsa-raw, rsa-oaep or ec-elgamal (CKM_SE_KI_*)"},
    /* gkea, hkdf (docs/spec.md §4) */
    {OPT_SERVER_PUB, "server-key", "PUB", STRING(server_pub),
     "the server's public key, PEM or DER SubjectPublicKeyInfo (RSA >= 2048, EC P-256/384/521)"},
    {OPT_NONCE, "nonce", "HEX", STRING(nonce), "the server's nonce, 16 to 64 bytes"},
    {OPT_OUT_EK, "out-ek", "FILE", STRING(out_ek), "where to write EK (binary)"},
    {OPT_OUT_AK, "out-ak", "FILE", STRING(out_ak), "where to write AK (binary)"},
    {OPT_TOKEN_OBJECT, "token-object", NULL, FLAG(token_object),
     "make K a token object (else it ends with this process)"},
    {OPT_ATTESTATION_KEY, "attestation-key", "HANDLE", STRING(attestation_key),
     "the attestation key's handle (default: the token's device key)"},
    {OPT_BASE, "base", "LABEL", STRING(base), "the label of the key to derive from (K)"},
    {OPT_SALT, "salt", "HEX", STRING(salt), "the HKDF salt (default: none, CKF_HKDF_SALT_NULL)"},
    {OPT_INFO, "info", "STRING", STRING(info), "the HKDF info, its bytes (default: empty)"},
    /* ki (docs/spec.md §5) */
    {OPT_ISSUER_KEY, "issuer-key", "PUB", STRING(issuer_key),
     "the issuer's public key, PEM or DER SubjectPublicKeyInfo"},
    {OPT_HASH, "hash", "HASH", STRING(hash), "sha256 (default) or sha1"},
    /* sk3 (docs/spec.md §6) */
    {OPT_SERVER_LABEL, "server-key", "LABEL", STRING(server_label),
     "the label of the SK3 server key"},
    {OPT_HOST, "host", "ID", STRING(host), "the host name i, 16 bytes (32 hex digits)"},
    {OPT_TRANSPORT_KEY, "transport-key", "LABEL", STRING(transport_key),
     "the label of the AES transport key (sk3 transport)"},
    {OPT_VALUE, "value", "HEX", STRING(value), "the AES key value, 16, 24 or 32 bytes"},
    {OPT_HOST_I, "i", "ID", STRING(host_i), "host i, 16 bytes (32 hex digits)"},
    {OPT_HOST_J, "j", "ID", STRING(host_j), "host j, 16 bytes (32 hex digits)"},
    {OPT_PEER, "peer", "ID", STRING(peer), "the other host, 16 bytes (32 hex digits)"},
    {OPT_RI, "ri", "HEX", STRING(ri), "r_i from query 1, 32 bytes"},
    {OPT_CI, "ci", "HEX", STRING(ci), "c_i from query 1, 32 bytes"},
    {OPT_ALPHA, "alpha", "HEX", STRING(alpha), "alpha from the server, 32 bytes"},
    {OPT_BETA, "beta", "HEX", STRING(beta), "beta from the server, 32 bytes"},
    {OPT_RJ, "rj", "HEX", STRING(rj), "r_j from query 2, 32 bytes"},
    {OPT_TAU, "tau", "HEX", STRING(tau), "tau_j from query 2, 32 bytes"},
    {OPT_RHO, "rho", "HEX", STRING(rho), "rho_i from query 3, 32 bytes"},
    {OPT_SIGMA_LABEL, "sigma-label", "LABEL", STRING(sigma_label),
     "keep sigma on the token: an AES-256 token key with this label"},
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
     OPT_SELECT | OPT_CA | OPT_CA_KEY, "give a token its device identity (docs/spec.md §2)",
     "As the SO, in lifecycle PERSONALIZATION: generates the attestation key pair inside\n"
     "the token (CKA_SE_ATTESTATION), certifies its public key with the manufacturer CA\n"
     "and stores the certificate and the CA certificate on the token, read-only.\n"
     "Prints the token serial and the certificate subject.  Once per token."},
    {"show", cmd_show, OPT_MODULE | OPT_SELECT, 0, "slots, tokens, lifecycle and identity",
     "Without login: the store directory, where that setting came from and the number\n"
     "of tokens (as C_Initialize logs them at log_level info), then labels, serials,\n"
     "the lifecycle state, token flags with the PIN counters, and the device\n"
     "certificate of manufactured tokens."},
    {"lifecycle", cmd_lifecycle, OPT_MODULE | OPT_SELECT | OPT_SO_PIN | OPT_TO, OPT_SELECT | OPT_TO,
     "move a token to another lifecycle state (docs/spec.md §3)",
     "As the SO: personalization -> operational -> terminated (also personalization ->\n"
     "terminated).  operational -> personalization is a reset: it erases every object\n"
     "but the device identity.  terminated is final and erases every secret key value."},
    {"audit", cmd_audit, OPT_SELECT | OPT_VERIFY, OPT_SELECT, "print (and verify) the audit log",
     "Reads the token file in the store directory without the module, found as the\n"
     "module finds it (README \"Configuration\").  Exits 1 naming the first broken\n"
     "record."},
    {"migrate", cmd_migrate, OPT_SERIAL | OPT_SO_PIN | OPT_PIN, OPT_SERIAL,
     "bind a token of store format 1 to the device root of trust",
     "Tokens written before the device root of trust are refused until migrated:\n"
     "with the SO PIN (and the user PIN when one is set) the master key is wrapped\n"
     "again under keys that need the root of trust configured now (rot_provider,\n"
     "rot_dir, rot_tcti or SOFTSE_ROT_*), and every record gets its MAC."},
    {"delete", cmd_delete, OPT_SELECT | OPT_FORCE, OPT_SELECT, "delete a token's file",
     "Deletes the token from the store directory.  A manufactured token is refused\n"
     "without --force: its device identity cannot be made again."},
    /* The vendor protocols: one file each (gkea.c, ki.c, sk3.c).  Every
     * one logs in as the user: OPT_USER_SESSION. */
    {"gkea", cmd_gkea,
     OPT_USER_SESSION | OPT_SERVER_PUB | OPT_NONCE | OPT_OUT_EK | OPT_OUT_AK | OPT_LABEL |
         OPT_SECRET_TYPE | OPT_LEN | OPT_TOKEN_OBJECT | OPT_ATTESTATION_KEY,
     OPT_SELECT | OPT_SERVER_PUB | OPT_NONCE | OPT_OUT_EK | OPT_OUT_AK,
     "make K for a server, encrypted and attested (docs/spec.md §4)",
     "C_GenerateKey(CKM_SE_GKEA): in one step the token makes K (sensitive, never\n"
     "extractable, only CKA_DERIVE: hkdf), encrypts it to the server's key (EK) and signs\n"
     "K, the server key, the nonce and EK with its attestation key (AK).  Writes EK and\n"
     "AK; prints one line: K's handle and label (default label \"gkea-k\").  Give\n"
     "--token-object to keep K for later commands.  The server checks with\n"
     "`softse-issuer gkea-verify`, the device certificate from `softse-tool gkea-cert`."},
    {"gkea-cert", cmd_gkea_cert, OPT_MODULE | OPT_SELECT | OPT_OUT, OPT_SELECT | OPT_OUT,
     "write the device certificate (DER) that attests GKEA",
     "Without login: writes the token's device certificate (docs/spec.md §2), DER, for\n"
     "`softse-issuer gkea-verify --cert`, and prints its subject."},
    {"hkdf", cmd_hkdf, OPT_USER_SESSION | OPT_BASE | OPT_SALT | OPT_INFO | OPT_LEN | OPT_LABEL,
     OPT_SELECT | OPT_BASE | OPT_LABEL, "derive an AES key from K (CKM_HKDF_DERIVE)",
     "C_DeriveKey(CKM_HKDF_DERIVE: extract and expand, SHA-256) of the key --base into\n"
     "an AES token key (--len 16, 24 or 32; default 32) for encrypt, decrypt and\n"
     "unwrap: what `softse-issuer gkea-verify --derive-enc` computes from K with the\n"
     "same salt and info.  Prints one line: the new key's handle and label."},
    {"unwrap", cmd_unwrap, OPT_USER_SESSION | OPT_KEY | OPT_WRAP_MECH | OPT_IN | OPT_LABEL | OPT_IV,
     OPT_SELECT | OPT_KEY | OPT_WRAP_MECH | OPT_IN | OPT_LABEL,
     "import a server-encrypted secret (C_UnwrapKey)",
     "C_UnwrapKey of the file under the AES key --key into a generic-secret token key\n"
     "with CKA_SIGN (for hmac).  gcm: the file is IV(12) || ciphertext || tag(16), as\n"
     "`softse-issuer wrap-secret` writes it, or ciphertext || tag with --iv.  kwp: RFC\n"
     "5649.  Prints one line: the new key's handle and label."},
    {"hmac", cmd_hmac, OPT_USER_SESSION | OPT_KEY | OPT_DATA | OPT_HMAC_MECH,
     OPT_SELECT | OPT_KEY | OPT_DATA, "HMAC of data with a key on the token (C_Sign)",
     "C_Sign(CKM_SHA256_HMAC, or CKM_SHA_1_HMAC with --mech sha1) with the key --key\n"
     "over the bytes of --data.  Prints the MAC in hex."},
    {"ki", cmd_ki, OPT_USER_SESSION | OPT_ISSUER_KEY | OPT_KI_MECH | OPT_HASH | OPT_LABEL | OPT_LEN,
     OPT_SELECT | OPT_ISSUER_KEY | OPT_KI_MECH | OPT_LABEL,
     "derive KI inside the token for the issuer (docs/spec.md §5)",
     "C_GenerateKey(CKM_SE_KI_RSA_RAW, _RSA_OAEP or _EC_ELGAMAL): the token picks r,\n"
     "keeps KI = H(...) as a sensitive, non-extractable token key with CKA_SIGN (for\n"
     "hmac) and outputs only c.  Prints one line \"<token serial> <c in hex>\": the\n"
     "line `softse-issuer ki-recover` reads.  Only in lifecycle PERSONALIZATION."},
    {"sk3 keygen", cmd_sk3_keygen, OPT_USER_SESSION | OPT_LABEL, OPT_SELECT | OPT_LABEL,
     "make the SK3 server key (docs/spec.md §6)",
     "C_GenerateKey(CKM_SE_SK3_KEY_GEN): a CKK_SE_SK3_SERVER token key.  Only in\n"
     "lifecycle PERSONALIZATION.  Prints one line: its handle and label."},
    {"sk3 transport", cmd_sk3_transport, OPT_USER_SESSION | OPT_LABEL | OPT_VALUE,
     OPT_SELECT | OPT_LABEL | OPT_VALUE, "store an AES transport key (C_CreateObject)",
     "C_CreateObject of an AES token key with CKA_WRAP and CKA_UNWRAP from --value:\n"
     "the same value on the server token and a host token carries the host key from\n"
     "one to the other.  Prints one line: its handle and label."},
    {"sk3 host-derive", cmd_sk3_host_derive,
     OPT_USER_SESSION | OPT_SERVER_LABEL | OPT_HOST | OPT_TRANSPORT_KEY | OPT_OUT,
     OPT_SELECT | OPT_SERVER_LABEL | OPT_HOST | OPT_TRANSPORT_KEY | OPT_OUT,
     "derive and wrap host i's key on the server token",
     "C_DeriveKey(CKM_SE_SK3_HOST_DERIVE) of K(i) || K'(i) || K''(i) as a session key,\n"
     "then C_WrapKey(CKM_AES_KEY_WRAP_KWP) under the transport key: writes the wrapped\n"
     "key to --out.  Prints one line: the host and the number of bytes written."},
    {"sk3 import-host", cmd_sk3_import_host,
     OPT_USER_SESSION | OPT_HOST | OPT_TRANSPORT_KEY | OPT_IN | OPT_LABEL,
     OPT_SELECT | OPT_HOST | OPT_TRANSPORT_KEY | OPT_IN | OPT_LABEL,
     "unwrap host i's key into its card (CKK_SE_SK3_HOST)",
     "C_UnwrapKey(CKM_AES_KEY_WRAP_KWP) of the file from `sk3 host-derive` as a\n"
     "CKK_SE_SK3_HOST token key with CKA_SE_HOST_ID = --host; the card makes its own\n"
     "secret K~(i) then.  Only in lifecycle PERSONALIZATION.  Prints one line: its\n"
     "handle and label."},
    {"sk3 q1", cmd_sk3_q1, OPT_USER_SESSION | OPT_KEY, OPT_SELECT | OPT_KEY,
     "query 1 on host i's card: prints \"r_i c_i\"",
     "C_Sign(CKM_SE_SK3_Q1) with the host key: a fresh r_i and c_i = f_K~(i)(r_i).\n"
     "Prints one line \"<r_i> <c_i>\", 32 bytes each in hex.  Host i sends r_i to j and\n"
     "keeps c_i for query 3."},
    {"sk3 server", cmd_sk3_server, OPT_USER_SESSION | OPT_KEY | OPT_HOST_I | OPT_HOST_J,
     OPT_SELECT | OPT_KEY | OPT_HOST_I | OPT_HOST_J,
     "the server's answer for hosts i, j: prints \"alpha beta\"",
     "C_Sign(CKM_SE_SK3_SERVER, i || j) with the server key.  Prints one line\n"
     "\"<alpha> <beta>\", 32 bytes each in hex, for host i."},
    {"sk3 q2", cmd_sk3_q2, OPT_USER_SESSION | OPT_KEY | OPT_PEER | OPT_RI | OPT_SIGMA_LABEL,
     OPT_SELECT | OPT_KEY | OPT_PEER | OPT_RI, "query 2 on host j's card: prints \"r_j tau_j\"",
     "C_DeriveKey(CKM_SE_SK3_Q2, {i, r_i}) with host j's key: makes sigma_j (kept with\n"
     "--sigma-label, else it ends with this process).  Prints one line\n"
     "\"<r_j> <tau_j>\", 32 bytes each in hex, for host i."},
    {"sk3 q3", cmd_sk3_q3,
     OPT_USER_SESSION | OPT_KEY | OPT_PEER | OPT_RI | OPT_CI | OPT_ALPHA | OPT_BETA | OPT_RJ |
         OPT_TAU | OPT_SIGMA_LABEL,
     OPT_SELECT | OPT_KEY | OPT_PEER | OPT_RI | OPT_CI | OPT_ALPHA | OPT_BETA | OPT_RJ | OPT_TAU,
     "query 3 on host i's card: prints \"rho_i\"",
     "C_DeriveKey(CKM_SE_SK3_Q3) with host i's key: checks c_i, beta and tau_j, makes\n"
     "sigma_i (kept with --sigma-label) and prints one line \"<rho_i>\" (32 bytes, hex)\n"
     "for host j.  A failed check exits 1 with CKR_SE_PROTOCOL_REJECTED."},
    {"sk3 q4", cmd_sk3_q4, OPT_USER_SESSION | OPT_KEY | OPT_PEER | OPT_RI | OPT_RJ | OPT_RHO,
     OPT_SELECT | OPT_KEY | OPT_PEER | OPT_RI | OPT_RJ | OPT_RHO,
     "query 4 on host j's card: prints \"accepted\" or \"rejected: <CKR>\"",
     "C_Verify(CKM_SE_SK3_Q4, {i, r_i, r_j}, rho_i) with host j's key.  Prints\n"
     "\"accepted\" (exit 0) or \"rejected: CKR_SIGNATURE_INVALID\" (exit 1)."},
    {"encrypt", cmd_encrypt, OPT_USER_SESSION | OPT_KEY | OPT_IV | OPT_IN | OPT_OUT,
     OPT_SELECT | OPT_KEY | OPT_IV | OPT_IN | OPT_OUT, "AES-GCM encryption with a token key",
     "C_Encrypt(CKM_AES_GCM, 12-byte IV, 128-bit tag, no AAD) of --in with the AES key\n"
     "--key; writes ciphertext || tag to --out."},
    {"decrypt", cmd_decrypt, OPT_USER_SESSION | OPT_KEY | OPT_IV | OPT_IN | OPT_OUT,
     OPT_SELECT | OPT_KEY | OPT_IV | OPT_IN | OPT_OUT, "AES-GCM decryption with a token key",
     "C_Decrypt(CKM_AES_GCM) of ciphertext || tag from --in with the AES key --key;\n"
     "writes the plaintext to --out only when the tag verifies."},
};

/* Groups of two-word commands: what "softse-tool <group> --help" says
 * besides their usage lines. */
static const struct {
    const char *name, *description;
} groups[] = {
    {"sk3", "SK3 (docs/spec.md §6): each query is one call on one token, so each protocol step is\n"
            "one process; values travel between them as hex.  Provisioning: keygen (S),\n"
            "transport (S and each host), host-derive (S), import-host (host).  A round:\n"
            "  i: q1 -> r_i c_i          S: server -> alpha beta\n"
            "  j: q2 -> r_j tau_j        i: q3 -> rho_i        j: q4 -> accepted\n"
            "and sigma_i = sigma_j (encrypt on i, decrypt on j).  See docs/protocols.md.\n"},
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
    fprintf(stderr, ": %s\n", se_rv_name(rv));
    va_end(ap);
    return TOOL_FAIL;
}

static const tool_option *option_by_bit(tool_optset bit)
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
        tool_optset bit = options[i].bit;
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
    int width = 20;
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        int len =
            (int)(strlen(options[i].name) + 2 + (options[i].arg ? strlen(options[i].arg) + 1 : 0));
        if ((cmd->accepts & options[i].bit) && len > width)
            width = len;
    }
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        if (!(cmd->accepts & options[i].bit))
            continue;
        char left[64];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(out, "  %-*s %s\n", width, left, options[i].help);
    }
    fprintf(out, "  %-*s %s\n", width, "-h, --help", "this help");
}

static void print_usage(FILE *out)
{
    fputs("usage: " TOOL_NAME " <command> [options]   (" TOOL_NAME " <command> --help)\n\n"
          "The token admin tool of softse.  Commands:\n",
          out);
    for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
        fprintf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
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

int tool_user_session(const tool_command *cmd, const tool_opts *opts, bool rw, p11_token *token,
                      CK_SESSION_HANDLE *session)
{
    const char *pin = tool_pin(cmd, opts, CKU_USER);
    if (!pin)
        return TOOL_USAGE;
    int rc = tool_load_module(opts);
    if (rc == TOOL_OK)
        rc = tool_find_token(opts, token);
    if (rc != TOOL_OK)
        return rc;
    CK_RV rv = p11_open(token->slot, rw, CKU_USER, pin, session);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "user login to token \"%s\"", token->label);
    return TOOL_OK;
}

int tool_find_secret_key(CK_SESSION_HANDLE session, const p11_token *token, const char *label,
                         CK_OBJECT_HANDLE *key)
{
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    CK_RV rv = p11_find_labelled(session, CKO_SECRET_KEY, label, &found, &count);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "looking for the key \"%s\" on token \"%s\"", label, token->label);
    if (count == 1)
        *key = found[0];
    free(found);
    if (count == 0)
        return tool_fail("token \"%s\" has no secret key labelled \"%s\"", token->label, label);
    if (count > 1)
        return tool_fail("token \"%s\" has %lu secret keys labelled \"%s\": give each its own "
                         "label",
                         token->label, (unsigned long)count, label);
    return TOOL_OK;
}

int tool_check_new_label(CK_SESSION_HANDLE session, const p11_token *token, const char *label)
{
    if (!*label)
        return tool_fail("a key label cannot be empty");
    CK_OBJECT_HANDLE *found;
    CK_ULONG count;
    CK_RV rv = p11_find_labelled(session, CKO_SECRET_KEY, label, &found, &count);
    free(found);
    if (rv != CKR_OK)
        return tool_ck_fail(rv, "looking for the key \"%s\" on token \"%s\"", label, token->label);
    if (count > 0)
        return tool_fail("token \"%s\" has a secret key labelled \"%s\" already", token->label,
                         label);
    return TOOL_OK;
}

void tool_print_key(CK_OBJECT_HANDLE key, const char *label)
{
    printf("0x%lx %s\n", (unsigned long)key, label);
}

/* ---- values on the command line ----------------------------------------------- */

int tool_hex_option(const tool_command *cmd, const char *name, const char *text, size_t min,
                    size_t max, unsigned char *out, size_t *len)
{
    size_t digits = strlen(text);
    bool hex = digits % 2 == 0;
    for (size_t i = 0; hex && i < digits; i++)
        hex = se_hex_digit(text[i]) >= 0;
    if (!hex)
        return tool_usage_fail(cmd, "--%s is not hex (an even number of digits 0-9, a-f)", name);
    if (digits / 2 < min || digits / 2 > max) {
        if (min == max)
            return tool_usage_fail(cmd, "--%s needs %zu bytes (%zu hex digits), not %zu", name, min,
                                   2 * min, digits / 2);
        return tool_usage_fail(cmd, "--%s needs %zu to %zu bytes, not %zu", name, min, max,
                               digits / 2);
    }
    se_hex_decode(text, digits, out, max, len); /* checked above: cannot fail */
    return TOOL_OK;
}

int tool_count_option(const tool_command *cmd, const char *name, const char *text,
                      unsigned long min, unsigned long max, unsigned long *value)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || n < min || n > max)
        return tool_usage_fail(cmd, "--%s needs a number from %lu to %lu", name, min, max);
    *value = n;
    return TOOL_OK;
}

void tool_print_hex(FILE *out, const unsigned char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        fprintf(out, "%02x", data[i]);
}

/* ---- files ----------------------------------------------------------------------- */

int tool_read_file(const char *path, unsigned char **data, size_t *len)
{
    bool std_in = strcmp(path, "-") == 0;
    FILE *file = std_in ? stdin : fopen(path, "rb");
    if (!file)
        return tool_fail("%s: %s", path, strerror(errno));
    unsigned char *buffer = NULL;
    size_t size = 0, used = 0, got;
    do {
        if (used == size) {
            size_t bigger_size = size ? 2 * size : 4096;
            unsigned char *bigger = realloc(buffer, bigger_size);
            if (!bigger)
                break;
            buffer = bigger;
            size = bigger_size;
        }
        used += got = fread(buffer + used, 1, size - used, file);
    } while (got > 0);
    bool failed = used == size || ferror(file); /* out of memory, or a read error */
    if (!std_in)
        fclose(file);
    if (failed) {
        free(buffer);
        return tool_fail("reading %s failed", std_in ? "standard input" : path);
    }
    *data = buffer;
    *len = used;
    return TOOL_OK;
}

int tool_write_file(const char *path, const void *data, size_t len, unsigned mode)
{
    bool std_out = strcmp(path, "-") == 0;
    int fd = std_out ? -1 : open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, (mode_t)mode);
    FILE *file = std_out ? stdout : fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!file) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return tool_fail("%s: %s", path, strerror(saved));
    }
    bool ok = fwrite(data, 1, len, file) == len;
    ok = (std_out ? fflush(file) : fclose(file)) == 0 && ok;
    return ok ? TOOL_OK
              : tool_fail("writing %s: %s", std_out ? "standard output" : path, strerror(errno));
}

int tool_read_spki(const char *path, unsigned char **der, size_t *len)
{
    unsigned char *data;
    size_t data_len;
    int rc = tool_read_file(path, &data, &data_len);
    if (rc != TOOL_OK)
        return rc;
    unsigned char *spki = NULL;
    long spki_len = 0;
    BIO *bio = BIO_new_mem_buf(data, (int)data_len);
    char *name = NULL, *header = NULL;
    /* PEM "PUBLIC KEY": the DER inside, byte for byte; else the file is DER. */
    if (bio && PEM_read_bio(bio, &name, &header, &spki, &spki_len) == 1) {
        if (strcmp(name, PEM_STRING_PUBLIC) != 0) {
            rc = tool_fail("%s: a PEM \"%s\", not a \"" PEM_STRING_PUBLIC "\"", path, name);
            OPENSSL_free(spki);
            spki = NULL;
        }
    } else if (data_len > 0) {
        spki = OPENSSL_memdup(data, data_len);
        spki_len = (long)data_len;
    }
    ERR_clear_error();
    OPENSSL_free(name);
    OPENSSL_free(header);
    BIO_free(bio);
    free(data);
    if (rc != TOOL_OK)
        return rc;
    const unsigned char *p = spki;
    EVP_PKEY *key = spki ? d2i_PUBKEY(NULL, &p, spki_len) : NULL;
    bool whole = key && p == spki + spki_len;
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!whole) {
        OPENSSL_free(spki);
        return tool_fail("%s: not a public key (PEM \"" PEM_STRING_PUBLIC "\" or DER "
                         "SubjectPublicKeyInfo)",
                         path);
    }
    *der = malloc((size_t)spki_len);
    if (!*der) {
        OPENSSL_free(spki);
        return tool_fail("%s: out of memory", path);
    }
    memcpy(*der, spki, (size_t)spki_len);
    *len = (size_t)spki_len;
    OPENSSL_free(spki);
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

    tool_optset selected = o->given & OPT_SELECT;
    if ((cmd->accepts & OPT_SELECT) == OPT_SELECT && (selected & (selected - 1)))
        return tool_usage_fail(cmd, "give only one of --token, --serial and --slot");
    if ((cmd->requires & OPT_SELECT) == OPT_SELECT && !selected)
        return tool_usage_fail(cmd, "missing --token LABEL (or --serial, --slot)");
    for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
        tool_optset bit = options[i].bit;
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
    for (size_t i = 0; help && i < ARRAY_SIZE(groups); i++)
        if (strcmp(groups[i].name, argv[1]) == 0)
            printf("\n%s", groups[i].description);
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
