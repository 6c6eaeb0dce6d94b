/*
 * object.c — objects at rest (docs/spec.md §7): attribute rows, sealed when the
 * object is private or the attribute SECRET, and lookup rows that let
 * tok_object_find answer from an index without loading any object.
 */
#include "tok_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#define STORED_FLAGS (TOK_ATTR_SECRET | TOK_ATTR_LOOKUP)
#define OBJECT_DOMAIN "softse object v2"

static bool is_sealed(bool is_private, unsigned flags)
{
    return is_private || (flags & TOK_ATTR_SECRET);
}

static CK_RV check_attrs(const tok_attr *attrs, size_t count)
{
    if (attrs == NULL && count > 0)
        return CKR_ARGUMENTS_BAD;
    for (size_t i = 0; i < count; i++)
        if (attrs[i].value == NULL && attrs[i].len > 0)
            return CKR_ARGUMENTS_BAD;
    return CKR_OK;
}

static bool needs_keys(bool is_private, const tok_attr *attrs, size_t count)
{
    for (size_t i = 0; i < count; i++)
        if (is_sealed(is_private, attrs[i].flags))
            return true;
    return is_private;
}

void tok_attrs_free(tok_attr *attrs, size_t count)
{
    if (attrs == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        if (attrs[i].value) {
            OPENSSL_cleanse(attrs[i].value, attrs[i].len);
            free(attrs[i].value);
        }
    }
    free(attrs);
}

static CK_RV insert_lookup(tok *t, const tok_keys *keys, tok_id id, bool sealed, const tok_attr *a)
{
    CK_RV rv;
    sqlite3_stmt *s;
    unsigned char key[TOK_LOOKUP_KEY_MAX];
    size_t key_len = 0;
    /* A sealed value is indexed only by its keyed hash, never in clear. */
    rv = tok_lookup_key(t, sealed ? keys->index : NULL, a->type, a->value, a->len, key, &key_len);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_LOOKUP_INSERT, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)a->type);
    sqlite3_bind_blob(s, 2, key, (int)key_len, SQLITE_STATIC);
    sqlite3_bind_int64(s, 3, (sqlite3_int64)id);
    rv = tok_step_done(t, s, "indexing an attribute");
out:
    OPENSSL_cleanse(key, sizeof(key));
    return rv;
}

static CK_RV store_attrs(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                         const tok_attr *attrs, size_t count)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        const tok_attr *a = &attrs[i];
        bool sealed = is_sealed(is_private, a->flags);
        unsigned char *blob = NULL;
        size_t blob_len = 0;
        sqlite3_stmt *s;
        if (sealed)
            rv =
                tok_seal_attr(t, keys, id, is_private, a->type, a->value, a->len, &blob, &blob_len);
        if (rv == CKR_OK)
            rv = tok_stmt(t, STMT_ATTR_INSERT, &s);
        if (rv == CKR_OK) {
            sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
            sqlite3_bind_int64(s, 2, (sqlite3_int64)a->type);
            sqlite3_bind_int(s, 3, (int)(a->flags & STORED_FLAGS));
            sqlite3_bind_int(s, 4, sealed);
            rv = sealed ? tok_bind_blob(t, s, 5, blob, blob_len)
                        : tok_bind_blob(t, s, 5, a->value, a->len);
            if (rv == CKR_OK)
                rv = tok_step_done(t, s, "storing an attribute");
            else
                sqlite3_reset(s);
        }
        free(blob);
        if (rv == CKR_OK && (a->flags & TOK_ATTR_LOOKUP))
            rv = insert_lookup(t, keys, id, sealed, a);
    }
    return rv;
}

/* "object <id>: <caller's text>" as the detail of an object event. */
static CK_RV audit_object(tok *t, const char *event, tok_id id, const char *audit)
{
    char *detail = NULL;
    if (audit == NULL)
        return CKR_OK;
    if (asprintf(&detail, "object %llu: %s", (unsigned long long)id, audit) < 0)
        return CKR_HOST_MEMORY;
    CK_RV rv = tok_audit_append_locked(t, event, detail);
    free(detail);
    return rv;
}

