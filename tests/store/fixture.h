/*
 * fixture.h — shared fixtures of the store tests: a fresh temporary store
 * directory per test, and a token with an SO PIN and a user PIN.
 */
#ifndef SOFTSE_TEST_STORE_FIXTURE_H
#define SOFTSE_TEST_STORE_FIXTURE_H

#include "tok_internal.h"

#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka.h needs the four above first. */
#include <cmocka.h>

#define SO_PIN "so-pin-Quartz-4711"
#define USER_PIN "user-pin-Basalt-0815"
#define TEST_ITERATIONS 1000

typedef struct fixture {
    char dir[512];      /* the store directory (inside root) */
    char root[256];     /* the temporary directory removed on teardown */
    tok *t;             /* fixture_setup_token: an open token */
    tok_keys so_keys;   /* … logged in as SO */
    tok_keys user_keys; /* … and as user */
} fixture;

/* A temporary store directory; *state is a fixture. */
int fixture_setup(void **state);
/* As fixture_setup, plus a token with SO_PIN and USER_PIN set. */
int fixture_setup_token(void **state);
int fixture_teardown(void **state);

/* A blank-padded label. */
void fixture_label(char label[TOK_LABEL_LEN], const char *text);
tok_params fixture_params(void);
tok *fixture_create(fixture *f, const char *label);

/* Opens a second raw SQLite connection on a token file. */
sqlite3 *fixture_raw(const char *path);
/* True when needle occurs in the file (missing files count as not). */
bool fixture_file_contains(const char *path, const void *needle, size_t len);

#endif
