/*
 * handoffctl: talks to a running handoff master over its control socket.
 *
 *   handoffctl [--socket PATH | --port PORT] COMMAND [ARG]
 *
 * COMMAND is stats, workers N, reload, or trace on|off. The socket is
 * PATH, or /tmp/handoff-UID-PORT.sock (PORT 8080 unless given), or
 * $HANDOFF_CONTROL. Exit status: 0 ok, 1 the master said error or could
 * not be reached, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fputs("Usage: handoffctl [--socket PATH | --port PORT] COMMAND [ARG]\n"
          "Commands: stats | workers N | reload | trace on|off\n",
          f);
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
    char def[sizeof(sa.sun_path)], cmd[256], buf[65536];
    long port = 8080;
    size_t len = 0;
    int c, fd, i, rc = 0;
    ssize_t n;
    char *end;

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
            usage(stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
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
        snprintf(def, sizeof(def), "/tmp/handoff-%u-%ld.sock",
                 (unsigned) getuid(), port);
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
    len = 0;
    while ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1) {
            fprintf(stderr, "handoffctl: read: %s\n", strerror(errno));
            return 1;
        }
        len += (size_t) n;
        if (len == sizeof(buf) - 1) {
            fwrite(buf, 1, len, stdout);
            len = 0;
        }
    }
    buf[len] = '\0';
    fputs(buf, stdout);
    if (strncmp(buf, "error:", 6) == 0) {
        rc = 1;
    }
    close(fd);
    return rc;
}
