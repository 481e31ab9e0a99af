/*
 * channel.c: the worker's end of its channel to the master (fd 3).
 *
 * For each CONN the worker queues an ACK (accepted, or refused while
 * draining or out of resources) and keeps the connection in `pending`
 * until that ACK has actually been sent: only then does it read from it.
 * So if this worker dies, every connection the master has not seen
 * acknowledged is untouched and can be served by another worker.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "channel.h"
#include "fdutil.h"
#include "http/http.h"
#include "http/tls.h"
#include "listen.h"
#include "log.h"
#include "worker.h"


static struct chan_batch channel_batch;
static struct chan_tickets channel_tickets; /* a TICKET set arriving */

static void
channel_master_gone(const char *why)
{
    struct conn *c;

    if (worker.master_gone) {
        return;
    }
    log_warn(0, "channel to the master closed (%s); finishing up", why);
    worker.master_gone = true;
    channel_close();
    /* Nobody can be told we took these, and nothing has been read from
     * them; with the master gone nobody else will serve them either. */
    while ((c = TAILQ_FIRST(&engine.pending)) != NULL) {
        conn_free(c);
    }
    graves_close_all(); /* nobody holds their copies any more */
    ev_timer_start(engine.loop, &worker.orphan_w);
    worker_drain("master gone", false);
}

static void
channel_take(const struct chan_msg *msg, int fd)
{
    static ev_tstamp warned;
    struct chan_msg ack;
    struct conn *c = NULL;
    enum chan_refusal reason = CHAN_REFUSE_OTHER;

    if (fd < 0) {
        /* MSG_CTRUNC: at our descriptor limit. */
        reason = CHAN_REFUSE_FULL;
        if (ev_now(engine.loop) - warned >= 1.0) {
            warned = ev_now(engine.loop);
            log_warn(0,
                     "refusing C%llu: its fd did not arrive (descriptor "
                     "limit?)",
                     (unsigned long long) msg->conn_id);
        }
    } else if (engine.draining) {
        reason = CHAN_REFUSE_DRAINING;
    } else if (engine.nconns >= engine.lim.v[LIM_MAX_CONNS]) {
        /* At --max-conns: the master parks us until our next report. */
        reason = CHAN_REFUSE_FULL;
    } else if ((c = conn_new(fd, msg)) == NULL) {
        reason = CHAN_REFUSE_FULL;
    }
    if (c == NULL) {
        fd_close(fd);
    }
    chan_msg_init(&ack, CHAN_ACK, worker.id);
    ack.conn_id = msg->conn_id;
    ack.u.ack.accepted = c != NULL;
    ack.u.ack.reason = c != NULL ? CHAN_REFUSE_OTHER : (uint32_t) reason;
    ack.u.ack.open_conns = engine.nconns;
    ack.u.ack.in_flight = engine.in_flight;
    if (chan_outbox_push(&worker.out, &ack, -1) == -1) {
        /* Without its ACK the master would wait for ever: better to die
         * and let the master hand the connection to another worker. */
        log_error(ENOMEM, "cannot queue an acknowledgement; exiting");
        _exit(1);
    }
    if (c != NULL) {
        c->ack_index = worker.out.sent + chan_outbox_len(&worker.out) - 1;
        TAILQ_INSERT_TAIL(&engine.pending, c, pending_link);
    }
    if (engine.trace) {
        static const char *const why[] = {
            [CHAN_REFUSE_OTHER] = "refusing",
            [CHAN_REFUSE_FULL] = "refusing: no room",
            [CHAN_REFUSE_DRAINING] = "refusing: draining",
        };

        log_trace("C%llu received fd=%d; %s", (unsigned long long) msg->conn_id,
                  fd, c != NULL ? "accepting (ack queued)" : why[reason]);
    }
}

