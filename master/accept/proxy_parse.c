/*
 * proxy_parse.c: the PROXY protocol's header, as HAProxy's send-proxy
 * (v1, one text line) and send-proxy-v2 (binary) write it: a complete
 * header, a request for more bytes, or a refusal. proxy.c does the
 * reading.
 */
#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/proxy_parse.h"
#include "strlit.h"

#define PROXY_V1_SIG "PROXY "

static const uint8_t proxy_v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                         0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* Parses one decimal port ("0".."65535") of exactly <len> bytes. */
static bool
proxy_port(const char *s, size_t len, uint16_t *out)
{
    unsigned v = 0;
    size_t i;

    if (len == 0 || len > 5 || (len > 1 && s[0] == '0')) {
        return false;
    }
    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (unsigned) (s[i] - '0');
    }
    if (v > 65535) {
        return false;
    }
    *out = (uint16_t) v;
    return true;
}

static int
proxy_parse_v1(const uint8_t *buf, size_t len, struct chan_peer *peer,
               bool *local)
{
    const uint8_t *eol =
        memchr(buf, '\n', len < PROXY_V1_MAX ? len : PROXY_V1_MAX);
    char line[PROXY_V1_MAX + 1], *f[6], *save = NULL, *tok;
    size_t n, nf = 0;
    int family;

    if (eol == NULL) {
        return len >= PROXY_V1_MAX ? -1 : 0;
    }
    n = (size_t) (eol - buf) + 1;
    if (n < 8 || buf[n - 2] != '\r') {
        return -1;
    }
    memcpy(line, buf, n - 2);
    line[n - 2] = '\0';
    if (strchr(line, '\t') != NULL || strstr(line, "  ") != NULL) {
        return -1; /* single spaces only */
    }
    for (tok = strtok_r(line, " ", &save); tok != NULL && nf < 6;
         tok = strtok_r(NULL, " ", &save)) {
        f[nf++] = tok;
    }
    if (nf < 2 || strcmp(f[0], "PROXY") != 0) {
        return -1;
    }
    if (strcmp(f[1], "UNKNOWN") == 0) {
        *local = true; /* the rest of the line is to be ignored */
        return (int) n;
    }
    if (nf != 6 || tok != NULL) {
        return -1;
    }
    family = strcmp(f[1], "TCP4") == 0   ? AF_INET
             : strcmp(f[1], "TCP6") == 0 ? AF_INET6
                                         : 0;
    memset(peer, 0, sizeof(*peer));
    if (family == 0 || inet_pton(family, f[2], peer->addr) != 1
        || inet_pton(family, f[3], (uint8_t[16]){0}) != 1
        || !proxy_port(f[4], strlen(f[4]), &peer->port)
        || !proxy_port(f[5], strlen(f[5]), &(uint16_t){0})) {
        return -1;
    }
    peer->family = (uint8_t) family;
    *local = false;
    return (int) n;
}

static int
proxy_parse_v2(const uint8_t *buf, size_t len, struct chan_peer *peer,
               bool *local)
{
    size_t total;

    if (len < 16) {
        return 0;
    }
    total = 16 + ((size_t) buf[14] << 8 | buf[15]);
    if ((buf[12] & 0xf0) != 0x20 || (buf[12] & 0x0f) > 1
        || total > PROXY_V2_MAX) {
        return -1;
    }
    if (len < total) {
        return 0;
    }
    memset(peer, 0, sizeof(*peer));
    *local = true;
    if ((buf[12] & 0x0f) == 0) {
        return (int) total; /* LOCAL: the connection's own address holds */
    }
    switch (buf[13]) {
    case 0x11: /* TCP over IPv4: src, dst, sport, dport */
        if (total < 16 + 12) {
            return -1;
        }
        peer->family = AF_INET;
        memcpy(peer->addr, buf + 16, 4);
        peer->port = (uint16_t) (buf[24] << 8 | buf[25]);
        *local = false;
        break;
    case 0x21: /* TCP over IPv6 */
        if (total < 16 + 36) {
            return -1;
        }
        peer->family = AF_INET6;
        memcpy(peer->addr, buf + 16, 16);
        peer->port = (uint16_t) (buf[48] << 8 | buf[49]);
        *local = false;
        break;
    default:
        break; /* UNSPEC, UDP, UNIX: keep the connection's address */
    }
    return (int) total;
}

int
proxy_parse(const uint8_t *buf, size_t len, struct chan_peer *peer, bool *local)
{
    size_t k2 = len < sizeof(proxy_v2_sig) ? len : sizeof(proxy_v2_sig);
    size_t k1 = len < STRLEN_LIT(PROXY_V1_SIG) ? len : STRLEN_LIT(PROXY_V1_SIG);

    if (len == 0) {
        return 0;
    }
    if (memcmp(buf, proxy_v2_sig, k2) == 0) {
        return k2 < sizeof(proxy_v2_sig)
                   ? 0
                   : proxy_parse_v2(buf, len, peer, local);
    }
    if (memcmp(buf, PROXY_V1_SIG, k1) == 0) {
        return k1 < STRLEN_LIT(PROXY_V1_SIG)
                   ? 0
                   : proxy_parse_v1(buf, len, peer, local);
    }
    return -1;
}
