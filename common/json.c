/*
 * json.c: a strict JSON checker and a reader of top-level object members,
 * for Node's cluster IPC messages (master/node_*.c). See json.h.
 */
#include <string.h>

#include "json.h"

struct json_scan {
    const char *p, *end;
};

static void
json_ws(struct json_scan *s)
{
    while (
        s->p < s->end
        && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static int
json_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Reads 4 hex digits at <p>; -1 if they are not. */
static long
json_hex4(const char *p)
{
    long v = 0;
    int i;

    for (i = 0; i < 4; i++) {
        int h = json_hex(p[i]);

        if (h < 0) {
            return -1;
        }
        v = v << 4 | h;
    }
    return v;
}

/*
 * Checks a string at s->p (the opening quote). Lone surrogates are allowed,
 * as JSON.stringify writes them escaped; raw bytes are not checked as
 * UTF-8 (Node decodes the channel as UTF-8 and would substitute).
 */
static bool
json_skip_string(struct json_scan *s)
{
    s->p++;
    while (s->p < s->end) {
        unsigned char c = (unsigned char) *s->p;

        if (c == '"') {
            s->p++;
            return true;
        }
        if (c < 0x20) {
            return false;
        }
        if (c == '\\') {
            if (s->end - s->p < 2) {
                return false;
            }
            switch (s->p[1]) {
            case '"':
            case '\\':
            case '/':
            case 'b':
            case 'f':
            case 'n':
            case 'r':
            case 't':
                s->p += 2;
                break;
            case 'u':
                if (s->end - s->p < 6 || json_hex4(s->p + 2) < 0) {
                    return false;
                }
                s->p += 6;
                break;
            default:
                return false;
            }
            continue;
        }
        s->p++;
    }
    return false;
}

static bool
json_digits(struct json_scan *s)
{
    const char *start = s->p;

    while (s->p < s->end && *s->p >= '0' && *s->p <= '9') {
        s->p++;
    }
    return s->p > start;
}

static bool
json_skip_number(struct json_scan *s)
{
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }
    if (s->p < s->end && *s->p == '0') {
        s->p++;
    } else if (!json_digits(s)) {
        return false;
    }
    if (s->p < s->end && *s->p == '.') {
        s->p++;
        if (!json_digits(s)) {
            return false;
        }
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        s->p++;
        if (s->p < s->end && (*s->p == '+' || *s->p == '-')) {
            s->p++;
        }
        if (!json_digits(s)) {
            return false;
        }
    }
    return true;
}

static bool
json_literal(struct json_scan *s, const char *lit)
{
    size_t n = strlen(lit);

    if ((size_t) (s->end - s->p) < n || memcmp(s->p, lit, n) != 0) {
        return false;
    }
    s->p += n;
    return true;
}

static enum json_type json_value_at(struct json_scan *s, int depth);

/* An object or array at s->p; <close> is its closing bracket. */
static bool
json_skip_container(struct json_scan *s, int depth, bool object)
{
    char close = object ? '}' : ']';

    s->p++;
    json_ws(s);
    if (s->p < s->end && *s->p == close) {
        s->p++;
        return true;
    }
    for (;;) {
        if (object) {
            if (s->p >= s->end || *s->p != '"' || !json_skip_string(s)) {
                return false;
            }
            json_ws(s);
            if (s->p >= s->end || *s->p != ':') {
                return false;
            }
            s->p++;
            json_ws(s);
        }
        if (json_value_at(s, depth + 1) == JSON_INVALID) {
            return false;
        }
        json_ws(s);
        if (s->p >= s->end) {
            return false;
        }
        if (*s->p == close) {
            s->p++;
            return true;
        }
        if (*s->p != ',') {
            return false;
        }
        s->p++;
        json_ws(s);
    }
}

/* Skips the value at s->p (no leading whitespace); returns its type. */
static enum json_type
json_value_at(struct json_scan *s, int depth)
{
    if (s->p >= s->end || depth > JSON_DEPTH_MAX) {
        return JSON_INVALID;
    }
    switch (*s->p) {
    case '{':
        return json_skip_container(s, depth, true) ? JSON_OBJECT : JSON_INVALID;
    case '[':
        return json_skip_container(s, depth, false) ? JSON_ARRAY : JSON_INVALID;
    case '"':
        return json_skip_string(s) ? JSON_STRING : JSON_INVALID;
    case 't':
        return json_literal(s, "true") ? JSON_TRUE : JSON_INVALID;
    case 'f':
        return json_literal(s, "false") ? JSON_FALSE : JSON_INVALID;
    case 'n':
        return json_literal(s, "null") ? JSON_NULL : JSON_INVALID;
    default:
        return json_skip_number(s) ? JSON_NUMBER : JSON_INVALID;
    }
}

enum json_type
json_check(const char *s, size_t len, struct json_value *out)
{
    struct json_scan sc = {s, s + len};
    const char *start;
    enum json_type t;

    json_ws(&sc);
    start = sc.p;
    t = json_value_at(&sc, 0);
    if (t == JSON_INVALID) {
        return JSON_INVALID;
    }
    if (out != NULL) {
        out->type = t;
        out->p = start;
        out->len = (size_t) (sc.p - start);
    }
    json_ws(&sc);
    return sc.p == sc.end ? t : JSON_INVALID;
}

bool
json_get(const struct json_value *obj, const char *key, struct json_value *out)
{
    struct json_scan s;
    bool found = false;

    if (obj->type != JSON_OBJECT) {
        return false;
    }
    s.p = obj->p + 1;
    s.end = obj->p + obj->len - 1;
    for (;;) {
        struct json_value k, v;

        json_ws(&s);
        if (s.p >= s.end) {
            return found;
        }
        k.type = JSON_STRING;
        k.p = s.p;
        (void) json_skip_string(&s); /* checked by json_check() */
        k.len = (size_t) (s.p - k.p);
        json_ws(&s);
        s.p++; /* ':' */
        json_ws(&s);
        v.p = s.p;
        v.type = json_value_at(&s, 1);
        v.len = (size_t) (s.p - v.p);
        if (json_string_is(&k, key)) {
            *out = v;
            found = true;
        }
        json_ws(&s);
        if (s.p < s.end && *s.p == ',') {
            s.p++;
        }
    }
}

bool
json_int(const struct json_value *v, int64_t *out)
{
    const char *p = v->p, *end = v->p + v->len;
    bool neg = false;
    uint64_t n = 0;

    if (v->type != JSON_NUMBER) {
        return false;
    }
    if (p < end && *p == '-') {
        neg = true;
        p++;
    }
    if (p == end) {
        return false;
    }
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || n > (UINT64_C(1) << 53) / 10) {
            return false; /* fraction, exponent, or past 2^53 */
        }
        n = n * 10 + (uint64_t) (*p - '0');
    }
    if (n > (UINT64_C(1) << 53)) {
        return false;
    }
    *out = neg ? -(int64_t) n : (int64_t) n;
    return true;
}

