/* gkea-cli.c — placeholder until the gkea issuer commands land. */
#include "cli.h"

#include <stdio.h>

int cmd_keygen(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "softse-issuer: %s: not implemented yet\n", argv[0]);
    return 2;
}

int cmd_gkea_verify(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "softse-issuer: %s: not implemented yet\n", argv[0]);
    return 2;
}

int cmd_wrap_secret(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "softse-issuer: %s: not implemented yet\n", argv[0]);
    return 2;
}

