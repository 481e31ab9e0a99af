/*
 * pidfile.c: --pid-file, as nginx keeps its: the master's pid, written
 * once its listeners are open, atomically (a file of its own, then
 * rename(2), so a reader never sees it half written). A binary upgrade
 * (SIGUSR2) renames it to FILE.oldbin before the new master starts,
 * which then writes FILE; the old master removes FILE.oldbin when it
 * exits, or, if the new master fails, renames it back. A master does
 * not start over the pid file of one that runs (a live process with our
 * program's name), which it could not stop; a stale one is replaced. At
 * exit the file goes, if it is still this master's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "numparse.h"
#include "ops/pidfile.h"

static char pidfile_path[PATH_MAX];
static char pidfile_old[PATH_MAX + 8]; /* FILE.oldbin */

/* The pid in <path>, or 0 (none, unreadable, not a pid). */
static pid_t
pidfile_read(const char *path)
{
    char buf[32];
    ssize_t n;
    uint64_t pid;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        return 0;
    }
    do {
        n = read(fd, buf, sizeof(buf) - 1);
    } while (n == -1 && errno == EINTR);
    fd_close(fd);
    if (n <= 0) {
        return 0;
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return num_parse_cstr(buf, 1, INT32_MAX, &pid) ? (pid_t) pid : 0;
}

/* /proc/PID/comm of <pid> (ours for 0), or "". */
static void
pidfile_comm(pid_t pid, char *buf, size_t len)
{
    char path[64];
    ssize_t n;
    int fd;

    if (pid == 0) {
        snprintf(path, sizeof(path), "/proc/self/comm");
    } else {
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long) pid);
    }
    buf[0] = '\0';
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd == -1) {
        return;
    }
    n = read(fd, buf, len - 1);
    fd_close(fd);
    buf[n > 0 ? n : 0] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
}

/*
 * Before the listeners: refuses (-1, a line on stderr) when <path> holds
 * the pid of a master that runs: alive, and our program (its name).
 * <parent_ok>: this master is the new one of an upgrade, whose parent is
 * that master.
 */
int
pidfile_check(const char *path, bool parent_ok)
{
    pid_t pid = pidfile_read(path);
    char theirs[32], ours[32];

    if (pid == 0 || pid == getpid() || (parent_ok && pid == getppid())) {
        return 0;
    }
    if (kill(pid, 0) == -1 && errno != EPERM) {
        return 0; /* stale: it is replaced */
    }
    pidfile_comm(pid, theirs, sizeof(theirs));
    pidfile_comm(0, ours, sizeof(ours));
    if (theirs[0] == '\0' || strcmp(theirs, ours) != 0) {
        return 0; /* the pid was reused by another program */
    }
    fprintf(stderr,
            "handoff: --pid-file %s: master %ld is running (stop it first, "
            "or give another --pid-file)\n",
            path, (long) pid);
    return -1;
}

/* Writes <path> atomically. Returns 0, or -1 after a line on stderr. */
int
pidfile_write(const char *path)
{
    char tmp[PATH_MAX + 32], line[32];
    int fd, n, err;

    if (snprintf(pidfile_path, sizeof(pidfile_path), "%s", path)
            >= (int) sizeof(pidfile_path)
        || snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long) getpid())
               >= (int) sizeof(tmp)) {
        fprintf(stderr, "handoff: --pid-file %s: path too long\n", path);
        pidfile_path[0] = '\0';
        return -1;
    }
    snprintf(pidfile_old, sizeof(pidfile_old), "%s.oldbin", path);
    n = snprintf(line, sizeof(line), "%ld\n", (long) getpid());
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd == -1 || write(fd, line, (size_t) n) != n || fsync(fd) == -1
        || close(fd) == -1 || rename(tmp, path) == -1) {
        err = errno;
        if (fd != -1) {
            (void) unlink(tmp);
        }
        fprintf(stderr, "handoff: --pid-file %s: %s\n", path, strerror(err));
        pidfile_path[0] = '\0';
        return -1;
    }
    return 0;
}

/* SIGUSR2, before the new master starts: FILE becomes FILE.oldbin. */
void
pidfile_upgrade_start(void)
{
    if (pidfile_path[0] != '\0' && rename(pidfile_path, pidfile_old) == -1) {
        log_warn(errno, "--pid-file: cannot rename %s to %s", pidfile_path,
                 pidfile_old);
    }
}

/* The new master failed (it has exited): FILE.oldbin is FILE again. */
void
pidfile_upgrade_failed(void)
{
    if (pidfile_path[0] != '\0' && pidfile_read(pidfile_old) == getpid()
        && rename(pidfile_old, pidfile_path) == -1) {
        log_warn(errno, "--pid-file: cannot rename %s back to %s", pidfile_old,
                 pidfile_path);
    }
}

/* At exit: FILE, or FILE.oldbin, goes if it is still this master's. */
void
pidfile_remove(void)
{
    if (pidfile_path[0] == '\0') {
        return;
    }
    if (pidfile_read(pidfile_path) == getpid()) {
        (void) unlink(pidfile_path);
    }
    if (pidfile_read(pidfile_old) == getpid()) {
        (void) unlink(pidfile_old);
    }
}
