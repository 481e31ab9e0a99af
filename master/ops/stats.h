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
    struct stats_worker *workers; /* owned */
    size_t nworkers;
    struct stats_slot *slots; /* owned, nslots of them */
};

int stats_take(struct stats_snapshot *s, const struct ops_env *env);
void stats_release(struct stats_snapshot *s);
void stats_json(const struct stats_snapshot *s, struct sbuf *b);
void stats_prometheus(const struct stats_snapshot *s, struct sbuf *b);

#endif
