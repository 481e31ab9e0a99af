/*
 * fleet-t.h: the types of fleet/: the worker processes as the master sees
 * them, the slots they fill, and the fleet that holds both.
 *
 * A slot is a place for one worker; its worker is replaced (after an
 * exit, a rolling restart, recycling) but the slot, its index and its
 * counters stay. A worker's record lives from spawn_worker() until its
 * process is reaped, in fleet->all; its channel is its link (link.h),
 * whose kind is chosen once for the whole fleet.
 */
#ifndef HS_MASTER_FLEET_T_H
#define HS_MASTER_FLEET_T_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "chan.h"
#include "conf/runas.h"
#include "container_of.h"
#include "fleet/backoff.h"
#include "fleet/tickets.h"
#include "sched/sched.h"

struct acceptor;
struct link_ops;
struct mconn;
struct listeners;
struct rehand_table;
struct output;
struct master_options;

/* Why a slot's worker was replaced, for /metrics. */
enum restart_cause {
    RESTART_CRASH,    /* it exited (or left) unasked */
    RESTART_RECYCLE,  /* --max-requests, --max-rss */
    RESTART_WATCHDOG, /* --worker-timeout killed it */
    RESTART_RELOAD,   /* SIGHUP's rolling restart */
    RESTART_CAUSES,
};

/* A worker as log lines name it: "W3 (pid 4242)". */
#define MW_FMT "W%u (pid %ld)"
#define MW_ARGS(w) (w)->sw.id, (long) (w)->pid

/* A worker process as the master sees it. */
struct mworker {
    struct sched_worker sw; /* embedded: the scheduler's view */
    struct fleet *fl;
    struct slot *slot;
    const struct link_ops *link; /* its kind, chosen at spawn */
    void *link_state;            /* owned by the kind (Node: node/) */
    pid_t pid;
    int chan_fd;          /* owned; -1 once closed */
    ev_io chan_r, chan_w; /* channel readable / writable */
    ev_timer chan_retry;  /* after ENOBUFS-like send failures */
    ev_child child_w;
    struct chan_outbox out; /* the native link's (link.c) */
    struct output *output;  /* owned: its stdout and stderr, or NULL */
    TAILQ_ENTRY(mworker) dirty_link;
    TAILQ_ENTRY(mworker) all_link; /* fl->all, until reaped */
    bool listed;                   /* in fl->all */
    bool dirty;                    /* in fl->dirty: to flush this turn */
    bool ready;                    /* said READY */
    bool shutdown_sent;
    bool retiring;        /* left its slot: drains, not replaced */
    bool exited;          /* reaped */
    bool watchdog_killed; /* its exit is the watchdog's doing */
    ev_tstamp started;
    ev_tstamp ready_at;
    ev_tstamp last_heard;    /* its latest message (watchdog) */
    uint64_t recycle_after;  /* requests before it is replaced; 0 never */
    struct chan_stats stats; /* its counters, as last reported (STATS) */
    struct rehand_table *rh; /* owned: its connections' states, or NULL */
    /* Requests a second over the last second, and what it had served
     * then (ops/history.c samples them). */
    double rate;
    uint64_t sampled_served;
    bool sampled;
};

TAILQ_HEAD(mworker_list, mworker);

/* A place for one worker; replacements reuse the slot (and its key). */
struct slot {
    struct fleet *fl;
    unsigned index;
    struct mworker *w;   /* current process (maybe still starting), or NULL */
    struct mworker *old; /* being replaced: serves until w is READY */
    ev_timer respawn;    /* pending restart */
    struct backoff backoff;
    unsigned restarts;      /* replacements after an exit */
    unsigned boot_failures; /* its workers' exits in a row before READY */
    /* What workers that have left this slot did, so that the slot's
     * counters never go backwards. */
    uint64_t served_before, handed_before;
};

/* What the fleet asks of the master above it (master.c sets these). */
struct fleet_hooks {
    void *ctx;
    /* Every slot's worker is READY (tell an old master: upgrade). */
    void (*all_ready)(void *ctx);
    /* No worker ever booted: the master ends with <status>. */
    void (*give_up)(void *ctx, int status);
    /* Stopping for a new master (fleet.successor): an idle connection a
     * worker gave back goes to it; false if it cannot (then it closes). */
    bool (*hand_over)(void *ctx, struct mconn *c);
};

struct fleet {
    struct ev_loop *loop;
    const struct master_options *opt;
    struct sched *sched;
    struct listeners *lis;       /* accept/: the sockets a worker may get */
    struct acceptor *acc;        /* accept/: where connections handed
                                    again arrive (rehand.c) */
    const struct link_ops *kind; /* of every worker: native or Node */
    struct fleet_hooks hooks;
    const char *program; /* what workers run, for log lines */
    bool reports;        /* its workers send load reports (the kind's
                          * resolve() may say they do not) */

    /* The native kind's program and what it is given (native.c). */
    char worker_bin[PATH_MAX];
    char root[PATH_MAX];       /* --root, made absolute, or "" */
    char access_log[PATH_MAX]; /* --access-log, made absolute, or "" */
    struct runas runas;        /* --user: who workers become */

    struct slot **slots; /* owned, each owned */
    unsigned nslots;
    struct mworker_list all; /* every worker process not yet reaped */
    unsigned nalive;
    struct mworker_list dirty; /* links to flush this loop turn */
    int reload_next;           /* slot a rolling restart is at, or -1 */
    bool reload_again;         /* another SIGHUP came during it */
    ev_timer watchdog;
    bool ever_ready; /* a worker has been READY since the start */
    bool announced;  /* told systemd READY=1 */
    bool stopping;   /* the master stops: no more starts */
    bool successor;  /* ...for a new master, which takes idle connections */
    uint32_t next_worker_id;
    uint64_t served_gone; /* requests served by workers that have exited */
    uint64_t handed_gone; /* connections handed to them */
    uint64_t exits;       /* worker exits, for any reason */
    uint64_t restarts[RESTART_CAUSES];
    struct chan_stats stats_gone; /* what exited workers counted */
    struct tickets tickets;       /* TLS session-ticket keys (tickets.c) */
    /* Connections whose worker went away (rehand.c): handed to another
     * worker (by cause: crash, or given back), and closed because they
     * were busy. */
    uint64_t rehanded_crash, rehanded_returned, rehand_busy_closed;
    uint64_t rehanded_upgrade; /* given to a new master (SIGUSR2) */
};

static inline struct mworker *
mworker_of(const struct sched_worker *sw)
{
    return container_of(sw, struct mworker, sw);
}

#endif
