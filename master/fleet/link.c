/*
 * link.c: the master's end of a native worker's channel (chan.h), and the
 * native kind's table of link operations (link.h).
 *
 * Outgoing messages are queued in the worker's outbox and flushed once per
 * loop turn (from the prepare watcher, mworker_flush_dirty()), so handoffs
 * made in one turn go out together, up to CHAN_BATCH_MAX per sendmsg.
 * EAGAIN arms a write watcher; ENOBUFS-like failures, which never make the
 * socket writable, arm a retry timer. Incoming records are dispatched to
 * the scheduler and to workers.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/accept-t.h"
#include "conf/options.h"
#include "fdutil.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/native.h"
#include "fleet/rehand.h"
#include "fleet/workers.h"
#include "log.h"


static struct chan_batch link_batch; /* one process, one loop: shared */

static void link_read_cb(struct ev_loop *loop, ev_io *io, int revents);
static void link_write_cb(struct ev_loop *loop, ev_io *io, int revents);
static void link_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* --trace: each record as it is sent (the outbox's on_record). */
static void
link_trace_record(void *arg, const struct chan_msg *msgs, size_t n, size_t nfds)
{
    const struct mworker *w = arg;
    char list[160];
    size_t i, len = 0;
    int rc;

    list[0] = '\0';
    for (i = 0; i < n && len < sizeof(list); i++) {
        if (i == 4) {
            snprintf(list + len, sizeof(list) - len, ", ...");
            break;
        }
        if (msgs[i].type == CHAN_CONN) {
            rc = snprintf(list + len, sizeof(list) - len, "%sCONN C%llu",
                          i ? ", " : "", (unsigned long long) msgs[i].conn_id);
        } else {
            rc = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                          chan_type_name(msgs[i].type));
        }
        len += rc > 0 ? (size_t) rc : 0;
    }
    log_trace("sendmsg  -> W%u: %zu message%s, %zu fd%s (%s)", w->sw.id, n,
              n == 1 ? "" : "s", nfds, nfds == 1 ? "" : "s", list);
}

static void
link_trace_load(const struct mworker *w, const struct chan_load *l)
{
    log_trace("load     W%u: %u open, %u in flight, %llu served, lag %.1f ms, "
              "rss %u KiB",
              w->sw.id, l->open_conns, l->in_flight,
              (unsigned long long) l->served, l->lag_us / 1000.0, l->rss_kib);
}

static void link_send(struct mworker *w, const struct chan_msg *msg, int fd);

/* The session-ticket keys, as TICKET messages (chan.h). */
static void
link_tickets(struct mworker *w, const struct chan_tickets *keys)
{
    struct chan_msg msgs[CHAN_TICKET_KEYS_MAX * CHAN_TICKET_PARTS];
    size_t n = chan_ticket_encode(keys, w->sw.id, msgs), i;

    for (i = 0; i < n; i++) {
        link_send(w, &msgs[i], -1);
    }
    explicit_bzero(msgs, sizeof(msgs));
}

static void
link_start(struct mworker *w)
{
    struct fleet *fl = w->fl;

    ev_init(&w->chan_retry, link_retry_cb);
    ev_io_init(&w->chan_r, link_read_cb, w->chan_fd, EV_READ);
    ev_io_init(&w->chan_w, link_write_cb, w->chan_fd, EV_WRITE);
    ev_io_start(fl->loop, &w->chan_r);
    if (fl->opt->trace) {
        w->out.on_record = link_trace_record;
        w->out.on_record_arg = w;
    }
    /* Before any connection: the channel keeps the order. */
    link_tickets(w, &fl->tickets.keys);
}

/* A worker that breaks the protocol is killed; its exit cleans up. */
static void
link_protocol_error(struct mworker *w, const char *what)
{
    log_error(0, "worker " MW_FMT ": %s; killing it", MW_ARGS(w), what);
    if (!w->exited) {
        (void) kill(w->pid, SIGKILL);
    }
    mworker_lost(w);
}

/* The channel closes: what was not sent is dropped. */
static void
link_close(struct mworker *w)
{
    chan_outbox_clear(&w->out);
}

static void
link_send(struct mworker *w, const struct chan_msg *msg, int fd)
{
    if (w->chan_fd == -1) {
        return;
    }
    if (chan_outbox_push(&w->out, msg, fd) == -1) {
        /* Called from inside the scheduler, which must not be re-entered:
         * the connection stays in the worker's in-flight list, and killing
         * the worker hands it to another once the exit is reaped. */
        log_error(ENOMEM, "cannot queue a message for W%u; killing it",
                  w->sw.id);
        (void) kill(w->pid, SIGKILL);
        return;
    }
    mworker_mark_dirty(w);
}

