/*
 * syntax.h: pure checks of request pieces against RFC 9110/9112's
 * grammar, over bytes alone (no connection, no parser state), so that
 * they can be tested on their own (tests/unit/test_te.c).
 */
#ifndef HS_WORKER_HTTP_SYNTAX_H
#define HS_WORKER_HTTP_SYNTAX_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 9110 §5.6.2 tchar. */
bool syntax_tchar(unsigned char ch);

/* RFC 3986 host [ ":" port ], as RFC 9112 §3.2 requires of Host. */
bool syntax_host_valid(const char *h, size_t len);

/*
 * The Transfer-Encoding value <v> (trimmed; <overflow>: longer than we
 * keep): 0 when it is just "chunked"; 400 when the final coding is not
 * chunked (RFC 9112 §6.3: no reliable length); 501 when chunked follows
 * another coding, none of which we decode (§6.1).
 */
int syntax_te_check(const char *v, size_t len, bool overflow);

#endif
