/*
 * config.h — the module's settings and where they come from (config.c).
 * softse-tool reads them the same way, to find the store the module opens.
 */
#ifndef SOFTSE_CONFIG_H
#define SOFTSE_CONFIG_H

#include "p11.h"

#include <stdbool.h>

typedef struct se_config {
    char *store_dir;
    char *store_dir_from; /* where store_dir was set: a file:line, a variable, ... */
    unsigned long pin_kdf_iterations;
    unsigned long user_max_failures;
    unsigned long so_max_failures;
    char *rot_provider, *rot_dir, *rot_tcti; /* the device root of trust; NULL: default */
    bool key_separation_relaxed;             /* one key may wrap and encrypt (docs/spec.md §7.2) */
    unsigned long rsa_min_bits; /* the smallest RSA modulus generated, imported or used */
} se_config;

/* reserved: the pReserved settings string of C_Initialize, or NULL. */
CK_RV config_load(se_config *cfg, const char *reserved);
/* The system-wide configuration file compiled in (meson's sysconfdir). */
const char *config_system_path(void);
void config_free(se_config *cfg);

#endif
