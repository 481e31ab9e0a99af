/*
 * policy.h: the interface a scheduling policy implements.
 *
 * A policy answers one question, "which worker takes this connection now?",
 * and is told of every event that could change the answer. It never does
 * I/O and never touches the queue: the scheduler (sched.c) asks pick() for
 * the head of the queue until it answers NULL ("keep it queued").
 * docs/policies.md walks through writing one.
 */
#ifndef HS_MASTER_POLICY_H
#define HS_MASTER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "sched.h"

struct sched_policy {
    const char *name;
    const char *summary;  /* one line for --help */
    size_t state_size;    /* zeroed bytes for s->pstate */

    /* Sets up s->pstate, already zeroed. May be NULL. */
    void (*init)(struct sched *s);
    /* A worker joined (it is in s->workers already). True if it is free. */
    bool (*worker_up)(struct sched *s, struct sched_worker *w);
    /* A worker is leaving (still in s->workers, in-flight list intact). */
    void (*worker_down)(struct sched *s, struct sched_worker *w);
    /* <w> answered a handoff. Returns true if <w> is now free (trace). */
    bool (*answered)(struct sched *s, struct sched_worker *w, bool accepted);
    /* A load report replaced w->load. May be NULL. */
    void (*load)(struct sched *s, struct sched_worker *w);
    /* The worker to take <c>, or NULL to keep it (and all behind it) queued.
     * Never a worker with w->full set: answered() is deferred for those. */
    struct sched_worker *(*pick)(struct sched *s, const struct sched_conn *c);
    /* Writes a short view of the policy's state for trace. May be NULL. */
    size_t (*describe)(const struct sched *s, char *buf, size_t len);
};

/* Node's RoundRobinHandle: next-free, one handoff in flight per worker. */
extern const struct sched_policy policy_rr;

/* The policy named <name>, or NULL. */
const struct sched_policy *policy_find(const char *name);
/* All policies, NULL-terminated, for --help and error messages. */
extern const struct sched_policy *const policy_all[];

#endif
