/*
 * master.c: the master process: start-up, signals, graceful stop, and the
 * sink through which the scheduler's decisions become channel messages and
 * closed descriptors.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "master.h"
#include "policy.h"

/* The scheduler hands <sc> to <sw>: queue a CONN with the fd attached. */
static void
master_sink_send(void *ctx, struct sched_conn *sc, struct sched_worker *sw)
{
    struct mconn *c = mconn_of(sc);
    struct chan_msg msg;

    (void) ctx;
    chan_msg_init(&msg, CHAN_CONN, sw->id);
    msg.conn_id = sc->id;
    msg.u.peer = c->peer;
    link_send(mworker_of(sw), &msg, c->fd);
}

/* The worker acknowledged <sc>: only now does the master let go of it. */
static void
master_sink_release(void *ctx, struct sched_conn *sc)
{
    struct master *m = ctx;
    struct mconn *c = mconn_of(sc);

    fd_close(c->fd);
    mconn_free(&m->pool, c);
}

void
master_worker_gone(struct master *m, struct mworker *w)
{
    sched_worker_gone(&m->sched, &w->sw);
}

/*
 * Moves a graceful stop along: while connections wait in the queue every
 * worker keeps taking them; then each ready worker with no handoff left
 * unanswered leaves the rotation and is told to finish and exit. A worker
 * that never answers holds back only itself, until --grace runs out.
 */
void
master_stop_progress(struct master *m)
{
    unsigned i;

    if (!m->stopping) {
        return;
    }
    for (i = 0; i < m->nslots && m->sched.nqueued == 0; i++) {
        struct mworker *w = m->slots[i].w;
        struct chan_msg msg;

        if (w == NULL || !w->ready || w->shutdown_sent || w->chan_fd == -1
            || w->sw.ninflight > 0) {
            continue;
        }
        sched_worker_leave(&m->sched, &w->sw);
        chan_msg_init(&msg, CHAN_SHUTDOWN, w->sw.id);
        link_send(w, &msg, -1);
        w->shutdown_sent = true;
    }
    if (m->nalive == 0) {
        ev_break(m->loop, EVBREAK_ALL);
    }
}

static void
master_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    struct master *m = container_of(p, struct master, prepare_w);

    (void) loop;
    (void) revents;
    master_stop_progress(m);
    link_flush_dirty(m);
    acceptor_update(m);
}

static void
master_grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, grace_w);

    (void) loop;
    (void) revents;
    log_warn(0, "grace period over; killing %u remaining worker%s",
             m->nalive, m->nalive == 1 ? "" : "s");
    spawn_kill_all(m, SIGKILL);
}

static void
master_signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    struct master *m = sig->data;

    (void) revents;
    if (m->stopping) {
        if (sig->signum != SIGQUIT) {
            log_info("signal %d during a graceful stop: stopping now",
                     sig->signum);
            spawn_kill_all(m, SIGKILL);
            ev_break(loop, EVBREAK_ALL);
        }
        return;
    }
    log_info("signal %d: stopping gracefully (up to %.1f s)", sig->signum,
             (double) m->opt.grace_ms / 1000.);
    m->stopping = true;
    /* A LISTEN still in an outbox refers to a listener about to close. */
    link_flush_dirty(m);
    master_close_listeners(m);
    spawn_stop_respawns(m);
    ev_timer_set(&m->grace_w, (double) m->opt.grace_ms / 1000., 0.);
    ev_timer_start(loop, &m->grace_w);
    master_stop_progress(m);
}

/*
 * Opens the listening socket(s): one that the master accepts on or shares
 * with every worker, or under reuseport one per slot on the same address.
 */
static int
master_open_listeners(struct master *m, char *where, size_t wlen)
{
    bool reuseport = m->opt.policy->accept == POLICY_REUSEPORT;
    struct sockaddr_storage ss;
    socklen_t sslen;
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        m->slots[i].listen_fd = -1;
    }
    m->listen_fd = listener_open(&m->opt, reuseport, &ss, &sslen, where, wlen);
    if (m->listen_fd == -1) {
        return -1;
    }
    if (!reuseport) {
        return 0;
    }
    m->slots[0].listen_fd = m->listen_fd;
    m->listen_fd = -1;
    for (i = 1; i < m->nslots; i++) {
        m->slots[i].listen_fd = listener_open_at((struct sockaddr *) &ss, sslen,
                                                 m->opt.backlog, true);
        if (m->slots[i].listen_fd == -1) {
            snprintf(where, wlen, "cannot open SO_REUSEPORT socket %u: %s",
                     i + 1, strerror(errno));
            return -1;
        }
    }
    /* The address line is printed by the caller; keep it. */
    listener_describe((struct sockaddr *) &ss, where, wlen);
    return 0;
}

void
master_close_listeners(struct master *m)
{
    unsigned i;

    acceptor_close(m);
    for (i = 0; i < m->nslots; i++) {
        fd_close(m->slots[i].listen_fd);
        m->slots[i].listen_fd = -1;
    }
}

