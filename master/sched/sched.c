/*
 * sched.c: the scheduler's state machine; see sched.h. No I/O here.
 */
#include <stdlib.h>
#include <string.h>

#include "sched/policy.h"
#include "sched/sched.h"

static void sched_dispatch(struct sched *s);

int
sched_init(struct sched *s, const struct sched_policy *policy,
           const struct sched_sink *sink)
{
    memset(s, 0, sizeof(*s));
    s->policy = policy;
    s->sink = *sink;
    TAILQ_INIT(&s->queue);
    TAILQ_INIT(&s->workers);
    s->window = policy->window != 0 ? policy->window : SCHED_WINDOW_DEFAULT;
    sched_seed(s, 1);
    if (policy->state_size > 0) {
        s->pstate = calloc(1, policy->state_size);
        if (s->pstate == NULL) {
            return -1;
        }
    }
    if (policy->init != NULL) {
        policy->init(s);
    }
    return 0;
}

/*
 * Switches to <policy> (SIGHUP), whose way of accepting is the old one's
 * (the caller checks: from the master's accepting to the workers' own
 * is a new master's work), with <window> unanswered handoffs a worker
 * (0: the policy's default). The workers in the rotation join the new
 * policy as if they had just come up; what they were handed stays
 * theirs. Returns 0, or -1 (ENOMEM) with the old policy kept.
 */
int
sched_set_policy(struct sched *s, const struct sched_policy *policy,
                 unsigned window)
{
    struct sched_worker *w;
    void *st = NULL;

    if (policy->state_size > 0
        && (st = calloc(1, policy->state_size)) == NULL) {
        return -1;
    }
    TAILQ_FOREACH(w, &s->workers, link) {
        s->policy->worker_down(s, w);
    }
    free(s->pstate);
    s->pstate = st;
    s->policy = policy;
    s->window = window != 0           ? window
                : policy->window != 0 ? policy->window
                                      : SCHED_WINDOW_DEFAULT;
    if (policy->init != NULL) {
        policy->init(s);
    }
    TAILQ_FOREACH(w, &s->workers, link) {
        (void) policy->worker_up(s, w);
    }
    sched_dispatch(s);
    return 0;
}

void
sched_fini(struct sched *s)
{
    free(s->pstate);
    s->pstate = NULL;
}

static void
sched_emit(struct sched *s, enum sched_event ev, const struct sched_conn *c,
           const struct sched_worker *w)
{
    if (s->sink.event != NULL) {
        s->sink.event(s->sink.ctx, ev, c, w);
    }
}

/* Hands the head of the queue out for as long as the policy finds takers. */
static void
sched_dispatch(struct sched *s)
{
    struct sched_conn *c;

    while ((c = TAILQ_FIRST(&s->queue)) != NULL) {
        struct sched_worker *w = s->policy->pick(s, c);

        if (w == NULL) {
            break;
        }
        TAILQ_REMOVE(&s->queue, c, link);
        s->nqueued--;
        c->worker = w;
        TAILQ_INSERT_TAIL(&w->inflight, c, link);
        w->ninflight++;
        w->handed++;
        s->handoffs++;
        sched_emit(s, SCHED_EV_HANDOFF, c, w);
        s->sink.send(s->sink.ctx, c, w);
    }
}

/*
 * Dispatches, then reports <w> free if the policy said so and the dispatch
 * did not hand it a connection at once: as in Node's handoff(), a worker
 * that gets the next queued connection never shows in the free list.
 */
static void
sched_dispatch_after(struct sched *s, struct sched_worker *w, bool freed)
{
    uint64_t handed = w->handed;

    sched_dispatch(s);
    if (freed && w->handed == handed && w->up) {
        sched_emit(s, SCHED_EV_FREE, NULL, w);
    }
}

void
sched_worker_init(struct sched_worker *w, uint32_t id)
{
    memset(w, 0, sizeof(*w));
    w->id = id;
    TAILQ_INIT(&w->inflight);
}

void
sched_worker_up(struct sched *s, struct sched_worker *w)
{
    bool freed;

    if (w->up) {
        return;
    }
    w->up = true;
    TAILQ_INSERT_TAIL(&s->workers, w, link);
    s->nworkers++;
    sched_emit(s, SCHED_EV_UP, NULL, w);
    freed = s->policy->worker_up(s, w);
    sched_dispatch_after(s, w, freed);
}

void
sched_worker_leave(struct sched *s, struct sched_worker *w)
{
    if (!w->up) {
        return;
    }
    s->policy->worker_down(s, w);
    TAILQ_REMOVE(&s->workers, w, link);
    s->nworkers--;
    w->up = false;
    if (w->full) {
        w->full = false;
        s->nfull--;
    }
    sched_emit(s, SCHED_EV_DOWN, NULL, w);
}

