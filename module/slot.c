/*
 * slot.c — slots, tokens, PINs and login state.
 *
 * Like a card reader: one slot per initialized token (oldest first) and,
 * last, a slot holding a blank card.  Initializing the blank token turns
 * its slot into a token slot and a new blank slot appears after it.
 * Login state is per application and token (PKCS#11 3.0 §5.6): shared
 * by all sessions of this process on the token.
 *
 * A slot id names one card until C_Finalize: a token keeps its slot,
 * pulled or not, and only the blank card moves (to the new last slot).
 * Each change of a slot's card sets its event flag (slot_event.c).
 */
#include "core.h"
#include "key_cache.h"
#include "mech_util.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

#define MANUFACTURER "softse project"
#define MODEL "softse SE"

static void pad(CK_UTF8CHAR *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n > size)
        n = size;
    memset(dst, ' ', size);
    memcpy(dst, src, n);
}

/* A token in no slot yet (slot_push gives it one). */
static CK_RV token_new(tok *store, se_token **out)
{
    se_token *t = calloc(1, sizeof(*t));
    if (!t)
        return CKR_HOST_MEMORY;
    CK_RV rv = mutex_create(&t->lock);
    if (rv != CKR_OK) {
        free(t);
        return rv;
    }
    t->slot_id = CK_UNAVAILABLE_INFORMATION;
    t->store = store;
    if (store) {
        rv = tok_get_info(store, &t->info);
        if (rv != CKR_OK) {
            mutex_destroy(t->lock);
            free(t);
            return rv;
        }
    }
    *out = t;
    return CKR_OK;
}

static void token_free(se_token *t)
{
    if (!t)
        return;
    object_cache_clear(t, true);
    key_cache_free(t);
    free(t->cache);
    tok_keys_clear(&t->keys);
    if (t->store)
        tok_close(t->store);
    mutex_destroy(t->lock);
    free(t);
}

/* ---- the open tokens' files, sorted: a rescan looks each one up -------- */

static int compare_paths(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ctx counts the open tokens' files found (size_t). */
static bool token_path_known(void *ctx, const char *path)
{
    bool known = module.token_path_count > 0 && /* bsearch wants an array, even an empty one */
                 bsearch(&path, module.token_paths, module.token_path_count,
                         sizeof(*module.token_paths), compare_paths) != NULL;
    *(size_t *)ctx += known;
    return known;
}

/* Room for one more path, made before a token is opened or created: a
 * token missing from the index would be opened again by the next rescan,
 * into a second slot, so indexing it must not fail afterwards. */
static CK_RV token_paths_reserve(void)
{
    if (module.token_path_count < module.token_path_cap)
        return CKR_OK;
    size_t cap = module.token_path_cap ? 2 * module.token_path_cap : 16;
    const char **grown = realloc(module.token_paths, cap * sizeof(*grown));
    if (!grown)
        return CKR_HOST_MEMORY;
    module.token_paths = grown;
    module.token_path_cap = cap;
    return CKR_OK;
}

/* path is the token's own tok_path: it lives as long as the slot. */
static void token_paths_insert(const char *path)
{
    size_t low = 0, high = module.token_path_count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (strcmp(module.token_paths[middle], path) < 0)
            low = middle + 1;
        else
            high = middle;
    }
    memmove(&module.token_paths[low + 1], &module.token_paths[low],
            (module.token_path_count - low) * sizeof(*module.token_paths));
    module.token_paths[low] = path;
    module.token_path_count++;
}

/* ---- slots ------------------------------------------------------------- */

/* t into the next slot: a card inserted there (a slot event) unless t
 * was already in that slot (the blank card put back after a refresh
 * found nothing new). */
static CK_RV slot_push(se_token *t)
{
    se_token **slots = realloc(module.slots, (module.slot_count + 1) * sizeof(*slots));
    if (!slots)
        return CKR_HOST_MEMORY;
    module.slots = slots;
    bool inserted = t->slot_id != module.slot_count;
    t->slot_id = module.slot_count;
    module.slots[module.slot_count++] = t;
    if (inserted)
        slot_event_note(t);
    return CKR_OK;
}

static CK_RV slot_append(tok *store)
{
    se_token *t;
    CK_RV rv = token_paths_reserve();
    if (rv == CKR_OK)
        rv = token_new(store, &t);
    if (rv == CKR_OK && (rv = slot_push(t)) != CKR_OK) {
        t->store = NULL; /* the caller still owns store */
        token_free(t);
    }
    if (rv == CKR_OK && store)
        token_paths_insert(tok_path(store));
    return rv;
}

