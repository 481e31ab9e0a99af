/*
 * stats.h: the master's figures, taken once into a snapshot and rendered
 * as JSON (/stats, handoffctl stats) or Prometheus text (/metrics)
 * (stats.c).
 */
#ifndef HS_MASTER_STATS_H
#define HS_MASTER_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"
#include "fleet/fleet-t.h"
#include "sbuf.h"

struct ops_env;

/* A worker process, as /stats lists it. */
struct stats_worker {
    uint32_t id;
    long pid;
    const char *kind;  /* its link's: "handoff", "node" */
    int slot;          /* or -1: retiring, out of any slot */
    const char *state; /* starting, ready, full, draining */
    bool reports;      /* its figures are known (load reports) */
    struct chan_load load;
    uint64_t handed;
    unsigned unanswered;
    unsigned restarts; /* its slot's */
    double rate;       /* requests a second, the last second */
    double uptime_s;
};

/* A slot: its workers past and present, and the current one. */
struct stats_slot {
    uint64_t served, handed;
    unsigned restarts;
    bool has_worker;
    bool reports; /* the current worker's figures are known */
    struct chan_load load;
    long pid;
};

/* The master process itself, as Prometheus's process_* series. */
struct stats_process {
    double cpu_s; /* user + system */
    uint64_t rss_bytes, vsize_bytes;
    int open_fds;
    uint64_t max_fds;
    double start_time; /* Unix time */
};

/* A listening address and what came in on it. */
struct stats_listener {
    unsigned index;
    char name[72];             /* its --listen, or systemd's name */
    char address[64];          /* where it is bound */
    bool tls;                  /* --listen-tls */
    uint64_t accepted;         /* by the master */
    unsigned queue, queue_max; /* the kernel's accept queue */
    uint64_t requests[CHAN_STATUS_CLASSES]; /* responses by status class */
};

struct stats_snapshot {
    long pid;
    double uptime_s;
    const char *policy;
    uint64_t accepted;
    size_t queued;
    uint64_t handoffs, acks, refusals, reclaims;
    unsigned accept_queue, accept_queue_max;
    bool accepting;
    const char *paused; /* why not accepting, or NULL */
    bool stopping;
    uint64_t worker_exits;
    unsigned nslots;
    size_t workers_ready;
    bool reports; /* the workers' kind reports load: served is known */
    uint64_t served_total, handed_total;
    double rate; /* requests a second, the last second */
    /* Connections that outlived their worker (fleet/rehand.c). */
    bool rehand;                  /* --rehand on */
    uint64_t rehanded_crash;      /* handed again after a worker died */
    uint64_t rehanded_returned;   /* given back by a retiring worker */
    uint64_t rehand_busy_closed;  /* busy when their worker died */
    uint64_t rehanded_upgrade;    /* given to a new master (SIGUSR2) */
    uint64_t rehand_kept;         /* descriptors the master keeps now */
    struct stats_worker *workers; /* owned */
    size_t nworkers;
    struct stats_slot *slots; /* owned, nslots of them */
    /* What the workers counted (reports only): exited ones and live. */
    struct chan_stats counted;
    uint64_t restarts[RESTART_CAUSES];
    struct stats_listener listeners[CHAN_LISTENERS_MAX];
    size_t nlisteners;
    struct stats_process proc;
};

int stats_take(struct stats_snapshot *s, const struct ops_env *env);
void stats_release(struct stats_snapshot *s);
void stats_json(const struct stats_snapshot *s, struct sbuf *b);
void stats_prometheus(const struct stats_snapshot *s, struct sbuf *b);
void stats_table(const struct stats_snapshot *s, struct sbuf *b);

#endif
