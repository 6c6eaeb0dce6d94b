/*
 * mech_util.c — helpers shared by the mechanism files (see mech_util.h).
 */
#include "mech_util.h"

#include <limits.h>
#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

/* ---- hashes ------------------------------------------------------------- */

/* Fetched once: an implicit fetch (EVP_sha256()…) would look the
 * algorithm up again on every EVP_DigestInit_ex.  They stay for the life
 * of the process. */
static EVP_MD *hash_mds[MECH_HASH_COUNT];

static void fetch_hashes(void)
{
    for (size_t i = 0; i < MECH_HASH_COUNT; i++)
        hash_mds[i] = EVP_MD_fetch(NULL, mech_hashes[i].md_name, NULL);
    ERR_clear_error(); /* a provider without SHA-3 just leaves NULL */
}

static void free_hashes(void)
{
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        EVP_MD_free(hash_mds[i]);
        hash_mds[i] = NULL;
    }
}

static mech_once hash_once = MECH_ONCE_INIT(fetch_hashes, free_hashes);

static const EVP_MD *hash_md_at(size_t index)
{
    if (!mech_once_run(&hash_once))
        return NULL;
    return hash_mds[index];
}

const EVP_MD *mech_hash_evp(const mech_hash *hash)
{
    return hash ? hash_md_at((size_t)(hash - mech_hashes)) : NULL;
}

const EVP_MD *mech_hash_md(CK_MECHANISM_TYPE hash)
{
    return mech_hash_evp(mech_hash_find(MECH_HASH_BY_MECH, hash, 0));
}

const EVP_MD *mech_mgf1_md(CK_RSA_PKCS_MGF_TYPE mgf)
{
    return mech_hash_evp(mech_hash_find(MECH_HASH_BY_MGF1, mgf, 0));
}

/* HMAC contexts with their digest already set, one per hash, duplicated
 * per use: setting the digest by name fetches it again on every call,
 * under OpenSSL's library-wide lock. */
static EVP_MAC *hmac_mac;
static EVP_MAC_CTX *hmac_templates[MECH_HASH_COUNT];
#define HMAC_POOL_KEY_MAX 64
static unsigned char hmac_pad[HMAC_POOL_KEY_MAX]; /* masks the pool's copies of keys */

static void fetch_hmacs(void)
{
    if (RAND_bytes(hmac_pad, sizeof(hmac_pad)) != 1) /* no pad: contexts are not pooled */
        return;
    hmac_mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    for (size_t i = 0; hmac_mac && i < MECH_HASH_COUNT; i++) {
        const EVP_MD *md = hash_md_at(i);
        if (!md)
            continue;
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                                (char *)EVP_MD_get0_name(md), 0),
                               OSSL_PARAM_construct_end()};
        hmac_templates[i] = EVP_MAC_CTX_new(hmac_mac);
        if (hmac_templates[i] && !EVP_MAC_CTX_set_params(hmac_templates[i], params)) {
            EVP_MAC_CTX_free(hmac_templates[i]);
            hmac_templates[i] = NULL;
        }
    }
    ERR_clear_error();
}

/* Contexts kept keyed with the key they were last used with: taken
 * again for the same key, a context is reset to its keyed state (one
 * digest-state copy) instead of being keyed anew (two hash blocks and
 * three digest initializations), and never copied or freed per use.
 * The key that keyed a context is recognized by a masked copy (XOR a
 * random pad of the process), never kept in clear; the context itself
 * holds OpenSSL's copy, which mech_keyed_forget ends. */
#define HMAC_POOLED 8
static struct hmac_slot {
    EVP_MAC_CTX *ctx;
    size_t hash; /* index in mech_hashes */
    bool busy;
    uint64_t used;      /* tick of its last use: the oldest is rekeyed first */
    mech_key_mark mark; /* its key; a login ended since: forgotten when put */
} hmac_pool[HMAC_POOLED];
static uint64_t hmac_tick, hmac_generation;
static pthread_mutex_t hmac_pool_lock = PTHREAD_MUTEX_INITIALIZER;

static void hmac_slot_clear(struct hmac_slot *slot)
{
    EVP_MAC_CTX_free(slot->ctx); /* cleanses its key state */
    OPENSSL_cleanse(slot, sizeof(*slot));
}

