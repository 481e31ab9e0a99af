/*
 * upgrade.c: binary upgrade on SIGUSR2, as nginx does it.
 *
 * The master forks and executes its binary again, as found on disk now
 * (possibly a new build), with the same arguments, handing it its
 * listening sockets (HANDOFF_LISTEN_FDS: every listener's, each slot's
 * under reuseport; the new master matches them with its own --listen by
 * address, or, when they are systemd's, takes them as they are, with
 * their names in HANDOFF_LISTEN_FDNAMES), its --admin socket
 * (HANDOFF_ADMIN_FD) and one end of a socketpair (HANDOFF_UPGRADE_FD). Both
 * masters accept on the same socket meanwhile. When the new master's workers
 * are all READY it writes "R" on it; the old master then stops
 * gracefully: its workers finish their requests and give their idle
 * connections back, which go to the new master on the same socket
 * (upgrade_conns.c), and it exits; the listening socket lives on in the
 * new master. If the new master dies first, or is not
 * ready within UPGRADE_TIMEOUT_S, the old master says so and goes on serving as
 * before; once the new master has exited it takes the control socket's path
 * back (control_reclaim(), from master.c's successor_gone hook).
 *
 * The new master's environment is built before fork and given to execve,
 * so that between fork and exec the child runs only async-signal-safe
 * calls (it clears close-on-exec on what it hands over, resets its
 * signals and execs).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accept/accept-t.h"
#include "accept/inherit.h"
#include "accept/listener.h"
#include "fdutil.h"
#include "fleet/exec.h"
#include "fleet/tickets.h"
#include "log.h"
#include "ops/admin.h"
#include "ops/pidfile.h"
#include "ops/upgrade.h"

#define UPGRADE_TIMEOUT_S 30.0
#define UPGRADE_READY 'R' /* the new master's word on the socket */

/* What the new master is handed. */
struct upgrade_handover {
    int fds[INHERIT_MAX]; /* the listening sockets */
    char names[INHERIT_MAX][INHERIT_NAME_MAX];
    size_t nfds;
    bool systemd; /* they are systemd's: names go with them */
    int admin;    /* the --admin socket, or -1 */
    int pipe[2];  /* [1] is the new master's end: "ready", then connections */
    int tickets;  /* the session-ticket keys' pipe (fleet/tickets.c), or -1 */
    char **envp;  /* owned */
};

void
upgrade_init(struct upgrade *up, struct ev_loop *loop,
             const struct listeners *lis, char **argv)
{
    ssize_t n;

    up->loop = loop;
    up->lis = lis;
    up->argv = argv;
    up->fd = -1;
    up->parent_fd = inherit_take_upgrade();
    up->handover_fd = -1;
    chan_outbox_init(&up->out);
    n = readlink("/proc/self/exe", up->self_path, sizeof(up->self_path) - 1);
    up->self_path[n > 0 ? n : 0] = '\0';
}

/* True in a new master that an old one started (HANDOFF_UPGRADE_FD). */
bool
upgrade_successor(const struct upgrade *up)
{
    return up->parent_fd != -1;
}

static void
upgrade_end(struct upgrade *up)
{
    ev_io_stop(up->loop, &up->ready_r);
    ev_timer_stop(up->loop, &up->timer);
    fd_close(up->fd);
    up->fd = -1;
}

static void
upgrade_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct upgrade *up = container_of(io, struct upgrade, ready_r);
    char c;
    ssize_t n;

    (void) loop;
    (void) revents;
    do {
        n = read(up->fd, &c, 1);
    } while (n == -1 && errno == EINTR);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    if (n == 1 && c == UPGRADE_READY) {
        /* The socket stays: idle connections go to the new master on it. */
        upgrade_conns_open(up, up->fd);
        up->fd = -1;
        upgrade_end(up);
        log_info("upgrade: the new master (pid %ld) is ready; this one steps "
                 "down",
                 (long) up->pid);
        up->step_down(up->ctx);
    } else {
        upgrade_end(up);
        /* Its end closed without "ready": it is dead, or dying. What it
         * took (the control socket's path, the pid file) is ours again
         * now, before the line that says so is read. */
        up->successor_gone(up->ctx);
        log_error(0,
                  "upgrade failed: the new master (pid %ld) exited before "
                  "it was ready; this master goes on serving",
                  (long) (up->pid != 0 ? up->pid : up->last_pid));
    }
}

