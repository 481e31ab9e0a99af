/*
 * upgrade.c: binary upgrade on SIGUSR2, as nginx does it.
 *
 * The master forks and executes its binary again, as found on disk now
 * (possibly a new build), with the same arguments, handing it its
 * listening socket(s) (HANDOFF_LISTEN_FDS), its --admin socket
 * (HANDOFF_ADMIN_FD) and the write end of a pipe (HANDOFF_UPGRADE_FD). Both
 * masters accept on the same socket meanwhile. When the new master's workers
 * are all READY it writes "R" to the pipe; the old master then stops
 * gracefully: its workers finish their requests and it exits, and the listening
 * socket lives on in the new master. If the new master dies first, or is not
 * ready within UPGRADE_TIMEOUT_S, the old master says so and goes on serving as
 * before; once the new master has exited it takes the control socket's path
 * back (control_reclaim()).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdutil.h"
#include "fleet/exec.h"
#include "log.h"
#include "master.h"

#define UPGRADE_TIMEOUT_S 30.0

static void
upgrade_end(struct master *m)
{
    ev_io_stop(m->loop, &m->upgrade_r);
    ev_timer_stop(m->loop, &m->upgrade_timer);
    fd_close(m->upgrade_fd);
    m->upgrade_fd = -1;
}

static void
upgrade_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct master *m = container_of(io, struct master, upgrade_r);
    char c;
    ssize_t n;

    (void) loop;
    (void) revents;
    do {
        n = read(m->upgrade_fd, &c, 1);
    } while (n == -1 && errno == EINTR);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return;
    }
    upgrade_end(m);
    if (n == 1 && c == 'R') {
        log_info("upgrade: the new master (pid %ld) is ready; this one steps "
                 "down",
                 (long) m->upgrade_pid);
        master_stop(m, "upgraded");
    } else {
        log_error(0,
                  "upgrade failed: the new master (pid %ld) exited before "
                  "it was ready; this master goes on serving",
                  (long) m->upgrade_pid);
    }
}

static void
upgrade_timeout_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, upgrade_timer);

    (void) loop;
    (void) revents;
    log_error(0,
              "upgrade failed: the new master (pid %ld) was not ready "
              "after %.0f s; stopping it, this master goes on serving",
              (long) m->upgrade_pid, UPGRADE_TIMEOUT_S);
    (void) kill(m->upgrade_pid, SIGTERM);
    upgrade_end(m);
}

static void
upgrade_child_cb(struct ev_loop *loop, ev_child *cw, int revents)
{
    struct master *m = container_of(cw, struct master, upgrade_child);

    (void) revents;
    ev_child_stop(loop, cw);
    log_info("the new master (pid %ld) exited with status %d", (long) cw->rpid,
             WIFEXITED(cw->rstatus) ? WEXITSTATUS(cw->rstatus)
                                    : 128 + WTERMSIG(cw->rstatus));
    m->upgrade_pid = 0;
    if (!m->stopping) {
        /* It did not take over: the control socket's path is ours again
         * (it bound it as it started). */
        control_reclaim(m);
    }
}

void
upgrade_start(struct master *m)
{
    char env_fds[256], env_pipe[48], env_admin[48], *p;
    int admin = admin_fd();
    int fds[INHERIT_MAX], pipefd[2];
    size_t n, i;
    sigset_t all, old;
    pid_t pid;

    if (m->stopping || m->upgrade_fd != -1 || m->upgrade_pid != 0) {
        log_warn(0, "SIGUSR2: an upgrade or a stop is already under way");
        return;
    }
    n = listeners_fds(&m->lis, fds, INHERIT_MAX);
    if (n == 0) {
        log_warn(0, "SIGUSR2: no listening socket to hand over");
        return;
    }
    if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) == -1) {
        log_error(errno, "SIGUSR2: pipe2() failed; no upgrade");
        return;
    }
    p = env_fds;
    p += snprintf(p, sizeof(env_fds), "HANDOFF_LISTEN_FDS=");
    for (i = 0; i < n && p < env_fds + sizeof(env_fds) - 12; i++) {
        p += snprintf(p, (size_t) (env_fds + sizeof(env_fds) - p), "%s%d",
                      i ? "," : "", fds[i]);
    }
    snprintf(env_pipe, sizeof(env_pipe), "HANDOFF_UPGRADE_FD=%d", pipefd[1]);
    snprintf(env_admin, sizeof(env_admin), "HANDOFF_ADMIN_FD=%d", admin);
    log_info("SIGUSR2: starting a new master from %s", m->self_path);

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls until exec. */
        for (i = 0; i < n; i++) {
            (void) fd_set_cloexec(fds[i], 0);
        }
        (void) fd_set_cloexec(pipefd[1], 0);
        (void) putenv(env_fds);
        (void) putenv(env_pipe);
        if (admin != -1) {
            /* The admin port moves over too, or the new master could
             * not bind it while this one holds it. */
            (void) fd_set_cloexec(admin, 0);
            (void) putenv(env_admin);
        }
        exec_child_signals();
        execv(m->self_path, m->argv);
        _exit(127);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    fd_close(pipefd[1]);
    if (pid == -1) {
        log_error(errno, "SIGUSR2: fork() failed; no upgrade");
        fd_close(pipefd[0]);
        return;
    }
    m->upgrade_pid = pid;
    m->upgrade_fd = pipefd[0];
    ev_io_init(&m->upgrade_r, upgrade_read_cb, m->upgrade_fd, EV_READ);
    ev_io_start(m->loop, &m->upgrade_r);
    ev_timer_init(&m->upgrade_timer, upgrade_timeout_cb, UPGRADE_TIMEOUT_S, 0.);
    ev_timer_start(m->loop, &m->upgrade_timer);
    ev_child_init(&m->upgrade_child, upgrade_child_cb, pid, 0);
    ev_child_start(m->loop, &m->upgrade_child);
}

/*
 * In a new master: once every worker is READY, tell the old master it can
 * step down (HANDOFF_UPGRADE_FD, read at start-up).
 */
void
upgrade_maybe_ready(struct master *m)
{
    unsigned i, ready = 0;
    ssize_t n;

    if (m->notify_parent_fd == -1) {
        return;
    }
    for (i = 0; i < m->fleet.nslots; i++) {
        ready += m->fleet.slots[i]->w != NULL && m->fleet.slots[i]->w->ready;
    }
    if (ready < m->fleet.nslots) {
        return;
    }
    do {
        n = write(m->notify_parent_fd, "R", 1);
    } while (n == -1 && errno == EINTR);
    fd_close(m->notify_parent_fd);
    m->notify_parent_fd = -1;
    log_info("upgrade: all workers ready; told the old master");
}

void
upgrade_fini(struct master *m)
{
    if (m->upgrade_fd != -1) {
        upgrade_end(m);
    }
    ev_child_stop(m->loop, &m->upgrade_child);
    fd_close(m->notify_parent_fd);
    m->notify_parent_fd = -1;
}