static void free_hmacs(void)
{
    pthread_mutex_lock(&hmac_pool_lock);
    for (size_t i = 0; i < HMAC_POOLED; i++)
        hmac_slot_clear(&hmac_pool[i]);
    pthread_mutex_unlock(&hmac_pool_lock);
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        EVP_MAC_CTX_free(hmac_templates[i]);
        hmac_templates[i] = NULL;
    }
    EVP_MAC_free(hmac_mac);
    hmac_mac = NULL;
    OPENSSL_cleanse(hmac_pad, sizeof(hmac_pad));
}

static mech_once hmac_once = MECH_ONCE_INIT(fetch_hmacs, free_hmacs);

static ssize_t hash_index(CK_MECHANISM_TYPE hash)
{
    const mech_hash *found = mech_hash_find(MECH_HASH_BY_MECH, hash, 0);
    return found ? found - mech_hashes : -1;
}

/* A new HMAC context for that hash, digest set; NULL for an unknown hash. */
static EVP_MAC_CTX *mech_hmac_new(CK_MECHANISM_TYPE hash)
{
    ssize_t i = hash_index(hash);
    return i >= 0 && mech_once_run(&hmac_once) && hmac_templates[i]
               ? EVP_MAC_CTX_dup(hmac_templates[i])
               : NULL;
}

/* Whether masked is key XOR hmac_pad, in constant time. */
static bool masked_equal(const unsigned char *masked, const unsigned char *key, size_t len)
{
    unsigned char diff = 0;
    for (size_t i = 0; i < len; i++)
        diff |= (unsigned char)(masked[i] ^ hmac_pad[i] ^ key[i]);
    return diff == 0;
}

/* Under the lock: the idle slot keyed with key, else the idle slot used
 * longest ago (*keyed false); NULL when every slot is busy. */
static struct hmac_slot *hmac_slot_take(size_t hash, const unsigned char *key, size_t key_len,
                                        bool *keyed)
{
    struct hmac_slot *oldest = NULL;
    for (size_t i = 0; i < HMAC_POOLED; i++) {
        struct hmac_slot *slot = &hmac_pool[i];
        if (slot->busy)
            continue;
        if (slot->ctx && slot->hash == hash && mech_key_mark_is(&slot->mark, key, key_len)) {
            *keyed = true;
            return slot;
        }
        if (!oldest || slot->used < oldest->used)
            oldest = slot;
    }
    *keyed = false;
    return oldest;
}

CK_RV mech_hmac_get(mech_hmac *mac, CK_MECHANISM_TYPE hash, const unsigned char *key,
                    size_t key_len)
{
    ssize_t i = hash_index(hash);
    bool keyed = false;
    mac->slot = NULL;
    mac->ctx = NULL;
    if (i < 0 || !mech_once_run(&hmac_once))
        return CKR_MECHANISM_INVALID;
    if (key_len <= HMAC_POOL_KEY_MAX) {
        pthread_mutex_lock(&hmac_pool_lock);
        struct hmac_slot *slot = hmac_slot_take((size_t)i, key, key_len, &keyed);
        if (slot) {
            slot->busy = true;
            if (!keyed) /* the slot is ours now: its old key goes */
                mech_key_mark_clear(&slot->mark);
        }
        pthread_mutex_unlock(&hmac_pool_lock);
        mac->slot = slot;
    }
    struct hmac_slot *slot = mac->slot;
    if (slot && slot->ctx && slot->hash != (size_t)i) {
        EVP_MAC_CTX_free(slot->ctx); /* another digest's */
        slot->ctx = NULL;
    }
    if (slot && !slot->ctx) {
        slot->ctx = mech_hmac_new(hash);
        slot->hash = (size_t)i;
    }
    mac->ctx = slot ? slot->ctx : mech_hmac_new(hash);
    bool ok = mac->ctx && (keyed ? EVP_MAC_init(mac->ctx, NULL, 0, NULL)
                                 : EVP_MAC_init(mac->ctx, key, key_len, NULL));
    if (ok && slot && !keyed)
        mech_key_mark_set(&slot->mark, key, key_len);
    if (!ok) {
        mech_hmac_put(mac, false);
        return mech_openssl_error("HMAC", CKR_FUNCTION_FAILED);
    }
    return CKR_OK;
}

