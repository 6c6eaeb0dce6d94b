/*
 * test_store_offline.c — issue 14, attack 1: "With the token file and
 * either PIN (the SO PIN is enough), a 40-line script recovers every
 * sealed value offline."  docs/spec.md §7.1 property 1: confidentiality needs
 * the device root key (DRK).
 *
 * Each test asserts the secure outcome and that the legitimate path (the
 * original store under its own DRK) still works.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "sec_common.h"

#include <cmocka.h>
#include <openssl/evp.h>

#define AES_LABEL "offline-aes"
static const unsigned char aes_value[32] = {0x5e, 0xc7, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                            0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e};

/* A token with a sensitive AES key; the module is finalized after. */
static void make_token_with_key(fx *t, char *path, size_t size)
{
    CK_OBJECT_HANDLE key;
    assert_rv(fx_create_aes(t->session, AES_LABEL, true, true, false, aes_value, sizeof(aes_value),
                            &key),
              CKR_OK);
    sec_token_path(t, t->slot, path, size);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);
}

/* Copies the token file into a new store directory root/<name>. */
static void copy_store(fx *t, const char *path, const char *name, char *store, size_t size)
{
    snprintf(store, size, "%s/%s", t->root, name);
    assert_int_equal(mkdir(store, 0700), 0);
    char copy[PATH_MAX + 64];
    int n = snprintf(copy, sizeof(copy), "%s/%s", store, strrchr(path, '/') + 1);
    assert_true(n > 0 && (size_t)n < sizeof(copy));
    sec_snapshot(path, copy);
}

/* The copied store with both PINs, in a configuration with another DRK
 * (a fresh SOFTSE_ROT_DIR, as on another machine): the token is refused
 * at open (no slot, so no C_Login at all), with the log line naming the
 * other device root key.  Before issue 14 the copy logged in with either
 * PIN and handed out everything the PIN owner could use. */
static void copy_under_another_drk_allows_no_login(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 64], store[PATH_MAX + 64];
    make_token_with_key(t, path, sizeof(path));
    copy_store(t, path, "stolen", store, sizeof(store));

    setenv("SOFTSE_STORE", store, 1);
    sec_rot_dir(t, "rot-elsewhere");
    sec_assert_refused_at_init(t, FX_TOKEN_LABEL, "belongs to another device root key");
    /* Only the blank slot is there: no session, so neither PIN can be tried. */
    CK_ULONG count = 0;
    assert_rv(t->f->C_GetSlotList(CK_TRUE, NULL, &count), CKR_OK);
    assert_int_equal(count, 1);
    assert_rv(t->f->C_Finalize(NULL_PTR), CKR_OK);

    /* The legitimate path: the original store under its own DRK. */
    setenv("SOFTSE_STORE", t->store, 1);
    sec_rot_dir(t, "rot");
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    CK_OBJECT_HANDLE key = sec_find_one(s, AES_LABEL);
    assert_int_equal(fx_get_bool(s, key, CKA_SENSITIVE), CK_TRUE);
    assert_rv(t->f->C_CloseSession(s), CKR_OK);
    CK_SESSION_HANDLE so;
    assert_rv(fx_open(fx_slot_by_label(FX_TOKEN_LABEL), true, &so), CKR_OK);
    assert_rv(fx_login(so, CKU_SO, FX_SO_PIN), CKR_OK);
}

/* A whole copy under the SAME DRK, not older than the device counter, is a
 * legitimate backup: it opens and logs in (the contrast to the test above:
 * what refuses the stolen copy is the DRK, not the copy as such). */
static void copy_under_same_drk_is_a_backup(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 64], store[PATH_MAX + 64];
    make_token_with_key(t, path, sizeof(path));
    copy_store(t, path, "backup", store, sizeof(store));
    setenv("SOFTSE_STORE", store, 1);
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    (void)sec_find_one(s, AES_LABEL);
}

/* The old offline recipe (the 40-line script): PBKDF2-HMAC-SHA256
 * of the PIN with the row's salt and iterations, then AES-256-GCM open of
 * pin.wrapped (nonce ‖ ciphertext ‖ tag) with the AAD "softse-pin-v1" ‖
 * serial ‖ user byte.  Before issue 14 it gave the master key with either
 * PIN; now the KEK also needs the DRK, so it fails for both.  (A wrong PIN
 * fails either way: the test also shows the recipe is applied right, by
 * checking the GCM layout it expects.) */
