/*
 * master.c: the master process: start-up, signals, graceful stop, and the
 * sink through which the scheduler's decisions become handoffs on a
 * worker's link and closed descriptors. It is the one place that knows
 * every part: it picks the kind of worker, wires the parts together and
 * gives each the hooks it calls back through.
 *
 * Signals, as nginx and gunicorn operators know them:
 *   SIGTERM, SIGINT, SIGQUIT  graceful stop (a second SIGTERM/SIGINT: now)
 *   SIGHUP                    the configuration read again and applied,
 *                             then a rolling restart (reload.c, spawn.c)
 *   SIGTTIN, SIGTTOU          one worker more, one fewer
 *   SIGUSR1                   workers reopen the access log
 *   SIGUSR2                   binary upgrade (upgrade.c)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accept/acceptor.h"
#include "accept/inherit.h"
#include "accept/listener.h"
#include "accept/mconn.h"
#include "fdutil.h"
#include "fleet/fleet.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/workers.h"
#include "log.h"
#include "master.h"
#include "node/node.h"
#include "ops/admin.h"
#include "ops/control.h"
#include "ops/history.h"
#include "ops/pidfile.h"
#include "ops/trace.h"
#include "reload.h"
#include "sched/policy.h"
#include "version.h"

/* The scheduler hands <sc> to <sw>: its link queues it, fd attached. */
static void
master_sink_send(void *ctx, struct sched_conn *sc, struct sched_worker *sw)
{
    struct mworker *w = mworker_of(sw);

    (void) ctx;
    w->link->handoff(w, mconn_of(sc));
}

/* The worker acknowledged <sc>: only now does the master let go of it. */
static void
master_sink_release(void *ctx, struct sched_conn *sc)
{
    struct master *m = ctx;
    struct mconn *c = mconn_of(sc);

    if (c->rh_slot != 0) {
        return; /* its worker's table keeps it (fleet/rehand.c) */
    }
    fd_close(c->fd);
    mconn_free(&m->acc.pool, c);
}

/* --trace: every step of the scheduler. */
static void
master_sink_event(void *ctx, enum sched_event ev, const struct sched_conn *c,
                  const struct sched_worker *w)
{
    struct master *m = ctx;

    trace_sched_event(&m->sched, ev, c, w);
}

/* --trace, switched at run time (handoffctl trace) in the master and
 * every worker. */
static void
master_set_trace(void *ctx, bool on)
{
    struct master *m = ctx;

    if (m->opt.trace == on) {
        return;
    }
    m->opt.trace = on;
    m->sched.sink.event = on ? master_sink_event : NULL;
    mworker_notify_all(&m->fleet, CHAN_TRACE, on);
}

/*
 * Moves a graceful stop along, once per loop turn (the prepare watcher)
 * and when it starts: while accepted connections wait to be handed out
 * every worker keeps taking them; then each worker with no handoff left
 * unanswered is told to finish and exit (workers.c). The loop ends when
 * the last worker has exited.
 */
static void
master_stop_progress(struct master *m)
{
    if (!m->stopping) {
        return;
    }
    if (acceptor_pending(&m->acc) == 0) {
        workers_shutdown_idle(&m->fleet);
    }
    if (m->fleet.nalive == 0 && upgrade_handing_over(&m->up) == 0) {
        ev_break(m->loop, EVBREAK_ALL);
    }
}

/* Log lines stderr did not take: written when it is writable again, so
 * a reader that stalls never stalls the master (common/log.h). */
static void
master_log_flush(struct master *m)
{
    if (log_flush()) {
        ev_io_stop(m->loop, &m->log_w);
    } else if (!ev_is_active(&m->log_w)) {
        ev_io_set(&m->log_w, log_fd(), EV_WRITE);
        ev_io_start(m->loop, &m->log_w);
    }
}

static void
master_log_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop;
    (void) revents;
    master_log_flush(container_of(io, struct master, log_w));
}

static void
master_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    struct master *m = container_of(p, struct master, prepare_w);

    (void) loop;
    (void) revents;
    master_stop_progress(m);
    mworker_flush_dirty(&m->fleet);
    acceptor_update(&m->acc);
    master_log_flush(m);
}

static void
master_grace_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, grace_w);

    (void) loop;
    (void) revents;
    log_warn(0, "grace period over; killing %u remaining worker%s",
             m->fleet.nalive, m->fleet.nalive == 1 ? "" : "s");
    mworker_kill_all(&m->fleet, SIGKILL);
}

/* No more connections: accepting stops and the listening sockets close. */
static void
master_close_listeners(struct master *m)
{
    acceptor_stop(&m->acc);
    listeners_close(&m->lis);
}

