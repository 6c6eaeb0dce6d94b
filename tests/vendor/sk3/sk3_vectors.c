/*
 * sk3_vectors — the card's and the C reference's side of
 * test_sk3_vectors.sh, which recomputes everything with the openssl
 * command line.  Prints name=hex lines.
 *
 *   sk3_vectors card SERVER          (SOFTSE_STORE set to an empty store)
 *       imports the 96-byte server key SERVER on a fresh token, provisions
 *       hosts i and j, prints i, j, the HOST_DERIVE values host_i, host_j,
 *       the SERVER answer alpha, beta, and one protocol run: ri, ci, rj,
 *       tau, rho, sigma_i, sigma_j (σ made extractable to be read), q4.
 *   sk3_vectors ref-server SERVER I J
 *       the C reference: host_i, host_j, alpha, beta.
 *   sk3_vectors ref-session KAPPA RI RJ
 *       the C reference: tau, rho, sigma.
 */
#include "sk3_fixture.h"

#include <string.h>

static void print_hex(const char *name, const unsigned char *bytes, size_t len)
{
    char hex[2 * 128 + 1];
    sk3_hex(bytes, len, hex);
    printf("%s=%s\n", name, hex);
}

static int check(CK_RV rv, const char *what)
{
    if (rv != CKR_OK) {
        fprintf(stderr, "sk3_vectors: %s: %s\n", what, fx_rv_name(rv));
        exit(1);
    }
    return 0;
}

static void read_host_derive(sk3_world *w, const unsigned char *id, const char *name)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SE_SK3_HOST_PARAMS params;
    memcpy(params.hostId, id, SK3_ID_LEN);
    CK_MECHANISM mech = {CKM_SE_SK3_HOST_DERIVE, &params, sizeof(params)};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE type = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_KEY_TYPE, &type, sizeof(type)},
        {CKA_EXTRACTABLE, &yes, sizeof(yes)},
        {CKA_SENSITIVE, &no, sizeof(no)},
    };
    CK_OBJECT_HANDLE key;
    unsigned char value[SK3_VALUE_LEN + 8];
    CK_ULONG len = sizeof(value);
    check(f->C_DeriveKey(w->session[SK3_S], &mech, w->server, tmpl, 4, &key), "HOST_DERIVE");
    check(sk3_value(w->session[SK3_S], key, value, &len), "reading the derived host key");
    if (len != SK3_VALUE_LEN)
        check(CKR_GENERAL_ERROR, "HOST_DERIVE length");
    print_hex(name, value, len);
}

static int card(const char *server_hex)
{
    unsigned char server[SK3_VALUE_LEN];
    if (!sk3_unhex(server_hex, server, sizeof(server)))
        check(CKR_ARGUMENTS_BAD, "SERVER must be 192 hex digits");
    CK_FUNCTION_LIST_PTR f = fx_functions();
    check(f->C_Initialize(NULL), "C_Initialize");
    sk3_world w;
    sk3_world_opts opts = {.server_value = server};
    check(sk3_world_make(&w, &opts), "making the tokens and keys");
    print_hex("i", sk3_host_i, SK3_ID_LEN);
    print_hex("j", sk3_host_j, SK3_ID_LEN);
    read_host_derive(&w, sk3_host_i, "host_i");
    read_host_derive(&w, sk3_host_j, "host_j");

    CK_SE_SK3_Q3_PARAMS p;
    memset(&p, 0, sizeof(p));
    memcpy(p.peerId, sk3_host_j, SK3_ID_LEN);
    CK_OBJECT_HANDLE sigma_i, sigma_j;
    check(sk3_q1(w.session[SK3_I], w.host[SK3_I], p.ri, p.ci), "query 1");
    check(sk3_server(w.session[SK3_S], w.server, sk3_host_i, sk3_host_j, p.alpha, p.beta),
          "server query");
    check(sk3_q2(w.session[SK3_J], w.host[SK3_J], sk3_host_i, p.ri, p.rj, p.tauJ,
                 SK3_SIGMA_READABLE, &sigma_j),
          "query 2");
    check(sk3_q3(w.session[SK3_I], w.host[SK3_I], &p, SK3_SIGMA_READABLE, &sigma_i), "query 3");
    CK_RV q4 = sk3_q4(w.session[SK3_J], w.host[SK3_J], sk3_host_i, p.ri, p.rj, p.rhoI, SK3_LEN);
    unsigned char si[SK3_LEN + 8], sj[SK3_LEN + 8];
    CK_ULONG si_len = sizeof(si), sj_len = sizeof(sj);
    check(sk3_value(w.session[SK3_I], sigma_i, si, &si_len), "reading sigma_i");
    check(sk3_value(w.session[SK3_J], sigma_j, sj, &sj_len), "reading sigma_j");

    print_hex("alpha", p.alpha, SK3_LEN);
    print_hex("beta", p.beta, SK3_LEN);
    print_hex("ri", p.ri, SK3_LEN);
    print_hex("ci", p.ci, SK3_LEN);
    print_hex("rj", p.rj, SK3_LEN);
    print_hex("tau", p.tauJ, SK3_LEN);
    print_hex("rho", p.rhoI, SK3_LEN);
    print_hex("sigma_i", si, si_len);
    print_hex("sigma_j", sj, sj_len);
    printf("q4=%s\n", fx_rv_name(q4));
    check(f->C_Finalize(NULL), "C_Finalize");
    return 0;
}

static int ref_server(char **argv)
{
    unsigned char server[SK3_VALUE_LEN], i[SK3_ID_LEN], j[SK3_ID_LEN];
    if (!sk3_unhex(argv[0], server, sizeof(server)) || !sk3_unhex(argv[1], i, sizeof(i)) ||
        !sk3_unhex(argv[2], j, sizeof(j)))
        check(CKR_ARGUMENTS_BAD, "ref-server SERVER(96) I(16) J(16) in hex");
    unsigned char host[SK3_VALUE_LEN], alpha[SK3_LEN], beta[SK3_LEN];
    sk3_ref_host(server, i, host);
    print_hex("host_i", host, sizeof(host));
    sk3_ref_host(server, j, host);
    print_hex("host_j", host, sizeof(host));
    sk3_ref_server(server, i, j, alpha, beta);
    print_hex("alpha", alpha, SK3_LEN);
    print_hex("beta", beta, SK3_LEN);
    return 0;
}

static int ref_session(char **argv)
{
    unsigned char kappa[SK3_LEN], ri[SK3_LEN], rj[SK3_LEN], out[SK3_LEN];
    if (!sk3_unhex(argv[0], kappa, SK3_LEN) || !sk3_unhex(argv[1], ri, SK3_LEN) ||
        !sk3_unhex(argv[2], rj, SK3_LEN))
        check(CKR_ARGUMENTS_BAD, "ref-session KAPPA RI RJ (32 bytes each) in hex");
    sk3_ref_session(kappa, ri, rj, "1", out);
    print_hex("tau", out, SK3_LEN);
    sk3_ref_session(kappa, ri, rj, "01", out);
    print_hex("rho", out, SK3_LEN);
    sk3_ref_session(kappa, ri, rj, "00", out);
    print_hex("sigma", out, SK3_LEN);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "card") == 0)
        return card(argv[2]);
    if (argc == 5 && strcmp(argv[1], "ref-server") == 0)
        return ref_server(argv + 2);
    if (argc == 5 && strcmp(argv[1], "ref-session") == 0)
        return ref_session(argv + 2);
    fprintf(stderr, "usage: sk3_vectors card SERVER | ref-server SERVER I J |"
                    " ref-session KAPPA RI RJ\n");
    return 2;
}
