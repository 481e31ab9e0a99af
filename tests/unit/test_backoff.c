/*
 * test_backoff.c: the delay before a slot's worker is restarted
 * (master/fleet/backoff.c), without a loop or a clock: a crash loop
 * doubles it up to its cap, a worker that lived past four delays halves
 * it, one that lived BACKOFF_RESET_S is replaced at once and resets it,
 * and a restart that could not start doubles it for the next try.
 */
#include "fleet/backoff.h"
#include "test.h"

static void
test_first_delay(void)
{
    struct backoff b;

    backoff_init(&b);
    ASSERT_EQ(b.ms, BACKOFF_FIRST_MS);
    /* A worker that died at once waits the first delay. */
    ASSERT_EQ(backoff_next(&b, 0.0), BACKOFF_FIRST_MS);
}

static void
test_crash_loop_doubles_to_cap(void)
{
    static const uint64_t want[] = {100,  200,  400,   800,   1600,
                                    3200, 6400, 10000, 10000, 10000};
    struct backoff b;
    size_t i;

    backoff_init(&b);
    for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        /* Dead within four delays of its start: a crash loop. */
        ASSERT_EQ(backoff_next(&b, 0.01), want[i]);
    }
    ASSERT_EQ(b.ms, BACKOFF_MAX_MS);
}

static void
test_long_life_halves(void)
{
    struct backoff b;

    backoff_init(&b);
    b.ms = 1600;
    /* Four delays (6.4 s) is "not crashing": it still waits, and the next
     * delay halves. */
    ASSERT_EQ(backoff_next(&b, 6.4), 1600);
    ASSERT_EQ(b.ms, 800);
    /* Just short of four delays doubles. */
    ASSERT_EQ(backoff_next(&b, 3.19), 800);
    ASSERT_EQ(b.ms, 1600);
}

static void
test_halving_stops_at_first(void)
{
    struct backoff b;

    backoff_init(&b);
    ASSERT_EQ(backoff_next(&b, 0.5), BACKOFF_FIRST_MS);
    ASSERT_EQ(b.ms, BACKOFF_FIRST_MS);
}

static void
test_healthy_resets(void)
{
    struct backoff b;

    backoff_init(&b);
    b.ms = BACKOFF_MAX_MS;
    ASSERT_EQ(backoff_next(&b, BACKOFF_RESET_S), 0);
    ASSERT_EQ(b.ms, BACKOFF_FIRST_MS);
    ASSERT_EQ(backoff_next(&b, 9.99), BACKOFF_FIRST_MS);
}

static void
test_failed_start_doubles(void)
{
    struct backoff b;

    backoff_init(&b);
    ASSERT_EQ(backoff_failed(&b), 100);
    ASSERT_EQ(backoff_failed(&b), 200);
    b.ms = 8000;
    ASSERT_EQ(backoff_failed(&b), 8000);
    ASSERT_EQ(backoff_failed(&b), BACKOFF_MAX_MS);
    ASSERT_EQ(b.ms, BACKOFF_MAX_MS);
}

int
main(void)
{
    RUN(test_first_delay);
    RUN(test_crash_loop_doubles_to_cap);
    RUN(test_long_life_halves);
    RUN(test_halving_stops_at_first);
    RUN(test_healthy_resets);
    RUN(test_failed_start_doubles);
    TEST_EXIT();
}
