/*
 * exec.c: starting a child program, as Node's cluster.fork() starts a
 * worker: fork and exec, the child's end of its channel as fd
 * EXEC_CHANNEL_FD and its table of connection states as REHAND_FD,
 * nothing else of the master across exec (every other descriptor is
 * close-on-exec).
 *
 * Everything the child needs (argv, the environment) is built before
 * fork: between fork and exec the child runs only async-signal-safe
 * calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/runas.h"
#include "conn_state.h"
#include "fdutil.h"
#include "fleet/exec.h"

extern char **environ;

/*
 * In a child between fork and exec (async-signal-safe): every signal back
 * to its default and unblocked, as a fresh program expects. The parent
 * blocked them all around fork so that none runs libev's handler here (it
 * would write to the master's own wakeup pipe).
 */
void
exec_child_signals(void)
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

/*
 * --user: the child takes the worker's groups, group and user, and
 * checks it holds them and cannot take root back; or it dies (127)
 * rather than serve as the master's user. Async-signal-safe calls only.
 */
static void
exec_drop(const struct runas *ra)
{
    static const char msg[] = "handoff: cannot drop the worker's privileges "
                              "(--user)\n";

    if (ra == NULL || !ra->on
        || (geteuid() == ra->uid && getegid() == ra->gid && getuid() == ra->uid
            && getgid() == ra->gid)) {
        return; /* already so (a master started as that user) */
    }
    if (setgroups((size_t) ra->ngroups, ra->groups) == -1
        || setgid(ra->gid) == -1 || setuid(ra->uid) == -1 || getuid() != ra->uid
        || geteuid() != ra->uid || getgid() != ra->gid || getegid() != ra->gid
        || (ra->uid != 0 && setuid(0) != -1)) {
        (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
        _exit(127);
    }
}

static void __attribute__((noreturn))
exec_child(const struct exec_cmd *cmd, int chan_fd)
{
    static const char msg[] = "handoff: cannot exec the worker program\n";
    int rh = cmd->rehand_fd;

    exec_child_signals();
    /* Out of the way of the descriptors set below, then at REHAND_FD. */
    if (rh > 0 && rh <= REHAND_FD
        && (rh = fcntl(rh, F_DUPFD, REHAND_FD + 1)) == -1) {
        _exit(127);
    }
    /* A SCHED_BATCH task woken up does not preempt the one running: a
     * worker woken by its CONN lets the master finish its turn (accept,
     * hand out, close) instead of switching to it and back for each
     * connection. Refused only by a kernel without it: run as we are. */
    if (cmd->batch) {
        (void) sched_setscheduler(0, SCHED_BATCH, &(struct sched_param){0});
    }

    /* Before the channel: a pipe's end may be EXEC_CHANNEL_FD itself. */
    if ((cmd->out_fd > 0 && dup2(cmd->out_fd, STDOUT_FILENO) == -1)
        || (cmd->err_fd > 0 && dup2(cmd->err_fd, STDERR_FILENO) == -1)) {
        _exit(127);
    }
    exec_drop(cmd->runas);
    if (chan_fd == EXEC_CHANNEL_FD) {
        if (fd_set_cloexec(chan_fd, 0) == -1) {
            _exit(127);
        }
    } else if (dup2(chan_fd, EXEC_CHANNEL_FD) == -1) {
        _exit(127);
    }
    if (rh > 0 && dup2(rh, REHAND_FD) == -1) {
        _exit(127);
    }
    if (cmd->envp != NULL) {
        execve(cmd->path, cmd->argv, cmd->envp);
    } else {
        execv(cmd->path, cmd->argv);
    }
    (void) !write(STDERR_FILENO, msg, sizeof(msg) - 1);
    _exit(127);
}

/*
 * Forks a child that execs <cmd> with <chan_fd> as its EXEC_CHANNEL_FD.
 * Returns its pid, or -1 with errno set.
 */
pid_t
exec_worker(const struct exec_cmd *cmd, int chan_fd)
{
    sigset_t all, old;
    pid_t pid;
    int err;

    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        exec_child(cmd, chan_fd);
    }
    err = errno;
    sigprocmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return pid;
}

/* True when <var> ("NAME=value") sets a name that one of <set> sets. */
static bool
exec_env_replaced(const char *var, char *const *set, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        const char *eq = strchr(set[i], '=');
        size_t len = eq != NULL ? (size_t) (eq - set[i]) + 1 : strlen(set[i]);

        if (strncmp(var, set[i], len) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * This process's environment with the <n> variables of <set>
 * ("NAME=value") set, after the others; each string owned by the vector.
 * NULL on ENOMEM.
 */
char **
exec_env(char *const *set, size_t n)
{
    size_t nenv = 0, k = 0, i;
    char **v;

    while (environ[nenv] != NULL) {
        nenv++;
    }
    v = calloc(nenv + n + 1, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    for (i = 0; i < nenv; i++) {
        if (!exec_env_replaced(environ[i], set, n)
            && (v[k++] = strdup(environ[i])) == NULL) {
            goto fail;
        }
    }
    for (i = 0; i < n; i++) {
        if ((v[k++] = strdup(set[i])) == NULL) {
            goto fail;
        }
    }
    return v;
fail:
    exec_vec_free(v);
    return NULL;
}

/* Frees a NULL-terminated vector of owned strings, and the vector. */
void
exec_vec_free(char **v)
{
    size_t i;

    if (v == NULL) {
        return;
    }
    for (i = 0; v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

void
exec_cmd_free(struct exec_cmd *cmd)
{
    exec_vec_free(cmd->argv);
    exec_vec_free(cmd->envp);
    cmd->argv = cmd->envp = NULL;
}
