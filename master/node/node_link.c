/*
 * node_link.c: the master's end of a Node worker's IPC channel (--node),
 * as Node's own primary speaks it (lib/internal/child_process.js,
 * setupChannel, in "json" serialization): a SOCK_STREAM socketpair
 * carrying one JSON text per line, with a handle's fd attached by
 * SCM_RIGHTS to the write that carries its NODE_HANDLE line.
 *
 * The rule this file keeps is Node's "one handle in flight": once a
 * NODE_HANDLE line has been written, nothing else is written until the
 * worker's NODE_HANDLE_ACK (or NACK) comes back. The kernel never joins
 * two fd-carrying writes into one read, but a line split over two reads
 * could otherwise meet a second fd, and Node keeps only one pending
 * handle. Lines without a handle written back to back are sent together.
 * What waits for a worker is bounded: see NODE_OUT_PAUSE.
 *
 * What the lines mean is node_cluster.c's business: it gets each one,
 * and the channel's closing, through the hooks it gave node_link_new().
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "conf/options.h"
#include "fdutil.h"
#include "fleet/mworker.h"
#include "log.h"
#include "node/node-t.h"
#include "node/node_link.h"

#define NODE_READ_CHUNK 65536
#define NODE_READS_PER_TURN 8
#define NODE_WRITEV_MAX 64
#define NODE_FDS_MAX 8 /* fds accepted in one read; more are closed */
/* Several of a worker's lines ask for an answer (queryServer, NODE_HANDLE,
 * exitedAfterDisconnect). A worker that sends them without reading its
 * channel would have the master queue answers without end: past this
 * much waiting for it, the master stops reading it until it reads. */
#define NODE_OUT_PAUSE (1024 * 1024)

struct node_out {
    STAILQ_ENTRY(node_out) link;
    int fd;           /* rides with the first byte, or -1; not owned */
    bool fd_sent;     /* the first byte (and the fd) went out */
    bool urgent;      /* NODE_HANDLE_ACK/NACK: never waits for a handle */
    uint64_t conn_id; /* the connection whose fd this is, or 0 */
    size_t len, off;
    char text[]; /* the line, '\n' included */
};

static void node_link_read_cb(struct ev_loop *loop, ev_io *io, int revents);
static void node_link_write_cb(struct ev_loop *loop, ev_io *io, int revents);
static void node_link_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* <w>'s link; each line read goes to <on_line>, the channel's closing to
 * <on_closed>. -1 on ENOMEM. */
int
node_link_new(struct mworker *w,
              void (*on_line)(struct mworker *, const char *, size_t),
              void (*on_closed)(struct mworker *))
{
    struct node_link *nl = calloc(1, sizeof(*nl));

    if (nl == NULL) {
        return -1;
    }
    STAILQ_INIT(&nl->out);
    nl->pending_fd = -1;
    nl->on_line = on_line;
    nl->on_closed = on_closed;
    w->link_state = nl;
    return 0;
}

void
node_link_start(struct mworker *w)
{
    ev_init(&w->chan_retry, node_link_retry_cb);
    ev_io_init(&w->chan_r, node_link_read_cb, w->chan_fd, EV_READ);
    ev_io_init(&w->chan_w, node_link_write_cb, w->chan_fd, EV_WRITE);
    ev_io_start(w->fl->loop, &w->chan_r);
}

/* A line of Node's IPC, as written or read, cut to fit, for --trace. */
void
node_link_trace(const struct mworker *w, bool out, const char *line, size_t len,
                int fd)
{
    char fdnote[32] = "", shown[400];
    size_t i, n = len > sizeof(shown) ? sizeof(shown) : len;

    if (fd != -1) {
        snprintf(fdnote, sizeof(fdnote), " + fd %d", fd);
    }
    /* A worker's line is shown before it is checked as JSON: a "\r" or
     * an escape sequence in it must not reach the log as such. */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) line[i];

        shown[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    log_trace("ipc      %s W%u %.*s%s%s", out ? "->" : "<-", w->sw.id, (int) n,
              shown, len > n ? "..." : "", fdnote);
}

