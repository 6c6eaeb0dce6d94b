/* fixture.c — see fixture.h. */
#include "fixture.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int fixture_setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof(f->root), "%s/softse-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->dir, sizeof(f->dir), "%s/store", f->root);
    *state = f;
    return 0;
}

void fixture_label(char label[TOK_LABEL_LEN], const char *text)
{
    memset(label, ' ', TOK_LABEL_LEN);
    memcpy(label, text, strnlen(text, TOK_LABEL_LEN));
}

tok_params fixture_params(void)
{
    tok_params params = {.pin_kdf_iterations = TEST_ITERATIONS};
    return params;
}

tok *fixture_create(fixture *f, const char *text)
{
    char label[TOK_LABEL_LEN];
    tok_params params = fixture_params();
    tok *t = NULL;
    fixture_label(label, text);
    assert_int_equal(
        tok_create(f->dir, label, (const CK_UTF8CHAR *)SO_PIN, strlen(SO_PIN), &params, &t),
        CKR_OK);
    return t;
}

int fixture_setup_token(void **state)
{
    if (fixture_setup(state) != 0)
        return -1;
    fixture *f = *state;
    f->t = fixture_create(f, "fixture token");
    if (tok_login(f->t, CKU_SO, (const CK_UTF8CHAR *)SO_PIN, strlen(SO_PIN), &f->so_keys) !=
            CKR_OK ||
        tok_init_pin(f->t, &f->so_keys, (const CK_UTF8CHAR *)USER_PIN, strlen(USER_PIN)) !=
            CKR_OK ||
        tok_login(f->t, CKU_USER, (const CK_UTF8CHAR *)USER_PIN, strlen(USER_PIN), &f->user_keys) !=
            CKR_OK)
        return -1;
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int fixture_teardown(void **state)
{
    fixture *f = *state;
    tok_close(f->t);
    tok_keys_clear(&f->so_keys);
    tok_keys_clear(&f->user_keys);
    nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

sqlite3 *fixture_raw(const char *path)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    return db;
}

bool fixture_file_contains(const char *path, const void *needle, size_t len)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return false;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *bytes = malloc(size > 0 ? (size_t)size : 1);
    assert_non_null(bytes);
    size_t n = fread(bytes, 1, (size_t)size, file);
    fclose(file);
    bool found = memmem(bytes, n, needle, len) != NULL;
    free(bytes);
    return found;
}
