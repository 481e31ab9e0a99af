/*
 * accept.c: accept4() once, its errno sorted into what the caller does
 * next (accept.h).
 */
#include <errno.h>
#include <stdbool.h>

#include "accept.h"

/* accept(2), "Error handling": errors of the new socket that Linux passes
 * through accept; the listener itself is fine. */
static bool
accept_transient(int err)
{
    switch (err) {
    case ECONNABORTED:
    case EPROTO:
    case EPERM:
    case ENETDOWN:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

enum accept_result
accept_next(int lfd, struct sockaddr_storage *ss, int *fd)
{
    socklen_t len = sizeof(*ss);

    do {
        *fd = accept4(lfd, (struct sockaddr *) ss, &len,
                      SOCK_NONBLOCK | SOCK_CLOEXEC);
    } while (*fd == -1 && errno == EINTR);
    if (*fd != -1) {
        return ACCEPT_OK;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return ACCEPT_AGAIN;
    }
    return accept_transient(errno) ? ACCEPT_SKIP : ACCEPT_PAUSE;
}
