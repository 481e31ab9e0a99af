/*
 * oneshot.c: a tiny server for the master's side doors, the admin HTTP
 * listener and the control socket: each connection sends one request
 * (complete when the server's complete() says so, or at the client's
 * half-close, within ONESHOT_IN_MAX bytes), gets one answer, and is
 * closed, after draining what it sent beyond the request so the close is
 * not a reset that loses the answer. A connection idle for
 * ONESHOT_TIMEOUT_S is closed. At most ONESHOT_CONNS at once; the
 * watchers have the lowest priority, so the service always comes first.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fdutil.h"
#include "master.h"

#define ONESHOT_CONNS 32
#define ONESHOT_TIMEOUT_S 5.0

struct oneshot_conn {
    TAILQ_ENTRY(oneshot_conn) link;
    struct oneshot *srv;
    int fd; /* owned */
    ev_io io;
    ev_timer timer;
    char in[ONESHOT_IN_MAX];
    size_t inlen;
    struct sbuf out;
    size_t outoff;
    bool answered;
    bool lingering; /* answered; our side shut; reading to EOF */
};

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *io, int revents);

static void
oneshot_free(struct oneshot_conn *c)
{
    struct oneshot *srv = c->srv;
    struct ev_loop *loop = srv->m->loop;

    ev_io_stop(loop, &c->io);
    ev_timer_stop(loop, &c->timer);
    fd_close(c->fd);
    sbuf_free(&c->out);
    TAILQ_REMOVE(&srv->conns, c, link);
    srv->nconns--;
    free(c);
    if (srv->fd != -1) {
        ev_io_start(loop, &srv->accept_w); /* below the cap again */
    }
}

/* Answered: shut our side and read what the client still sends. */
static void
oneshot_linger(struct oneshot_conn *c)
{
    struct ev_loop *loop = c->srv->m->loop;

    if (shutdown(c->fd, SHUT_WR) == -1) {
        oneshot_free(c);
        return;
    }
    c->lingering = true;
    ev_io_stop(loop, &c->io);
    ev_io_set(&c->io, c->fd, EV_READ);
    ev_io_start(loop, &c->io);
    ev_timer_stop(loop, &c->timer);
    ev_timer_set(&c->timer, 1.0, 0.);
    ev_timer_start(loop, &c->timer);
}

static void
oneshot_io_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct oneshot_conn *c = container_of(io, struct oneshot_conn, io);
    struct oneshot *srv = c->srv;
    ssize_t n;

    (void) revents;
    if (c->lingering) {
        char sink[4096];

        n = recv(c->fd, sink, sizeof(sink), 0);
        if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)) {
            oneshot_free(c);
        }
        return;
    }
    if (!c->answered) {
        n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, 0);
        if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
            return;
        }
        if (n < 0 || (n == 0 && c->inlen == 0)) {
            oneshot_free(c);
            return;
        }
        c->inlen += (size_t) n;
        /* Activity moves the deadline. */
        ev_timer_again(loop, &c->timer);
        if (n > 0 && !srv->complete(c->in, c->inlen)
            && c->inlen < sizeof(c->in)) {
            return; /* more to come; a half-close (n == 0) ends it too */
        }
        srv->handle(srv, c->in, c->inlen, &c->out);
        c->answered = true;
        if (c->out.failed) {
            oneshot_free(c);
            return;
        }
        ev_io_stop(loop, io);
        ev_io_set(io, c->fd, EV_WRITE);
        ev_io_start(loop, io);
    }
    while (c->outoff < c->out.len) {
        n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff,
                 MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            oneshot_free(c);
            return;
        }
        c->outoff += (size_t) n;
        ev_timer_again(loop, &c->timer);
    }
    oneshot_linger(c);
}

static void
oneshot_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop;
    (void) revents;
    oneshot_free(container_of(t, struct oneshot_conn, timer));
}

static void
oneshot_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct oneshot *srv = container_of(io, struct oneshot, accept_w);
    int i;

    (void) revents;
    for (i = 0; i < 16; i++) {
        struct oneshot_conn *c;
        int fd;

        if (srv->nconns >= ONESHOT_CONNS) {
            ev_io_stop(loop, io); /* oneshot_free() resumes */
            return;
        }
        fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd == -1) {
            return; /* EAGAIN, or a full table: the next event retries */
        }
        c = calloc(1, sizeof(*c));
        if (c == NULL) {
            fd_close(fd);
            return;
        }
        c->srv = srv;
        c->fd = fd;
        ev_io_init(&c->io, oneshot_io_cb, fd, EV_READ);
        ev_set_priority(&c->io, EV_MINPRI);
        ev_timer_init(&c->timer, oneshot_timeout_cb, ONESHOT_TIMEOUT_S,
                      ONESHOT_TIMEOUT_S);
        ev_io_start(loop, &c->io);
        ev_timer_start(loop, &c->timer);
        TAILQ_INSERT_TAIL(&srv->conns, c, link);
        srv->nconns++;
    }
}

/* Serves listening socket <fd> (taken) with <complete> and <handle>. */
void
oneshot_start(struct oneshot *srv, struct master *m, int fd,
              bool (*complete)(const char *, size_t),
              void (*handle)(struct oneshot *, const char *, size_t,
                             struct sbuf *))
{
    srv->m = m;
    srv->fd = fd;
    srv->complete = complete;
    srv->handle = handle;
    TAILQ_INIT(&srv->conns);
    ev_io_init(&srv->accept_w, oneshot_accept_cb, fd, EV_READ);
    ev_set_priority(&srv->accept_w, EV_MINPRI);
    ev_io_start(m->loop, &srv->accept_w);
}

void
oneshot_stop(struct oneshot *srv)
{
    struct oneshot_conn *c;

    if (srv->m == NULL) {
        return;
    }
    if (srv->fd != -1) {
        ev_io_stop(srv->m->loop, &srv->accept_w);
        fd_close(srv->fd);
        srv->fd = -1;
    }
    while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
        oneshot_free(c);
    }
}
