/*
 * config.c — where the store lives and how costly PINs are.
 *
 * No configuration is needed: the store is $XDG_DATA_HOME/softse, else
 * ~/.local/share/softse.  Settings ("key = value": store_dir,
 * pin_kdf_iterations, user_max_failures, so_max_failures, log_level,
 * syslog, trace = on|off, key_separation = strict|relaxed, rsa_min_bits,
 * rot_provider, rot_dir, rot_tcti) come from, each over the one before:
 *
 *   1. a configuration file: $SOFTSE_CONF when set, else the system-wide
 *      SOFTSE_SYSTEM_CONF (<sysconfdir>/softse/softse.conf, compiled in)
 *      when it exists;
 *   2. the environment: SOFTSE_STORE, SOFTSE_PIN_KDF_ITERATIONS,
 *      SOFTSE_KEY_SEPARATION, SOFTSE_RSA_MIN_BITS, SOFTSE_TRACE,
 *      SOFTSE_ROT_*, SOFTSE_LOG_LEVEL;
 *   3. the string the application passed in CK_C_INITIALIZE_ARGS'
 *      pReserved (NSS's LibraryParameters; p11-kit passes a module file's
 *      x-init-reserved there): "key=value" pairs with the file's keys,
 *      separated by blanks or ';', a value quoted with ' or " when it
 *      holds either.
 *
 * So a service whose environment is empty finds its store through the
 * system file or through the module file that registers softse with
 * p11-kit, instead of quietly opening another user's default store.
 */
#include "config.h"
#include "mech.h" /* MECH_RSA_MIN_BITS */
#include "trace.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef SOFTSE_SYSTEM_CONF
#define SOFTSE_SYSTEM_CONF "/etc/softse/softse.conf"
#endif
/* Longer than any sensible settings string: a pReserved that is not a
 * string ends here instead of being read on. */
#define RESERVED_MAX 4096
#define RESERVED_WHERE "C_Initialize pReserved"

#ifndef SOFTSE_DEFAULT_PIN_KDF_ITERATIONS
#define SOFTSE_DEFAULT_PIN_KDF_ITERATIONS 600000
#endif

