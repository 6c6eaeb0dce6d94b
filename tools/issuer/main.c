/*
 * main.c — softse-issuer: the issuer side of softse's vendor protocols.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"keygen", cmd_keygen, "make an issuer RSA or EC key pair (files)"},
    {"gkea-verify", cmd_gkea_verify, "verify a card's GKEA output and recover K (docs/spec.md §4)"},
    {"wrap-secret", cmd_wrap_secret, "encrypt a secret for the card under a GKEA-derived key"},
    {"ki-recover", cmd_ki_recover, "recover KI from a batch of 'Id c' lines (docs/spec.md §5)"},
    {"ki-batch", cmd_ki_batch, "simulate a personalization bureau over N tokens"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: softse-issuer <command> [options]   (softse-issuer <command> --help)\n\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "softse-issuer: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