static void
upgrade_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct upgrade *up = container_of(t, struct upgrade, timer);

    (void) loop;
    (void) revents;
    log_error(0,
              "upgrade failed: the new master (pid %ld) was not ready "
              "after %.0f s; stopping it, this master goes on serving",
              (long) up->pid, UPGRADE_TIMEOUT_S);
    (void) kill(up->pid, SIGTERM);
    upgrade_end(up);
    up->successor_gone(up->ctx); /* it will not take over */
}

static void
upgrade_child_cb(struct ev_loop *loop, ev_child *cw, int revents)
{
    struct upgrade *up = container_of(cw, struct upgrade, child);

    (void) revents;
    ev_child_stop(loop, cw);
    /* What it took is ours again before the line that says it is gone,
     * as when its pipe closes first. */
    up->successor_gone(up->ctx);
    log_info("the new master (pid %ld) exited with status %d", (long) cw->rpid,
             WIFEXITED(cw->rstatus) ? WEXITSTATUS(cw->rstatus)
                                    : 128 + WTERMSIG(cw->rstatus));
    up->pid = 0;
    up->last_pid = cw->rpid;
}

/* The environment that hands <h>'s descriptors over; false on ENOMEM. */
static bool
upgrade_env(struct upgrade_handover *h)
{
    static char env_fds[32 + INHERIT_MAX * 12],
        env_names[32 + INHERIT_MAX * INHERIT_NAME_MAX];
    char env_pipe[48], env_admin[48], env_tickets[48], *p, *q;
    char *set[5] = {env_fds, env_pipe};
    size_t i, n = 2;

    p = env_fds;
    p += snprintf(p, sizeof(env_fds), "HANDOFF_LISTEN_FDS=");
    q = env_names;
    q += snprintf(q, sizeof(env_names), "HANDOFF_LISTEN_FDNAMES=");
    for (i = 0; i < h->nfds; i++) {
        p += snprintf(p, (size_t) (env_fds + sizeof(env_fds) - p), "%s%d",
                      i ? "," : "", h->fds[i]);
        /* systemd's names are colon-separated, and hold no colon. */
        q += snprintf(q, (size_t) (env_names + sizeof(env_names) - q), "%s%s",
                      i ? ":" : "", h->names[i]);
    }
    snprintf(env_pipe, sizeof(env_pipe), "HANDOFF_UPGRADE_FD=%d", h->pipe[1]);
    snprintf(env_admin, sizeof(env_admin), "HANDOFF_ADMIN_FD=%d", h->admin);
    /* The admin port moves over too, or the new master could not bind it
     * while this one holds it. */
    if (h->admin != -1) {
        set[n++] = env_admin;
    }
    if (h->systemd) {
        set[n++] = env_names;
    }
    /* The descriptor's number; the keys are in the pipe behind it. */
    snprintf(env_tickets, sizeof(env_tickets), "HANDOFF_TICKETS_FD=%d",
             h->tickets);
    if (h->tickets != -1) {
        set[n++] = env_tickets;
    }
    h->envp = exec_env(set, n);
    return h->envp != NULL;
}