void mech_hmac_put(mech_hmac *mac, bool reusable)
{
    struct hmac_slot *slot = mac->slot;
    if (slot == NULL) {
        EVP_MAC_CTX_free(mac->ctx);
    } else {
        pthread_mutex_lock(&hmac_pool_lock);
        if (!reusable || !mech_key_mark_live(&slot->mark)) /* unknown state, or forgotten */
            hmac_slot_clear(slot);
        slot->busy = false;
        slot->used = ++hmac_tick;
        pthread_mutex_unlock(&hmac_pool_lock);
    }
    mac->ctx = NULL;
    mac->slot = NULL;
}

void mech_key_mark_set(mech_key_mark *mark, const unsigned char *key, size_t len)
{
    mech_key_mark_clear(mark);
    if (len > sizeof(mark->masked) || !mech_once_run(&hmac_once)) /* the pad: drawn with them */
        return;
    for (size_t k = 0; k < len; k++)
        mark->masked[k] = key[k] ^ hmac_pad[k];
    mark->len = len;
    mark->generation = __atomic_load_n(&hmac_generation, __ATOMIC_ACQUIRE);
}

bool mech_key_mark_live(const mech_key_mark *mark)
{
    return mark->len > 0 && mark->generation == __atomic_load_n(&hmac_generation, __ATOMIC_ACQUIRE);
}

bool mech_key_mark_is(const mech_key_mark *mark, const unsigned char *key, size_t len)
{
    return mech_key_mark_live(mark) && mark->len == len && masked_equal(mark->masked, key, len);
}

void mech_key_mark_clear(mech_key_mark *mark)
{
    OPENSSL_cleanse(mark, sizeof(*mark));
}

CK_RV mech_hmac_keep(mech_hmac_kept *mac, CK_MECHANISM_TYPE hash, const unsigned char *key,
                     size_t key_len)
{
    ssize_t i = hash_index(hash);
    if (i < 0 || !mech_once_run(&hmac_once))
        return CKR_MECHANISM_INVALID;
    bool same = mac->ctx && mac->hash == (size_t)i && mech_key_mark_is(&mac->mark, key, key_len);
    if (same && mac->rested) {
        mac->rested = false;
        return CKR_OK;
    }
    if (mac->ctx && mac->hash != (size_t)i)
        mech_hmac_drop(mac); /* another digest's */
    if (!mac->ctx) {
        mac->ctx = mech_hmac_new(hash);
        mac->hash = (size_t)i;
    }
    mech_key_mark_clear(&mac->mark);
    mac->rested = false;
    bool ok = mac->ctx && (same ? EVP_MAC_init(mac->ctx, NULL, 0, NULL)
                                : EVP_MAC_init(mac->ctx, key, key_len, NULL));
    if (!ok) {
        mech_hmac_drop(mac);
        return mech_openssl_error("HMAC", CKR_FUNCTION_FAILED);
    }
    mech_key_mark_set(&mac->mark, key, key_len);
    return CKR_OK;
}

bool mech_hmac_rest(mech_hmac_kept *mac)
{
    if (!mac->ctx || !mech_key_mark_live(&mac->mark))
        return false;
    mac->rested = EVP_MAC_init(mac->ctx, NULL, 0, NULL) == 1;
    if (!mac->rested)
        ERR_clear_error();
    return mac->rested;
}

void mech_hmac_drop(mech_hmac_kept *mac)
{
    EVP_MAC_CTX_free(mac->ctx); /* cleanses its key state */
    OPENSSL_cleanse(mac, sizeof(*mac));
}

void mech_keyed_forget(void)
{
    pthread_mutex_lock(&hmac_pool_lock);
    __atomic_add_fetch(&hmac_generation, 1, __ATOMIC_ACQ_REL);
    for (size_t i = 0; i < HMAC_POOLED; i++)
        if (!hmac_pool[i].busy) /* a busy one goes when it is given back */
            hmac_slot_clear(&hmac_pool[i]);
    pthread_mutex_unlock(&hmac_pool_lock);
}

