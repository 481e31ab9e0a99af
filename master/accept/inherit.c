/*
 * inherit.c: what the master can be handed at start-up, and systemd's
 * notification socket.
 *
 * Listening sockets come from an old master during a binary upgrade
 * (HANDOFF_LISTEN_FDS="5,6", HANDOFF_UPGRADE_FD for its "ready" pipe) or
 * from systemd socket activation (LISTEN_PID, LISTEN_FDS: fds 3, 4, ...,
 * named by LISTEN_FDNAMES="http:alt"). systemd's are used as they are,
 * instead of the listen options; an old master's are matched with this
 * master's listen options by address (listener.c), unless they were
 * systemd's (HANDOFF_LISTEN_FDNAMES, their names, passed on). The
 * variables are removed so that workers do not see them.
 *
 * With NOTIFY_SOCKET set (systemd Type=notify), the master reports
 * READY=1, RELOADING=1, STOPPING=1 and a STATUS line (sd_notify(3),
 * written here as the datagram it is rather than pulling in libsystemd).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "accept/inherit.h"
#include "fdutil.h"
#include "log.h"
#include "numparse.h"

#define SD_LISTEN_FDS_START 3

static int inherit_fds[INHERIT_MAX];
static char inherit_names[INHERIT_MAX][INHERIT_NAME_MAX];
static size_t inherit_count;
static bool inherit_named;    /* inherit_names hold systemd's names */
static bool inherit_systemd_; /* the sockets are systemd's */
static char inherit_notify_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static const char *inherit_source = "";
static int inherit_admin = -1;
static int inherit_upgrade = -1;

static bool
inherit_is_listener(int fd)
{
    int v = 0;
    socklen_t len = sizeof(v);

    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == -1 || !v) {
        return false;
    }
    len = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) == 0
           && v == SOCK_STREAM;
}

static int
inherit_add(int fd)
{
    if (inherit_count == INHERIT_MAX || !inherit_is_listener(fd)
        || fd_set_nonblock(fd) == -1 || fd_set_cloexec(fd, 1) == -1) {
        fprintf(stderr,
                "handoff: inherited fd %d is not a listening TCP "
                "socket\n",
                fd);
        return -1;
    }
    /* As listener_open_at(): accepted sockets inherit it. */
    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
    inherit_fds[inherit_count++] = fd;
    return 0;
}

/* "http:alt": a name per socket, as systemd passes them; ignored unless
 * there is one for each (sd_listen_fds_with_names(3)). */
static void
inherit_parse_names(const char *v)
{
    size_t i = 0;
    const char *p = v;

    while (p != NULL && i < INHERIT_MAX) {
        const char *colon = strchr(p, ':');
        size_t n = colon != NULL ? (size_t) (colon - p) : strlen(p);

        if (n >= INHERIT_NAME_MAX) {
            n = INHERIT_NAME_MAX - 1;
        }
        memcpy(inherit_names[i], p, n);
        inherit_names[i++][n] = '\0';
        p = colon != NULL ? colon + 1 : NULL;
    }
    inherit_named = i == inherit_count && p == NULL;
}

/* Reads what the environment hands over. Returns 0, or -1 (with a line on
 * stderr) when it is malformed. */
