/*
 * sk3_fixture.c — see sk3_fixture.h.
 */
#include "sk3_fixture.h"
#include "hex.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

const unsigned char sk3_host_i[SK3_ID_LEN] = "alice-host-00001";
const unsigned char sk3_host_j[SK3_ID_LEN] = "bob-host-0000002";

const char *const sk3_token_label[3] = {"sk3-server", "sk3-host-i", "sk3-host-j"};

#define TRANSPORT_LABEL "sk3-transport"

static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* ---- the C reference ---------------------------------------------------------- */

void sk3_ref_f(const unsigned char *key, const void *data, size_t len, unsigned char *out)
{
    size_t written = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, SK3_LEN, data, len, out, SK3_LEN,
                   &written) ||
        written != SK3_LEN) {
        fprintf(stderr, "sk3_ref_f: HMAC-SHA-256 failed\n");
        abort();
    }
}

void sk3_ref_host(const unsigned char *server, const unsigned char *id, unsigned char *out)
{
    for (int part = 0; part < 3; part++)
        sk3_ref_f(server + part * SK3_LEN, id, SK3_ID_LEN, out + part * SK3_LEN);
}

void sk3_ref_kappa(const unsigned char *host_value, const unsigned char *peer, unsigned char *out)
{
    sk3_ref_f(host_value, peer, SK3_ID_LEN, out); /* K(j,i) = f_K(j)(i) */
}

void sk3_ref_server(const unsigned char *server, const unsigned char *i, const unsigned char *j,
                    unsigned char *alpha, unsigned char *beta)
{
    unsigned char host_i[SK3_VALUE_LEN], host_j[SK3_VALUE_LEN], kji[SK3_LEN], k1ij[SK3_LEN],
        k2ij[SK3_LEN];
    sk3_ref_host(server, i, host_i);
    sk3_ref_host(server, j, host_j);
    sk3_ref_f(host_j, i, SK3_ID_LEN, kji);                /* K(j,i) */
    sk3_ref_f(host_i + SK3_LEN, j, SK3_ID_LEN, k1ij);     /* K'(i,j) */
    sk3_ref_f(host_i + 2 * SK3_LEN, j, SK3_ID_LEN, k2ij); /* K''(i,j) */
    for (int n = 0; n < SK3_LEN; n++)
        alpha[n] = kji[n] ^ k1ij[n];
    sk3_ref_f(k2ij, alpha, SK3_LEN, beta);
}

void sk3_ref_session(const unsigned char *kappa, const unsigned char *ri, const unsigned char *rj,
                     const char *tag, unsigned char *out)
{
    unsigned char data[2 * SK3_LEN + 2];
    size_t tag_len = strlen(tag);
    memcpy(data, ri, SK3_LEN);
    memcpy(data + SK3_LEN, rj, SK3_LEN);
    memcpy(data + 2 * SK3_LEN, tag, tag_len);
    sk3_ref_f(kappa, data, 2 * SK3_LEN + tag_len, out);
}

/* ---- tokens --------------------------------------------------------------------------- */

static CK_RV blank_slot(CK_SLOT_ID *out)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &count);
    for (CK_ULONG n = count; rv == CKR_OK && n-- > 0;) {
        CK_TOKEN_INFO info;
        rv = f->C_GetTokenInfo(slots[n], &info);
        if (rv == CKR_OK && !(info.flags & CKF_TOKEN_INITIALIZED)) {
            *out = slots[n];
            return CKR_OK;
        }
    }
    return rv == CKR_OK ? CKR_SLOT_ID_INVALID : rv;
}

static CK_RV slot_by_label(const char *label, CK_SLOT_ID *out)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_UTF8CHAR padded[32];
    fx_pad(padded, sizeof(padded), label);
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    CK_RV rv = f->C_GetSlotList(CK_TRUE, slots, &count);
    for (CK_ULONG n = 0; rv == CKR_OK && n < count; n++) {
        CK_TOKEN_INFO info;
        rv = f->C_GetTokenInfo(slots[n], &info);
        if (rv == CKR_OK && (info.flags & CKF_TOKEN_INITIALIZED) &&
            memcmp(info.label, padded, sizeof(padded)) == 0) {
            *out = slots[n];
            return CKR_OK;
        }
    }
    return rv == CKR_OK ? CKR_SLOT_ID_INVALID : rv;
}

