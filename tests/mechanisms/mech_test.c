/* mech_test.c — the row driver and fixtures of the mechanism tests (see mech_test.h). */
#include "mech_test.h"
#include "test_keys.h"

#include <openssl/asn1.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <string.h>

const unsigned char oid_p256[10] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const unsigned char oid_p384[7] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
const unsigned char oid_p521[7] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};
const unsigned char oid_ed25519[5] = {0x06, 0x03, 0x2b, 0x65, 0x70};
const unsigned char oid_secp256k1[7] = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a};
const unsigned char name_prime256v1[12] = {0x13, 0x0a, 'p', 'r', 'i', 'm',
                                           'e',  '2',  '5', '6', 'v', '1'};
const unsigned char name_edwards25519[14] = {0x13, 0x0c, 'e', 'd', 'w', 'a', 'r',
                                             'd',  's',  '2', '5', '5', '1', '9'};

/* ---- bytes ------------------------------------------------------------------ */

buf hex(const char *text)
{
    size_t n = strlen(text) / 2;
    buf b = {malloc(n ? n : 1), n};
    assert_non_null(b.data);
    assert_int_equal(from_hex(text, b.data), n);
    return b;
}

buf buf_random(size_t len)
{
    buf b = {malloc(len ? len : 1), len};
    assert_non_null(b.data);
    assert_int_equal(RAND_bytes(b.data, (int)len), 1);
    return b;
}

void buf_free(buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

size_t from_hex(const char *hex, unsigned char *out)
{
    size_t len = strlen(hex) / 2;
    for (size_t i = 0; i < len; i++) {
        unsigned int byte;
        assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
        out[i] = (unsigned char)byte;
    }
    return len;
}

/* ---- rows and the driver ------------------------------------------------------ */

const mech_row *row_of(const mech_table *table, CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->rows[i].type == type)
            return &table->rows[i];
    fail_msg("mechanism 0x%lx has no row", (unsigned long)type);
    return NULL;
}

const size_t odd_splits[4] = {1, 15, 17, 33};
const size_t whole_split[1] = {SIZE_MAX};

/* One call of the driver: out_size for the phase, a buffer of exactly
 * that size, the call, and what it wrote appended to out. */
static CK_RV call_phase(const mech_row *row, void *state, mech_phase phase, const unsigned char *in,
                        size_t in_len, buf *out)
{
    size_t size = 0, written = 0;
    CK_RV rv = row->ops->out_size(state, phase, in_len, &size);
    if (rv != CKR_OK)
        return rv;
    unsigned char *chunk_out = size ? malloc(size) : NULL;
    assert_true(size == 0 || chunk_out);
    if (phase == MECH_PHASE_ONESHOT)
        rv = row->ops->oneshot(state, in, in_len, chunk_out, &written);
    else if (phase == MECH_PHASE_FINAL)
        rv = row->ops->final(state, chunk_out, &written);
    else
        rv = row->ops->update(state, in, in_len, size ? chunk_out : NULL, &written);
    if (rv == CKR_OK) {
        assert_true(written <= size);
        out->data = realloc(out->data, out->len + written + 1);
        assert_non_null(out->data);
        if (written)
            memcpy(out->data + out->len, chunk_out, written);
        out->len += written;
    }
    free(chunk_out);
    return rv;
}

CK_RV run_row(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key, mech_op_kind kind,
              const void *in, size_t in_len, const size_t *splits, size_t split_count, buf *out)
{
    const unsigned char *data = in;
    void *state = NULL;
    assert_non_null(row->ops);
    out->data = NULL;
    out->len = 0;
    CK_RV rv = row->ops->init(mech, key, kind, NULL, &state);
    if (rv != CKR_OK)
        return rv;
    assert_non_null(state);
    if (!splits && row->ops->oneshot) {
        rv = call_phase(row, state, MECH_PHASE_ONESHOT, data, in_len, out);
    } else {
        size_t at = 0, turn = 0;
        if (!splits) { /* single-part with no oneshot: the core's update + final */
            rv = call_phase(row, state, MECH_PHASE_UPDATE, data, in_len, out);
            at = in_len;
        }
        while (rv == CKR_OK && at < in_len) {
            size_t n = splits[turn++ % split_count];
            n = n < in_len - at ? n : in_len - at;
            rv = call_phase(row, state, MECH_PHASE_UPDATE, data + at, n, out);
            at += n;
        }
        if (rv == CKR_OK)
            rv = call_phase(row, state, MECH_PHASE_FINAL, NULL, 0, out);
    }
    row->ops->free(state);
    if (rv != CKR_OK)
        buf_free(out);
    return rv;
}

