/*
 * control.c: the control socket that tools/handoffctl talks to. A UNIX
 * socket, owner-only (mode 0700: nobody else can connect), by default
 * /tmp/handoff-UID-PORT.sock, or $RUNTIME_DIRECTORY/handoff-PORT.sock
 * under systemd (common/ctlpath.h); one command per connection, one
 * answer:
 *
 *   stats          the /stats JSON
 *   status         the workers as a table (as pm2 list)
 *   workers N      scale to N workers (1..HANDOFF_MAX_WORKERS), as
 *                  SIGTTIN/SIGTTOU do
 *   reload         rolling restart, as SIGHUP
 *   trace on|off   --trace, in the master and every worker, from now on
 *   trace          follow the trace: "ok: ..." and then the master's trace
 *                  lines as they are logged, until the client closes
 *
 * Answers are a line starting "ok:" or "error:" (stats: the JSON). The
 * commands are the rows of control_cmds.h, each with its handler here
 * (control_do_NAME); handoffctl checks a command against the same rows.
 *
 * While at least one client follows, tracing is on as with `trace on`
 * (workers included: their lines go to the log, only the master's are
 * streamed); when the last one leaves, it returns to what --trace and
 * `trace on|off` asked for. A follower that reads too slowly loses lines
 * and is told so (oneshot.c); the master never waits for it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "accept/accept-t.h"
#include "conf/options.h"
#include "ctlpath.h"
#include "fdutil.h"
#include "fleet/fleet.h"
#include "log.h"
#include "ops/control.h"
#include "ops/control_cmds.h"
#include "ops/oneshot.h"
#include "ops/ops-t.h"
#include "ops/stats.h"
#include "ops/upgrade.h"

static struct oneshot control_srv = {.fd = -1};
static char control_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static ino_t control_ino;
/* What --trace and `trace on|off` asked for; followers add to it. */
static bool control_trace_asked;

static void
control_trace_tap(const char *line, size_t len)
{
    oneshot_broadcast(&control_srv, line, len);
}

/* Tracing is on while it was asked for or somebody follows it. */
static void
control_trace_apply(const struct ops_env *env)
{
    log_set_trace_tap(control_srv.nstreams > 0 ? control_trace_tap : NULL);
    if (control_srv.fd != -1) { /* not while the server closes */
        env->set_trace(env->ctx,
                       control_trace_asked || control_srv.nstreams > 0);
    }
}

static void
control_streams_changed(struct oneshot *srv)
{
    control_trace_apply(srv->ctx);
}

/* One line (or whatever came before the client's half-close). */
static bool
control_complete(const char *in, size_t len)
{
    return memchr(in, '\n', len) != NULL;
}

/* The handlers, one per row of control_cmds.h: <arg> has been checked
 * (ctl_cmd_arg()), a count is in <n>. */

/* A snapshot of the figures rendered by <render>, into <out>. */
static void
control_render(struct oneshot *srv, struct sbuf *out,
               void (*render)(const struct stats_snapshot *, struct sbuf *))
{
    struct stats_snapshot snap;

    if (stats_take(&snap, srv->ctx) == -1) {
        out->failed = true;
        return;
    }
    render(&snap, out);
    stats_release(&snap);
}

static void
control_do_stats(struct oneshot *srv, const char *arg, uint64_t n,
                 struct sbuf *out)
{
    (void) arg;
    (void) n;
    control_render(srv, out, stats_json);
}

static void
control_do_status(struct oneshot *srv, const char *arg, uint64_t n,
                  struct sbuf *out)
{
    (void) arg;
    (void) n;
    control_render(srv, out, stats_table);
}

static void
control_do_workers(struct oneshot *srv, const char *arg, uint64_t n,
                   struct sbuf *out)
{
    struct fleet *fl = ((const struct ops_env *) srv->ctx)->fleet;
    unsigned was = fl->nslots;

    (void) arg;
    if (fl->stopping) {
        sbuf_printf(out, "error: stopping\n");
        return;
    }
    fleet_scale_to(fl, (unsigned) n);
    sbuf_printf(out, "ok: %u workers (were %u)\n", fl->nslots, was);
}