/* The card was pulled: its slot reports it, and its sessions close
 * (PKCS#11 3.0 §5.1.2): their handles are CKR_SESSION_HANDLE_INVALID.
 * Its file's name stays in the index until C_Finalize, so a file put
 * back under it is not opened beside this connection, which SQLite could
 * confuse with it (the old log is still named after the file). */
static void token_pulled(se_token *t)
{
    t->pulled = true;
    sessions_close_token(t);
    slot_event_note(t);
}

bool token_present(se_token *t)
{
    if (t->store && !t->pulled && tok_file_removed(t->store))
        token_pulled(t);
    return !t->pulled;
}

/* After a read of the store directory: when it found fewer of the open
 * tokens' files than there are, the missing ones are pulled cards.  So
 * C_GetSlotList(CK_TRUE) costs no stat per token.  A wait (every) also
 * finds files replaced under the same name: a stat per token, only after
 * the directory changed. */
static void slots_mark_pulled(size_t files_seen, bool every)
{
    size_t expected = 0;
    for (size_t i = 0; i < module.slot_count; i++)
        expected += module.slots[i]->store && !module.slots[i]->pulled;
    if (files_seen >= expected && !every)
        return;
    for (size_t i = 0; i < module.slot_count; i++)
        token_present(module.slots[i]);
}

static bool slot_has_blank(void)
{
    return module.slot_count > 0 && !module.slots[module.slot_count - 1]->store;
}

/* Opens the token files no slot holds yet, oldest first, into slots before
 * the blank one, which stays last (its id moves up), like a new card in a
 * reader.  A file that cannot be opened is counted and tried again at the
 * next refresh, as it may have been completed by then. */
static CK_RV slot_add_new_tokens(bool for_wait)
{
    char **paths = NULL;
    size_t count = 0, files_seen = 0;
    CK_RV rv = tok_scan_new(module.config.store_dir, token_path_known, &files_seen, &paths, &count);
    if (rv != CKR_OK) {
        se_log(SE_LOG_ERROR, "cannot use the store directory %s", module.config.store_dir);
        return rv;
    }
    slots_mark_pulled(files_seen, for_wait);
    module.unusable_files = 0;
    se_token *blank = NULL;
    if (slot_has_blank())
        blank = module.slots[--module.slot_count];
    for (size_t i = 0; i < count && rv == CKR_OK; i++) {
        tok *store;
        if (tok_open(paths[i], &store) != CKR_OK) {
            se_log(SE_LOG_WARN, "skipping %s: not a usable softse token", paths[i]);
            module.unusable_files++;
            continue;
        }
        rv = slot_append(store);
        if (rv != CKR_OK)
            tok_close(store);
    }
    tok_free_paths(paths, count);
    if (blank) {
        CK_RV push_rv = slot_push(blank);
        if (push_rv != CKR_OK) {
            token_free(blank);
            rv = push_rv;
        }
    } else if (rv == CKR_OK) {
        rv = slot_append(NULL);
    }
    return rv;
}

/*
 * Tokens created by another process appear at the next refresh.  Open
 * tokens are never opened again, and the store directory is read only
 * when a file may have been added since it was last read (its stamp
 * changed, or a file could not be opened then) or the blank slot is
 * missing.  So C_GetSlotList repeated on a quiet store costs one stat, and
 * after a change one directory read plus the new files, however many
 * tokens the store holds.
 */
static CK_RV refresh(bool for_wait)
{
    tok_dir_stamp now;
    bool stamped = tok_dir_stamp_take(module.config.store_dir, &now) == CKR_OK;
    if (stamped && slot_has_blank() && (module.unusable_files == 0 || for_wait) &&
        tok_dir_unchanged(&module.store_stamp, &now))
        return CKR_OK;
    CK_RV rv = slot_add_new_tokens(for_wait);
    memset(&module.store_stamp, 0, sizeof(module.store_stamp)); /* read again next time */
    if (rv == CKR_OK && stamped)
        module.store_stamp = now;
    return rv;
}

CK_RV slot_refresh(void)
{
    return refresh(false);
}

CK_RV slot_refresh_for_wait(void)
{
    return refresh(true);
}

se_token *slot_token(CK_SLOT_ID slot)
{
    return slot < module.slot_count ? module.slots[slot] : NULL;
}

void slots_free(void)
{
    for (size_t i = 0; i < module.slot_count; i++)
        token_free(module.slots[i]);
    free(module.slots);
    module.slots = NULL;
    module.slot_count = 0;
    free(module.token_paths);
    module.token_paths = NULL;
    module.token_path_count = module.token_path_cap = 0;
    memset(&module.store_stamp, 0, sizeof(module.store_stamp));
    module.unusable_files = 0;
}