static CK_RV user_session(CK_SLOT_ID slot, CK_SESSION_HANDLE *session)
{
    CK_RV rv = fx_open(slot, true, session);
    if (rv == CKR_OK)
        rv = fx_login(*session, CKU_USER, FX_USER_PIN);
    return rv == CKR_USER_ALREADY_LOGGED_IN ? CKR_OK : rv;
}

static CK_RV find_one(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count,
                      CK_OBJECT_HANDLE *out)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_ULONG found = 0;
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, count);
    if (rv != CKR_OK)
        return rv;
    rv = f->C_FindObjects(s, out, 1, &found);
    CK_RV end = f->C_FindObjectsFinal(s);
    if (rv == CKR_OK)
        rv = end;
    return rv == CKR_OK && found != 1 ? CKR_OBJECT_HANDLE_INVALID : rv;
}

static CK_RV find_key(CK_SESSION_HANDLE s, CK_KEY_TYPE type, CK_OBJECT_HANDLE *out)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_LABEL, SK3_KEY_LABEL, strlen(SK3_KEY_LABEL)},
    };
    return find_one(s, tmpl, 2, out);
}

/* ---- the world ---------------------------------------------------------------------- */

static CK_RV make_server_key(sk3_world *w, const unsigned char *value)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_SE_SK3_SERVER;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, SK3_KEY_LABEL, strlen(SK3_KEY_LABEL)},
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_VALUE, (void *)value, SK3_VALUE_LEN},
    };
    if (value)
        return f->C_CreateObject(w->session[SK3_S], tmpl, 5, &w->server);
    CK_MECHANISM gen = {CKM_SE_SK3_KEY_GEN, NULL, 0};
    return f->C_GenerateKey(w->session[SK3_S], &gen, tmpl, 2, &w->server);
}

/* A wrapping key that only wraps and unwraps (docs/spec.md §7.2). */
static CK_RV transport_key(CK_SESSION_HANDLE s, const unsigned char value[32],
                           CK_OBJECT_HANDLE *out)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},         {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_WRAP, &yes, sizeof(yes)},          {CKA_UNWRAP, &yes, sizeof(yes)},
        {CKA_LABEL, TRANSPORT_LABEL, strlen(TRANSPORT_LABEL)}, {CKA_VALUE, (void *)value, 32},
    };
    return fx_functions()->C_CreateObject(s, tmpl, SK3_COUNT(tmpl), out);
}

CK_RV sk3_provision(sk3_world *w, int host, const unsigned char *id, const CK_ATTRIBUTE *extra,
                    CK_ULONG extra_count, CK_OBJECT_HANDLE *out)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    unsigned char transport[32], wrapped[256];
    CK_ULONG wrapped_len = sizeof(wrapped);
    CK_OBJECT_HANDLE on_server = CK_INVALID_HANDLE, on_host = CK_INVALID_HANDLE,
                     derived = CK_INVALID_HANDLE;
    CK_RV rv = RAND_bytes(transport, sizeof(transport)) == 1 ? CKR_OK : CKR_FUNCTION_FAILED;
    if (rv == CKR_OK)
        rv = transport_key(w->session[SK3_S], transport, &on_server);
    if (rv == CKR_OK)
        rv = transport_key(w->session[host], transport, &on_host);

    CK_SE_SK3_HOST_PARAMS params;
    memcpy(params.hostId, id, SK3_ID_LEN);
    CK_MECHANISM derive = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET, host_type = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE derived_tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
    };
    if (rv == CKR_OK)
        rv = f->C_DeriveKey(w->session[SK3_S], &derive, w->server, derived_tmpl, 3, &derived);
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    if (rv == CKR_OK)
        rv = f->C_WrapKey(w->session[SK3_S], &kwp, on_server, derived, wrapped, &wrapped_len);

    CK_ATTRIBUTE tmpl[16] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &host_type, sizeof(host_type)},
        {CKA_SE_HOST_ID, (void *)id, SK3_ID_LEN},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, SK3_KEY_LABEL, strlen(SK3_KEY_LABEL)},
    };
    CK_ULONG count = 5;
    for (CK_ULONG n = 0; n < extra_count && count < 16; n++)
        tmpl[count++] = extra[n];
    if (rv == CKR_OK)
        rv =
            f->C_UnwrapKey(w->session[host], &kwp, on_host, wrapped, wrapped_len, tmpl, count, out);
    if (derived != CK_INVALID_HANDLE)
        f->C_DestroyObject(w->session[SK3_S], derived);
    if (on_server != CK_INVALID_HANDLE)
        f->C_DestroyObject(w->session[SK3_S], on_server);
    if (on_host != CK_INVALID_HANDLE)
        f->C_DestroyObject(w->session[host], on_host);
    return rv;
}