static void
control_do_reload(struct oneshot *srv, const char *arg, uint64_t n,
                  struct sbuf *out)
{
    const struct ops_env *env = srv->ctx;
    char why[400];

    (void) arg;
    (void) n;
    if (!env->reload(env->ctx, why, sizeof(why))) {
        sbuf_printf(out, "error: %s\n", why);
        return;
    }
    sbuf_printf(out,
                "ok: configuration applied; rolling restart of %u "
                "workers\n",
                env->fleet->nslots);
}

static void
control_do_trace(struct oneshot *srv, const char *arg, uint64_t n,
                 struct sbuf *out)
{
    (void) n;
    if (arg == NULL) {
        if (!oneshot_stream(srv)) {
            sbuf_printf(out, "error: too many trace followers\n");
            return;
        }
        /* Tracing goes on when the stream starts, after this answer. */
        sbuf_printf(out, "ok: following the master's trace\n");
        return;
    }
    control_trace_asked = strcmp(arg, "on") == 0;
    control_trace_apply(srv->ctx);
    if (!control_trace_asked && srv->nstreams > 0) {
        sbuf_printf(out, "ok: trace off once %u follower%s leave%s\n",
                    srv->nstreams, srv->nstreams == 1 ? "" : "s",
                    srv->nstreams == 1 ? "s" : "");
    } else {
        sbuf_printf(out, "ok: trace %s\n", arg);
    }
}

#define CONTROL_HANDLER(name, arg, follows, help) control_do_##name,

static void (*const control_handlers[])(struct oneshot *, const char *,
                                        uint64_t, struct sbuf *) = {
    CTL_COMMANDS(CONTROL_HANDLER)};

static void
control_handle(struct oneshot *srv, const char *in, size_t len,
               struct sbuf *out)
{
    const struct ctl_cmd *c;
    char cmd[128], why[160], *arg;
    uint64_t n = 0;

    while (len > 0 && (in[len - 1] == '\n' || in[len - 1] == '\r')) {
        len--;
    }
    if (len >= sizeof(cmd) || memchr(in, '\n', len) != NULL) {
        sbuf_printf(out, "error: one short command per connection\n");
        return;
    }
    memcpy(cmd, in, len);
    cmd[len] = '\0';
    arg = strchr(cmd, ' ');
    if (arg != NULL) {
        *arg++ = '\0';
    }
    c = ctl_cmd_find(cmd);
    if (c == NULL) {
        ctl_cmd_forms(why, sizeof(why));
        sbuf_printf(out, "error: unknown command '%s' (%s)\n", cmd, why);
    } else if (!ctl_cmd_arg(c, arg, &n, why, sizeof(why))) {
        sbuf_printf(out, "error: %s\n", why);
    } else {
        control_handlers[c - ctl_cmds](srv, arg, n, out);
    }
}

/* A non-blocking UNIX stream socket, and control_path's address in <sa>.
 * Returns the socket, or -1 with errno set. */
