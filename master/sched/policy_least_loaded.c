/*
 * policy_least_loaded.c: the worker with the fewest open connections, as
 * the master best knows them (sched_load_of: the latest figure from a load
 * report or an acknowledgement, plus connections accepted since, plus
 * handoffs not yet answered); between equals, the one with fewer requests
 * in progress; between those, the first after the one picked last, so
 * equal workers take turns instead of W1 taking everything.
 */
#include "sched/policy.h"

struct least_loaded_state {
    struct sched_worker *last;
};

static void
least_loaded_down(struct sched *s, struct sched_worker *w)
{
    struct least_loaded_state *st = s->pstate;

    if (st->last == w) {
        st->last = TAILQ_PREV(w, sched_worker_list, link);
    }
}

static struct sched_worker *
least_loaded_pick(struct sched *s, const struct sched_conn *c)
{
    struct least_loaded_state *st = s->pstate;
    struct sched_worker *w = st->last, *best = NULL;
    size_t i;

    (void) c;
    for (i = 0; i < s->nworkers; i++) {
        w = policy_next(s, w);
        if (sched_can_take(s, w)
            && (best == NULL || sched_load_cmp(w, best) < 0)) {
            best = w;
        }
    }
    if (best != NULL) {
        st->last = best;
    }
    return best;
}

const struct sched_policy policy_least_loaded = {
    .name = "least-loaded",
    .summary = "fewest open connections (reports + accepted since + "
               "unanswered)",
    .accept = POLICY_MASTER_ACCEPTS,
    .state_size = sizeof(struct least_loaded_state),
    .worker_up = policy_nop_up,
    .worker_down = least_loaded_down,
    .answered = policy_nop_answered,
    .pick = least_loaded_pick,
    .describe = policy_describe_loads,
};
