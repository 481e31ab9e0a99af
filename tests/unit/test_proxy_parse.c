/*
 * test_proxy_parse.c: the PROXY protocol header parser, v1 and v2:
 * complete headers with the client's address, every prefix asking for
 * more, and the malformed ones refused.
 */
#include <arpa/inet.h>
#include <sys/socket.h>

#include "accept/proxy_parse.h"
#include "test.h"

static int
parse(const void *buf, size_t len, struct chan_peer *peer, bool *local)
{
    memset(peer, 0, sizeof(*peer));
    *local = true;
    return proxy_parse(buf, len, peer, local);
}

/* Every strict prefix of a valid header needs more bytes. */
static void
assert_prefixes_wait(const void *hdr, size_t len)
{
    struct chan_peer peer;
    bool local;
    size_t i;

    for (i = 0; i < len; i++) {
        ASSERT_EQ(parse(hdr, i, &peer, &local), 0);
    }
}

static void
test_v1_tcp4(void)
{
    static const char hdr[] = "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n"
                              "GET / HTTP/1.1\r\n";
    size_t hlen = strlen("PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\r\n");
    struct chan_peer peer;
    bool local;
    uint8_t want[4];

    ASSERT_EQ(parse(hdr, sizeof(hdr) - 1, &peer, &local), (int) hlen);
    ASSERT(!local);
    ASSERT_EQ(peer.family, AF_INET);
    ASSERT_EQ(peer.port, 56324);
    inet_pton(AF_INET, "192.0.2.7", want);
    ASSERT(memcmp(peer.addr, want, 4) == 0);
    assert_prefixes_wait(hdr, hlen);
}

static void
test_v1_tcp6_and_unknown(void)
{
    static const char v6[] = "PROXY TCP6 2001:db8::1 2001:db8::2 1 65535\r\n";
    static const char unknown[] = "PROXY UNKNOWN anything at all\r\n";
    struct chan_peer peer;
    bool local;
    uint8_t want[16];

    ASSERT_EQ(parse(v6, sizeof(v6) - 1, &peer, &local), (int) sizeof(v6) - 1);
    ASSERT(!local);
    ASSERT_EQ(peer.family, AF_INET6);
    ASSERT_EQ(peer.port, 1);
    inet_pton(AF_INET6, "2001:db8::1", want);
    ASSERT(memcmp(peer.addr, want, 16) == 0);
    ASSERT_EQ(parse(unknown, sizeof(unknown) - 1, &peer, &local),
              (int) sizeof(unknown) - 1);
    ASSERT(local);
}

static void
test_v1_malformed(void)
{
    static const char *const bad[] = {
        "PROXY TCP4 192.0.2.7 198.51.100.1 56324 443\n", /* no CR */
        "PROXY TCP4 192.0.2.7 198.51.100.1 56324\r\n",   /* a field short */
        "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",   /* one too many */
        "PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n",    /* two spaces */
        "PROXY TCP4 192.0.2.7\t198.51.100.1 1 2\r\n",    /* a tab */
        "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",   /* v6 in TCP4 */
        "PROXY TCP6 192.0.2.7 2001:db8::2 1 2\r\n",      /* v4 in TCP6 */
        "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n", /* port range */
        "PROXY TCP4 192.0.2.7 198.51.100.1 01 2\r\n",    /* leading zero */
        "PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n",
        "PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n",
        "PROXY\r\n",
        "GET / HTTP/1.1\r\n",
    };
    char longline[200];
    struct chan_peer peer;
    bool local;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ASSERT_EQ(parse(bad[i], strlen(bad[i]), &peer, &local), -1);
    }
    /* No end of line within the spec's 107 bytes. */
    memset(longline, 'a', sizeof(longline));
    memcpy(longline, "PROXY UNKNOWN ", 14);
    ASSERT_EQ(parse(longline, PROXY_V1_MAX - 1, &peer, &local), 0);
    ASSERT_EQ(parse(longline, PROXY_V1_MAX, &peer, &local), -1);
}

/* A v2 header: signature, version/command, family, length, addresses. */
static size_t
v2_header(uint8_t *out, uint8_t cmd, uint8_t fam, const uint8_t *addrs,
          size_t alen)
{
    static const uint8_t sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                    0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

    memcpy(out, sig, 12);
    out[12] = (uint8_t) (0x20 | cmd);
    out[13] = fam;
    out[14] = (uint8_t) (alen >> 8);
    out[15] = (uint8_t) alen;
    memcpy(out + 16, addrs, alen);
    return 16 + alen;
}

static void
test_v2(void)
{
    uint8_t hdr[16 + 64],
        a4[12] = {192, 0, 2, 7, 198, 51, 100, 1, 0xdc, 0x04, 0x01, 0xbb};
    uint8_t a6[36] = {0x20,        0x01,        0x0d,
                      0xb8,        [15] = 1,    [16] = 0x20,
                      [17] = 0x01, [32] = 0x12, [33] = 0x34};
    struct chan_peer peer;
    bool local;
    size_t n;

    n = v2_header(hdr, 1, 0x11, a4, sizeof(a4));
    ASSERT_EQ(parse(hdr, n, &peer, &local), (int) n);
    ASSERT(!local);
    ASSERT_EQ(peer.family, AF_INET);
    ASSERT_EQ(peer.port, 0xdc04);
    ASSERT(memcmp(peer.addr, a4, 4) == 0);
    assert_prefixes_wait(hdr, n);

    n = v2_header(hdr, 1, 0x21, a6, sizeof(a6));
    ASSERT_EQ(parse(hdr, n, &peer, &local), (int) n);
    ASSERT(!local);
    ASSERT_EQ(peer.family, AF_INET6);
    ASSERT_EQ(peer.port, 0x1234);
    ASSERT(memcmp(peer.addr, a6, 16) == 0);

    /* LOCAL (health checks): the connection's own address holds. */
    n = v2_header(hdr, 0, 0x00, a4, 0);
    ASSERT_EQ(parse(hdr, n, &peer, &local), 16);
    ASSERT(local);
    /* UDP and UNSPEC: a header, but no TCP client to take. */
    n = v2_header(hdr, 1, 0x12, a4, sizeof(a4));
    ASSERT_EQ(parse(hdr, n, &peer, &local), (int) n);
    ASSERT(local);
}

static void
test_v2_malformed(void)
{
    uint8_t hdr[16 + 64], a4[12] = {0};
    struct chan_peer peer;
    bool local;
    size_t n;

    n = v2_header(hdr, 1, 0x11, a4, 8); /* too short for TCP4 */
    ASSERT_EQ(parse(hdr, n, &peer, &local), -1);
    n = v2_header(hdr, 2, 0x11, a4, sizeof(a4)); /* no such command */
    ASSERT_EQ(parse(hdr, n, &peer, &local), -1);
    n = v2_header(hdr, 1, 0x11, a4, sizeof(a4));
    hdr[12] = 0x11; /* version 1 in the binary form */
    ASSERT_EQ(parse(hdr, n, &peer, &local), -1);
    n = v2_header(hdr, 1, 0x11, a4, sizeof(a4));
    hdr[14] = 0x09; /* longer than PROXY_V2_MAX: refused at once */
    ASSERT_EQ(parse(hdr, 16, &peer, &local), -1);
    hdr[3] = 'x'; /* not the signature */
    ASSERT_EQ(parse(hdr, n, &peer, &local), -1);
}

int
main(void)
{
    RUN(test_v1_tcp4);
    RUN(test_v1_tcp6_and_unknown);
    RUN(test_v1_malformed);
    RUN(test_v2);
    RUN(test_v2_malformed);
    TEST_EXIT();
}
