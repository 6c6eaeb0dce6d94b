/*
 * test_keys.h — fixed RSA test keys for runs under SOFTSE_TEST_LIGHT.
 *
 * One RSA-2048 generation takes 50-100 s under valgrind; a test that only
 * needs *an* RSA key (to import, to encrypt to, to verify with) takes one
 * of these instead when SOFTSE_TEST_LIGHT is set (tests/helpers/
 * test_light.h).  Other runs generate fresh keys, so the moduli vary.
 * These keys protect nothing: they were generated for the tests.
 */
#ifndef SOFTSE_TEST_KEYS_H
#define SOFTSE_TEST_KEYS_H

#include "test_light.h"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static const char test_rsa2048_f4_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvwIBADANBgkqhkiG9w0BAQEFAASCBKkwggSlAgEAAoIBAQDXBogMGe9i+7Zo\n"
    "KXXWaCU7GCu6Vbt03lozXxPMaAAi0lDbDNV1+7fIBORyMjvLOynYom901AvkuggL\n"
    "iZeZnnjzCftcFTf8n0udFOcrG4dPVwJFxUb7zAaviC0frhUwnENAiJsGOKH6bdYD\n"
    "qJtA2ZF3bzNUwV2on/rf0A1bMj1R/AT7vPFn4OM705qFMMru2IrsNzNPjSsaLvGU\n"
    "LFk8hr33OIlJCcHP7ySdJKJ6NfS9c9CiW3Xog6ocp97rVD5abDGxwCIIA6gZ77Mx\n"
    "tEGVAulMi6Jq0lJY86df/0jEF+freK0sthhljHwyNoPOE+9sCd4HEQpwBok5MBfq\n"
    "6bRPb8cFAgMBAAECggEAH6NzYyxxv8O/vCXVk92xFLfiv0EcGv8YkJR9ykbHNlhx\n"
    "0zlZM0n9aa3mmzLu/2FOL/T+p1cIBPimdGQjbVQXAdPHK25n1YDu1EceGIataywn\n"
    "RnLXlfcYSL2lvhKURZnIf3daMBknJD0DD3jAl1MsB0HScLce+8/GTyZCwNdslGJW\n"
    "liL5hPy+92i6jQm5x8NLfDXjHuZLKnJ1jDIQYZ5/W7hmbrM7QsEA/Epj8oD9Q8y4\n"
    "+0GxkwCJxlU176dG6e1ifB/0J4DlBgoxakodeDn0VzWvUb16CplIANEwEhOoXNjc\n"
    "GzBXBxm9nskIuj2Gy31QX4iHy1Zhidg/1KFn+Bp8AQKBgQDzZaeveVSjsCdvFn3J\n"
    "nGnwIqPqh+OKoPufsBEjC4asPk7J3NMOe1IryWnnMa7QGXBvww0c9P04OkR9vNHw\n"
    "u8kS0xDCJ8veUBixgJwn/F+yWdF98exe00ra2Iee8meuU+8Qd7elh4MHHCK/+iEN\n"
    "4y1lIePiPZNxFKZHlxNI7gAdAQKBgQDiKMwuQs2pwlDffEjK3A25rPJsM0a1SzQC\n"
    "oOya5Tx3ScpkCuzRs5gRS9kYjGK5yqP4udsU5BJHHou5naimT2/zvicEkORVq5ii\n"
    "RC5hRB/yjokD3D7P+QA0aG2UBDB99y7mUpibE1MOHr2u+wv+hjroAGq9No9RX6pz\n"
    "GE+sdlE2BQKBgQDXhy/KqaTyYb05mHAAhHomw3Xk6znpew315OH352/0vCPmip12\n"
    "GGu2DF+z8wG6kpxGyzCkcKh+DtKxiO9avd6axb30P2s+zCxhmeItYkSXWQOyA/Ts\n"
    "Lyv8yHqnnD2FWBu8uFYtxOaY+CgpWWPFuWJsSGtT3nTeUIvBnxzbmq0NAQKBgQDC\n"
    "+G8GFrtc9VNpR6ktkcYXY1zfINl9Y+bjuT4hTyzwneHom26MXmrjxmLTgft+to7j\n"
    "175iZTjIrTHCBIQnVGZsWGskyZC/tp5wjZz6Z5OvNWgztsVD4CNoCvsk1vPDNLzu\n"
    "/Rfo4SECFEhsuKsfczMHXYynsIifm3zDmprdUGc0zQKBgQCqPpPpN+p2EKvKNxsu\n"
    "0XQP4eDqTO7aXp9lnPpcVvXXqY1AQHPe4ZeXogCb06Qi40xo/0UED6eb8iTD4UfT\n"
    "BjCZJZlELqradeV2FTdz7Wq7Yx+B7BHXHwa76N91mrDo8fHQk28UL6r+gFC99MrV\n"
    "eP2tbTybOGjNbEmXYMoQCIx+qg==\n"
    "-----END PRIVATE KEY-----\n";

