/*
 * listener.c: opens the service's listening sockets. Only the master binds
 * and listens; workers never see these sockets (under the default
 * policies). They are handed over at start-up by an old master or systemd
 * (inherit.c), or bound here.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept/inherit.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fdutil.h"

void
listener_describe(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    socklen_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);

    if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV)
        != 0) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
             serv);
}

/*
 * A listening socket on <sa>. SO_REUSEADDR lets restarts skip TIME_WAIT
 * without allowing two listeners on one port; <reuseport> does allow
 * that, for the reuseport policy's one socket per worker.
 */
int
listener_open_at(const struct sockaddr *sa, socklen_t salen, unsigned backlog,
                 bool reuseport)
{
    int fd, one = 1;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    /* Accepted connections inherit TCP_NODELAY from the listener, which
     * spares each worker a setsockopt per connection. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1
        || (reuseport
            && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))
                   == -1)
        || bind(fd, sa, salen) == -1 || listen(fd, (int) backlog) == -1) {
        fd_close(fd);
        return -1;
    }
    return fd;
}

/*
 * Binds and listens on <host>:<port>. Returns the non-blocking,
 * close-on-exec socket, its address in <ss> and <sslen>, and a printable
 * form in <desc>; or -1 with a one-line reason in <desc>.
 */
int
listener_open(const char *host, unsigned port, unsigned backlog, bool reuseport,
              struct sockaddr_storage *ss, socklen_t *sslen, char *desc,
              size_t desclen)
{
    struct addrinfo hints, *res, *ai;
    char service[8];
    int fd = -1, err = 0, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(desc, desclen, "cannot listen on %s port %u: %s", host, port,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = listener_open_at(ai->ai_addr, ai->ai_addrlen, backlog, reuseport);
        if (fd != -1) {
            break;
        }
        if (err == 0) {
            char where[NI_MAXHOST + NI_MAXSERV + 4];

            err = errno;
            listener_describe(ai->ai_addr, where, sizeof(where));
            snprintf(desc, desclen, "cannot listen on %s: %s", where,
                     strerror(err));
        }
    }
    freeaddrinfo(res);
    if (fd == -1) {
        return -1;
    }
    *sslen = sizeof(*ss);
    if (getsockname(fd, (struct sockaddr *) ss, sslen) == -1) {
        snprintf(desc, desclen, "getsockname() failed: %s", strerror(errno));
        fd_close(fd);
        return -1;
    }
    listener_describe((struct sockaddr *) ss, desc, desclen);
    return fd;
}

void
listeners_init(struct listeners *l)
{
    size_t i;

    l->fd = -1;
    for (i = 0; i < HANDOFF_MAX_WORKERS; i++) {
        l->slot_fd[i] = -1;
    }
}

/* Takes the sockets an old master or systemd handed over. */
static int
listeners_adopt(struct listeners *l, bool reuseport, unsigned nslots,
                const int *fds, size_t n, char *where, size_t wlen)
{
    size_t k;
    unsigned i;

    /* Handed over (upgrade, systemd): --host and --port do not apply. */
    l->addrlen = sizeof(l->addr);
    if (getsockname(fds[0], (struct sockaddr *) &l->addr, &l->addrlen) == -1) {
        snprintf(where, wlen, "getsockname() failed: %s", strerror(errno));
        for (k = 0; k < n; k++) {
            fd_close(fds[k]);
        }
        return -1;
    }
    listener_describe((struct sockaddr *) &l->addr, where, wlen);
    if (!reuseport) {
        l->fd = fds[0];
        for (k = 1; k < n; k++) {
            fd_close(fds[k]);
        }
        return 0;
    }
    for (i = 0; i < nslots; i++) {
        if (i < n) {
            l->slot_fd[i] = fds[i];
        } else if (listeners_open_slot(l, i) == -1) {
            snprintf(where, wlen,
                     "cannot open SO_REUSEPORT socket %u "
                     "beside the inherited ones: %s",
                     i + 1, strerror(errno));
            for (k = i; k < n; k++) {
                fd_close(fds[k]);
            }
            return -1;
        }
    }
    for (k = nslots; k < n; k++) {
        fd_close(fds[k]);
    }
    listener_describe((struct sockaddr *) &l->addr, where, wlen);
    return 0;
}

/*
 * Opens the service's listening socket(s): one that the master accepts on
 * or shares with every worker, or under reuseport one per slot (of
 * <nslots>) on the same address. On failure <where> says why.
 */
int
listeners_open(struct listeners *l, const struct master_options *o,
               unsigned nslots, char *where, size_t wlen)
{
    bool reuseport = o->policy->accept == POLICY_REUSEPORT;
    int fds[INHERIT_MAX];
    size_t n = inherit_take(fds, INHERIT_MAX);
    unsigned i;

    l->backlog = o->backlog;
    if (n > 0) {
        return listeners_adopt(l, reuseport, nslots, fds, n, where, wlen);
    }
    l->fd = listener_open(o->host, o->port, o->backlog, reuseport, &l->addr,
                          &l->addrlen, where, wlen);
    if (l->fd == -1) {
        return -1;
    }
    if (!reuseport) {
        return 0;
    }
    l->slot_fd[0] = l->fd;
    l->fd = -1;
    for (i = 1; i < nslots; i++) {
        if (listeners_open_slot(l, i) == -1) {
            snprintf(where, wlen, "cannot open SO_REUSEPORT socket %u: %s",
                     i + 1, strerror(errno));
            return -1;
        }
    }
    listener_describe((struct sockaddr *) &l->addr, where, wlen);
    return 0;
}

/* Slot <slot>'s own SO_REUSEPORT socket on the service's address. */
int
listeners_open_slot(struct listeners *l, unsigned slot)
{
    l->slot_fd[slot] = listener_open_at((struct sockaddr *) &l->addr,
                                        l->addrlen, l->backlog, true);
    return l->slot_fd[slot] == -1 ? -1 : 0;
}

/* The slot is gone: its worker, draining, holds its own copy until done. */
void
listeners_close_slot(struct listeners *l, unsigned slot)
{
    fd_close(l->slot_fd[slot]);
    l->slot_fd[slot] = -1;
}

void
listeners_close(struct listeners *l)
{
    unsigned i;

    fd_close(l->fd);
    l->fd = -1;
    for (i = 0; i < HANDOFF_MAX_WORKERS; i++) {
        listeners_close_slot(l, i);
    }
}

int
listeners_worker_fd(const struct listeners *l, enum policy_accept how, int slot)
{
    switch (how) {
    case POLICY_SHARED_SOCKET:
        return l->fd;
    case POLICY_REUSEPORT:
        return slot >= 0 ? l->slot_fd[slot] : -1;
    default:
        return -1;
    }
}

int
listeners_any_fd(const struct listeners *l)
{
    return l->fd != -1 ? l->fd : l->slot_fd[0];
}

size_t
listeners_fds(const struct listeners *l, int *fds, size_t max)
{
    size_t n = 0;
    unsigned i;

    if (l->fd != -1 && n < max) {
        fds[n++] = l->fd;
    }
    for (i = 0; i < HANDOFF_MAX_WORKERS && n < max; i++) {
        if (l->slot_fd[i] != -1) {
            fds[n++] = l->slot_fd[i];
        }
    }
    return n;
}
