/*
 * conn.c: one client connection in a worker, from the master's handoff to
 * close.
 *
 * Life: ACK_PENDING (received; nothing is read until our ACK has left, so
 * a connection the master might still give to another worker is never
 * touched) -> OPEN (read, parse, answer, keep alive) -> optional LINGER
 * (our side shut, input drained briefly so that unread bytes do not turn
 * the close into a reset that destroys the last response) -> freed.
 *
 * conn_run() is the single place that decides what happens next after any
 * event; it may free the connection, so callers return right after it.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "fdutil.h"
#include "log.h"
#include "worker.h"

#define LINGER_MAX_BYTES (1024 * 1024)

static void conn_read_cb(struct ev_loop *loop, ev_io *io, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *io, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void conn_run(struct conn *c);

static int
buf_append(struct buf *b, const void *data, size_t len)
{
    if (b->off > 0 && b->off == b->len) {
        b->off = b->len = 0;
    }
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        char *d;

        if (b->off > 0) {
            /* Reclaim the consumed front before growing. */
            memmove(b->data, b->data + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        while (cap < b->len + len) {
            cap *= 2;
        }
        if (cap > b->cap) {
            d = realloc(b->data, cap);
            if (d == NULL) {
                return -1;
            }
            b->data = d;
            b->cap = cap;
        }
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

static void
buf_free(struct buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

static size_t
buf_pending(const struct buf *b)
{
    return b->len - b->off;
}

struct conn *
conn_new(int fd, const struct chan_msg *msg)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->fd = fd;
    c->id = msg->conn_id;
    c->peer = msg->u.peer;
    c->state = CONN_ACK_PENDING;
    ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
    ev_init(&c->timer, conn_timer_cb);
    http_init(c);
    TAILQ_INSERT_TAIL(&worker.conns, c, link);
    worker.nconns++;
    report_changed();
    return c;
}

void
conn_free(struct conn *c)
{
    if (worker.wowner == c) {
        worker.wowner = NULL;
        worker.wlen = 0;
    }
    ev_io_stop(worker.loop, &c->rio);
    ev_io_stop(worker.loop, &c->wio);
    ev_timer_stop(worker.loop, &c->timer);
    if (c->state == CONN_ACK_PENDING) {
        TAILQ_REMOVE(&worker.pending, c, pending_link);
    }
    TAILQ_REMOVE(&worker.conns, c, link);
    worker.nconns--;
    if (c->busy) {
        worker.in_flight--;
    }
    fd_close(c->fd);
    buf_free(&c->in);
    buf_free(&c->out);
    http_reset_request(&c->req);
    free(c);
    report_changed();
    worker_maybe_exit();
}

static void
conn_arm_timer(struct conn *c, ev_tstamp deadline)
{
    c->deadline = deadline;
    if (!ev_is_active(&c->timer)) {
        ev_timer_set(&c->timer, deadline - ev_now(worker.loop), 0.);
        ev_timer_start(worker.loop, &c->timer);
    }
}

/*
 * The connection is ours alone from now on (our ACK has left, or we
 * accepted it ourselves): start serving it. It is not in worker.pending.
 */
void
conn_activate(struct conn *c)
{
    int one = 1;

    c->state = CONN_OPEN;
    /* Responses are written whole; Nagle would only delay them. */
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    conn_arm_timer(c, ev_now(worker.loop) + KEEPALIVE_TIMEOUT);
    ev_io_start(worker.loop, &c->rio);

    /* The request is usually there already: no need to wait a loop turn. */
    conn_read_cb(worker.loop, &c->rio, EV_READ);
}

/*
 * Queues response bytes. While the connection has no backlog and is the
 * one being served in this callback, they go to the shared wbuf.
 */
void
conn_out(struct conn *c, const void *data, size_t len)
{
    if (worker.wowner == c && buf_pending(&c->out) == 0) {
        if (worker.wlen + len <= sizeof(worker.wbuf)) {
            memcpy(worker.wbuf + worker.wlen, data, len);
            worker.wlen += len;
            return;
        }
        if (buf_append(&c->out, worker.wbuf, worker.wlen) == -1) {
            goto nomem;
        }
        worker.wlen = 0;
    }
    if (buf_append(&c->out, data, len) == 0) {
        return;
    }
nomem:
    log_error(ENOMEM, "W%u C%llu: cannot queue a response; closing",
              worker.id, (unsigned long long) c->id);
    c->close_after = true;
    c->linger = false;
    c->read_eof = true; /* nothing more will be read or answered */
}

/* Parses input; keeps what the parser did not take while paused. */
static void
conn_parse(struct conn *c, const char *data, size_t len)
{
    size_t used = http_feed(c, data, len);

    if (used < len) {
        if (c->close_after) {
            /* Bytes after a closing response are never answered. */
            c->linger = true;
        } else if (buf_append(&c->in, data + used, len - used) == 0) {
            c->paused = true;
        } else {
            c->close_after = true;
        }
    }
}

/* Sends <len> bytes; returns what was sent, or -1 on a fatal error. */
static ssize_t
conn_send(struct conn *c, const char *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = send(c->fd, data + done, len - done, MSG_NOSIGNAL);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return -1;
        }
        done += (size_t) n;
    }
    if (done > 0) {
        c->deadline = ev_now(worker.loop) + KEEPALIVE_TIMEOUT;
    }
    return (ssize_t) done;
}

