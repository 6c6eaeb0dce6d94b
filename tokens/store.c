/*
 * store.c — token files (docs/spec.md §7): one SQLite database per token,
 * "<serial>.sqlite" in the store directory (0700), files 0600.
 */
#include "tok_internal.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#define TOKEN_SUFFIX ".sqlite"
#define CREATE_ATTEMPTS 8

void tok_label_text(const char label[TOK_LABEL_LEN], char out[TOK_LABEL_LEN + 1])
{
    size_t n = 0;
    for (size_t i = 0; i < TOK_LABEL_LEN; i++) {
        unsigned char c = (unsigned char)label[i];
        out[i] = isprint(c) && c != '"' ? (char)c : '?';
        if (c != ' ')
            n = i + 1;
    }
    out[n] = '\0';
}

/* mkdir -p with mode 0700 for every directory it creates. */
static CK_RV make_dirs(const char *dir)
{
    CK_RV rv = CKR_OK;
    char *path = strdup(dir);
    struct stat st;
    if (path == NULL)
        return CKR_HOST_MEMORY;
    for (char *p = path + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char end = *p;
        *p = '\0';
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            se_log(SE_LOG_ERROR, "cannot create the token store directory %s: %s", path,
                   strerror(errno));
            rv = CKR_DEVICE_ERROR;
            goto out;
        }
        *p = end;
        if (end == '\0')
            break;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        se_log(SE_LOG_ERROR, "the token store %s is not a directory", dir);
        rv = CKR_DEVICE_ERROR;
    }
out:
    free(path);
    return rv;
}

static char *path_join(const char *dir, const char *prefix, const char *name, const char *suffix)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s%s%s", dir, prefix, name, suffix) < 0)
        return NULL;
    return path;
}

tok *tok_new(const char *path)
{
    tok *t = calloc(1, sizeof(*t));
    if (t == NULL)
        return NULL;
    t->path = strdup(path);
    t->gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL);
    t->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    t->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (t->path == NULL || t->gcm == NULL || t->hmac == NULL || t->sha256 == NULL) {
        tok_close(t);
        return NULL;
    }
    return t;
}

void tok_close(tok *t)
{
    if (t == NULL)
        return;
    if (t->db) {
        tok_spool_close(t);
        tok_state_anchor_audit(t);
    }
    tok_db_close(t);
    EVP_CIPHER_free(t->gcm);
    EVP_MAC_free(t->hmac);
    EVP_MD_free(t->sha256);
    EVP_MD_CTX_free(t->audit_md);
    EVP_MAC_CTX_free(t->state_mac);
    EVP_CIPHER_CTX_free(t->set_cipher);
    OPENSSL_cleanse(t->set_key, sizeof(t->set_key));
    OPENSSL_cleanse(t->state_key, sizeof(t->state_key));
    OPENSSL_cleanse(t->wrap_key, sizeof(t->wrap_key));
    free(t->path);
    free(t);
}

const char *tok_path(const tok *t)
{
    return t->path;
}

static bool serial_valid(const unsigned char *serial, size_t len)
{
    if (serial == NULL || len != TOK_SERIAL_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit(serial[i]) && !(serial[i] >= 'A' && serial[i] <= 'F'))
            return false;
    return true;
}

