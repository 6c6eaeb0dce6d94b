/*
 * lifecycle.c — the token lifecycle of SPEC.md §3 in one place: what each
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

CK_RV env_lifecycle_allows(const mech_env *env, lifecycle_action action)
{
    return lifecycle_check(env->session->token, action);
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

/* The device identity survives a reset (seed 004 [0026]): the
 * attestation key pair, its certificate and the manufacturer chain. */
static CK_RV identity_ids(se_token *t, tok_id **ids, size_t *count)
{
    static const char *const labels[] = {SOFTSE_ATTESTATION_LABEL, SOFTSE_MANUFACTURER_CA_LABEL};
    *ids = NULL;
    *count = 0;
    CK_RV rv = CKR_OK;
    for (size_t i = 0; rv == CKR_OK && i < ARRAY_SIZE(labels); i++) {
        tok_attr match = {CKA_LABEL, (unsigned char *)labels[i], strlen(labels[i]),
                          TOK_ATTR_LOOKUP};
        tok_id *found = NULL;
        size_t n = 0;
        rv = tok_object_find(t->store, &t->keys, &match, 1, &found, &n);
        if (rv == CKR_OK && n > 0) {
            tok_id *all = realloc(*ids, (*count + n) * sizeof(**ids));
            if (!all) {
                rv = CKR_HOST_MEMORY;
            } else {
                memcpy(all + *count, found, n * sizeof(*found));
                *ids = all;
                *count += n;
            }
        }
        free(found);
    }
    return rv;
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
        rv = identity_ids(t, &keep, &count);
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
