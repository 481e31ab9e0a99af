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
#include "accept/acceptor.h"
#include "accept/mconn.h"
#include "accept/proxy.h"
#include "conf/options.h"
#include "fdutil.h"
#include "log.h"
#include "sched/policy.h"

/* Every open listener's watcher, on (with its socket) or off. */
static void
acceptor_watch(struct acceptor *acc, bool on)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        ev_io *w = &acc->accept_w[i];

        if (on && acc->lis->l[i].open && acc->lis->l[i].fd != -1) {
            if (!ev_is_active(w)) {
                ev_io_set(w, acc->lis->l[i].fd, EV_READ);
                ev_io_start(acc->loop, w);
            }
        } else {
            ev_io_stop(acc->loop, w);
        }
    }
}

static void
acceptor_pause_for_error(struct acceptor *acc, int err)
{
    ev_tstamp now = ev_now(acc->loop);

    /* Once a second is enough to tell an operator the table is full. */
    if (now - acc->error_logged >= 1.0) {
        acc->error_logged = now;
        log_warn(err, "accept4() failed; pausing accepts for %.0f ms",
                 ACCEPT_PAUSE_S * 1000);
    }
    acc->error_pause = true;
    acceptor_watch(acc, false);
    ev_timer_set(&acc->accept_pause, ACCEPT_PAUSE_S, 0.);
    ev_timer_start(acc->loop, &acc->accept_pause);
}

static void
acceptor_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct acceptor *acc = io->data;
    unsigned lis = (unsigned) (io - acc->accept_w);
    int i;

    (void) loop;
    (void) revents;
    for (i = 0; i < ACCEPT_BATCH; i++) {
        struct sockaddr_storage ss;
        struct mconn *c;
        int fd;

        if (acceptor_pending(acc) >= acc->opt->max_queue
            || sched_all_full(acc->sched)) {
            break; /* acceptor_update() pauses us */
        }
        switch (accept_next(io->fd, &ss, &fd)) {
        case ACCEPT_OK:
            break;
        case ACCEPT_SKIP:
            continue;
        case ACCEPT_PAUSE:
            acceptor_pause_for_error(acc, errno);
            goto out;
        case ACCEPT_AGAIN:
            goto out;
        }
        c = mconn_new(&acc->pool);
        if (c == NULL) {
            fd_close(fd);
            acceptor_pause_for_error(acc, ENOMEM);
            break;
        }
        c->fd = fd;
        chan_peer_from(&c->peer, (struct sockaddr *) &ss);
        c->peer.listener = (uint8_t) lis;
        acc->accepted++;
        acc->lis->l[lis].accepted++;
        if (acc->opt->proxy_protocol) {
            proxy_wait(acc, c);
        } else {
            mconn_arrive(acc, c);
        }
    }
out:
    acceptor_update(acc);
}

static void
acceptor_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct acceptor *acc = container_of(t, struct acceptor, accept_pause);

    (void) loop;
    (void) revents;
    acc->error_pause = false;
    acceptor_update(acc);
}

void
acceptor_init(struct acceptor *acc, struct ev_loop *loop,
              const struct master_options *opt, struct sched *sched,
              struct listeners *lis)
{
    acc->loop = loop;
    acc->opt = opt;
    acc->sched = sched;
    acc->lis = lis;
}

/* Accepting starts, under the policies where the master accepts, on
 * every listener, and on those opened later (acceptor_update()). */
void
acceptor_start(struct acceptor *acc)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        ev_init(&acc->accept_w[i], acceptor_cb);
        acc->accept_w[i].data = acc;
        /* When a new connection and a worker's answer are both ready,
         * read the answer first: it frees the worker (rr), releases an
         * fd, and gives the policy fresh figures for the new connection. */
        ev_set_priority(&acc->accept_w[i], EV_MINPRI);
    }
    ev_init(&acc->accept_pause, acceptor_resume_cb);
    acc->started = true;
    acceptor_update(acc);
}

/* Listener <i> is about to close (SIGHUP removed it): no more accepting
 * on it. */
void
acceptor_forget(struct acceptor *acc, unsigned i)
{
    ev_io_stop(acc->loop, &acc->accept_w[i]);
}

/* Starts or stops accepting according to the pauses in force. */
void
acceptor_update(struct acceptor *acc)
{
    bool full = acceptor_pending(acc) >= acc->opt->max_queue;
    bool workers_full = sched_all_full(acc->sched);
    bool no_worker = acc->sched->nworkers == 0;

    if (!acc->started || acc->lis->nopen == 0
        || acc->opt->policy->accept != POLICY_MASTER_ACCEPTS) {
        return; /* closed, or the workers accept (none) */
    }
    if (!no_worker) {
        acc->worker_seen = true;
    }
    if (no_worker != acc->no_worker) {
        acc->no_worker = no_worker;
        /* At start there is nothing to say until the first is READY; after
         * that, one line when the last one goes and one when one is back,
         * however many restarts fail in between. */
        if (no_worker && acc->worker_seen) {
            log_warn(0,
                     "no worker is ready; accepting paused, the kernel "
                     "backlog holds new connections (%zu accepted wait "
                     "in the queue)",
                     acc->sched->nqueued);
            acc->no_worker_logged = true;
        } else if (!no_worker && acc->no_worker_logged) {
            log_info("a worker is ready again; accepting");
            acc->no_worker_logged = false;
        }
    }
    if (workers_full != acc->workers_full) {
        acc->workers_full = workers_full;
        if (workers_full) {
            log_warn(0, "every worker is full (--max-conns or descriptors); "
                        "accepting paused, the kernel backlog holds the "
                        "rest");
        } else {
            log_info("a worker has room again; accepting");
        }
    }
    if (full != acc->queue_pause) {
        acc->queue_pause = full;
        if (full) {
            log_warn(0,
                     "%zu connections wait for a worker (--max-queue); "
                     "accepting paused, the kernel backlog holds the rest",
                     acc->sched->nqueued);
        } else {
            log_info("queue below --max-queue; accepting again");
        }
    }
    acceptor_watch(acc,
                   !(no_worker || full || workers_full || acc->error_pause));
}

/* Why the master is not accepting now, for /stats; NULL when it is (or
 * when the workers accept themselves). */
const char *
acceptor_paused(const struct acceptor *acc)
{
    if (acc->lis->nopen == 0
        || acc->opt->policy->accept != POLICY_MASTER_ACCEPTS) {
        return NULL;
    }
    if (acc->no_worker) {
        return "no_worker_ready";
    }
    if (acc->workers_full) {
        return "workers_full";
    }
    if (acc->queue_pause) {
        return "queue_full";
    }
    return acc->error_pause ? "accept_error" : NULL;
}

/* Accepted connections not yet handed out: queued, or reading their
 * PROXY header. */
size_t
acceptor_pending(const struct acceptor *acc)
{
    return acc->sched->nqueued + acc->proxy_waiting;
}

/* Accepting ends: the listening socket is about to close. */
void
acceptor_stop(struct acceptor *acc)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        ev_io_stop(acc->loop, &acc->accept_w[i]);
    }
    ev_timer_stop(acc->loop, &acc->accept_pause);
}

/* The queue's records are freed with the pool: close them first. */
void
acceptor_fini(struct acceptor *acc)
{
    mconn_pool_fini(&acc->pool);
}