static CK_RV read_serial(tok *t)
{
    sqlite3_stmt *s;
    bool row;
    CK_RV rv = tok_stmt(t, STMT_TOKEN_GET, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the token record");
    if (rv != CKR_OK)
        return rv;
    const unsigned char *serial = sqlite3_column_text(s, 0);
    if (!row || !serial_valid(serial, (size_t)sqlite3_column_bytes(s, 0))) {
        se_log(SE_LOG_ERROR, "token %s: the token record is missing or damaged", t->path);
        rv = CKR_DEVICE_ERROR;
    } else {
        memcpy(t->serial, serial, TOK_SERIAL_LEN);
    }
    sqlite3_reset(s);
    return rv;
}

/* sweep: drain the spools of processes that are gone (tok_open); not
 * for the second connection of the background drain. */
static CK_RV open_existing(const char *path, bool sweep, tok **out)
{
    CK_RV rv;
    tok *t = NULL;
    struct stat st;
    if (path == NULL || out == NULL)
        return CKR_ARGUMENTS_BAD;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT)
            return CKR_TOKEN_NOT_PRESENT;
        se_log(SE_LOG_ERROR, "token %s: %s", path, strerror(errno));
        return CKR_DEVICE_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        se_log(SE_LOG_ERROR, "token %s is not a regular file", path);
        return CKR_DEVICE_ERROR;
    }
    t = tok_new(path);
    if (t == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    rv = tok_db_open(t, false);
    if (rv == CKR_OK)
        rv = tok_db_check_schema(t);
    if (rv == CKR_OK)
        rv = read_serial(t);
    if (rv == CKR_OK)
        rv = tok_state_open(t);
    if (rv == CKR_OK && stat(path, &st) != 0) /* the file SQLite has open */
        rv = errno == ENOENT ? CKR_TOKEN_NOT_PRESENT : CKR_DEVICE_ERROR;
    if (rv != CKR_OK)
        goto out;
    t->file_dev = st.st_dev;
    t->file_ino = st.st_ino;
    t->anchor_at_close = sweep;
    if (sweep)
        tok_spool_open(t);
    *out = t;
    t = NULL;
out:
    tok_close(t);
    return rv;
}

bool tok_file_removed(const tok *t)
{
    struct stat st;
    if (stat(t->path, &st) != 0)
        return errno == ENOENT || errno == ENOTDIR;
    return st.st_dev != t->file_dev || st.st_ino != t->file_ino;
}

CK_RV tok_open(const char *path, tok **out)
{
    return open_existing(path, true, out);
}

CK_RV tok_open_drain_connection(const char *path, tok **out)
{
    tok *t = NULL;
    CK_RV rv = open_existing(path, false, &t);
    /* It writes only spooled records, whose durability is a commit
     * without an fsync (spool.c). */
    if (rv == CKR_OK)
        rv = tok_exec(t, "PRAGMA synchronous = NORMAL", "relaxing durability for the spool");
    if (rv != CKR_OK) {
        tok_close(t);
        return rv;
    }
    *out = t;
    return CKR_OK;
}

