/*
 * sk3_demo — session-key distribution with SK3 (Shoup–Rubin) between
 * processes, each host's card a softse token (docs/spec.md §6).
 *
 *   SOFTSE_STORE=/path/to/store sk3_demo [MODULE [MESSAGE]]
 *
 * MODULE defaults to $SOFTSE_MODULE.  On a store without them, the demo
 * first makes three tokens — the server S and the cards of hosts i and j
 * — generates the server key on S and provisions the host keys: S
 * derives K(i) ‖ K'(i) ‖ K''(i) (CKM_SE_SK3_HOST_DERIVE), wraps it with
 * CKM_AES_KEY_WRAP_KWP under a transport key, and card i unwraps it as a
 * CKK_SE_SK3_HOST key, which then makes its own secret K~(i) inside.
 *
 * Then three processes, each with its own C_Initialize, talk over pipes:
 *
 *   P_i: (r_i, c_i) = query 1                 r_i ─────────────▶ P_j
 *   P_i ── i ‖ j ──▶ S: (α, β) = server query ── α, β ──▶ P_i
 *   P_j: (r_j, τ_j, σ_j) = query 2            r_j, τ_j ◀─────── P_j
 *   P_i: (ρ_i, σ_i) = query 3                 ρ_i ─────────────▶ P_j
 *   P_j: query 4 accepts ρ_i
 *   P_i: AES-GCM(σ_i, MESSAGE) ──────────────────────────────▶ P_j
 *   P_j: decrypts with σ_j and prints MESSAGE
 *
 * Every card stays stateless: each query is one PKCS#11 call, and what
 * a process must remember between them (r_i, c_i…) it keeps itself.
 */
#include <dlfcn.h>
#include <pkcs11.h>
#include <softse/softse-pkcs11.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SO_PIN "12345678"
#define USER_PIN "123456"
#define KEY_LABEL "sk3-demo-key"
#define LEN SOFTSE_SK3_LEN
#define ID_LEN SOFTSE_SK3_ID_LEN

static const char *const token_label[3] = {"sk3-demo-server", "sk3-demo-host-i", "sk3-demo-host-j"};
enum { S, I, J };
static const unsigned char host_id[3][ID_LEN] = {
    {0}, {'h', 'o', 's', 't', '-', 'i'}, {'h', 'o', 's', 't', '-', 'j'}}; /* zero padded */

static CK_FUNCTION_LIST_PTR p11;
static const char *who = "demo";
static CK_BBOOL yes = CK_TRUE, no = CK_FALSE;

/* Any failure ends the process with a message naming the call. */
#define CHECK(call)                                                                                \
    do {                                                                                           \
        CK_RV rv_ = (call);                                                                        \
        if (rv_ != CKR_OK) {                                                                       \
            fprintf(stderr, "%s: %s failed: 0x%lx\n", who, #call, (unsigned long)rv_);             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static void put(int fd, const void *data, size_t len)
{
    if (write(fd, data, len) != (ssize_t)len) {
        perror(who);
        exit(1);
    }
}

static void get(int fd, void *data, size_t len)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = read(fd, (char *)data + done, len - done);
        if (n <= 0) {
            fprintf(stderr, "%s: the peer hung up\n", who);
            exit(1);
        }
        done += (size_t)n;
    }
}

static void show(const char *name, const unsigned char *bytes)
{
    printf("%s: %s = ", who, name);
    for (int n = 0; n < 8; n++)
        printf("%02x", bytes[n]);
    printf("…\n");
    fflush(stdout);
}

/* ---- tokens and keys ---------------------------------------------------------------- */

static void pad(CK_UTF8CHAR *field, const char *text)
{
    memset(field, ' ', 32);
    memcpy(field, text, strlen(text));
}

/* The slot of the token labelled label, or of a blank one (label NULL). */
static CK_SLOT_ID find_slot(const char *label, int *found)
{
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    CK_UTF8CHAR want[32];
    if (label)
        pad(want, label);
    CHECK(p11->C_GetSlotList(CK_TRUE, slots, &count));
    for (CK_ULONG n = 0; n < count; n++) {
        CK_TOKEN_INFO info;
        CHECK(p11->C_GetTokenInfo(slots[n], &info));
        bool initialized = info.flags & CKF_TOKEN_INITIALIZED;
        if (label ? initialized && memcmp(info.label, want, 32) == 0 : !initialized) {
            *found = 1;
            return slots[n];
        }
    }
    *found = 0;
    return 0;
}

static CK_SESSION_HANDLE user_session(CK_SLOT_ID slot)
{
    CK_SESSION_HANDLE s;
    CHECK(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    CK_RV rv = p11->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN));
    if (rv != CKR_USER_ALREADY_LOGGED_IN)
        CHECK(rv);
    return s;
}