/* Checks --root and makes it absolute: workers may not share our cwd. */
static int
master_resolve_root(struct master *m)
{
    struct stat st;

    if (realpath(m->opt.root, m->root) == NULL) {
        fprintf(stderr, "handoff: --root %s: %s\n", m->opt.root,
                strerror(errno));
        return -1;
    }
    if (stat(m->root, &st) == -1 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "handoff: --root %s: not a directory\n", m->opt.root);
        return -1;
    }
    if (access(m->root, R_OK | X_OK) == -1) {
        fprintf(stderr, "handoff: --root %s: %s\n", m->opt.root,
                strerror(errno));
        return -1;
    }
    return 0;
}

static void
master_raise_nofile(void)
{
    struct rlimit rl;

    /* Every queued connection costs the master an fd; use what we may. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) == -1) {
            log_warn(errno, "setrlimit(RLIMIT_NOFILE) failed");
        }
    }
}

static void
master_close_conn(void *arg, struct sched_conn *sc)
{
    master_sink_release(arg, sc);
}

/* After the loop: reap what is left and free everything (for LSan too). */
static void
master_cleanup(struct master *m)
{
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        struct slot *s = &m->slots[i];
        struct mworker *w = s->w;

        ev_timer_stop(m->loop, &s->respawn);
        if (w == NULL) {
            continue;
        }
        if (!w->exited) {
            int status;

            (void) kill(w->pid, SIGKILL);
            while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR) {
            }
            ev_child_stop(m->loop, &w->child_w);
        }
        link_close(w);
        sched_worker_gone(&m->sched, &w->sw);
        chan_outbox_free(&w->out);
        free(w);
        s->w = NULL;
    }
    sched_drop_queue(&m->sched, master_close_conn, m);
    master_close_listeners(m);
    sched_fini(&m->sched);
    mconn_pool_fini(&m->pool);
    free(m->slots);
}

int
master_run(struct master *m)
{
    struct sched_sink sink = {
        .ctx = m,
        .send = master_sink_send,
        .release = master_sink_release,
        .event = m->opt.trace ? trace_sched_event : NULL,
    };
    char where[128];

    signal(SIGPIPE, SIG_IGN);
    master_raise_nofile();
    m->listen_fd = -1;
    /* Signals are watched from the start, so an early SIGTERM is a
     * graceful stop too. */
    m->loop = ev_default_loop(EVFLAG_AUTO);
    if (m->loop == NULL) {
        fprintf(stderr, "handoff: cannot create the event loop\n");
        return 1;
    }
    ev_signal_init(&m->sig_int, master_signal_cb, SIGINT);
    ev_signal_init(&m->sig_term, master_signal_cb, SIGTERM);
    ev_signal_init(&m->sig_quit, master_signal_cb, SIGQUIT);
    m->sig_int.data = m->sig_term.data = m->sig_quit.data = m;
    ev_signal_start(m->loop, &m->sig_int);
    ev_signal_start(m->loop, &m->sig_term);
    ev_signal_start(m->loop, &m->sig_quit);

    if (m->opt.root != NULL && master_resolve_root(m) == -1) {
        return 1;
    }
    if (spawn_resolve_worker_bin(m) == -1) {
        fprintf(stderr, "handoff: worker program %s: %s\n", m->worker_bin,
                strerror(errno));
        return 1;
    }
    m->nslots = m->opt.workers;
    m->slots = calloc(m->nslots, sizeof(*m->slots));
    if (m->slots == NULL || sched_init(&m->sched, m->opt.policy, &sink) == -1) {
        fprintf(stderr, "handoff: out of memory\n");
        free(m->slots);
        return 1;
    }
    if (master_open_listeners(m, where, sizeof(where)) == -1) {
        fprintf(stderr, "handoff: %s\n", where);
        master_close_listeners(m);
        sched_fini(&m->sched);
        free(m->slots);
        return 1;
    }
    TAILQ_INIT(&m->dirty);
    ev_init(&m->grace_w, master_grace_cb);
    ev_prepare_init(&m->prepare_w, master_prepare_cb);
    ev_prepare_start(m->loop, &m->prepare_w);

    log_info("handoff %s listening on %s with %u worker%s (policy %s)",
             HANDOFF_VERSION, where, m->opt.workers,
             m->opt.workers == 1 ? "" : "s", m->opt.policy->name);
    if (m->opt.policy_note[0] != '\0') {
        log_warn(0, "%s", m->opt.policy_note);
    }
    sched_seed(&m->sched, (uint64_t) getpid() << 32 ^ (uint64_t) ev_time());
    if (m->opt.policy->accept == POLICY_MASTER_ACCEPTS) {
        acceptor_start(m);
    }
    spawn_all(m);

    ev_run(m->loop, 0);

    master_cleanup(m);
    log_info("stopped");
    return 0;
}