CK_RV sk3_world_make(sk3_world *w, const sk3_world_opts *opts)
{
    memset(w, 0, sizeof(*w));
    CK_RV rv = CKR_OK;
    for (int n = 0; rv == CKR_OK && n < 3; n++) {
        rv = blank_slot(&w->slot[n]);
        if (rv == CKR_OK)
            rv = fx_init_token(w->slot[n], FX_SO_PIN, sk3_token_label[n]);
        if (rv == CKR_OK)
            rv = fx_init_user_pin(w->slot[n], FX_SO_PIN, FX_USER_PIN);
        if (rv == CKR_OK)
            rv = user_session(w->slot[n], &w->session[n]);
    }
    if (rv == CKR_OK)
        rv = make_server_key(w, opts->server_value);
    CK_ATTRIBUTE extra[2];
    CK_ULONG extra_count = 0;
    CK_ULONG limit = opts->failure_limit;
    if (opts->limit_given)
        extra[extra_count++] = (CK_ATTRIBUTE){CKA_SE_FAILURE_LIMIT, &limit, sizeof(limit)};
    if (opts->extractable_hosts)
        extra[extra_count++] = (CK_ATTRIBUTE){CKA_EXTRACTABLE, &yes, sizeof(yes)};
    if (rv == CKR_OK)
        rv = sk3_provision(w, SK3_I, sk3_host_i, extra, extra_count, &w->host[SK3_I]);
    if (rv == CKR_OK)
        rv = sk3_provision(w, SK3_J, sk3_host_j, extra, extra_count, &w->host[SK3_J]);
    return rv;
}

CK_RV sk3_world_open(sk3_world *w)
{
    memset(w, 0, sizeof(*w));
    CK_RV rv = CKR_OK;
    for (int n = 0; rv == CKR_OK && n < 3; n++) {
        rv = slot_by_label(sk3_token_label[n], &w->slot[n]);
        if (rv == CKR_OK)
            rv = user_session(w->slot[n], &w->session[n]);
    }
    if (rv == CKR_OK)
        rv = find_key(w->session[SK3_S], CKK_SE_SK3_SERVER, &w->server);
    if (rv == CKR_OK)
        rv = find_key(w->session[SK3_I], CKK_SE_SK3_HOST, &w->host[SK3_I]);
    if (rv == CKR_OK)
        rv = find_key(w->session[SK3_J], CKK_SE_SK3_HOST, &w->host[SK3_J]);
    return rv;
}

int sk3_setup_module(void **state)
{
    sk3_state *st = calloc(1, sizeof(*st));
    if (!st || fx_setup_module(&st->fx) != 0) {
        free(st);
        return -1;
    }
    *state = st;
    return 0;
}

int sk3_setup_world(void **state)
{
    if (sk3_setup_module(state) != 0)
        return -1;
    sk3_state *st = *state;
    sk3_world_opts opts = {0};
    CK_RV rv = sk3_world_make(&st->w, &opts);
    if (rv != CKR_OK) {
        fprintf(stderr, "setup: the SK3 tokens and keys: %s\n", fx_rv_name(rv));
        sk3_teardown(state);
        return -1;
    }
    return 0;
}

int sk3_teardown(void **state)
{
    sk3_state *st = *state;
    if (!st)
        return 0;
    fx_teardown(&st->fx);
    free(st);
    *state = NULL;
    return 0;
}

/* ---- queries ---------------------------------------------------------------------------- */

CK_RV sk3_q1(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *ri, unsigned char *ci)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM mech = {CKM_SE_SK3_Q1, NULL, 0};
    unsigned char out[2 * SK3_LEN];
    CK_ULONG len = sizeof(out);
    CK_RV rv = f->C_SignInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = f->C_Sign(s, NULL, 0, out, &len);
    if (rv == CKR_OK && len != sizeof(out))
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK) {
        memcpy(ri, out, SK3_LEN);
        memcpy(ci, out + SK3_LEN, SK3_LEN);
    }
    return rv;
}