/* Starts a graceful stop (SIGTERM, or a successful upgrade). */
static void
master_stop(struct master *m, const char *why)
{
    if (m->stopping) {
        return;
    }
    m->stopping = true;
    fleet_stop(&m->fleet);
    inherit_notify("STOPPING=1");
    /* A LISTEN still in an outbox refers to a listener about to close. */
    mworker_flush_dirty(&m->fleet);
    master_close_listeners(m);
    /* Said once the listener is closed, so nobody reading this line can
     * still connect. */
    log_info("%s: stopping gracefully (up to %.1f s)", why,
             (double) m->opt.grace_ms / 1000.);
    ev_timer_set(&m->grace_w, (double) m->opt.grace_ms / 1000., 0.);
    ev_timer_start(m->loop, &m->grace_w);
    master_stop_progress(m);
}

/*
 * The fleet gives up (no worker ever booted): the master ends at once
 * with exit status <status>; what is left is killed and freed as after
 * any stop.
 */
static void
master_give_up(void *ctx, int status)
{
    struct master *m = ctx;

    m->exit_status = status;
    m->stopping = true;
    fleet_stop(&m->fleet);
    inherit_notify("STOPPING=1");
    ev_break(m->loop, EVBREAK_ALL);
}

/* handoffctl reload: as SIGHUP. */
static bool
master_reload_hook(void *ctx, char *why, size_t len)
{
    return master_reload(ctx, why, len);
}

/* Every slot's worker is READY: as a new master, tell the old one. */
static void
master_all_ready(void *ctx)
{
    struct master *m = ctx;

    upgrade_ready(&m->up);
}

/* The new master of an upgrade is ready: this one steps down. */
static void
master_step_down(void *ctx)
{
    struct master *m = ctx;

    /* Its workers give idle connections back, for the new master. */
    m->fleet.successor = m->opt.rehand;
    master_stop(ctx, "upgraded");
}

/* Stepping down: an idle connection goes to the new master. */
static bool
master_hand_over(void *ctx, struct mconn *c)
{
    struct master *m = ctx;

    return upgrade_hand_over(&m->up, c);
}

/* The new master of an upgrade will not take over (or has exited);
 * more than once is harmless. */
static void
master_successor_gone(void *ctx)
{
    struct master *m = ctx;

    if (!m->stopping) {
        /* It did not take over: the control socket's path is ours again
         * (it bound it as it started), and so is the pid file. */
        control_reclaim();
        pidfile_upgrade_failed();
    }
}

