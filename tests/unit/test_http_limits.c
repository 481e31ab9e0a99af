/*
 * test_http_limits.c: the limit flags' defaults, kinds (count, bytes, ms),
 * bounds and parsing, and the text the master passes on to its workers.
 */
/* http_limits.h uses size_t without including stddef.h */
#include <stddef.h>
#include <stdint.h>

#include "http_limits.h"
#include "test.h"

#define SENTINEL 0xdeadbeefULL

/* limits_parse(<id>, <s>) fails and leaves the result alone. */
static void
assert_rejects(enum limit_id id, const char *s)
{
    uint64_t v = SENTINEL;

    if (limits_parse(id, s, &v)) {
        fprintf(stderr, "--%s \"%s\" accepted as %llu\n", limit_defs[id].name,
                s, (unsigned long long) v);
        exit(1);
    }
    ASSERT(v == SENTINEL);
}

static void
assert_parses(enum limit_id id, const char *s, uint64_t want)
{
    uint64_t v = SENTINEL;

    if (!limits_parse(id, s, &v) || v != want) {
        fprintf(stderr, "--%s \"%s\": got %llu, expected %llu\n",
                limit_defs[id].name, s, (unsigned long long) v,
                (unsigned long long) want);
        exit(1);
    }
}

static void
test_defaults(void)
{
    struct limits l;
    int i;

    memset(&l, 0xa5, sizeof(l));
    limits_default(&l);
    for (i = 0; i < LIM_COUNT; i++) {
        ASSERT(limit_defs[i].name != NULL && limit_defs[i].help != NULL);
        ASSERT_EQ(l.v[i], limit_defs[i].def);
        ASSERT(limit_defs[i].min <= limit_defs[i].def);
        ASSERT(limit_defs[i].def <= limit_defs[i].max);
    }
    /* as --help and the man page give them */
    ASSERT_EQ(l.v[LIM_MAX_HEADER_SIZE], 16 * 1024);
    ASSERT_EQ(l.v[LIM_MAX_HEADERS], 100);
    ASSERT_EQ(l.v[LIM_MAX_BODY], 1024 * 1024);
    ASSERT_EQ(l.v[LIM_HEADER_TIMEOUT], 10000);
    ASSERT_EQ(l.v[LIM_BODY_TIMEOUT], 10000);
    ASSERT_EQ(l.v[LIM_KEEPALIVE_TIMEOUT], 5000);
    ASSERT_EQ(l.v[LIM_SEND_TIMEOUT], 10000);
    ASSERT_EQ(l.v[LIM_MAX_CONN_REQUESTS], 1000);
    ASSERT_EQ(l.v[LIM_MAX_CONNS], 10000);
    ASSERT_EQ(l.v[LIM_THREADS], 0);
}

static void
test_kinds(void)
{
    ASSERT_EQ(limit_defs[LIM_MAX_HEADER_SIZE].kind, LIMIT_BYTES);
    ASSERT_EQ(limit_defs[LIM_MAX_BODY].kind, LIMIT_BYTES);
    ASSERT_EQ(limit_defs[LIM_MAX_HEADERS].kind, LIMIT_COUNT);
    ASSERT_EQ(limit_defs[LIM_MAX_CONN_REQUESTS].kind, LIMIT_COUNT);
    ASSERT_EQ(limit_defs[LIM_MAX_CONNS].kind, LIMIT_COUNT);
    ASSERT_EQ(limit_defs[LIM_THREADS].kind, LIMIT_COUNT);
    ASSERT_EQ(limit_defs[LIM_HEADER_TIMEOUT].kind, LIMIT_MS);
    ASSERT_EQ(limit_defs[LIM_BODY_TIMEOUT].kind, LIMIT_MS);
    ASSERT_EQ(limit_defs[LIM_KEEPALIVE_TIMEOUT].kind, LIMIT_MS);
    ASSERT_EQ(limit_defs[LIM_SEND_TIMEOUT].kind, LIMIT_MS);
}

static void
test_find(void)
{
    int i;

    for (i = 0; i < LIM_COUNT; i++) {
        ASSERT_EQ(limits_find(limit_defs[i].name), i);
    }
    ASSERT_EQ(limits_find("--max-body"), -1);
    ASSERT_EQ(limits_find("max-bod"), -1);
    ASSERT_EQ(limits_find("max-body-"), -1);
    ASSERT_EQ(limits_find("MAX-BODY"), -1);
    ASSERT_EQ(limits_find(""), -1);
}

