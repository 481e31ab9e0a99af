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

#include "accept/mconn.h"
#include "accept/proxy.h"
#include "accept/proxy_parse.h"
#include "fdutil.h"
#include "log.h"

#define PROXY_TIMEOUT_S 5.0

/* The wait is over, either way. */
static void
proxy_end(struct acceptor *acc, struct mconn *c)
{
    ev_io_stop(acc->loop, &c->pio);
    ev_timer_stop(acc->loop, &c->ptimer);
    free(c->pbuf);
    c->pbuf = NULL;
    c->plen = 0;
    acc->proxy_waiting--;
}

/* Closed, as if never accepted. A graceful stop that waited for it moves
 * on at the next loop turn (the master's prepare watcher). */
static void
proxy_drop(struct acceptor *acc, struct mconn *c, const char *why)
{
    static ev_tstamp warned;

    if (ev_now(acc->loop) - warned >= 1.0) {
        warned = ev_now(acc->loop);
        log_warn(0, "closing a connection without a valid PROXY header: %s",
                 why);
    }
    proxy_end(acc, c);
    fd_close(c->fd);
    mconn_free(&acc->pool, c);
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
    struct acceptor *acc = io->data;
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
        proxy_drop(acc, c, n == 0 ? "closed before it" : strerror(errno));
        return;
    }
    hlen = proxy_parse(buf, have + (size_t) n, &peer, &local);
    if (hlen < 0 || (hlen == 0 && have + (size_t) n == sizeof(buf))) {
        proxy_drop(acc, c, "malformed");
        return;
    }
    if (hlen == 0) {
        /* All of it is header: take it, and wait for new bytes. */
        if (c->pbuf == NULL && (c->pbuf = malloc(PROXY_V2_MAX)) == NULL) {
            proxy_drop(acc, c, "out of memory");
            return;
        }
        if (proxy_recv(c->fd, c->pbuf + have, (size_t) n, 0) != n) {
            proxy_drop(acc, c, "short read");
            return;
        }
        c->plen = have + (size_t) n;
        return;
    }
    /* Consume exactly the header; the request stays for the worker. */
    if ((size_t) hlen > have
        && proxy_recv(c->fd, buf, (size_t) hlen - have, 0)
               != (ssize_t) ((size_t) hlen - have)) {
        proxy_drop(acc, c, "short read");
        return;
    }
    proxy_end(acc, c);
    if (!local) {
        c->peer = peer;
    }
    mconn_arrive(acc, c);
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
proxy_wait(struct acceptor *acc, struct mconn *c)
{
    acc->proxy_waiting++;
    ev_io_init(&c->pio, proxy_read_cb, c->fd, EV_READ);
    c->pio.data = acc;
    ev_timer_init(&c->ptimer, proxy_timeout_cb, PROXY_TIMEOUT_S, 0.);
    c->ptimer.data = acc;
    ev_io_start(acc->loop, &c->pio);
    ev_timer_start(acc->loop, &c->ptimer);
}