/* ---- curves ------------------------------------------------------------- */

static const mech_curve curves[] = {
    {NID_X9_62_prime256v1, CKK_EC, "prime256v1", 256, 32},
    {NID_secp384r1, CKK_EC, "secp384r1", 384, 48},
    {NID_secp521r1, CKK_EC, "secp521r1", 521, 66},
    {NID_ED25519, CKK_EC_EDWARDS, "ED25519", 256, 32},
};

/* PrintableString curve names (PKCS#11 3.0 §2.3.3 and §2.3.5). */
static const struct curve_name {
    const char *name;
    int nid;
} curve_names[] = {
    {"prime256v1", NID_X9_62_prime256v1}, {"secp256r1", NID_X9_62_prime256v1},
    {"secp384r1", NID_secp384r1},         {"secp521r1", NID_secp521r1},
    {"edwards25519", NID_ED25519},
};

static EC_GROUP *curve_groups[ARRAY_SIZE(curves)];

static void build_groups(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
        if (curves[i].key_type == CKK_EC)
            curve_groups[i] = EC_GROUP_new_by_curve_name(curves[i].nid);
    ERR_clear_error();
}

static void free_groups(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++) {
        EC_GROUP_free(curve_groups[i]);
        curve_groups[i] = NULL;
    }
}

static mech_once group_once = MECH_ONCE_INIT(build_groups, free_groups);

const EC_GROUP *mech_curve_group(const mech_curve *curve)
{
    if (!mech_once_run(&group_once))
        return NULL;
    return curve_groups[curve - curves];
}

const mech_curve *mech_curve_by_nid(int nid)
{
    for (size_t i = 0; i < ARRAY_SIZE(curves); i++)
        if (curves[i].nid == nid)
            return &curves[i];
    return NULL;
}

static int nid_of_printable_name(const ASN1_STRING *name)
{
    size_t len = (size_t)ASN1_STRING_length(name);
    const unsigned char *data = ASN1_STRING_get0_data(name);
    for (size_t i = 0; i < ARRAY_SIZE(curve_names); i++)
        if (strlen(curve_names[i].name) == len && memcmp(curve_names[i].name, data, len) == 0)
            return curve_names[i].nid;
    return NID_undef;
}

CK_RV mech_curve_from_params(const void *der, size_t der_len, const mech_curve **curve)
{
    if (!der || der_len < 2 || der_len > 256)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    const unsigned char *p = der;
    const unsigned char *end = p + der_len;
    int nid = NID_undef;

    switch (p[0]) {
    case V_ASN1_OBJECT: {
        ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)der_len);
        if (!oid || p != end) {
            ASN1_OBJECT_free(oid);
            return mech_openssl_error("CKA_EC_PARAMS OID", CKR_ATTRIBUTE_VALUE_INVALID);
        }
        nid = OBJ_obj2nid(oid);
        ASN1_OBJECT_free(oid);
        break;
    }
    case V_ASN1_PRINTABLESTRING: {
        ASN1_PRINTABLESTRING *name = d2i_ASN1_PRINTABLESTRING(NULL, &p, (long)der_len);
        if (!name || p != end) {
            ASN1_PRINTABLESTRING_free(name);
            return mech_openssl_error("CKA_EC_PARAMS name", CKR_ATTRIBUTE_VALUE_INVALID);
        }
        nid = nid_of_printable_name(name);
        ASN1_PRINTABLESTRING_free(name);
        break;
    }
    case V_ASN1_SEQUENCE | V_ASN1_CONSTRUCTED: /* explicit ecParameters */
    case V_ASN1_NULL:                          /* implicitlyCA */
        return CKR_CURVE_NOT_SUPPORTED;
    default:
        return CKR_ATTRIBUTE_VALUE_INVALID;
    }
    *curve = mech_curve_by_nid(nid);
    return *curve ? CKR_OK : CKR_CURVE_NOT_SUPPORTED;
}

const mech_curve *mech_curve_of_pkey(const EVP_PKEY *pkey)
{
    int id = EVP_PKEY_get_base_id(pkey);
    if (id == EVP_PKEY_ED25519)
        return mech_curve_by_nid(NID_ED25519);
    if (id != EVP_PKEY_EC)
        return NULL;
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
                                        &len)) {
        mech_openssl_error("EC group name", CKR_OK);
        return NULL;
    }
    int nid = OBJ_txt2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    return mech_curve_by_nid(nid);
}

