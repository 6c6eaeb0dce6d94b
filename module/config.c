/*
 * config.c — where the store lives and how costly PINs are.
 *
 * No configuration is needed: the store is $XDG_DATA_HOME/softse, else
 * ~/.local/share/softse.  SOFTSE_CONF names a file of "key = value" lines
 * (store_dir, pin_kdf_iterations, user_max_failures, so_max_failures,
 * log_level, syslog, trace = on|off, key_separation = strict|relaxed,
 * rot_provider, rot_dir, rot_tcti); SOFTSE_STORE, SOFTSE_PIN_KDF_ITERATIONS,
 * SOFTSE_KEY_SEPARATION, SOFTSE_TRACE and SOFTSE_ROT_* override.
 */
#include "core.h"
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SOFTSE_DEFAULT_PIN_KDF_ITERATIONS
#define SOFTSE_DEFAULT_PIN_KDF_ITERATIONS 600000
#endif

static char *default_store_dir(void)
{
    char *dir = NULL;
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg) {
        if (asprintf(&dir, "%s/softse", xdg) < 0)
            return NULL;
        return dir;
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : NULL;
    }
    if (!home)
        return NULL;
    if (asprintf(&dir, "%s/.local/share/softse", home) < 0)
        return NULL;
    return dir;
}

static bool parse_ulong(const char *text, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || end == text || *end)
        return false;
    *out = v;
    return true;
}

static int parse_level(const char *text)
{
    static const char *const names[] = {"error", "warning", "info", "debug"};
    for (int i = 0; i < (int)ARRAY_SIZE(names); i++)
        if (strcasecmp(text, names[i]) == 0)
            return i;
    unsigned long v;
    if (parse_ulong(text, &v) && v <= SE_LOG_DEBUG)
        return (int)v;
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static CK_RV apply(se_config *cfg, const char *key, const char *value, const char *where)
{
    unsigned long n;
    if (strcmp(key, "store_dir") == 0) {
        free(cfg->store_dir);
        cfg->store_dir = strdup(value);
        return cfg->store_dir ? CKR_OK : CKR_HOST_MEMORY;
    }
    if (strcmp(key, "pin_kdf_iterations") == 0 && parse_ulong(value, &n) && n > 0) {
        cfg->pin_kdf_iterations = n;
        return CKR_OK;
    }
    if (strcmp(key, "user_max_failures") == 0 && parse_ulong(value, &n) && n > 0) {
        cfg->user_max_failures = n;
        return CKR_OK;
    }
    if (strcmp(key, "so_max_failures") == 0 && parse_ulong(value, &n) && n > 0) {
        cfg->so_max_failures = n;
        return CKR_OK;
    }
    static const char *const rot_keys[] = {"rot_provider", "rot_dir", "rot_tcti"};
    char **rot_values[] = {&cfg->rot_provider, &cfg->rot_dir, &cfg->rot_tcti};
    for (size_t i = 0; i < ARRAY_SIZE(rot_keys); i++) {
        if (strcmp(key, rot_keys[i]) == 0) {
            free(*rot_values[i]);
            *rot_values[i] = strdup(value);
            return *rot_values[i] ? CKR_OK : CKR_HOST_MEMORY;
        }
    }
    if (strcmp(key, "log_level") == 0 && parse_level(value) >= 0) {
        se_log_level = parse_level(value);
        return CKR_OK;
    }
    if (strcmp(key, "key_separation") == 0 &&
        (strcmp(value, "strict") == 0 || strcmp(value, "relaxed") == 0)) {
        cfg->key_separation_relaxed = strcmp(value, "relaxed") == 0; /* docs/spec.md §7.2 */
        return CKR_OK;
    }
    if (strcmp(key, "trace") == 0) { /* every C_* call at debug level: trace.h */
        se_trace_on = strcasecmp(value, "on") == 0 || strcasecmp(value, "true") == 0 ||
                      strcmp(value, "1") == 0;
        return CKR_OK;
    }
    if (strcmp(key, "syslog") == 0) {
        se_log_syslog = strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0;
        return CKR_OK;
    }
    se_log(SE_LOG_ERROR, "%s: bad setting \"%s = %s\"", where, key, value);
    return CKR_GENERAL_ERROR;
}

static CK_RV read_file(se_config *cfg, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        se_log(SE_LOG_ERROR, "cannot read configuration %s: %s", path, strerror(errno));
        return CKR_GENERAL_ERROR;
    }
    CK_RV rv = CKR_OK;
    char line[4096];
    unsigned lineno = 0;
    while (rv == CKR_OK && fgets(line, sizeof(line), f)) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *text = trim(line);
        if (!*text)
            continue;
        char *eq = strchr(text, '=');
        char where[512];
        snprintf(where, sizeof(where), "%s:%u", path, lineno);
        if (!eq) {
            se_log(SE_LOG_ERROR, "%s: expected \"key = value\"", where);
            rv = CKR_GENERAL_ERROR;
            break;
        }
        *eq = '\0';
        rv = apply(cfg, trim(text), trim(eq + 1), where);
    }
    fclose(f);
    return rv;
}

