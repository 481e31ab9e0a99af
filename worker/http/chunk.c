/*
 * chunk.c: the chunk-size line scanner (see chunk.h). Extensions are
 * checked against the grammar and skipped, as RFC 9112 §7.1.1 has a
 * recipient do with extensions it does not understand (all of them).
 */
#include "http/chunk.h"
#include "http/syntax.h"

void
chunk_line_start(struct chunk_line *l)
{
    l->state = CHUNK_SIZE;
    l->sized = false;
    l->ext_len = 0;
}

static bool
chunk_hex(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')
           || (ch >= 'A' && ch <= 'F');
}

/* qdtext and quoted-pair's second byte: HTAB, SP, VCHAR, obs-text. */
static bool
chunk_qtext_bad(unsigned char ch, bool ws)
{
    return !ws && (ch < 0x21 || ch == 0x7f);
}

/*
 * One byte of the extensions, in states past CHUNK_SIZE. Returns false
 * for a malformed one; sets *<end> when the line's end (its CR) is here.
 */
static bool
chunk_ext_byte(struct chunk_line *l, unsigned char ch, bool *end)
{
    bool ws = ch == ' ' || ch == '\t';

    switch (l->state) {
    case CHUNK_BWS:
        if (ch == ';') {
            l->state = CHUNK_SEMI;
            return true;
        }
        return ws;
    case CHUNK_SEMI:
        if (syntax_tchar(ch)) {
            l->state = CHUNK_NAME;
            return true;
        }
        return ws;
    case CHUNK_NAME:
    case CHUNK_NAME_BWS:
        if (ch == '=') {
            l->state = CHUNK_EQ;
        } else if (ch == ';') {
            l->state = CHUNK_SEMI;
        } else if (ws) {
            l->state = CHUNK_NAME_BWS;
        } else if (ch == '\r' && l->state == CHUNK_NAME) {
            *end = true;
        } else {
            return l->state != CHUNK_NAME_BWS && syntax_tchar(ch);
        }
        return true;
    case CHUNK_EQ:
        if (ch == '"') {
            l->state = CHUNK_QUOTED;
        } else if (syntax_tchar(ch)) {
            l->state = CHUNK_TOKEN;
        } else {
            return ws;
        }
        return true;
    case CHUNK_TOKEN:
    case CHUNK_AFTER_QUOTED:
        if (ch == ';') {
            l->state = CHUNK_SEMI;
        } else if (ws) {
            l->state = CHUNK_BWS;
        } else if (ch == '\r') {
            *end = true;
        } else {
            return l->state != CHUNK_AFTER_QUOTED && syntax_tchar(ch);
        }
        return true;
    case CHUNK_QUOTED:
        if (ch == '"') {
            l->state = CHUNK_AFTER_QUOTED;
        } else if (ch == '\\') {
            l->state = CHUNK_QUOTED_PAIR;
        } else {
            return !chunk_qtext_bad(ch, ws);
        }
        return true;
    case CHUNK_QUOTED_PAIR:
        l->state = CHUNK_QUOTED;
        return !chunk_qtext_bad(ch, ws);
    default:
        *end = true;
        return true;
    }
}

enum chunk_verdict
chunk_scan(struct chunk_line *l, const char *p, const char *end,
           const char **at)
{
    const char *digits = p;

    for (; p < end; p++) {
        unsigned char ch = (unsigned char) *p;
        bool line_end = false;

        if (l->state == CHUNK_SIZE) {
            if (chunk_hex(ch)) {
                l->sized = true;
                continue;
            }
            if (!l->sized || (ch != ';' && ch != ' ' && ch != '\t')) {
                /* The line's end, or what llhttp refuses as a size. */
                l->state = CHUNK_NONE;
                *at = digits;
                return CHUNK_END;
            }
            /* This byte is read again in CHUNK_BWS, which takes a ";"
             * or whitespace as CHUNK_SIZE would have. */
            l->state = CHUNK_BWS;
            *at = p;
            return CHUNK_DIGITS;
        }
        if (!chunk_ext_byte(l, ch, &line_end)) {
            return CHUNK_BAD;
        }
        if (line_end) {
            l->state = CHUNK_NONE;
            *at = p;
            return CHUNK_END;
        }
        if (++l->ext_len > CHUNK_EXT_MAX) {
            return CHUNK_LONG;
        }
    }
    *at = end;
    return CHUNK_MORE;
}