CK_RV mech_set_ec_params(attr_list *out, const mech_curve *curve)
{
    unsigned char *der = NULL;
    int len = i2d_ASN1_OBJECT(OBJ_nid2obj(curve->nid), &der);
    if (len <= 0)
        return mech_openssl_error("curve OID", CKR_HOST_MEMORY);
    CK_RV rv = attr_list_set(out, CKA_EC_PARAMS, der, (CK_ULONG)len);
    OPENSSL_free(der);
    return rv;
}

/* ---- parameters and errors ------------------------------------------------------------- */

bool mech_param_absent(const CK_MECHANISM *mech)
{
    return mech->ulParameterLen == 0;
}

CK_RV mech_openssl_error(const char *what, CK_RV rv)
{
    return se_log_openssl(rv, what); /* common/log_openssl.c: the one way */
}

const char *mech_keytype(const char *name)
{
    if (strcmp(name, "RSA") == 0)
        return "1.2.840.113549.1.1.1";
    if (strcmp(name, "EC") == 0)
        return "1.2.840.10045.2.1";
    return name;
}

static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static mech_once *caches; /* every cache filled since the last release */

bool mech_once_run(mech_once *once)
{
    if (__atomic_load_n(&once->done, __ATOMIC_ACQUIRE))
        return true;
    pthread_mutex_lock(&once->lock);
    if (!once->done) {
        if (once->fill)
            once->fill();
        pthread_mutex_lock(&caches_lock);
        once->next = caches;
        caches = once;
        pthread_mutex_unlock(&caches_lock);
        __atomic_store_n(&once->done, true, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&once->lock);
    return true;
}

/* ---- parsed public keys (mech_spki_decode) ---- */

#define SPKI_CACHED 8

static struct spki_entry {
    unsigned char *der;
    size_t len;
    EVP_PKEY *pkey;
} spki_cache[SPKI_CACHED];
static unsigned spki_next;
static pthread_mutex_t spki_lock = PTHREAD_MUTEX_INITIALIZER;

static void spki_empty(void)
{
    pthread_mutex_lock(&spki_lock);
    for (size_t i = 0; i < SPKI_CACHED; i++) {
        free(spki_cache[i].der);
        EVP_PKEY_free(spki_cache[i].pkey);
        spki_cache[i] = (struct spki_entry){NULL, 0, NULL};
    }
    pthread_mutex_unlock(&spki_lock);
}

static mech_once spki_once = MECH_ONCE_INIT(NULL, spki_empty);

EVP_PKEY *mech_spki_decode(const unsigned char *der, size_t len)
{
    EVP_PKEY *pkey = NULL;
    if (der == NULL || len == 0 || len > LONG_MAX)
        return NULL;
    mech_once_run(&spki_once); /* emptied by C_Finalize */
    pthread_mutex_lock(&spki_lock);
    for (size_t i = 0; i < SPKI_CACHED && pkey == NULL; i++)
        if (spki_cache[i].len == len && memcmp(spki_cache[i].der, der, len) == 0 &&
            EVP_PKEY_up_ref(spki_cache[i].pkey))
            pkey = spki_cache[i].pkey;
    pthread_mutex_unlock(&spki_lock);
    if (pkey)
        return pkey;

    const unsigned char *p = der;
    pkey = d2i_PUBKEY(NULL, &p, (long)len);
    if (pkey == NULL || p != der + len) {
        EVP_PKEY_free(pkey);
        return NULL;
    }
    unsigned char *copy = malloc(len);
    if (copy && EVP_PKEY_up_ref(pkey)) {
        memcpy(copy, der, len);
        pthread_mutex_lock(&spki_lock);
        struct spki_entry *e = &spki_cache[spki_next++ % SPKI_CACHED];
        free(e->der);
        EVP_PKEY_free(e->pkey);
        *e = (struct spki_entry){copy, len, pkey};
        pthread_mutex_unlock(&spki_lock);
    } else {
        free(copy);
    }
    return pkey;
}

/* ---- ECDSA signature encoding ---- */

CK_RV mech_ecdsa_der_to_raw(const unsigned char *der, size_t der_len, size_t half,
                            unsigned char *out)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig)
        return mech_openssl_error("ECDSA signature decoding", CKR_FUNCTION_FAILED);
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    bool ok = BN_bn2binpad(r, out, (int)half) == (int)half &&
              BN_bn2binpad(s, out + half, (int)half) == (int)half;
    ECDSA_SIG_free(sig);
    return ok ? CKR_OK : CKR_FUNCTION_FAILED;
}