CK_RV config_load(se_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->pin_kdf_iterations = SOFTSE_DEFAULT_PIN_KDF_ITERATIONS;
    cfg->user_max_failures = 10;
    cfg->so_max_failures = 10;
    se_trace_on = false; /* this configuration's, not a previous C_Initialize's */
    const char *level = getenv("SOFTSE_LOG_LEVEL");
    if (level && parse_level(level) >= 0)
        se_log_level = parse_level(level);

    CK_RV rv = CKR_OK;
    const char *path = getenv("SOFTSE_CONF");
    if (path && *path) {
        rv = read_file(cfg, path);
        if (rv != CKR_OK)
            goto out;
    }
    const char *store = getenv("SOFTSE_STORE");
    if (store && *store)
        rv = apply(cfg, "store_dir", store, "SOFTSE_STORE");
    static const char *const rot_env[][2] = {{"SOFTSE_ROT_PROVIDER", "rot_provider"},
                                             {"SOFTSE_ROT_DIR", "rot_dir"},
                                             {"SOFTSE_ROT_TCTI", "rot_tcti"}};
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(rot_env); i++) {
        const char *value = getenv(rot_env[i][0]);
        if (value && *value)
            rv = apply(cfg, rot_env[i][1], value, rot_env[i][0]);
    }
    const char *iterations = getenv("SOFTSE_PIN_KDF_ITERATIONS");
    if (rv == CKR_OK && iterations && *iterations)
        rv = apply(cfg, "pin_kdf_iterations", iterations, "SOFTSE_PIN_KDF_ITERATIONS");
    const char *separation = getenv("SOFTSE_KEY_SEPARATION");
    if (rv == CKR_OK && separation && *separation)
        rv = apply(cfg, "key_separation", separation, "SOFTSE_KEY_SEPARATION");
    const char *trace = getenv("SOFTSE_TRACE");
    if (rv == CKR_OK && trace && *trace)
        rv = apply(cfg, "trace", trace, "SOFTSE_TRACE");
    if (rv != CKR_OK)
        goto out;
    if (!cfg->store_dir) {
        cfg->store_dir = default_store_dir();
        if (!cfg->store_dir) {
            se_log(SE_LOG_ERROR, "no store directory: set SOFTSE_STORE, XDG_DATA_HOME or HOME");
            rv = CKR_GENERAL_ERROR;
        }
    }
out:
    if (rv != CKR_OK)
        config_free(cfg);
    return rv;
}

void config_free(se_config *cfg)
{
    free(cfg->store_dir);
    free(cfg->rot_provider);
    free(cfg->rot_dir);
    free(cfg->rot_tcti);
    memset(cfg, 0, sizeof(*cfg));
}
