/*
 * accept-t.h: the types of accept/: the service's listening sockets, the
 * accept loop, and the master's records of the connections it accepted.
 *
 * A connection's record is the master's until a worker acknowledges it:
 * the scheduler sees it through the embedded struct sched_conn, a
 * worker's link through the whole of it (its fd and peer go out with the
 * handoff).
 */
#ifndef HS_MASTER_ACCEPT_T_H
#define HS_MASTER_ACCEPT_T_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"
#include "chan.h"
#include "container_of.h"
#include "sched/sched.h"

struct master_options;

/* An accepted connection, owned by the master until acknowledged. */
struct mconn {
    struct sched_conn sc; /* embedded: the scheduler's view */
    int fd;               /* owned */
    struct chan_peer peer;
    struct mconn *next_free; /* in the pool's free list */
    ev_io pio;               /* --proxy-protocol: waiting for the header */
    ev_timer ptimer;
    uint8_t *pbuf; /* owned: the header's bytes so far, or NULL */
    size_t plen;
    /* What the link that carries it numbers the handoff by, for the
     * answer that names it (Node: the seq of its newconn). */
    uint64_t link_tag;
    /* Its slot + 1 in the state table of the worker it was handed to
     * (fleet/rehand.c), or 0. While set, that table owns the record, and
     * keeps the fd after the worker's acknowledgement. */
    uint32_t rh_slot;
    /* A connection handed again: what it was called, and the worker
     * that left it idle (for the trace); 0 and the worker: a Node worker
     * gave it back (the master had no record of it left). */
    uint64_t rehand_of;
    uint32_t rehand_from;
};

struct mconn_pool {
    struct mconn *free;
    void **chunks; /* owned allocations */
    size_t nchunks;
    size_t live; /* records in use */
};

/*
 * One listening address: its socket (the master accepts on it, or shares
 * it under none), or under reuseport one socket per slot. Its index is
 * what a CONN names it by (chan_peer.listener) and what the workers count
 * requests by; an index freed (a listener closed at SIGHUP) is taken
 * again only after every other one has been, so that counts still
 * arriving for the old listener rarely meet a new one.
 */
struct listener {
    bool open;
    int fd; /* owned, or -1 */
    /* reuseport: each slot's own SO_REUSEPORT socket, by slot, or -1 */
    int slot_fd[HANDOFF_MAX_WORKERS];
    struct sockaddr_storage addr; /* where it is bound */
    socklen_t addrlen;
    char spec[72];    /* the --listen it comes from, "host:port" */
    char name[72];    /* what /stats calls it: the spec, or systemd's */
    char address[64]; /* bound: "127.0.0.1:8080", "[::1]:8080" */
    bool tls;         /* --listen-tls: its workers do a TLS handshake */
    uint64_t accepted;
    /* What its index had counted before it (a reused index). */
    uint64_t base[CHAN_STATUS_CLASSES];
};

/* The service's listening sockets, every one owned. */
struct listeners {
    struct listener l[CHAN_LISTENERS_MAX];
    unsigned nopen;
    unsigned next; /* where a new one's index is looked for first */
    int first;     /* the first listener in the configuration's order */
    /* The first listener's address: what a Node worker is told it
     * listens on (it listens on one), and the control socket's port. */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    unsigned backlog;
    bool from_systemd; /* systemd's sockets: the listen lines do not apply */
};

/* The master's accept loop and what it has accepted. */
struct acceptor {
    struct ev_loop *loop;
    const struct master_options *opt;
    struct sched *sched;
    struct listeners *lis;
    struct mconn_pool pool;
    ev_io accept_w[CHAN_LISTENERS_MAX]; /* by listener */
    ev_timer accept_pause;              /* after EMFILE and friends */
    bool error_pause;
    ev_tstamp error_logged;
    bool queue_pause;
    bool workers_full;
    bool no_worker; /* no worker in the rotation: not accepting */
    bool no_worker_logged;
    bool worker_seen; /* a worker has been in the rotation since the start */
    bool started;     /* acceptor_start(): the master accepts */
    uint64_t next_conn_id;
    uint64_t accepted;
    unsigned proxy_waiting; /* accepted, PROXY header not yet read */
};

static inline struct mconn *
mconn_of(const struct sched_conn *sc)
{
    return container_of(sc, struct mconn, sc);
}

#endif