/* Appends code point <cp> as UTF-8; false if it does not fit. */
static bool
json_put_utf8(char *buf, size_t size, size_t *n, unsigned long cp)
{
    unsigned char b[4];
    size_t k, len;

    if (cp < 0x80) {
        b[0] = (unsigned char) cp;
        len = 1;
    } else if (cp < 0x800) {
        b[0] = (unsigned char) (0xc0 | cp >> 6);
        b[1] = (unsigned char) (0x80 | (cp & 0x3f));
        len = 2;
    } else if (cp < 0x10000) {
        b[0] = (unsigned char) (0xe0 | cp >> 12);
        b[1] = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
        b[2] = (unsigned char) (0x80 | (cp & 0x3f));
        len = 3;
    } else {
        b[0] = (unsigned char) (0xf0 | cp >> 18);
        b[1] = (unsigned char) (0x80 | (cp >> 12 & 0x3f));
        b[2] = (unsigned char) (0x80 | (cp >> 6 & 0x3f));
        b[3] = (unsigned char) (0x80 | (cp & 0x3f));
        len = 4;
    }
    if (size - *n <= len) {
        return false;
    }
    for (k = 0; k < len; k++) {
        buf[(*n)++] = (char) b[k];
    }
    return true;
}

long
json_string(const struct json_value *v, char *buf, size_t size)
{
    const char *p, *end;
    size_t n = 0;

    if (v->type != JSON_STRING || size == 0 || v->len < 2) {
        return -1;
    }
    p = v->p + 1;
    end = v->p + v->len - 1;
    while (p < end) {
        unsigned long cp;

        if (*p != '\\') {
            if (*p == '\0' || size - n <= 1) {
                return -1;
            }
            buf[n++] = *p++;
            continue;
        }
        switch (p[1]) {
        case 'b':
            cp = '\b';
            break;
        case 'f':
            cp = '\f';
            break;
        case 'n':
            cp = '\n';
            break;
        case 'r':
            cp = '\r';
            break;
        case 't':
            cp = '\t';
            break;
        case 'u':
            cp = (unsigned long) json_hex4(p + 2);
            p += 4;
            /* A surrogate pair is one code point; a lone surrogate
             * becomes U+FFFD, as TextDecoder would make it. */
            if (cp >= 0xd800 && cp <= 0xdbff && end - p >= 8 && p[2] == '\\'
                && p[3] == 'u') {
                long lo = json_hex4(p + 4);

                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10)
                         + ((unsigned long) lo - 0xdc00);
                    p += 6;
                }
            }
            if (cp >= 0xd800 && cp <= 0xdfff) {
                cp = 0xfffd;
            }
            break;
        default: /* '"', '\\', '/' */
            cp = (unsigned char) p[1];
            break;
        }
        p += 2;
        if (cp == 0 || !json_put_utf8(buf, size, &n, cp)) {
            return -1;
        }
    }
    buf[n] = '\0';
    return (long) n;
}

bool
json_string_is(const struct json_value *v, const char *s)
{
    char buf[128];
    size_t n = strlen(s);
    long got;

    if (v->type != JSON_STRING) {
        return false;
    }
    /* Without escapes the raw text is the string: no decoding needed. */
    if (v->len == n + 2 && memchr(v->p, '\\', v->len) == NULL) {
        return memcmp(v->p + 1, s, n) == 0;
    }
    if (n >= sizeof(buf)) {
        return false;
    }
    got = json_string(v, buf, sizeof(buf));
    return got == (long) n && memcmp(buf, s, n) == 0;
}

bool
json_put_string(char *buf, size_t size, size_t *pos, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = *pos, i;

    if (n >= size) {
        return false;
    }
    buf[n++] = '"';
    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) s[i];
        char esc = c == '"'    ? '"'
                   : c == '\\' ? '\\'
                   : c == '\n' ? 'n'
                   : c == '\r' ? 'r'
                   : c == '\t' ? 't'
                               : 0;

        if (esc != 0) {
            if (size - n < 3) {
                return false;
            }
            buf[n++] = '\\';
            buf[n++] = esc;
        } else if (c < 0x20) {
            if (size - n < 7) {
                return false;
            }
            memcpy(buf + n, "\\u00", 4);
            buf[n + 4] = hex[c >> 4];
            buf[n + 5] = hex[c & 15];
            n += 6;
        } else {
            if (size - n < 2) {
                return false;
            }
            buf[n++] = (char) c;
        }
    }
    if (size - n < 1) {
        return false;
    }
    buf[n++] = '"';
    *pos = n;
    return true;
}
