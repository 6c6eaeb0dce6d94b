/*
 * lifecycle.c — the token lifecycle of docs/spec.md §3 in one place: what each
 * state permits, the CKO_HW_FEATURE object that shows the state, and the
 * transitions an SO makes with C_SetAttributeValue.
 */
#include "core.h"
#include "vendor_env.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { PERSO = 1 << SOFTSE_LIFECYCLE_PERSONALIZATION, OPER = 1 << SOFTSE_LIFECYCLE_OPERATIONAL };

/* The states in which each action is allowed.  TERMINATED allows login
 * and reading public objects only, so it appears in no row. */
static const unsigned permitted[] = {
    [LC_KEY_USE] = PERSO | OPER,
    [LC_OBJECT_WRITE] = PERSO | OPER,
    [LC_GKEA] = PERSO | OPER,
    [LC_KI_DERIVE] = PERSO,
    [LC_SK3_CREATE] = PERSO,
    [LC_SK3_QUERY] = PERSO | OPER,
};

CK_RV lifecycle_check(const se_token *t, lifecycle_action action)
{
    unsigned state = t->info.lifecycle;
    return (permitted[action] & (1u << state)) ? CKR_OK : CKR_SE_LIFECYCLE;
}

/* With a fresh view of the store: another process's SO may just have
 * moved the token on. */
CK_RV env_lifecycle_allows(const mech_env *env, lifecycle_action action)
{
    se_token *t = env->session->token;
    mutex_lock(t->lock);
    CK_RV rv = object_sync(t);
    if (rv == CKR_OK)
        rv = lifecycle_check(t, action);
    mutex_unlock(t->lock);
    return rv;
}

CK_RV lifecycle_attrs(const se_token *t, attr_list *out)
{
    unsigned char state = t->info.lifecycle;
    CK_RV rv = attr_list_set_ulong(out, CKA_CLASS, CKO_HW_FEATURE);
    if (rv == CKR_OK)
        rv = attr_list_set_ulong(out, CKA_HW_FEATURE_TYPE, CKH_SE_LIFECYCLE);
    if (rv == CKR_OK)
        rv = attr_list_set(out, CKA_VALUE, &state, 1);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_RESET_ON_INIT, true);
    if (rv == CKR_OK)
        rv = attr_list_set_bool(out, CKA_HAS_RESET, false);
    return rv;
}

static bool transition_allowed(unsigned char from, unsigned char to)
{
    switch (from) {
    case SOFTSE_LIFECYCLE_PERSONALIZATION:
        return to == SOFTSE_LIFECYCLE_OPERATIONAL || to == SOFTSE_LIFECYCLE_TERMINATED;
    case SOFTSE_LIFECYCLE_OPERATIONAL:
        return to == SOFTSE_LIFECYCLE_TERMINATED || to == SOFTSE_LIFECYCLE_PERSONALIZATION;
    default:
        return false; /* TERMINATED is final */
    }
}

/* C_SetAttributeValue(CKA_VALUE) on the lifecycle object; token->lock held. */
CK_RV lifecycle_transition(se_session *s, const CK_ATTRIBUTE *change)
{
    se_token *t = s->token;
    if (change->type != CKA_VALUE)
        return CKR_ATTRIBUTE_READ_ONLY;
    if (change->ulValueLen != 1 || !change->pValue)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    if (t->login != LOGIN_SO)
        return CKR_USER_NOT_LOGGED_IN;
    unsigned char to = *(const unsigned char *)change->pValue;
    if (to < SOFTSE_LIFECYCLE_PERSONALIZATION || to > SOFTSE_LIFECYCLE_TERMINATED)
        return CKR_ATTRIBUTE_VALUE_INVALID;
    CK_RV rv = tok_get_info(t->store, &t->info);
    if (rv != CKR_OK)
        return rv;
    unsigned char from = t->info.lifecycle;
    if (from == to)
        return CKR_OK;
    if (!transition_allowed(from, to))
        return CKR_SE_LIFECYCLE;
    char audit[64];
    snprintf(audit, sizeof(audit), "transition %u -> %u", from, to);
    if (to == SOFTSE_LIFECYCLE_TERMINATED) {
        rv = tok_terminate(t->store, audit);
    } else if (to == SOFTSE_LIFECYCLE_PERSONALIZATION) {
        tok_id *keep = NULL;
        size_t count = 0;
        rv = identity_ids(t, &keep, &count); /* it survives a reset (seed 004 [0026]) */
        if (rv == CKR_OK)
            rv = tok_reset(t->store, keep, count, audit);
        free(keep);
    } else {
        rv = tok_set_lifecycle(t->store, to, audit);
    }
    if (rv == CKR_OK) {
        object_cache_clear(t, to != SOFTSE_LIFECYCLE_OPERATIONAL);
        rv = tok_get_info(t->store, &t->info);
    }
    return rv;
}