static int
control_socket(struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    memcpy(sa->sun_path, control_path, strlen(control_path));
    return socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

/*
 * Binds and listens on control_path (which must be free) and notes its
 * inode. Returns the socket, or -1 with errno set.
 */
static int
control_listen(void)
{
    struct sockaddr_un sa;
    struct stat st;
    mode_t old_umask;
    int fd, rc, err;

    fd = control_socket(&sa);
    if (fd == -1) {
        return -1;
    }
    old_umask = umask(077); /* owner only, from the moment it exists */
    rc = bind(fd, (struct sockaddr *) &sa, sizeof(sa));
    umask(old_umask);
    if (rc == -1 || listen(fd, 16) == -1 || stat(control_path, &st) == -1) {
        err = errno;
        fd_close(fd);
        errno = err;
        return -1;
    }
    control_ino = st.st_ino;
    return fd;
}

/*
 * Whether a master answers on the socket at control_path: 1 yes, 0 no
 * (a stale file: nothing listens), -1 cannot tell (errno set).
 */
static int
control_answers(void)
{
    struct sockaddr_un sa;
    int fd, rc, err;

    fd = control_socket(&sa);
    if (fd == -1) {
        return -1;
    }
    do {
        rc = connect(fd, (struct sockaddr *) &sa, sizeof(sa));
    } while (rc == -1 && errno == EINTR);
    err = errno;
    fd_close(fd); /* it sees a client that said nothing */
    if (rc == 0 || err == EAGAIN) {
        return 1; /* EAGAIN: listening, its backlog full */
    }
    if (err == ECONNREFUSED || err == ENOENT) {
        return 0;
    }
    errno = err;
    return -1;
}

/*
 * Opens the control socket, unless --control none. A stale socket at the
 * path is replaced; one a master answers on is refused, or that master
 * would become unreachable (and lose the path when this one exits),
 * except in a binary upgrade, where the old master hands the path over.
 */
int
control_open(struct ops_env *env)
{
    const struct master_options *o = env->opt;
    const struct sockaddr_storage *addr = &env->lis->addr;
    struct stat st;
    unsigned port = 0;
    int fd, rc;

    if (o->control != NULL && strcmp(o->control, "none") == 0) {
        return 0;
    }
    if (addr->ss_family == AF_INET) {
        port = ntohs(((const struct sockaddr_in *) addr)->sin_port);
    } else if (addr->ss_family == AF_INET6) {
        port = ntohs(((const struct sockaddr_in6 *) addr)->sin6_port);
    }
    if (o->control != NULL) {
        rc = snprintf(control_path, sizeof(control_path), "%s", o->control);
        if (rc < 0 || (size_t) rc >= sizeof(control_path)) {
            fprintf(stderr, "handoff: --control %s: path too long\n",
                    o->control);
            return -1;
        }
    } else if (ctlpath_default(control_path, sizeof(control_path), port)
               == -1) {
        fprintf(stderr, "handoff: the control socket's path in "
                        "$RUNTIME_DIRECTORY is too long (give --control)\n");
        return -1;
    }
    if (lstat(control_path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr,
                    "handoff: --control %s: exists and is not a "
                    "socket\n",
                    control_path);
            return -1;
        }
        if (!upgrade_successor(env->up)) { /* not an upgrade */
            rc = control_answers();
            if (rc == 1) {
                fprintf(stderr,
                        "handoff: control socket %s: in use, something "
                        "answers on it (another master? stop it, or give "
                        "--control another path)\n",
                        control_path);
                return -1;
            }
            if (rc == -1) {
                fprintf(stderr, "handoff: control socket %s: %s\n",
                        control_path, strerror(errno));
                return -1;
            }
        }
        (void) unlink(control_path);
    }
    fd = control_listen();
    if (fd == -1) {
        fprintf(stderr, "handoff: control socket %s: %s\n", control_path,
                strerror(errno));
        return -1;
    }
    control_trace_asked = o->trace;
    control_srv.streams_changed = control_streams_changed;
    oneshot_start(&control_srv, env->loop, env, fd, control_complete,
                  control_handle);
    log_info("control socket %s (handoffctl)", control_path);
    return 0;
}

/*
 * A new master (upgrade) took the control socket's path over and has
 * exited without taking over from us: handoffctl could no longer reach
 * this master, which goes on serving. Binds the path again; connections
 * already open (followers) go on.
 */
void
control_reclaim(void)
{
    struct stat st;
    int fd;

    if (control_srv.fd == -1) {
        return; /* --control none, or closing */
    }
    if (lstat(control_path, &st) == 0) {
        if (S_ISSOCK(st.st_mode) && st.st_ino == control_ino) {
            return; /* the new master died before it took the path */
        }
        if (!S_ISSOCK(st.st_mode)) {
            log_warn(0, "control socket %s: replaced by something else; left",
                     control_path);
            return;
        }
        (void) unlink(control_path);
    }
    fd = control_listen();
    if (fd == -1) {
        log_error(errno, "control socket %s: cannot bind it again",
                  control_path);
        return;
    }
    oneshot_relisten(&control_srv, fd);
    log_info("control socket %s taken back (handoffctl)", control_path);
}

void
control_close(void)
{
    struct stat st;

    if (control_srv.loop == NULL) {
        return;
    }
    oneshot_stop(&control_srv); /* ends the streams, and the tap */
    /* A new master (upgrade) may have taken the path over: leave it. */
    if (stat(control_path, &st) == 0 && st.st_ino == control_ino) {
        (void) unlink(control_path);
    }
}
