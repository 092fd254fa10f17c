/* clock_test.c - clock.c: ISO 8601 written and read back, the reader's
 * zones and its refusals, the backoff's bounds for both callers' jitter,
 * and the clocks' units. Expected epoch values are computed by hand from
 * the calendar (days since 1970-01-01). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "clock.h"

/* 2026-01-02T03:04:05.678Z: 20455 days after the epoch (56 years with 14
 * leap days, then one day into 2026). */
#define T_MS ((20455LL * 86400 + 3 * 3600 + 4 * 60 + 5) * 1000 + 678)

static void test_iso_round_trip(void **state)
{
    char buf[32];
    int64_t ms = 0;

    (void)state;
    clock_iso(T_MS, buf, sizeof buf);
    assert_string_equal(buf, "2026-01-02T03:04:05.678Z");
    assert_int_equal(clock_parse_iso(buf, &ms), 0);
    assert_true(ms == T_MS);
    clock_iso(0, buf, sizeof buf);
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
}

static void test_iso_forms(void **state)
{
    int64_t ms = 0;

    (void)state;
    assert_int_equal(clock_parse_iso("2026-01-02", &ms), 0);
    assert_true(ms == 20455LL * 86400 * 1000);
    assert_int_equal(clock_parse_iso("2026-01-02 03:04", &ms), 0);
    assert_true(ms == (20455LL * 86400 + 3 * 3600 + 4 * 60) * 1000);
    assert_int_equal(clock_parse_iso("2026-01-02T05:04:05.678+02:00", &ms), 0);
    assert_true(ms == T_MS);
    assert_int_equal(clock_parse_iso("2026-01-02T01:34:05.678-0130", &ms), 0);
    assert_true(ms == T_MS);
    assert_int_equal(clock_parse_iso("2026-01-02T03:04:05.6Z", &ms), 0);
    assert_true(ms == T_MS - 78);
    assert_int_equal(clock_parse_iso("2026-02-30", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("2026-13-01", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("2026-01-02T24:00", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("2026-01-02T03:04:05.Z", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("2026-01-02Tx", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("2026-01-02 trailing", &ms), -EINVAL);
    assert_int_equal(clock_parse_iso("", &ms), -EINVAL);
}

/* Every random draw lands within [d * (100 - jitter) / 100, d], and the
 * extremes are reached: r = 0 gives d, r = d * jitter / 100 the floor. */
static void check_backoff(int jitter)
{
    static const int64_t want[] = { 100, 200, 400, 800, 1000, 1000 };
    int64_t d, v;
    uint64_t r;
    int n;

    for (n = 1; n <= 6; n++) {
        d = want[n - 1];
        assert_true(clock_backoff_ms(n, 100, 1000, jitter, 0) == d);
        assert_true(clock_backoff_ms(n, 100, 1000, jitter, (uint64_t)(d * jitter / 100)) ==
                    d - d * jitter / 100);
        for (r = 0; r < 5000; r += 7) {
            v = clock_backoff_ms(n, 100, 1000, jitter, r * 2654435761u);
            assert_true(v <= d && v >= d - d * jitter / 100);
        }
    }
}

static void test_backoff(void **state)
{
    (void)state;
    check_backoff(25);            /* the LLM client's */
    check_backoff(50);            /* the scheduler's */
    assert_true(clock_backoff_ms(40, 100, 60000, 0, 12345) == 60000);   /* no overflow */
    assert_true(clock_backoff_ms(1, 100, 50, 0, 0) == 50);              /* max below base */
}

/* The units: the clocks agree with clock_gettime read around them. */
static void test_clocks(void **state)
{
    struct timespec a, b;
    int64_t us, ms, wall;

    (void)state;
    clock_gettime(CLOCK_MONOTONIC, &a);
    us = clock_mono_us();
    ms = clock_mono_ms();
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_true(us >= (int64_t)a.tv_sec * 1000000 + a.tv_nsec / 1000);
    assert_true(us <= (int64_t)b.tv_sec * 1000000 + b.tv_nsec / 1000);
    assert_true(ms >= us / 1000 && ms <= (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000);
    clock_gettime(CLOCK_REALTIME, &a);
    wall = clock_wall_ms();
    clock_gettime(CLOCK_REALTIME, &b);
    assert_true(wall >= (int64_t)a.tv_sec * 1000 + a.tv_nsec / 1000000);
    assert_true(wall <= (int64_t)b.tv_sec * 1000 + b.tv_nsec / 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_round_trip),
        cmocka_unit_test(test_iso_forms),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_clocks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
