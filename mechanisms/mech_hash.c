/*
 * mech_hash.c — the hash table, expanded from MECH_HASHES (see
 * mech_hash.h), and the lookups by any of its columns.
 */
#include "mech_hash.h"

#define MECH_HASH_ENTRY(digest, md_name, md_len, mgf1, x963, hmac, hmac_key, rsa_pkcs, rsa_pss,    \
                        ecdsa, on_digest, on_sign, on_hmac, on_oaep, on_kdf)                       \
    [mech_hash_at_##digest] = {                                                                    \
        digest,                                                                                    \
        md_name,                                                                                   \
        md_len,                                                                                    \
        mgf1,                                                                                      \
        x963,                                                                                      \
        hmac,                                                                                      \
        hmac_key,                                                                                  \
        rsa_pkcs,                                                                                  \
        rsa_pss,                                                                                   \
        ecdsa,                                                                                     \
        (on_digest ? MECH_HASH_DIGEST : 0) | (on_sign ? MECH_HASH_SIGN : 0) |                      \
            (on_hmac ? MECH_HASH_HMAC : 0) | (on_oaep ? MECH_HASH_OAEP : 0) |                      \
            (on_kdf ? MECH_HASH_KDF : 0),                                                          \
    },

const mech_hash mech_hashes[MECH_HASH_COUNT] = {MECH_HASHES(MECH_HASH_ENTRY)};

static CK_ULONG column(const mech_hash *hash, mech_hash_by by)
{
    switch (by) {
    case MECH_HASH_BY_MECH:
        return hash->mech;
    case MECH_HASH_BY_MGF1:
        return hash->mgf1;
    case MECH_HASH_BY_X963:
        return hash->x963;
    case MECH_HASH_BY_HMAC:
        return hash->hmac;
    case MECH_HASH_BY_HMAC_KEY:
        return hash->hmac_key;
    }
    return CK_UNAVAILABLE_INFORMATION;
}

const mech_hash *mech_hash_find(mech_hash_by by, CK_ULONG value, unsigned uses)
{
    for (size_t i = 0; i < MECH_HASH_COUNT; i++) {
        const mech_hash *hash = &mech_hashes[i];
        if (column(hash, by) == value && (hash->uses & uses) == uses)
            return hash;
    }
    return NULL;
}
