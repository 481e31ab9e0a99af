/*
 * oneshot.h: one request, one answer, per connection (oneshot.c): the
 * small server behind the admin listener and the control socket.
 */
#ifndef HS_MASTER_ONESHOT_H
#define HS_MASTER_ONESHOT_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>

#include "sbuf.h"

#define ONESHOT_IN_MAX 4096

struct oneshot_conn;

struct oneshot {
    struct ev_loop *loop;
    void *ctx; /* the server's own, for handle() */
    int fd;    /* owned listening socket, or -1 */
    ev_io accept_w;
    /* True once <in> holds a whole request. */
    bool (*complete)(const char *in, size_t len);
    /* Writes the answer to <in> (all of it, terminator included). */
    void (*handle)(struct oneshot *srv, const char *in, size_t len,
                   struct sbuf *out);
    unsigned nconns;
    TAILQ_HEAD(, oneshot_conn) conns;
    /* Streams (oneshot_stream()): how many are open, and an optional
     * callback run each time that number changes. */
    unsigned nstreams;
    void (*streams_changed)(struct oneshot *srv);
    struct oneshot_conn *answering; /* private: the one in handle() */
};

void oneshot_start(struct oneshot *srv, struct ev_loop *loop, void *ctx, int fd,
                   bool (*complete)(const char *, size_t),
                   void (*handle)(struct oneshot *, const char *, size_t,
                                  struct sbuf *));
void oneshot_stop(struct oneshot *srv);
void oneshot_relisten(struct oneshot *srv, int fd);
bool oneshot_stream(struct oneshot *srv);
void oneshot_broadcast(struct oneshot *srv, const char *data, size_t len);

#endif
