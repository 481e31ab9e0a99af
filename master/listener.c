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
static void
listener_format(const struct sockaddr *sa, char *buf, size_t len)
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

static int
listener_try(const struct addrinfo *ai, unsigned backlog)
{
    int fd, one = 1;

    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                ai->ai_protocol);
    if (fd == -1) {
        return -1;
    }
    /* Restarts must not wait for TIME_WAIT; this does not allow two
     * listeners on one port (only SO_REUSEPORT would). */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || bind(fd, ai->ai_addr, ai->ai_addrlen) == -1
        || listen(fd, (int) backlog) == -1) {
        fd_close(fd);
        return -1;
    }
    return fd;
}

/*
 * Binds and listens on o->host:o->port. Returns the non-blocking,
 * close-on-exec socket and writes its address to <desc>; or -1 with a
 * one-line reason in <desc>.
 */
int
listener_open(const struct master_options *o, char *desc, size_t desclen)
{
    struct addrinfo hints, *res, *ai;
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
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
        fd = listener_try(ai, o->backlog);
        if (fd != -1) {
            break;
        }
        if (err == 0) {
            char where[NI_MAXHOST + NI_MAXSERV + 4];

            err = errno;
            listener_format(ai->ai_addr, where, sizeof(where));
            snprintf(desc, desclen, "cannot listen on %s: %s", where,
                     strerror(err));
        }
    }
    freeaddrinfo(res);
    if (fd == -1) {
        return -1;
    }
    if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == -1) {
        snprintf(desc, desclen, "getsockname() failed: %s", strerror(errno));
        fd_close(fd);
        return -1;
    }
    listener_format((struct sockaddr *) &ss, desc, desclen);
    return fd;
}
