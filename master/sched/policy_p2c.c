/*
 * policy_p2c.c: the power of two random choices (Mitzenmacher): sample two
 * distinct workers that can take a connection and give it to the less
 * loaded, by the same load figure as least-loaded. Nearly as even as
 * least-loaded, without every connection herding onto one worker between
 * reports.
 */
#include "sched/policy.h"

/* The <k>-th worker (from 0) that can take a connection. */
static struct sched_worker *
p2c_nth(const struct sched *s, size_t k)
{
    struct sched_worker *w;

    TAILQ_FOREACH(w, &s->workers, link) {
        if (sched_can_take(s, w) && k-- == 0) {
            return w;
        }
    }
    return NULL;
}

static struct sched_worker *
p2c_pick(struct sched *s, const struct sched_conn *c)
{
    struct sched_worker *w, *a, *b;
    size_t n = 0, i, j;

    (void) c;
    TAILQ_FOREACH(w, &s->workers, link) {
        n += sched_can_take(s, w);
    }
    if (n <= 1) {
        return n == 1 ? p2c_nth(s, 0) : NULL;
    }
    i = (size_t) (sched_random(s) % n);
    j = (size_t) (sched_random(s) % (n - 1));
    if (j >= i) {
        j++;
    }
    a = p2c_nth(s, i);
    b = p2c_nth(s, j);
    return sched_load_cmp(b, a) < 0 ? b : a;
}

const struct sched_policy policy_p2c = {
    .name = "p2c",
    .summary = "power of two random choices on the least-loaded figure",
    .accept = POLICY_MASTER_ACCEPTS,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = p2c_pick,
    .describe = policy_describe_loads,
};
