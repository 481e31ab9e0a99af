/*
 * sched.h: the scheduler, a pure state machine deciding which worker gets
 * each accepted connection.
 *
 * It owns the queue of connections waiting for a worker and, per worker,
 * the list of connections handed to it and not yet acknowledged. Which
 * worker takes the head of the queue is the policy's choice (policy.h).
 * It does no I/O: its decisions come out through struct sched_sink, which
 * the master turns into sendmsg() and close(), and which unit tests record.
 *
 * Events in: a worker came up (sched_worker_up), left the rotation
 * (sched_worker_leave) or went away (sched_worker_gone), a connection was
 * accepted (sched_conn_arrive), a worker acknowledged or refused one
 * (sched_ack), a load report arrived (sched_load). Decisions out: send
 * <conn> to <worker>, release <conn> (the worker has it: close the
 * master's copy).
 */
#ifndef HS_MASTER_SCHED_H
#define HS_MASTER_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "chan.h"

struct sched;
struct sched_policy;

struct sched_conn {
    TAILQ_ENTRY(sched_conn) link; /* in the queue or a worker's in-flight */
    uint64_t id;                  /* C1, C2, ... in accept order */
    uint32_t addr_hash; /* of the client address, for sticky policies */
    struct sched_worker *worker; /* holder of the handoff, or NULL if queued */
};

TAILQ_HEAD(sched_conn_list, sched_conn);

struct sched_worker {
    TAILQ_ENTRY(sched_worker) link;     /* in sched.workers, in join order */
    TAILQ_ENTRY(sched_worker) pol_link; /* policy's own list (rr: free) */
    bool pol_linked;                    /* pol_link is in use */
    uint32_t id;                        /* W1, W2, ... never reused */
    uint32_t key;                       /* stable across restarts (slot) */
    struct sched_conn_list inflight;    /* handed, not yet acknowledged */
    unsigned ninflight;
    uint64_t handed;             /* handoffs ever made to it */
    uint64_t accepted;           /* handoffs it accepted */
    uint64_t accepted_at_report; /* .accepted when .load arrived */
    struct chan_load load;       /* latest report */
    bool up;                     /* in the rotation */
    bool full;                   /* refused for lack of room: parked
                                    until its next load report */
};

TAILQ_HEAD(sched_worker_list, sched_worker);

/* What the scheduler asks of its environment; see the file comment. */
enum sched_event {
    SCHED_EV_ARRIVE,   /* conn joined the queue tail */
    SCHED_EV_HANDOFF,  /* conn given to worker */
    SCHED_EV_ACCEPTED, /* worker acknowledged conn */
    SCHED_EV_REFUSED,  /* worker refused conn; it went to the queue tail */
    SCHED_EV_PARKED,   /* worker refused for lack of room: parked */
    SCHED_EV_RECLAIM,  /* worker went away; conn went back to the queue head */
    SCHED_EV_FREE,     /* worker can take a connection (policy says so) */
    SCHED_EV_UP,       /* worker joined */
    SCHED_EV_DOWN,     /* worker left the rotation */
};

/* A worker's answer to a handoff. */
enum sched_answer {
    SCHED_ACCEPTED,
    SCHED_REFUSED,      /* e.g. draining: the connection goes to the tail */
    SCHED_REFUSED_FULL, /* no room: also park the worker until it reports */
};

struct sched_sink {
    void *ctx;
    /* Hand <c> to <w>: queue a CONN message with the fd. */
    void (*send)(void *ctx, struct sched_conn *c, struct sched_worker *w);
    /* <c> is the worker's now: the master closes its copy and forgets it. */
    void (*release)(void *ctx, struct sched_conn *c);
    /* Optional: observe every step (trace mode). <c> or <w> may be NULL. */
    void (*event)(void *ctx, enum sched_event ev, const struct sched_conn *c,
                  const struct sched_worker *w);
};

struct sched {
    const struct sched_policy *policy;
    void *pstate; /* the policy's own, owned */
    struct sched_sink sink;
    struct sched_conn_list queue; /* waiting for a worker, FIFO */
    size_t nqueued;
    struct sched_worker_list workers; /* up, in join order */
    size_t nworkers;
    size_t nfull;    /* of those, parked for lack of room */
    unsigned window; /* most unanswered handoffs per worker
                        for policies that do not wait */
    uint64_t rng;    /* xorshift state for random policies */
    /* Monotonic counters. */
    uint64_t handoffs, acks, refusals, reclaims;
};

/* Returns 0, or -1 when the policy's state cannot be allocated. */
int sched_init(struct sched *s, const struct sched_policy *policy,
               const struct sched_sink *sink);
/* Frees policy state; queued and in-flight connections stay the caller's. */
void sched_fini(struct sched *s);
int sched_set_policy(struct sched *s, const struct sched_policy *policy,
                     unsigned window);

void sched_worker_init(struct sched_worker *w, uint32_t id);
void sched_worker_up(struct sched *s, struct sched_worker *w);
/*
 * <w> takes no more connections (it drains, or is told to). Its answers
 * to handoffs already made still count.
 */
void sched_worker_leave(struct sched *s, struct sched_worker *w);
/*
 * <w> is gone. Every connection it had not acknowledged goes back to the
 * head of the queue, in order, and is handed to another worker.
 */
void sched_worker_gone(struct sched *s, struct sched_worker *w);

void sched_conn_init(struct sched_conn *c, uint64_t id, uint32_t addr_hash);
void sched_conn_arrive(struct sched *s, struct sched_conn *c);

/*
 * <w> answered for connection <conn_id>. Returns 0, or -1 when <w> holds no
 * such connection (a protocol error the caller logs).
 */
int sched_ack(struct sched *s, struct sched_worker *w, uint64_t conn_id,
              enum sched_answer answer);

void sched_load(struct sched *s, struct sched_worker *w,
                const struct chan_load *load);

/*
 * Removes every queued connection, calling <fn> on each (shutdown and
 * tests): the caller closes and frees them.
 */
void sched_drop_queue(struct sched *s, void (*fn)(void *, struct sched_conn *),
                      void *arg);

/* The policy's view of its state for trace lines, e.g. "free=[W2,W3]". */
size_t sched_describe(const struct sched *s, char *buf, size_t len);

/* True when every worker in the rotation is parked for lack of room: the
 * master then stops accepting and lets the kernel backlog wait. */
static inline bool
sched_all_full(const struct sched *s)
{
    return s->nworkers > 0 && s->nfull == s->nworkers;
}

/* Helpers for policies. */

/* True if <w> may be handed a connection now: in the rotation, not
 * parked, and under the window. */
bool sched_can_take(const struct sched *s, const struct sched_worker *w);

/*
 * <w>'s open connections as the master best knows them: its latest figure
 * (from a load report or an acknowledgement, whichever came last), plus
 * connections it accepted since, plus handoffs not yet answered.
 */
uint64_t sched_load_of(const struct sched_worker *w);

/*
 * Orders workers by load: open connections (sched_load_of), then requests
 * in progress. Negative if <a> is less loaded than <b>, 0 if equal.
 */
int sched_load_cmp(const struct sched_worker *a, const struct sched_worker *b);

/*
 * Figures that came with an acknowledgement from <w>: fresher than its
 * last report. Call right after sched_ack().
 */
void sched_note_load(struct sched_worker *w, uint32_t open_conns,
                     uint32_t in_flight);

/* A pseudo-random number; seed it with sched_seed() (tests use fixed seeds). */
uint64_t sched_random(struct sched *s);
void sched_seed(struct sched *s, uint64_t seed);

#define SCHED_WINDOW_DEFAULT 64

#endif