static const char test_rsa2048_e3_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCxXmWwGuzEkLzL\n"
    "vOnNpqwfY5FUpzz12KEvBQzbCc/bMt/RwzgDX/V0AT2ZdTxvqCRgnpN6m7xwdKFY\n"
    "xK/hUx74YQz24MYyksg5/smHiNozSlUk7jUMHz59RdRCMJzbITRItYC+FL1UTa5i\n"
    "SBFJiuN5TOv1E65mWrV8OeSS3psS6PEZNY6g+RJJCRJM3GnDA4g7LY4tt8p7enWO\n"
    "UPrX9Vi0BzKlycLvELV8PNnLQRDb8FfSaROCbxRSSJwFFT/qSpNguWlHr604YTXI\n"
    "WcDhCIrZcDGNTDzWwFKf6Ccggv6Bt76qgCPs2gxSQ3VWV0pmVL9Qt3gzeowUWc8w\n"
    "/Bdv2edrAgEDAoIBAHY+7nVnSIMLKIfTRokZyBTtC43E006Qa3SuCJIGipIh6ovX\n"
    "eqzqo6KrfmZOKEpwGEBpt6cSfaBNwOXYdUDiFKWWCKSV2XcMhXv/MQUF5szcOMNJ\n"
    "eLK/fv4ujYF1vedreDB5AH64fjgzyZbatjEHQlDd8qNidEQ8eP177bc/EgyaLzbh\n"
    "4CiVdLvBHtVwz9GsOfZEQr9DaUnpI0YwWkvgSd09DcgR8v9IbjkQMEcX9szkB0eN\n"
    "xe4U0g+c3eSfqm/LNZAgQo3d6ysgDnf10et0++5CkKM0eYCSVobgwM3vJyxgDFl0\n"
    "x6cPu/ZXEd2dX3OU7iRuc9B6Hg/l71f8KhxNIgsCgYEA2clAzbQw98+5sG23QlGZ\n"
    "GYTYzbMtT4AO0QD90j7sOeT0+Fg13oUKreHFSypskTMPtfNdVpi6xtUcU++kBOIh\n"
    "bciu3KF45UxSkfmQ/l7MHnz/X99gZbak1IwB0i6149Bx7fDztX6eRZ6yu0qqTyN7\n"
    "o46XbXdSYjf0//WILdG+e0kCgYEA0H2h8K/n61+ts57777boF8TuXFulXQyN76QK\n"
    "oSc4sAM2paF49+sZYkTfRjYwjXWKlvO3FASVEmXA+z6Bu2B4VT/aKNFp5ytejhrY\n"
    "B6EM8ncM+LkdIN8//EmVM7zmX+61vjNdQvOkLMIOHz9A7BV5tot6XQNw/MSL6Dd5\n"
    "qnOnuRMCgYEAkTDV3nggpTUmdZ56LDZmEQM7M8zI36q0i1X+jCny0UNN+uV5PwNc\n"
    "c+vY3MbzC3dfzqI+ObsnLzi9jUptWJbA89sfPcD7Q4g3C/u1/undaaiqP+pAQ88Y\n"
    "jbKr4XR5Qor2nqCieP8ULmnMfNxxihenwl8Pnk+MQXqjVU5ayTZ+/NsCgYEAiv5r\n"
    "9cqanOpzzRSn9SSauoNJkufDk12z9RgHFholyqzPGRZQpUdmQYM/hCQgXk5cZKJ6\n"
    "DVhjYZkrUimr0kBQONU8GzZGmhzptBHlWmtd9voIpdC+FeoqqDEOIn3u6p8j1CI+\n"
    "LKJtcywJaiorSA5RJFz8PgJLUy2yms+mcaJv0LcCgYAoXu/Kfab54coUEF/XUbbT\n"
    "fbDpMpTB7WHT/9/fLVhxwpwhuEqwN3WByY2l0khYd/KEz+7099tBBiGVl44uBVZ2\n"
    "1xL+DFkYu5VjuUAV8p33FBjf3iQFz7rlyysSlrLwtgHmBSaOrXYFNwpYYu6qwXes\n"
    "sp6YU6T7CDF1ShoAT69sTw==\n"
    "-----END PRIVATE KEY-----\n";

/* A fixed key of that size and public exponent when SOFTSE_TEST_LIGHT is
 * set and one is here; NULL otherwise (the caller generates). */
static inline EVP_PKEY *test_fixed_rsa(unsigned bits, unsigned long e)
{
    const char *pem = NULL;
    if (!test_light() || bits != 2048)
        return NULL;
    if (e == 65537)
        pem = test_rsa2048_f4_pem;
    else if (e == 3)
        pem = test_rsa2048_e3_pem;
    if (!pem)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    return pkey;
}

/* An RSA key of bits with e = 65537: the fixed one when there is one
 * (test_fixed_rsa), else a fresh one. */
static inline EVP_PKEY *test_rsa_key(unsigned bits)
{
    EVP_PKEY *pkey = test_fixed_rsa(bits, 65537);
    return pkey ? pkey : EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

#endif