static CK_SESSION_HANDLE open_token(int which)
{
    int found;
    CK_SLOT_ID slot = find_slot(token_label[which], &found);
    if (!found) {
        fprintf(stderr, "%s: no token \"%s\"\n", who, token_label[which]);
        exit(1);
    }
    return user_session(slot);
}

static CK_OBJECT_HANDLE find_key(CK_SESSION_HANDLE s)
{
    CK_ATTRIBUTE match = {CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL)};
    CK_OBJECT_HANDLE key;
    CK_ULONG count = 0;
    CHECK(p11->C_FindObjectsInit(s, &match, 1));
    CHECK(p11->C_FindObjects(s, &key, 1, &count));
    CHECK(p11->C_FindObjectsFinal(s));
    if (count != 1) {
        fprintf(stderr, "%s: no key \"%s\"\n", who, KEY_LABEL);
        exit(1);
    }
    return key;
}

static CK_SESSION_HANDLE new_token(int which)
{
    int found;
    CK_SLOT_ID slot = find_slot(NULL, &found);
    if (!found) {
        fprintf(stderr, "%s: no blank token left in the store\n", who);
        exit(1);
    }
    CK_UTF8CHAR label[32];
    pad(label, token_label[which]);
    CHECK(p11->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label));
    CK_SESSION_HANDLE s;
    CHECK(p11->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
    CHECK(p11->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN)));
    CHECK(p11->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)));
    CHECK(p11->C_Logout(s));
    CHECK(p11->C_CloseSession(s));
    return user_session(slot);
}

static CK_OBJECT_HANDLE transport_key(CK_SESSION_HANDLE s, const unsigned char *value)
{
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_AES;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},  {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_TOKEN, &no, sizeof(no)},    {CKA_WRAP, &yes, sizeof(yes)},
        {CKA_UNWRAP, &yes, sizeof(yes)}, {CKA_VALUE, (void *)value, 32},
    };
    CK_OBJECT_HANDLE key;
    CHECK(p11->C_CreateObject(s, tmpl, 6, &key));
    return key;
}

/* S derives host's key, wraps it under a transport key both tokens
 * hold, the card unwraps it as its SK3 host key. */
static void provision(CK_SESSION_HANDLE server_session, CK_OBJECT_HANDLE server,
                      CK_SESSION_HANDLE card, int host)
{
    unsigned char transport[32];
    CHECK(p11->C_GenerateRandom(server_session, transport, sizeof(transport)));
    CK_OBJECT_HANDLE on_server = transport_key(server_session, transport);
    CK_OBJECT_HANDLE on_card = transport_key(card, transport);

    CK_SE_SK3_HOST_PARAMS params;
    memcpy(params.hostId, host_id[host], ID_LEN);
    CK_MECHANISM derive = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE generic = CKK_GENERIC_SECRET, host_type = CKK_SE_SK3_HOST;
    CK_ATTRIBUTE derived_tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &generic, sizeof(generic)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
    };
    CK_OBJECT_HANDLE derived;
    CHECK(p11->C_DeriveKey(server_session, &derive, server, derived_tmpl, 3, &derived));
    CK_MECHANISM kwp = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    unsigned char wrapped[128];
    CK_ULONG wrapped_len = sizeof(wrapped);
    CHECK(p11->C_WrapKey(server_session, &kwp, on_server, derived, wrapped, &wrapped_len));

    CK_ATTRIBUTE host_tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &host_type, sizeof(host_type)},
        {CKA_SE_HOST_ID, (void *)host_id[host], ID_LEN},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL)},
    };
    CK_OBJECT_HANDLE host_key;
    CHECK(p11->C_UnwrapKey(card, &kwp, on_card, wrapped, wrapped_len, host_tmpl, 5, &host_key));
    CHECK(p11->C_DestroyObject(server_session, derived));
    CHECK(p11->C_DestroyObject(server_session, on_server));
    CHECK(p11->C_DestroyObject(card, on_card));
}