/* Drops what was not sent and what was half read (the channel closed). */
void
node_link_clear(struct mworker *w)
{
    struct node_link *nl = node_of(w);
    struct node_out *o;

    if (nl == NULL) {
        return;
    }
    while ((o = STAILQ_FIRST(&nl->out)) != NULL) {
        STAILQ_REMOVE_HEAD(&nl->out, link);
        free(o);
    }
    nl->nout = 0;
    nl->out_bytes = 0;
    nl->last_urgent = NULL;
    nl->read_paused = false;
    nl->handle_in_flight = false;
    free(nl->in);
    nl->in = NULL;
    nl->in_len = nl->in_cap = 0;
    if (nl->pending_fd != -1) {
        fd_close(nl->pending_fd);
    }
    nl->pending_fd = -1;
}

void
node_link_free(struct mworker *w)
{
    if (node_of(w) == NULL) {
        return;
    }
    node_link_clear(w);
    free(node_of(w));
    w->link_state = NULL;
}

static int
node_link_queue(struct mworker *w, const char *text, size_t len, int fd,
                uint64_t conn_id, bool urgent)
{
    struct node_link *nl = node_of(w);
    struct node_out *o, *head;

    if (w->chan_fd == -1) {
        return 0;
    }
    o = malloc(sizeof(*o) + len + 1);
    if (o == NULL) {
        return -1;
    }
    memcpy(o->text, text, len);
    o->text[len] = '\n';
    o->len = len + 1;
    o->off = 0;
    o->fd = fd;
    o->fd_sent = false;
    o->conn_id = conn_id;
    o->urgent = urgent;
    /* An answer goes ahead of everything not yet begun, behind earlier
     * answers. Only the head can have begun, and the answers queued form
     * one run after it: the last one is kept rather than searched for,
     * which a flood of them would make quadratic. */
    head = STAILQ_FIRST(&nl->out);
    if (!urgent) {
        STAILQ_INSERT_TAIL(&nl->out, o, link);
    } else if (nl->last_urgent != NULL) {
        STAILQ_INSERT_AFTER(&nl->out, nl->last_urgent, o, link);
    } else if (head != NULL && (head->off > 0 || head->fd_sent)) {
        STAILQ_INSERT_AFTER(&nl->out, head, o, link);
    } else {
        STAILQ_INSERT_HEAD(&nl->out, o, link);
    }
    if (urgent) {
        nl->last_urgent = o;
    }
    nl->nout++;
    nl->out_bytes += sizeof(*o) + o->len;
    if (w->fl->opt->trace) {
        node_link_trace(w, true, text, len, fd);
    }
    mworker_mark_dirty(w);
    return 0;
}

int
node_link_send(struct mworker *w, const char *text, size_t len, int fd,
               uint64_t conn_id)
{
    return node_link_queue(w, text, len, fd, conn_id, false);
}

/* The answer to a handle the worker sent: Node lets it pass the queue. */
int
node_link_send_urgent(struct mworker *w, const char *text, size_t len)
{
    return node_link_queue(w, text, len, -1, 0, true);
}

/* Writes the head line with its fd; returns bytes written or -1. */
static ssize_t
node_link_send_fd(int sock, struct node_out *o)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {o->text, o->len};
    struct msghdr mh;
    struct cmsghdr *c;
    ssize_t n;

    memset(&mh, 0, sizeof(mh));
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &o->fd, sizeof(int));
    do {
        n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (n == -1 && errno == EINTR);
    return n;
}

/* Writes queued lines without a handle, up to the next one that has. */
static ssize_t
node_link_send_plain(int sock, struct node_link *nl, bool only_urgent)
{
    struct iovec iov[NODE_WRITEV_MAX];
    struct msghdr mh;
    struct node_out *o;
    int n = 0;
    ssize_t rc;

    STAILQ_FOREACH(o, &nl->out, link)
    {
        if (n == NODE_WRITEV_MAX || (o->fd != -1 && !o->fd_sent)
            || (only_urgent && !o->urgent)) {
            break;
        }
        iov[n].iov_base = o->text + o->off;
        iov[n].iov_len = o->len - o->off;
        n++;
        if (o->fd != -1) {
            break; /* the rest of a handle's line: then wait for its ACK */
        }
    }
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = iov;
    mh.msg_iovlen = (size_t) n;
    do {
        rc = sendmsg(sock, &mh, MSG_NOSIGNAL);
    } while (rc == -1 && errno == EINTR);
    return rc;
}

