/* ki-cli.c — placeholder until the ki issuer commands land. */
#include "cli.h"

#include <stdio.h>

int cmd_ki_recover(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "softse-issuer: %s: not implemented yet\n", argv[0]);
    return 2;
}

int cmd_ki_batch(int argc, char **argv)
{
    (void)argc;
    fprintf(stderr, "softse-issuer: %s: not implemented yet\n", argv[0]);
    return 2;
}