static CK_RV delete_rows(tok *t, tok_id id, bool with_object)
{
    static const enum tok_stmt deletes[] = {STMT_LOOKUP_DELETE, STMT_ATTR_DELETE,
                                            STMT_OBJECT_DELETE};
    size_t n = with_object ? 3 : 2;
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < n && rv == CKR_OK; i++) {
        sqlite3_stmt *s;
        rv = tok_stmt(t, deletes[i], &s);
        if (rv != CKR_OK)
            break;
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        rv = tok_step_done(t, s, "deleting an object");
    }
    return rv;
}

/* An object's MAC (docs/spec.md, "The device root of trust", property 2):
 * under the DRK-derived state key, over the object's id, privacy and
 * version and every stored attribute row (type, flags, sealed, value) in
 * type order, so that no row can be edited, added, removed, swapped from
 * another object or token, or replayed from an earlier version. */
static CK_RV object_mac_begin(tok *t, tok_id id, bool is_private, uint64_t version,
                              EVP_MAC_CTX **ctx)
{
    CK_RV rv = tok_mac_begin(t, OBJECT_DOMAIN, ctx);
    if (rv == CKR_OK) {
        tok_mac_u64(*ctx, id);
        tok_mac_u64(*ctx, is_private);
        tok_mac_u64(*ctx, version);
    }
    return rv;
}

/* Inside a write transaction, after the attribute rows are written. */
CK_RV tok_object_seal(tok *t, tok_id id, bool is_private, uint64_t version)
{
    EVP_MAC_CTX *ctx = NULL;
    sqlite3_stmt *s = NULL;
    bool row;
    unsigned char mac[TOK_HASH_LEN];
    CK_RV rv = object_mac_begin(t, id, is_private, version, &ctx);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_ATTR_LIST, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    while ((rv = tok_step(t, s, &row, "sealing an object")) == CKR_OK && row)
        tok_mac_columns(ctx, s, 0, 4);
    if (rv != CKR_OK)
        goto out;
    rv = tok_mac_end(ctx, mac);
    ctx = NULL;
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_OBJECT_SET_MAC, &s);
    if (rv == CKR_OK) {
        sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
        sqlite3_bind_int64(s, 2, (sqlite3_int64)version);
        sqlite3_bind_blob(s, 3, mac, sizeof(mac), SQLITE_STATIC);
        rv = tok_step_done(t, s, "sealing an object");
        s = NULL;
    }
out:
    EVP_MAC_CTX_free(ctx);
    if (s)
        sqlite3_reset(s);
    return rv;
}

/* tok_terminate: every object again, after its key values were erased. */
CK_RV tok_object_seal_all(tok *t)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(t->db, "SELECT id, private, version FROM object", -1, &s, NULL);
    CK_RV rv = rc == SQLITE_OK ? CKR_OK : tok_db_error(t, rc, "sealing objects");
    while (rv == CKR_OK && (rc = sqlite3_step(s)) == SQLITE_ROW)
        rv = tok_object_seal(t, (tok_id)sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1) != 0,
                         (uint64_t)sqlite3_column_int64(s, 2) + 1);
    if (rv == CKR_OK && rc != SQLITE_DONE)
        rv = tok_db_error(t, rc, "sealing objects");
    sqlite3_finalize(s);
    return rv;
}