static void
test_bytes(void)
{
    assert_parses(LIM_MAX_BODY, "0", 0);
    assert_parses(LIM_MAX_BODY, "512", 512);
    assert_parses(LIM_MAX_BODY, "16k", 16 * 1024);
    assert_parses(LIM_MAX_BODY, "16K", 16 * 1024);
    assert_parses(LIM_MAX_BODY, "1m", 1024 * 1024);
    assert_parses(LIM_MAX_BODY, "1M", 1024 * 1024);
    assert_parses(LIM_MAX_BODY, "2g", 2ULL << 30);
    assert_parses(LIM_MAX_BODY, "2G", 2ULL << 30);
    assert_parses(LIM_MAX_BODY, "0k", 0);
    assert_parses(LIM_MAX_BODY, "007", 7);
    /* no fractions, signs, spaces, other units or stray letters */
    assert_rejects(LIM_MAX_BODY, "1.5k");
    assert_rejects(LIM_MAX_BODY, "1.5");
    assert_rejects(LIM_MAX_BODY, "-1");
    assert_rejects(LIM_MAX_BODY, "+1");
    assert_rejects(LIM_MAX_BODY, " 1");
    assert_rejects(LIM_MAX_BODY, "1 ");
    assert_rejects(LIM_MAX_BODY, "1 k");
    assert_rejects(LIM_MAX_BODY, "");
    assert_rejects(LIM_MAX_BODY, "k");
    assert_rejects(LIM_MAX_BODY, "1kk");
    assert_rejects(LIM_MAX_BODY, "1kb");
    assert_rejects(LIM_MAX_BODY, "1b");
    assert_rejects(LIM_MAX_BODY, "1t");
    assert_rejects(LIM_MAX_BODY, "1q");
    assert_rejects(LIM_MAX_BODY, "k1");
    assert_rejects(LIM_MAX_BODY, "0x10");
    assert_rejects(LIM_MAX_BODY, "1e3");
    assert_rejects(LIM_MAX_BODY, "10ms");
    /* a size with its unit that does not fit in 64 bits */
    assert_rejects(LIM_MAX_BODY, "18014398509481984k"); /* 2^54 KiB */
    assert_rejects(LIM_MAX_BODY, "17179869184g");       /* 2^34 GiB */
    assert_rejects(LIM_MAX_BODY, "18446744073709551616");
    assert_rejects(LIM_MAX_BODY, "999999999999999999999");
}

static void
test_bytes_bounds(void)
{
    assert_parses(LIM_MAX_BODY, "64g", 64ULL << 30);
    assert_parses(LIM_MAX_BODY, "68719476736", 64ULL << 30);
    assert_rejects(LIM_MAX_BODY, "68719476737");
    assert_rejects(LIM_MAX_BODY, "65g");
    assert_parses(LIM_MAX_HEADER_SIZE, "1k", 1024);
    assert_parses(LIM_MAX_HEADER_SIZE, "1024", 1024);
    assert_rejects(LIM_MAX_HEADER_SIZE, "1023");
    assert_rejects(LIM_MAX_HEADER_SIZE, "10");
    assert_rejects(LIM_MAX_HEADER_SIZE, "0");
    assert_parses(LIM_MAX_HEADER_SIZE, "1m", 1024 * 1024);
    assert_rejects(LIM_MAX_HEADER_SIZE, "1048577");
    assert_rejects(LIM_MAX_HEADER_SIZE, "1g");
}

static void
test_durations(void)
{
    assert_parses(LIM_HEADER_TIMEOUT, "10", 10000); /* bare: seconds */
    assert_parses(LIM_HEADER_TIMEOUT, "10s", 10000);
    assert_parses(LIM_HEADER_TIMEOUT, "500ms", 500);
    assert_parses(LIM_HEADER_TIMEOUT, "1.5s", 1500);
    assert_parses(LIM_HEADER_TIMEOUT, "1.5", 1500);
    assert_parses(LIM_HEADER_TIMEOUT, "0.25", 250);
    assert_parses(LIM_HEADER_TIMEOUT, "0.1", 100);
    assert_rejects(LIM_HEADER_TIMEOUT, "1.5ms");
    assert_rejects(LIM_HEADER_TIMEOUT, "1.2345");
    assert_rejects(LIM_HEADER_TIMEOUT, "1.");
    assert_rejects(LIM_HEADER_TIMEOUT, ".5");
    assert_rejects(LIM_HEADER_TIMEOUT, "10ss");
    assert_rejects(LIM_HEADER_TIMEOUT, "10sms");
    assert_rejects(LIM_HEADER_TIMEOUT, "10m");
    assert_rejects(LIM_HEADER_TIMEOUT, "1h");
    assert_rejects(LIM_HEADER_TIMEOUT, "10k");
    assert_rejects(LIM_HEADER_TIMEOUT, "-1");
    assert_rejects(LIM_HEADER_TIMEOUT, "+1");
    assert_rejects(LIM_HEADER_TIMEOUT, " 1s");
    assert_rejects(LIM_HEADER_TIMEOUT, "");
    assert_rejects(LIM_HEADER_TIMEOUT, "s");
    assert_rejects(LIM_HEADER_TIMEOUT, "ms");
    /* overflow once in milliseconds, not wrapped into range */
    assert_rejects(LIM_HEADER_TIMEOUT, "18446744073709551615");
    assert_rejects(LIM_HEADER_TIMEOUT, "18446744073709552s");
    assert_rejects(LIM_HEADER_TIMEOUT, "18446744073709551616ms");
}

