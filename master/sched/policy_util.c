/*
 * policy_util.c: small helpers several policies share (policy.h): the
 * callbacks with nothing to do, the rotation step, and the loads view for
 * trace lines.
 */
#include <stdio.h>

#include "sched/policy.h"

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

size_t
policy_describe_loads(const struct sched *s, char *buf, size_t len)
{
    const struct sched_worker *w;
    size_t n = 0;
    int rc;

    rc = snprintf(buf, len, "loads=[");
    n += rc > 0 ? (size_t) rc : 0;
    TAILQ_FOREACH(w, &s->workers, link) {
        if (n >= len) {
            break;
        }
        rc = snprintf(buf + n, len - n, "%sW%u:%llu/%u%s",
                      w == TAILQ_FIRST(&s->workers) ? "" : ",", w->id,
                      (unsigned long long) sched_load_of(w), w->load.in_flight,
                      w->full ? "(full)" : "");
        n += rc > 0 ? (size_t) rc : 0;
    }
    if (n < len) {
        rc = snprintf(buf + n, len - n, "]");
        n += rc > 0 ? (size_t) rc : 0;
    }
    return n < len ? n : len - 1;
}