/* Frees what <n> written bytes completed; notes a handle now in flight. */
static void
node_link_advance(struct node_link *nl, size_t n, bool with_fd)
{
    struct node_out *o;

    if (with_fd) {
        STAILQ_FIRST(&nl->out)->fd_sent = true;
    }
    while (n > 0 && (o = STAILQ_FIRST(&nl->out)) != NULL) {
        size_t left = o->len - o->off;

        if (n < left) {
            o->off += n;
            return;
        }
        n -= left;
        STAILQ_REMOVE_HEAD(&nl->out, link);
        nl->nout--;
        nl->out_bytes -= sizeof(*o) + o->len;
        if (o == nl->last_urgent) {
            nl->last_urgent = NULL; /* the run of answers is all sent */
        }
        if (o->fd != -1) {
            nl->handle_in_flight = true;
            nl->handle_conn = o->conn_id;
        }
        free(o);
    }
}

void
node_link_flush(struct mworker *w)
{
    struct fleet *fl = w->fl;
    struct node_link *nl = node_of(w);

    while (w->chan_fd != -1) {
        struct node_out *o = STAILQ_FIRST(&nl->out);
        bool with_fd;
        ssize_t n;

        if (o == NULL || (nl->handle_in_flight && !o->urgent)) {
            break;
        }
        with_fd = o->fd != -1 && !o->fd_sent;
        n = with_fd
                ? node_link_send_fd(w->chan_fd, o)
                : node_link_send_plain(w->chan_fd, nl, nl->handle_in_flight);
        if (n >= 0) {
            node_link_advance(nl, (size_t) n, with_fd);
            if (nl->read_paused && nl->out_bytes < NODE_OUT_PAUSE / 2) {
                nl->read_paused = false; /* it reads again: so do we */
                ev_io_start(fl->loop, &w->chan_r);
            }
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            ev_io_start(fl->loop, &w->chan_w);
            return;
        }
        if (errno == ENOBUFS || errno == ENOMEM || errno == ETOOMANYREFS) {
            /* Nothing was sent; the socket may never turn writable. */
            if (!ev_is_active(&w->chan_retry)) {
                log_warn(errno, "sendmsg() to W%u failed; retrying", w->sw.id);
                ev_timer_set(&w->chan_retry, CHAN_RETRY_S, 0.);
                ev_timer_start(fl->loop, &w->chan_retry);
            }
            return;
        }
        log_warn(errno, "sendmsg() to W%u failed", w->sw.id);
        /* The worker is gone: what it sent before it went is read first,
         * as at its exit, so that none of its answers is lost. */
        node_link_drain(w);
        nl->on_closed(w);
        return;
    }
    ev_io_stop(fl->loop, &w->chan_w);
}

static void
node_link_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct mworker *w = container_of(io, struct mworker, chan_w);

    (void) loop;
    (void) revents;
    node_link_flush(w);
}

static void
node_link_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct mworker *w = container_of(t, struct mworker, chan_retry);

    (void) loop;
    (void) revents;
    node_link_flush(w);
}

/* The worker answered the handle in flight: later lines may go. */
void
node_link_handle_answered(struct mworker *w)
{
    struct node_link *nl = node_of(w);

    nl->handle_in_flight = false;
    if (STAILQ_FIRST(&nl->out) != NULL) {
        mworker_mark_dirty(w);
    }
}

/* Keeps fds that came with a read: the first for a NODE_HANDLE line. */
static void
node_link_take_fds(struct node_link *nl, struct msghdr *mh)
{
    struct cmsghdr *c;

    for (c = CMSG_FIRSTHDR(mh); c != NULL; c = CMSG_NXTHDR(mh, c)) {
        size_t i, nfd;
        int fd;

        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            continue;
        }
        nfd = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (i = 0; i < nfd; i++) {
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (nl->pending_fd == -1) {
                nl->pending_fd = fd;
            } else {
                fd_close(fd);
            }
        }
    }
}