static void
test_durations_bounds(void)
{
    assert_parses(LIM_HEADER_TIMEOUT, "100ms", 100);
    assert_rejects(LIM_HEADER_TIMEOUT, "99ms");
    assert_rejects(LIM_HEADER_TIMEOUT, "0");
    assert_rejects(LIM_HEADER_TIMEOUT, "0.099");
    assert_parses(LIM_HEADER_TIMEOUT, "3600", 3600000);
    assert_parses(LIM_HEADER_TIMEOUT, "3600000ms", 3600000);
    assert_rejects(LIM_HEADER_TIMEOUT, "3600.001");
    assert_rejects(LIM_HEADER_TIMEOUT, "3601s");
    assert_parses(LIM_BODY_TIMEOUT, "100ms", 100);
    assert_rejects(LIM_BODY_TIMEOUT, "0");
    assert_parses(LIM_SEND_TIMEOUT, "100ms", 100);
    assert_rejects(LIM_SEND_TIMEOUT, "50ms");
    /* 0 keeps no idle connection: keep-alive off */
    assert_parses(LIM_KEEPALIVE_TIMEOUT, "0", 0);
    assert_parses(LIM_KEEPALIVE_TIMEOUT, "0ms", 0);
    assert_parses(LIM_KEEPALIVE_TIMEOUT, "1ms", 1);
    assert_rejects(LIM_KEEPALIVE_TIMEOUT, "3601");
}

static void
test_counts(void)
{
    assert_parses(LIM_MAX_HEADERS, "1", 1);
    assert_parses(LIM_MAX_HEADERS, "10000", 10000);
    assert_rejects(LIM_MAX_HEADERS, "0");
    assert_rejects(LIM_MAX_HEADERS, "10001");
    assert_rejects(LIM_MAX_HEADERS, "1k"); /* counts have no units */
    assert_rejects(LIM_MAX_HEADERS, "10s");
    assert_rejects(LIM_MAX_HEADERS, "1.5");
    assert_rejects(LIM_MAX_HEADERS, "-1");
    assert_rejects(LIM_MAX_HEADERS, "");
    assert_rejects(LIM_MAX_HEADERS, "x");
    assert_parses(LIM_MAX_CONN_REQUESTS, "4294967295", UINT32_MAX);
    assert_rejects(LIM_MAX_CONN_REQUESTS, "4294967296");
    assert_rejects(LIM_MAX_CONN_REQUESTS, "0");
    assert_rejects(LIM_MAX_CONN_REQUESTS, "18446744073709551616");
    assert_parses(LIM_MAX_CONNS, "1000000", 1000000);
    assert_rejects(LIM_MAX_CONNS, "1000001");
    assert_rejects(LIM_MAX_CONNS, "0");
    assert_parses(LIM_THREADS, "0", 0);
    assert_parses(LIM_THREADS, "64", 64);
    assert_rejects(LIM_THREADS, "65");
}

static void
test_format(void)
{
    char buf[32];

    limits_format(LIM_MAX_BODY, 1024 * 1024, buf, sizeof(buf));
    ASSERT_STREQ(buf, "1048576");
    limits_format(LIM_HEADER_TIMEOUT, 1500, buf, sizeof(buf));
    ASSERT_STREQ(buf, "1500ms");
    limits_format(LIM_KEEPALIVE_TIMEOUT, 0, buf, sizeof(buf));
    ASSERT_STREQ(buf, "0ms");
    limits_format(LIM_MAX_HEADERS, 100, buf, sizeof(buf));
    ASSERT_STREQ(buf, "100");
    limits_format(LIM_MAX_BODY, 64ULL << 30, buf, sizeof(buf));
    ASSERT_STREQ(buf, "68719476736");
    /* cut to the buffer, terminated */
    limits_format(LIM_HEADER_TIMEOUT, 3600000, buf, 4);
    ASSERT_STREQ(buf, "360");
}

static void
test_format_parses_back(void)
{
    char buf[32];
    int i;

    /* what the master passes on, each worker reads as the same value */
    for (i = 0; i < LIM_COUNT; i++) {
        const struct limit_def *d = &limit_defs[i];
        uint64_t vals[] = {d->def, d->min, d->max,
                           d->min + (d->max - d->min) / 3};
        size_t j;

        for (j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
            limits_format((enum limit_id) i, vals[j], buf, sizeof(buf));
            assert_parses((enum limit_id) i, buf, vals[j]);
        }
    }
}

int
main(void)
{
    RUN(test_defaults);
    RUN(test_kinds);
    RUN(test_find);
    RUN(test_bytes);
    RUN(test_bytes_bounds);
    RUN(test_durations);
    RUN(test_durations_bounds);
    RUN(test_counts);
    RUN(test_format);
    RUN(test_format_parses_back);
    TEST_EXIT();
}
