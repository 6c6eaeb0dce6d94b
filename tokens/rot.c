/*
 * rot.c — the device root of trust (docs/spec.md, "The device root of
 * trust"): provider choice, the DRK identifier, and counters raised under
 * one lock shared by every process using the provider's directory.
 */
#include "rot.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define ROT_ID_LABEL "softse drk id v1"

struct rot {
    const rot_ops *ops;
    void *state;
    char *lock_path; /* rot_dir/lock: serializes counter raises across processes */
};

static const rot_ops *find_ops(const char *name)
{
    if (!name || strcmp(name, "file") == 0)
        return &rot_file_ops;
#ifdef SOFTSE_HAVE_TPM
    if (strcmp(name, "tpm") == 0)
        return &rot_tpm_ops;
#endif
    return NULL;
}

/* mkdir -p with mode 0700 for the parts it makes. */
static int make_dirs(const char *dir)
{
    char *copy = strdup(dir);
    if (!copy)
        return -1;
    int rc = 0;
    for (char *p = copy + 1; rc == 0; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(copy, 0700) != 0 && errno != EEXIST)
            rc = -1;
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(copy);
    return rc;
}

CK_RV rot_open(const rot_config *cfg, rot **out)
{
    *out = NULL;
    const rot_ops *ops = find_ops(cfg->provider);
    if (!ops) {
        se_log(SE_LOG_ERROR, "unknown root-of-trust provider \"%s\"%s", cfg->provider,
#ifdef SOFTSE_HAVE_TPM
               " (known: file, tpm)"
#else
               " (known: file; this build has no TPM support)"
#endif
        );
        return CKR_ARGUMENTS_BAD;
    }
    if (!cfg->dir || make_dirs(cfg->dir) != 0) {
        se_log(SE_LOG_ERROR, "root of trust: cannot make the directory %s: %s",
               cfg->dir ? cfg->dir : "(none)", strerror(errno));
        return CKR_DEVICE_ERROR;
    }
    rot *r = calloc(1, sizeof(*r));
    if (!r || asprintf(&r->lock_path, "%s/lock", cfg->dir) < 0) {
        free(r);
        return CKR_HOST_MEMORY;
    }
    r->ops = ops;
    CK_RV rv = ops->open(cfg, &r->state);
    if (rv != CKR_OK) {
        free(r->lock_path);
        free(r);
        return rv;
    }
    *out = r;
    return CKR_OK;
}

void rot_close(rot *r)
{
    if (!r)
        return;
    r->ops->close(r->state);
    free(r->lock_path);
    free(r);
}

const char *rot_provider(const rot *r)
{
    return r->ops->name;
}

CK_RV rot_id(rot *r, unsigned char out[ROT_ID_LEN])
{
    return r->ops->mac(r->state, ROT_ID_LABEL, sizeof(ROT_ID_LABEL) - 1, out);
}

CK_RV rot_mac(rot *r, const void *data, size_t len, unsigned char out[ROT_MAC_LEN])
{
    return r->ops->mac(r->state, data, len, out);
}

CK_RV rot_counter_new(rot *r, uint32_t *id, uint64_t *value)
{
    return r->ops->counter_new(r->state, id, value);
}

CK_RV rot_counter_read(rot *r, uint32_t id, uint64_t *value)
{
    return r->ops->counter_read(r->state, id, value);
}

CK_RV rot_counter_free(rot *r, uint32_t id)
{
    return r->ops->counter_free(r->state, id);
}

/* The lock is an flock on a file of the provider's directory: released by
 * the kernel when a holder dies, so a killed process never blocks others. */
static int lock_take(rot *r)
{
    int fd = open(r->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        se_log(SE_LOG_ERROR, "root of trust: cannot open %s: %s", r->lock_path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            se_log(SE_LOG_ERROR, "root of trust: cannot lock %s: %s", r->lock_path,
                   strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

/* Under the lock, so that two raisers never both increment past the target
 * (a counter above a token's version would make the token look rolled
 * back). */
CK_RV rot_counter_raise(rot *r, uint32_t id, uint64_t target, uint64_t *value)
{
    int fd = lock_take(r);
    if (fd < 0)
        return CKR_DEVICE_ERROR;
    uint64_t now = 0;
    CK_RV rv = r->ops->counter_read(r->state, id, &now);
    while (rv == CKR_OK && now < target)
        rv = r->ops->counter_increment(r->state, id, &now);
    close(fd);
    if (rv == CKR_OK && value)
        *value = now;
    return rv;
}