static void setup_store(void)
{
    int found;
    find_slot(token_label[S], &found);
    if (found)
        return; /* provisioned by an earlier run */
    CK_SESSION_HANDLE s = new_token(S), i = new_token(I), j = new_token(J);
    CK_MECHANISM gen = {CKM_SE_SK3_KEY_GEN, NULL, 0};
    CK_ATTRIBUTE tmpl[] = {
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_LABEL, KEY_LABEL, strlen(KEY_LABEL)},
    };
    CK_OBJECT_HANDLE server;
    CHECK(p11->C_GenerateKey(s, &gen, tmpl, 2, &server));
    provision(s, server, i, I);
    provision(s, server, j, J);
    printf("demo: tokens made, server key generated, hosts i and j provisioned\n");
}

/* ---- the three processes -------------------------------------------------------------- */

/* σ as an AES-256 key for AES-GCM. */
static CK_ATTRIBUTE sigma_tmpl[5];
static CK_OBJECT_CLASS secret_class = CKO_SECRET_KEY;
static CK_KEY_TYPE aes_type = CKK_AES;
static CK_ULONG sigma_len = LEN;

static void init_sigma_template(void)
{
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &secret_class, sizeof(secret_class)},
        {CKA_KEY_TYPE, &aes_type, sizeof(aes_type)},
        {CKA_VALUE_LEN, &sigma_len, sizeof(sigma_len)},
        {CKA_ENCRYPT, &yes, sizeof(yes)},
        {CKA_DECRYPT, &yes, sizeof(yes)},
    };
    memcpy(sigma_tmpl, tmpl, sizeof(tmpl));
}

static void gcm(CK_GCM_PARAMS_V3 *params, CK_MECHANISM *mech, unsigned char *iv)
{
    *params = (CK_GCM_PARAMS_V3){iv, 12, 96, NULL, 0, 128};
    *mech = (CK_MECHANISM){CKM_AES_GCM, params, sizeof(*params)};
}

static int server_main(int from_i, int to_i)
{
    who = "S";
    CHECK(p11->C_Initialize(NULL));
    CK_SESSION_HANDLE s = open_token(S);
    CK_OBJECT_HANDLE server = find_key(s);
    unsigned char ij[2 * ID_LEN], answer[2 * LEN];
    CK_ULONG len = sizeof(answer);
    get(from_i, ij, sizeof(ij));
    CK_MECHANISM mech = {CKM_SE_SK3_SERVER, NULL, 0};
    CHECK(p11->C_SignInit(s, &mech, server));
    CHECK(p11->C_Sign(s, ij, sizeof(ij), answer, &len));
    show("alpha", answer);
    show("beta", answer + LEN);
    put(to_i, answer, sizeof(answer));
    CHECK(p11->C_Finalize(NULL));
    return 0;
}

