/*
 * test_te.c: the Transfer-Encoding check (worker/http/syntax.c): only a
 * final "chunked" frames a request (RFC 9112 §6.3), and no coding before
 * it can be decoded (§6.1).
 */
#include <stdbool.h>

#include "http/syntax.h"
#include "test.h"

static int
te(const char *v)
{
    return syntax_te_check(v, strlen(v), false);
}

static void
test_chunked_alone(void)
{
    ASSERT_EQ(te("chunked"), 0);
    ASSERT_EQ(te("Chunked"), 0);
    ASSERT_EQ(te("CHUNKED"), 0);
}

static void
test_not_chunked_last(void)
{
    ASSERT_EQ(te("gzip"), 400);
    ASSERT_EQ(te("identity"), 400);
    ASSERT_EQ(te("chunked, gzip"), 400);
    ASSERT_EQ(te("chunked,"), 400);
    ASSERT_EQ(te(""), 400);
    ASSERT_EQ(te("chunke"), 400);
    ASSERT_EQ(te("chunkedx"), 400);
    ASSERT_EQ(te("xchunked"), 400);
    ASSERT_EQ(te("chunked;q=1"), 400);
}

static void
test_coding_before_chunked(void)
{
    ASSERT_EQ(te("gzip, chunked"), 501);
    ASSERT_EQ(te("gzip,chunked"), 501);
    ASSERT_EQ(te("gzip,\tchunked"), 501);
    ASSERT_EQ(te("deflate, gzip, Chunked"), 501);
}

static void
test_overflow(void)
{
    /* A value longer than we keep cannot be checked: refused. */
    ASSERT_EQ(syntax_te_check("chunked", 7, true), 400);
}

static void
test_length_not_nul(void)
{
    /* Only <len> bytes count, not a terminating NUL. */
    ASSERT_EQ(syntax_te_check("chunkedgzip", 7, false), 0);
    ASSERT_EQ(syntax_te_check("gzip, chunked", 4, false), 400);
}

int
main(void)
{
    RUN(test_chunked_alone);
    RUN(test_not_chunked_last);
    RUN(test_coding_before_chunked);
    RUN(test_overflow);
    RUN(test_length_not_nul);
    TEST_EXIT();
}