/* Every slot holds a card, initialized or blank, unless its token's file
 * was deleted (seen by a refresh or by another call on the slot): with
 * present TRUE that slot is left out. */
CK_RV slot_list(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR count)
{
    if (!count)
        return CKR_ARGUMENTS_BAD;
    mutex_lock(module.lock);
    CK_RV rv = CKR_OK;
    if (!list) /* PKCS#11 3.0 §5.5: a size query may refresh the list */
        rv = slot_refresh();
    if (rv == CKR_OK) {
        CK_ULONG n = 0;
        for (CK_SLOT_ID i = 0; i < module.slot_count; i++) {
            if (present && module.slots[i]->pulled)
                continue;
            if (list && n < *count)
                list[n] = i;
            n++;
        }
        if (list && *count < n)
            rv = CKR_BUFFER_TOO_SMALL;
        *count = n;
    }
    mutex_unlock(module.lock);
    return rv;
}

CK_RV slot_info(CK_SLOT_ID slot, CK_SLOT_INFO_PTR info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    mutex_lock(module.lock);
    se_token *t = slot_token(slot);
    bool present = t && token_present(t);
    mutex_unlock(module.lock);
    if (!t)
        return CKR_SLOT_ID_INVALID;
    memset(info, 0, sizeof(*info));
    pad(info->slotDescription, sizeof(info->slotDescription), "softse virtual card reader");
    pad(info->manufacturerID, sizeof(info->manufacturerID), MANUFACTURER);
    info->flags = present ? CKF_TOKEN_PRESENT : 0;
    info->hardwareVersion.major = 1;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;
    return CKR_OK;
}

static CK_FLAGS pin_flags(unsigned long failures, unsigned long max, CK_FLAGS low, CK_FLAGS final,
                          CK_FLAGS locked)
{
    if (failures >= max)
        return locked;
    if (failures + 1 == max)
        return final | low;
    return failures > 0 ? low : 0;
}

CK_RV token_info(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR info)
{
    if (!info)
        return CKR_ARGUMENTS_BAD;
    mutex_lock(module.lock);
    se_token *t = slot_token(slot);
    bool present = t && token_present(t);
    mutex_unlock(module.lock);
    if (!t)
        return CKR_SLOT_ID_INVALID;
    if (!present)
        return CKR_TOKEN_NOT_PRESENT;
    memset(info, 0, sizeof(*info));
    pad(info->manufacturerID, sizeof(info->manufacturerID), MANUFACTURER);
    pad(info->model, sizeof(info->model), MODEL);
    info->flags = CKF_RNG;
    info->ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
    info->ulMaxPinLen = SE_PIN_MAX;
    info->ulMinPinLen = SE_PIN_MIN;
    info->ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
    info->hardwareVersion.major = 1;
    info->firmwareVersion.major = 0;
    info->firmwareVersion.minor = 1;

    CK_RV rv = CKR_OK;
    mutex_lock(t->lock);
    info->ulSessionCount = t->sessions;
    info->ulRwSessionCount = t->rw_sessions;
    if (!t->store) {
        pad(info->label, sizeof(info->label), "");
        pad(info->serialNumber, sizeof(info->serialNumber), "");
        goto out;
    }
    rv = tok_get_info(t->store, &t->info);
    if (rv != CKR_OK)
        goto out;
    const tok_info *ti = &t->info;
    memcpy(info->label, ti->label, sizeof(info->label));
    memcpy(info->serialNumber, ti->serial, sizeof(info->serialNumber));
    info->flags |= CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED | CKF_RESTORE_KEY_NOT_NEEDED;
    if (ti->user_pin_initialized)
        info->flags |= CKF_USER_PIN_INITIALIZED;
    info->flags |= pin_flags(ti->user_failures, ti->user_max_failures, CKF_USER_PIN_COUNT_LOW,
                             CKF_USER_PIN_FINAL_TRY, CKF_USER_PIN_LOCKED);
    info->flags |= pin_flags(ti->so_failures, ti->so_max_failures, CKF_SO_PIN_COUNT_LOW,
                             CKF_SO_PIN_FINAL_TRY, CKF_SO_PIN_LOCKED);
    if (ti->lifecycle == SOFTSE_LIFECYCLE_TERMINATED)
        info->flags |= CKF_WRITE_PROTECTED;
out:
    mutex_unlock(t->lock);
    return rv;
}

