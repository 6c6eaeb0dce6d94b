/*
 * families.c — the mechanism families built into this module beyond the
 * standard ones of mechanisms/ (which the tables hold from the start).
 * Each registers its mechanism rows, attribute rows and key types
 * through the core's own tables (mech_register, policy_register_rows,
 * env_register_key_type), once per process, from the first C_Initialize
 * before anything reads a table.  Adding a family is one line here and
 * one option in meson_options.txt.
 */
#include "core.h"

#include <pthread.h>

#ifdef SOFTSE_VENDOR_MECHANISMS
#include "vendor_family.h"
#endif

static pthread_once_t families_once = PTHREAD_ONCE_INIT;

static void register_all(void)
{
#ifdef SOFTSE_VENDOR_MECHANISMS
    if (!vendor_register()) /* a table too small: a build error, not a user's */
        se_log(SE_LOG_ERROR, "the vendor mechanisms could not all be registered");
#endif
}

void families_register(void)
{
    pthread_once(&families_once, register_all);
}
