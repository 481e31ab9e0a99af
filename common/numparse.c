/*
 * numparse.c: strict decimal parsing; strtoul accepts signs, spaces and
 * wraps negative numbers, none of which a flag value may do.
 */
#include <string.h>

#include "numparse.h"

bool
num_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max,
              uint64_t *out)
{
    uint64_t v = 0;
    size_t i;

    if (len == 0 || len > 20) {
        return false;
    }
    for (i = 0; i < len; i++) {
        unsigned d;

        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        d = (unsigned) (s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (v < min || v > max) {
        return false;
    }
    *out = v;
    return true;
}

bool
num_parse_cstr(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    return num_parse_u64(s, strlen(s), min, max, out);
}

bool
num_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms,
                      uint64_t *out)
{
    size_t len = strlen(s);
    size_t int_len, frac_len = 0;
    const char *dot;
    uint64_t whole, frac = 0, scale = 1000, ms;

    if (len > 2 && strcmp(s + len - 2, "ms") == 0) {
        len -= 2;
        scale = 1;
    } else if (len > 1 && s[len - 1] == 's') {
        len -= 1;
    }
    dot = memchr(s, '.', len);
    int_len = dot != NULL ? (size_t) (dot - s) : len;
    if (!num_parse_u64(s, int_len, 0, UINT64_MAX / 1000 / 1000, &whole)) {
        return false;
    }
    if (dot != NULL) {
        /* Fractions only make sense for seconds, to millisecond precision. */
        frac_len = len - int_len - 1;
        if (scale != 1000 || frac_len == 0 || frac_len > 3
            || !num_parse_u64(dot + 1, frac_len, 0, 999, &frac)) {
            return false;
        }
        while (frac_len++ < 3) {
            frac *= 10;
        }
    }
    ms = whole * scale + frac;
    if (ms < min_ms || ms > max_ms) {
        return false;
    }
    *out = ms;
    return true;
}
