/*
 * plain_io.c: a connection's I/O on a plain socket: each operation is
 * its system call, with EINTR retried. (HTTPS plugs another struct
 * conn_io in here, chosen when the connection is adopted.)
 */
#include <errno.h>
#include <sys/sendfile.h>
#include <sys/socket.h>

#include "fdutil.h"
#include "http/internal.h"

static ssize_t
plain_io_read(struct conn *c, void *buf, size_t len)
{
    ssize_t n;

    do {
        n = recv(c->fd, buf, len, 0);
    } while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t
plain_io_write(struct conn *c, const void *buf, size_t len, bool more)
{
    int flags = MSG_NOSIGNAL | (more ? MSG_MORE : 0);
    ssize_t n;

    do {
        n = send(c->fd, buf, len, flags);
    } while (n == -1 && errno == EINTR);
    return n;
}

static ssize_t
plain_io_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    ssize_t n;

    do {
        n = sendfile(c->fd, fd, off, len);
    } while (n == -1 && errno == EINTR);
    return n;
}

static int
plain_io_shutdown(struct conn *c)
{
    return shutdown(c->fd, SHUT_WR);
}

static void
plain_io_close(struct conn *c)
{
    fd_close(c->fd);
    c->fd = -1;
}

const struct conn_io plain_io = {
    .read = plain_io_read,
    .write = plain_io_write,
    .sendfile = plain_io_sendfile,
    .shutdown = plain_io_shutdown,
    .close = plain_io_close,
};
