/*
 * oneshot.c: a tiny server for the master's side doors, the admin HTTP
 * listener and the control socket: each connection sends one request
 * (complete when the server's complete() says so, or at the client's
 * half-close, within ONESHOT_IN_MAX bytes), gets one answer, and is
 * closed, after draining what it sent beyond the request so the close is
 * not a reset that loses the answer. A connection idle for
 * ONESHOT_TIMEOUT_S is closed. At most ONESHOT_CONNS at once; the
 * watchers have the lowest priority, so the service always comes first.
 *
 * One exception, for `handoffctl trace`: handle() may call oneshot_stream()
 * to keep its connection open after the answer; what oneshot_broadcast()
 * offers is then sent to it until the client closes (or half-closes, or
 * sends more than ONESHOT_IN_MAX bytes, which are all ignored). A
 * stream never holds more than ONESHOT_STREAM_MAX unsent bytes: a client
 * that does not keep up loses lines, never blocks or bloats the master,
 * and is told how many it lost ("... N lines dropped") once it catches up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "container_of.h"
#include "fdutil.h"
#include "ops/oneshot.h"

#define ONESHOT_CONNS 32
#define ONESHOT_TIMEOUT_S 5.0
#define ONESHOT_STREAMS 8        /* of the ONESHOT_CONNS */
#define ONESHOT_STREAM_MAX 65536 /* unsent bytes per stream */
#define ONESHOT_DROP_MARK_MAX 64 /* room kept for "... N lines dropped" */

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
    bool lingering;     /* answered; our side shut; reading to EOF */
    bool stream_wanted; /* handle() called oneshot_stream() */
    bool streaming;     /* answered; takes oneshot_broadcast()'s lines */
    /* Streaming: lines lost since the last marker; while non-zero, lines
     * are dropped until the backlog has halved (hysteresis, so that a
     * slow client gets runs of lines rather than one in two). */
    unsigned long long dropped;
    size_t ignored; /* streaming: bytes the follower sent since */
};

static void oneshot_accept_cb(struct ev_loop *loop, ev_io *io, int revents);

static void
oneshot_free(struct oneshot_conn *c)
{
    struct oneshot *srv = c->srv;
    struct ev_loop *loop = srv->loop;

    ev_io_stop(loop, &c->io);
    ev_timer_stop(loop, &c->timer);
    fd_close(c->fd);
    sbuf_free(&c->out);
    TAILQ_REMOVE(&srv->conns, c, link);
    srv->nconns--;
    if (c->streaming) {
        srv->nstreams--;
    }
    if (srv->answering == c) {
        srv->answering = NULL;
    }
    if (c->streaming && srv->streams_changed != NULL) {
        srv->streams_changed(srv);
    }
    free(c);
    if (srv->fd != -1) {
        ev_io_start(loop, &srv->accept_w); /* below the cap again */
    }
}

/* Watches a stream for reading always (its close ends it), and for
 * writing while something waits to be sent. */
static void
oneshot_stream_arm(struct oneshot_conn *c)
{
    struct ev_loop *loop = c->srv->loop;
    int want = EV_READ | (c->outoff < c->out.len ? EV_WRITE : 0);

    if ((c->io.events & (EV_READ | EV_WRITE)) != want) {
        ev_io_stop(loop, &c->io);
        ev_io_set(&c->io, c->fd, want);
        ev_io_start(loop, &c->io);
    }
}

/*
 * Appends <len> bytes to stream <c> if the bytes still unsent stay within
 * ONESHOT_STREAM_MAX (minus <reserve>); returns false, appending nothing,
 * if not. The sent prefix is reclaimed only once it is at least as long
 * as what remains, so the copying stays linear in what is sent.
 */
static bool
oneshot_stream_append(struct oneshot_conn *c, const char *data, size_t len,
                      size_t reserve)
{
    size_t pending = c->out.len - c->outoff;

    if (pending + len + reserve > ONESHOT_STREAM_MAX) {
        return false;
    }
    if (c->outoff > 0
        && (c->out.len + len > c->out.cap || c->outoff >= pending)) {
        memmove(c->out.data, c->out.data + c->outoff, pending);
        c->out.len = pending;
        c->outoff = 0;
    }
    memcpy(c->out.data + c->out.len, data, len);
    c->out.len += len;
    return true;
}

/* Once a dropping stream's backlog has halved: says how much was lost. */
static void
oneshot_stream_mark(struct oneshot_conn *c)
{
    char mark[ONESHOT_DROP_MARK_MAX];
    int n;

    if (c->dropped == 0 || c->out.len - c->outoff > ONESHOT_STREAM_MAX / 2) {
        return;
    }
    n = snprintf(mark, sizeof(mark), "... %llu line%s dropped\n", c->dropped,
                 c->dropped == 1 ? "" : "s");
    if (n > 0 && (size_t) n < sizeof(mark)
        && oneshot_stream_append(c, mark, (size_t) n, 0)) {
        c->dropped = 0;
    }
}

/*
 * Sends what stream <c> has pending. Returns 0 when the rest must wait
 * for EV_WRITE (or nothing is left), -1 when the client is gone.
 */
static int
oneshot_stream_send(struct oneshot_conn *c)
{
    ssize_t n;

    for (;;) {
        oneshot_stream_mark(c);
        if (c->outoff == c->out.len) {
            c->outoff = c->out.len = 0;
            return 0;
        }
        n = send(c->fd, c->out.data + c->outoff, c->out.len - c->outoff,
                 MSG_NOSIGNAL);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            return 0;
        }
        if (n <= 0) {
            return -1; /* EPIPE, ECONNRESET: the client went away */
        }
        c->outoff += (size_t) n;
    }
}