int
inherit_init(void)
{
    const char *v;
    uint64_t n;

    v = getenv("HANDOFF_LISTEN_FDS");
    if (v != NULL) {
        char *copy = strdup(v), *save = NULL, *tok;

        inherit_source = "the old master";
        for (tok = copy != NULL ? strtok_r(copy, ",", &save) : NULL;
             tok != NULL; tok = strtok_r(NULL, ",", &save)) {
            if (!num_parse_cstr(tok, 0, 1u << 20, &n)
                || inherit_add((int) n) == -1) {
                free(copy);
                return -1;
            }
        }
        free(copy);
        unsetenv("HANDOFF_LISTEN_FDS");
        v = getenv("HANDOFF_LISTEN_FDNAMES");
        if (v != NULL) {
            inherit_systemd_ = true; /* the old master had them so */
            inherit_parse_names(v);
        }
    }
    unsetenv("HANDOFF_LISTEN_FDNAMES");
    v = getenv("HANDOFF_UPGRADE_FD");
    if (v != NULL) {
        if (num_parse_cstr(v, 0, 1u << 20, &n)) {
            inherit_upgrade = (int) n;
            (void) fd_set_cloexec(inherit_upgrade, 1);
        }
        unsetenv("HANDOFF_UPGRADE_FD");
    }
    v = getenv("HANDOFF_ADMIN_FD");
    if (v != NULL) {
        if (num_parse_cstr(v, 0, 1u << 20, &n) && inherit_is_listener((int) n)
            && fd_set_cloexec((int) n, 1) == 0) {
            inherit_admin = (int) n;
        }
        unsetenv("HANDOFF_ADMIN_FD");
    }
    v = getenv("LISTEN_PID");
    if (v != NULL && num_parse_cstr(v, 1, UINT32_MAX, &n)
        && (pid_t) n == getpid() && getenv("LISTEN_FDS") != NULL) {
        uint64_t count, i;

        inherit_source = "systemd";
        if (!num_parse_cstr(getenv("LISTEN_FDS"), 1, INHERIT_MAX, &count)) {
            fprintf(stderr, "handoff: LISTEN_FDS=%s is not a count\n",
                    getenv("LISTEN_FDS"));
            return -1;
        }
        for (i = 0; i < count; i++) {
            if (inherit_add(SD_LISTEN_FDS_START + (int) i) == -1) {
                return -1;
            }
        }
        inherit_systemd_ = true;
        if (getenv("LISTEN_FDNAMES") != NULL) {
            inherit_parse_names(getenv("LISTEN_FDNAMES"));
        }
    }
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    v = getenv("NOTIFY_SOCKET");
    if (v != NULL && strlen(v) < sizeof(inherit_notify_path)) {
        snprintf(inherit_notify_path, sizeof(inherit_notify_path), "%s", v);
    }
    unsetenv("NOTIFY_SOCKET");
    return 0;
}

/* Hands over the inherited listening sockets (the caller owns them) and
 * their names ("" when they have none). */
size_t
inherit_take(int *fds, char (*names)[INHERIT_NAME_MAX], size_t max)
{
    size_t n = inherit_count < max ? inherit_count : max, i;

    for (i = 0; i < inherit_count; i++) {
        if (i < n) {
            fds[i] = inherit_fds[i];
            if (inherit_named) {
                memcpy(names[i], inherit_names[i], INHERIT_NAME_MAX);
            } else {
                names[i][0] = '\0';
            }
        } else {
            fd_close(inherit_fds[i]);
        }
    }
    if (n > 0) {
        log_info("using %zu listening socket%s handed over by %s", n,
                 n == 1 ? "" : "s", inherit_source);
    }
    inherit_count = 0;
    return n;
}

/* True when the sockets handed over are systemd's (directly, or through
 * an old master that had them from systemd): used as they are. */
bool
inherit_systemd(void)
{
    return inherit_systemd_;
}

/* The --admin socket an old master handed over, or -1 (taken once). */
int
inherit_take_admin(void)
{
    int fd = inherit_admin;

    inherit_admin = -1;
    return fd;
}

/* As a new master (upgrade): the old one's "ready" pipe, or -1 (taken
 * once). */
int
inherit_take_upgrade(void)
{
    int fd = inherit_upgrade;

    inherit_upgrade = -1;
    return fd;
}

/* sd_notify: sends <state> ("READY=1\nSTATUS=...") if systemd listens. */
void
inherit_notify(const char *state)
{
    struct sockaddr_un sa;
    socklen_t len;
    int fd;

    if (inherit_notify_path[0] == '\0') {
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, inherit_notify_path, strlen(inherit_notify_path));
    len = (socklen_t) (offsetof(struct sockaddr_un, sun_path)
                       + strlen(inherit_notify_path));
    if (sa.sun_path[0] == '@') {
        sa.sun_path[0] = '\0'; /* abstract namespace */
    } else {
        len++;
    }
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return;
    }
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &sa,
               len)
        == -1) {
        log_warn(errno, "sd_notify to %s failed", inherit_notify_path);
    }
    fd_close(fd);
}
