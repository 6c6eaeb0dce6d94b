/*
 * mech_test.h — fixtures shared by the cipher, wrap and derive tests:
 * hex vectors, keys built directly as mech_key, and a driver that plays
 * the core's part (out_size before every call, a buffer of exactly that
 * size, so ASan catches any write past what out_size promised).
 */
#ifndef SOFTSE_TEST_MECH_H
#define SOFTSE_TEST_MECH_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mech.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

/* A byte string decoded from hex; freed by buf_free. */
typedef struct buf {
    unsigned char *data;
    size_t len;
} buf;

static inline buf hex(const char *text)
{
    size_t n = strlen(text) / 2;
    buf b = {malloc(n ? n : 1), n};
    assert_non_null(b.data);
    for (size_t i = 0; i < n; i++) {
        unsigned int byte;
        assert_int_equal(sscanf(text + 2 * i, "%2x", &byte), 1);
        b.data[i] = (unsigned char)byte;
    }
    return b;
}

static inline buf buf_random(size_t len)
{
    buf b = {malloc(len ? len : 1), len};
    assert_non_null(b.data);
    assert_int_equal(RAND_bytes(b.data, (int)len), 1);
    return b;
}

static inline void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

#define assert_buf_equal(b, expected_data, expected_len)                                           \
    do {                                                                                           \
        assert_int_equal((b).len, (expected_len));                                                 \
        assert_memory_equal((b).data, (expected_data), (expected_len));                            \
    } while (0)

static inline const mech_row *row_of(const mech_table *table, CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->rows[i].type == type)
            return &table->rows[i];
    fail_msg("mechanism 0x%lx has no row", (unsigned long)type);
    return NULL;
}

static inline mech_key secret_key(CK_KEY_TYPE type, const buf *value)
{
    mech_key key = {.cls = CKO_SECRET_KEY, .type = type};
    key.secret = value->data;
    key.secret_len = value->len;
    return key;
}

/* Chunk sizes for multi-part calls, taken in turn. */
static const size_t odd_splits[] = {1, 15, 17, 33};
static const size_t whole_split[] = {SIZE_MAX};

/* Runs an encrypt or decrypt as the core would: init, then update on
 * chunks of the split sizes (or one single-part call when splits is
 * NULL), then final.  The output is appended to *out. */
static inline CK_RV run_cipher(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                               mech_op_kind kind, const unsigned char *in, size_t in_len,
                               const size_t *splits, size_t split_count, buf *out)
{
    void *state = NULL;
    CK_RV rv = row->ops->init(mech, key, kind, NULL, &state);
    out->data = NULL;
    out->len = 0;
    if (rv != CKR_OK)
        return rv;
    assert_non_null(state);
    size_t at = 0, turn = 0;
    unsigned char *chunk_out = NULL;
    for (;;) {
        size_t size = 0, written = 0;
        bool finishing = splits && at >= in_len;
        size_t n = 0;
        if (splits && !finishing) {
            n = splits[turn++ % split_count];
            if (n > in_len - at)
                n = in_len - at;
        }
        mech_phase phase = !splits     ? MECH_PHASE_ONESHOT
                           : finishing ? MECH_PHASE_FINAL
                                       : MECH_PHASE_UPDATE;
        rv = row->ops->out_size(state, phase, splits ? n : in_len, &size);
        if (rv != CKR_OK)
            break;
        chunk_out = size ? malloc(size) : NULL;
        if (!splits)
            rv = row->ops->oneshot(state, in, in_len, chunk_out, &written);
        else if (finishing)
            rv = row->ops->final(state, chunk_out, &written);
        else
            rv = row->ops->update(state, in + at, n, chunk_out, &written);
        if (rv == CKR_OK) {
            assert_true(written <= size);
            out->data = realloc(out->data, out->len + written + 1);
            assert_non_null(out->data);
            if (written)
                memcpy(out->data + out->len, chunk_out, written);
            out->len += written;
        }
        free(chunk_out);
        chunk_out = NULL;
        if (rv != CKR_OK || !splits || finishing)
            break;
        at += n;
    }
    row->ops->free(state);
    if (rv != CKR_OK)
        buf_free(out);
    return rv;
}

/* Single-part and multi-part (odd splits, and one update) must all give
 * expected; returns nothing, asserts. */
static inline void check_cipher(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                                mech_op_kind kind, const buf *in, const buf *expected)
{
    buf out;
    assert_int_equal(run_cipher(row, mech, key, kind, in->data, in->len, NULL, 0, &out), CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
    if (!row->multipart)
        return;
    assert_int_equal(run_cipher(row, mech, key, kind, in->data, in->len, odd_splits,
                                ARRAY_SIZE(odd_splits), &out),
                     CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
    assert_int_equal(run_cipher(row, mech, key, kind, in->data, in->len, whole_split, 1, &out),
                     CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
}

/* An attribute's value in an attr_list, asserted present. */
static inline const CK_ATTRIBUTE *attr_of(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *attr = attr_list_find(list, type);
    assert_non_null(attr);
    return attr;
}

static inline CK_ULONG ulong_of(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG value = 0;
    assert_int_equal(attr_list_ulong(list, type, &value), CKR_OK);
    return value;
}

#endif
