/*
 * master.c: the master process: start-up, signals, graceful stop, and the
 * sink through which the scheduler's decisions become channel messages and
 * closed descriptors.
 *
 * Signals, as nginx and gunicorn operators know them:
 *   SIGTERM, SIGINT, SIGQUIT  graceful stop (a second SIGTERM/SIGINT: now)
 *   SIGHUP                    rolling restart of the workers (workers.c)
 *   SIGTTIN, SIGTTOU          one worker more, one fewer
 *   SIGUSR1                   workers reopen the access log
 *   SIGUSR2                   binary upgrade (upgrade.c)
 */
#include <errno.h>
#include <fcntl.h>
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
#include "sched/policy.h"

/* The scheduler hands <sc> to <sw>: queue a CONN with the fd attached. */
static void
master_sink_send(void *ctx, struct sched_conn *sc, struct sched_worker *sw)
{
    struct mconn *c = mconn_of(sc);
    struct chan_msg msg;

    (void) ctx;
    if (mworker_of(sw)->node != NULL) {
        node_cluster_newconn(mworker_of(sw), c);
        return;
    }
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
    mconn_free(&m->acc.pool, c);
}

void
master_worker_gone(struct master *m, struct mworker *w)
{
    sched_worker_gone(&m->sched, &w->sw);
}

/* Sends <type> to every worker that can still hear it. */
void
master_broadcast(struct master *m, enum chan_type type, uint32_t arg)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &m->all, all_link) {
        struct chan_msg msg;

        if (w->chan_fd == -1 || w->exited) {
            continue;
        }
        chan_msg_init(&msg, type, w->sw.id);
        msg.u.trace.on = arg;
        link_send(w, &msg, -1);
    }
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
    struct mworker *w;

    if (!m->stopping) {
        return;
    }
    TAILQ_FOREACH(w, &m->all, all_link) {
        struct chan_msg msg;

        /* Accepted connections still to be handed out (queued, or
         * reading their PROXY header) need the workers. */
        if (acceptor_pending(&m->acc) > 0) {
            break;
        }
        /* A Node worker that has not listened yet can be told at once:
         * Node's disconnect works at any point. */
        if ((!w->ready && w->node == NULL) || w->shutdown_sent
            || w->chan_fd == -1 || w->sw.ninflight > 0) {
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
    acceptor_update(&m->acc);
}

static void
master_grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, grace_w);

    (void) loop;
    (void) revents;
    log_warn(0, "grace period over; killing %u remaining worker%s", m->nalive,
             m->nalive == 1 ? "" : "s");
    spawn_kill_all(m, SIGKILL);
}

/* No more connections: accepting stops and the listening sockets close. */
static void
master_close_listeners(struct master *m)
{
    acceptor_stop(&m->acc);
    listeners_close(&m->lis);
}

/* Starts a graceful stop (SIGTERM, or a successful upgrade). */
void
master_stop(struct master *m, const char *why)
{
    if (m->stopping) {
        return;
    }
    m->stopping = true;
    inherit_notify("STOPPING=1");
    /* A LISTEN still in an outbox refers to a listener about to close. */
    link_flush_dirty(m);
    master_close_listeners(m);
    /* Said once the listener is closed, so nobody reading this line can
     * still connect. */
    log_info("%s: stopping gracefully (up to %.1f s)", why,
             (double) m->opt.grace_ms / 1000.);
    workers_stop_respawns(m);
    ev_timer_set(&m->grace_w, (double) m->opt.grace_ms / 1000., 0.);
    ev_timer_start(m->loop, &m->grace_w);
    master_stop_progress(m);
}

/*
 * Ends the master at once with exit status <status>, when it has nothing
 * to serve with (no worker ever booted): the loop stops, and what is left
 * is killed and freed as after any stop.
 */
void
master_exit(struct master *m, int status)
{
    m->exit_status = status;
    m->stopping = true;
    inherit_notify("STOPPING=1");
    workers_stop_respawns(m);
    ev_break(m->loop, EVBREAK_ALL);
}

static void
master_signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    struct master *m = sig->data;
    char why[32];

    (void) revents;
    switch (sig->signum) {
    case SIGHUP:
        workers_reload(m);
        return;
    case SIGTTIN:
        workers_scale(m, +1);
        return;
    case SIGTTOU:
        workers_scale(m, -1);
        return;
    case SIGUSR1:
        log_info("SIGUSR1: workers reopen the access log");
        master_broadcast(m, CHAN_REOPEN, 0);
        return;
    case SIGUSR2:
        upgrade_start(m);
        return;
    default:
        break;
    }
    if (m->stopping) {
        if (sig->signum != SIGQUIT) {
            log_info("signal %d during a graceful stop: stopping now",
                     sig->signum);
            spawn_kill_all(m, SIGKILL);
            ev_break(loop, EVBREAK_ALL);
        }
        return;
    }
    snprintf(why, sizeof(why), "signal %d", sig->signum);
    master_stop(m, why);
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

/*
 * Checks that --access-log can be written (workers open it themselves)
 * and makes the path absolute for them.
 */
