/*
 * node-t.h: the types private to node/: what the master keeps for one
 * Node worker (--node), behind its struct mworker's link_state.
 */
#ifndef HS_MASTER_NODE_T_H
#define HS_MASTER_NODE_T_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "fleet/fleet-t.h"

/* The longest line a Node worker may send; longer ones are dropped. */
#define NODE_LINE_MAX (1024 * 1024)
#define NODE_KEY_MAX 320

struct node_out;

/* A Node worker's channel: node_link.c's transport, node_cluster.c's
 * protocol. */
struct node_link {
    /* Transport. */
    char *in; /* owned: a line read in part */
    size_t in_len, in_cap;
    bool skipping;  /* dropping the rest of an oversized line */
    int pending_fd; /* owned: came with a read, for a NODE_HANDLE line */
    STAILQ_HEAD(, node_out) out;  /* owned: lines not yet written, in order */
    struct node_out *last_urgent; /* the last ACK/NACK in out, or NULL */
    size_t nout;
    size_t out_bytes;      /* what out holds, lines and their bookkeeping */
    bool read_paused;      /* out is over NODE_OUT_PAUSE: not reading for now */
    bool handle_in_flight; /* a NODE_HANDLE written, its ACK not yet read */
    uint64_t handle_conn;  /* ...carrying this connection's fd, or 0 */
    /* Who reads the lines: each whole line, and the channel's closing. */
    void (*on_line)(struct mworker *w, const char *line, size_t len);
    void (*on_closed)(struct mworker *w);
    /* Cluster protocol. */
    char key[NODE_KEY_MAX]; /* its server's key, as Node's primary makes it */
    bool serving;           /* queryServer answered, server not closed */
    bool disconnecting;     /* told to disconnect, or said it will */
    ev_tstamp asked_at;     /* its oldest unanswered newconn went out */
    ev_tstamp user_window;  /* user-message log budget */
    unsigned user_logged, user_hidden;
    /* handoff's preload (node_preload.c). */
    bool reports;      /* it has sent a load report: it drains, too */
    bool drain_told;   /* its drain's start is logged */
    uint32_t heap_kib; /* its latest V8 heap in use */
};

static inline struct node_link *
node_of(const struct mworker *w)
{
    return w->link_state;
}

#endif
