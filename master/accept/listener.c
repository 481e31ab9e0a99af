/*
 * listener.c: opens the service's listening socket. Only the master binds
 * and listens; workers never see this socket (under the default policies).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdutil.h"
#include "master.h"
#include "sched/policy.h"

/* Formats <sa> as "1.2.3.4:80" or "[::1]:80". */
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
 * Binds and listens on o->host:o->port. Returns the non-blocking,
 * close-on-exec socket, its address in <ss> and <sslen>, and a printable
 * form in <desc>; or -1 with a one-line reason in <desc>.
 */
int
listener_open(const struct master_options *o, bool reuseport,
              struct sockaddr_storage *ss, socklen_t *sslen, char *desc,
              size_t desclen)
{
    struct addrinfo hints, *res, *ai;
    char port[8];
    int fd = -1, err = 0, rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(port, sizeof(port), "%u", o->port);
    rc = getaddrinfo(o->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(desc, desclen, "cannot listen on %s port %u: %s", o->host,
                 o->port,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = listener_open_at(ai->ai_addr, ai->ai_addrlen, o->backlog,
                              reuseport);
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

/*
 * Opens the service's listening socket(s): one that the master accepts on
 * or shares with every worker, or under reuseport one per slot on the
 * same address. On failure <where> says why.
 */
int
master_open_listeners(struct master *m, char *where, size_t wlen)
{
    bool reuseport = m->opt.policy->accept == POLICY_REUSEPORT;
    int fds[64];
    size_t n = inherit_take(m, fds, 64), k;
    unsigned i;

    if (n > 0) {
        /* Handed over (upgrade, systemd): --host and --port do not apply. */
        m->listen_addrlen = sizeof(m->listen_addr);
        if (getsockname(fds[0], (struct sockaddr *) &m->listen_addr,
                        &m->listen_addrlen)
            == -1) {
            snprintf(where, wlen, "getsockname() failed: %s", strerror(errno));
            for (k = 0; k < n; k++) {
                fd_close(fds[k]);
            }
            return -1;
        }
        listener_describe((struct sockaddr *) &m->listen_addr, where, wlen);
        if (!reuseport) {
            m->listen_fd = fds[0];
            for (k = 1; k < n; k++) {
                fd_close(fds[k]);
            }
            return 0;
        }
        for (i = 0; i < m->nslots; i++) {
            if (i < n) {
                m->slots[i]->listen_fd = fds[i];
            } else if (master_open_slot_listener(m, m->slots[i]) == -1) {
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
        for (k = m->nslots; k < n; k++) {
            fd_close(fds[k]);
        }
        listener_describe((struct sockaddr *) &m->listen_addr, where, wlen);
        return 0;
    }
    m->listen_fd = listener_open(&m->opt, reuseport, &m->listen_addr,
                                 &m->listen_addrlen, where, wlen);
    if (m->listen_fd == -1) {
        return -1;
    }
    if (!reuseport) {
        return 0;
    }
    m->slots[0]->listen_fd = m->listen_fd;
    m->listen_fd = -1;
    for (i = 1; i < m->nslots; i++) {
        if (master_open_slot_listener(m, m->slots[i]) == -1) {
            snprintf(where, wlen, "cannot open SO_REUSEPORT socket %u: %s",
                     i + 1, strerror(errno));
            return -1;
        }
    }
    listener_describe((struct sockaddr *) &m->listen_addr, where, wlen);
    return 0;
}

/* A slot's own SO_REUSEPORT socket on the service's address. */
int
master_open_slot_listener(struct master *m, struct slot *s)
{
    s->listen_fd = listener_open_at((struct sockaddr *) &m->listen_addr,
                                    m->listen_addrlen, m->opt.backlog, true);
    return s->listen_fd == -1 ? -1 : 0;
}

/* The slot is gone: its worker, draining, holds its own copy until done. */
void
master_retire_slot_listener(struct master *m, struct slot *s)
{
    (void) m;
    fd_close(s->listen_fd);
    s->listen_fd = -1;
}

void
master_close_listeners(struct master *m)
{
    unsigned i;

    acceptor_close(m);
    for (i = 0; i < m->nslots; i++) {
        fd_close(m->slots[i]->listen_fd);
        m->slots[i]->listen_fd = -1;
    }
}
