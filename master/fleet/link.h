/*
 * link.h: a worker's link, the master's end of its channel, as a table of
 * operations (nginx's ngx_connection_t send/recv pointers are the model).
 *
 * The kind is chosen once, in master.c, for the whole fleet: handoff's own
 * workers (native_link_ops: fleet/link.c, the chan.h records on a
 * SOCK_SEQPACKET socketpair) or Node cluster workers (node_link_ops:
 * node/, Node's JSON-line IPC). Nothing outside a kind's own files knows
 * which kind a worker is: a third kind is its own folder and one line in
 * master.c.
 *
 * Every operation takes the worker; those marked optional may be NULL.
 */
#ifndef HS_MASTER_LINK_H
#define HS_MASTER_LINK_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

struct exec_cmd;
struct sockaddr_storage;
struct fleet;
struct mconn;
struct mworker;

struct link_ops {
    const char *kind;  /* in /stats: "handoff", "node" */
    const char *title; /* in log lines: "worker", "Node worker" */
    int sock_type;     /* of its socketpair */
    /* It may be told to stop before it is ready (Node's disconnect works
     * at any point); else a stop waits for its READY. */
    bool stop_before_ready;
    /* Its program writes to stdout and stderr itself: the master reads
     * them and logs each line as the worker's (output.c). */
    bool capture_output;
    /* It keeps a table of its connections' states that the master
     * reads (conn_state.h), so that they can be handed again when it goes. */
    bool rehand;

    /* The kind, once at start-up: checks its program (one line on stderr
     * and -1 if it cannot run) and sets fl->program. */
    int (*resolve)(struct fleet *fl);
    /* Optional: a line for the start-up log. */
    void (*announce)(const struct fleet *fl);
    /* Optional: frees what the kind kept, after the last worker. */
    void (*fini)(struct fleet *fl);

    /* Optional: sets up w->link_state; -1 on ENOMEM. */
    int (*init)(struct mworker *w);
    /* What to exec for <w>, whose channel will be fd EXEC_CHANNEL_FD
     * (exec.h); -1 on ENOMEM. */
    int (*command)(const struct mworker *w, struct exec_cmd *cmd);
    /* The channel is open (w->chan_fd): watch it. */
    void (*start)(struct mworker *w);
    /* The scheduler hands <c> to <w>: queue it with its fd. */
    void (*handoff)(struct mworker *w, struct mconn *c);
    /* Optional: listener <index> is at <addr> (NULL: it closed); with
     * <fd> (>= 0), <w> accepts on it by itself (policies none,
     * reuseport). */
    void (*listener)(struct mworker *w, unsigned index,
                     const struct sockaddr_storage *addr, int fd);
    /* Finish what it has and exit. */
    void (*shutdown)(struct mworker *w);
    /* Optional: the TLS session-ticket keys are <keys> (at its start,
     * and at each rotation). */
    void (*tickets)(struct mworker *w, const struct chan_tickets *keys);
    /* Optional: CHAN_REOPEN (the access log), CHAN_TRACE <arg> on/off. */
    void (*notify)(struct mworker *w, enum chan_type type, uint32_t arg);
    /* Writes what is queued (once per loop turn, and when writable). */
    void (*flush)(struct mworker *w);
    /* Reads all a dead worker left in its channel. */
    void (*drain)(struct mworker *w);
    /* The channel closes: drop what is queued or half read. */
    void (*close)(struct mworker *w);
    /* Optional: frees w->link_state. */
    void (*free)(struct mworker *w);
    /* Optional: its latest figures; NULL for a kind that reports none
     * (/stats prints null for them). */
    bool (*load)(const struct mworker *w, struct chan_load *l);
    /* Optional: since when its silence counts for --worker-timeout, or
     * false when nothing is expected of it now; NULL: since it was last
     * heard from. */
    bool (*silent_since)(const struct mworker *w, ev_tstamp *since);
};

/* handoff's own workers (link.c). */
extern const struct link_ops native_link_ops;

#endif
