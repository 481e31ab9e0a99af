/*
 * sbuf.c: the growable text buffer (sbuf.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sbuf.h"

void
sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->failed) {
        return;
    }
    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if ((size_t) n < b->cap - b->len) {
            b->len += (size_t) n;
            return;
        }
        {
            size_t cap = (b->cap + (size_t) n + 1) * 2;
            char *d = realloc(b->data, cap);

            if (d == NULL) {
                b->failed = true;
                return;
            }
            b->data = d;
            b->cap = cap;
        }
    }
}

void
sbuf_free(struct sbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
