/* helpers.c — fixtures shared by the mechanism tests (see helpers.h). */
#include "helpers.h"
#include "hex.h"

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

const mech_row *find_row(const mech_table *table, CK_MECHANISM_TYPE type)
{
    for (size_t i = 0; i < table->count; i++)
        if (table->rows[i].type == type)
            return &table->rows[i];
    return NULL;
}

size_t from_hex(const char *hex, unsigned char *out)
{
    size_t len = 0; /* out holds strlen(hex) / 2 bytes: the callers' vectors */
    assert_true(se_hex_decode(hex, strlen(hex), out, strlen(hex) / 2, &len));
    return len;
}

CK_RV generate_pair(CK_MECHANISM_TYPE mech, const attr_list *pub_tmpl, const attr_list *priv_tmpl,
                    attr_list *pub, attr_list *priv)
{
    const mech_row *row = find_row(&mech_table_keygen, mech);
    assert_non_null(row);
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

static const CK_ATTRIBUTE *must_find(const attr_list *attrs, CK_ATTRIBUTE_TYPE type)
{
    const CK_ATTRIBUTE *attr = attr_list_find(attrs, type);
    assert_non_null(attr);
    return attr;
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
    memcpy(&type, must_find(pub, CKA_KEY_TYPE)->pValue, sizeof(type));
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    assert_non_null(bld);
    if (type == CKK_RSA) {
        const CK_ATTRIBUTE *n = must_find(pub, CKA_MODULUS),
                           *e = must_find(pub, CKA_PUBLIC_EXPONENT);
        BIGNUM *bn_n = BN_bin2bn(n->pValue, (int)n->ulValueLen, NULL);
        BIGNUM *bn_e = BN_bin2bn(e->pValue, (int)e->ulValueLen, NULL);
        assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n));
        assert_true(OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e));
        pkey = from_params("RSA", bld);
        BN_free(bn_n);
        BN_free(bn_e);
    } else if (type == CKK_EC) {
        const CK_ATTRIBUTE *params = must_find(pub, CKA_EC_PARAMS);
        const unsigned char *p = params->pValue;
        ASN1_OBJECT *oid = d2i_ASN1_OBJECT(NULL, &p, (long)params->ulValueLen);
        assert_non_null(oid);
        const char *group = OBJ_nid2sn(OBJ_obj2nid(oid));
        ASN1_OCTET_STRING *point = octet_string(must_find(pub, CKA_EC_POINT));
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
        ASN1_OCTET_STRING *point = octet_string(must_find(pub, CKA_EC_POINT));
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

CK_RV run_sign(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
               const void *in, size_t in_len, unsigned char *sig, size_t *sig_len)
{
    const mech_row *row = find_row(table, mech->mechanism);
    assert_non_null(row);
    assert_non_null(row->ops);
    void *state = NULL;
    CK_RV rv = row->ops->init(mech, key, MECH_SIGN, NULL, &state);
    if (rv != CKR_OK)
        return rv;
    size_t need = 0;
    if (row->ops->oneshot) {
        assert_false(row->multipart);
        assert_int_equal(row->ops->out_size(state, MECH_PHASE_ONESHOT, in_len, &need), CKR_OK);
        assert_true(need <= *sig_len);
        rv = row->ops->oneshot(state, in, in_len, sig, sig_len);
    } else {
        assert_true(row->multipart);
        const unsigned char *p = in;
        for (size_t left = in_len; rv == CKR_OK && left > 0;) {
            size_t chunk = left < 7 ? left : 7, produced = 1;
            assert_int_equal(row->ops->out_size(state, MECH_PHASE_UPDATE, chunk, &need), CKR_OK);
            assert_int_equal(need, 0);
            rv = row->ops->update(state, p, chunk, NULL, &produced);
            assert_int_equal(produced, 0);
            p += chunk;
            left -= chunk;
        }
        if (rv == CKR_OK) {
            assert_int_equal(row->ops->out_size(state, MECH_PHASE_FINAL, 0, &need), CKR_OK);
            assert_true(need <= *sig_len);
            rv = row->ops->final(state, sig, sig_len);
        }
    }
    if (rv == CKR_OK)
        assert_int_equal(*sig_len, need);
    row->ops->free(state);
    return rv;
}

CK_RV run_verify(const mech_table *table, const CK_MECHANISM *mech, const mech_key *key,
                 const void *in, size_t in_len, const unsigned char *sig, size_t sig_len)
{
    const mech_row *row = find_row(table, mech->mechanism);
    assert_non_null(row);
    void *state = NULL;
    CK_RV rv = row->ops->init(mech, key, MECH_VERIFY, NULL, &state);
    if (rv != CKR_OK)
        return rv;
    if (row->ops->verify_oneshot) {
        rv = row->ops->verify_oneshot(state, in, in_len, sig, sig_len);
    } else {
        const unsigned char *p = in;
        for (size_t left = in_len; rv == CKR_OK && left > 0;) {
            size_t chunk = left < 5 ? left : 5;
            rv = row->ops->update(state, p, chunk, NULL, NULL);
            p += chunk;
            left -= chunk;
        }
        if (rv == CKR_OK)
            rv = row->ops->verify_final(state, sig, sig_len);
    }
    row->ops->free(state);
    return rv;
}
