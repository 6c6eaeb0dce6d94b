/*
 * rot_tpm.c — the "tpm" root-of-trust provider (rot.h): the DRK is a
 * keyed-hash object of a TPM 2.0 and the counters are TPM NV counters,
 * reached through tpm2-tss ESAPI over the configured TCTI.
 */
#include "rot.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#define TPM_DEFAULT_TCTI "device:/dev/tpmrm0"

/* The template's unique field: with the owner seed it determines the
 * primary key (TPM 2.0 Part 1, "Primary Keys"), so the same TPM always
 * derives the same DRK and no key blob is stored anywhere. */
#define DRK_UNIQUE "softse-drk-v1"

/* softse's NV counters live in 0x01534500..0x015345FF ("SE" in the
 * middle), in the owner range of NV index handles. */
#define COUNTER_FIRST 0x01534500u
#define COUNTER_COUNT 0x100u
#define COUNTER_SIZE 8

/*
 * Counter attributes.  Read and increment authorize with the index's own
 * empty auth (AUTHREAD|AUTHWRITE) rather than with the owner's, so that
 * counters keep working when an administrator later sets an owner
 * password; only define and undefine need the owner (empty owner auth).
 * An empty auth protects nothing a local process with TPM access could
 * not do anyway: a counter only goes up whoever increments it, which is
 * the property the store relies on.  NO_DA: nobody's failed tries on
 * these indices may push the TPM into dictionary-attack lockout.
 */
