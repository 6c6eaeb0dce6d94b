/*
 * populate.c — softse-populate: grows a softse token to N data objects in
 * minutes instead of hours, for the bench's object-count cases.
 *
 * Through the module every C_CreateObject of a token object is one durable
 * transaction (docs/spec.md §7), so a million objects take about an hour at the
 * disk's fsync rate; the latencies the bench then measures (C_FindObjects,
 * C_Initialize) do not depend on how the rows got there.  This tool writes
 * the same rows directly, many objects per transaction:
 *
 *   - the template is an object the module made: the one labelled
 *     PREFIX + "00000000" (the bench's first object, from C_CreateObject);
 *   - each new object is the template's attributes with CKA_LABEL replaced,
 *     stored as tokens/object.c stores a public object (an object row,
 *     one attribute row per attribute with the stored flags, a lookup row
 *     per LOOKUP attribute keyed by tok_lookup_key) plus the audit record
 *     the module appends ("object-created", "object <id>: create data");
 *   - one BEGIN IMMEDIATE … COMMIT per --batch objects with
 *     synchronous=OFF; at the end synchronous=FULL and a WAL checkpoint,
 *     so the result is durable once the tool exits.
 *
 * Only public objects without sealed attributes can be copied (a sealed
 * value's AAD binds its object id); the tool refuses any other template.
 * Other processes may keep the token open meanwhile: they see the objects
 * as another process's commits (PRAGMA data_version changes).
 *
 * Usage: softse-populate [--store DIR] --token LABEL --to N [--from K]
 *                        [--prefix P] [--batch B]
 * creates the objects labelled P%08lu for K <= i < N (K defaults to 1).
 */
#include "tok_internal.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_PREFIX "softse-bench-obj-"
#define DEFAULT_BATCH 10000
#define LABEL_MAX 64

/* The flags tokens/object.c keeps in an attribute row. */
#define STORED_FLAGS (TOK_ATTR_SECRET | TOK_ATTR_LOOKUP)

typedef struct populate_options {
    const char *store, *token, *prefix;
    unsigned long from, to, batch;
} populate_options;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void object_label(char *buf, size_t size, const char *prefix, unsigned long i)
{
    snprintf(buf, size, "%s%08lu", prefix, i);
}

/* The module's store directory when neither --store nor SOFTSE_STORE is
 * given (module/config.c; a store_dir set in SOFTSE_CONF needs --store). */
static char *store_dir(const char *given)
{
    const char *env = getenv("SOFTSE_STORE"), *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    char *dir = NULL;
    if (given)
        return strdup(given);
    if (env && *env)
        return strdup(env);
    if (xdg && *xdg ? asprintf(&dir, "%s/softse", xdg) < 0
                    : asprintf(&dir, "%s/.local/share/softse", home ? home : ".") < 0)
        return NULL;
    return dir;
}

/* Opens the token whose label is label (trailing blanks ignored). */
static CK_RV open_token(const char *dir, const char *label, tok **out)
{
    char **paths = NULL;
    size_t count = 0;
    CK_RV rv = tok_scan(dir, &paths, &count);
    *out = NULL;
    for (size_t i = 0; rv == CKR_OK && i < count && !*out; i++) {
        tok *t = NULL;
        tok_info info;
        char text[TOK_LABEL_LEN + 1];
        if (tok_open(paths[i], &t) != CKR_OK)
            continue;
        if (tok_get_info(t, &info) == CKR_OK) {
            tok_label_text(info.label, text);
            if (strcmp(text, label) == 0) {
                *out = t;
                continue;
            }
        }
        tok_close(t);
    }
    tok_free_paths(paths, count);
    if (rv == CKR_OK && !*out)
        rv = CKR_TOKEN_NOT_PRESENT;
    return rv;
}

/* The template's attributes, checked to be copyable: a public CKO_DATA
 * object without sealed values, labelled once. */
