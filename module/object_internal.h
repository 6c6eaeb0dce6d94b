/*
 * object_internal.h — what object.c shares with object_find.c (the
 * C_FindObjects functions) and object_key.c (key material), and nothing
 * else includes.
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
/* object_lookup without the store check: the caller ran object_sync. */
CK_RV object_lookup_synced(se_session *s, CK_OBJECT_HANDLE h, se_object **out);
bool object_is_key_class(CK_OBJECT_CLASS cls);
/* Whether the store seals the attribute (kept masked in the cache). */
bool object_masked_type(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);
/* A clear copy of o's attributes: free it (cleansed) with attr_list_free. */
CK_RV object_clear_attrs(const se_object *o, attr_list *out);

#endif
