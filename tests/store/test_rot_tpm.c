/* rot_tpm.c: the "tpm" root-of-trust provider against a software TPM. */
#include "rot.h"
#include "swtpm_fixture.h"
#include "test_light.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
/* cmocka.h needs the three above first. */
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

static swtpm_fixture tpm; /* one TPM for the group, started in group_setup */

static int group_setup(void **state)
{
    (void)state;
    if (!swtpm_available())
        return 0; /* each test skips */
    return swtpm_start(&tpm) ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    swtpm_stop(&tpm);
    return 0;
}

static void need_swtpm(void)
{
    if (!tpm.pid) {
        print_message("swtpm is not installed (package swtpm): skipped\n");
        skip();
    }
}

static void *open_at(const char *tcti)
{
    rot_config cfg = {.provider = "tpm", .tcti = tcti};
    void *st = NULL;
    assert_int_equal(rot_tpm_ops.open(&cfg, &st), CKR_OK);
    assert_non_null(st);
    return st;
}

static void mac_of(void *st, const char *text, unsigned char out[ROT_MAC_LEN])
{
    assert_int_equal(rot_tpm_ops.mac(st, text, strlen(text), out), CKR_OK);
}

static void mac_is_deterministic(void **state)
{
    unsigned char a[ROT_MAC_LEN], again[ROT_MAC_LEN], b[ROT_MAC_LEN], empty[ROT_MAC_LEN];
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    mac_of(st, "softse drk id v1", a);
    mac_of(st, "softse drk id v1", again);
    assert_memory_equal(a, again, ROT_MAC_LEN);
    mac_of(st, "softse drk id v2", b);
    assert_memory_not_equal(a, b, ROT_MAC_LEN);
    assert_int_equal(rot_tpm_ops.mac(st, NULL, 0, empty), CKR_OK);
    assert_memory_not_equal(a, empty, ROT_MAC_LEN);
    rot_tpm_ops.close(st);

    /* The DRK is a primary key: the same TPM derives it again. */
    st = open_at(tpm.tcti);
    mac_of(st, "softse drk id v1", again);
    assert_memory_equal(a, again, ROT_MAC_LEN);
    rot_tpm_ops.close(st);
}

/* More than one TPM buffer (1024 bytes) goes through an HMAC sequence. */
static void long_data_uses_a_sequence(void **state)
{
    static unsigned char data[3000];
    unsigned char whole[ROT_MAC_LEN], again[ROT_MAC_LEN], part[ROT_MAC_LEN];
    void *st;
    (void)state;
    need_swtpm();
    for (size_t i = 0; i < sizeof(data); i++)
        data[i] = (unsigned char)(i * 7);
    st = open_at(tpm.tcti);
    assert_int_equal(rot_tpm_ops.mac(st, data, sizeof(data), whole), CKR_OK);
    assert_int_equal(rot_tpm_ops.mac(st, data, sizeof(data), again), CKR_OK);
    assert_memory_equal(whole, again, ROT_MAC_LEN);
    assert_int_equal(rot_tpm_ops.mac(st, data, 1024, part), CKR_OK);
    assert_memory_not_equal(whole, part, ROT_MAC_LEN);
    assert_int_equal(rot_tpm_ops.mac(st, data, 2048, again), CKR_OK); /* exactly two buffers */
    assert_memory_not_equal(whole, again, ROT_MAC_LEN);
    rot_tpm_ops.close(st);
}

static void another_tpm_another_drk(void **state)
{
    swtpm_fixture other = {0};
    unsigned char a[ROT_MAC_LEN], b[ROT_MAC_LEN];
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    mac_of(st, "softse drk id v1", a);
    rot_tpm_ops.close(st);
    assert_true(swtpm_start(&other));
    st = open_at(other.tcti);
    mac_of(st, "softse drk id v1", b);
    rot_tpm_ops.close(st);
    swtpm_stop(&other);
    assert_memory_not_equal(a, b, ROT_MAC_LEN);
}