CK_RV sk3_server(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *i,
                 const unsigned char *j, unsigned char *alpha, unsigned char *beta)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_MECHANISM mech = {CKM_SE_SK3_SERVER, NULL, 0};
    unsigned char in[2 * SK3_ID_LEN], out[2 * SK3_LEN];
    CK_ULONG len = sizeof(out);
    memcpy(in, i, SK3_ID_LEN);
    memcpy(in + SK3_ID_LEN, j, SK3_ID_LEN);
    CK_RV rv = f->C_SignInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = f->C_Sign(s, in, sizeof(in), out, &len);
    if (rv == CKR_OK && len != sizeof(out))
        rv = CKR_GENERAL_ERROR;
    if (rv == CKR_OK) {
        memcpy(alpha, out, SK3_LEN);
        memcpy(beta, out + SK3_LEN, SK3_LEN);
    }
    return rv;
}

/* Derives σ with the template of kind; destroys it when the caller keeps none. */
static CK_RV derive_sigma(CK_SESSION_HANDLE s, CK_MECHANISM *mech, CK_OBJECT_HANDLE key,
                          sk3_sigma kind, CK_OBJECT_HANDLE *sigma)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE aes = CKK_AES, generic = CKK_GENERIC_SECRET;
    CK_ULONG len = SK3_LEN;
    CK_ATTRIBUTE aes_tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},     {CKA_KEY_TYPE, &aes, sizeof(aes)},
        {CKA_VALUE_LEN, &len, sizeof(len)}, {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},   {CKA_TOKEN, &no, sizeof(no)},
    };
    CK_ATTRIBUTE readable_tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},       {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)}, {CKA_SENSITIVE, &no, sizeof(no)},
        {CKA_TOKEN, &no, sizeof(no)},
    };
    CK_OBJECT_HANDLE made = CK_INVALID_HANDLE;
    CK_RV rv = kind == SK3_SIGMA_AES ? f->C_DeriveKey(s, mech, key, aes_tmpl, 6, &made)
                                     : f->C_DeriveKey(s, mech, key, readable_tmpl, 5, &made);
    if (rv == CKR_OK && sigma)
        *sigma = made;
    else if (rv == CKR_OK)
        rv = f->C_DestroyObject(s, made);
    return rv;
}

CK_RV sk3_q2(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *peer,
             const unsigned char *ri, unsigned char *rj, unsigned char *tau, sk3_sigma kind,
             CK_OBJECT_HANDLE *sigma)
{
    CK_SE_SK3_Q2_PARAMS params;
    memset(&params, 0, sizeof(params));
    memcpy(params.peerId, peer, SK3_ID_LEN);
    memcpy(params.ri, ri, SK3_LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_Q2, &params, sizeof(params)};
    CK_RV rv = derive_sigma(s, &mech, key, kind, sigma);
    if (rv == CKR_OK) {
        memcpy(rj, params.rj, SK3_LEN);
        memcpy(tau, params.tauJ, SK3_LEN);
    }
    return rv;
}

CK_RV sk3_q3(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_SE_SK3_Q3_PARAMS *params, sk3_sigma kind,
             CK_OBJECT_HANDLE *sigma)
{
    CK_MECHANISM mech = {CKM_SE_SK3_Q3, params, sizeof(*params)};
    return derive_sigma(s, &mech, key, kind, sigma);
}

CK_RV sk3_q4(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *peer,
             const unsigned char *ri, const unsigned char *rj, const unsigned char *rho,
             CK_ULONG rho_len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SE_SK3_Q4_PARAMS params;
    memcpy(params.peerId, peer, SK3_ID_LEN);
    memcpy(params.ri, ri, SK3_LEN);
    memcpy(params.rj, rj, SK3_LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_Q4, &params, sizeof(params)};
    CK_RV rv = f->C_VerifyInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = f->C_Verify(s, NULL, 0, (CK_BYTE_PTR)rho, rho_len);
    return rv;
}

CK_RV sk3_round(sk3_world *w, sk3_sigma kind, CK_OBJECT_HANDLE *sigma_i, CK_OBJECT_HANDLE *sigma_j)
{
    CK_SE_SK3_Q3_PARAMS p;
    memset(&p, 0, sizeof(p));
    memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
    CK_RV rv = sk3_q1(w->session[SK3_I], w->host[SK3_I], p.ri, p.ci);
    if (rv == CKR_OK)
        rv = sk3_server(w->session[SK3_S], w->server, sk3_host_i, sk3_host_j, p.alpha, p.beta);
    if (rv == CKR_OK)
        rv = sk3_q2(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, p.rj, p.tauJ, kind,
                    sigma_j);
    if (rv == CKR_OK)
        rv = sk3_q3(w->session[SK3_I], w->host[SK3_I], &p, kind, sigma_i);
    if (rv == CKR_OK)
        rv = sk3_q4(w->session[SK3_J], w->host[SK3_J], sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN);
    return rv;
}

