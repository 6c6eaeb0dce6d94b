/*
 * rel_common.c — see rel_common.h.
 */
#include "rel_common.h"

#include "tok.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rel_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL (pid %d): ", (int)getpid());
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fflush(stderr);
    exit(1);
}

bool rel_short(void)
{
    const char *v = getenv("SOFTSE_RELIABILITY_SHORT");
    return v && *v && strcmp(v, "0") != 0;
}

double rel_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned long rel_env_ulong(const char *name, unsigned long dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 0);
    return *end ? dflt : n;
}

CK_SLOT_ID rel_slot_by_label(const char *label)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_UTF8CHAR padded[32];
    fx_pad(padded, sizeof(padded), label);
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    if (f->C_GetSlotList(CK_TRUE, slots, &count) != CKR_OK)
        return (CK_SLOT_ID)-1;
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        if (f->C_GetTokenInfo(slots[i], &info) == CKR_OK &&
            (info.flags & CKF_TOKEN_INITIALIZED) && memcmp(info.label, padded, 32) == 0)
            return slots[i];
    }
    return (CK_SLOT_ID)-1;
}

CK_SLOT_ID rel_new_token(const char *label, const char *so_pin, const char *user_pin)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    CK_SLOT_ID slots[64];
    CK_ULONG count = 64;
    rel_rv(f->C_GetSlotList(CK_TRUE, slots, &count), CKR_OK);
    for (CK_ULONG i = count; i-- > 0;) {
        CK_TOKEN_INFO info;
        rel_rv(f->C_GetTokenInfo(slots[i], &info), CKR_OK);
        if (info.flags & CKF_TOKEN_INITIALIZED)
            continue;
        rel_rv(fx_init_token(slots[i], so_pin, label), CKR_OK);
        rel_rv(fx_init_user_pin(slots[i], so_pin, user_pin), CKR_OK);
        return slots[i];
    }
    rel_fail("no blank token for \"%s\"", label);
}

CK_ULONG rel_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
                 CK_ULONG size, CK_RV *rv)
{
    CK_ATTRIBUTE a = {type, buf, size};
    CK_RV r = fx_functions()->C_GetAttributeValue(s, h, &a, 1);
    if (rv)
        *rv = r;
    return r == CKR_OK ? a.ulValueLen : CK_UNAVAILABLE_INFORMATION;
}

CK_RV rel_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE **found,
               CK_ULONG *n)
{
    CK_FUNCTION_LIST_PTR f = fx_functions();
    *found = NULL;
    *n = 0;
    CK_RV rv = f->C_FindObjectsInit(s, tmpl, count);
    if (rv != CKR_OK)
        return rv;
    size_t cap = 0;
    for (;;) {
        if (*n + 256 > cap) {
            cap = cap ? 2 * cap : 1024;
            *found = realloc(*found, cap * sizeof(**found));
            if (!*found)
                rel_fail("out of memory");
        }
        CK_ULONG got = 0;
        rv = f->C_FindObjects(s, *found + *n, 256, &got);
        if (rv != CKR_OK || got == 0)
            break;
        *n += got;
    }
    CK_RV final = f->C_FindObjectsFinal(s);
    return rv != CKR_OK ? rv : final;
}

static void count_record(void *ctx, unsigned long seq, const char *time, const char *event,
                         const char *detail)
{
    (void)seq, (void)time, (void)event, (void)detail;
    (*(unsigned long *)ctx)++;
}

size_t rel_verify_audit(const char *store_dir, unsigned long *records)
{
    char **paths = NULL;
    size_t count = 0;
    CK_RV rv = tok_scan(store_dir, &paths, &count);
    rel_check(rv == CKR_OK, "tok_scan %s: %s", store_dir, fx_rv_name(rv));
    unsigned long total = 0;
    for (size_t i = 0; i < count; i++) {
        tok *t = NULL;
        rv = tok_open(paths[i], &t);
        rel_check(rv == CKR_OK, "tok_open %s: %s", paths[i], fx_rv_name(rv));
        unsigned long broken = 0, n = 0;
        rv = tok_audit_verify(t, count_record, &n, &broken);
        rel_check(rv == CKR_OK, "audit chain of %s broken at record %lu: %s", paths[i], broken,
                  fx_rv_name(rv));
        total += n;
        tok_close(t);
    }
    tok_free_paths(paths, count);
    if (records)
        *records = total;
    return count;
}

void rel_bytes_for(const char *name, unsigned char *out, size_t len)
{
    unsigned char block[SHA256_DIGEST_LENGTH];
    for (size_t done = 0, counter = 0; done < len; counter++) {
        char input[256];
        int n = snprintf(input, sizeof(input), "%s/%zu", name, counter);
        SHA256((const unsigned char *)input, (size_t)n, block);
        size_t take = len - done < sizeof(block) ? len - done : sizeof(block);
        memcpy(out + done, block, take);
        done += take;
    }
}
