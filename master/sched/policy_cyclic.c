/*
 * policy_cyclic.c: strict rotation over the workers in the rotation, W1,
 * W2, ..., Wn, W1, ..., without waiting for acknowledgements (up to the
 * window of unanswered handoffs per worker). This is what "round robin"
 * usually means, and what Node's rr is not (docs/policies.md).
 */
#include <stdio.h>

#include "sched/policy.h"

struct cyclic_state {
    struct sched_worker *last; /* the worker picked last, or NULL */
};

static void
cyclic_down(struct sched *s, struct sched_worker *w)
{
    struct cyclic_state *st = s->pstate;

    if (st->last == w) {
        /* Its successor is next, as if it had never been there. */
        st->last = TAILQ_PREV(w, sched_worker_list, link);
    }
}

static struct sched_worker *
cyclic_pick(struct sched *s, const struct sched_conn *c)
{
    struct cyclic_state *st = s->pstate;
    struct sched_worker *w = st->last;
    size_t i;

    (void) c;
    for (i = 0; i < s->nworkers; i++) {
        w = policy_next(s, w);
        if (sched_can_take(s, w)) {
            st->last = w;
            return w;
        }
    }
    return NULL;
}

static size_t
cyclic_describe(const struct sched *s, char *buf, size_t len)
{
    const struct cyclic_state *st = s->pstate;
    const struct sched_worker *next = policy_next(s, st->last);
    int n = next != NULL ? snprintf(buf, len, "next=W%u", next->id)
                         : snprintf(buf, len, "next=-");

    return n > 0 && (size_t) n < len ? (size_t) n : 0;
}

const struct sched_policy policy_cyclic = {
    .name = "cyclic",
    .summary = "strict rotation, many handoffs in flight per worker",
    .accept = POLICY_MASTER_ACCEPTS,
    .state_size = sizeof(struct cyclic_state),
    .worker_up = policy_nop_up,
    .worker_down = cyclic_down,
    .answered = policy_nop_answered,
    .pick = cyclic_pick,
    .describe = cyclic_describe,
};
