/*
 * sec_common.h — what the store security tests (tests/security/
 * test_store_*.c, issue 14) share: a fresh store AND a fresh device root
 * of trust per test (SOFTSE_ROT_DIR inside the test's temporary root),
 * the token file of a slot, snapshots and restores of a whole token file
 * with the module finalized, SQL edits with the sqlite3 C API, and "is
 * this token refused" as a consumer sees it.
 *
 * How a refused token looks to a consumer (module/slot.c,
 * slot_add_new_tokens): tok_open fails at the slot refresh of
 * C_Initialize/C_GetSlotList, the file is skipped with a warning and the
 * token gets no slot at all; only the blank slot is listed.  A token
 * refused later (inside a transaction, the module running) answers
 * CKR_DEVICE_ERROR.
 *
 * Include after the C library headers, p11_fixture.h, and before cmocka.h.
 */
#ifndef SOFTSE_SEC_COMMON_H
#define SOFTSE_SEC_COMMON_H

#include "p11_fixture.h"

#include <sqlite3.h>

/* cmocka setups (state is a fx *): fresh store and root of trust
 * (t->root/rot), not initialized / initialized / + token FX_TOKEN_LABEL
 * with both PINs in t->slot / + a user session t->session. */
int sec_setup_env(void **state);
int sec_setup_module(void **state);
int sec_setup_token(void **state);
int sec_setup_user(void **state);
int sec_teardown(void **state); /* fx_teardown */

/* Points SOFTSE_ROT_DIR at t->root/<name> (file provider). */
void sec_rot_dir(fx *t, const char *name);

/* The token file of a slot: <store>/<serial>.sqlite. */
void sec_token_path(fx *t, CK_SLOT_ID slot, char *path, size_t size);

/* With the module finalized: checkpoints the file's WAL into it and copies
 * the file to copy (the copy has no -wal/-shm). */
void sec_snapshot(const char *path, const char *copy);
/* With the module finalized: removes path's -wal/-shm and puts copy there. */
void sec_restore(const char *copy, const char *path);
void sec_copy_file(const char *from, const char *to);

/* Runs SQL on a token file (module finalized); asserts success and that
 * it changed at least min_changes rows. */
void sec_sql(const char *path, const char *sql, int min_changes);
/* The first column of the first row as an integer (asserts a row). */
sqlite3_int64 sec_sql_int(const char *path, const char *sql);

/* Whether C_GetSlotList(TRUE) lists an initialized token with this label. */
bool sec_token_listed(const char *label);

/* C_Initialize with stderr captured; asserts the token `label` is not
 * listed and that the log holds `needle`.  The module stays initialized. */
void sec_assert_refused_at_init(fx *t, const char *label, const char *needle);
/* C_Initialize; asserts the token is listed, opens a session and logs the
 * user in with pin: the legitimate path.  Returns the session. */
CK_SESSION_HANDLE sec_assert_usable(const char *label, const char *pin);

/* A session object-free helper: the first object with this label (asserts
 * exactly one). */
CK_OBJECT_HANDLE sec_find_one(CK_SESSION_HANDLE session, const char *label);

/* Lifecycle moves in an SO session (module/lifecycle.c). */
CK_RV sec_set_lifecycle(CK_SLOT_ID slot, unsigned char state);

#endif