/* Appends <n> bytes to the partial line and hands out each whole line. */
static void
node_link_lines(struct mworker *w, const char *buf, size_t n)
{
    struct node_link *nl = node_of(w);

    while (n > 0 && w->chan_fd != -1) {
        const char *nlp = memchr(buf, '\n', n);
        size_t take = nlp != NULL ? (size_t) (nlp - buf) : n;

        if (nl->skipping) {
            /* The rest of a line too long to keep. */
        } else if (nl->in_len + take > NODE_LINE_MAX) {
            log_warn(0,
                     "worker " MW_FMT " sent a message over %d bytes; dropped",
                     MW_ARGS(w), NODE_LINE_MAX);
            nl->skipping = true;
            nl->in_len = 0;
        } else if (nlp != NULL && nl->in_len == 0) {
            nl->on_line(w, buf, take); /* no copy needed */
        } else {
            if (nl->in_len + take > nl->in_cap) {
                size_t cap = nl->in_cap ? nl->in_cap : 4096;
                char *p;

                while (cap < nl->in_len + take) {
                    cap *= 2;
                }
                p = realloc(nl->in, cap);
                if (p == NULL) {
                    log_error(ENOMEM, "reading from W%u", w->sw.id);
                    nl->skipping = true;
                    nl->in_len = 0;
                    goto next;
                }
                nl->in = p;
                nl->in_cap = cap;
            }
            memcpy(nl->in + nl->in_len, buf, take);
            nl->in_len += take;
            if (nlp != NULL) {
                size_t len = nl->in_len;

                nl->in_len = 0;
                nl->on_line(w, nl->in, len);
            }
        }
    next:
        if (nlp == NULL) {
            return;
        }
        nl->skipping = false;
        buf = nlp + 1;
        n -= take + 1;
    }
}

enum node_read_result { NODE_MORE, NODE_IDLE, NODE_CLOSED };

/* Reads up to <max> chunks; <all> (the worker is dead) ignores the bound
 * on what waits for it: what a dead worker left is bounded by its socket
 * buffer, and must all be read (node_link_drain). */
static enum node_read_result
node_link_read(struct mworker *w, int max, bool all)
{
    static char buf[NODE_READ_CHUNK];
    struct node_link *nl = node_of(w);
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(NODE_FDS_MAX * sizeof(int))];
    } ctl;
    int i;

    for (i = 0; i < max; i++) {
        struct iovec iov = {buf, sizeof(buf)};
        struct msghdr mh;
        ssize_t n;

        if (w->chan_fd == -1) {
            return NODE_CLOSED;
        }
        if (!all && nl->out_bytes >= NODE_OUT_PAUSE) {
            log_warn(0,
                     "worker " MW_FMT " does not read its channel: %zu "
                     "bytes wait for it; not reading from it until it does",
                     MW_ARGS(w), nl->out_bytes);
            nl->read_paused = true;
            ev_io_stop(w->fl->loop, &w->chan_r);
            return NODE_IDLE;
        }
        memset(&mh, 0, sizeof(mh));
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.buf;
        mh.msg_controllen = sizeof(ctl.buf);
        do {
            n = recvmsg(w->chan_fd, &mh, MSG_CMSG_CLOEXEC);
        } while (n == -1 && errno == EINTR);
        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                return NODE_IDLE;
            }
            if (errno != ECONNRESET) {
                log_warn(errno, "recvmsg() from W%u failed", w->sw.id);
            }
            return NODE_CLOSED;
        }
        node_link_take_fds(nl, &mh);
        if (n == 0) {
            return NODE_CLOSED;
        }
        node_link_lines(w, buf, (size_t) n);
        if ((size_t) n < sizeof(buf)) {
            return w->chan_fd == -1 ? NODE_CLOSED : NODE_IDLE;
        }
    }
    return NODE_MORE;
}

static void
node_link_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct mworker *w = container_of(io, struct mworker, chan_r);

    (void) loop;
    (void) revents;
    if (node_link_read(w, NODE_READS_PER_TURN, false) == NODE_CLOSED) {
        node_of(w)->on_closed(w);
    }
}

void
node_link_drain(struct mworker *w)
{
    while (node_link_read(w, NODE_READS_PER_TURN, true) == NODE_MORE) {
    }
}

/* True while connection <conn_id>'s newconn has not been fully written:
 * the worker cannot have seen it, so it cannot answer for it. */
bool
node_link_unsent(const struct mworker *w, uint64_t conn_id)
{
    const struct node_out *o;

    STAILQ_FOREACH(o, &node_of(w)->out, link)
    {
        if (o->conn_id == conn_id) {
            return true;
        }
    }
    return false;
}

/* Takes the fd that came with the latest reads, or -1. */
int
node_link_take_pending_fd(struct mworker *w)
{
    struct node_link *nl = node_of(w);
    int fd = nl->pending_fd;

    nl->pending_fd = -1;
    return fd;
}