static void counters_count_up(void **state)
{
    uint32_t first, second;
    uint64_t v1, v2, v;
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    assert_int_equal(rot_tpm_ops.counter_new(st, &first, &v1), CKR_OK);
    assert_int_equal(rot_tpm_ops.counter_new(st, &second, &v2), CKR_OK);
    assert_int_not_equal(first, second);
    assert_int_equal(first >> 8, 0x015345);
    assert_int_equal(second >> 8, 0x015345);

    assert_int_equal(rot_tpm_ops.counter_increment(st, first, &v), CKR_OK);
    assert_int_equal(v, v1 + 1);
    assert_int_equal(rot_tpm_ops.counter_read(st, first, &v), CKR_OK);
    assert_int_equal(v, v1 + 1);
    assert_int_equal(rot_tpm_ops.counter_read(st, second, &v), CKR_OK);
    assert_int_equal(v, v2);
    rot_tpm_ops.close(st);

    st = open_at(tpm.tcti);
    assert_int_equal(rot_tpm_ops.counter_read(st, first, &v), CKR_OK);
    assert_int_equal(v, v1 + 1);
    assert_int_equal(rot_tpm_ops.counter_free(st, first), CKR_OK);
    assert_int_equal(rot_tpm_ops.counter_read(st, first, &v), CKR_DEVICE_ERROR);
    assert_int_equal(rot_tpm_ops.counter_increment(st, first, &v), CKR_DEVICE_ERROR);
    assert_int_equal(rot_tpm_ops.counter_free(st, first), CKR_DEVICE_ERROR);
    assert_int_equal(rot_tpm_ops.counter_free(st, second), CKR_OK);
    /* Ids outside softse's range are never touched. */
    assert_int_equal(rot_tpm_ops.counter_read(st, 0x01000000, &v), CKR_DEVICE_ERROR);
    rot_tpm_ops.close(st);
}

/* Power off and on: the seed and the NV counters are kept by the TPM. */
static void state_survives_a_power_cycle(void **state)
{
    unsigned char before[ROT_MAC_LEN], after[ROT_MAC_LEN];
    uint32_t id;
    uint64_t value, v;
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    mac_of(st, "softse drk id v1", before);
    assert_int_equal(rot_tpm_ops.counter_new(st, &id, &value), CKR_OK);
    assert_int_equal(rot_tpm_ops.counter_increment(st, id, &value), CKR_OK);
    rot_tpm_ops.close(st);

    swtpm_kill(&tpm);
    assert_true(swtpm_start(&tpm));
    st = open_at(tpm.tcti);
    mac_of(st, "softse drk id v1", after);
    assert_memory_equal(before, after, ROT_MAC_LEN);
    assert_int_equal(rot_tpm_ops.counter_read(st, id, &v), CKR_OK);
    assert_int_equal(v, value);
    assert_int_equal(rot_tpm_ops.counter_free(st, id), CKR_OK);
    rot_tpm_ops.close(st);
}

/* An ordinary NV index can be written back to any value: one in our
 * range (defined by someone else) must not be taken for a counter. */
static void ordinary_index_is_not_a_counter(void **state)
{
    TPM2B_NV_PUBLIC pub = {
        .nvPublic = {.nameAlg = TPM2_ALG_SHA256,
                     .attributes = TPMA_NV_AUTHREAD | TPMA_NV_AUTHWRITE | TPMA_NV_NO_DA,
                     .dataSize = 8}};
    TPM2B_MAX_NV_BUFFER data = {.size = 8};
    TPM2B_AUTH no_auth = {0};
    TSS2_TCTI_CONTEXT *tcti = NULL;
    ESYS_CONTEXT *esys = NULL;
    ESYS_TR tr;
    uint32_t id;
    uint64_t v;
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    assert_int_equal(rot_tpm_ops.counter_new(st, &id, &v), CKR_OK);
    assert_int_equal(rot_tpm_ops.counter_free(st, id), CKR_OK);

    pub.nvPublic.nvIndex = id; /* the next counter_new would pick it */
    assert_int_equal(Tss2_TctiLdr_Initialize(tpm.tcti, &tcti), TSS2_RC_SUCCESS);
    assert_int_equal(Esys_Initialize(&esys, tcti, NULL), TSS2_RC_SUCCESS);
    assert_int_equal(Esys_NV_DefineSpace(esys, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                         ESYS_TR_NONE, &no_auth, &pub, &tr),
                     TSS2_RC_SUCCESS);
    assert_int_equal(
        Esys_NV_Write(esys, tr, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0),
        TSS2_RC_SUCCESS);
    assert_int_equal(rot_tpm_ops.counter_read(st, id, &v), CKR_DEVICE_ERROR);
    assert_int_equal(rot_tpm_ops.counter_free(st, id), CKR_DEVICE_ERROR);
    /* counter_new steps over it. */
    uint32_t next;
    assert_int_equal(rot_tpm_ops.counter_new(st, &next, &v), CKR_OK);
    assert_int_not_equal(next, id);
    assert_int_equal(rot_tpm_ops.counter_free(st, next), CKR_OK);

    assert_int_equal(Esys_NV_UndefineSpace(esys, ESYS_TR_RH_OWNER, tr, ESYS_TR_PASSWORD,
                                           ESYS_TR_NONE, ESYS_TR_NONE),
                     TSS2_RC_SUCCESS);
    Esys_Finalize(&esys);
    Tss2_TctiLdr_Finalize(&tcti);
    rot_tpm_ops.close(st);
}

