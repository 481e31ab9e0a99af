/*
 * listener.c: opens the service's listening socket. Only the master binds
 * and listens; workers never see this socket (under the default policies).
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdutil.h"
#include "master.h"

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
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
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