/* A stream's events: its client closing, or room to send. */
static void
oneshot_stream_io(struct oneshot_conn *c, int revents)
{
    if (revents & EV_READ) {
        char sink[512];
        ssize_t n = recv(c->fd, sink, sizeof(sink), 0);

        /* What a follower sends is ignored; its EOF (a close or a
         * half-close) ends the stream, so a follower that has gone is
         * noticed even when there is nothing to send it. Ignored up to
         * ONESHOT_IN_MAX (a terminal's Enter), not forever: a follower
         * that keeps sending would keep the master reading for nothing,
         * a core's worth for one that floods. */
        if (n > 0) {
            c->ignored += (size_t) n;
        }
        if (n == 0 || (n == -1 && errno != EINTR && errno != EAGAIN)
            || c->ignored > ONESHOT_IN_MAX) {
            oneshot_free(c);
            return;
        }
    }
    if ((revents & EV_WRITE) && oneshot_stream_send(c) == -1) {
        oneshot_free(c);
        return;
    }
    oneshot_stream_arm(c);
}

/* The answer is written: <c> becomes a stream (oneshot_stream()). */
static void
oneshot_stream_begin(struct oneshot_conn *c)
{
    struct oneshot *srv = c->srv;
    char *d;

    /* One fixed allocation for the stream's life; the answer is in it. */
    if (c->out.cap < ONESHOT_STREAM_MAX) {
        d = realloc(c->out.data, ONESHOT_STREAM_MAX);
        if (d == NULL) {
            oneshot_free(c);
            return;
        }
        c->out.data = d;
        c->out.cap = ONESHOT_STREAM_MAX;
    }
    c->streaming = true;
    srv->nstreams++;
    ev_timer_stop(srv->loop, &c->timer); /* a follower may idle */
    if (srv->streams_changed != NULL) {
        srv->streams_changed(srv);
    }
    oneshot_stream_io(c, EV_WRITE);
}

/*
 * Called from handle(): the connection being answered stays open after
 * its answer and receives oneshot_broadcast()'s data. Returns false (and
 * the connection is answered and closed as usual) if ONESHOT_STREAMS are
 * open already.
 */
bool
oneshot_stream(struct oneshot *srv)
{
    if (srv->answering == NULL || srv->nstreams >= ONESHOT_STREAMS) {
        return false;
    }
    srv->answering->stream_wanted = true;
    return true;
}

/*
 * Offers <len> bytes (whole lines) to every stream of <srv>. A stream
 * whose backlog is full drops them and counts a line; nothing is sent
 * here, the streams' write watchers do that.
 */
void
oneshot_broadcast(struct oneshot *srv, const char *data, size_t len)
{
    struct oneshot_conn *c;

    TAILQ_FOREACH(c, &srv->conns, link) {
        if (!c->streaming) {
            continue;
        }
        oneshot_stream_mark(c);
        if (c->dropped > 0
            || !oneshot_stream_append(c, data, len, ONESHOT_DROP_MARK_MAX)) {
            c->dropped++;
            continue;
        }
        oneshot_stream_arm(c);
    }
}

/* Answered: shut our side and read what the client still sends. */
static void
oneshot_linger(struct oneshot_conn *c)
{
    struct ev_loop *loop = c->srv->loop;

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

    if (c->streaming) {
        oneshot_stream_io(c, revents);
        return;
    }
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
        srv->answering = c;
        srv->handle(srv, c->in, c->inlen, &c->out);
        srv->answering = NULL;
        c->answered = true;
        if (c->out.failed) {
            oneshot_free(c);
            return;
        }
        if (c->stream_wanted) {
            oneshot_stream_begin(c);
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
oneshot_start(struct oneshot *srv, struct ev_loop *loop, void *ctx, int fd,
              bool (*complete)(const char *, size_t),
              void (*handle)(struct oneshot *, const char *, size_t,
                             struct sbuf *))
{
    srv->loop = loop;
    srv->ctx = ctx;
    srv->fd = fd;
    srv->complete = complete;
    srv->handle = handle;
    TAILQ_INIT(&srv->conns);
    ev_io_init(&srv->accept_w, oneshot_accept_cb, fd, EV_READ);
    ev_set_priority(&srv->accept_w, EV_MINPRI);
    ev_io_start(loop, &srv->accept_w);
}

/* Listens on <fd> (taken) instead; the connections open go on. */
void
oneshot_relisten(struct oneshot *srv, int fd)
{
    struct ev_loop *loop = srv->loop;

    ev_io_stop(loop, &srv->accept_w);
    fd_close(srv->fd);
    srv->fd = fd;
    ev_io_set(&srv->accept_w, fd, EV_READ);
    if (srv->nconns < ONESHOT_CONNS) { /* else oneshot_free() starts it */
        ev_io_start(loop, &srv->accept_w);
    }
}

void
oneshot_stop(struct oneshot *srv)
{
    struct oneshot_conn *c;

    if (srv->loop == NULL) {
        return;
    }
    if (srv->fd != -1) {
        ev_io_stop(srv->loop, &srv->accept_w);
        fd_close(srv->fd);
        srv->fd = -1;
    }
    while ((c = TAILQ_FIRST(&srv->conns)) != NULL) {
        if (c->streaming) {
            /* Lines logged since the loop last ran are still unsent: the
             * master's last ones (workers reaped as it stops). One try,
             * never waiting; what does not fit is lost with the stream. */
            (void) oneshot_stream_send(c);
        }
        oneshot_free(c);
    }
}