/* The scheduler hands <c> to <w>: a CONN with the fd attached. */
static void
link_handoff(struct mworker *w, struct mconn *c)
{
    struct chan_msg msg;

    chan_msg_init(&msg, CHAN_CONN, w->sw.id);
    msg.conn_id = c->sc.id;
    msg.u.peer = c->peer;
    msg.u.conn.rehand = rehand_assign(w, c);
    link_send(w, &msg, c->fd);
}

/* Listener <index> is at <addr> (for the worker's access log), or closed
 * (NULL). Under none and reuseport the worker accepts by itself, on
 * <fd>: a LISTEN, which names it too. */
static void
link_send_listener(struct mworker *w, unsigned index,
                   const struct sockaddr_storage *addr, int fd)
{
    struct chan_msg msg;

    chan_msg_init(&msg, fd >= 0 ? CHAN_LISTEN : CHAN_LISTENER, w->sw.id);
    if (addr != NULL) {
        chan_peer_from(&msg.u.peer, (const struct sockaddr *) addr);
    }
    msg.u.peer.listener = (uint8_t) index;
    if (addr != NULL && w->fl->lis->l[index].tls) {
        msg.flags |= CHAN_F_TLS;
    }
    link_send(w, &msg, fd);
}

static void
link_shutdown(struct mworker *w)
{
    struct chan_msg msg;

    chan_msg_init(&msg, CHAN_SHUTDOWN, w->sw.id);
    /* Idle connections come back to be handed to the others, unless the
     * master is stopping too. */
    msg.u.shutdown.rehand =
        w->rh != NULL && (!w->fl->stopping || w->fl->successor);
    link_send(w, &msg, -1);
}

/* SIGUSR1's REOPEN, and TRACE on or off (which also switches the trace of
 * what is sent to it). */
static void
link_notify(struct mworker *w, enum chan_type type, uint32_t arg)
{
    struct chan_msg msg;

    if (type == CHAN_TRACE) {
        w->out.on_record = arg ? link_trace_record : NULL;
        w->out.on_record_arg = w;
    }
    if (w->chan_fd == -1 || w->exited) {
        return;
    }
    chan_msg_init(&msg, type, w->sw.id);
    msg.u.trace.on = arg;
    link_send(w, &msg, -1);
}

static void link_drain(struct mworker *w);

static void
link_flush(struct mworker *w)
{
    struct fleet *fl = w->fl;

    switch (chan_outbox_flush(w->chan_fd, &w->out)) {
    case CHAN_OK:
        ev_io_stop(fl->loop, &w->chan_w);
        break;
    case CHAN_AGAIN:
        ev_io_start(fl->loop, &w->chan_w);
        break;
    default:
        if (errno == ENOBUFS || errno == ETOOMANYREFS || errno == ENOMEM) {
            if (!ev_is_active(&w->chan_retry)) {
                log_warn(errno, "sendmsg() to W%u failed; retrying", w->sw.id);
                ev_timer_set(&w->chan_retry, CHAN_RETRY_S, 0.);
                ev_timer_start(fl->loop, &w->chan_retry);
            }
        } else {
            /* EPIPE, ECONNRESET: the worker is gone; its exit is next.
             * What it sent before it went is read first, as at its exit
             * (its acknowledgements, its DRAINING): closed now, the
             * channel would lose them, and acknowledged connections
             * would be handed out again. */
            log_warn(errno, "sendmsg() to W%u failed", w->sw.id);
            link_drain(w);
            mworker_lost(w);
        }
        break;
    }
}

static void
link_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct mworker *w = container_of(io, struct mworker, chan_w);

    (void) loop;
    (void) revents;
    link_flush(w);
}

static void
link_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct mworker *w = container_of(t, struct mworker, chan_retry);

    (void) loop;
    (void) revents;
    link_flush(w);
}

/* Before the scheduler hears of an answer: a connection taken stays in
 * <w>'s table of states (the master keeps its fd), one refused leaves
 * it. */
static void
link_ack_rehand(struct mworker *w, const struct chan_msg *msg)
{
    struct sched_conn *sc;

    if (w->rh == NULL) {
        return;
    }
    TAILQ_FOREACH(sc, &w->sw.inflight, link) {
        if (sc->id == msg->conn_id) {
            break;
        }
    }
    if (sc == NULL) {
        return; /* sched_ack() says so */
    }
    if (msg->u.ack.accepted) {
        (void) rehand_acked(w, mconn_of(sc));
    } else {
        rehand_unassign(w, mconn_of(sc));
    }
}

