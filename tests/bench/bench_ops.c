/*
 * bench_ops.c — the catalogue of operations softse-bench measures, and
 * what every row shares: the input data, the PIN-KDF cost, CK_RV names.
 *
 * The rows themselves live with their functions: the standard mechanisms
 * in bench_std.c, the vendor mechanisms (docs/spec.md §4-6) in bench_vendor.c.
 * The catalogue is the standard rows, then the vendor rows.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

unsigned char bench_data[BENCH_DATA_MAX];

void bench_data_fill(void)
{
    for (size_t i = 0; i < sizeof(bench_data); i++)
        bench_data[i] = (unsigned char)(i * 131 + 7);
}

unsigned long bench_pin_kdf_iterations(void)
{
    const char *env = getenv("SOFTSE_PIN_KDF_ITERATIONS");
    unsigned long n = env ? strtoul(env, NULL, 10) : 0;
#ifndef SOFTSE_DEFAULT_PIN_KDF_ITERATIONS /* meson option pin_kdf_iterations */
#define SOFTSE_DEFAULT_PIN_KDF_ITERATIONS 600000
#endif
    return n ? n : SOFTSE_DEFAULT_PIN_KDF_ITERATIONS;
}

/* ---- the catalogue ----------------------------------------------------------- */

const bench_op *bench_op_at(size_t i)
{
    if (i < bench_std_ops_count)
        return &bench_std_ops[i];
    i -= bench_std_ops_count;
    return i < bench_vendor_ops_count ? &bench_vendor_ops[i] : NULL;
}

/* ---- CK_RV names ------------------------------------------------------------- */

const char *bench_rv_name(CK_RV rv)
{
    static const struct {
        CK_RV rv;
        const char *name;
    } names[] = {
#define N(x) {x, #x}
        N(CKR_OK),
        N(CKR_HOST_MEMORY),
        N(CKR_SLOT_ID_INVALID),
        N(CKR_GENERAL_ERROR),
        N(CKR_FUNCTION_FAILED),
        N(CKR_ARGUMENTS_BAD),
        N(CKR_ATTRIBUTE_READ_ONLY),
        N(CKR_ATTRIBUTE_TYPE_INVALID),
        N(CKR_ATTRIBUTE_VALUE_INVALID),
        N(CKR_DATA_LEN_RANGE),
        N(CKR_DEVICE_ERROR),
        N(CKR_FUNCTION_NOT_SUPPORTED),
        N(CKR_KEY_HANDLE_INVALID),
        N(CKR_KEY_SIZE_RANGE),
        N(CKR_KEY_TYPE_INCONSISTENT),
        N(CKR_KEY_FUNCTION_NOT_PERMITTED),
        N(CKR_MECHANISM_INVALID),
        N(CKR_MECHANISM_PARAM_INVALID),
        N(CKR_OBJECT_HANDLE_INVALID),
        N(CKR_OPERATION_ACTIVE),
        N(CKR_OPERATION_NOT_INITIALIZED),
        N(CKR_PIN_INCORRECT),
        N(CKR_PIN_LEN_RANGE),
        N(CKR_SESSION_HANDLE_INVALID),
        N(CKR_SESSION_READ_ONLY),
        N(CKR_SIGNATURE_INVALID),
        N(CKR_TEMPLATE_INCOMPLETE),
        N(CKR_TEMPLATE_INCONSISTENT),
        N(CKR_TOKEN_NOT_RECOGNIZED),
        N(CKR_USER_ALREADY_LOGGED_IN),
        N(CKR_USER_NOT_LOGGED_IN),
        N(CKR_USER_TYPE_INVALID),
        N(CKR_BUFFER_TOO_SMALL),
        N(CKR_CRYPTOKI_NOT_INITIALIZED),
        N(CKR_CRYPTOKI_ALREADY_INITIALIZED),
        N(CKR_CURVE_NOT_SUPPORTED),
#undef N
    };
    static _Thread_local char hex[24];
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (names[i].rv == rv)
            return names[i].name;
    snprintf(hex, sizeof(hex), "CKR 0x%08lx", (unsigned long)rv);
    return hex;
}