static char *default_store_dir(const char **from)
{
    char *dir = NULL;
    const char *xdg = getenv("XDG_DATA_HOME");
    if (xdg && *xdg) {
        *from = "default: $XDG_DATA_HOME/softse";
        if (asprintf(&dir, "%s/softse", xdg) < 0)
            return NULL;
        return dir;
    }
    *from = "default: ~/.local/share/softse";
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
    if (strcmp(key, "store_dir") == 0 && *value) {
        free(cfg->store_dir);
        free(cfg->store_dir_from);
        cfg->store_dir = strdup(value);
        cfg->store_dir_from = strdup(where);
        return cfg->store_dir && cfg->store_dir_from ? CKR_OK : CKR_HOST_MEMORY;
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
    /* Only raised: no card profile asks below 1024 bits (docs/spec.md "RSA
     * as cards use it"). */
    if (strcmp(key, "rsa_min_bits") == 0 && parse_ulong(value, &n) && n >= MECH_RSA_MIN_BITS &&
        n <= MECH_RSA_MAX_BITS) {
        cfg->rsa_min_bits = n;
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

/* Reads "key = value" lines.  A missing file is an error unless missing_ok
 * (the system file need not exist; one that exists but cannot be read is
 * reported, so a service never quietly falls back to another store). */
static CK_RV read_file(se_config *cfg, const char *path, bool missing_ok)
{
    FILE *f = fopen(path, "r");
    if (!f && missing_ok && errno == ENOENT)
        return CKR_OK;
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

static bool is_separator(char c)
{
    return c == ';' || isspace((unsigned char)c);
}

/* Cuts the value at *p: up to the matching quote when it starts with one,
 * else up to the next separator.  NULL when a quote is not closed or is
 * followed by something other than a separator. */
static char *cut_value(char **p)
{
    char *value = *p, *end;
    if (*value == '\'' || *value == '"') {
        end = strchr(value + 1, *value);
        if (!end || (end[1] && !is_separator(end[1])))
            return NULL;
        value++;
    } else {
        for (end = value; *end && !is_separator(*end); end++)
            ;
    }
    *p = *end ? end + 1 : end;
    *end = '\0';
    return value;
}

/* The pReserved settings string (see the top of this file). */
static CK_RV read_reserved(se_config *cfg, const char *reserved)
{
    size_t len = strnlen(reserved, RESERVED_MAX);
    if (len == RESERVED_MAX) {
        se_log(SE_LOG_ERROR, RESERVED_WHERE ": not a string of settings");
        return CKR_ARGUMENTS_BAD;
    }
    char *copy = strndup(reserved, len), *p = copy;
    if (!copy)
        return CKR_HOST_MEMORY;
    CK_RV rv = CKR_OK;
    while (rv == CKR_OK) {
        while (is_separator(*p))
            p++;
        if (!*p)
            break;
        char *key = p;
        while (*p && *p != '=' && !is_separator(*p))
            p++;
        char *value = NULL;
        if (*p == '=') {
            *p++ = '\0';
            value = cut_value(&p);
        }
        if (!value) {
            se_log(SE_LOG_ERROR, RESERVED_WHERE ": expected key=value at \"%.40s\"", key);
            rv = CKR_ARGUMENTS_BAD;
        } else if (apply(cfg, key, value, RESERVED_WHERE) != CKR_OK) {
            rv = CKR_ARGUMENTS_BAD; /* the caller's argument, not our state */
        }
    }
    free(copy);
    return rv;
}

/* The environment variables, each over its file setting. */
static CK_RV read_environment(se_config *cfg)
{
    static const char *const env_keys[][2] = {
        {"SOFTSE_STORE", "store_dir"},
        {"SOFTSE_ROT_PROVIDER", "rot_provider"},
        {"SOFTSE_ROT_DIR", "rot_dir"},
        {"SOFTSE_ROT_TCTI", "rot_tcti"},
        {"SOFTSE_PIN_KDF_ITERATIONS", "pin_kdf_iterations"},
        {"SOFTSE_KEY_SEPARATION", "key_separation"},
        {"SOFTSE_RSA_MIN_BITS", "rsa_min_bits"},
        {"SOFTSE_TRACE", "trace"},
    };
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(env_keys); i++) {
        const char *value = getenv(env_keys[i][0]);
        if (value && *value)
            rv = apply(cfg, env_keys[i][1], value, env_keys[i][0]);
    }
    return rv;
}

static CK_RV use_default_store(se_config *cfg)
{
    if (cfg->store_dir)
        return CKR_OK;
    const char *from = NULL;
    cfg->store_dir = default_store_dir(&from);
    if (!cfg->store_dir) {
        se_log(SE_LOG_ERROR, "no store directory: set SOFTSE_STORE, XDG_DATA_HOME or HOME");
        return CKR_GENERAL_ERROR;
    }
    cfg->store_dir_from = strdup(from);
    return cfg->store_dir_from ? CKR_OK : CKR_HOST_MEMORY;
}

const char *config_system_path(void)
{
    return SOFTSE_SYSTEM_CONF;
}

CK_RV config_load(se_config *cfg, const char *reserved)
{
    memset(cfg, 0, sizeof(*cfg));
    se_log_level = SE_LOG_WARN; /* nothing kept from a previous C_Initialize */
    se_log_syslog = false;
    cfg->pin_kdf_iterations = SOFTSE_DEFAULT_PIN_KDF_ITERATIONS;
    cfg->user_max_failures = 10;
    cfg->so_max_failures = 10;
    cfg->rsa_min_bits = MECH_RSA_MIN_BITS;
    se_trace_on = false; /* this configuration's, not a previous C_Initialize's */

    const char *path = getenv("SOFTSE_CONF");
    CK_RV rv =
        path && *path ? read_file(cfg, path, false) : read_file(cfg, SOFTSE_SYSTEM_CONF, true);
    const char *level = getenv("SOFTSE_LOG_LEVEL");
    if (rv == CKR_OK && level && parse_level(level) >= 0)
        se_log_level = parse_level(level);
    if (rv == CKR_OK)
        rv = read_environment(cfg);
    if (rv == CKR_OK && reserved)
        rv = read_reserved(cfg, reserved);
    if (rv == CKR_OK)
        rv = use_default_store(cfg);
    if (rv != CKR_OK)
        config_free(cfg);
    return rv;
}

void config_free(se_config *cfg)
{
    free(cfg->store_dir);
    free(cfg->store_dir_from);
    free(cfg->rot_provider);
    free(cfg->rot_dir);
    free(cfg->rot_tcti);
    memset(cfg, 0, sizeof(*cfg));
}
