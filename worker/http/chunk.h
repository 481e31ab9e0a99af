/*
 * chunk.h: the grammar of a chunk-size line's extensions (RFC 9112
 * §7.1.1), as a pure scanner over bytes that may arrive in pieces:
 *
 *   chunk-size *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted ) ] )
 *
 * http.c reads chunk-size lines itself because llhttp's strict mode
 * refuses valid extensions; it hands llhttp the size's digits and the
 * line's end, and the scanner says where those are.
 */
#ifndef HS_WORKER_HTTP_CHUNK_H
#define HS_WORKER_HTTP_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHUNK_EXT_MAX 4096 /* extensions of one chunk; more gets 413 */

/* Where a chunk-size line is in the grammar. */
enum chunk_state {
    CHUNK_NONE,         /* not in a chunk-size line: llhttp parses */
    CHUNK_SIZE,         /* the size's digits, which llhttp checks */
    CHUNK_BWS,          /* whitespace before a ";" */
    CHUNK_SEMI,         /* after ";": whitespace, then a name */
    CHUNK_NAME,         /* in a name */
    CHUNK_NAME_BWS,     /* whitespace after a name: "=" or ";" next */
    CHUNK_EQ,           /* after "=": whitespace, then the value */
    CHUNK_TOKEN,        /* in a token value */
    CHUNK_QUOTED,       /* in a quoted-string value */
    CHUNK_QUOTED_PAIR,  /* after a backslash in it */
    CHUNK_AFTER_QUOTED, /* after its closing quote */
};

/* A chunk-size line being read. */
struct chunk_line {
    uint8_t state;  /* enum chunk_state */
    bool sized;     /* a digit of the size was seen */
    size_t ext_len; /* extension bytes seen */
};

enum chunk_verdict {
    CHUNK_MORE,   /* all of [p, end) read; the line goes on. In state
                   * CHUNK_SIZE, [p, end) were digits of the size. */
    CHUNK_DIGITS, /* the size's digits end at *at, from p: extensions
                   * follow; scan again from *at */
    CHUNK_END,    /* the extensions (if any) end at *at, where the
                   * line's end is (or what is no size at all): the
                   * state is CHUNK_NONE again */
    CHUNK_BAD,    /* a malformed extension: 400 */
    CHUNK_LONG,   /* extensions over CHUNK_EXT_MAX bytes: 413 */
};

/* A new line: its size comes first. */
void chunk_line_start(struct chunk_line *l);

/* Reads [p, end) of the line, from where <l> left off. */
enum chunk_verdict chunk_scan(struct chunk_line *l, const char *p,
                              const char *end, const char **at);

#endif
