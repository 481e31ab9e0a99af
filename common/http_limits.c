/*
 * http_limits.c: defaults, ranges and parsing of the HTTP limits and the
 * per-worker sizes.
 */
#include <stdio.h>
#include <string.h>

#include "http_limits.h"
#include "numparse.h"

#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)
#define HOUR_MS (3600ULL * 1000)

const struct limit_def limit_defs[LIM_COUNT] = {
    [LIM_MAX_HEADER_SIZE] = {"max-header-size", LIMIT_BYTES, 16 * KIB, 1 * KIB,
                             1 * MIB,
                             "request line + headers; more gets 431 (a "
                             "longer target 414)"},
    [LIM_MAX_HEADERS] = {"max-headers", LIMIT_COUNT, 100, 1, 10000,
                         "header fields per request; more gets 431"},
    [LIM_MAX_BODY] = {"max-body", LIMIT_BYTES, 1 * MIB, 0, 64 * GIB,
                      "request body; more gets 413"},
    [LIM_HEADER_TIMEOUT] = {"header-timeout", LIMIT_MS, 10000, 100, HOUR_MS,
                            "time to send a whole request head; then 408"},
    [LIM_BODY_TIMEOUT] = {"body-timeout", LIMIT_MS, 10000, 100, HOUR_MS,
                          "longest pause within a request body; then 408"},
    [LIM_KEEPALIVE_TIMEOUT] = {"keepalive-timeout", LIMIT_MS, 5000, 0, HOUR_MS,
                               "idle time between requests before closing"},
    [LIM_SEND_TIMEOUT] = {"send-timeout", LIMIT_MS, 10000, 100, HOUR_MS,
                          "longest pause of a client that does not read"},
    [LIM_MAX_CONN_REQUESTS] = {"max-conn-requests", LIMIT_COUNT, 1000, 1,
                               UINT32_MAX,
                               "requests per connection; the last one says "
                               "Connection: close"},
    [LIM_MAX_CONNS] = {"max-conns", LIMIT_COUNT, 10000, 1, 1000000,
                       "connections per worker; a full worker refuses "
                       "handoffs"},
    /* worker/pool.h's POOL_MAX_THREADS bounds it too. */
    [LIM_THREADS] = {"threads", LIMIT_COUNT, 0, 0, 64,
                     "pool threads per worker for /cpu?offload=1"},
    [LIM_HANDSHAKE_TIMEOUT] = {"handshake-timeout", LIMIT_MS, 10000, 100,
                               HOUR_MS,
                               "time to complete a TLS handshake; then "
                               "closed"},
};

void
limits_default(struct limits *l)
{
    int i;

    for (i = 0; i < LIM_COUNT; i++) {
        l->v[i] = limit_defs[i].def;
    }
}

int
limits_find(const char *name)
{
    int i;

    for (i = 0; i < LIM_COUNT; i++) {
        if (strcmp(limit_defs[i].name, name) == 0) {
            return i;
        }
    }
    return -1;
}

static bool
limits_parse_bytes(const char *s, uint64_t *out)
{
    size_t len = strlen(s);
    uint64_t mult = 1, v;

    if (len > 1) {
        switch (s[len - 1]) {
        case 'k':
        case 'K':
            mult = KIB;
            break;
        case 'm':
        case 'M':
            mult = MIB;
            break;
        case 'g':
        case 'G':
            mult = GIB;
            break;
        default:
            break;
        }
    }
    if (mult != 1) {
        len--;
    }
    if (!num_parse_u64(s, len, 0, UINT64_MAX / mult, &v)) {
        return false;
    }
    *out = v * mult;
    return true;
}

bool
limits_parse(enum limit_id id, const char *s, uint64_t *out)
{
    const struct limit_def *d = &limit_defs[id];
    uint64_t v;

    switch (d->kind) {
    case LIMIT_BYTES:
        if (!limits_parse_bytes(s, &v)) {
            return false;
        }
        break;
    case LIMIT_MS:
        if (!num_parse_duration_ms(s, 0, UINT64_MAX / 2, &v)) {
            return false;
        }
        break;
    default:
        if (!num_parse_cstr(s, 0, UINT64_MAX, &v)) {
            return false;
        }
        break;
    }
    if (v < d->min || v > d->max) {
        return false;
    }
    *out = v;
    return true;
}

void
limits_format(enum limit_id id, uint64_t v, char *buf, size_t len)
{
    snprintf(buf, len, "%llu%s", (unsigned long long) v,
             limit_defs[id].kind == LIMIT_MS ? "ms" : "");
}
