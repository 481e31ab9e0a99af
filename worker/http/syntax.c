/*
 * syntax.c: pure checks of request pieces (see syntax.h).
 */
#include <string.h>
#include <strings.h>

#include "http/syntax.h"

bool
syntax_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
           || (ch >= '0' && ch <= '9')
           || (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

bool
syntax_host_valid(const char *h, size_t len)
{
    size_t i = 0;

    if (len > 0 && h[0] == '[') {
        for (i = 1; i < len && h[i] != ']'; i++) {
            if (!strchr("0123456789abcdefABCDEF:.vV-_~!$&'()*+,;=", h[i])) {
                return false;
            }
        }
        if (i == len) {
            return false;
        }
        i++;
    } else {
        for (; i < len && h[i] != ':'; i++) {
            unsigned char ch = (unsigned char) h[i];

            if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z')
                && !(ch >= '0' && ch <= '9')
                && !strchr("-._~%!$&'()*+,;=", ch)) {
                return false;
            }
        }
    }
    if (i < len) {
        if (h[i] != ':') {
            return false;
        }
        for (i++; i < len; i++) {
            if (h[i] < '0' || h[i] > '9') {
                return false;
            }
        }
    }
    return true;
}

int
syntax_te_check(const char *v, size_t len, bool overflow)
{
    const char *last = v;
    size_t i, n;

    if (overflow) {
        return 400;
    }
    for (i = 0; i < len; i++) {
        if (v[i] == ',') {
            last = v + i + 1;
        }
    }
    while (last < v + len && (*last == ' ' || *last == '\t')) {
        last++;
    }
    n = (size_t) (v + len - last);
    if (n != 7 || strncasecmp(last, "chunked", 7) != 0) {
        return 400;
    }
    return last == v ? 0 : 501;
}
