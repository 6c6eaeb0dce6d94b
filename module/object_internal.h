/*
 * object_internal.h — what object.c shares with object_find.c (the
 * C_FindObjects functions), and nothing else includes.
 */
#ifndef SOFTSE_OBJECT_INTERNAL_H
#define SOFTSE_OBJECT_INTERNAL_H

#include "core.h"

/* Whether the object's attributes match want (masked values compared
 * unmasked, and never a value C_GetAttributeValue would not return). */
bool object_matches(const se_object *o, const attr_list *want);
/* The CKH_SE_LIFECYCLE object, built from the token's state. */
CK_RV lifecycle_object(se_token *t, se_object **out);
/* Whether the session's login lets it see the object. */
bool object_visible(const se_token *t, const se_object *o);

#endif
