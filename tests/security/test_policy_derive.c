#include "p11_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <string.h>

#include <cmocka.h>

int main(void)
{
    const struct CMUnitTest tests[] = {};
    return cmocka_run_group_tests_name("policy-derive", tests, NULL, NULL);
}