static CK_RV check_pin(CK_UTF8CHAR_PTR pin, CK_ULONG len)
{
    if (!pin && len > 0)
        return CKR_ARGUMENTS_BAD;
    if (!pin) /* a protected authentication path: a card reader's PIN pad */
        return CKR_PIN_LEN_RANGE;
    if (len < SE_PIN_MIN || len > SE_PIN_MAX)
        return CKR_PIN_LEN_RANGE;
    return CKR_OK;
}

static void token_params(tok_params *p)
{
    p->pin_kdf_iterations = module.config.pin_kdf_iterations;
    p->user_max_failures = module.config.user_max_failures;
    p->so_max_failures = module.config.so_max_failures;
}

/* docs/spec.md §7.2: TERMINATED is final, and re-initialization would
 * erase the device identity with the other objects (the store draws a new
 * master key), so a manufactured card is started again only by the
 * lifecycle reset, which keeps it.  token->lock held. */
static CK_RV init_allowed(se_token *t)
{
    CK_RV rv = tok_get_info(t->store, &t->info);
    if (rv == CKR_OK && t->info.lifecycle == SOFTSE_LIFECYCLE_TERMINATED)
        rv = CKR_SE_LIFECYCLE;
    tok_id *identity = NULL;
    size_t count = 0;
    if (rv == CKR_OK)
        rv = identity_ids(t, &identity, &count);
    free(identity);
    if (rv == CKR_OK && count > 0)
        rv = CKR_SE_LIFECYCLE;
    return rv;
}

/* C_InitToken (PKCS#11 3.0 §5.6): a blank token gets a store file;
 * an initialized one is erased after its SO PIN is checked. */
CK_RV token_init(CK_SLOT_ID slot, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len, CK_UTF8CHAR_PTR label)
{
    if (!label)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = check_pin(pin, pin_len);
    if (rv != CKR_OK)
        return rv;
    tok_params params;
    token_params(&params);
    char padded[TOK_LABEL_LEN];
    memcpy(padded, label, TOK_LABEL_LEN);

    mutex_lock(module.lock);
    se_token *t = slot_token(slot);
    if (!t) {
        mutex_unlock(module.lock);
        return CKR_SLOT_ID_INVALID;
    }
    if (!token_present(t)) { /* before t->lock: a pull closes t's sessions */
        mutex_unlock(module.lock);
        return CKR_TOKEN_NOT_PRESENT;
    }
    mutex_lock(t->lock);
    if (t->sessions > 0) {
        rv = CKR_SESSION_EXISTS;
        goto out;
    }
    if (t->store)
        rv = init_allowed(t);
    if (rv != CKR_OK)
        goto out;
    if (t->store) {
        rv = tok_reinit(t->store, padded, pin, pin_len, &params);
        if (rv == CKR_OK) {
            object_cache_clear(t, true);
            t->login = LOGIN_NONE;
            tok_keys_clear(&t->keys);
        }
    } else {
        tok *store;
        rv = token_paths_reserve(); /* before the file exists: see token_paths_reserve */
        if (rv == CKR_OK)
            rv = tok_create(module.config.store_dir, padded, pin, pin_len, &params, &store);
        if (rv == CKR_OK) {
            t->store = store;
            token_paths_insert(tok_path(store));
            slot_event_note(t);     /* its slot holds another card */
            rv = slot_append(NULL); /* a new blank card in the next reader */
        }
    }
    if (rv == CKR_OK && t->store)
        rv = tok_get_info(t->store, &t->info);
out:
    mutex_unlock(t->lock);
    mutex_unlock(module.lock);
    return rv;
}

bool token_user_logged_in(const se_token *t)
{
    return t->login == LOGIN_USER;
}

CK_RV token_init_pin(se_session *s, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    se_token *t = s->token;
    CK_RV rv = check_pin(pin, pin_len);
    mutex_lock(t->lock);
    if (t->login != LOGIN_SO || !session_is_rw(s))
        rv = CKR_USER_NOT_LOGGED_IN;
    else if (rv == CKR_OK) {
        tok_keys clear;
        const tok_keys *keys;
        rv = token_keys_open(t, false, &clear, &keys);
        if (rv == CKR_OK)
            rv = tok_init_pin(t->store, keys, pin, pin_len);
        tok_keys_clear(&clear);
    }
    mutex_unlock(t->lock);
    return rv;
}

