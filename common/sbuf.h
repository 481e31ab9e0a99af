/*
 * sbuf.h: a growable text buffer for answers built piece by piece (the
 * stats, the admin and control answers, Node's IPC lines). On allocation
 * failure it stops growing and says so with .failed, so a caller checks
 * once at the end instead of after every piece.
 */
#ifndef HS_COMMON_SBUF_H
#define HS_COMMON_SBUF_H

#include <stdbool.h>
#include <stddef.h>

struct sbuf {
    char *data; /* owned */
    size_t len, cap;
    bool failed;
};

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void sbuf_free(struct sbuf *b);

#endif
