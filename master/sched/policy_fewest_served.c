/*
 * policy_fewest_served.c: the worker that has served the fewest
 * requests, by its latest load report (docs/policies.md's example).
 */
#include "sched/policy.h"

static struct sched_worker *
fewest_served_pick(struct sched *s, const struct sched_conn *c)
{
    struct sched_worker *w, *best = NULL;

    (void) c;
    TAILQ_FOREACH(w, &s->workers, link) {
        if (sched_can_take(s, w)
            && (best == NULL || w->load.served < best->load.served)) {
            best = w;
        }
    }
    return best;
}

const struct sched_policy policy_fewest_served = {
    .name = "fewest-served",
    .summary = "the worker that has served the fewest requests",
    .accept = POLICY_MASTER_ACCEPTS,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = fewest_served_pick,
};