void
sched_worker_gone(struct sched *s, struct sched_worker *w)
{
    struct sched_conn *c;

    sched_worker_leave(s, w);
    /* Back to the head in their original order: they have waited longest. */
    while ((c = TAILQ_LAST(&w->inflight, sched_conn_list)) != NULL) {
        TAILQ_REMOVE(&w->inflight, c, link);
        w->ninflight--;
        c->worker = NULL;
        TAILQ_INSERT_HEAD(&s->queue, c, link);
        s->nqueued++;
        s->reclaims++;
        sched_emit(s, SCHED_EV_RECLAIM, c, w);
    }
    sched_dispatch(s);
}

void
sched_conn_init(struct sched_conn *c, uint64_t id, uint32_t addr_hash)
{
    memset(c, 0, sizeof(*c));
    c->id = id;
    c->addr_hash = addr_hash;
}

void
sched_conn_arrive(struct sched *s, struct sched_conn *c)
{
    c->worker = NULL;
    TAILQ_INSERT_TAIL(&s->queue, c, link);
    s->nqueued++;
    sched_emit(s, SCHED_EV_ARRIVE, c, NULL);
    sched_dispatch(s);
}

int
sched_ack(struct sched *s, struct sched_worker *w, uint64_t conn_id,
          enum sched_answer answer)
{
    struct sched_conn *c;
    bool freed = false;

    /* Acknowledgements come in handoff order, so this is the head. */
    TAILQ_FOREACH(c, &w->inflight, link) {
        if (c->id == conn_id) {
            break;
        }
    }
    if (c == NULL) {
        return -1;
    }
    TAILQ_REMOVE(&w->inflight, c, link);
    w->ninflight--;
    c->worker = NULL;
    if (answer == SCHED_ACCEPTED) {
        s->acks++;
        w->accepted++;
        sched_emit(s, SCHED_EV_ACCEPTED, c, w);
        s->sink.release(s->sink.ctx, c);
    } else {
        s->refusals++;
        TAILQ_INSERT_TAIL(&s->queue, c, link);
        s->nqueued++;
        sched_emit(s, SCHED_EV_REFUSED, c, w);
    }
    if (w->up && answer == SCHED_REFUSED_FULL) {
        /* Node hands it the next connection at once and the two ping-pong
         * until it has room (node-cluster.md §3). Here its answer takes
         * effect at its next load report, which follows any change. */
        if (!w->full) {
            w->full = true;
            s->nfull++;
        }
        sched_emit(s, SCHED_EV_PARKED, NULL, w);
    } else if (w->up) {
        freed = s->policy->answered(s, w, answer == SCHED_ACCEPTED);
    }
    sched_dispatch_after(s, w, freed);
    return 0;
}

void
sched_load(struct sched *s, struct sched_worker *w,
           const struct chan_load *load)
{
    bool freed = false;

    w->load = *load;
    /* Every ACK the worker sent before this report has been read (the
     * channel is ordered), and the report counts those connections. */
    w->accepted_at_report = w->accepted;
    if (!w->up) {
        return;
    }
    if (w->full) {
        w->full = false;
        s->nfull--;
        freed = s->policy->answered(s, w, false);
    }
    if (s->policy->load != NULL) {
        s->policy->load(s, w);
    }
    sched_dispatch_after(s, w, freed);
}

void
sched_drop_queue(struct sched *s, void (*fn)(void *, struct sched_conn *),
                 void *arg)
{
    struct sched_conn *c;

    while ((c = TAILQ_FIRST(&s->queue)) != NULL) {
        TAILQ_REMOVE(&s->queue, c, link);
        s->nqueued--;
        fn(arg, c);
    }
}

size_t
sched_describe(const struct sched *s, char *buf, size_t len)
{
    size_t n = 0;

    if (len == 0) {
        return 0;
    }
    buf[0] = '\0';
    if (s->policy->describe != NULL) {
        n = s->policy->describe(s, buf, len);
    }
    return n;
}

bool
sched_can_take(const struct sched *s, const struct sched_worker *w)
{
    return w->up && !w->full && w->ninflight < s->window;
}

uint64_t
sched_load_of(const struct sched_worker *w)
{
    return (uint64_t) w->load.open_conns + (w->accepted - w->accepted_at_report)
           + w->ninflight;
}

int
sched_load_cmp(const struct sched_worker *a, const struct sched_worker *b)
{
    uint64_t la = sched_load_of(a), lb = sched_load_of(b);

    if (la != lb) {
        return la < lb ? -1 : 1;
    }
    if (a->load.in_flight != b->load.in_flight) {
        return a->load.in_flight < b->load.in_flight ? -1 : 1;
    }
    return 0;
}

void
sched_note_load(struct sched_worker *w, uint32_t open_conns, uint32_t in_flight)
{
    w->load.open_conns = open_conns;
    w->load.in_flight = in_flight;
    w->accepted_at_report = w->accepted;
}

void
sched_seed(struct sched *s, uint64_t seed)
{
    s->rng = seed != 0 ? seed : 0x9e3779b97f4a7c15ULL;
}

uint64_t
sched_random(struct sched *s)
{
    /* xorshift64*: plenty for spreading connections, and reproducible. */
    s->rng ^= s->rng >> 12;
    s->rng ^= s->rng << 25;
    s->rng ^= s->rng >> 27;
    return s->rng * 0x2545f4914f6cdd1dULL;
}