CK_RV tok_object_create(tok *t, const tok_keys *keys, bool is_private, const tok_attr *attrs,
                        size_t count, const char *audit, tok_id *id)
{
    CK_RV rv;
    sqlite3_stmt *s;
    tok_id new_id = 0;
    if (t == NULL || id == NULL || check_attrs(attrs, count) != CKR_OK)
        return CKR_ARGUMENTS_BAD;
    bool sealing = needs_keys(is_private, attrs, count);
    if (sealing && keys == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    rv = tok_begin(t, true);
    if (rv == CKR_OK && sealing)
        rv = tok_keys_current(t, keys);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_OBJECT_INSERT, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int(s, 1, is_private);
    rv = tok_step_done(t, s, "creating an object");
    if (rv != CKR_OK)
        goto out;
    new_id = (tok_id)sqlite3_last_insert_rowid(t->db);
    rv = store_attrs(t, keys, new_id, is_private, attrs, count);
    if (rv == CKR_OK)
        rv = tok_object_seal(t, new_id, is_private, 0);
    if (rv == CKR_OK)
        rv = tok_objset_change(t, new_id, false, 0, true, 0);
    if (rv == CKR_OK)
        rv = audit_object(t, "object-created", new_id, audit);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    if (rv == CKR_OK)
        *id = new_id;
out:
    tok_rollback(t);
    return rv;
}

/* CKR_OBJECT_HANDLE_INVALID when there is no such object. */
static CK_RV object_version(tok *t, tok_id id, uint64_t *version)
{
    sqlite3_stmt *s;
    bool row;
    CK_RV rv = tok_stmt(t, STMT_OBJECT_GET, &s);
    if (rv != CKR_OK)
        return rv;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    rv = tok_step(t, s, &row, "reading an object");
    if (rv == CKR_OK && !row)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        *version = (uint64_t)sqlite3_column_int64(s, 1);
    sqlite3_reset(s);
    return rv;
}

CK_RV tok_object_update(tok *t, const tok_keys *keys, tok_id id, bool is_private,
                        const tok_attr *attrs, size_t count, const char *audit)
{
    CK_RV rv;
    sqlite3_stmt *s;
    if (t == NULL || check_attrs(attrs, count) != CKR_OK)
        return CKR_ARGUMENTS_BAD;
    bool sealing = needs_keys(is_private, attrs, count);
    if (sealing && keys == NULL)
        return CKR_USER_NOT_LOGGED_IN;
    uint64_t version = 0;
    rv = tok_begin(t, true);
    if (rv == CKR_OK && sealing)
        rv = tok_keys_current(t, keys);
    /* One-way attribute changes (CKA_SENSITIVE, CKA_EXTRACTABLE…) must not
     * be undone by an older copy of the file. */
    if (rv == CKR_OK)
        rv = tok_state_event(t);
    if (rv == CKR_OK)
        rv = object_version(t, id, &version);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_OBJECT_SET_PRIVATE, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    sqlite3_bind_int(s, 2, is_private);
    rv = tok_step_done(t, s, "updating an object");
    if (rv == CKR_OK && sqlite3_changes(t->db) == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = delete_rows(t, id, false);
    if (rv == CKR_OK)
        rv = store_attrs(t, keys, id, is_private, attrs, count);
    if (rv == CKR_OK)
        rv = tok_object_seal(t, id, is_private, version + 1);
    if (rv == CKR_OK)
        rv = tok_objset_change(t, id, true, version, true, version + 1);
    if (rv == CKR_OK)
        rv = audit_object(t, "object-updated", id, audit);
    if (rv == CKR_OK)
        rv = tok_commit(t);
out:
    tok_rollback(t);
    return rv;
}

CK_RV tok_object_destroy(tok *t, tok_id id, const char *audit)
{
    CK_RV rv;
    if (t == NULL)
        return CKR_ARGUMENTS_BAD;
    uint64_t version = 0;
    rv = tok_begin(t, true);
    if (rv == CKR_OK)
        rv = object_version(t, id, &version);
    if (rv == CKR_OK)
        rv = tok_state_event(t); /* an older file must not bring the object back */
    if (rv == CKR_OK)
        rv = tok_objset_change(t, id, true, version, false, 0);
    if (rv == CKR_OK)
        rv = delete_rows(t, id, true);
    if (rv == CKR_OK && sqlite3_changes(t->db) == 0)
        rv = CKR_OBJECT_HANDLE_INVALID;
    if (rv == CKR_OK)
        rv = audit_object(t, "object-destroyed", id, audit);
    if (rv == CKR_OK)
        rv = tok_commit(t);
    tok_rollback(t);
    return rv;
}

/* One stored attribute row into *a; sealed ones are opened with keys or
 * returned LOCKED without. */
static CK_RV load_attr(tok *t, const tok_keys *keys, tok_id id, bool is_private, sqlite3_stmt *s,
                       tok_attr *a)
{
    a->type = (CK_ATTRIBUTE_TYPE)sqlite3_column_int64(s, 0);
    a->flags = (unsigned)sqlite3_column_int(s, 1) & STORED_FLAGS;
    bool sealed = sqlite3_column_int(s, 2) != 0;
    const unsigned char *blob = sqlite3_column_blob(s, 3);
    size_t blob_len = (size_t)sqlite3_column_bytes(s, 3);
    if (sealed && keys == NULL) {
        a->flags |= TOK_ATTR_LOCKED;
        return CKR_OK;
    }
    if (sealed) {
        size_t len = 0;
        CK_RV rv = tok_open_attr(t, keys, id, is_private, a->type, blob, blob_len, &a->value, &len);
        a->len = len;
        return rv;
    }
    if (is_sealed(is_private, a->flags)) {
        /* A clear row where the store seals (a private object, a secret
         * value) was not written by the store. */
        se_log(SE_LOG_ERROR, "token %s: object %llu has an unsealed attribute 0x%lx",
               t->path, (unsigned long long)id, (unsigned long)a->type);
        return CKR_DEVICE_ERROR;
    }
    a->value = malloc(blob_len + 1);
    if (a->value == NULL)
        return CKR_HOST_MEMORY;
    if (blob_len > 0)
        memcpy(a->value, blob, blob_len);
    a->len = blob_len;
    return CKR_OK;
}

CK_RV tok_object_load(tok *t, const tok_keys *keys, tok_id id, bool *is_private, tok_attr **attrs,
                      size_t *count)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool row, private_object, keys_checked = false;
    tok_attr *list = NULL;
    size_t n = 0, capacity = 0;
    EVP_MAC_CTX *ctx = NULL;
    unsigned char mac[TOK_HASH_LEN], stored_mac[TOK_HASH_LEN];
    if (t == NULL || is_private == NULL || attrs == NULL || count == NULL)
        return CKR_ARGUMENTS_BAD;
    rv = tok_objset_verify(t);
    if (rv == CKR_OK)
        rv = tok_begin(t, false);
    if (rv == CKR_OK)
        rv = tok_stmt(t, STMT_OBJECT_GET, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    rv = tok_step(t, s, &row, "loading an object");
    if (rv != CKR_OK)
        goto out;
    if (!row) {
        rv = CKR_OBJECT_HANDLE_INVALID;
        goto out;
    }
    private_object = sqlite3_column_int(s, 0) != 0;
    uint64_t version = (uint64_t)sqlite3_column_int64(s, 1);
    bool has_mac = sqlite3_column_bytes(s, 2) == TOK_HASH_LEN;
    if (has_mac)
        memcpy(stored_mac, sqlite3_column_blob(s, 2), TOK_HASH_LEN);
    sqlite3_reset(s);
    if (private_object && keys == NULL) {
        rv = CKR_USER_NOT_LOGGED_IN;
        goto out;
    }
    rv = object_mac_begin(t, id, private_object, version, &ctx);
    if (rv != CKR_OK)
        goto out;
    rv = tok_stmt(t, STMT_ATTR_LIST, &s);
    if (rv != CKR_OK)
        goto out;
    sqlite3_bind_int64(s, 1, (sqlite3_int64)id);
    for (;;) {
        rv = tok_step(t, s, &row, "loading an object");
        if (rv != CKR_OK || !row)
            break;
        if (n == capacity) {
            size_t grown = capacity ? 2 * capacity : 16;
            tok_attr *bigger = realloc(list, grown * sizeof(*list));
            if (bigger == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            list = bigger;
            capacity = grown;
        }
        if (keys && !keys_checked && sqlite3_column_int(s, 2) != 0) {
            rv = tok_keys_current(t, keys);
            keys_checked = true;
            if (rv != CKR_OK)
                break;
        }
        memset(&list[n], 0, sizeof(list[n]));
        tok_mac_columns(ctx, s, 0, 4);
        rv = load_attr(t, keys, id, private_object, s, &list[n]);
        n++;
        if (rv != CKR_OK)
            break;
    }
    if (rv == CKR_OK) {
        rv = tok_mac_end(ctx, mac);
        ctx = NULL;
    }
    if (rv == CKR_OK && (!has_mac || CRYPTO_memcmp(mac, stored_mac, TOK_HASH_LEN) != 0)) {
        se_log(SE_LOG_ERROR,
               "token %s: object %llu fails authentication (an attribute row edited, added, "
               "removed, swapped or replayed): refused",
               t->path, (unsigned long long)id);
        rv = CKR_DEVICE_ERROR;
    }
    if (rv != CKR_OK)
        goto out;
    *is_private = private_object;
    *attrs = list;
    *count = n;
    list = NULL;
out:
    EVP_MAC_CTX_free(ctx);
    if (s)
        sqlite3_reset(s);
    tok_rollback(t);
    tok_attrs_free(list, n);
    return rv;
}

static CK_RV find_stmt(tok *t, size_t count, bool with_keys, sqlite3_stmt **out, bool *owned)
{
    *owned = count > TOK_FIND_CACHED;
    sqlite3_stmt **slot = *owned ? out : &t->find_stmts[with_keys][count];
    if (*slot) {
        sqlite3_reset(*slot);
        sqlite3_clear_bindings(*slot);
        *out = *slot;
        return CKR_OK;
    }
    char *sql = tok_find_sql(count, with_keys);
    if (sql == NULL)
        return CKR_HOST_MEMORY;
    int rc = sqlite3_prepare_v3(t->db, sql, -1, *owned ? 0 : SQLITE_PREPARE_PERSISTENT, slot, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        *slot = NULL;
        return tok_db_error(t, rc, "preparing a search");
    }
    *out = *slot;
    return CKR_OK;
}

/* A match attribute's lookup keys, and how many rows it selects (capped:
 * enough to choose the driving attribute, see tok_find_sql). */
typedef struct match_key {
    CK_ATTRIBUTE_TYPE type;
    unsigned char plain[TOK_LOOKUP_KEY_MAX], hashed[TOK_LOOKUP_KEY_MAX];
    size_t plain_len, hashed_len;
    sqlite3_int64 estimate;
} match_key;

static void bind_key(sqlite3_stmt *s, int base, const match_key *k, bool with_keys)
{
    sqlite3_bind_int64(s, base + 1, (sqlite3_int64)k->type);
    sqlite3_bind_blob(s, base + 2, k->plain, (int)k->plain_len, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) < base + 3)
        return; /* a search without keys */
    /* Without keys the plain key stands in for the hashed one. */
    if (with_keys)
        sqlite3_bind_blob(s, base + 3, k->hashed, (int)k->hashed_len, SQLITE_STATIC);
    else
        sqlite3_bind_blob(s, base + 3, k->plain, (int)k->plain_len, SQLITE_STATIC);
}

static CK_RV match_keys(tok *t, const tok_keys *keys, const tok_attr *match, size_t count,
                        match_key *out)
{
    CK_RV rv = CKR_OK;
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        const tok_attr *a = &match[i];
        match_key *k = &out[i];
        k->type = a->type;
        rv = tok_lookup_key(t, NULL, a->type, a->value, a->len, k->plain, &k->plain_len);
        if (rv == CKR_OK && keys)
            rv = tok_lookup_key(t, keys->index, a->type, a->value, a->len, k->hashed,
                                &k->hashed_len);
    }
    return rv;
}

/* Puts the most selective attribute first (a stable insertion sort). */
static CK_RV order_by_estimate(tok *t, match_key *k, size_t count, bool with_keys)
{
    CK_RV rv = CKR_OK;
    sqlite3_stmt *s = NULL;
    bool row;
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        rv = tok_stmt(t, STMT_LOOKUP_ESTIMATE, &s);
        if (rv != CKR_OK)
            break;
        bind_key(s, 0, &k[i], with_keys);
        rv = tok_step(t, s, &row, "searching objects");
        k[i].estimate = rv == CKR_OK && row ? sqlite3_column_int64(s, 0) : 0;
        sqlite3_reset(s);
    }
    for (size_t i = 1; i < count && rv == CKR_OK; i++) {
        match_key moved = k[i];
        size_t j = i;
        for (; j > 0 && k[j - 1].estimate > moved.estimate; j--)
            k[j] = k[j - 1];
        k[j] = moved;
    }
    return rv;
}