static CK_RV load_template(tok *t, const char *label, tok_attr **attrs, size_t *count)
{
    tok_attr match = {CKA_LABEL, (unsigned char *)label, strlen(label), TOK_ATTR_LOOKUP};
    tok_id *ids = NULL;
    size_t found = 0;
    bool is_private = false;
    CK_RV rv = tok_object_find(t, NULL, &match, 1, &ids, &found);
    if (rv == CKR_OK && found != 1) {
        fprintf(stderr, "softse-populate: %zu objects labelled %s (the template must be one)\n",
                found, label);
        rv = CKR_TEMPLATE_INCOMPLETE;
    }
    if (rv == CKR_OK)
        rv = tok_object_load(t, NULL, ids[0], &is_private, attrs, count);
    free(ids);
    if (rv != CKR_OK)
        return rv;
    CK_OBJECT_CLASS cls = CK_UNAVAILABLE_INFORMATION;
    bool labelled = false;
    for (size_t i = 0; i < *count; i++) {
        const tok_attr *a = &(*attrs)[i];
        if (a->flags & (TOK_ATTR_SECRET | TOK_ATTR_LOCKED))
            is_private = true; /* sealed: not copyable */
        if (a->type == CKA_CLASS && a->len == sizeof(cls))
            memcpy(&cls, a->value, sizeof(cls));
        labelled |= a->type == CKA_LABEL;
    }
    if (is_private || cls != CKO_DATA || !labelled) {
        fprintf(stderr,
                "softse-populate: the template %s is not a public CKO_DATA object "
                "without sealed attributes\n",
                label);
        tok_attrs_free(*attrs, *count);
        *attrs = NULL;
        return CKR_TEMPLATE_INCONSISTENT;
    }
    return CKR_OK;
}

static CK_RV insert_lookup(tok *t, tok_id id, const tok_attr *a)
{
    unsigned char key[TOK_LOOKUP_KEY_MAX];
    size_t key_len = 0;
    sqlite3_stmt *s;
    CK_RV rv = tok_lookup_key(t, NULL, a->type, a->value, a->len, key, &key_len);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_LOOKUP_INSERT, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)a->type);
    sqlite3_bind_blob(s, 2, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)id);
    return tok_step_done(t, s, "indexing an attribute");
}

/* One object inside the open transaction: what tok_object_create writes
 * for a public object whose attributes are all stored in clear. */
static CK_RV insert_object(tok *t, const tok_attr *attrs, size_t count)
{
    sqlite3_stmt *s;
    char detail[64];
    CK_RV rv = tok_stmt(t, STMT_OBJECT_INSERT, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int(s, 1, 0);
    rv = tok_step_done(t, s, "creating an object");
    if (rv != CKR_OK)
        return rv;
    tok_id id = (tok_id)sqlite3_last_insert_rowid(t->db);
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        const tok_attr *a = &attrs[i];
        rv = tok_stmt(t, STMT_ATTR_INSERT, &s);
        if (rv != CKR_OK)
            break;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)a->type);
        sqlite3_bind_int(s, 3, (int)(a->flags & STORED_FLAGS));
        sqlite3_bind_int(s, 4, 0);
        rv = tok_bind_blob(t, s, 5, a->value, a->len);
        if (rv == CKR_OK)
            rv = tok_step_done(t, s, "storing an attribute");
        else
            sqlite3_reset(s);
        if (rv == CKR_OK && (a->flags & TOK_ATTR_LOOKUP))
            rv = insert_lookup(t, id, a);
    }
    if (rv == CKR_OK)
        rv = tok_object_seal(t, id, false, 0);
    if (rv == CKR_OK)
        rv = tok_objset_change(t, id, false, 0, true, 0);
    /* module/object.c audits "create data"; tokens/object.c prefixes the id. */
    snprintf(detail, sizeof(detail), "object %llu: create data", (unsigned long long)id);
    if (rv == CKR_OK)
        rv = tok_audit_append_locked(t, "object-created", detail);
    return rv;
}

