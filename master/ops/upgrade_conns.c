/*
 * upgrade_conns.c: a binary upgrade moves the old master's idle
 * keep-alive connections to the new master (--rehand).
 *
 * Once the new master has said "ready" on the socketpair the upgrade
 * made (upgrade.c), the old master stops: its workers finish their
 * requests and give idle connections back (fleet/rehand.c), and each is
 * sent on the same socket as a CHAN_CONN with its descriptor, as a CONN
 * goes to a worker (worker id 0, the old C number, the peer). The record
 * and the descriptor are the old master's until the message has left;
 * then it closes its copy. The new master takes each as a new arrival at
 * its queue's tail, to be handed to its workers, until the old master's
 * end closes (its exit).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/accept-t.h"
#include "accept/mconn.h"
#include "fdutil.h"
#include "log.h"
#include "ops/upgrade.h"

static struct chan_batch upgrade_batch; /* one loop: shared */

static void upgrade_conns_write_cb(struct ev_loop *loop, ev_io *io,
                                   int revents);

void
upgrade_conns_open(struct upgrade *up, int fd)
{
    up->handover_fd = fd;
    ev_io_init(&up->handover_w, upgrade_conns_write_cb, fd, EV_WRITE);
}

/* The master lets go of <c>: sent (<shut> false), or lost with the new
 * master (<shut>: nobody will serve it). */
static void
upgrade_conns_release(struct upgrade *up, struct mconn *c, bool shut)
{
    if (shut) {
        (void) shutdown(c->fd, SHUT_RDWR);
    }
    fd_close(c->fd);
    mconn_free(&up->acc->pool, c);
}

/* The socket to the new master is gone: what was not sent closes. */
static void
upgrade_conns_drop(struct upgrade *up)
{
    size_t i;

    if (up->nsending > 0) {
        log_warn(0,
                 "upgrade: %zu idle connection%s could not reach the new "
                 "master; closed",
                 up->nsending, up->nsending == 1 ? "" : "s");
    }
    for (i = 0; i < up->nsending; i++) {
        upgrade_conns_release(up, up->sending[i], true);
    }
    up->nsending = 0;
    chan_outbox_clear(&up->out);
    ev_io_stop(up->loop, &up->handover_w);
    fd_close(up->handover_fd);
    up->handover_fd = -1;
}

static void
upgrade_conns_flush(struct upgrade *up)
{
    enum chan_status st = chan_outbox_flush(up->handover_fd, &up->out);
    size_t done = (size_t) (up->out.sent - up->sending_base), i;

    /* Sent: the new master has its own descriptor of each. */
    for (i = 0; i < done && i < up->nsending; i++) {
        upgrade_conns_release(up, up->sending[i], false);
    }
    up->nsending -= done;
    memmove(up->sending, up->sending + done,
            up->nsending * sizeof(*up->sending));
    up->sending_base = up->out.sent;
    up->handed_over += done;
    if (st == CHAN_OK) {
        ev_io_stop(up->loop, &up->handover_w);
    } else if (st == CHAN_AGAIN
               || (st == CHAN_ERROR
                   && (errno == ENOBUFS || errno == ETOOMANYREFS
                       || errno == ENOMEM))) {
        /* Too many descriptors in flight: the new master's reading frees
         * them, and makes the socket writable. */
        ev_io_start(up->loop, &up->handover_w);
    } else {
        log_warn(errno, "upgrade: sending connections to the new master "
                        "failed");
        upgrade_conns_drop(up);
    }
}

static void
upgrade_conns_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct upgrade *up = container_of(io, struct upgrade, handover_w);

    (void) loop;
    (void) revents;
    upgrade_conns_flush(up);
}

bool
upgrade_hand_over(struct upgrade *up, struct mconn *c)
{
    struct chan_msg msg;

    if (up->handover_fd == -1) {
        return false;
    }
    if (up->nsending == up->capsending) {
        size_t cap = up->capsending ? up->capsending * 2 : 64;
        struct mconn **v = realloc(up->sending, cap * sizeof(*v));

        if (v == NULL) {
            return false;
        }
        up->sending = v;
        up->capsending = cap;
    }
    chan_msg_init(&msg, CHAN_CONN, 0);
    msg.conn_id = c->sc.id;
    msg.u.peer = c->peer;
    if (chan_outbox_push(&up->out, &msg, c->fd) == -1) {
        return false;
    }
    up->sending[up->nsending++] = c;
    if (!ev_is_active(&up->handover_w)) {
        upgrade_conns_flush(up);
    }
    return true;
}

size_t
upgrade_handing_over(const struct upgrade *up)
{
    return up->nsending;
}

/* New master: one connection from the old one arrives. */
static void
upgrade_conns_arrive(struct upgrade *up, const struct chan_msg *msg, int fd)
{
    struct mconn *c;

    if (msg->type != CHAN_CONN || fd < 0) {
        fd_close(fd);
        return;
    }
    c = mconn_new(&up->acc->pool);
    if (c == NULL) {
        log_error(ENOMEM, "upgrade: cannot take a connection over; closed");
        fd_close(fd);
        return;
    }
    c->fd = fd;
    c->peer = msg->u.peer;
    c->rehand_of = msg->conn_id;
    up->taken_over++;
    mconn_arrive(up->acc, c);
}

static void
upgrade_conns_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct upgrade *up = container_of(io, struct upgrade, take_r);
    enum chan_status st;
    size_t r, k;

    (void) revents;
    st = chan_recv_batch(up->parent_fd, &upgrade_batch);
    if (st == CHAN_AGAIN) {
        return;
    }
    if (st == CHAN_OK) {
        for (r = 0; r < upgrade_batch.count; r++) {
            struct chan_record *rec = &upgrade_batch.rec[r];

            for (k = 0; k < rec->count && !upgrade_batch.bad[r]; k++) {
                upgrade_conns_arrive(up, &rec->msgs[k], rec->fds[k]);
            }
        }
        if (!upgrade_batch.eof) {
            return;
        }
    }
    /* The old master has exited (or failed): nothing more comes. */
    log_info("upgrade: took over %llu idle connection%s from the old master",
             (unsigned long long) up->taken_over,
             up->taken_over == 1 ? "" : "s");
    ev_io_stop(loop, io);
    fd_close(up->parent_fd);
    up->parent_fd = -1;
}

void
upgrade_conns_take(struct upgrade *up)
{
    ev_io_init(&up->take_r, upgrade_conns_read_cb, up->parent_fd, EV_READ);
    ev_io_start(up->loop, &up->take_r);
}

void
upgrade_conns_fini(struct upgrade *up)
{
    if (up->handover_fd != -1) {
        upgrade_conns_drop(up);
    }
    ev_io_stop(up->loop, &up->take_r);
    chan_outbox_free(&up->out);
    free(up->sending);
    up->sending = NULL;
    up->capsending = 0;
}
