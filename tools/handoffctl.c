/*
 * handoffctl: talks to a running handoff master over its control socket.
 *
 *   handoffctl [--socket PATH | --port PORT] COMMAND [ARG]
 *
 * COMMAND is stats, status (a table), workers N, reload, trace on|off,
 * or trace: follow the master's trace, printing its lines as they
 * happen until Ctrl-C or the master goes away (the "ok:" line that
 * starts it goes to stderr, so stdout is the trace alone). Commands are
 * checked here, against the master's own table of them
 * (master/ops/control_cmds.h), so bad usage never reaches the master.
 *
 * The socket is PATH, or $HANDOFF_CONTROL, or the first that exists of
 * the master's default places for PORT (8080 unless given; see
 * common/ctlpath.h): $RUNTIME_DIRECTORY/handoff-PORT.sock,
 * /run/handoff/handoff-PORT.sock (the systemd unit's RuntimeDirectory=),
 * /tmp/handoff-UID-PORT.sock. Exit status: 0 ok, 1 the master said
 * error or could not be reached, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlpath.h"
#include "ops/control_cmds.h"
#include "strlit.h"

static int
ctl_write_all(FILE *f, const char *p, size_t len)
{
    if (len > 0 && fwrite(p, 1, len, f) != len) {
        return -1;
    }
    return fflush(f) == 0 ? 0 : -1;
}

/*
 * Copies the master's answer on <fd> to stdout as it comes, so that a
 * followed trace appears line by line. The first line says whether the
 * master took the command: a following client prints it on stderr.
 * Returns the exit status.
 */
static int
ctl_relay(int fd, bool follow)
{
    char buf[65536];
    size_t len = 0;
    bool first = true, failed = false;
    ssize_t n;

    for (;;) {
        n = read(fd, buf + len, sizeof(buf) - len);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            fprintf(stderr, "handoffctl: read: %s\n", strerror(errno));
            return 1;
        }
        len += (size_t) n;
        if (first) {
            char *eol = memchr(buf, '\n', len);
            size_t head;

            /* Wait for the whole first line (or the end, or a full
             * buffer) before judging it. */
            if (eol == NULL && n > 0 && len < sizeof(buf)) {
                continue;
            }
            first = false;
            failed = len >= STRLEN_LIT("error:")
                     && strncmp(buf, "error:", STRLEN_LIT("error:")) == 0;
            head = eol != NULL ? (size_t) (eol - buf) + 1 : len;
            if (follow || failed) {
                if (ctl_write_all(follow ? stderr : stdout, buf, head) == -1) {
                    return 1;
                }
                memmove(buf, buf + head, len - head);
                len -= head;
            }
        }
        if (ctl_write_all(stdout, buf, len) == -1) {
            fprintf(stderr, "handoffctl: stdout: %s\n", strerror(errno));
            return 1;
        }
        len = 0;
        if (n == 0) {
            return failed ? 1 : 0;
        }
    }
}

/* "Usage: handoffctl [--socket PATH | --port PORT] stats | ...\n" */
static void
ctl_usage(FILE *f)
{
    char cmds[256];

    ctl_cmd_usage(cmds, sizeof(cmds));
    fprintf(f, "Usage: handoffctl [--socket PATH | --port PORT] %s\n", cmds);
}

static void
usage(FILE *f)
{
    size_t i;

    ctl_usage(f);
    for (i = 0; i < ctl_ncmds; i++) {
        fputs(ctl_cmds[i].help, f);
    }
    fputs("The socket: PATH, $HANDOFF_CONTROL, or the first that exists of\n"
          "$RUNTIME_DIRECTORY/handoff-PORT.sock, " CTLPATH_RUN_DIR
          "/handoff-PORT.sock\n"
          "and /tmp/handoff-UID-PORT.sock (PORT 8080 unless given).\n",
          f);
}

