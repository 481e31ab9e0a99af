/*
 * test_numparse.c: strict parsing of flag values and durations.
 */
#include "numparse.h"
#include "test.h"

static void
test_integers(void)
{
    uint64_t v = 0;

    ASSERT(num_parse_cstr("0", 0, 10, &v) && v == 0);
    ASSERT(num_parse_cstr("65535", 0, 65535, &v) && v == 65535);
    ASSERT(!num_parse_cstr("65536", 0, 65535, &v));
    ASSERT(!num_parse_cstr("", 0, 10, &v));
    ASSERT(!num_parse_cstr("-1", 0, 10, &v));
    ASSERT(!num_parse_cstr("+1", 0, 10, &v));
    ASSERT(!num_parse_cstr(" 1", 0, 10, &v));
    ASSERT(!num_parse_cstr("1 ", 0, 10, &v));
    ASSERT(!num_parse_cstr("0x10", 0, 100, &v));
    ASSERT(num_parse_cstr("18446744073709551615", 0, UINT64_MAX, &v)
           && v == UINT64_MAX);
    ASSERT(!num_parse_cstr("18446744073709551616", 0, UINT64_MAX, &v));
    ASSERT(!num_parse_cstr("99999999999999999999999", 0, UINT64_MAX, &v));
    ASSERT(!num_parse_cstr("5", 6, 10, &v));
}

static void
test_durations(void)
{
    uint64_t ms = 0;

    ASSERT(num_parse_duration_ms("10", 0, 3600000, &ms) && ms == 10000);
    ASSERT(num_parse_duration_ms("10s", 0, 3600000, &ms) && ms == 10000);
    ASSERT(num_parse_duration_ms("250ms", 0, 3600000, &ms) && ms == 250);
    ASSERT(num_parse_duration_ms("1.5s", 0, 3600000, &ms) && ms == 1500);
    ASSERT(num_parse_duration_ms("0.05", 0, 3600000, &ms) && ms == 50);
    ASSERT(num_parse_duration_ms("0", 0, 3600000, &ms) && ms == 0);
    ASSERT(!num_parse_duration_ms("1.5ms", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("1.", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms(".5", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("1.2345", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("s", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("ms", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("2h", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("3601", 0, 3600000, &ms));
    ASSERT(!num_parse_duration_ms("-1", 0, 3600000, &ms));
}

int
main(void)
{
    RUN(test_integers);
    RUN(test_durations);
    TEST_EXIT();
}