CK_RV token_set_pin(se_session *s, CK_UTF8CHAR_PTR old_pin, CK_ULONG old_len,
                    CK_UTF8CHAR_PTR new_pin, CK_ULONG new_len)
{
    if (!old_pin && old_len > 0)
        return CKR_ARGUMENTS_BAD;
    CK_RV rv = check_pin(new_pin, new_len);
    if (rv != CKR_OK)
        return rv;
    if (!old_pin)
        return CKR_PIN_INCORRECT;
    if (!session_is_rw(s))
        return CKR_SESSION_READ_ONLY;
    se_token *t = s->token;
    mutex_lock(t->lock);
    /* §5.6: the SO's PIN in an SO session, the user's otherwise. */
    CK_USER_TYPE user = t->login == LOGIN_SO ? CKU_SO : CKU_USER;
    rv = tok_set_pin(t->store, user, old_pin, old_len, new_pin, new_len);
    mutex_unlock(t->lock);
    return rv;
}

static bool has_read_only_session(se_token *t)
{
    return t->sessions > t->rw_sessions;
}

CK_RV token_login(se_session *s, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin, CK_ULONG pin_len)
{
    if (!pin && pin_len > 0)
        return CKR_ARGUMENTS_BAD;
    if (user != CKU_SO && user != CKU_USER && user != CKU_CONTEXT_SPECIFIC)
        return CKR_USER_TYPE_INVALID;
    if (!pin)
        return CKR_PIN_INCORRECT; /* no protected authentication path */
    /* docs/spec.md §7: a PIN no token could hold uses up no retry. */
    if (pin_len < SE_PIN_MIN || pin_len > SE_PIN_MAX)
        return CKR_PIN_LEN_RANGE;
    se_token *t = s->token;
    CK_RV rv = CKR_OK;
    tok_keys keys;
    memset(&keys, 0, sizeof(keys));

    if (user == CKU_CONTEXT_SPECIFIC) {
        /* Re-authentication for a CKA_ALWAYS_AUTHENTICATE key (§5.6). */
        mutex_lock(t->lock);
        if (t->login != LOGIN_USER)
            rv = CKR_USER_NOT_LOGGED_IN;
        else
            rv = tok_login(t->store, CKU_USER, pin, pin_len, &keys);
        mutex_unlock(t->lock);
        tok_keys_clear(&keys);
        return rv == CKR_OK ? op_context_login(s) : rv;
    }

    mutex_lock(t->lock);
    login_state wanted = user == CKU_SO ? LOGIN_SO : LOGIN_USER;
    if (t->login == wanted) {
        rv = CKR_USER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (t->login != LOGIN_NONE) {
        rv = CKR_USER_ANOTHER_ALREADY_LOGGED_IN;
        goto out;
    }
    if (user == CKU_SO && has_read_only_session(t)) {
        rv = CKR_SESSION_READ_ONLY_EXISTS;
        goto out;
    }
    rv = tok_login(t->store, user, pin, pin_len, &keys);
    if (rv == CKR_OK)
        rv = secret_nonce(t->keys_nonce);
    if (rv == CKR_OK) /* kept masked: see token_keys_open */
        rv = secret_xor(t->keys_nonce, 0, &keys, sizeof(keys));
    if (rv != CKR_OK)
        goto out;
    t->keys = keys;
    t->login = wanted;
    object_cache_clear(t, false); /* reload public objects with their sealed values */
out:
    tok_keys_clear(&keys);
    mutex_unlock(t->lock);
    return rv;
}

CK_RV token_logout(se_session *s)
{
    se_token *t = s->token;
    mutex_lock(t->lock);
    CK_RV rv = CKR_OK;
    if (t->login == LOGIN_NONE)
        rv = CKR_USER_NOT_LOGGED_IN;
    else
        token_forget_login(t);
    mutex_unlock(t->lock);
    if (rv == CKR_OK) /* the sessions' kept HMAC contexts, refused from now on, go now */
        sessions_drop_parked(t);
    return rv;
}

void token_forget_login(se_token *t)
{
    t->login = LOGIN_NONE;
    tok_keys_clear(&t->keys);
    OPENSSL_cleanse(t->keys_nonce, sizeof(t->keys_nonce));
    object_cache_clear(t, false);
    object_forget_keys(t);
    mech_keyed_forget(); /* contexts keyed by a secret key, whatever token it was */
}

CK_RV token_keys_open(const se_token *t, bool user_only, tok_keys *clear, const tok_keys **keys)
{
    memset(clear, 0, sizeof(*clear));
    *keys = NULL;
    if (t->login == LOGIN_NONE || (user_only && t->login != LOGIN_USER))
        return CKR_OK;
    *clear = t->keys;
    CK_RV rv = secret_xor(t->keys_nonce, 0, clear, sizeof(*clear));
    if (rv != CKR_OK) {
        tok_keys_clear(clear);
        return rv;
    }
    *keys = clear;
    return CKR_OK;
}
