/*
 * mech.c — lookup over the mechanism tables (see mech.h).  The list and
 * info answers and every dispatch come from these rows only.  A
 * mechanism may have several rows (CKM_RSA_PKCS signs in mech_sign.c and
 * encrypts in mech_cipher.c): dispatch picks the row with the function's
 * flag, and C_GetMechanismInfo reports their union.
 */
#include "mech.h"

#include <pthread.h>

/* The standard families, then what mech_register added (the vendor
 * room's rows: module/families.c); the first NULL ends the list. */
static const mech_table *tables[MECH_TABLES_MAX] = {
    &mech_table_digest, &mech_table_sign, &mech_table_cipher,
    &mech_table_keygen, &mech_table_wrap, &mech_table_derive,
    &mech_table_des3,   &mech_table_encrypt_data, &mech_table_rsa_raw,
};
static bool index_built;

#define EACH_ROW(row)                                              \
    for (size_t t_ = 0; t_ < MECH_TABLES_MAX && tables[t_]; t_++)   \
        for (const mech_row *row = tables[t_]->rows;                \
             row < tables[t_]->rows + tables[t_]->count; row++)

/* Every row sorted by type, rows of one type in table order: a dispatch
 * is a binary search, not a walk over every table (the vendor rows come
 * last).  Built once; the tables never change. */
#define MECH_ROWS_MAX 256
static const mech_row *by_type[MECH_ROWS_MAX];
static size_t by_type_count;
static pthread_once_t by_type_once = PTHREAD_ONCE_INIT;

bool mech_register(const mech_table *table)
{
    size_t free_slot = 0;
    while (free_slot < MECH_TABLES_MAX && tables[free_slot])
        free_slot++;
    if (index_built || free_slot == MECH_TABLES_MAX)
        return false;
    tables[free_slot] = table;
    return true;
}

static void by_type_build(void)
{
    index_built = true;
    EACH_ROW(row)
    {
        if (by_type_count == MECH_ROWS_MAX)
            return; /* mech_find falls back to the walk */
        size_t at = by_type_count++;
        for (; at > 0 && by_type[at - 1]->type > row->type; at--) /* stable insertion */
            by_type[at] = by_type[at - 1];
        by_type[at] = row;
    }
}

const mech_row *mech_find(CK_MECHANISM_TYPE type, CK_FLAGS needed)
{
    pthread_once(&by_type_once, by_type_build);
    size_t lo = 0, hi = by_type_count;
    while (lo < hi) { /* the first row of type */
        size_t mid = lo + (hi - lo) / 2;
        if (by_type[mid]->type < type)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (; lo < by_type_count && by_type[lo]->type == type; lo++)
        if ((by_type[lo]->info.flags & needed) == needed)
            return by_type[lo];
    if (by_type_count < MECH_ROWS_MAX)
        return NULL;
    EACH_ROW(row)
    {
        if (row->type == type && (row->info.flags & needed) == needed)
            return row;
    }
    return NULL;
}

/* A row's info as C_GetMechanismInfo reports it: an RSA row's minimum
 * is the configured one. */
static CK_MECHANISM_INFO row_info(const mech_row *row)
{
    CK_MECHANISM_INFO info = row->info;
    if (row->rsa_sized && info.ulMinKeySize < mech_rsa_min_bits())
        info.ulMinKeySize = mech_rsa_min_bits();
    return info;
}

bool mech_info(CK_MECHANISM_TYPE type, CK_MECHANISM_INFO *info)
{
    bool found = false;
    EACH_ROW(row)
    {
        if (row->type != type)
            continue;
        CK_MECHANISM_INFO this = row_info(row);
        if (!found) {
            *info = this;
            found = true;
            continue;
        }
        info->flags |= this.flags;
        if (this.ulMinKeySize < info->ulMinKeySize)
            info->ulMinKeySize = this.ulMinKeySize;
        if (this.ulMaxKeySize > info->ulMaxKeySize)
            info->ulMaxKeySize = this.ulMaxKeySize;
    }
    /* We emulate a card: every mechanism runs inside the device. */
    if (found)
        info->flags |= CKF_HW;
    return found;
}

static bool listed_before(const mech_row *row)
{
    EACH_ROW(earlier)
    {
        if (earlier == row)
            return false;
        if (earlier->type == row->type)
            return true;
    }
    return false;
}

size_t mech_list(CK_MECHANISM_TYPE *list, size_t max)
{
    size_t n = 0;
    EACH_ROW(row)
    {
        if (listed_before(row))
            continue;
        if (list && n < max)
            list[n] = row->type;
        n++;
    }
    return n;
}

void mech_each_row(void (*visit)(const mech_row *row, void *arg), void *arg)
{
    EACH_ROW(row)
    {
        visit(row, arg);
    }
}