/* Sends wbuf (if ours) then the backlog. Returns false on a fatal error. */
static bool
conn_flush(struct conn *c)
{
    ssize_t n;

    if (worker.wowner == c) {
        worker.wowner = NULL;
        if (worker.wlen > 0) {
            size_t len = worker.wlen;

            worker.wlen = 0;
            n = conn_send(c, worker.wbuf, len);
            if (n == -1) {
                return false;
            }
            if ((size_t) n < len
                && buf_append(&c->out, worker.wbuf + n, len - (size_t) n)
                       == -1) {
                return false;
            }
        }
    }
    if (buf_pending(&c->out) > 0) {
        n = conn_send(c, c->out.data + c->out.off, buf_pending(&c->out));
        if (n == -1) {
            return false;
        }
        c->out.off += (size_t) n;
        if (buf_pending(&c->out) == 0) {
            /* Keep idle connections small: drop the backlog buffer. */
            buf_free(&c->out);
        }
    }
    return true;
}

/* Closes, after a lingering drain when unread input could cause a reset. */
static void
conn_finish(struct conn *c)
{
    int unread = 0;

    if (!c->linger && !c->read_eof && ioctl(c->fd, FIONREAD, &unread) == 0
        && unread > 0) {
        c->linger = true;
    }
    if (!c->linger || c->read_eof) {
        conn_free(c);
        return;
    }
    if (shutdown(c->fd, SHUT_WR) == -1) {
        conn_free(c);
        return;
    }
    c->state = CONN_LINGER;
    c->paused = false;
    ev_io_stop(worker.loop, &c->wio);
    ev_io_start(worker.loop, &c->rio);
    ev_timer_stop(worker.loop, &c->timer);
    conn_arm_timer(c, ev_now(worker.loop) + LINGER_TIMEOUT);
}

static void
conn_set_busy(struct conn *c, bool busy)
{
    if (c->busy != busy) {
        c->busy = busy;
        if (busy) {
            worker.in_flight++;
        } else {
            worker.in_flight--;
        }
        report_changed();
    }
}

/* Decides what the connection does next. May free <c>. */
static void
conn_run(struct conn *c)
{
    for (;;) {
        if (!conn_flush(c)) {
            conn_free(c);
            return;
        }
        if (buf_pending(&c->out) > 0) {
            /* The client is not reading: wait, and read no more for now. */
            ev_io_start(worker.loop, &c->wio);
            ev_io_stop(worker.loop, &c->rio);
            return;
        }
        ev_io_stop(worker.loop, &c->wio);
        if (!c->paused || c->close_after) {
            break;
        }
        /* Output drained: go on with requests that were waiting. */
        if (buf_pending(&c->in) > 0) {
            struct buf in = c->in;

            memset(&c->in, 0, sizeof(c->in));
            c->paused = false;
            worker.wowner = c;
            conn_parse(c, in.data + in.off, in.len - in.off);
            buf_free(&in);
        } else {
            c->paused = false;
        }
    }
    conn_set_busy(c, c->msg_open);
    if (c->close_after || c->read_eof
        || (worker.draining && !c->msg_open && c->requests > 0)) {
        conn_finish(c);
        return;
    }
    ev_io_start(worker.loop, &c->rio);
}

static void
conn_linger_read(struct conn *c)
{
    for (;;) {
        ssize_t n = recv(c->fd, worker.rbuf, sizeof(worker.rbuf), 0);

        if (n > 0) {
            c->lingered += (size_t) n;
            if (c->lingered > LINGER_MAX_BYTES) {
                conn_free(c);
                return;
            }
            continue;
        }
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        conn_free(c); /* EOF or error: done */
        return;
    }
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = container_of(io, struct conn, rio);
    ssize_t n;

    (void) loop;
    (void) revents;
    if (c->state == CONN_LINGER) {
        conn_linger_read(c);
        return;
    }
    do {
        n = recv(c->fd, worker.rbuf, sizeof(worker.rbuf), 0);
    } while (n == -1 && errno == EINTR);
    if (n == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return;
        }
        conn_free(c); /* ECONNRESET and friends: nobody to answer */
        return;
    }
    if (n == 0) {
        c->read_eof = true;
        ev_io_stop(worker.loop, &c->rio);
        http_eof(c);
    } else {
        c->deadline = ev_now(worker.loop) + KEEPALIVE_TIMEOUT;
        worker.wowner = c;
        conn_parse(c, worker.rbuf, (size_t) n);
    }
    conn_run(c);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = container_of(io, struct conn, wio);

    (void) loop;
    (void) revents;
    conn_run(c);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = container_of(t, struct conn, timer);
    ev_tstamp now = ev_now(loop);

    (void) revents;
    if (now < c->deadline) {
        /* Activity moved the deadline: sleep the rest of the way. */
        ev_timer_set(t, c->deadline - now, 0.);
        ev_timer_start(loop, t);
        return;
    }
    if (c->state == CONN_OPEN && c->msg_open && buf_pending(&c->out) == 0) {
        /* A request that never completed: say so before closing. */
        worker.wowner = c;
        c->msg_open = false;
        c->close_after = true;
        c->linger = true;
        response_error(c, 408);
        conn_arm_timer(c, now + LINGER_TIMEOUT);
        conn_run(c);
        return;
    }
    conn_free(c);
}

/* The worker is draining: close <c> now if it is between requests. */
void
conn_drain(struct conn *c)
{
    if (c->state == CONN_OPEN && !c->msg_open && c->requests > 0
        && buf_pending(&c->out) == 0 && !c->paused) {
        conn_finish(c);
    }
}
