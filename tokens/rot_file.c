/*
 * rot_file.c — the "file" root of trust: the DRK is 32 random bytes in a
 * 0600 file of the provider's directory (created on first use), counters
 * are small files beside it.  It protects against a copy of the store
 * alone, not against whoever can read this directory (README, "Security
 * model").
 */
#include "rot.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#define DRK_LEN 32

typedef struct file_rot {
    char *dir;
    unsigned char drk[DRK_LEN];
} file_rot;

static CK_RV io_error(const char *what, const char *path)
{
    se_log(SE_LOG_ERROR, "root of trust (file): %s %s: %s", what, path, strerror(errno));
    return CKR_DEVICE_ERROR;
}

static bool write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Writes data to path atomically and durably: a temporary file, fsync,
 * then link (exclusive: an existing path is kept, EEXIST) or rename. */
static int publish(const char *dir, const char *path, const void *data, size_t len,
                   bool exclusive)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok = write_all(fd, data, len) && fsync(fd) == 0;
    close(fd);
    int rc = -1;
    if (ok)
        rc = exclusive ? link(tmp, path) : rename(tmp, path);
    int saved = errno;
    unlink(tmp);
    if (rc == 0)
        sync_dir(dir);
    errno = saved;
    return rc;
}

static int read_exact(const char *path, void *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len);
    int saved = errno;
    close(fd);
    errno = n < 0 ? saved : EINVAL;
    return n == (ssize_t)len ? 0 : -1;
}

static CK_RV load_or_make_drk(file_rot *f)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/drk", f->dir);
    if (read_exact(path, f->drk, DRK_LEN) == 0)
        return CKR_OK;
    if (errno != ENOENT)
        return io_error("cannot read the device root key", path);
    unsigned char fresh[DRK_LEN];
    if (RAND_priv_bytes(fresh, sizeof(fresh)) != 1)
        return CKR_FUNCTION_FAILED;
    /* Two processes may make one at once: the first link wins and the
     * other reads it. */
    int rc = publish(f->dir, path, fresh, sizeof(fresh), true);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    if (rc != 0 && errno != EEXIST)
        return io_error("cannot create the device root key", path);
    se_log(SE_LOG_INFO, "root of trust (file): device root key %s", rc == 0 ? "created" : "found");
    if (read_exact(path, f->drk, DRK_LEN) != 0)
        return io_error("cannot read the device root key", path);
    return CKR_OK;
}

static void file_close(void *state)
{
    file_rot *f = state;
    if (!f)
        return;
    OPENSSL_cleanse(f->drk, sizeof(f->drk));
    free(f->dir);
    free(f);
}

static CK_RV file_open(const rot_config *cfg, void **state)
{
    file_rot *f = calloc(1, sizeof(*f));
    if (!f || !(f->dir = strdup(cfg->dir))) {
        free(f);
        return CKR_HOST_MEMORY;
    }
    char counters[4096];
    snprintf(counters, sizeof(counters), "%s/counters", f->dir);
    CK_RV rv = CKR_OK;
    if (mkdir(counters, 0700) != 0 && errno != EEXIST)
        rv = io_error("cannot make", counters);
    if (rv == CKR_OK)
        rv = load_or_make_drk(f);
    if (rv != CKR_OK) {
        file_close(f);
        return rv;
    }
    *state = f;
    return CKR_OK;
}

static CK_RV file_mac(void *state, const void *data, size_t len, unsigned char out[ROT_MAC_LEN])
{
    file_rot *f = state;
    size_t out_len = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, f->drk, DRK_LEN, data, len, out,
                   ROT_MAC_LEN, &out_len) ||
        out_len != ROT_MAC_LEN)
        return CKR_FUNCTION_FAILED;
    return CKR_OK;
}

static void counter_path(const file_rot *f, uint32_t id, char *path, size_t size)
{
    snprintf(path, size, "%s/counters/%08" PRIx32, f->dir, id);
}

/* A counter file holds the value as 8 bytes, big-endian.  A new one is
 * published whole (exclusive: an id in use is refused); a raise rewrites
 * the 8 bytes in place with one pwrite and one fdatasync: a write of 8
 * aligned bytes never tears within a sector, and a counter is raised
 * after every failed login, destroy and reject, so the three flushes of a
 * rename (file, rename, directory) cost more than the store's own commit
 * (docs/performance.md). */
static CK_RV counter_store(file_rot *f, uint32_t id, uint64_t value, bool exclusive)
{
    char path[4096], dir[4096];
    counter_path(f, id, path, sizeof(path));
    snprintf(dir, sizeof(dir), "%s/counters", f->dir);
    unsigned char bytes[8];
    for (int i = 7; i >= 0; i--, value >>= 8)
        bytes[i] = (unsigned char)value;
    if (exclusive) {
        if (publish(dir, path, bytes, sizeof(bytes), true) != 0)
            return errno == EEXIST ? CKR_FUNCTION_REJECTED
                                   : io_error("cannot write the counter", path);
        return CKR_OK;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return io_error("cannot open the counter", path);
    ssize_t n;
    do
        n = pwrite(fd, bytes, sizeof(bytes), 0);
    while (n < 0 && errno == EINTR);
    bool ok = n == (ssize_t)sizeof(bytes) && fdatasync(fd) == 0;
    int saved = errno;
    close(fd);
    errno = saved;
    return ok ? CKR_OK : io_error("cannot write the counter", path);
}

static CK_RV file_counter_read(void *state, uint32_t id, uint64_t *value)
{
    file_rot *f = state;
    char path[4096];
    counter_path(f, id, path, sizeof(path));
    unsigned char bytes[8];
    if (read_exact(path, bytes, sizeof(bytes)) != 0)
        return io_error("cannot read the counter", path);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | bytes[i];
    *value = v;
    return CKR_OK;
}

static CK_RV file_counter_new(void *state, uint32_t *id, uint64_t *value)
{
    for (int tries = 0; tries < 16; tries++) {
        uint32_t candidate;
        if (RAND_bytes((unsigned char *)&candidate, sizeof(candidate)) != 1)
            return CKR_FUNCTION_FAILED;
        CK_RV rv = counter_store(state, candidate, 0, true);
        if (rv == CKR_FUNCTION_REJECTED)
            continue; /* taken */
        if (rv == CKR_OK) {
            *id = candidate;
            *value = 0;
        }
        return rv;
    }
    return CKR_DEVICE_ERROR;
}

static CK_RV file_counter_increment(void *state, uint32_t id, uint64_t *value)
{
    uint64_t now;
    CK_RV rv = file_counter_read(state, id, &now);
    if (rv == CKR_OK)
        rv = counter_store(state, id, now + 1, false);
    if (rv == CKR_OK)
        *value = now + 1;
    return rv;
}

static CK_RV file_counter_free(void *state, uint32_t id)
{
    file_rot *f = state;
    char path[4096];
    counter_path(f, id, path, sizeof(path));
    if (unlink(path) != 0 && errno != ENOENT)
        return io_error("cannot remove the counter", path);
    return CKR_OK;
}

const rot_ops rot_file_ops = {
    .name = "file",
    .open = file_open,
    .close = file_close,
    .mac = file_mac,
    .counter_new = file_counter_new,
    .counter_read = file_counter_read,
    .counter_increment = file_counter_increment,
    .counter_free = file_counter_free,
};
