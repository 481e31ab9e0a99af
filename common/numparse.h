/*
 * numparse.h: strict decimal parsing for flags and query parameters.
 */
#ifndef HS_COMMON_NUMPARSE_H
#define HS_COMMON_NUMPARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses the whole of <s> (length <len>) as an unsigned decimal in
 * [min, max]. No sign, no spaces, no empty string, no overflow.
 * Returns true and sets *out on success.
 */
bool num_parse_u64(const char *s, size_t len, uint64_t min, uint64_t max,
                   uint64_t *out);

/* As num_parse_u64, for a NUL-terminated string. */
bool num_parse_cstr(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Parses a duration such as "10", "10s", "250ms" or "1.5s" into
 * milliseconds within [min_ms, max_ms]. A bare number means seconds.
 */
bool num_parse_duration_ms(const char *s, uint64_t min_ms, uint64_t max_ms,
                           uint64_t *out);

#endif
