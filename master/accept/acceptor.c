/*
 * acceptor.c: accepts connections on the listening socket and gives them
 * to the scheduler.
 *
 * Accepting pauses, letting the kernel backlog hold what arrives
 * meanwhile: while no worker is in the rotation (at start until the first
 * is READY, and whenever every worker has died or left: a connection
 * accepted then could only wait in the master, which a client cannot
 * tell from a hang, while the backlog is bounded and visible); while
 * every worker is full; while the scheduler's queue is at --max-queue
 * (Node's primary has no such bound, node-cluster.md §5); and for a moment
 * after EMFILE, ENFILE, ENOBUFS or ENOMEM, so a full table never becomes
 * a busy loop. Connections already accepted stay queued through any pause.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "accept.h"
#include "fdutil.h"
#include "log.h"
#include "master.h"
#include "sched/policy.h"


/* FNV-1a over the address bytes only: the port changes per connection. */
static uint32_t
acceptor_addr_hash(const struct chan_peer *p)
{
    size_t i, n = p->family == AF_INET6 ? 16 : 4;
    uint32_t h = 2166136261u;

    for (i = 0; i < n; i++) {
        h = (h ^ p->addr[i]) * 16777619u;
    }
    return h;
}

static void
acceptor_pause_for_error(struct master *m, int err)
{
    ev_tstamp now = ev_now(m->loop);

    /* Once a second is enough to tell an operator the table is full. */
    if (now - m->accept_error_logged >= 1.0) {
        m->accept_error_logged = now;
        log_warn(err, "accept4() failed; pausing accepts for %.0f ms",
                 ACCEPT_PAUSE_S * 1000);
    }
    m->accept_error_pause = true;
    ev_io_stop(m->loop, &m->accept_w);
    ev_timer_set(&m->accept_pause, ACCEPT_PAUSE_S, 0.);
    ev_timer_start(m->loop, &m->accept_pause);
}

static void
acceptor_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct master *m = container_of(io, struct master, accept_w);
    int i;

    (void) loop;
    (void) revents;
    for (i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        struct mconn *c;
        int fd;

        if (m->sched.nqueued + m->proxy_waiting >= m->opt.max_queue
            || sched_all_full(&m->sched)) {
            break; /* acceptor_update() pauses us */
        }
        switch (accept_next(m->listen_fd, &ss, &fd)) {
        case ACCEPT_OK:
            break;
        case ACCEPT_SKIP:
            continue;
        case ACCEPT_PAUSE:
            acceptor_pause_for_error(m, errno);
            goto out;
        case ACCEPT_AGAIN:
            goto out;
        }
        c = mconn_new(&m->pool);
        if (c == NULL) {
            fd_close(fd);
            acceptor_pause_for_error(m, ENOMEM);
            break;
        }
        c->fd = fd;
        chan_peer_from(&c->peer, (struct sockaddr *) &ss);
        m->accepted++;
        if (m->opt.proxy_protocol) {
            proxy_wait(m, c);
        } else {
            acceptor_arrive(m, c);
        }
    }
out:
    acceptor_update(m);
}

/* <c> (with its real client address) goes to the scheduler. */
void
acceptor_arrive(struct master *m, struct mconn *c)
{
    sched_conn_init(&c->sc, ++m->next_conn_id, acceptor_addr_hash(&c->peer));
    sched_conn_arrive(&m->sched, &c->sc);
}

static void
acceptor_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, accept_pause);

    (void) loop;
    (void) revents;
    m->accept_error_pause = false;
    acceptor_update(m);
}

void
acceptor_start(struct master *m)
{
    ev_io_init(&m->accept_w, acceptor_cb, m->listen_fd, EV_READ);
    /* When a new connection and a worker's answer are both ready, read the
     * answer first: it frees the worker (rr), releases an fd, and gives
     * the policy fresh figures for the new connection. */
    ev_set_priority(&m->accept_w, EV_MINPRI);
    ev_init(&m->accept_pause, acceptor_resume_cb);
    acceptor_update(m);
}

/* Starts or stops accepting according to the pauses in force. */
void
acceptor_update(struct master *m)
{
    bool full = m->sched.nqueued + m->proxy_waiting >= m->opt.max_queue;
    bool workers_full = sched_all_full(&m->sched);
    bool no_worker = m->sched.nworkers == 0;

    if (m->listen_fd == -1 || m->opt.policy->accept != POLICY_MASTER_ACCEPTS) {
        return; /* closed, or the workers accept (none) */
    }
    if (no_worker != m->accept_no_worker) {
        m->accept_no_worker = no_worker;
        /* At start there is nothing to say until the first is READY; after
         * that, one line when the last one goes and one when one is back,
         * however many restarts fail in between. */
        if (no_worker && m->ever_ready) {
            log_warn(0,
                     "no worker is ready; accepting paused, the kernel "
                     "backlog holds new connections (%zu accepted wait "
                     "in the queue)",
                     m->sched.nqueued);
            m->accept_no_worker_logged = true;
        } else if (!no_worker && m->accept_no_worker_logged) {
            log_info("a worker is ready again; accepting");
            m->accept_no_worker_logged = false;
        }
    }
    if (workers_full != m->accept_workers_full) {
        m->accept_workers_full = workers_full;
        if (workers_full) {
            log_warn(0, "every worker is full (--max-conns or descriptors); "
                        "accepting paused, the kernel backlog holds the "
                        "rest");
        } else {
            log_info("a worker has room again; accepting");
        }
    }
    if (full != m->accept_queue_pause) {
        m->accept_queue_pause = full;
        if (full) {
            log_warn(0,
                     "%zu connections wait for a worker (--max-queue); "
                     "accepting paused, the kernel backlog holds the rest",
                     m->sched.nqueued);
        } else {
            log_info("queue below --max-queue; accepting again");
        }
    }
    if (no_worker || full || workers_full || m->accept_error_pause) {
        ev_io_stop(m->loop, &m->accept_w);
    } else {
        ev_io_start(m->loop, &m->accept_w);
    }
}

/* Why the master is not accepting now, for /stats; NULL when it is (or
 * when the workers accept themselves). */
const char *
acceptor_paused(const struct master *m)
{
    if (m->listen_fd == -1 || m->opt.policy->accept != POLICY_MASTER_ACCEPTS) {
        return NULL;
    }
    if (m->accept_no_worker) {
        return "no_worker_ready";
    }
    if (m->accept_workers_full) {
        return "workers_full";
    }
    if (m->accept_queue_pause) {
        return "queue_full";
    }
    return m->accept_error_pause ? "accept_error" : NULL;
}

void
acceptor_close(struct master *m)
{
    if (m->listen_fd == -1) {
        return;
    }
    ev_io_stop(m->loop, &m->accept_w);
    ev_timer_stop(m->loop, &m->accept_pause);
    fd_close(m->listen_fd);
    m->listen_fd = -1;
}
