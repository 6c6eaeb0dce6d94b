/*
 * mech.c — lookup over the mechanism tables (see mech.h).  The list and
 * info answers and every dispatch come from these rows only.
 */
#include "mech.h"

static const mech_table *const tables[] = {
    &mech_table_digest, &mech_table_sign,   &mech_table_cipher, &mech_table_keygen,
    &mech_table_wrap,   &mech_table_derive, &mech_table_vendor,
};

const mech_row *mech_find(CK_MECHANISM_TYPE type)
{
    for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
        for (size_t i = 0; i < tables[t]->count; i++)
            if (tables[t]->rows[i].type == type)
                return &tables[t]->rows[i];
    return NULL;
}

size_t mech_list(CK_MECHANISM_TYPE *list, size_t max)
{
    size_t n = 0;
    for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
        for (size_t i = 0; i < tables[t]->count; i++, n++)
            if (list && n < max)
                list[n] = tables[t]->rows[i].type;
    return n;
}
