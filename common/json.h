/*
 * json.h: just enough JSON for Node's cluster IPC (one message per line,
 * each an object whose members are strings, numbers, booleans, null or
 * nested values we skip).
 *
 * Nothing is allocated: a value is a span of the caller's text. The input
 * is checked strictly (RFC 8259) before anything is read from it, with a
 * bound on nesting, so a hostile line costs at most one linear scan.
 */
#ifndef HS_COMMON_JSON_H
#define HS_COMMON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_DEPTH_MAX 32

enum json_type {
    JSON_INVALID = 0,
    JSON_NULL,
    JSON_FALSE,
    JSON_TRUE,
    JSON_NUMBER,
    JSON_STRING, /* the span includes the quotes */
    JSON_ARRAY,
    JSON_OBJECT,
};

struct json_value {
    enum json_type type;
    const char *p; /* the value's text, in the caller's buffer */
    size_t len;
};

/*
 * Checks that <s> is exactly one JSON value, optionally surrounded by
 * whitespace. Returns its type (and span in <out> if not NULL), or
 * JSON_INVALID.
 */
enum json_type json_check(const char *s, size_t len, struct json_value *out);

/*
 * In the object <obj> (checked by json_check), finds member <key>; when a
 * key repeats, the last one wins, as with JSON.parse. Returns true and
 * fills <out> if found.
 */
bool json_get(const struct json_value *obj, const char *key,
              struct json_value *out);

/* <v> as an integer: a number without fraction or exponent in range. */
bool json_int(const struct json_value *v, int64_t *out);

/*
 * Decodes the string <v> into <buf> (NUL-terminated; \u escapes become
 * UTF-8). Returns the decoded length, or -1 if <v> is not a string, does
 * not fit, or holds a NUL.
 */
long json_string(const struct json_value *v, char *buf, size_t size);

/* True when <v> is a string equal to <s>. */
bool json_string_is(const struct json_value *v, const char *s);

/*
 * Appends <s> as a JSON string (quotes included) to <buf> at <*pos>;
 * returns false, leaving <*pos> unchanged, if it does not fit.
 */
bool json_put_string(char *buf, size_t size, size_t *pos, const char *s,
                     size_t len);

#endif