/* In the child, until exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
upgrade_exec(const struct upgrade *up, const struct upgrade_handover *h)
{
    size_t i;

    for (i = 0; i < h->nfds; i++) {
        (void) fd_set_cloexec(h->fds[i], 0);
    }
    (void) fd_set_cloexec(h->pipe[1], 0);
    if (h->admin != -1) {
        (void) fd_set_cloexec(h->admin, 0);
    }
    if (h->tickets != -1) {
        (void) fd_set_cloexec(h->tickets, 0);
    }
    exec_child_signals();
    execve(up->self_path, up->argv, h->envp);
    _exit(127);
}

/* The new master runs: wait for its "ready", its exit, or the timeout. */
static void
upgrade_watch(struct upgrade *up, pid_t pid, int ready_fd)
{
    up->pid = pid;
    up->fd = ready_fd;
    ev_io_init(&up->ready_r, upgrade_read_cb, up->fd, EV_READ);
    ev_io_start(up->loop, &up->ready_r);
    ev_timer_init(&up->timer, upgrade_timeout_cb, UPGRADE_TIMEOUT_S, 0.);
    ev_timer_start(up->loop, &up->timer);
    ev_child_init(&up->child, upgrade_child_cb, pid, 0);
    ev_child_start(up->loop, &up->child);
}

/* SIGUSR2: starts the new master, unless one runs or <stopping>. */
void
upgrade_start(struct upgrade *up, bool stopping)
{
    struct upgrade_handover h = {.admin = admin_fd(), .tickets = -1};
    sigset_t all, old;
    pid_t pid;
    int err;

    if (stopping || up->fd != -1 || up->pid != 0) {
        log_warn(0, "SIGUSR2: an upgrade or a stop is already under way");
        return;
    }
    h.nfds = listeners_fds(up->lis, h.fds, h.names, INHERIT_MAX);
    h.systemd = up->lis->from_systemd;
    if (h.nfds == 0) {
        log_warn(0, "SIGUSR2: no listening socket to hand over");
        return;
    }
    /* A socket rather than a pipe: the "ready" comes back on it, then
     * this master's idle connections go the other way. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                   h.pipe)
        == -1) {
        log_error(errno, "SIGUSR2: socketpair() failed; no upgrade");
        return;
    }
    h.tickets = tickets_handover(up->fleet);
    if (h.tickets == -1) {
        log_warn(errno, "SIGUSR2: the session-ticket keys cannot be handed "
                        "over; the new master makes its own");
    }
    if (!upgrade_env(&h)) {
        log_error(ENOMEM, "SIGUSR2: no upgrade");
        fd_close(h.pipe[0]);
        fd_close(h.pipe[1]);
        fd_close(h.tickets);
        return;
    }
    log_info("SIGUSR2: starting a new master from %s", up->self_path);
    pidfile_upgrade_start(); /* FILE.oldbin: FILE will be the new one's */

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        upgrade_exec(up, &h);
    }
    err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    fd_close(h.pipe[1]);
    fd_close(h.tickets);
    exec_vec_free(h.envp);
    if (pid == -1) {
        log_error(err, "SIGUSR2: fork() failed; no upgrade");
        pidfile_upgrade_failed();
        fd_close(h.pipe[0]);
        return;
    }
    upgrade_watch(up, pid, h.pipe[0]);
}

/*
 * In a new master, once every worker is READY: tell the old master it can
 * step down (HANDOFF_UPGRADE_FD, read at start-up).
 */
void
upgrade_ready(struct upgrade *up)
{
    ssize_t n;

    if (up->parent_fd == -1) {
        return;
    }
    do {
        n = write(up->parent_fd, &(char){UPGRADE_READY}, 1);
    } while (n == -1 && errno == EINTR);
    log_info("upgrade: all workers ready; told the old master");
    /* Its idle connections come on the same socket, until it exits. */
    upgrade_conns_take(up);
}

void
upgrade_fini(struct upgrade *up)
{
    if (up->fd != -1) {
        upgrade_end(up);
    }
    ev_child_stop(up->loop, &up->child);
    upgrade_conns_fini(up);
    fd_close(up->parent_fd);
    up->parent_fd = -1;
}