static int
master_resolve_access_log(struct master *m)
{
    const char *path = m->opt.access_log;
    int fd;

    if (strcmp(path, "-") == 0) {
        snprintf(m->access_log, sizeof(m->access_log), "-");
        return 0;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        fprintf(stderr, "handoff: --access-log %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    fd_close(fd);
    if (realpath(path, m->access_log) == NULL) {
        fprintf(stderr, "handoff: --access-log %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
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
    struct mworker *w;

    workers_stop_respawns(m);
    while ((w = TAILQ_FIRST(&m->all)) != NULL) {
        if (!w->exited) {
            int status;

            (void) kill(w->pid, SIGKILL);
            while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR) {
            }
            ev_child_stop(m->loop, &w->child_w);
        }
        link_close(w);
        sched_worker_gone(&m->sched, &w->sw);
        TAILQ_REMOVE(&m->all, w, all_link);
        chan_outbox_free(&w->out);
        node_link_free(w);
        free(w);
    }
    sched_drop_queue(&m->sched, master_close_conn, m);
    master_close_listeners(m);
    admin_close(m);
    control_close(m);
    upgrade_fini(m);
    sched_fini(&m->sched);
    acceptor_fini(&m->acc);
    workers_fini(m);
    free(m->node_data);
    m->node_data = NULL;
}

static void
master_watch_signal(struct master *m, ev_signal *w, int signum)
{
    ev_signal_init(w, master_signal_cb, signum);
    w->data = m;
    ev_signal_start(m->loop, w);
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
    listeners_init(&m->lis);
    /* Signals are watched from the start, so an early SIGTERM is a
     * graceful stop too. */
    m->loop = ev_default_loop(EVFLAG_AUTO);
    if (m->loop == NULL) {
        fprintf(stderr, "handoff: cannot create the event loop\n");
        return 1;
    }
    master_watch_signal(m, &m->sig_int, SIGINT);
    master_watch_signal(m, &m->sig_term, SIGTERM);
    master_watch_signal(m, &m->sig_quit, SIGQUIT);
    master_watch_signal(m, &m->sig_hup, SIGHUP);
    master_watch_signal(m, &m->sig_usr1, SIGUSR1);
    master_watch_signal(m, &m->sig_usr2, SIGUSR2);
    master_watch_signal(m, &m->sig_ttin, SIGTTIN);
    master_watch_signal(m, &m->sig_ttou, SIGTTOU);

    if (inherit_init() == -1) {
        return 1;
    }
    m->notify_parent_fd = inherit_take_upgrade();
    m->upgrade_fd = -1;
    if (m->opt.root != NULL && master_resolve_root(m) == -1) {
        return 1;
    }
    if (m->opt.access_log != NULL && master_resolve_access_log(m) == -1) {
        return 1;
    }
    {
        ssize_t n =
            readlink("/proc/self/exe", m->self_path, sizeof(m->self_path) - 1);

        m->self_path[n > 0 ? n : 0] = '\0';
    }
    if (m->opt.node_script != NULL) {
        if (node_spawn_resolve(m) == -1) {
            return 1;
        }
    } else if (spawn_resolve_worker_bin(m) == -1) {
        fprintf(stderr, "handoff: worker program %s: %s\n", m->worker_bin,
                strerror(errno));
        return 1;
    }
    TAILQ_INIT(&m->dirty);
    if (sched_init(&m->sched, m->opt.policy, &sink) == -1
        || workers_init(m) == -1) {
        fprintf(stderr, "handoff: out of memory\n");
        workers_fini(m);
        return 1;
    }
    acceptor_init(&m->acc, m->loop, &m->opt, &m->sched, &m->lis);
    if (listeners_open(&m->lis, &m->opt, m->nslots, where, sizeof(where))
        == -1) {
        fprintf(stderr, "handoff: %s\n", where);
        master_close_listeners(m);
        sched_fini(&m->sched);
        workers_fini(m);
        return 1;
    }
    m->started = ev_now(m->loop);
    ev_init(&m->grace_w, master_grace_cb);
    ev_prepare_init(&m->prepare_w, master_prepare_cb);
    ev_prepare_start(m->loop, &m->prepare_w);

    if ((m->opt.admin != NULL && admin_open(m) == -1)
        || control_open(m) == -1) {
        admin_close(m);
        master_close_listeners(m);
        sched_fini(&m->sched);
        workers_fini(m);
        return 1;
    }
    log_info("handoff %s listening on %s with %u worker%s (policy %s)",
             HANDOFF_VERSION, where, m->opt.workers,
             m->opt.workers == 1 ? "" : "s", m->opt.policy->name);
    if (m->opt.window != 0) {
        log_info("window: %u unanswered handoffs per worker", m->opt.window);
    }
    if (m->opt.node_script != NULL) {
        log_info("workers are Node: %s %s", m->node_bin, m->opt.node_script);
    }
    if (m->opt.policy_note[0] != '\0') {
        log_warn(0, "%s", m->opt.policy_note);
    }
    sched_seed(&m->sched, (uint64_t) getpid() << 32 ^ (uint64_t) ev_time());
    if (m->opt.window != 0) {
        m->sched.window = m->opt.window;
    }
    if (m->opt.policy->accept == POLICY_MASTER_ACCEPTS) {
        acceptor_start(&m->acc);
    }
    workers_start(m);

    ev_run(m->loop, 0);

    master_cleanup(m);
    log_info("stopped");
    return m->exit_status;
}
