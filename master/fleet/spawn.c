/*
 * spawn.c: starts worker processes, notices their exits, and restarts them
 * with exponential backoff so that a crash loop never becomes a fork storm.
 *
 * The delay before a restart starts at 100 ms. It doubles (up to 10 s)
 * each time a worker dies within four delays of its start, which is what
 * a crash loop looks like; it halves when a worker lived longer than that
 * (killed now and then, not crashing), and a worker that lived 10 s is
 * replaced at once and resets it.
 *
 * A worker is the separate program handoff-worker, started with fork and
 * exec (as Node's cluster.fork() does), with its end of a SOCK_SEQPACKET
 * socketpair as fd 3 (Node's NODE_CHANNEL_FD default). With --node it is
 * node running the user's script instead, on a SOCK_STREAM socketpair
 * (node_spawn.c). Nothing else of the master crosses exec: every other
 * descriptor is close-on-exec.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "master.h"

#define CHANNEL_FD 3
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define BACKOFF_RESET_S 10.0 /* a worker that lived this long was healthy */

static void spawn_child_cb(struct ev_loop *loop, ev_child *cw, int revents);

/*
 * Finds the worker program: --worker-bin, else handoff-worker beside this
 * binary (the build tree), else ../lib/handoff/handoff-worker (make
 * install), so an installed tree can move as a whole.
 */
int
spawn_resolve_worker_bin(struct master *m)
{
    char self[PATH_MAX], *dir;
    ssize_t n;

    if (m->opt.worker_bin != NULL) {
        if (snprintf(m->worker_bin, sizeof(m->worker_bin), "%s",
                     m->opt.worker_bin)
            >= (int) sizeof(m->worker_bin)) {
            errno = ENAMETOOLONG;
            return -1;
        }
    } else {
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n == -1) {
            return -1;
        }
        self[n] = '\0';
        dir = dirname(self);
        if (snprintf(m->worker_bin, sizeof(m->worker_bin), "%s/handoff-worker",
                     dir)
            >= (int) sizeof(m->worker_bin)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (access(m->worker_bin, X_OK) == 0) {
            return 0;
        }
        if (snprintf(m->worker_bin, sizeof(m->worker_bin),
                     "%s/../lib/handoff/handoff-worker", dir)
            >= (int) sizeof(m->worker_bin)) {
            errno = ENAMETOOLONG;
            return -1;
        }
    }
    return access(m->worker_bin, X_OK);
}

/*
 * In a child between fork and exec (async-signal-safe): every signal back
 * to its default and unblocked, as a fresh program expects. The parent
 * blocked them all around fork so that none runs libev's handler here (it
 * would write to the master's own wakeup pipe).
 */
