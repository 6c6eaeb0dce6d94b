/*
 * rel_common.h — what the reliability tests share on top of the p11
 * fixture (tests/helpers/p11_fixture.h): failures that end the program
 * with a message (the tests fork, so cmocka's jumps are not used), time
 * budgets, attribute reads, searches, and a look at the store files
 * through tokens/tok.h (the audit chain) and SQLite.
 *
 * SOFTSE_RELIABILITY_SHORT=1 makes every test do a few rounds only (the
 * valgrind suite runs them that way).
 */
#ifndef SOFTSE_REL_COMMON_H
#define SOFTSE_REL_COMMON_H

#include "p11_fixture.h"

#include <stdarg.h>
#include <stdbool.h>

/* Prints "FAIL: ..." and exits 1 (from any process). */
void rel_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define rel_check(cond, ...)                                                                       \
    do {                                                                                           \
        if (!(cond))                                                                               \
            rel_fail(__VA_ARGS__);                                                                 \
    } while (0)
/* rel_rv(C_Foo(...), CKR_OK): names the call and both codes. */
#define rel_rv(call, expected)                                                                     \
    do {                                                                                           \
        CK_RV rel_rv_got_ = (call);                                                                \
        if (rel_rv_got_ != (CK_RV)(expected))                                                      \
            rel_fail("%s:%d: %s: expected %s, got %s", __FILE__, __LINE__, #call,                 \
                     fx_rv_name(expected), fx_rv_name(rel_rv_got_));                               \
    } while (0)

bool rel_short(void);
double rel_now(void); /* seconds, monotonic */
/* An unsigned number from the environment, or dflt. */
unsigned long rel_env_ulong(const char *name, unsigned long dflt);

/* The slot of the initialized token with this label, or (CK_SLOT_ID)-1. */
CK_SLOT_ID rel_slot_by_label(const char *label);
/* Initializes the blank token with label, SO PIN and user PIN. */
CK_SLOT_ID rel_new_token(const char *label, const char *so_pin, const char *user_pin);

/* An attribute's value into buf (size bytes): its length, or
 * CK_UNAVAILABLE_INFORMATION with *rv (may be NULL) set to the error. */
CK_ULONG rel_get(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE type, void *buf,
                 CK_ULONG size, CK_RV *rv);
/* Every object matching tmpl (all with count 0); *found is malloc'ed. */
CK_RV rel_find(CK_SESSION_HANDLE s, CK_ATTRIBUTE *tmpl, CK_ULONG count, CK_OBJECT_HANDLE **found,
               CK_ULONG *n);

/* tok_audit_verify on every token file of the store directory; the
 * number of files checked, or a failure.  The module must not be
 * initialized in this process meanwhile (it is not required: SQLite
 * takes care of concurrent readers), and the files must exist. */
size_t rel_verify_audit(const char *store_dir, unsigned long *records);

/* Deterministic bytes for a name: SHA-256(name ‖ counter) chained. */
void rel_bytes_for(const char *name, unsigned char *out, size_t len);

#endif