static void
channel_handle(const struct chan_msg *msg, int fd)
{
    if (msg->worker_id != worker.id) {
        log_error(0, "message for W%u on W%u's channel; ignored",
                  msg->worker_id, worker.id);
        fd_close(fd);
        return;
    }
    switch (msg->type) {
    case CHAN_CONN:
        channel_take(msg, fd);
        break;
    case CHAN_LISTEN:
        tls_set_listener(msg->u.peer.listener, msg->flags & CHAN_F_TLS);
        accesslog_listener(msg->u.peer.listener, &msg->u.peer);
        if (fd < 0) {
            log_error(0, "LISTEN without its socket; ignored");
        } else {
            listen_adopt(msg->u.peer.listener, fd);
        }
        break;
    case CHAN_LISTENER:
        tls_set_listener(msg->u.peer.listener,
                         msg->u.peer.family != 0 && (msg->flags & CHAN_F_TLS));
        accesslog_listener(msg->u.peer.listener, &msg->u.peer);
        if (msg->u.peer.family == 0) {
            listen_forget(msg->u.peer.listener);
        }
        break;
    case CHAN_REOPEN:
        accesslog_reopen();
        break;
    case CHAN_TICKET:
        if (chan_ticket_apply(&channel_tickets, msg)) {
            tls_set_tickets(&channel_tickets);
            explicit_bzero(&channel_tickets, sizeof(channel_tickets));
        }
        break;
    case CHAN_TRACE:
        engine.trace = msg->u.trace.on != 0;
        log_info("trace %s", engine.trace ? "on" : "off");
        break;
    case CHAN_SHUTDOWN:
        /* The master lives on: idle connections go back to it, to be
         * handed to another worker, rather than closed (conn_state.h). */
        engine.rehand_return =
            engine.rehand != NULL && msg->u.shutdown.rehand != 0;
        worker_drain(engine.rehand_return ? "the master asked; idle "
                                            "connections go back to it"
                                          : "the master asked",
                     false);
        break;
    default:
        log_error(0, "unexpected %s from the master; ignored",
                  chan_type_name(msg->type));
        fd_close(fd);
        break;
    }
}

static void
channel_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    int i;
    size_t r, k;

    (void) loop;
    (void) io;
    (void) revents;
    for (i = 0; i < CHAN_READ_BATCHES && !worker.master_gone; i++) {
        enum chan_status st = chan_recv_batch(worker.chan_fd, &channel_batch);

        if (st == CHAN_AGAIN) {
            break;
        }
        if (st == CHAN_EOF) {
            channel_master_gone("EOF");
            return;
        }
        if (st != CHAN_OK) {
            channel_master_gone("recvmmsg() failed");
            return;
        }
        for (r = 0; r < channel_batch.count; r++) {
            struct chan_record *rec = &channel_batch.rec[r];

            if (channel_batch.bad[r]) {
                log_error(0, "malformed record from the master; ignored");
                continue;
            }
            for (k = 0; k < rec->count; k++) {
                channel_handle(&rec->msgs[k], rec->fds[k]);
            }
        }
        if (channel_batch.eof) {
            channel_master_gone("EOF");
            return;
        }
        if (channel_batch.count < CHAN_RECV_BATCH) {
            break; /* nothing more for now; no read just to see EAGAIN */
        }
    }
    channel_flush();
}

static void
channel_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) revents;
    ev_io_stop(loop, io);
    channel_flush();
}

static void
channel_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop;
    (void) t;
    (void) revents;
    channel_flush();
}

void
channel_start(void)
{
    struct chan_msg ready;

    chan_outbox_init(&worker.out);
    ev_io_init(&worker.chan_r, channel_read_cb, worker.chan_fd, EV_READ);
    ev_io_init(&worker.chan_w, channel_write_cb, worker.chan_fd, EV_WRITE);
    ev_init(&worker.chan_retry, channel_retry_cb);
    ev_io_start(engine.loop, &worker.chan_r);
    chan_msg_init(&ready, CHAN_READY, worker.id);
    channel_send(&ready);
}

void
channel_send(const struct chan_msg *msg)
{
    if (worker.master_gone) {
        return;
    }
    if (chan_outbox_push(&worker.out, msg, -1) == -1) {
        log_error(ENOMEM, "cannot queue a %s message; exiting",
                  chan_type_name(msg->type));
        _exit(1);
    }
}

void
channel_flush(void)
{
    struct conn *c;

    if (worker.master_gone || ev_is_active(&worker.chan_w)
        || ev_is_active(&worker.chan_retry)) {
        return;
    }
    switch (chan_outbox_flush(worker.chan_fd, &worker.out)) {
    case CHAN_OK:
        break;
    case CHAN_AGAIN:
        ev_io_start(engine.loop, &worker.chan_w);
        break;
    default:
        if (errno == ENOBUFS || errno == ENOMEM) {
            ev_timer_set(&worker.chan_retry, CHAN_RETRY_S, 0.);
            ev_timer_start(engine.loop, &worker.chan_retry);
        } else {
            channel_master_gone("sendmsg() failed");
            return;
        }
        break;
    }
    while ((c = TAILQ_FIRST(&engine.pending)) != NULL
           && c->ack_index < worker.out.sent) {
        TAILQ_REMOVE(&engine.pending, c, pending_link);
        if (engine.trace) {
            log_trace("C%llu ack sent; reading", (unsigned long long) c->id);
        }
        conn_activate(c);
    }
}

void
channel_close(void)
{
    if (worker.chan_fd == -1) {
        return;
    }
    ev_io_stop(engine.loop, &worker.chan_r);
    ev_io_stop(engine.loop, &worker.chan_w);
    ev_timer_stop(engine.loop, &worker.chan_retry);
    fd_close(worker.chan_fd);
    worker.chan_fd = -1;
}