void
spawn_child_signals(void)
{
    struct sigaction sa;
    sigset_t none;
    int sig;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    for (sig = 1; sig < NSIG; sig++) {
        (void) sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    (void) sigprocmask(SIG_SETMASK, &none, NULL);
}

static void __attribute__((noreturn))
spawn_exec_child(const char *path, char *const argv[], char *const envp[],
                 int chan_fd)
{
    static const char msg[] = "handoff: cannot exec the worker program\n";

    spawn_child_signals();

    if (chan_fd == CHANNEL_FD) {
        if (fd_set_cloexec(chan_fd, 0) == -1) {
            _exit(127);
        }
    } else if (dup2(chan_fd, CHANNEL_FD) == -1) {
        _exit(127);
    }
    if (envp != NULL) {
        execve(path, argv, envp);
    } else {
        execv(path, argv);
    }
    (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
}

/* Starts a worker for slot <s> (which keeps any current one). */
struct mworker *
spawn_worker(struct slot *s)
{
    struct master *m = s->m;
    char idbuf[16], slotbuf[16], fdbuf[8];
    char limbuf[LIM_COUNT][64], rootbuf[PATH_MAX + 8], logbuf[PATH_MAX + 16];
    char *argv[14 + LIM_COUNT];
    char **node_argv = NULL, **node_envp = NULL;
    bool node = m->opt.node_script != NULL;
    int i;
    int argc = 0, sv[2];
    sigset_t all, old;
    struct mworker *w;
    pid_t pid;

    w = calloc(1, sizeof(*w));
    if (w == NULL || (node && node_link_new(w) == -1)) {
        log_error(ENOMEM, "cannot start a worker");
        free(w);
        return NULL;
    }
    /* Node's IPC channel is a byte stream of JSON lines; ours carries
     * fixed-size records, one per datagram. */
    if (socketpair(AF_UNIX,
                   (node ? SOCK_STREAM : SOCK_SEQPACKET) | SOCK_NONBLOCK
                       | SOCK_CLOEXEC,
                   0, sv)
        == -1) {
        log_error(errno, "socketpair() failed; cannot start a worker");
        node_link_free(w);
        free(w);
        return NULL;
    }
    sched_worker_init(&w->sw, ++m->next_worker_id);
    w->sw.key = s->index;
    if (node) {
        node_argv = node_spawn_argv(m);
        node_envp = node_spawn_envp(m, w->sw.id, CHANNEL_FD);
        if (node_argv == NULL || node_envp == NULL) {
            log_error(ENOMEM, "cannot start a worker");
            node_spawn_free(node_argv);
            node_spawn_free(node_envp);
            fd_close(sv[0]);
            fd_close(sv[1]);
            node_link_free(w);
            free(w);
            return NULL;
        }
    }

    snprintf(idbuf, sizeof(idbuf), "%u", w->sw.id);
    snprintf(slotbuf, sizeof(slotbuf), "%u", s->index);
    snprintf(fdbuf, sizeof(fdbuf), "%d", CHANNEL_FD);
    argv[argc++] = "handoff-worker";
    argv[argc++] = "--id";
    argv[argc++] = idbuf;
    argv[argc++] = "--slot";
    argv[argc++] = slotbuf;
    argv[argc++] = "--channel-fd";
    argv[argc++] = fdbuf;
    if (m->opt.trace) {
        argv[argc++] = "--trace";
    }
    for (i = 0; i < LIM_COUNT; i++) {
        char v[32];

        limits_format((enum limit_id) i, m->opt.limits.v[i], v, sizeof(v));
        snprintf(limbuf[i], sizeof(limbuf[i]), "--%s=%s", limit_defs[i].name,
                 v);
        argv[argc++] = limbuf[i];
    }
    if (m->root[0] != '\0') {
        snprintf(rootbuf, sizeof(rootbuf), "--root=%s", m->root);
        argv[argc++] = rootbuf;
    }
    if (m->access_log[0] != '\0') {
        snprintf(logbuf, sizeof(logbuf), "--access-log=%s", m->access_log);
        argv[argc++] = logbuf;
    }
    argv[argc++] =
        m->opt.demo_routes ? "--demo-routes=on" : "--demo-routes=off";
    argv[argc] = NULL;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        if (node) {
            spawn_exec_child(m->node_bin, node_argv, node_envp, sv[1]);
        }
        spawn_exec_child(m->worker_bin, argv, NULL, sv[1]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    fd_close(sv[1]);
    node_spawn_free(node_argv);
    node_spawn_free(node_envp);
    if (pid == -1) {
        log_error(errno, "fork() failed; cannot start a worker");
        fd_close(sv[0]);
        node_link_free(w);
        free(w);
        return NULL;
    }

    w->m = m;
    w->slot = s;
    w->pid = pid;
    w->chan_fd = sv[0];
    w->started = w->last_heard = ev_now(m->loop);
    chan_outbox_init(&w->out);
    if (m->opt.max_requests > 0) {
        /* gunicorn's max_requests_jitter: workers started together do not
         * all recycle together. */
        w->recycle_after =
            m->opt.max_requests
            + (m->opt.max_requests_jitter > 0
                   ? sched_random(&m->sched) % (m->opt.max_requests_jitter + 1)
                   : 0);
    }
    TAILQ_INSERT_TAIL(&m->all, w, all_link);
    m->nalive++;
    s->w = w;
    ev_child_init(&w->child_w, spawn_child_cb, pid, 0);
    ev_child_start(m->loop, &w->child_w);
    link_start(w);
    log_info("%s W%u (pid %ld) started in slot %u",
             node ? "Node worker" : "worker", w->sw.id, (long) pid, s->index);
    return w;
}

static void
spawn_respawn_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct slot *s = container_of(t, struct slot, respawn);

    (void) loop;
    (void) revents;
    if (s->m->stopping || s->w != NULL) {
        return;
    }
    if (spawn_worker(s) == NULL) {
        /* fork/socketpair failed: try again later, backing off. */
        spawn_schedule(s, s->backoff_ms);
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                           : s->backoff_ms * 2;
    }
}

void
spawn_slot_init(struct slot *s)
{
    ev_init(&s->respawn, spawn_respawn_cb);
    s->backoff_ms = BACKOFF_FIRST_MS;
}

/* Starts a worker for <s> after <delay_ms>. */
void
spawn_schedule(struct slot *s, uint64_t delay_ms)
{
    ev_timer_stop(s->m->loop, &s->respawn);
    ev_timer_set(&s->respawn, (ev_tstamp) delay_ms / 1000., 0.);
    ev_timer_start(s->m->loop, &s->respawn);
}

void
spawn_kill_all(struct master *m, int sig)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &m->all, all_link) {
        if (!w->exited && kill(w->pid, sig) == -1 && errno != ESRCH) {
            log_warn(errno, "kill(W%u, %d) failed", w->sw.id, sig);
        }
    }
}