CK_RV tok_object_find(tok *t, const tok_keys *keys, const tok_attr *match, size_t count,
                      tok_id **ids, size_t *found)
{
    CK_RV rv;
    sqlite3_stmt *s = NULL;
    bool owned = false, row, with_keys = keys != NULL;
    match_key *k = NULL;
    tok_id *list = NULL;
    size_t n = 0, capacity = 0;
    if (t == NULL || ids == NULL || found == NULL || check_attrs(match, count) != CKR_OK)
        return CKR_ARGUMENTS_BAD;
    rv = tok_objset_verify(t);
    if (rv != CKR_OK)
        return rv;
    if (count == 0) {
        rv = tok_stmt(t, with_keys ? STMT_OBJECT_ALL : STMT_OBJECT_ALL_PUBLIC, &s);
        if (rv != CKR_OK)
            goto out;
    } else {
        k = calloc(count, sizeof(*k));
        if (k == NULL) {
            rv = CKR_HOST_MEMORY;
            goto out;
        }
        rv = match_keys(t, keys, match, count, k);
        if (rv == CKR_OK && count > 1)
            rv = order_by_estimate(t, k, count, with_keys);
        if (rv != CKR_OK)
            goto out;
        if (count > 1 && k[0].estimate == 0)
            goto done; /* one attribute matches nothing */
        rv = find_stmt(t, count, with_keys, &s, &owned);
        if (rv != CKR_OK)
            goto out;
        for (size_t i = 0; i < count; i++)
            bind_key(s, (int)(3 * i), &k[i], with_keys);
    }
    for (;;) {
        rv = tok_step(t, s, &row, "searching objects");
        if (rv != CKR_OK || !row)
            break;
        if (n == capacity) {
            size_t grown = capacity ? 2 * capacity : 64;
            tok_id *bigger = realloc(list, grown * sizeof(*list));
            if (bigger == NULL) {
                rv = CKR_HOST_MEMORY;
                break;
            }
            list = bigger;
            capacity = grown;
        }
        list[n++] = (tok_id)sqlite3_column_int64(s, 0);
    }
    if (rv != CKR_OK)
        goto out;
done:
    *ids = list;
    *found = n;
    list = NULL;
out:
    if (owned)
        sqlite3_finalize(s);
    else if (s)
        sqlite3_reset(s);
    if (k) {
        /* Keys of private values the caller searched for. */
        OPENSSL_cleanse(k, count * sizeof(*k));
        free(k);
    }
    free(list);
    return rv;
}