/* Bad usage: one line saying what is wrong, and the usage line. */
static int __attribute__((format(printf, 1, 2))) ctl_bad(const char *fmt, ...)
{
    va_list ap;

    fputs("handoffctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    ctl_usage(stderr);
    return 2;
}

/* Checks COMMAND [ARG] as the master would; 0, or 2 after saying why.
 * <follow>: the answer is a stream to follow. */
static int
ctl_check(int argc, char **argv, bool *follow)
{
    char why[192];

    if (!ctl_cmd_check(argc, argv, follow, why, sizeof(why))) {
        return ctl_bad("%s", why);
    }
    return 0;
}

/*
 * The master's default socket for <port>: the first place of ctlpath.h's
 * that holds one. Returns 0 and <out> filled, or -1 after saying where
 * it looked (exit 1: no master there).
 */
static int
ctl_find(char *out, size_t size, unsigned port)
{
    char rundir[sizeof(((struct sockaddr_un *) 0)->sun_path)];
    char tried[3][sizeof(rundir)];
    const char *dirs[3];
    size_t ndirs = 0, ntried = 0, i;
    struct stat st;

    if (ctlpath_runtime_dir(rundir, sizeof(rundir)) == 1) {
        dirs[ndirs++] = rundir;
    }
    if (ndirs == 0 || strcmp(rundir, CTLPATH_RUN_DIR) != 0) {
        dirs[ndirs++] = CTLPATH_RUN_DIR;
    }
    dirs[ndirs++] = NULL; /* /tmp */
    for (i = 0; i < ndirs; i++) {
        if (ctlpath_in(tried[ntried], sizeof(tried[ntried]), dirs[i], port)
            == -1) {
            continue;
        }
        if (lstat(tried[ntried], &st) == 0 && S_ISSOCK(st.st_mode)) {
            snprintf(out, size, "%s", tried[ntried]);
            return 0;
        }
        ntried++;
    }
    fprintf(stderr,
            "handoffctl: cannot reach a master on port %u: no control "
            "socket at",
            port);
    for (i = 0; i < ntried; i++) {
        fprintf(stderr, "%s %s",
                i == 0            ? ""
                : i + 1 == ntried ? " or"
                                  : ",",
                tried[i]);
    }
    fprintf(stderr, " (give --socket or --port)\n");
    return -1;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"socket", required_argument, NULL, 's'},
        {"port", required_argument, NULL, 'p'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct sockaddr_un sa;
    const char *path = getenv("HANDOFF_CONTROL");
    char def[sizeof(sa.sun_path)], cmd[256];
    long port = 8080;
    size_t len = 0;
    int c, fd, i, rc;
    ssize_t n;
    char *end;
    bool follow;

    if (path != NULL && path[0] == '\0') {
        path = NULL;
    }
    while ((c = getopt_long(argc, argv, "s:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            path = optarg;
            break;
        case 'p':
            port = strtol(optarg, &end, 10);
            if (*optarg == '\0' || *end != '\0' || port < 1 || port > 65535) {
                fprintf(stderr, "handoffctl: --port: '%s' is not a port\n",
                        optarg);
                return 2;
            }
            path = NULL;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            ctl_usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    rc = ctl_check(argc - optind, argv + optind, &follow);
    if (rc != 0) {
        return rc;
    }
    for (i = optind; i < argc; i++) {
        int w = snprintf(cmd + len, sizeof(cmd) - len, "%s%s",
                         i > optind ? " " : "", argv[i]);

        if (w < 0 || (size_t) w >= sizeof(cmd) - len - 1) {
            fprintf(stderr, "handoffctl: command too long\n");
            return 2;
        }
        len += (size_t) w;
    }
    cmd[len++] = '\n';
    if (path == NULL) {
        if (ctl_find(def, sizeof(def), (unsigned) port) == -1) {
            return 1;
        }
        path = def;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "handoffctl: socket path too long\n");
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path));
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd == -1 || connect(fd, (struct sockaddr *) &sa, sizeof(sa)) == -1) {
        fprintf(stderr, "handoffctl: cannot reach the master at %s: %s\n", path,
                strerror(errno));
        return 1;
    }
    for (size_t off = 0; off < len;) {
        n = write(fd, cmd + off, len - off);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "handoffctl: write: %s\n", strerror(errno));
            return 1;
        }
        off += (size_t) n;
    }
    rc = ctl_relay(fd, follow);
    close(fd);
    return rc;
}
