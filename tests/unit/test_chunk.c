/*
 * test_chunk.c: the chunk-size line scanner (worker/http/chunk.c): where
 * the size's digits end, where the line ends, and which extensions RFC
 * 9112 §7.1.1 allows, in one piece and split across reads.
 */
#include "http/chunk.h"
#include "http/syntax.h"
#include "test.h"

/* Scans <s> from a new line; *<at> as an offset into <s>. */
static enum chunk_verdict
scan(struct chunk_line *l, const char *s, long *at)
{
    const char *p;
    enum chunk_verdict v = chunk_scan(l, s, s + strlen(s), &p);

    *at = p - s;
    return v;
}

/* A whole line from its start: the verdict after the size's digits. */
static enum chunk_verdict
line(const char *s, long *end)
{
    struct chunk_line l;
    long at;
    enum chunk_verdict v;

    chunk_line_start(&l);
    v = scan(&l, s, &at);
    if (v != CHUNK_DIGITS) {
        *end = at;
        return v;
    }
    v = scan(&l, s + at, end);
    *end += at;
    return v;
}

static void
test_size_only(void)
{
    struct chunk_line l;
    long at;

    /* No extension: the whole line is llhttp's, digits included. */
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, "1a\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 0);
    ASSERT_EQ(l.state, CHUNK_NONE);
    /* What is no size at all is llhttp's to refuse. */
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, ";a\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 0);
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, "x\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 0);
}

static void
test_digits_then_extensions(void)
{
    struct chunk_line l;
    long at;

    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, "ff;a=b\r\n", &at), CHUNK_DIGITS);
    ASSERT_EQ(at, 2); /* the ";" is read again, as an extension's */
    ASSERT_EQ(scan(&l, ";a=b\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 4); /* the CR */
    ASSERT_EQ(l.state, CHUNK_NONE);
    ASSERT_EQ(l.ext_len, 4);
}

static void
test_valid_extensions(void)
{
    static const char *const ok[] = {
        "1;a\r\n",
        "1;a=b\r\n",
        "1;a=b;c=d\r\n",
        "1;a;b;c\r\n",
        "1 ;a=b\r\n",
        "1\t; a = b\r\n",
        "1;a =\t\"b\"\r\n",
        "1;a=\"\"\r\n",
        "1;a=\"x y\\\"z\\\\\"\r\n",
        "1;a=\"\x80\xff\"\r\n",
        "1;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\n",
        "1;a=\"b\";c\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long end;

        if (line(ok[i], &end) != CHUNK_END || end != (long) strlen(ok[i]) - 2) {
            fprintf(stderr, "refused: %s\n", ok[i]);
            ASSERT(0);
        }
    }
}

static void
test_malformed_extensions(void)
{
    static const char *const bad[] = {
        "1;\r\n",
        "1;=b\r\n",
        "1;a=\r\n",
        "1;a b\r\n",
        "1;a=b c\r\n",
        "1;a=b \r\n",
        "1 \r\n",
        "1;a=\"b\"c\r\n",
        "1;a=\"b\x01\"\r\n",
        "1;a=\"\x7f\"\r\n",
        "1;a(b\r\n",
        "1;a=b(\r\n",
        "1;a=\"b\"\"\r\n",
        "1;a=\"b\\\x01\"\r\n",
        "1 x\r\n",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long end;

        if (line(bad[i], &end) != CHUNK_BAD) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            ASSERT(0);
        }
    }
}

static void
test_split_reads(void)
{
    struct chunk_line l;
    long at;

    /* Digits in two reads: both pieces are the size's. */
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, "1", &at), CHUNK_MORE);
    ASSERT_EQ(at, 1);
    ASSERT_EQ(l.state, CHUNK_SIZE);
    ASSERT_EQ(scan(&l, "0;a", &at), CHUNK_DIGITS);
    ASSERT_EQ(at, 1);
    ASSERT_EQ(scan(&l, ";a", &at), CHUNK_MORE);
    ASSERT_EQ(at, 2);
    /* A quoted string split at its backslash. */
    ASSERT_EQ(scan(&l, "=\"x\\", &at), CHUNK_MORE);
    ASSERT_EQ(l.state, CHUNK_QUOTED_PAIR);
    ASSERT_EQ(scan(&l, "\"\"\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 2);
    /* The line's end in the next read, after digits only. */
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, "2", &at), CHUNK_MORE);
    ASSERT_EQ(scan(&l, "\r\n", &at), CHUNK_END);
    ASSERT_EQ(at, 0);
}

static void
test_extension_limit(void)
{
    char s[CHUNK_EXT_MAX + 8];
    struct chunk_line l;
    long at;

    /* ";" and CHUNK_EXT_MAX - 1 name bytes: at the limit, accepted. */
    memset(s, 'a', sizeof(s));
    s[0] = '1';
    s[1] = ';';
    s[CHUNK_EXT_MAX + 1] = '\0';
    chunk_line_start(&l);
    ASSERT_EQ(scan(&l, s, &at), CHUNK_DIGITS);
    ASSERT_EQ(scan(&l, s + at, &at), CHUNK_MORE);
    ASSERT_EQ(l.ext_len, CHUNK_EXT_MAX);
    /* One more byte is over it, even in the next read. */
    ASSERT_EQ(scan(&l, "a", &at), CHUNK_LONG);
}

static void
test_tchar(void)
{
    ASSERT(syntax_tchar('a') && syntax_tchar('Z') && syntax_tchar('0'));
    ASSERT(syntax_tchar('!') && syntax_tchar('~') && syntax_tchar('|'));
    ASSERT(!syntax_tchar('(') && !syntax_tchar('"') && !syntax_tchar(' '));
    ASSERT(!syntax_tchar('\0') && !syntax_tchar(0x7f) && !syntax_tchar(0x80));
}

int
main(void)
{
    RUN(test_size_only);
    RUN(test_digits_then_extensions);
    RUN(test_valid_extensions);
    RUN(test_malformed_extensions);
    RUN(test_split_reads);
    RUN(test_extension_limit);
    RUN(test_tchar);
    TEST_EXIT();
}