/* ---- reading ------------------------------------------------------------------------ */

CK_RV sk3_failure_count(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, CK_ULONG *count)
{
    CK_ATTRIBUTE attr = {CKA_SE_FAILURE_COUNT, count, sizeof(*count)};
    CK_RV rv = fx_functions()->C_GetAttributeValue(s, key, &attr, 1);
    return rv == CKR_OK && attr.ulValueLen != sizeof(*count) ? CKR_GENERAL_ERROR : rv;
}

CK_RV sk3_value(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, unsigned char *out, CK_ULONG *len)
{
    CK_ATTRIBUTE attr = {CKA_VALUE, out, *len};
    CK_RV rv = fx_functions()->C_GetAttributeValue(s, key, &attr, 1);
    *len = attr.ulValueLen;
    return rv;
}

CK_RV sk3_count_secret_keys(CK_SESSION_HANDLE s, CK_ULONG *count)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[] = {{CKA_CLASS, &cls, sizeof(cls)}};
    CK_OBJECT_HANDLE found[256];
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, 1);
    if (rv != CKR_OK)
        return rv;
    rv = f->C_FindObjects(s, found, 256, count);
    CK_RV end = f->C_FindObjectsFinal(s);
    return rv == CKR_OK ? end : rv;
}

static CK_GCM_PARAMS_V3 gcm_params(const unsigned char *iv)
{
    return (CK_GCM_PARAMS_V3){(CK_BYTE_PTR)iv, 12, 96, NULL, 0, 128};
}

CK_RV sk3_gcm_seal(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *iv,
                   const void *in, CK_ULONG in_len, unsigned char *out, CK_ULONG *out_len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_GCM_PARAMS_V3 params = gcm_params(iv);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    CK_RV rv = f->C_EncryptInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = f->C_Encrypt(s, (CK_BYTE_PTR)in, in_len, out, out_len);
    return rv;
}

CK_RV sk3_gcm_open(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, const unsigned char *iv,
                   const unsigned char *in, CK_ULONG in_len, unsigned char *out, CK_ULONG *out_len)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_GCM_PARAMS_V3 params = gcm_params(iv);
    CK_MECHANISM mech = {CKM_AES_GCM, &params, sizeof(params)};
    CK_RV rv = f->C_DecryptInit(s, &mech, key);
    if (rv == CKR_OK)
        rv = f->C_Decrypt(s, (CK_BYTE_PTR)in, in_len, out, out_len);
    return rv;
}

CK_RV sk3_set_lifecycle(CK_SLOT_ID slot, unsigned char state)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SESSION_HANDLE s;
    CK_RV rv = fx_open(slot, true, &s);
    if (rv != CKR_OK)
        return rv;
    f->C_Logout(s); /* the user's sessions of this process */
    rv = fx_login(s, CKU_SO, FX_SO_PIN);
    CK_OBJECT_CLASS cls = CKO_HW_FEATURE;
    CK_HW_FEATURE_TYPE feature = CKH_SE_LIFECYCLE;
    CK_ATTRIBUTE match[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_HW_FEATURE_TYPE, &feature, sizeof(feature)},
    };
    CK_OBJECT_HANDLE object;
    if (rv == CKR_OK)
        rv = find_one(s, match, 2, &object);
    CK_ATTRIBUTE value = {CKA_VALUE, &state, 1};
    if (rv == CKR_OK)
        rv = f->C_SetAttributeValue(s, object, &value, 1);
    f->C_Logout(s);
    CK_RV relogin = fx_login(s, CKU_USER, FX_USER_PIN);
    if (rv == CKR_OK && relogin != CKR_OK && relogin != CKR_USER_ALREADY_LOGGED_IN)
        rv = relogin;
    f->C_CloseSession(s);
    return rv;
}

/* ---- hex -------------------------------------------------------------------------------- */

void sk3_hex(const unsigned char *in, size_t len, char *out)
{
    se_hex_encode(in, len, out);
}

bool sk3_unhex(const char *in, unsigned char *out, size_t len)
{
    size_t got;
    return strlen(in) == 2 * len && se_hex_decode(in, 2 * len, out, len, &got);
}