static void
master_signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    struct master *m = sig->data;
    char why[400];

    (void) revents;
    switch (sig->signum) {
    case SIGHUP:
        (void) master_reload(m, why, sizeof(why));
        return;
    case SIGTTIN:
        fleet_scale(&m->fleet, +1);
        return;
    case SIGTTOU:
        fleet_scale(&m->fleet, -1);
        return;
    case SIGUSR1:
        log_info("SIGUSR1: workers reopen the access log");
        mworker_notify_all(&m->fleet, CHAN_REOPEN, 0);
        return;
    case SIGUSR2:
        upgrade_start(&m->up, m->stopping);
        return;
    default:
        break;
    }
    if (m->stopping) {
        if (sig->signum != SIGQUIT) {
            log_info("signal %d during a graceful stop: stopping now",
                     sig->signum);
            mworker_kill_all(&m->fleet, SIGKILL);
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

/* After the loop: reap what is left and free everything (for LSan too). */
static void
master_cleanup(struct master *m)
{
    fleet_fini(&m->fleet);
    sched_drop_queue(&m->sched, master_sink_release, m);
    master_close_listeners(m);
    history_stop();
    admin_close();
    control_close();
    upgrade_fini(&m->up);
    sched_fini(&m->sched);
    acceptor_fini(&m->acc);
    pidfile_remove();
    options_free();
}

static void
master_watch_signal(struct master *m, ev_signal *w, int signum)
{
    ev_signal_init(w, master_signal_cb, signum);
    w->data = m;
    ev_signal_start(m->loop, w);
}

/*
 * The loop, its signals (watched from the start, so an early SIGTERM is a
 * graceful stop too), what was handed over, and the workers' program.
 * Returns 0, or -1 after a line on stderr.
 */
static int
master_setup(struct master *m, char **argv)
{
    struct fleet_hooks hooks = {
        .ctx = m,
        .all_ready = master_all_ready,
        .give_up = master_give_up,
        .hand_over = master_hand_over,
    };
    /* The one place that knows every kind of worker. */
    const struct link_ops *kind =
        m->opt.node_script != NULL ? &node_link_ops : &native_link_ops;
    char why[256];

    signal(SIGPIPE, SIG_IGN);
    master_raise_nofile();
    listeners_init(&m->lis);
    m->loop = ev_default_loop(EVFLAG_AUTO);
    if (m->loop == NULL) {
        fprintf(stderr, "handoff: cannot create the event loop\n");
        return -1;
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
        return -1;
    }
    if (m->opt.user != NULL
        && runas_resolve(m->opt.user, &m->fleet.runas, why, sizeof(why))
               == -1) {
        fprintf(stderr, "handoff: %s\n", why);
        return -1;
    }
    upgrade_init(&m->up, m->loop, &m->lis, argv);
    m->up.ctx = m;
    m->up.step_down = master_step_down;
    m->up.acc = &m->acc;
    m->up.successor_gone = master_successor_gone;
    m->up.fleet = &m->fleet;
    fleet_init(&m->fleet, m->loop, &m->opt, &m->sched, &m->lis, kind, &hooks);
    m->fleet.acc = &m->acc;
    acceptor_init(&m->acc, m->loop, &m->opt, &m->sched, &m->lis);
    return kind->resolve(&m->fleet);
}

/*
 * The scheduler, the slots, the listening sockets and the side doors.
 * Returns 0, or -1 after a line on stderr (all is closed again).
 */
static int
master_open(struct master *m, char *where, size_t wlen)
{
    struct sched_sink sink = {
        .ctx = m,
        .send = master_sink_send,
        .release = master_sink_release,
        .event = m->opt.trace ? master_sink_event : NULL,
    };

    if (sched_init(&m->sched, m->opt.policy, &sink) == -1
        || fleet_open(&m->fleet) == -1) {
        fprintf(stderr, "handoff: out of memory\n");
        fleet_fini(&m->fleet);
        return -1;
    }
    if (m->opt.pid_file != NULL
        && pidfile_check(m->opt.pid_file, upgrade_successor(&m->up)) == -1) {
        sched_fini(&m->sched);
        fleet_fini(&m->fleet);
        return -1;
    }
    if (listeners_open(&m->lis, &m->opt, m->fleet.nslots, where, wlen) == -1) {
        fprintf(stderr, "handoff: %s\n", where);
        master_close_listeners(m);
        sched_fini(&m->sched);
        fleet_fini(&m->fleet);
        return -1;
    }
    m->env = (struct ops_env){
        .loop = m->loop,
        .opt = &m->opt,
        .sched = &m->sched,
        .lis = &m->lis,
        .acc = &m->acc,
        .fleet = &m->fleet,
        .up = &m->up,
        .started = ev_now(m->loop),
        .ctx = m,
        .set_trace = master_set_trace,
        .reload = master_reload_hook,
    };
    ev_init(&m->grace_w, master_grace_cb);
    ev_init(&m->log_w, master_log_cb);
    ev_prepare_init(&m->prepare_w, master_prepare_cb);
    ev_prepare_start(m->loop, &m->prepare_w);

    if ((m->opt.admin && admin_open(&m->env) == -1)
        || control_open(&m->env) == -1) {
        admin_close();
        master_close_listeners(m);
        sched_fini(&m->sched);
        fleet_fini(&m->fleet);
        return -1;
    }
    history_start(&m->env);
    return 0;
}

static void
master_announce(const struct master *m, const char *where)
{
    log_info("handoff %s listening on %s with %u worker%s (policy %s)",
             HANDOFF_VERSION, where, m->opt.workers,
             m->opt.workers == 1 ? "" : "s", m->opt.policy->name);
    if (m->opt.window != 0) {
        log_info("window: %u unanswered handoffs per worker", m->opt.window);
    }
    if (m->fleet.kind->announce != NULL) {
        m->fleet.kind->announce(&m->fleet);
    }
    if (m->opt.policy_note[0] != '\0') {
        log_warn(0, "%s", m->opt.policy_note);
    }
}

/* Runs the master started with <argv>; its exit status. */
int
master_run(struct master *m, char **argv)
{
    char where[1024];

    if (master_setup(m, argv) == -1
        || master_open(m, where, sizeof(where)) == -1) {
        return 1;
    }
    /* Once it listens: whoever reads the pid can send it SIGHUP. */
    if (m->opt.pid_file != NULL && pidfile_write(m->opt.pid_file) == -1) {
        master_cleanup(m);
        return 1;
    }
    m->configured = m->opt;
    master_announce(m, where);
    sched_seed(&m->sched, (uint64_t) getpid() << 32 ^ (uint64_t) ev_time());
    if (m->opt.window != 0) {
        m->sched.window = m->opt.window;
    }
    if (m->opt.policy->accept == POLICY_MASTER_ACCEPTS) {
        acceptor_start(&m->acc);
    }
    fleet_start(&m->fleet);

    ev_run(m->loop, 0);

    master_cleanup(m);
    log_info("stopped");
    ev_io_stop(m->loop, &m->log_w);
    /* The last lines: as much as stderr takes now. */
    (void) log_flush();
    return m->exit_status;
}