/* ---- RSA encryption contexts (mech_rsa_enc_take) ---- */

/* Idle contexts, each with a reference to its key, so that the key's
 * address cannot name another key while it is here; when every slot is
 * full, one is replaced in turn. */
#define RSA_ENC_KEPT 16

static struct rsa_enc_slot {
    EVP_PKEY *key;
    mech_rsa_enc kind;
    EVP_PKEY_CTX *ctx;
} rsa_enc_kept[RSA_ENC_KEPT];
static unsigned rsa_enc_next;
static pthread_mutex_t rsa_enc_lock = PTHREAD_MUTEX_INITIALIZER;

static void rsa_enc_empty(void)
{
    struct rsa_enc_slot dropped[RSA_ENC_KEPT];
    pthread_mutex_lock(&rsa_enc_lock);
    memcpy(dropped, rsa_enc_kept, sizeof(dropped));
    memset(rsa_enc_kept, 0, sizeof(rsa_enc_kept));
    pthread_mutex_unlock(&rsa_enc_lock);
    for (size_t i = 0; i < RSA_ENC_KEPT; i++) {
        EVP_PKEY_CTX_free(dropped[i].ctx);
        EVP_PKEY_free(dropped[i].key);
    }
}

static mech_once rsa_enc_once = MECH_ONCE_INIT(NULL, rsa_enc_empty);

EVP_PKEY_CTX *mech_rsa_enc_take(EVP_PKEY *key, mech_rsa_enc kind)
{
    struct rsa_enc_slot taken = {NULL, kind, NULL};
    pthread_mutex_lock(&rsa_enc_lock);
    for (size_t i = 0; i < RSA_ENC_KEPT && !taken.ctx; i++) {
        struct rsa_enc_slot *slot = &rsa_enc_kept[i];
        if (slot->ctx && slot->key == key && slot->kind == kind) {
            taken = *slot;
            *slot = (struct rsa_enc_slot){NULL, kind, NULL};
        }
    }
    pthread_mutex_unlock(&rsa_enc_lock);
    if (taken.ctx) {
        EVP_PKEY_free(taken.key); /* the caller holds its own reference */
        return taken.ctx;
    }
    const EVP_MD *sha256 = mech_hash_md(CKM_SHA256);
    bool oaep = kind == MECH_RSA_ENC_OAEP_SHA256;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
    if (!ctx || EVP_PKEY_encrypt_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, oaep ? RSA_PKCS1_OAEP_PADDING : RSA_NO_PADDING) <= 0 ||
        (oaep && (!sha256 || EVP_PKEY_CTX_set_rsa_oaep_md(ctx, sha256) <= 0 ||
                  EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, sha256) <= 0))) {
        EVP_PKEY_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

void mech_rsa_enc_give(EVP_PKEY *key, mech_rsa_enc kind, EVP_PKEY_CTX *ctx)
{
    struct rsa_enc_slot old = {NULL, kind, NULL};
    if (!ctx)
        return;
    if (!mech_once_run(&rsa_enc_once) || !EVP_PKEY_up_ref(key)) { /* C_Finalize empties */
        EVP_PKEY_CTX_free(ctx);
        return;
    }
    pthread_mutex_lock(&rsa_enc_lock);
    struct rsa_enc_slot *slot = NULL;
    for (size_t i = 0; i < RSA_ENC_KEPT && !slot; i++)
        if (!rsa_enc_kept[i].ctx)
            slot = &rsa_enc_kept[i];
    if (!slot)
        slot = &rsa_enc_kept[rsa_enc_next++ % RSA_ENC_KEPT];
    old = *slot;
    *slot = (struct rsa_enc_slot){key, kind, ctx};
    pthread_mutex_unlock(&rsa_enc_lock);
    EVP_PKEY_CTX_free(old.ctx);
    EVP_PKEY_free(old.key);
}

/* ---- random bytes in blocks (mech_random) ---- */

#define RANDOM_BLOCK 2048
#define RANDOM_DIRECT (RANDOM_BLOCK / 8) /* longer draws go to the DRBG directly */
/* Blocks per kind (public, secret): each thread draws from one, picked
 * round-robin at its first draw, so that two threads do not take one lock
 * (one block was 0.68 of one thread's rate on two, issue 18).  OpenSSL's
 * DRBGs are per thread too. */
#define RANDOM_STRIPES 8

static struct random_block {
    pthread_mutex_t lock;
    size_t left; /* the last left bytes are not handed out yet; 0: empty */
    unsigned char bytes[RANDOM_BLOCK];
} random_blocks[2 * RANDOM_STRIPES];
static unsigned random_next_stripe;
static __thread unsigned random_stripe; /* 1 + the thread's stripe; 0: none yet */
static pthread_once_t random_atfork_once = PTHREAD_ONCE_INIT;

static void random_lock_all(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(random_blocks); i++)
        pthread_mutex_lock(&random_blocks[i].lock);
}