static void
link_handle(struct mworker *w, const struct chan_msg *msg)
{
    struct fleet *fl = w->fl;

    if (msg->worker_id != w->sw.id) {
        link_protocol_error(w, "message with another worker's id");
        return;
    }
    mworker_heard(w);
    switch (msg->type) {
    case CHAN_READY:
        if (!w->ready) {
            workers_ready(w);
        }
        break;
    case CHAN_ACK:
        link_ack_rehand(w, msg);
        if (sched_ack(fl->sched, &w->sw, msg->conn_id,
                      msg->u.ack.accepted ? SCHED_ACCEPTED
                      : msg->u.ack.reason == CHAN_REFUSE_FULL
                          ? SCHED_REFUSED_FULL
                          : SCHED_REFUSED)
            == -1) {
            link_protocol_error(w, "acknowledgement of a connection it was "
                                   "not given");
            break;
        }
        sched_note_load(&w->sw, msg->u.ack.open_conns, msg->u.ack.in_flight);
        break;
    case CHAN_DRAINING:
        /* It stopped on its own (a signal sent to it): out of the rotation
         * now, rather than refusing every connection it would be given. */
        log_info("worker " MW_FMT " is draining", MW_ARGS(w));
        sched_worker_leave(fl->sched, &w->sw);
        break;
    case CHAN_STATS:
        chan_stats_apply(&w->stats, msg); /* chan_decode checked it */
        break;
    case CHAN_LOAD:
        if (fl->opt->trace) {
            link_trace_load(w, &msg->u.load);
        }
        sched_load(fl->sched, &w->sw, &msg->u.load);
        rehand_report(w, msg->u.load.open_conns);
        workers_check_recycle(w);
        break;
    default:
        link_protocol_error(w, "unexpected message type");
        break;
    }
}

enum link_read_result {
    LINK_MORE,   /* stopped at the batch limit */
    LINK_IDLE,   /* nothing more to read now */
    LINK_CLOSED, /* EOF, error, or closed by a protocol error */
};

/*
 * Reads up to <max> batches of records. A batch that is not full means
 * the socket had nothing more: no read is spent just to see EAGAIN (the
 * level-triggered watcher calls again if more arrives).
 */
static enum link_read_result
link_read(struct mworker *w, int max)
{
    int i;
    size_t r, k;

    for (i = 0; i < max; i++) {
        if (w->chan_fd == -1) {
            return LINK_CLOSED;
        }
        switch (chan_recv_batch(w->chan_fd, &link_batch)) {
        case CHAN_OK:
            for (r = 0; r < link_batch.count; r++) {
                struct chan_record *rec = &link_batch.rec[r];

                if (link_batch.bad[r]) {
                    link_protocol_error(w, "malformed channel record");
                    return LINK_CLOSED;
                }
                for (k = 0; k < rec->count; k++) {
                    if (rec->fds[k] >= 0) {
                        /* Only CONN and LISTEN carry an fd, and workers
                         * send neither: link_handle() says so. */
                        fd_close(rec->fds[k]);
                    }
                    if (w->chan_fd != -1) {
                        link_handle(w, &rec->msgs[k]);
                    }
                }
            }
            if (link_batch.eof) {
                return LINK_CLOSED;
            }
            if (link_batch.count < CHAN_RECV_BATCH) {
                return LINK_IDLE;
            }
            break;
        case CHAN_AGAIN:
            return LINK_IDLE;
        case CHAN_EOF:
            return LINK_CLOSED;
        default:
            if (errno != ECONNRESET) {
                log_warn(errno, "recvmmsg() from W%u failed", w->sw.id);
            }
            return LINK_CLOSED;
        }
    }
    return LINK_MORE;
}

static void
link_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct mworker *w = container_of(io, struct mworker, chan_r);

    (void) loop;
    (void) revents;
    if (link_read(w, CHAN_READ_BATCHES) == LINK_CLOSED) {
        /* The worker closed its end: it is exiting or has exited. Its
         * unacknowledged connections go to others now, not at reaping. */
        mworker_lost(w);
    }
}

/* Reads everything a dead worker left in its channel. */
static void
link_drain(struct mworker *w)
{
    while (link_read(w, CHAN_READ_BATCHES) == LINK_MORE) {
    }
}

static bool
link_load(const struct mworker *w, struct chan_load *l)
{
    *l = w->sw.load;
    return true;
}

const struct link_ops native_link_ops = {
    .kind = "handoff",
    .title = "worker",
    /* Fixed-size records, one per datagram, each sent whole or not. */
    .sock_type = SOCK_SEQPACKET,
    .rehand = true,
    .resolve = native_resolve,
    .command = native_command,
    .start = link_start,
    .handoff = link_handoff,
    .listener = link_send_listener,
    .shutdown = link_shutdown,
    .tickets = link_tickets,
    .notify = link_notify,
    .flush = link_flush,
    .drain = link_drain,
    .close = link_close,
    .load = link_load,
};