CK_RV run_verify_row(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                     const void *in, size_t in_len, const size_t *splits, size_t split_count,
                     const unsigned char *sig, size_t sig_len)
{
    const unsigned char *data = in;
    void *state = NULL;
    assert_non_null(row->ops);
    CK_RV rv = row->ops->init(mech, key, MECH_VERIFY, NULL, &state);
    if (rv != CKR_OK)
        return rv;
    if (!splits && row->ops->verify_oneshot) {
        rv = row->ops->verify_oneshot(state, data, in_len, sig, sig_len);
    } else {
        size_t at = 0, turn = 0;
        while (rv == CKR_OK && at < in_len) {
            size_t n = splits ? splits[turn++ % split_count] : in_len;
            n = n < in_len - at ? n : in_len - at;
            size_t produced = 1;
            rv = row->ops->update(state, data + at, n, NULL, &produced);
            assert_true(rv != CKR_OK || produced == 0);
            at += n;
        }
        if (rv == CKR_OK)
            rv = row->ops->verify_final(state, sig, sig_len);
    }
    row->ops->free(state);
    return rv;
}

void check_cipher(const mech_row *row, const CK_MECHANISM *mech, const mech_key *key,
                  mech_op_kind kind, const buf *in, const buf *expected)
{
    buf out;
    assert_int_equal(run_row(row, mech, key, kind, in->data, in->len, NULL, 0, &out), CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
    if (!row->multipart)
        return;
    assert_int_equal(
        run_row(row, mech, key, kind, in->data, in->len, odd_splits, ARRAY_SIZE(odd_splits), &out),
        CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
    assert_int_equal(run_row(row, mech, key, kind, in->data, in->len, whole_split, 1, &out),
                     CKR_OK);
    assert_buf_equal(out, expected->data, expected->len);
    buf_free(&out);
}

static const size_t sign_split[] = {7};
static const size_t verify_split[] = {5};

CK_RV run_sign(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
               const void *in, size_t in_len, unsigned char *sig, size_t *sig_len)
{
    const mech_row *row = row_of(table, mech->mechanism);
    assert_true(row->multipart ? row->ops->oneshot == NULL : row->ops->oneshot != NULL);
    buf out;
    CK_RV rv =
        run_row(row, mech, key, MECH_SIGN, in, in_len, row->multipart ? sign_split : NULL, 1, &out);
    if (rv != CKR_OK)
        return rv;
    assert_true(out.len <= *sig_len);
    memcpy(sig, out.data, out.len);
    *sig_len = out.len;
    buf_free(&out);
    return rv;
}

CK_RV run_verify(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
                 const void *in, size_t in_len, const unsigned char *sig, size_t sig_len)
{
    const mech_row *row = row_of(table, mech->mechanism);
    return run_verify_row(row, mech, key, in, in_len, row->multipart ? verify_split : NULL, 1, sig,
                          sig_len);
}

/* ---- keys ------------------------------------------------------------------- */

mech_key secret_key(CK_KEY_TYPE type, const buf *value)
{
    mech_key key = {.cls = CKO_SECRET_KEY, .type = type};
    key.secret = value->data;
    key.secret_len = value->len;
    return key;
}

CK_RV generate_pair(CK_MECHANISM_TYPE mech, const attr_list *pub_tmpl, const attr_list *priv_tmpl,
                    attr_list *pub, attr_list *priv)
{
    const mech_row *row = row_of(&mech_table_keygen, mech);
    assert_non_null(row->generate_pair);
    CK_MECHANISM m = {mech, NULL, 0};
    attr_list_init(pub);
    attr_list_init(priv);
    CK_RV rv = row->generate_pair(&m, pub_tmpl, priv_tmpl, pub, priv);
    if (rv == CKR_OK) {
        assert_int_equal(attr_list_set_ulong(pub, CKA_CLASS, CKO_PUBLIC_KEY), CKR_OK);
        assert_int_equal(attr_list_set_ulong(priv, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
    }
    return rv;
}

void generate_rsa(CK_ULONG bits, attr_list *pub, attr_list *priv)
{
    /* Under valgrind a generation takes a minute: a fixed key's
     * attributes, as the key-pair row writes them (test_keys.h). */
    EVP_PKEY *fixed = test_fixed_rsa((unsigned)bits, 65537);
    if (fixed) {
        attr_list_init(pub);
        attr_list_init(priv);
        assert_int_equal(mech_public_attrs(fixed, pub), CKR_OK);
        assert_int_equal(mech_private_attrs(fixed, priv), CKR_OK);
        assert_int_equal(attr_list_set_ulong(pub, CKA_CLASS, CKO_PUBLIC_KEY), CKR_OK);
        assert_int_equal(attr_list_set_ulong(priv, CKA_CLASS, CKO_PRIVATE_KEY), CKR_OK);
        EVP_PKEY_free(fixed);
        return;
    }
    attr_list pub_tmpl, priv_tmpl;
    attr_list_init(&pub_tmpl);
    attr_list_init(&priv_tmpl);
    assert_int_equal(attr_list_set_ulong(&pub_tmpl, CKA_MODULUS_BITS, bits), CKR_OK);
    assert_int_equal(generate_pair(CKM_RSA_PKCS_KEY_PAIR_GEN, &pub_tmpl, &priv_tmpl, pub, priv),
                     CKR_OK);
    attr_list_free(&pub_tmpl);
}

void generate_ec(const unsigned char *params, size_t params_len, attr_list *pub, attr_list *priv)
{
    attr_list pub_tmpl, priv_tmpl;
    attr_list_init(&pub_tmpl);
    attr_list_init(&priv_tmpl);
    assert_int_equal(attr_list_set(&pub_tmpl, CKA_EC_PARAMS, params, params_len), CKR_OK);
    assert_int_equal(generate_pair(CKM_EC_KEY_PAIR_GEN, &pub_tmpl, &priv_tmpl, pub, priv), CKR_OK);
    attr_list_free(&pub_tmpl);
}

void generate_ed25519(attr_list *pub, attr_list *priv)
{
    attr_list empty;
    attr_list_init(&empty);
    assert_int_equal(generate_pair(CKM_EC_EDWARDS_KEY_PAIR_GEN, &empty, &empty, pub, priv), CKR_OK);
}

void secret_attrs(attr_list *out, CK_KEY_TYPE type, const void *value, size_t len)
{
    attr_list_init(out);
    assert_int_equal(attr_list_set_ulong(out, CKA_CLASS, CKO_SECRET_KEY), CKR_OK);
    assert_int_equal(attr_list_set_ulong(out, CKA_KEY_TYPE, type), CKR_OK);
    assert_int_equal(attr_list_set(out, CKA_VALUE, value, len), CKR_OK);
}

void load_key(const attr_list *attrs, mech_key *key)
{
    assert_int_equal(mech_key_from_attrs(attrs, key), CKR_OK);
}

static ASN1_OCTET_STRING *octet_string(const CK_ATTRIBUTE *attr)
{
    const unsigned char *p = attr->pValue;
    ASN1_OCTET_STRING *os = d2i_ASN1_OCTET_STRING(NULL, &p, (long)attr->ulValueLen);
    assert_non_null(os);
    assert_ptr_equal(p, (const unsigned char *)attr->pValue + attr->ulValueLen);
    return os;
}

static EVP_PKEY *from_params(const char *type, OSSL_PARAM_BLD *bld)
{
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    EVP_PKEY *pkey = NULL;
    assert_non_null(params);
    assert_non_null(ctx);
    assert_int_equal(EVP_PKEY_fromdata_init(ctx), 1);
    assert_int_equal(EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params), 1);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

EVP_PKEY *independent_public_key(const attr_list *pub)
{
    CK_KEY_TYPE type;
    memcpy(&type, attr_of(pub, CKA_KEY_TYPE)->pValue, sizeof(type));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    assert_non_null(bld);
    if (type == CKK_RSA) {
        const CK_ATTRIBUTE *n = attr_of(pub, CKA_MODULUS), *e = attr_of(pub, CKA_PUBLIC_EXPONENT);
        BIGNUM *bn_n = BN_bin2bn(n->pValue, (int)n->ulValueLen, NULL);
        BIGNUM *bn_e = BN_bin2bn(e->pValue, (int)e->ulValueLen, NULL);
        assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n));
        assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e));
        pkey = from_params("RSA", bld);
        BN_free(bn_n);
        BN_free(bn_e);
    } else if (type == CKK_EC) {
        const CK_ATTRIBUTE *params = attr_of(pub, CKA_EC_PARAMS);
        const unsigned char *p = params->pValue;
        ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params->ulValueLen);
        assert_non_null(oid);
        const char *group = OBJ_nid2sn(OBJ_obj2nid(oid));
        ASN1_OCTET_STRING *point = octet_string(attr_of(pub, CKA_EC_POINT));
        assert_int_equal(ASN1_STRING_get0_data(point)[0], 0x04); /* uncompressed */
        assert_true(OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0));
        assert_true(OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
                                                     ASN1_STRING_get0_data(point),
                                                     (size_t)ASN1_STRING_length(point)));
        pkey = from_params("EC", bld);
        ASN1_OBJECT_free(oid);
        ASN1_OCTET_STRING_free(point);
    } else {
        assert_int_equal(type, CKK_EC_EDWARDS);
        ASN1_OCTET_STRING *point = octet_string(attr_of(pub, CKA_EC_POINT));
        assert_int_equal(ASN1_STRING_length(point), 32);
        pkey =
            EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, ASN1_STRING_get0_data(point), 32);
        ASN1_OCTET_STRING_free(point);
    }
    OSSL_PARAM_BLD_free(bld);
    assert_non_null(pkey);

    const CK_ATTRIBUTE *spki = attr_list_find(pub, CKA_PUBLIC_KEY_INFO);
    if (spki) {
        const unsigned char *p = spki->pValue;
        EVP_PKEY *decoded = d2i_PUBKEY(NULL, &p, (long)spki->ulValueLen);
        assert_non_null(decoded);
        assert_int_equal(EVP_PKEY_eq(pkey, decoded), 1);
        EVP_PKEY_free(decoded);
    }
    return pkey;
}

/* ---- attributes ------------------------------------------------------------- */

const CK_ATTRIBUTE *attr_of(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *attr = attr_list_find(list, type);
    assert_non_null(attr);
    return attr;
}

CK_ULONG ulong_of(const attr_list *list, CK_ATTRIBUTE_TYPE type)
{
    CK_ULONG value = 0;
    assert_int_equal(attr_list_ulong(list, type, &value), CKR_OK);
    return value;
}
