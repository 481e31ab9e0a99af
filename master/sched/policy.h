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

#include "sched/sched.h"

/* Who accepts connections under a policy. */
enum policy_accept {
    POLICY_MASTER_ACCEPTS, /* the master accepts and the policy picks */
    POLICY_SHARED_SOCKET,  /* every worker accepts on the master's socket */
    POLICY_REUSEPORT,      /* each worker accepts on its own SO_REUSEPORT
                              socket; the kernel hashes between them */
};

struct sched_policy {
    const char *name;
    const char *summary; /* one line for --help */
    enum policy_accept accept;
    unsigned window;   /* default unanswered handoffs per worker (0:
                          SCHED_WINDOW_DEFAULT); --window overrides */
    size_t state_size; /* zeroed bytes for s->pstate */

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
extern const struct sched_policy policy_cyclic;
extern const struct sched_policy policy_least_loaded;
extern const struct sched_policy policy_p2c;
extern const struct sched_policy policy_random;
extern const struct sched_policy policy_ip_hash;
extern const struct sched_policy policy_none;
extern const struct sched_policy policy_reuseport;

/* policy_util.c: helpers several policies share. */

/* Policy callbacks with nothing to do, for policies that need no state. */
bool policy_nop_up(struct sched *s, struct sched_worker *w);
void policy_nop_down(struct sched *s, struct sched_worker *w);
bool policy_nop_answered(struct sched *s, struct sched_worker *w,
                         bool accepted);

/*
 * The worker after <w> in join order, wrapping to the first; the first
 * when <w> is NULL. For policies that rotate.
 */
struct sched_worker *policy_next(const struct sched *s,
                                 const struct sched_worker *w);

/* "loads=[W1:3/1,W2:0/0]" (open/in flight) for trace, shared by the
 * load-based policies. */
size_t policy_describe_loads(const struct sched *s, char *buf, size_t len);

/* policies.c, the registry: the policy named <name>, or NULL. */
const struct sched_policy *policy_find(const char *name);
/* All policies, NULL-terminated, for --help and error messages. */
extern const struct sched_policy *const policy_all[];

#endif