#define COUNTER_ATTRIBUTES                                                                         \
    ((TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE |           \
     TPMA_NV_NO_DA)
#define COUNTER_ATTRIBUTES_MASK                                                                    \
    (TPMA_NV_TPM2_NT_MASK | TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA)

typedef struct tpm_state {
    pthread_mutex_t lock; /* one ESYS context is not thread-safe */
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    ESYS_TR drk;
    ESYS_TR session; /* encrypts the MACs on their way (session_start) */
    char *tcti_config; /* to connect again after a failure (tpm_ready) */
} tpm_state;

static CK_RV tpm_fail(const char *what, TSS2_RC rc)
{
    se_log(SE_LOG_ERROR, "root of trust tpm: %s failed: %s (0x%x)", what, Tss2_RC_Decode(rc),
           (unsigned)rc);
    return CKR_DEVICE_ERROR;
}

static CK_RV counter_fail(uint32_t id, const char *what, TSS2_RC rc)
{
    se_log(SE_LOG_ERROR, "root of trust tpm: %s of NV counter 0x%08x failed: %s (0x%x)", what, id,
           Tss2_RC_Decode(rc), (unsigned)rc);
    return CKR_DEVICE_ERROR;
}

/* The DRK's template: an HMAC-SHA256 signing key made inside the TPM
 * (sensitiveDataOrigin), bound to it (fixedTPM, fixedParent), usable with
 * its empty auth, never for decryption. */
static TPM2B_PUBLIC drk_template(void)
{
    TPM2B_PUBLIC pub = {
        .publicArea =
            {
                .type = TPM2_ALG_KEYEDHASH,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_SIGN_ENCRYPT,
                .parameters.keyedHashDetail.scheme =
                    {
                        .scheme = TPM2_ALG_HMAC,
                        .details.hmac.hashAlg = TPM2_ALG_SHA256,
                    },
            },
    };
    pub.publicArea.unique.keyedHash.size = sizeof(DRK_UNIQUE) - 1;
    memcpy(pub.publicArea.unique.keyedHash.buffer, DRK_UNIQUE, sizeof(DRK_UNIQUE) - 1);
    return pub;
}

static CK_RV drk_load(tpm_state *st)
{
    static const TPM2B_SENSITIVE_CREATE sensitive = {0};
    static const TPM2B_DATA outside = {0};
    static const TPML_PCR_SELECTION pcrs = {0};
    TPM2B_PUBLIC pub = drk_template();
    TSS2_RC rc =
        Esys_CreatePrimary(st->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &pub, &outside, &pcrs, &st->drk, NULL, NULL, NULL, NULL);
    return rc == TSS2_RC_SUCCESS ? CKR_OK : tpm_fail("CreatePrimary of the DRK", rc);
}

/* The salt key of the MAC session: an ECC P-256 storage primary. */
static TPM2B_PUBLIC salt_template(void)
{
    TPM2B_PUBLIC pub = {
        .publicArea =
            {
                .type = TPM2_ALG_ECC,
                .nameAlg = TPM2_ALG_SHA256,
                .objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_NODA,
                .parameters.eccDetail =
                    {
                        .symmetric = {.algorithm = TPM2_ALG_AES,
                                      .keyBits.aes = 128,
                                      .mode.aes = TPM2_ALG_CFB},
                        .scheme.scheme = TPM2_ALG_NULL,
                        .curveID = TPM2_ECC_NIST_P256,
                        .kdf.scheme = TPM2_ALG_NULL,
                    },
            },
    };
    return pub;
}

/*
 * The MACs are key material and would cross the TPM's bus (or the TCTI's
 * socket) in the clear under a password session.  A salted HMAC session
 * with parameter encryption (AES-128-CFB both ways) hides them, and the
 * data, from a passive observer; the salt key is used only to start it.
 * (An active interposer could answer with its own salt key: we do not
 * pin the salt key's name.)
 */
static CK_RV session_start(tpm_state *st)
{
    static const TPM2B_SENSITIVE_CREATE sensitive = {0};
    static const TPM2B_DATA outside = {0};
    static const TPML_PCR_SELECTION pcrs = {0};
    static const TPMT_SYM_DEF symmetric = {
        .algorithm = TPM2_ALG_AES, .keyBits.aes = 128, .mode.aes = TPM2_ALG_CFB};
    TPM2B_PUBLIC pub = salt_template();
    ESYS_TR salt = ESYS_TR_NONE;
    TSS2_RC rc =
        Esys_CreatePrimary(st->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                           &sensitive, &pub, &outside, &pcrs, &salt, NULL, NULL, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_fail("CreatePrimary of the session salt key", rc);
    rc = Esys_StartAuthSession(st->esys, salt, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_HMAC, &symmetric, TPM2_ALG_SHA256,
                               &st->session);
    Esys_FlushContext(st->esys, salt);
    if (rc != TSS2_RC_SUCCESS) {
        st->session = ESYS_TR_NONE;
        return tpm_fail("StartAuthSession", rc);
    }
    rc = Esys_TRSess_SetAttributes(
        st->esys, st->session,
        TPMA_SESSION_CONTINUESESSION | TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, 0xff);
    return rc == TSS2_RC_SUCCESS ? CKR_OK : tpm_fail("TRSess_SetAttributes", rc);
}

/* Drops the connection and what it loaded; the next tpm_ready connects
 * again.  An ESYS context that saw a transport error stays in an error
 * state, so a failure is never retried on the same context. */
static void tpm_reset(tpm_state *st)
{
    if (st->esys && st->drk != ESYS_TR_NONE)
        Esys_FlushContext(st->esys, st->drk);
    if (st->esys && st->session != ESYS_TR_NONE)
        Esys_FlushContext(st->esys, st->session);
    if (st->esys)
        Esys_Finalize(&st->esys);
    if (st->tcti)
        Tss2_TctiLdr_Finalize(&st->tcti);
    st->esys = NULL;
    st->tcti = NULL;
    st->drk = ESYS_TR_NONE;
    st->session = ESYS_TR_NONE;
}

static void tpm_close(void *state)
{
    tpm_state *st = state;
    if (!st)
        return;
    tpm_reset(st);
    pthread_mutex_destroy(&st->lock);
    free(st->tcti_config);
    free(st);
}

static CK_RV tpm_connect(tpm_state *st, const char *tcti)
{
    TSS2_RC rc = Tss2_TctiLdr_Initialize(tcti, &st->tcti);
    if (rc == TSS2_RC_SUCCESS)
        rc = Esys_Initialize(&st->esys, st->tcti, NULL);
    if (rc == TSS2_RC_SUCCESS)
        return CKR_OK;
    se_log(SE_LOG_ERROR, "root of trust tpm: cannot reach the TPM at \"%s\": %s (0x%x)", tcti,
           Tss2_RC_Decode(rc), (unsigned)rc);
    return CKR_DEVICE_ERROR;
}

/* Under the lock after a failure: a clean connection for the next call. */
static CK_RV tpm_failed(tpm_state *st, CK_RV rv)
{
    if (rv != CKR_OK)
        tpm_reset(st);
    return rv;
}

/* Under the lock: connected, the DRK loaded, the session started. */
static CK_RV tpm_ready(tpm_state *st)
{
    if (st->esys)
        return CKR_OK;
    CK_RV rv = tpm_connect(st, st->tcti_config);
    if (rv == CKR_OK)
        rv = drk_load(st);
    if (rv == CKR_OK)
        rv = session_start(st);
    return tpm_failed(st, rv);
}

static CK_RV tpm_open(const rot_config *cfg, void **state)
{
    const char *tcti = cfg->tcti ? cfg->tcti : TPM_DEFAULT_TCTI;
    tpm_state *st = calloc(1, sizeof(*st));
    CK_RV rv;
    if (!st)
        return CKR_HOST_MEMORY;
    st->drk = ESYS_TR_NONE;
    st->session = ESYS_TR_NONE;
    if (pthread_mutex_init(&st->lock, NULL) != 0) {
        free(st);
        return CKR_CANT_LOCK;
    }
    st->tcti_config = strdup(tcti);
    rv = st->tcti_config ? tpm_ready(st) : CKR_HOST_MEMORY;
    if (rv != CKR_OK) {
        tpm_close(st);
        return rv;
    }
    *state = st;
    return CKR_OK;
}



/* Data longer than one TPM buffer goes through an HMAC sequence. */
static TSS2_RC mac_sequence(tpm_state *st, const unsigned char *data, size_t len,
                            TPM2B_DIGEST **result)
{
    static const TPM2B_AUTH no_auth = {0};
    TPM2B_MAX_BUFFER chunk;
    ESYS_TR seq = ESYS_TR_NONE;
    TSS2_RC rc = Esys_HMAC_Start(st->esys, st->drk, st->session, ESYS_TR_NONE, ESYS_TR_NONE,
                                 &no_auth, TPM2_ALG_SHA256, &seq);
    while (rc == TSS2_RC_SUCCESS && len > sizeof(chunk.buffer)) {
        chunk.size = sizeof(chunk.buffer);
        memcpy(chunk.buffer, data, chunk.size);
        rc = Esys_SequenceUpdate(st->esys, seq, st->session, ESYS_TR_NONE, ESYS_TR_NONE, &chunk);
        data += chunk.size;
        len -= chunk.size;
    }
    if (rc == TSS2_RC_SUCCESS) {
        chunk.size = (UINT16)len;
        memcpy(chunk.buffer, data, len);
        /* Completing the sequence frees it in the TPM and in ESYS. */
        rc = Esys_SequenceComplete(st->esys, seq, st->session, ESYS_TR_NONE, ESYS_TR_NONE, &chunk,
                                   ESYS_TR_RH_NULL, result, NULL);
    } else if (seq != ESYS_TR_NONE) {
        Esys_FlushContext(st->esys, seq);
    }
    OPENSSL_cleanse(&chunk, sizeof(chunk));
    return rc;
}

static TSS2_RC mac_once(tpm_state *st, const void *data, size_t len, TPM2B_DIGEST **result)
{
    TPM2B_MAX_BUFFER buffer = {.size = (UINT16)len};
    TSS2_RC rc;
    if (len)
        memcpy(buffer.buffer, data, len);
    rc = Esys_HMAC(st->esys, st->drk, st->session, ESYS_TR_NONE, ESYS_TR_NONE, &buffer,
                   TPM2_ALG_SHA256, result);
    OPENSSL_cleanse(&buffer, sizeof(buffer));
    return rc;
}

static CK_RV tpm_mac(void *state, const void *data, size_t len, unsigned char out[ROT_MAC_LEN])
{
    tpm_state *st = state;
    TPM2B_DIGEST *result = NULL;
    TSS2_RC rc;
    CK_RV rv = CKR_OK;
    if (len && !data)
        return CKR_ARGUMENTS_BAD;
    pthread_mutex_lock(&st->lock);
    /* A MAC changes nothing in the TPM: after a failure it is tried once
     * more on a new connection. */
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = TSS2_ESYS_RC_BAD_SEQUENCE;
        if (tpm_ready(st) != CKR_OK)
            continue;
        if (len <= TPM2_MAX_DIGEST_BUFFER)
            rc = mac_once(st, data, len, &result);
        else
            rc = mac_sequence(st, data, len, &result);
        if (rc == TSS2_RC_SUCCESS)
            break;
        tpm_reset(st);
    }
    pthread_mutex_unlock(&st->lock);
    if (rc != TSS2_RC_SUCCESS)
        return tpm_fail("HMAC with the DRK", rc);
    if (result->size == ROT_MAC_LEN)
        memcpy(out, result->buffer, ROT_MAC_LEN);
    else
        rv = tpm_fail("HMAC with the DRK (output length)", TSS2_ESYS_RC_MALFORMED_RESPONSE);
    /* The MAC is key material for the callers. */
    OPENSSL_cleanse(result, sizeof(*result));
    Esys_Free(result);
    return rv;
}

/* Under the lock: an ESYS handle for counter id after checking that the
 * index is one of ours — a counter (which only goes up) with our
 * attributes, never an ordinary index someone could write back. */
static CK_RV counter_open(tpm_state *st, uint32_t id, ESYS_TR *tr)
{
    TPM2B_NV_PUBLIC *pub = NULL;
    TSS2_RC rc;
    bool ours;
    if (id < COUNTER_FIRST || id - COUNTER_FIRST >= COUNTER_COUNT) {
        se_log(SE_LOG_ERROR, "root of trust tpm: counter 0x%08x is outside softse's range", id);
        return CKR_DEVICE_ERROR;
    }
    rc = Esys_TR_FromTPMPublic(st->esys, id, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, tr);
    if (rc != TSS2_RC_SUCCESS)
        return counter_fail(id, "NV_ReadPublic (finding it)", rc);
    rc = Esys_NV_ReadPublic(st->esys, *tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        Esys_TR_Close(st->esys, tr);
        return counter_fail(id, "NV_ReadPublic", rc);
    }
    ours = (pub->nvPublic.attributes & COUNTER_ATTRIBUTES_MASK) == COUNTER_ATTRIBUTES &&
           pub->nvPublic.dataSize == COUNTER_SIZE;
    Esys_Free(pub);
    if (ours)
        return CKR_OK;
    Esys_TR_Close(st->esys, tr);
    se_log(SE_LOG_ERROR, "root of trust tpm: NV index 0x%08x is not a softse counter", id);
    return CKR_DEVICE_ERROR;
}

static CK_RV counter_value(tpm_state *st, uint32_t id, ESYS_TR tr, uint64_t *value)
{
    TPM2B_MAX_NV_BUFFER *data = NULL;
    TSS2_RC rc = Esys_NV_Read(st->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                              COUNTER_SIZE, 0, &data);
    uint64_t v = 0;
    if (rc != TSS2_RC_SUCCESS)
        return counter_fail(id, "NV_Read", rc);
    if (data->size != COUNTER_SIZE) {
        Esys_Free(data);
        return counter_fail(id, "NV_Read (length)", TSS2_ESYS_RC_MALFORMED_RESPONSE);
    }
    for (int i = 0; i < COUNTER_SIZE; i++) /* a TPM counter is big-endian */
        v = v << 8 | data->buffer[i];
    Esys_Free(data);
    *value = v;
    return CKR_OK;
}

static CK_RV counter_bump(tpm_state *st, uint32_t id, ESYS_TR tr, uint64_t *value)
{
    TSS2_RC rc = Esys_NV_Increment(st->esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS)
        return counter_fail(id, "NV_Increment", rc);
    return counter_value(st, id, tr, value);
}

/* Under the lock: undefines the counter, which releases tr in ESYS too;
 * on failure tr is released here. */
static TSS2_RC counter_undefine(tpm_state *st, ESYS_TR *tr)
{
    TSS2_RC rc = Esys_NV_UndefineSpace(st->esys, ESYS_TR_RH_OWNER, *tr, ESYS_TR_PASSWORD,
                                       ESYS_TR_NONE, ESYS_TR_NONE);
    if (rc != TSS2_RC_SUCCESS)
        Esys_TR_Close(st->esys, tr);
    *tr = ESYS_TR_NONE;
    return rc;
}

/* Under the lock: which indices of our range are defined already. */
static CK_RV counters_defined(tpm_state *st, bool used[COUNTER_COUNT])
{
    TPMS_CAPABILITY_DATA *cap = NULL;
    TPMI_YES_NO more = TPM2_YES;
    uint32_t from = COUNTER_FIRST;
    memset(used, 0, COUNTER_COUNT * sizeof(bool));
    while (more == TPM2_YES && from < COUNTER_FIRST + COUNTER_COUNT) {
        TPML_HANDLE *list;
        TSS2_RC rc = Esys_GetCapability(st->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                        TPM2_CAP_HANDLES, from, COUNTER_COUNT, &more, &cap);
        if (rc != TSS2_RC_SUCCESS)
            return tpm_fail("GetCapability of the NV indices", rc);
        list = &cap->data.handles;
        if (list->count == 0)
            more = TPM2_NO;
        for (uint32_t i = 0; i < list->count; i++) {
            if (list->handle[i] - COUNTER_FIRST < COUNTER_COUNT)
                used[list->handle[i] - COUNTER_FIRST] = true;
            from = list->handle[i] + 1;
        }
        Esys_Free(cap);
    }
    return CKR_OK;
}

static TSS2_RC counter_define(tpm_state *st, uint32_t id, ESYS_TR *tr)
{
    static const TPM2B_AUTH no_auth = {0};
    TPM2B_NV_PUBLIC pub = {
        .nvPublic =
            {
                .nvIndex = id,
                .nameAlg = TPM2_ALG_SHA256,
                .attributes = COUNTER_ATTRIBUTES,
                .dataSize = COUNTER_SIZE,
            },
    };
    return Esys_NV_DefineSpace(st->esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &no_auth, &pub, tr);
}

/* Under the lock: defines the first free index of the range.  Another
 * process may take the same index between the listing and the define;
 * the TPM then says NV_DEFINED and the next free one is tried. */
static CK_RV counter_allocate(tpm_state *st, uint32_t *id, ESYS_TR *tr)
{
    bool used[COUNTER_COUNT];
    CK_RV rv = counters_defined(st, used);
    if (rv != CKR_OK)
        return rv;
    for (uint32_t i = 0; i < COUNTER_COUNT; i++) {
        TSS2_RC rc;
        if (used[i])
            continue;
        rc = counter_define(st, COUNTER_FIRST + i, tr);
        if (rc == TPM2_RC_NV_DEFINED)
            continue;
        if (rc != TSS2_RC_SUCCESS)
            return tpm_fail("NV_DefineSpace of a counter", rc);
        *id = COUNTER_FIRST + i;
        return CKR_OK;
    }
    se_log(SE_LOG_ERROR, "root of trust tpm: all %u NV counters of softse's range are in use",
           COUNTER_COUNT);
    return CKR_DEVICE_ERROR;
}

/* A TPM counter cannot be read before its first increment, which sets it
 * to the highest value any counter of this TPM has had. */
static CK_RV tpm_counter_new(void *state, uint32_t *id, uint64_t *value)
{
    tpm_state *st = state;
    ESYS_TR tr = ESYS_TR_NONE;
    uint32_t index = 0;
    CK_RV rv;
    pthread_mutex_lock(&st->lock);
    rv = tpm_ready(st);
    if (rv == CKR_OK)
        rv = counter_allocate(st, &index, &tr);
    if (rv == CKR_OK) {
        rv = counter_bump(st, index, tr, value);
        if (rv != CKR_OK) /* not handed out: do not leave it defined */
            counter_undefine(st, &tr);
        else
            Esys_TR_Close(st->esys, &tr);
    }
    tpm_failed(st, rv);
    pthread_mutex_unlock(&st->lock);
    if (rv == CKR_OK)
        *id = index;
    return rv;
}

static CK_RV tpm_counter_read(void *state, uint32_t id, uint64_t *value)
{
    tpm_state *st = state;
    ESYS_TR tr = ESYS_TR_NONE;
    CK_RV rv;
    pthread_mutex_lock(&st->lock);
    /* A read changes nothing: tried once more on a new connection. */
    for (int attempt = 0; attempt < 2; attempt++) {
        rv = tpm_ready(st);
        if (rv == CKR_OK)
            rv = counter_open(st, id, &tr);
        if (rv == CKR_OK) {
            rv = counter_value(st, id, tr, value);
            Esys_TR_Close(st->esys, &tr);
        }
        if (tpm_failed(st, rv) == CKR_OK)
            break;
    }
    pthread_mutex_unlock(&st->lock);
    return rv;
}

static CK_RV tpm_counter_increment(void *state, uint32_t id, uint64_t *value)
{
    tpm_state *st = state;
    ESYS_TR tr = ESYS_TR_NONE;
    CK_RV rv;
    pthread_mutex_lock(&st->lock);
    /* Not retried: an increment whose answer was lost may have happened,
     * and a second would overshoot (the caller reads and raises again). */
    rv = tpm_ready(st);
    if (rv == CKR_OK)
        rv = counter_open(st, id, &tr);
    if (rv == CKR_OK) {
        rv = counter_bump(st, id, tr, value);
        Esys_TR_Close(st->esys, &tr);
    }
    tpm_failed(st, rv);
    pthread_mutex_unlock(&st->lock);
    return rv;
}

static CK_RV tpm_counter_free(void *state, uint32_t id)
{
    tpm_state *st = state;
    ESYS_TR tr = ESYS_TR_NONE;
    CK_RV rv;
    pthread_mutex_lock(&st->lock);
    rv = tpm_ready(st);
    if (rv == CKR_OK)
        rv = counter_open(st, id, &tr);
    if (rv == CKR_OK) {
        TSS2_RC rc = counter_undefine(st, &tr);
        if (rc != TSS2_RC_SUCCESS)
            rv = counter_fail(id, "NV_UndefineSpace", rc);
    }
    tpm_failed(st, rv);
    pthread_mutex_unlock(&st->lock);
    return rv;
}

const rot_ops rot_tpm_ops = {
    .name = "tpm",
    .open = tpm_open,
    .close = tpm_close,
    .mac = tpm_mac,
    .counter_new = tpm_counter_new,
    .counter_read = tpm_counter_read,
    .counter_increment = tpm_counter_increment,
    .counter_free = tpm_counter_free,
};
