/*
 * accept.h: one accept4() with its errors sorted, for the two loops that
 * accept: the master's (master/accept/acceptor.c) and a worker's own under the
 * kernel-balanced policies (worker/listen.c). Both must treat every errno
 * the same way; this is the one place that says how.
 */
#ifndef HS_COMMON_ACCEPT_H
#define HS_COMMON_ACCEPT_H

#include <sys/socket.h>

enum accept_result {
    ACCEPT_OK,    /* *fd is a new connection, non-blocking, close-on-exec */
    ACCEPT_AGAIN, /* nothing waiting (EAGAIN): wait for readable */
    ACCEPT_SKIP,  /* that connection failed before it was taken (Linux
                     passes its network errors through accept): try the
                     next one */
    ACCEPT_PAUSE, /* the process or system is out of something (EMFILE,
                     ENFILE, ENOBUFS, ENOMEM) or the error is unexpected;
                     errno says which: stop accepting for a moment, or
                     the level-triggered watcher turns it into a busy loop */
};

/* Connections accepted per loop turn at most, so that channels and
 * clients already served are not starved by a flood of new ones. */
#define ACCEPT_BATCH 64

/* How long an ACCEPT_PAUSE lasts. */
#define ACCEPT_PAUSE_S 0.1

/* Accepts one connection on <lfd>; EINTR is retried. <ss> gets the peer's
 * address. */
enum accept_result accept_next(int lfd, struct sockaddr_storage *ss, int *fd);

#endif