static int host_i_main(int to_s, int from_s, int to_j, int from_j, const char *message)
{
    who = "P_i";
    CHECK(p11->C_Initialize(NULL));
    CK_SESSION_HANDLE s = open_token(I);
    CK_OBJECT_HANDLE key = find_key(s);

    /* query 1 */
    CK_SE_SK3_Q3_PARAMS q3;
    memset(&q3, 0, sizeof(q3));
    memcpy(q3.peerId, host_id[J], ID_LEN);
    unsigned char ri_ci[2 * LEN];
    CK_ULONG len = sizeof(ri_ci);
    CK_MECHANISM q1 = {CKM_SE_SK3_Q1, NULL, 0};
    CHECK(p11->C_SignInit(s, &q1, key));
    CHECK(p11->C_Sign(s, NULL, 0, ri_ci, &len));
    memcpy(q3.ri, ri_ci, LEN);
    memcpy(q3.ci, ri_ci + LEN, LEN);
    show("query 1: r_i", q3.ri);
    put(to_j, q3.ri, LEN);

    /* the server's (α, β) for i ‖ j */
    unsigned char ij[2 * ID_LEN];
    memcpy(ij, host_id[I], ID_LEN);
    memcpy(ij + ID_LEN, host_id[J], ID_LEN);
    put(to_s, ij, sizeof(ij));
    get(from_s, q3.alpha, LEN);
    get(from_s, q3.beta, LEN);

    /* query 3 with P_j's (r_j, τ_j) */
    get(from_j, q3.rj, LEN);
    get(from_j, q3.tauJ, LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_Q3, &q3, sizeof(q3)};
    CK_OBJECT_HANDLE sigma;
    CHECK(p11->C_DeriveKey(s, &mech, key, sigma_tmpl, 5, &sigma));
    show("query 3 accepted: rho_i", q3.rhoI);
    put(to_j, q3.rhoI, LEN);
    char accepted = 0;
    get(from_j, &accepted, 1);
    if (accepted != 'y') {
        fprintf(stderr, "P_i: P_j did not accept rho_i\n");
        return 1;
    }

    /* a message under σ_i */
    unsigned char iv[12], sealed[1024];
    CK_ULONG sealed_len = sizeof(sealed), message_len = strlen(message);
    if (message_len > sizeof(sealed) - 16) {
        fprintf(stderr, "P_i: message too long\n");
        return 1;
    }
    CHECK(p11->C_GenerateRandom(s, iv, sizeof(iv)));
    CK_GCM_PARAMS_V3 params;
    gcm(&params, &mech, iv);
    CHECK(p11->C_EncryptInit(s, &mech, sigma));
    CHECK(p11->C_Encrypt(s, (CK_BYTE_PTR)message, message_len, sealed, &sealed_len));
    put(to_j, iv, sizeof(iv));
    put(to_j, &sealed_len, sizeof(sealed_len));
    put(to_j, sealed, sealed_len);
    printf("P_i: sent %lu bytes under sigma_i\n", (unsigned long)sealed_len);
    fflush(stdout);
    CHECK(p11->C_Finalize(NULL));
    return 0;
}

static int host_j_main(int to_i, int from_i)
{
    who = "P_j";
    CHECK(p11->C_Initialize(NULL));
    CK_SESSION_HANDLE s = open_token(J);
    CK_OBJECT_HANDLE key = find_key(s);

    /* query 2 on P_i's r_i */
    CK_SE_SK3_Q2_PARAMS q2;
    memset(&q2, 0, sizeof(q2));
    memcpy(q2.peerId, host_id[I], ID_LEN);
    get(from_i, q2.ri, LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_Q2, &q2, sizeof(q2)};
    CK_OBJECT_HANDLE sigma;
    CHECK(p11->C_DeriveKey(s, &mech, key, sigma_tmpl, 5, &sigma));
    show("query 2: r_j", q2.rj);
    put(to_i, q2.rj, LEN);
    put(to_i, q2.tauJ, LEN);

    /* query 4: does P_i hold the same key? */
    CK_SE_SK3_Q4_PARAMS q4;
    memcpy(q4.peerId, host_id[I], ID_LEN);
    memcpy(q4.ri, q2.ri, LEN);
    memcpy(q4.rj, q2.rj, LEN);
    unsigned char rho[LEN];
    get(from_i, rho, LEN);
    mech = (CK_MECHANISM){CKM_SE_SK3_Q4, &q4, sizeof(q4)};
    CHECK(p11->C_VerifyInit(s, &mech, key));
    CK_RV rv = p11->C_Verify(s, NULL, 0, rho, LEN);
    put(to_i, rv == CKR_OK ? "y" : "n", 1);
    CHECK(rv);
    printf("P_j: query 4 accepted rho_i: sigma_j = sigma_i\n");
    fflush(stdout);

    /* P_i's message under σ_j */
    unsigned char iv[12], sealed[1024], opened[1024];
    CK_ULONG sealed_len, opened_len = sizeof(opened) - 1;
    get(from_i, iv, sizeof(iv));
    get(from_i, &sealed_len, sizeof(sealed_len));
    if (sealed_len > sizeof(sealed)) {
        fprintf(stderr, "P_j: message too long\n");
        return 1;
    }
    get(from_i, sealed, sealed_len);
    CK_GCM_PARAMS_V3 params;
    gcm(&params, &mech, iv);
    CHECK(p11->C_DecryptInit(s, &mech, sigma));
    CHECK(p11->C_Decrypt(s, sealed, sealed_len, opened, &opened_len));
    opened[opened_len] = '\0';
    printf("P_j received: %s\n", (const char *)opened);
    fflush(stdout);
    CHECK(p11->C_Finalize(NULL));
    return 0;
}

