/*
 * native.c: handoff's own worker program, handoff-worker: where it is,
 * what the master checks for it at start-up (--root, --access-log), and
 * the command line each worker gets: its id, its slot, its channel's fd
 * (EXEC_CHANNEL_FD, Node's NODE_CHANNEL_FD default) and the flags that
 * configure it. Its channel is link.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/options.h"
#include "conf/tlscheck.h"
#include "fdutil.h"
#include "fleet/native.h"
#include "fleet/rehand.h"
#include "http_limits.h"

/*
 * Finds the worker program: --worker-bin, else handoff-worker beside this
 * binary (the build tree), else ../lib/handoff/handoff-worker (make
 * install), so an installed tree can move as a whole.
 */
static int
native_find_bin(struct fleet *fl)
{
    char self[PATH_MAX], *dir;
    ssize_t n;

    if (fl->opt->worker_bin != NULL) {
        if (snprintf(fl->worker_bin, sizeof(fl->worker_bin), "%s",
                     fl->opt->worker_bin)
            >= (int) sizeof(fl->worker_bin)) {
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
        if (snprintf(fl->worker_bin, sizeof(fl->worker_bin),
                     "%s/handoff-worker", dir)
            >= (int) sizeof(fl->worker_bin)) {
            errno = ENAMETOOLONG;
            return -1;
        }
        if (access(fl->worker_bin, X_OK) == 0) {
            return 0;
        }
        if (snprintf(fl->worker_bin, sizeof(fl->worker_bin),
                     "%s/../lib/handoff/handoff-worker", dir)
            >= (int) sizeof(fl->worker_bin)) {
            errno = ENAMETOOLONG;
            return -1;
        }
    }
    return access(fl->worker_bin, X_OK);
}

/* Checks --root and makes it absolute: workers may not share our cwd. */
static int
native_resolve_root(struct fleet *fl)
{
    const char *root = fl->opt->root;
    struct stat st;

    if (realpath(root, fl->root) == NULL) {
        fprintf(stderr, "handoff: --root %s: %s\n", root, strerror(errno));
        return -1;
    }
    if (stat(fl->root, &st) == -1 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "handoff: --root %s: not a directory\n", root);
        return -1;
    }
    if (access(fl->root, R_OK | X_OK) == -1) {
        fprintf(stderr, "handoff: --root %s: %s\n", root, strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * Checks that --access-log can be written (workers open it themselves)
 * and makes the path absolute for them. One the master creates is the
 * workers' (--user), who append to it.
 */
static int
native_resolve_access_log(struct fleet *fl)
{
    const char *path = fl->opt->access_log;
    int fd;

    if (strcmp(path, "-") == 0) {
        snprintf(fl->access_log, sizeof(fl->access_log), "-");
        return 0;
    }
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd != -1 && fl->runas.on
        && fchown(fd, fl->runas.uid, fl->runas.gid) == -1) {
        fprintf(stderr, "handoff: --access-log %s: chown: %s\n", path,
                strerror(errno));
        fd_close(fd);
        return -1;
    }
    if (fd == -1 && errno == EEXIST) {
        fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    }
    if (fd == -1) {
        fprintf(stderr, "handoff: --access-log %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    fd_close(fd);
    if (realpath(path, fl->access_log) == NULL) {
        fprintf(stderr, "handoff: --access-log %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Once at start-up: what the workers are given must be there. */
int
native_resolve(struct fleet *fl)
{
    char why[768];

    if (fl->opt->root != NULL && native_resolve_root(fl) == -1) {
        return -1;
    }
    if (fl->opt->access_log != NULL && native_resolve_access_log(fl) == -1) {
        return -1;
    }
    if (native_find_bin(fl) == -1) {
        fprintf(stderr, "handoff: worker program %s: %s\n", fl->worker_bin,
                strerror(errno));
        return -1;
    }
    if (tlscheck_files(fl->worker_bin, &fl->opt->tls, fl->opt->tls_ciphers, why,
                       sizeof(why))
        == -1) {
        fprintf(stderr, "handoff: %s\n", why);
        return -1;
    }
    fl->program = fl->worker_bin;
    return 0;
}

/* Appends a copy of <fmt>'s text to <argv> at *argc; false on ENOMEM. */
static bool __attribute__((format(printf, 3, 4)))
native_arg(char **argv, size_t *argc, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&argv[*argc], fmt, ap);
    va_end(ap);
    if (n == -1) {
        argv[*argc] = NULL;
        return false;
    }
    (*argc)++;
    return true;
}

/* --tls-cert=, --tls-key= (absolute: a worker may not share our cwd) and
 * --tls-ciphers= when set. */
static bool
native_tls_flags(const struct master_options *o, char **argv, size_t *argc)
{
    char abs[PATH_MAX];
    bool ok = true;
    unsigned i;

    for (i = 0; i < o->tls.ncert && i < o->tls.nkey && ok; i++) {
        ok = native_arg(argv, argc, "--tls-cert=%s",
                        realpath(o->tls.cert[i], abs) != NULL ? abs
                                                              : o->tls.cert[i])
             && native_arg(
                 argv, argc, "--tls-key=%s",
                 realpath(o->tls.key[i], abs) != NULL ? abs : o->tls.key[i]);
    }
    if (ok && o->tls_ciphers != NULL) {
        ok = native_arg(argv, argc, "--tls-ciphers=%s", o->tls_ciphers);
    }
    return ok;
}

/* The flags that configure a worker: trace, limits, files, demo. */
static bool
native_flags(const struct fleet *fl, char **argv, size_t *argc)
{
    const struct master_options *o = fl->opt;
    bool ok = true;
    int i;

    if (o->trace) {
        ok = native_arg(argv, argc, "--trace");
    }
    ok = ok
         && native_arg(argv, argc, "--log-level=%s",
                       log_level_name(o->log_level))
         && native_arg(argv, argc, "--log-format=%s",
                       log_format_name(o->log_format));
    for (i = 0; i < LIM_COUNT && ok; i++) {
        char v[32];

        limits_format((enum limit_id) i, o->limits.v[i], v, sizeof(v));
        ok = native_arg(argv, argc, "--%s=%s", limit_defs[i].name, v);
    }
    if (ok && fl->root[0] != '\0') {
        ok = native_arg(argv, argc, "--root=%s", fl->root);
    }
    if (ok && fl->access_log[0] != '\0') {
        ok = native_arg(argv, argc, "--access-log=%s", fl->access_log);
    }
    ok = ok && native_tls_flags(o, argv, argc);
    return ok
           && native_arg(argv, argc, "--demo-routes=%s",
                         o->demo_routes ? "on" : "off");
}

/* handoff-worker --id N --slot N --channel-fd 3 [flags]; -1 on ENOMEM. */
int
native_command(const struct mworker *w, struct exec_cmd *cmd)
{
    size_t argc = 0;
    char **argv = calloc(16 + LIM_COUNT + 2 * TLS_CERTS_MAX + 1, sizeof(*argv));

    if (argv == NULL) {
        return -1;
    }
    cmd->path = w->fl->worker_bin;
    cmd->argv = argv;
    cmd->envp = NULL;
    if (!native_arg(argv, &argc, "handoff-worker")
        || !native_arg(argv, &argc, "--id")
        || !native_arg(argv, &argc, "%u", w->sw.id)
        || !native_arg(argv, &argc, "--slot")
        || !native_arg(argv, &argc, "%u", w->slot->index)
        || !native_arg(argv, &argc, "--channel-fd")
        || !native_arg(argv, &argc, "%d", EXEC_CHANNEL_FD)
        || !native_flags(w->fl, argv, &argc)) {
        return -1;
    }
    if (rehand_slots(w) > 0
        && !native_arg(argv, &argc, "--rehand-slots=%u", rehand_slots(w))) {
        return -1;
    }
    return 0;
}