static void random_unlock_all(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(random_blocks); i++)
        pthread_mutex_unlock(&random_blocks[i].lock);
}

/* Held across fork so that no block is copied half-handed-out; the child
 * draws afresh: the parent's next bytes must not be the child's too. */
static void random_erase_locked(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(random_blocks); i++) {
        OPENSSL_cleanse(random_blocks[i].bytes, RANDOM_BLOCK);
        random_blocks[i].left = 0;
    }
}

static void random_child(void)
{
    random_erase_locked();
    random_unlock_all();
}

static void random_register(void)
{
    for (size_t i = 0; i < ARRAY_SIZE(random_blocks); i++)
        pthread_mutex_init(&random_blocks[i].lock, NULL);
    pthread_atfork(random_lock_all, random_unlock_all, random_child);
}

static void random_empty(void)
{
    pthread_once(&random_atfork_once, random_register);
    random_lock_all();
    random_erase_locked();
    random_unlock_all();
}

static mech_once random_once = MECH_ONCE_INIT(NULL, random_empty);

CK_RV mech_random(void *out, size_t len, bool secret)
{
    int (*draw)(unsigned char *, int) = secret ? RAND_priv_bytes : RAND_bytes;
    if (len > RANDOM_DIRECT)
        return draw(out, (int)len) == 1 ? CKR_OK
                                        : mech_openssl_error("random", CKR_FUNCTION_FAILED);
    pthread_once(&random_atfork_once, random_register);
    mech_once_run(&random_once); /* erased by C_Finalize */
    if (random_stripe == 0)
        random_stripe =
            1 + __atomic_fetch_add(&random_next_stripe, 1, __ATOMIC_RELAXED) % RANDOM_STRIPES;
    struct random_block *b = &random_blocks[(secret ? RANDOM_STRIPES : 0) + random_stripe - 1];
    CK_RV rv = CKR_OK;
    pthread_mutex_lock(&b->lock);
    if (b->left < len) {
        if (draw(b->bytes, RANDOM_BLOCK) == 1)
            b->left = RANDOM_BLOCK;
        else
            rv = mech_openssl_error("random", CKR_FUNCTION_FAILED);
    }
    if (rv == CKR_OK) {
        unsigned char *next = b->bytes + (RANDOM_BLOCK - b->left);
        memcpy(out, next, len);
        OPENSSL_cleanse(next, len);
        b->left -= len;
    }
    pthread_mutex_unlock(&b->lock);
    return rv;
}

void mech_caches_release(void)
{
    pthread_mutex_lock(&caches_lock);
    mech_once *once = caches;
    caches = NULL;
    pthread_mutex_unlock(&caches_lock);
    while (once) {
        mech_once *next = once->next;
        pthread_mutex_lock(&once->lock);
        once->empty();
        once->next = NULL;
        __atomic_store_n(&once->done, false, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&once->lock);
        once = next;
    }
}
