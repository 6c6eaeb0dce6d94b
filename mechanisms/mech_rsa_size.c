/*
 * mech_rsa_size.c — the RSA modulus sizes the token accepts (mech.h):
 * from MECH_RSA_MIN_BITS, or the configured rsa_min_bits, to
 * MECH_RSA_MAX_BITS.  One value read by every RSA row (mech_sign.c,
 * mech_cipher.c, mech_keygen.c, mech_rsa_raw.c), by C_GetMechanismInfo
 * (mech.c) and by the import checks of the core; a file of its own so
 * that the rows' unit tests link it alone.
 */
#include "mech.h"

#include <stdatomic.h>

/* Written by C_Initialize, read by every RSA operation's init. */
static _Atomic CK_ULONG rsa_min_bits = MECH_RSA_MIN_BITS;

void mech_rsa_set_min_bits(CK_ULONG bits)
{
    atomic_store(&rsa_min_bits, bits < MECH_RSA_MIN_BITS ? MECH_RSA_MIN_BITS : bits);
}

CK_ULONG mech_rsa_min_bits(void)
{
    return atomic_load(&rsa_min_bits);
}

CK_RV mech_rsa_check_size(const mech_key *key)
{
    if (key->type != CKK_RSA || !key->pkey || key->cls == CKO_SECRET_KEY)
        return CKR_OK;
    int bits = EVP_PKEY_get_bits(key->pkey);
    if (bits <= 0 || (CK_ULONG)bits < mech_rsa_min_bits() || bits > MECH_RSA_MAX_BITS)
        return CKR_KEY_SIZE_RANGE;
    return CKR_OK;
}
