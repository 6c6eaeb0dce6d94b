/*
 * test_light.h — tests that repeat work for volume (thousands of objects,
 * dozens of key generations) do less of it when SOFTSE_TEST_LIGHT is set.
 *
 * tests/reliability/valgrind.sh sets it: under memcheck every operation
 * is ~30x slower and the thousandth repetition finds no memory error the
 * tenth did not.  The regular and sanitizer runs keep the full counts.
 */
#ifndef SOFTSE_TEST_LIGHT_H
#define SOFTSE_TEST_LIGHT_H

#include <stdbool.h>
#include <stdlib.h>

static inline bool test_light(void)
{
    const char *v = getenv("SOFTSE_TEST_LIGHT");
    return v && *v && *v != '0';
}

/* full normally, light under SOFTSE_TEST_LIGHT. */
static inline int test_count(int full, int light)
{
    return test_light() ? light : full;
}

#endif
