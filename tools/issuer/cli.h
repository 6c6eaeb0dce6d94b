/*
 * cli.h — the subcommands of softse-issuer, one entry point each; every
 * protocol's file implements its own (argv[0] is the subcommand name).
 */
#ifndef SOFTSE_ISSUER_CLI_H
#define SOFTSE_ISSUER_CLI_H

/* gkea-cli.c */
int cmd_keygen(int argc, char **argv);
int cmd_gkea_verify(int argc, char **argv);
int cmd_wrap_secret(int argc, char **argv);
/* ki-cli.c */
int cmd_ki_recover(int argc, char **argv);
int cmd_ki_batch(int argc, char **argv);

#endif