static sqlite3_int64 now_microseconds(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (sqlite3_int64)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static CK_RV insert_token_row(tok *t, const char label[TOK_LABEL_LEN], unsigned long iterations,
                              const unsigned char check[TOK_KEY_CHECK_LEN])
{
    sqlite3_stmt *s = NULL;
    CK_RV rv;
    int rc =
        sqlite3_prepare_v2(t->db,
                           "INSERT INTO token (id, serial, label, created, lifecycle,"
                           " pin_kdf_iterations, key_check) VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
                           -1, &s, NULL);
    if (rc != SQLITE_OK) {
        rv = tok_db_error(t, rc, "creating the token record");
        goto out;
    }
    sqlite3_bind_text(s, 1, t->serial, TOK_SERIAL_LEN, SQLITE_STATIC);
    sqlite3_bind_blob(s, 2, label, TOK_LABEL_LEN, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, now_microseconds());
    sqlite3_bind_int(s, 4, SOFTSE_LIFECYCLE_PERSONALIZATION);
    sqlite3_bind_int64(s, 5, (sqlite3_int64)iterations);
    sqlite3_bind_blob(s, 6, check, TOK_KEY_CHECK_LEN, SQLITE_STATIC);
    rv = tok_step_done(t, s, "creating the token record");
out:
    sqlite3_finalize(s);
    return rv;
}

static CK_RV insert_pin_row(tok *t, CK_USER_TYPE user, unsigned long max_failures)
{
    sqlite3_stmt *s;
    CK_RV rv = tok_stmt(t, STMT_PIN_RESET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    sqlite3_bind_int64(s, 2,
                       (sqlite3_int64)(max_failures ? max_failures : TOK_DEFAULT_MAX_FAILURES));
    return tok_step_done(t, s, "creating a PIN record");
}

/* Everything a new token holds, in one transaction of the new file. */
static CK_RV populate(tok *t, const char label[TOK_LABEL_LEN], const CK_UTF8CHAR *so_pin,
                      CK_ULONG so_pin_len, const tok_params *params)
{
    CK_RV rv;
    unsigned char master[TOK_MASTER_KEY_LEN], check[TOK_KEY_CHECK_LEN];
    char label_text[TOK_LABEL_LEN + 1], detail[TOK_LABEL_LEN + TOK_SERIAL_LEN + 32];
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_db_create_schema(t);
    if (rv == CKR_OK)
        rv = tok_random(master, sizeof(master));
    if (rv == CKR_OK)
        rv = tok_keys_derive(t, master, NULL, check);
    if (rv == CKR_OK)
        rv = insert_token_row(t, label, params->pin_kdf_iterations, check);
    if (rv == CKR_OK)
        rv = insert_pin_row(t, CKU_SO, params->so_max_failures);
    if (rv == CKR_OK)
        rv = insert_pin_row(t, CKU_USER, params->user_max_failures);
    if (rv == CKR_OK)
        rv = tok_state_init(t);
    if (rv == CKR_OK)
        rv = tok_pin_wrap(t, CKU_SO, master, so_pin, so_pin_len, params->pin_kdf_iterations);
    tok_label_text(label, label_text);
    snprintf(detail, sizeof(detail), "serial %.16s, label \"%s\"", t->serial, label_text);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "token-created", detail);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    if (rv == CKR_OK &&
        sqlite3_exec(t->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) != SQLITE_OK)
        rv = tok_db_error(t, sqlite3_errcode(t->db), "switching to WAL");
    tok_rollback(t);
    OPENSSL_cleanse(master, sizeof(master));
    return rv;
}

static void unlink_database(const char *path)
{
    static const char *const suffixes[] = {"", "-journal", "-wal", "-shm"};
    for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
        char *file = NULL;
        if (asprintf(&file, "%s%s", path, suffixes[i]) >= 0) {
            unlink(file);
            free(file);
        }
    }
    tok_spool_unlink_all(path);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/*
 * The file is built under a hidden temporary name and linked into place
 * only when complete, so that a concurrent tok_scan never sees a token
 * without its schema; link() fails rather than replace a serial that
 * already exists.
 */
static CK_RV create_file(const char *dir, const char label[TOK_LABEL_LEN],
                         const CK_UTF8CHAR *so_pin, CK_ULONG so_pin_len, const tok_params *params,
                         char **final_path)
{
    CK_RV rv = CKR_DEVICE_ERROR;
    char serial[TOK_SERIAL_LEN + 1];
    char *final = NULL, *temporary = NULL;
    tok *t = NULL;
    for (int attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
        unsigned char random[TOK_SERIAL_LEN / 2];
        rv = tok_random(random, sizeof(random));
        if (rv != CKR_OK)
            goto out;
        for (size_t i = 0; i < sizeof(random); i++)
            snprintf(serial + 2 * i, 3, "%02X", random[i]);
        free(final);
        free(temporary);
        final = path_join(dir, "", serial, TOKEN_SUFFIX);
        temporary = path_join(dir, ".", serial, TOKEN_SUFFIX ".new");
        if (final == NULL || temporary == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        if (access(final, F_OK) == 0)
            continue;
        int fd = open(temporary, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0 && errno == EEXIST)
            continue;
        if (fd < 0) {
            se_log(SE_LOG_ERROR, "cannot create a token in %s: %s", dir, strerror(errno));
            rv = CKR_DEVICE_ERROR;
            goto out;
        }
        close(fd);
        t = tok_new(temporary);
        if (t == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        memcpy(t->serial, serial, TOK_SERIAL_LEN);
        rv = tok_db_open(t, true);
        if (rv == CKR_OK)
            rv = populate(t, label, so_pin, so_pin_len, params);
        tok_close(t); /* the last connection: the WAL is checkpointed and removed */
        t = NULL;
        if (rv != CKR_OK)
            goto out;
        if (link(temporary, final) == 0) {
            unlink(temporary);
        } else if (errno == EEXIST) {
            unlink_database(temporary);
            continue;
        } else if (!(errno == EPERM || errno == ENOTSUP || errno == ENOSYS) ||
                   access(final, F_OK) == 0 || rename(temporary, final) != 0) {
            /* (rename: for file systems without hard links) */
            se_log(SE_LOG_ERROR, "cannot create the token %s: %s", final, strerror(errno));
            rv = CKR_DEVICE_ERROR;
            goto out;
        }
        sync_dir(dir);
        *final_path = final;
        final = NULL;
        rv = CKR_OK;
        goto out;
    }
    se_log(SE_LOG_ERROR, "cannot find a free token serial in %s", dir);
    rv = CKR_DEVICE_ERROR;
out:
    tok_close(t);
    if (temporary && rv != CKR_OK)
        unlink_database(temporary);
    free(temporary);
    free(final);
    return rv;
}

CK_RV tok_create(const char *dir, const char label[TOK_LABEL_LEN], const CK_UTF8CHAR *so_pin,
                 CK_ULONG so_pin_len, const tok_params *params, tok **out)
{
    CK_RV rv;
    char *path = NULL;
    tok_params resolved = {0};
    if (dir == NULL || label == NULL || out == NULL || (so_pin == NULL && so_pin_len > 0))
        return CKR_ARGUMENTS_BAD;
    if (params)
        resolved = *params;
    if (resolved.pin_kdf_iterations == 0)
        resolved.pin_kdf_iterations = TOK_DEFAULT_PIN_KDF_ITERATIONS;
    rv = make_dirs(dir);
    if (rv == CKR_OK)
        rv = create_file(dir, label, so_pin, so_pin_len, &resolved, &path);
    if (rv == CKR_OK)
        rv = tok_open(path, out);
    free(path);
    return rv;
}

CK_RV tok_delete(tok *t)
{
    CK_RV rv = CKR_OK;
    if (t == NULL)
        return CKR_ARGUMENTS_BAD;
    char *path = strdup(t->path);
    t->anchor_at_close = false; /* its counter goes now */
    if (tok_state_forget(t) != CKR_OK)
        se_log(SE_LOG_WARN, "token %s: its root-of-trust counter could not be released", t->path);
    tok_close(t);
    if (path == NULL)
        return CKR_HOST_MEMORY;
    if (unlink(path) != 0) {
        if (errno == ENOENT) {
            rv = CKR_TOKEN_NOT_PRESENT;
        } else {
            se_log(SE_LOG_ERROR, "cannot delete the token %s: %s", path, strerror(errno));
            rv = CKR_DEVICE_ERROR;
        }
    }
    unlink_database(path);
    free(path);
    return rv;
}

/* ---- scanning ----------------------------------------------------------- */

typedef struct scan_entry {
    char *path;
    bool known;            /* its creation time could be read */
    sqlite3_int64 created; /* microseconds */
} scan_entry;

static bool read_created(const char *path, sqlite3_int64 *created)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    bool ok = false;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        goto out;
    sqlite3_busy_timeout(db, TOK_BUSY_TIMEOUT_MS);
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
    if (sqlite3_prepare_v2(db, "SELECT created FROM token WHERE id = 1", -1, &s, NULL) !=
            SQLITE_OK ||
        sqlite3_step(s) != SQLITE_ROW)
        goto out;
    *created = sqlite3_column_int64(s, 0);
    ok = true;
out:
    sqlite3_finalize(s);
    sqlite3_close_v2(db);
    return ok;
}

static int compare_entries(const void *a, const void *b)
{
    const scan_entry *x = a, *y = b;
    if (x->known != y->known)
        return x->known ? -1 : 1;
    if (x->known && x->created != y->created)
        return x->created < y->created ? -1 : 1;
    return strcmp(x->path, y->path); /* same directory: by serial */
}

static bool is_token_name(const char *name)
{
    size_t n = strlen(name), suffix = strlen(TOKEN_SUFFIX);
    return name[0] != '.' && n > suffix && strcmp(name + n - suffix, TOKEN_SUFFIX) == 0;
}

/* Adds the token file path (taken) to entries, with its creation time. */
static CK_RV scan_add(scan_entry **entries, size_t *n, size_t *capacity, char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        free(path);
        return CKR_OK;
    }
    if (*n == *capacity) {
        size_t grown = *capacity ? 2 * *capacity : 8;
        scan_entry *bigger = realloc(*entries, grown * sizeof(*bigger));
        if (bigger == NULL) {
            free(path);
            return CKR_HOST_MEMORY;
        }
        *entries = bigger;
        *capacity = grown;
    }
    scan_entry *entry = &(*entries)[(*n)++];
    entry->path = path;
    entry->known = read_created(path, &entry->created);
    if (!entry->known)
        se_log(SE_LOG_WARN, "token %s: cannot read its creation time", path);
    return CKR_OK;
}

CK_RV tok_scan_new(const char *dir, bool (*known)(void *ctx, const char *path), void *ctx,
                   char ***paths, size_t *count)
{
    CK_RV rv;
    DIR *d = NULL;
    scan_entry *entries = NULL;
    size_t n = 0, capacity = 0;
    char **list = NULL, *path = NULL;
    if (dir == NULL || paths == NULL || count == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = make_dirs(dir);
    if (rv != CKR_OK)
        goto out;
    d = opendir(dir);
    if (d == NULL) {
        se_log(SE_LOG_ERROR, "cannot read the token store %s: %s", dir, strerror(errno));
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    /* One buffer for every name: a known file costs no allocation. */
    size_t dir_len = strlen(dir);
    path = malloc(dir_len + 1 + NAME_MAX + 1);
    if (path == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    memcpy(path, dir, dir_len);
    path[dir_len] = '/';
    for (struct dirent *e; rv == CKR_OK && (e = readdir(d)) != NULL;) {
        if (!is_token_name(e->d_name))
            continue;
        snprintf(path + dir_len + 1, NAME_MAX + 1, "%s", e->d_name);
        if (known && known(ctx, path))
            continue;
        char *copy = strdup(path);
        rv = copy ? scan_add(&entries, &n, &capacity, copy) : CKR_HOST_MEMORY;
    }
    if (rv != CKR_OK)
        goto out;
    if (n > 1)
        qsort(entries, n, sizeof(*entries), compare_entries);
    list = calloc(n ? n : 1, sizeof(*list));
    if (list == NULL) {
        rv = CKR_HOST_MEMORY;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        list[i] = entries[i].path;
        entries[i].path = NULL;
    }
    *paths = list;
    *count = n;
    list = NULL;
out:
    if (d)
        closedir(d);
    free(path);
    for (size_t i = 0; i < n; i++)
        free(entries[i].path);
    free(entries);
    free(list);
    return rv;
}

CK_RV tok_scan(const char *dir, char ***paths, size_t *count)
{
    return tok_scan_new(dir, NULL, NULL, paths, count);
}

/*
 * File times come from a coarse clock (a tick of up to 10 ms on Linux), and
 * some file systems keep whole or even seconds (ext4 with small inodes,
 * FAT): a change made this soon after a stamp may leave the directory's
 * times as they were, so only an older time proves that nothing changed.
 */
#define DIR_SETTLE_NS (2 * 1000000000LL)

static int64_t timespec_ns(struct timespec ts)
{
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

CK_RV tok_dir_stamp_take(const char *dir, tok_dir_stamp *stamp)
{
    struct stat st;
    struct timespec now;
    if (dir == NULL || stamp == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(stamp, 0, sizeof(*stamp));
    /* The clock first: a change after the stat is then later than taken_ns. */
    clock_gettime(CLOCK_REALTIME, &now);
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return CKR_DEVICE_ERROR; /* the scan that follows says why */
    stamp->device = (uint64_t)st.st_dev;
    stamp->inode = (uint64_t)st.st_ino;
    stamp->modified_ns = timespec_ns(st.st_mtim);
    stamp->changed_ns = timespec_ns(st.st_ctim); /* cannot be set back, unlike st_mtim */
    stamp->taken_ns = timespec_ns(now);
    return CKR_OK;
}

bool tok_dir_unchanged(const tok_dir_stamp *before, const tok_dir_stamp *now)
{
    int64_t newest =
        before->modified_ns > before->changed_ns ? before->modified_ns : before->changed_ns;
    return newest < before->taken_ns - DIR_SETTLE_NS && before->device == now->device &&
           before->inode == now->inode && before->modified_ns == now->modified_ns &&
           before->changed_ns == now->changed_ns;
}

void tok_free_paths(char **paths, size_t count)
{
    if (paths == NULL)
        return;
    for (size_t i = 0; i < count; i++)
        free(paths[i]);
    free(paths);
}

/* ---- token record ----------------------------------------------------- */

static CK_RV read_pin_info(tok *t, CK_USER_TYPE user, unsigned long *failures,
                           unsigned long *max_failures, bool *has_pin)
{
    sqlite3_stmt *s;
    bool row;
    CK_RV rv = tok_stmt(t, STMT_PIN_GET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, TOK_PIN_ROW(user));
    rv = tok_step(t, s, &row, "reading a PIN record");
    if (rv != CKR_OK)
        return rv;
    if (!row) {
        se_log(SE_LOG_ERROR, "token %s: a PIN record is missing", t->path);
        rv = CKR_DEVICE_ERROR;
    } else {
        *failures = (unsigned long)sqlite3_column_int64(s, 0);
        *max_failures = (unsigned long)sqlite3_column_int64(s, 1);
        *has_pin = sqlite3_column_type(s, 4) != SQLITE_NULL;
    }
    sqlite3_reset(s);
    return rv;
}

CK_RV tok_get_info(tok *t, tok_info *info)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool row, so_pin;
    if (t == NULL || info == NULL)
        return CKR_ARGUMENTS_BAD;
    memset(info, 0, sizeof(*info));
    rv = tok_begin(t, false);
    if (rv == CKR_OK)
        rv = tok_state_check(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_TOKEN_GET, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the token record");
    if (rv != CKR_OK)
        goto out;
    if (!row || sqlite3_column_bytes(s, 1) != TOK_LABEL_LEN) {
        se_log(SE_LOG_ERROR, "token %s: the token record is missing or damaged", t->path);
        rv = CKR_DEVICE_ERROR;
        goto out;
    }
    memcpy(info->serial, t->serial, TOK_SERIAL_LEN);
    memcpy(info->label, sqlite3_column_blob(s, 1), TOK_LABEL_LEN);
    info->lifecycle = (unsigned char)sqlite3_column_int(s, 3);
    info->erasures = (unsigned long)sqlite3_column_int64(s, 5);
    info->pin_kdf_iterations = (unsigned long)sqlite3_column_int64(s, 4);
    sqlite3_reset(s);
    s = NULL;
    rv = read_pin_info(t, CKU_SO, &info->so_failures, &info->so_max_failures, &so_pin);
    if (rv == CKR_OK)
        rv = read_pin_info(t, CKU_USER, &info->user_failures, &info->user_max_failures,
                           &info->user_pin_initialized);
out:
    if (s)
        sqlite3_reset(s);
    tok_rollback(t);
    return rv;
}

/* SQLite writes the second copy, then (after a barrier) the first; a
 * torn read differs from the last snapshot or equals a state from before
 * the commit, which is when the commit was not visible yet.  The header
 * is 8-byte aligned (the start of a mapping). */
static void header_copy(const volatile void *region, unsigned char out[TOK_WAL_HEADER_LEN])
{
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    const volatile uint64_t *header = region;
    for (size_t i = 0; i < TOK_WAL_HEADER_LEN / sizeof(uint64_t); i++) {
        uint64_t word = header[i];
        memcpy(out + i * sizeof(word), &word, sizeof(word));
    }
}

/*
 * Copies the wal-index header out of the shared memory that SQLite itself
 * maps for this connection (the VFS's xShmMap, region 0), so that asking
 * "did anyone commit?" costs a 96-byte compare instead of a read
 * transaction (fcntl locks on the -shm file, about 5 µs a call here).
 * tok_open has read the database, so the WAL and its shared memory are
 * open; false when the connection has none (heap-memory mode).
 */
static bool wal_header_read(tok *t, unsigned char out[TOK_WAL_HEADER_LEN])
{
    /* The database file object lives as long as the connection: looked
     * up once (by name, with string compares), mapped per call, since
     * only the VFS knows whether its mapping still stands; the region is
     * also kept for tok_wal_unchanged, which may not call the VFS. */
    sqlite3_file *file = t->db_file;
    volatile void *region = NULL;
    if (file == NULL) {
        if (sqlite3_file_control(t->db, "main", SQLITE_FCNTL_FILE_POINTER, &file) != SQLITE_OK ||
            file == NULL || file->pMethods == NULL || file->pMethods->iVersion < 2 ||
            file->pMethods->xShmMap == NULL)
            return false;
        t->db_file = file;
    }
    if (file->pMethods->xShmMap(file, 0, TOK_WAL_INDEX_PAGE, 0, &region) != SQLITE_OK ||
        region == NULL)
        return false;
    if (__atomic_load_n(&t->wal_region, __ATOMIC_RELAXED) != region)
        __atomic_store_n(&t->wal_region, region, __ATOMIC_RELEASE);
    header_copy(region, out);
    return true;
}

bool tok_wal_snapshot(const tok *t, unsigned char out[TOK_WAL_HEADER_LEN])
{
    if (t == NULL || !t->version_known)
        return false;
    memcpy(out, t->wal_header, TOK_WAL_HEADER_LEN);
    return true;
}

/* Region 0 is the one SQLite's WAL maps first and keeps (its apWiData[0])
 * until the connection closes: the pointer wal_header_read last stored
 * stands while t is open. */
bool tok_wal_unchanged(const tok *t, const unsigned char snap[TOK_WAL_HEADER_LEN])
{
    const volatile void *region = t ? __atomic_load_n(&t->wal_region, __ATOMIC_ACQUIRE) : NULL;
    if (region == NULL)
        return false;
    unsigned char now[TOK_WAL_HEADER_LEN];
    header_copy(region, now);
    return memcmp(now, snap, TOK_WAL_HEADER_LEN) == 0;
}

CK_RV tok_data_version(tok *t, uint64_t *version)
{
    sqlite3_stmt *s;
    bool row;
    unsigned char header[TOK_WAL_HEADER_LEN];
    if (t == NULL || version == NULL)
        return CKR_ARGUMENTS_BAD;
    bool have_header = wal_header_read(t, header);
    if (have_header && t->version_known && memcmp(header, t->wal_header, TOK_WAL_HEADER_LEN) == 0) {
        *version = t->version;
        return CKR_OK;
    }
    CK_RV rv = tok_stmt(t, STMT_DATA_VERSION, &s);
    if (rv == CKR_OK)
        rv = tok_step(t, s, &row, "reading the data version");
    if (rv != CKR_OK)
        return rv;
    *version = (uint64_t)sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    t->version_queries++;
    /* The header was taken before the query: a commit between the two
     * makes the next call query again, never the reverse. */
    t->version_known = have_header;
    t->version = *version;
    if (have_header)
        memcpy(t->wal_header, header, TOK_WAL_HEADER_LEN);
    return CKR_OK;
}

CK_RV tok_set_lifecycle(tok *t, unsigned char state, const char *audit)
{
    static const char *const names[] = {[SOFTSE_LIFECYCLE_PERSONALIZATION] = "PERSONALIZATION",
                                        [SOFTSE_LIFECYCLE_OPERATIONAL] = "OPERATIONAL",
                                        [SOFTSE_LIFECYCLE_TERMINATED] = "TERMINATED"};
    CK_RV rv;
    sqlite3_stmt *s;
    char *detail = NULL;
    if (t == NULL || state < SOFTSE_LIFECYCLE_PERSONALIZATION ||
        state > SOFTSE_LIFECYCLE_TERMINATED)
        return CKR_ARGUMENTS_BAD;
    if (asprintf(&detail, "state %u (%s)%s%s", state, names[state], audit ? ": " : "",
                 audit ? audit : "") < 0)
        return CKR_HOST_MEMORY;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = tok_state_event(t);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_TOKEN_SET_LIFECYCLE, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int(s, 1, state);
    rv = tok_step_done(t, s, "setting the lifecycle state");
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "lifecycle", detail);
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    tok_rollback(t);
    free(detail);
    return rv;
}
