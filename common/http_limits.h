/*
 * http_limits.h: the HTTP limits and timeouts, and the per-worker sizes
 * (--max-conns, --threads), defined once. The master offers each as a flag
 * (--max-body=1m) and passes them all to its workers the same way, so
 * defaults, ranges and parsing live here only.
 */
#ifndef HS_COMMON_HTTP_LIMITS_H
#define HS_COMMON_HTTP_LIMITS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum limit_kind {
    LIMIT_COUNT, /* a plain number */
    LIMIT_BYTES, /* a size: 512, 16k, 1m, 1g */
    LIMIT_MS,    /* a duration: 10, 10s, 500ms (bare numbers are seconds) */
};

enum limit_id {
    LIM_MAX_HEADER_SIZE,   /* request line + header section, bytes */
    LIM_MAX_HEADERS,       /* header fields per request */
    LIM_MAX_BODY,          /* request body, bytes */
    LIM_HEADER_TIMEOUT,    /* to receive a whole header section, ms */
    LIM_BODY_TIMEOUT,      /* longest pause while receiving a body, ms */
    LIM_KEEPALIVE_TIMEOUT, /* idle time between requests, ms */
    LIM_SEND_TIMEOUT,      /* longest pause of a client not reading, ms */
    LIM_MAX_CONN_REQUESTS, /* requests per connection */
    LIM_MAX_CONNS,         /* connections per worker */
    LIM_THREADS,           /* pool threads per worker (0: none) */
    LIM_HANDSHAKE_TIMEOUT, /* a whole TLS handshake, ms */
    LIM_COUNT
};

struct limit_def {
    const char *name; /* the flag without "--" */
    enum limit_kind kind;
    uint64_t def, min, max;
    const char *help;
};

extern const struct limit_def limit_defs[LIM_COUNT];

struct limits {
    uint64_t v[LIM_COUNT];
};

void limits_default(struct limits *l);

/* Parses <s> as a value of limit <id>; false if malformed or out of range. */
bool limits_parse(enum limit_id id, const char *s, uint64_t *out);

/* The limit called <name> (no dashes), or -1. */
int limits_find(const char *name);

/* "16384", "1.5s"-free canonical text for passing on: bytes and ms are
 * written as plain numbers with their unit ("16384", "10000ms"). */
void limits_format(enum limit_id id, uint64_t v, char *buf, size_t len);

#endif