static void
spawn_log_exit(const struct mworker *w, int status, ev_tstamp lived)
{
    if (WIFEXITED(status)) {
        log_msg(WEXITSTATUS(status) == 0 && (w->m->stopping || w->retiring)
                    ? LOG_LEVEL_INFO
                    : LOG_LEVEL_WARN,
                0, "worker W%u (pid %ld) exited with code %d after %.1f s",
                w->sw.id, (long) w->pid, WEXITSTATUS(status), lived);
    } else if (WIFSIGNALED(status)) {
        log_warn(0,
                 "worker W%u (pid %ld) killed by signal %d (%s) after "
                 "%.1f s",
                 w->sw.id, (long) w->pid, WTERMSIG(status),
                 strsignal(WTERMSIG(status)), lived);
    }
}

static void
spawn_child_cb(struct ev_loop *loop, ev_child *cw, int revents)
{
    struct mworker *w = container_of(cw, struct mworker, child_w);
    struct master *m = w->m;
    ev_tstamp lived = ev_now(loop) - w->started;

    (void) revents;
    if (WIFSTOPPED(cw->rstatus) || WIFCONTINUED(cw->rstatus)) {
        return;
    }
    ev_child_stop(loop, cw);
    w->exited = true;
    m->nalive--;
    m->exits++;
    spawn_log_exit(w, cw->rstatus, lived);

    /* Whatever it sent before dying is still in the socket: read it all,
     * so acknowledged connections are released, not handed out again. */
    link_drain(w);
    link_close(w);
    master_worker_gone(m, w);
    workers_exited(w, lived);
    m->served_gone += w->sw.load.served;
    m->handed_gone += w->sw.handed;
    TAILQ_REMOVE(&m->all, w, all_link);
    chan_outbox_free(&w->out);
    node_link_free(w);
    free(w);
    if (m->stopping) {
        master_stop_progress(m);
    }
}

/*
 * The delay before restarting a slot whose worker lived <lived> seconds;
 * see the file comment.
 */
uint64_t
spawn_backoff(struct slot *s, ev_tstamp lived)
{
    uint64_t delay_ms;

    if (lived >= BACKOFF_RESET_S) {
        s->backoff_ms = BACKOFF_FIRST_MS;
        return 0;
    }
    delay_ms = s->backoff_ms;
    if (lived * 1000. >= 4. * (double) s->backoff_ms) {
        s->backoff_ms = s->backoff_ms / 2 < BACKOFF_FIRST_MS
                            ? BACKOFF_FIRST_MS
                            : s->backoff_ms / 2;
    } else {
        s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
                                                           : s->backoff_ms * 2;
    }
    return delay_ms;
}