typedef struct mac_thread {
    void *st;
    unsigned char expected[ROT_MAC_LEN];
    int mismatches;
} mac_thread;

static void *mac_loop(void *arg)
{
    mac_thread *t = arg;
    for (int i = 0; i < test_count(20, 3); i++) {
        unsigned char out[ROT_MAC_LEN];
        if (rot_tpm_ops.mac(t->st, "threads", 7, out) != CKR_OK ||
            memcmp(out, t->expected, ROT_MAC_LEN) != 0)
            t->mismatches++;
    }
    return NULL;
}

/* One state used by several threads at once (rot.h: thread safety). */
static void threads_share_a_state(void **state)
{
    pthread_t threads[4];
    mac_thread work[4];
    void *st;
    (void)state;
    need_swtpm();
    st = open_at(tpm.tcti);
    for (int i = 0; i < 4; i++) {
        work[i] = (mac_thread){.st = st};
        mac_of(st, "threads", work[i].expected);
        assert_int_equal(pthread_create(&threads[i], NULL, mac_loop, &work[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(work[i].mismatches, 0);
    }
    rot_tpm_ops.close(st);
}

static void unreachable_tpm_is_a_device_error(void **state)
{
    char tcti[64];
    rot_config cfg = {.provider = "tpm", .tcti = tcti};
    void *st = NULL;
    (void)state;
    need_swtpm(); /* the swtpm TCTI library comes with it */
    snprintf(tcti, sizeof(tcti), "swtpm:host=127.0.0.1,port=%d", swtpm_free_port());
    assert_int_equal(rot_tpm_ops.open(&cfg, &st), CKR_DEVICE_ERROR);
    assert_null(st);
    cfg.tcti = "nosuchtcti:whatever";
    assert_int_equal(rot_tpm_ops.open(&cfg, &st), CKR_DEVICE_ERROR);
    assert_null(st);
}

static double ms_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) * 1e3 +
           (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* Prints what open, mac and increment cost against swtpm; asserts nothing
 * about time. */
static void timings(void **state)
{
    const int ROUNDS = test_count(20, 3); /* 3 under valgrind (test_light.h) */
    unsigned char out[ROT_MAC_LEN];
    struct timespec start;
    double open_ms, mac_ms, inc_ms;
    uint32_t id;
    uint64_t v;
    void *st;
    (void)state;
    need_swtpm();
    clock_gettime(CLOCK_MONOTONIC, &start);
    st = open_at(tpm.tcti);
    open_ms = ms_since(&start);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < ROUNDS; i++)
        mac_of(st, "softse drk id v1", out);
    mac_ms = ms_since(&start) / ROUNDS;
    assert_int_equal(rot_tpm_ops.counter_new(st, &id, &v), CKR_OK);
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < ROUNDS; i++)
        assert_int_equal(rot_tpm_ops.counter_increment(st, id, &v), CKR_OK);
    inc_ms = ms_since(&start) / ROUNDS;
    assert_int_equal(rot_tpm_ops.counter_free(st, id), CKR_OK);
    rot_tpm_ops.close(st);
    print_message("swtpm timings: open %.2f ms, mac %.3f ms, counter increment %.3f ms\n", open_ms,
                  mac_ms, inc_ms);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mac_is_deterministic),
        cmocka_unit_test(long_data_uses_a_sequence),
        cmocka_unit_test(another_tpm_another_drk),
        cmocka_unit_test(counters_count_up),
        cmocka_unit_test(state_survives_a_power_cycle),
        cmocka_unit_test(ordinary_index_is_not_a_counter),
        cmocka_unit_test(threads_share_a_state),
        cmocka_unit_test(unreachable_tpm_is_a_device_error),
        cmocka_unit_test(timings),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
