/*
 * link.c: the master's end of each worker's channel.
 *
 * Outgoing messages are queued in the worker's outbox and flushed once per
 * loop turn (from the prepare watcher), so handoffs made in one turn go out
 * together, up to CHAN_BATCH_MAX per sendmsg. EAGAIN arms a write watcher;
 * ENOBUFS-like failures, which never make the socket writable, arm a retry
 * timer. Incoming records are dispatched to the scheduler.
 */
#include <errno.h>
#include <signal.h>

#include "fdutil.h"
#include "log.h"
#include "master.h"
#include "sched/policy.h"

#define LINK_READ_BATCH 8 /* recvmmsg batches per loop turn */
#define LINK_RETRY_S 0.05 /* after ENOBUFS, ETOOMANYREFS, ENOMEM */

static struct chan_batch link_batch; /* one process, one loop: shared */

static void link_read_cb(struct ev_loop *loop, ev_io *io, int revents);
static void link_write_cb(struct ev_loop *loop, ev_io *io, int revents);
static void link_retry_cb(struct ev_loop *loop, ev_timer *t, int revents);

void
link_start(struct mworker *w)
{
    ev_init(&w->chan_retry, link_retry_cb);
    if (w->node != NULL) {
        node_link_start(w); /* Node's own protocol (--node) */
        return;
    }
    ev_io_init(&w->chan_r, link_read_cb, w->chan_fd, EV_READ);
    ev_io_init(&w->chan_w, link_write_cb, w->chan_fd, EV_WRITE);
    ev_io_start(w->m->loop, &w->chan_r);
    if (w->m->opt.trace) {
        w->out.on_record = trace_record;
        w->out.on_record_arg = w;
    }
}

/* A worker that breaks the protocol is killed; its exit cleans up. */
static void
link_protocol_error(struct mworker *w, const char *what)
{
    log_error(0, "worker W%u (pid %ld): %s; killing it", w->sw.id,
              (long) w->pid, what);
    if (!w->exited) {
        (void) kill(w->pid, SIGKILL);
    }
    link_close(w);
    master_worker_gone(w->m, w);
}

void
link_close(struct mworker *w)
{
    struct master *m = w->m;

    if (w->chan_fd == -1) {
        return;
    }
    ev_io_stop(m->loop, &w->chan_r);
    ev_io_stop(m->loop, &w->chan_w);
    ev_timer_stop(m->loop, &w->chan_retry);
    if (w->dirty) {
        TAILQ_REMOVE(&m->dirty, w, dirty_link);
        w->dirty = false;
    }
    chan_outbox_clear(&w->out);
    if (w->node != NULL) {
        node_cluster_last_words(w);
        node_link_clear(w);
    }
    fd_close(w->chan_fd);
    w->chan_fd = -1;
}

/* Under none and reuseport the worker accepts by itself, on this socket. */
void
link_send_listener(struct mworker *w)
{
    struct master *m = w->m;
    int fd = listeners_worker_fd(&m->lis, m->opt.policy->accept,
                                 w->slot != NULL ? (int) w->slot->index : -1);
    struct chan_msg msg;

    if (fd == -1 || w->node != NULL) {
        return; /* a Node worker got it with its queryServer answer */
    }
    chan_msg_init(&msg, CHAN_LISTEN, w->sw.id);
    link_send(w, &msg, fd);
}

void
link_send(struct mworker *w, const struct chan_msg *msg, int fd)
{
    struct master *m = w->m;

    if (w->chan_fd == -1) {
        return;
    }
    if (w->node != NULL) {
        /* SHUTDOWN is Node's disconnect (connections go out as newconn
         * from master_sink_send()); a Node worker has no access log to
         * reopen and no trace switch. */
        if (msg->type == CHAN_SHUTDOWN) {
            node_cluster_disconnect(w);
        }
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
    if (!w->dirty) {
        w->dirty = true;
        TAILQ_INSERT_TAIL(&m->dirty, w, dirty_link);
    }
}

static void
link_flush(struct mworker *w)
{
    struct master *m = w->m;

    if (w->node != NULL) {
        node_link_flush(w);
        return;
    }
    switch (chan_outbox_flush(w->chan_fd, &w->out)) {
    case CHAN_OK:
        ev_io_stop(m->loop, &w->chan_w);
        break;
    case CHAN_AGAIN:
        ev_io_start(m->loop, &w->chan_w);
        break;
    default:
        if (errno == ENOBUFS || errno == ETOOMANYREFS || errno == ENOMEM) {
            if (!ev_is_active(&w->chan_retry)) {
                log_warn(errno, "sendmsg() to W%u failed; retrying", w->sw.id);
                ev_timer_set(&w->chan_retry, LINK_RETRY_S, 0.);
                ev_timer_start(m->loop, &w->chan_retry);
            }
        } else {
            /* EPIPE, ECONNRESET: the worker is gone; its exit is next. */
            log_warn(errno, "sendmsg() to W%u failed", w->sw.id);
            link_close(w);
            master_worker_gone(m, w);
        }
        break;
    }
}

void
link_flush_dirty(struct master *m)
{
    struct mworker *w;

    while ((w = TAILQ_FIRST(&m->dirty)) != NULL) {
        TAILQ_REMOVE(&m->dirty, w, dirty_link);
        w->dirty = false;
        if (w->chan_fd != -1 && !ev_is_active(&w->chan_w)
            && !ev_is_active(&w->chan_retry)) {
            link_flush(w);
        }
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

static void
link_handle(struct mworker *w, const struct chan_msg *msg)
{
    struct master *m = w->m;

    if (msg->worker_id != w->sw.id) {
        link_protocol_error(w, "message with another worker's id");
        return;
    }
    workers_heard(w);
    switch (msg->type) {
    case CHAN_READY:
        if (!w->ready) {
            workers_ready(w);
        }
        break;
    case CHAN_ACK:
        if (sched_ack(&m->sched, &w->sw, msg->conn_id,
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
        log_info("worker W%u (pid %ld) is draining", w->sw.id, (long) w->pid);
        sched_worker_leave(&m->sched, &w->sw);
        break;
    case CHAN_LOAD:
        if (m->opt.trace) {
            trace_load(w, &msg->u.load);
        }
        sched_load(&m->sched, &w->sw, &msg->u.load);
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
    if (link_read(w, LINK_READ_BATCH) == LINK_CLOSED) {
        /* The worker closed its end: it is exiting or has exited. Its
         * unacknowledged connections go to others now, not at reaping. */
        link_close(w);
        master_worker_gone(w->m, w);
    }
}

/* Reads everything a dead worker left in its channel. */
void
link_drain(struct mworker *w)
{
    if (w->node != NULL) {
        node_link_drain(w);
        return;
    }
    while (link_read(w, LINK_READ_BATCH) == LINK_MORE) {
    }
}
