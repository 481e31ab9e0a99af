/*
 * buf.c: a growable byte buffer that is consumed from the front.
 */
#include <stdlib.h>
#include <string.h>

#include "http/internal.h"

/* Appends <len> bytes; returns 0, or -1 when out of memory. */
int
buf_append(struct buf *b, const void *data, size_t len)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *d;

        if (b->off > 0) {
            /* Reclaim the consumed front before growing. */
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        while (cap < b->len + len) {
            cap *= 2;
        }
        if (cap > b->cap) {
            d = realloc(b->data, cap);
            if (d == NULL) {
                return -1;
            }
            b->data = d;
            b->cap = cap;
        }
    }
    if (len > 0) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    return 0;
}

size_t
buf_pending(const struct buf *b)
{
    return b->len - b->off;
}

void
buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}
