/*
 * policy_rr.c: Node's RoundRobinHandle (lib/internal/cluster/
 * round_robin_handle.js), the default policy.
 *
 * A FIFO of free workers. A worker is free when it joins and again each
 * time it answers a handoff; pick() takes the first free worker and so
 * leaves each worker at most one unanswered handoff.
 *
 * --window N (default 1, Node's) lets a worker hold N unanswered
 * handoffs: one that still has room after a pick goes back to the tail of
 * the FIFO, so workers with room take turns. With N = 1 nothing changes. With a
 * burst of connections the order is therefore "next free", cyclic in answer
 * order, not strictly cyclic: see docs/architecture.md, "Scheduling".
 */
#include <stdio.h>

#include "sched/policy.h"

struct rr_state {
    TAILQ_HEAD(, sched_worker) free; /* Node's `free` map, in insertion order */
};

static void
rr_init(struct sched *s)
{
    struct rr_state *st = s->pstate;

    TAILQ_INIT(&st->free);
}

static void
rr_make_free(struct sched *s, struct sched_worker *w)
{
    struct rr_state *st = s->pstate;

    if (!w->pol_linked) {
        TAILQ_INSERT_TAIL(&st->free, w, pol_link);
        w->pol_linked = true;
    }
}

static bool
rr_worker_up(struct sched *s, struct sched_worker *w)
{
    rr_make_free(s, w);
    return true;
}

static void
rr_worker_down(struct sched *s, struct sched_worker *w)
{
    struct rr_state *st = s->pstate;

    if (w->pol_linked) {
        TAILQ_REMOVE(&st->free, w, pol_link);
        w->pol_linked = false;
    }
}

static bool
rr_answered(struct sched *s, struct sched_worker *w, bool accepted)
{
    (void) accepted;
    if (w->ninflight < s->window) {
        rr_make_free(s, w);
    }
    return w->pol_linked;
}

static struct sched_worker *
rr_pick(struct sched *s, const struct sched_conn *c)
{
    struct rr_state *st = s->pstate;
    struct sched_worker *w;

    (void) c;
    /* A worker that joined with handoffs unanswered (a switch of policy
     * at SIGHUP: sched_set_policy()) is free once it answers them. */
    while ((w = TAILQ_FIRST(&st->free)) != NULL && w->ninflight >= s->window) {
        TAILQ_REMOVE(&st->free, w, pol_link);
        w->pol_linked = false;
    }
    if (w != NULL) {
        TAILQ_REMOVE(&st->free, w, pol_link);
        w->pol_linked = false;
        /* The handoff about to be made counts once pick() returns. */
        if (w->ninflight + 1 < s->window) {
            rr_make_free(s, w);
        }
    }
    return w;
}

static size_t
rr_describe(const struct sched *s, char *buf, size_t len)
{
    const struct rr_state *st = s->pstate;
    const struct sched_worker *w;
    size_t n = 0;
    int rc;

    rc = snprintf(buf, len, "free=[");
    n += rc > 0 ? (size_t) rc : 0;
    TAILQ_FOREACH(w, &st->free, pol_link) {
        if (n >= len) {
            break;
        }
        rc = snprintf(buf + n, len - n, "%sW%u",
                      w == TAILQ_FIRST(&st->free) ? "" : ",", w->id);
        n += rc > 0 ? (size_t) rc : 0;
    }
    if (n < len) {
        rc = snprintf(buf + n, len - n, "]");
        n += rc > 0 ? (size_t) rc : 0;
    }
    return n < len ? n : len - 1;
}

const struct sched_policy policy_rr = {
    .name = "rr",
    .summary = "Node's RoundRobinHandle: next free worker, one handoff "
               "in flight each (default)",
    .accept = POLICY_MASTER_ACCEPTS,
    .window = 1, /* Node's: one unanswered handoff per worker */
    .state_size = sizeof(struct rr_state),
    .init = rr_init,
    .worker_up = rr_worker_up,
    .worker_down = rr_worker_down,
    .answered = rr_answered,
    .pick = rr_pick,
    .describe = rr_describe,
};
