/*
 * proxy.c: the PROXY protocol, v1 (text) and v2 (binary), on the service
 * port (--proxy-protocol), as HAProxy's send-proxy / send-proxy-v2 and
 * most load balancers speak it.
 *
 * The master reads the header itself, before the handoff, so that the
 * real client address reaches the scheduler (ip-hash), the trace and, with
 * the connection, the worker (access log). It peeks (MSG_PEEK): while the
 * header is incomplete every byte seen is part of it and is consumed into
 * a small buffer (so the level-triggered watcher waits for new bytes
 * instead of firing again); once it is complete, exactly its remaining
 * bytes are consumed, never a byte of the request after it. A connection
 * whose header is malformed or does not arrive within PROXY_TIMEOUT_S is
 * closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fdutil.h"
#include "log.h"
#include "master.h"

#define PROXY_TIMEOUT_S 5.0
#define PROXY_V1_MAX 107
#define PROXY_V2_MAX (16 + 2048) /* addresses and a sane amount of TLVs */

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

/*
 * Parses a PROXY header at the start of <buf>. Returns its length when
 * complete (with the client in *peer unless *local), 0 if more bytes are
 * needed, -1 if this is not a valid header.
 */
int
proxy_parse(const uint8_t *buf, size_t len, struct chan_peer *peer, bool *local)
{
    size_t k = len < 12 ? len : 12;

    if (len == 0) {
        return 0;
    }
    if (memcmp(buf, proxy_v2_sig, k) == 0) {
        return len < 12 ? 0 : proxy_parse_v2(buf, len, peer, local);
    }
    if (memcmp(buf, "PROXY ", len < 6 ? len : 6) == 0) {
        return len < 6 ? 0 : proxy_parse_v1(buf, len, peer, local);
    }
    return -1;
}

/* The wait is over, either way. */
static void
proxy_end(struct master *m, struct mconn *c)
{
    ev_io_stop(m->loop, &c->pio);
    ev_timer_stop(m->loop, &c->ptimer);
    free(c->pbuf);
    c->pbuf = NULL;
    c->plen = 0;
    m->proxy_waiting--;
}

static void
proxy_drop(struct master *m, struct mconn *c, const char *why)
{
    static ev_tstamp warned;

    if (ev_now(m->loop) - warned >= 1.0) {
        warned = ev_now(m->loop);
        log_warn(0, "closing a connection without a valid PROXY header: %s",
                 why);
    }
    proxy_end(m, c);
    fd_close(c->fd);
    mconn_free(&m->pool, c);
    master_stop_progress(m);
}

/* recv() retried on EINTR. */
static ssize_t
proxy_recv(int fd, void *buf, size_t len, int flags)
{
    ssize_t n;

    do {
        n = recv(fd, buf, len, flags);
    } while (n == -1 && errno == EINTR);
    return n;
}

static void
proxy_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct mconn *c = container_of(io, struct mconn, pio);
    struct master *m = io->data;
    uint8_t buf[PROXY_V2_MAX];
    struct chan_peer peer;
    bool local = true;
    size_t have = c->plen;
    ssize_t n;
    int hlen;

    (void) loop;
    (void) revents;
    memcpy(buf, c->pbuf != NULL ? c->pbuf : buf, have);
    n = proxy_recv(c->fd, buf + have, sizeof(buf) - have, MSG_PEEK);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n <= 0) {
        proxy_drop(m, c, n == 0 ? "closed before it" : strerror(errno));
        return;
    }
    hlen = proxy_parse(buf, have + (size_t) n, &peer, &local);
    if (hlen < 0 || (hlen == 0 && have + (size_t) n == sizeof(buf))) {
        proxy_drop(m, c, "malformed");
        return;
    }
    if (hlen == 0) {
        /* All of it is header: take it, and wait for new bytes. */
        if (c->pbuf == NULL && (c->pbuf = malloc(PROXY_V2_MAX)) == NULL) {
            proxy_drop(m, c, "out of memory");
            return;
        }
        if (proxy_recv(c->fd, c->pbuf + have, (size_t) n, 0) != n) {
            proxy_drop(m, c, "short read");
            return;
        }
        c->plen = have + (size_t) n;
        return;
    }
    /* Consume exactly the header; the request stays for the worker. */
    if ((size_t) hlen > have
        && proxy_recv(c->fd, buf, (size_t) hlen - have, 0)
               != (ssize_t) ((size_t) hlen - have)) {
        proxy_drop(m, c, "short read");
        return;
    }
    proxy_end(m, c);
    if (!local) {
        c->peer = peer;
    }
    acceptor_arrive(m, c);
}

static void
proxy_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct mconn *c = container_of(t, struct mconn, ptimer);

    (void) loop;
    (void) revents;
    proxy_drop(t->data, c, "none within 5 s");
}

/* Waits for <c>'s PROXY header, then gives it to the scheduler. */
void
proxy_wait(struct master *m, struct mconn *c)
{
    m->proxy_waiting++;
    ev_io_init(&c->pio, proxy_read_cb, c->fd, EV_READ);
    c->pio.data = m;
    ev_timer_init(&c->ptimer, proxy_timeout_cb, PROXY_TIMEOUT_S, 0.);
    c->ptimer.data = m;
    ev_io_start(m->loop, &c->pio);
    ev_timer_start(m->loop, &c->ptimer);
}
