/*
 * policies.c: the table of scheduling policies, by name, and the small
 * helpers several of them share.
 */
#include <string.h>

#include "policy.h"

const struct sched_policy *const policy_all[] = {
    &policy_rr,   &policy_cyclic,    &policy_least_loaded,
    &policy_p2c,  &policy_random,    &policy_ip_hash,
    &policy_none, &policy_reuseport, NULL,
};

const struct sched_policy *
policy_find(const char *name)
{
    size_t i;

    for (i = 0; policy_all[i] != NULL; i++) {
        if (strcmp(policy_all[i]->name, name) == 0) {
            return policy_all[i];
        }
    }
    return NULL;
}

bool
policy_nop_up(struct sched *s, struct sched_worker *w)
{
    (void) s;
    (void) w;
    return false;
}

void
policy_nop_down(struct sched *s, struct sched_worker *w)
{
    (void) s;
    (void) w;
}

bool
policy_nop_answered(struct sched *s, struct sched_worker *w, bool accepted)
{
    (void) s;
    (void) w;
    (void) accepted;
    return false;
}

struct sched_worker *
policy_next(const struct sched *s, const struct sched_worker *w)
{
    struct sched_worker *next = w != NULL ? TAILQ_NEXT(w, link) : NULL;

    return next != NULL ? next : TAILQ_FIRST(&s->workers);
}