static int offline_unwrap(const char *path, int user, const char *pin, unsigned char master[32])
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    int opened = 0;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT pin.kdf_iterations, pin.salt, pin.wrapped,"
                                        " token.serial FROM pin, token WHERE pin.user = ?1",
                                        -1, &s, NULL),
                     SQLITE_OK);
    sqlite3_bind_int(s, 1, user);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int iterations = sqlite3_column_int(s, 0);
    const unsigned char *salt = sqlite3_column_blob(s, 1);
    int salt_len = sqlite3_column_bytes(s, 1);
    const unsigned char *wrapped = sqlite3_column_blob(s, 2);
    int wrapped_len = sqlite3_column_bytes(s, 2);
    const unsigned char *serial = sqlite3_column_text(s, 3);
    assert_int_equal(salt_len, 16);
    assert_int_equal(wrapped_len, 12 + 32 + 16);
    assert_int_equal(sqlite3_column_bytes(s, 3), 16);

    unsigned char kek[32], aad[13 + 16 + 1];
    memcpy(aad, "softse-pin-v1", 13);
    memcpy(aad + 13, serial, 16);
    aad[29] = (unsigned char)user;
    assert_int_equal(PKCS5_PBKDF2_HMAC(pin, (int)strlen(pin), salt, salt_len, iterations,
                                       EVP_sha256(), 32, kek),
                     1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int len = 0;
    unsigned char tag[16];
    memcpy(tag, wrapped + 12 + 32, 16);
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, kek, wrapped) == 1 &&
        EVP_DecryptUpdate(ctx, NULL, &len, aad, sizeof(aad)) == 1 &&
        EVP_DecryptUpdate(ctx, master, &len, wrapped + 12, 32) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag) == 1 &&
        EVP_DecryptFinal_ex(ctx, master + len, &len) == 1)
        opened = 1;
    EVP_CIPHER_CTX_free(ctx);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return opened;
}

static void offline_recipe_fails_with_both_pins(void **state)
{
    fx *t = *state;
    char path[PATH_MAX + 64], store[PATH_MAX + 64];
    make_token_with_key(t, path, sizeof(path));
    copy_store(t, path, "stolen", store, sizeof(store));
    char copy[PATH_MAX + 128];
    snprintf(copy, sizeof(copy), "%s/%s", store, strrchr(path, '/') + 1);
    unsigned char master[32];
    if (offline_unwrap(copy, CKU_SO, FX_SO_PIN, master))
        fail_msg("the SO PIN alone unwrapped the master key offline");
    if (offline_unwrap(copy, CKU_USER, FX_USER_PIN, master))
        fail_msg("the user PIN alone unwrapped the master key offline");
    /* No key byte in clear in the copy either. */
    size_t len = 0;
    unsigned char *data = fx_read_file(copy, &len);
    assert_non_null(data);
    for (size_t i = 0; i + sizeof(aes_value) <= len; i++)
        assert_false(memcmp(data + i, aes_value, sizeof(aes_value)) == 0);
    free(data);

    /* The legitimate path: the module, with the DRK, logs in with both. */
    CK_SESSION_HANDLE s = sec_assert_usable(FX_TOKEN_LABEL, FX_USER_PIN);
    (void)sec_find_one(s, AES_LABEL);
    assert_rv(t->f->C_Logout(s), CKR_OK);
    assert_rv(fx_login(s, CKU_SO, FX_SO_PIN), CKR_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(copy_under_another_drk_allows_no_login, sec_setup_user,
                                        sec_teardown),
        cmocka_unit_test_setup_teardown(copy_under_same_drk_is_a_backup, sec_setup_user,
                                        sec_teardown),
        cmocka_unit_test_setup_teardown(offline_recipe_fails_with_both_pins, sec_setup_user,
                                        sec_teardown),
    };
    return cmocka_run_group_tests_name("security-store-offline", tests, NULL, NULL);
}
