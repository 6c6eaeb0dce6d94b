/*
 * mech_digest.c — the hash mechanisms (C_Digest*).  The operation state
 * is the EVP_MD_CTX itself, initialised with an EVP_MD fetched once per
 * process (mech_hash_evp), so a digest costs what it costs in raw EVP.
 * The rows are those of the hash table (mech_hash.h) offered for digest.
 */
#include "mech.h"
#include "mech_util.h"

#include <openssl/err.h>

/* Sets ctx (new, or parked) up for the mechanism: a parked context
 * already initialized with the same digest (digest_park) is ready. */
static CK_RV digest_setup(const CK_MECHANISM *mech, mech_op_kind kind, EVP_MD_CTX *ctx,
                          bool parked)
{
    if (kind != MECH_DIGEST)
        return CKR_MECHANISM_INVALID;
    if (!mech_param_absent(mech))
        return CKR_MECHANISM_PARAM_INVALID;
    const EVP_MD *md =
        mech_hash_evp(mech_row_data(&mech_table_digest, mech->mechanism, CKF_DIGEST));
    if (!md)
        return CKR_MECHANISM_INVALID;
    if (parked && EVP_MD_CTX_get0_md(ctx) == md)
        return CKR_OK;
    if (!EVP_DigestInit_ex2(ctx, md, NULL))
        return mech_openssl_error("digest init", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

static CK_RV digest_init(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                         const mech_env *env, void **state)
{
    (void)key;
    (void)env;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return CKR_HOST_MEMORY;
    CK_RV rv = digest_setup(mech, kind, ctx, false);
    if (rv != CKR_OK) {
        EVP_MD_CTX_free(ctx);
        return rv;
    }
    *state = ctx;
    return CKR_OK;
}

static CK_RV digest_reuse(const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
                          const mech_env *env, void *state)
{
    (void)key;
    (void)env;
    return digest_setup(mech, kind, state, true);
}

/* The hash state goes (OpenSSL frees it cleansed: C_DigestKey hashes a
 * key) and a fresh one is made with the same digest, ready for the
 * session's next digest.  Resetting the context instead dropped its
 * reference to the shared EVP_MD, taken again by the next init: two
 * atomic operations on one cache line for every thread (issue 18). */
static bool digest_park(void *state)
{
    if (EVP_DigestInit_ex2(state, NULL, NULL) == 1)
        return true;
    ERR_clear_error();
    return false;
}

static CK_RV digest_out_size(void *state, mech_phase phase, size_t in_len, size_t *out_len)
{
    (void)in_len;
    *out_len = phase == MECH_PHASE_UPDATE ? 0 : (size_t)EVP_MD_CTX_get_size((EVP_MD_CTX *)state);
    return CKR_OK;
}

static CK_RV digest_update(void *state, const unsigned char *in, size_t in_len, unsigned char *out,
                           size_t *out_len)
{
    (void)out;
    if (out_len)
        *out_len = 0;
    if (!EVP_DigestUpdate(state, in, in_len))
        return mech_openssl_error("digest update", CKR_FUNCTION_FAILED);
    return CKR_OK;
}

static CK_RV digest_final(void *state, unsigned char *out, size_t *out_len)
{
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(state, out, &len))
        return mech_openssl_error("digest final", CKR_FUNCTION_FAILED);
    *out_len = len;
    return CKR_OK;
}

static void digest_free(void *state)
{
    EVP_MD_CTX_free(state);
}

static const mech_ops digest_ops = {
    .init = digest_init,
    .out_size = digest_out_size,
    .update = digest_update,
    .final = digest_final,
    .free = digest_free,
    .park = digest_park,
    .reuse = digest_reuse,
};

#define DIGEST_ROW(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss, ecdsa,  \
                   on_digest, on_sign, on_hmac, on_oaep, on_kdf)                                   \
    MECH_IF(on_digest,                                                                             \
            {.type = digest,                                                                       \
             .name = #digest,                                                                      \
             .info = {0, 0, CKF_DIGEST},                                                           \
             .multipart = true,                                                                    \
             .ops = &digest_ops,                                                                   \
             .data = &mech_hashes[mech_hash_at_##digest]}, )

static const mech_row rows[] = {MECH_HASHES(DIGEST_ROW)};

const mech_table mech_table_digest = {rows, ARRAY_SIZE(rows)};