static CK_RV exec(tok *t, const char *sql)
{
    int rc = sqlite3_exec(t->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? CKR_OK : tok_db_error(t, rc, sql);
}

static CK_RV populate(tok *t, const populate_options *o, tok_attr *attrs, size_t count)
{
    char label[LABEL_MAX];
    tok_attr *label_attr = NULL;
    for (size_t i = 0; i < count; i++)
        if (attrs[i].type == CKA_LABEL)
            label_attr = &attrs[i];
    unsigned char *template_label = label_attr->value;
    CK_ULONG template_len = label_attr->len;
    label_attr->value = (unsigned char *)label;
    double t0 = now(), last = t0;
    CK_RV rv = exec(t, "PRAGMA synchronous = OFF");
    for (unsigned long i = o->from; rv == CKR_OK && i < o->to; i++) {
        if ((i - o->from) % o->batch == 0) {
            if (i > o->from)
                rv = tok_commit(t);
            if (rv == CKR_OK)
                rv = tok_begin(t, true);
            if (rv != CKR_OK)
                break;
            if (now() - last > 10) {
                last = now();
                fprintf(stderr, "  softse-populate: %lu/%lu (%.0f/s)\n", i, o->to,
                        (i - o->from) / (last - t0));
            }
        }
        object_label(label, sizeof(label), o->prefix, i);
        label_attr->len = strlen(label);
        rv = insert_object(t, attrs, count);
    }
    if (rv == CKR_OK && o->to > o->from)
        rv = tok_commit(t);
    tok_rollback(t);
    label_attr->value = template_label;
    label_attr->len = template_len;
    /* Durable from here on: the checkpoint syncs the database file. */
    CK_RV rv2 = exec(t, "PRAGMA synchronous = FULL");
    if (rv2 == CKR_OK)
        rv2 = exec(t, "PRAGMA wal_checkpoint(TRUNCATE)");
    if (rv == CKR_OK && rv2 != CKR_OK)
        rv = rv2;
    double s = now() - t0;
    if (rv == CKR_OK)
        printf("populated %lu objects in %.1f s (%.0f/s)\n", o->to - o->from, s,
               s > 0 ? (o->to - o->from) / s : 0);
    return rv;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: softse-populate [--store DIR] --token LABEL --to N [--from K] "
            "[--prefix P] [--batch B]\n"
            "  adds public CKO_DATA objects labelled P%%08lu, K <= i < N (K: 1), copies of\n"
            "  the module-made object labelled P00000000 (P: %s), B per transaction\n"
            "  (B: %d); DIR: SOFTSE_STORE or the module's default store\n",
            DEFAULT_PREFIX, DEFAULT_BATCH);
}

static int parse_options(int argc, char **argv, populate_options *o)
{
    static const struct option longs[] = {
        {"store", required_argument, NULL, 's'},  {"token", required_argument, NULL, 't'},
        {"from", required_argument, NULL, 'f'},   {"to", required_argument, NULL, 'n'},
        {"prefix", required_argument, NULL, 'p'}, {"batch", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    int c;
    *o = (populate_options){NULL, NULL, DEFAULT_PREFIX, 1, 0, DEFAULT_BATCH};
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 's':
            o->store = optarg;
            break;
        case 't':
            o->token = optarg;
            break;
        case 'f':
            o->from = strtoul(optarg, NULL, 10);
            break;
        case 'n':
            o->to = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            o->prefix = optarg;
            break;
        case 'b':
            o->batch = strtoul(optarg, NULL, 10);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    /* The template is object 0, so K >= 1; labels must fit LABEL_MAX. */
    if (!o->token || optind != argc || o->from == 0 || o->to < o->from || o->batch == 0 ||
        strlen(o->prefix) + 20 >= LABEL_MAX) {
        usage(stderr);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    populate_options o;
    char template_label[LABEL_MAX];
    tok *t = NULL;
    tok_attr *attrs = NULL;
    size_t count = 0;
    if (parse_options(argc, argv, &o) != 0)
        return 2;
    char *dir = store_dir(o.store);
    CK_RV rv = dir ? open_token(dir, o.token, &t) : CKR_HOST_MEMORY;
    if (rv != CKR_OK)
        fprintf(stderr, "softse-populate: no token labelled %s in %s\n", o.token,
                dir ? dir : "(no store)");
    object_label(template_label, sizeof(template_label), o.prefix, 0);
    if (rv == CKR_OK)
        rv = load_template(t, template_label, &attrs, &count);
    if (rv == CKR_OK)
        rv = populate(t, &o, attrs, count);
    if (rv != CKR_OK)
        fprintf(stderr, "softse-populate: failed: CKR 0x%08lx\n", (unsigned long)rv);
    tok_attrs_free(attrs, count);
    tok_close(t);
    free(dir);
    return rv == CKR_OK ? 0 : 1;
}
