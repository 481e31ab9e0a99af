/*
 * policy_random.c: a uniformly random worker among those that can take a
 * connection. The baseline any smarter policy must beat.
 */
#include "sched/policy.h"

static struct sched_worker *
random_pick(struct sched *s, const struct sched_conn *c)
{
    struct sched_worker *w;
    size_t n = 0, k;

    (void) c;
    TAILQ_FOREACH(w, &s->workers, link) {
        n += sched_can_take(s, w);
    }
    if (n == 0) {
        return NULL;
    }
    k = (size_t) (sched_random(s) % n);
    TAILQ_FOREACH(w, &s->workers, link) {
        if (sched_can_take(s, w) && k-- == 0) {
            break;
        }
    }
    return w;
}

const struct sched_policy policy_random = {
    .name = "random",
    .summary = "a uniformly random worker",
    .accept = POLICY_MASTER_ACCEPTS,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = random_pick,
};