static pid_t spawn(int (*body)(void *), void *arg)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(1);
    }
    if (pid == 0)
        _exit(body(arg));
    return pid;
}

/* The pipes, and trampolines for spawn.  Each process keeps only its
 * own ends, so that a peer's death is an end of file, not a hang. */
static int s_to_i[2], i_to_s[2], i_to_j[2], j_to_i[2];
static const char *demo_message;

static void keep_only(const int *keep, int count)
{
    int *all[] = {s_to_i, i_to_s, i_to_j, j_to_i};
    for (int p = 0; p < 4; p++) {
        for (int end = 0; end < 2; end++) {
            bool kept = false;
            for (int k = 0; k < count; k++)
                kept |= all[p][end] == keep[k];
            if (!kept)
                close(all[p][end]);
        }
    }
}

static int run_server(void *arg)
{
    (void)arg;
    keep_only((int[]){i_to_s[0], s_to_i[1]}, 2);
    return server_main(i_to_s[0], s_to_i[1]);
}

static int run_host_i(void *arg)
{
    (void)arg;
    keep_only((int[]){i_to_s[1], s_to_i[0], i_to_j[1], j_to_i[0]}, 4);
    return host_i_main(i_to_s[1], s_to_i[0], i_to_j[1], j_to_i[0], demo_message);
}

static int run_host_j(void *arg)
{
    (void)arg;
    keep_only((int[]){j_to_i[1], i_to_j[0]}, 2);
    return host_j_main(j_to_i[1], i_to_j[0]);
}

int main(int argc, char **argv)
{
    const char *module = argc > 1 ? argv[1] : getenv("SOFTSE_MODULE");
    demo_message = argc > 2 ? argv[2] : "hello from P_i, under a key no server ever saw";
    if (!module || !getenv("SOFTSE_STORE")) {
        fprintf(stderr, "usage: SOFTSE_STORE=DIR sk3_demo [MODULE [MESSAGE]]"
                        " (MODULE defaults to $SOFTSE_MODULE)\n");
        return 2;
    }
    void *handle = dlopen(module, RTLD_NOW | RTLD_LOCAL);
    CK_C_GetFunctionList get_list =
        handle ? (CK_C_GetFunctionList)dlsym(handle, "C_GetFunctionList") : NULL;
    if (!get_list) {
        fprintf(stderr, "demo: cannot load %s: %s\n", module, dlerror());
        return 1;
    }
    CHECK(get_list(&p11));
    init_sigma_template();

    CHECK(p11->C_Initialize(NULL));
    setup_store();
    CHECK(p11->C_Finalize(NULL)); /* each process initializes its own */

    if (pipe(s_to_i) || pipe(i_to_s) || pipe(i_to_j) || pipe(j_to_i)) {
        perror("pipe");
        return 1;
    }
    pid_t pids[3] = {spawn(run_server, NULL), spawn(run_host_i, NULL), spawn(run_host_j, NULL)};
    keep_only(NULL, 0);
    int failed = 0;
    for (int n = 0; n < 3; n++) {
        int status = 0;
        if (waitpid(pids[n], &status, 0) != pids[n] || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0)
            failed = 1;
    }
    printf("demo: %s\n", failed ? "FAILED" : "sigma_i = sigma_j, the message went through");
    return failed;
}
