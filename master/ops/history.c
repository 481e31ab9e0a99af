/*
 * history.c: the master's figures once a second, kept for five minutes:
 * the dashboard draws them as charts (/history) and shows them at its
 * first paint (admin.c embeds them), and each worker's request rate over
 * the last second comes from two samples (mworker.rate, which /stats and
 * `handoffctl status` show). A sample is the totals every worker has
 * reported, past and present (fleet_counted()), so a worker's restart
 * leaves no dip; rates are differences between samples, as Prometheus's
 * rate() does.
 */
#include <string.h>

#include "fleet/fleet-t.h"
#include "fleet/fleet.h"
#include "ops/history.h"
#include "ops/ops-t.h"
#include "sched/sched.h"

#define HISTORY_EVERY_S 1.0

static struct history_sample history_ring[HISTORY_SAMPLES];
static uint64_t history_seq; /* of the latest sample; 0: none yet */
static ev_timer history_w;
static struct ops_env *history_env;

/* Each worker's requests a second since the previous sample. */
static void
history_rates(struct fleet *fl, double dt)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        uint64_t served = w->sw.load.served;

        w->rate = w->sampled && dt > 0 && served >= w->sampled_served
                      ? (double) (served - w->sampled_served) / dt
                      : 0;
        w->sampled_served = served;
        w->sampled = true;
    }
}

static void
history_take(struct ops_env *env)
{
    struct history_sample *s =
        &history_ring[(history_seq + 1) % HISTORY_SAMPLES];
    const struct history_sample *prev =
        history_seq > 0 ? &history_ring[history_seq % HISTORY_SAMPLES] : NULL;
    struct fleet *fl = env->fleet;
    struct chan_stats c;
    const struct mworker *w;
    size_t i, k;

    memset(s, 0, sizeof(*s));
    s->seq = ++history_seq;
    s->t = ev_now(env->loop) - env->started;
    fleet_counted(fl, &c);
    s->served = fl->served_gone;
    TAILQ_FOREACH(w, &fl->all, all_link) {
        s->served += w->sw.load.served;
        s->conns += w->sw.load.open_conns;
    }
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        for (k = 0; k < CHAN_STATUS_CLASSES; k++) {
            s->classes[k] += c.requests[i][k];
        }
    }
    memcpy(s->latency, c.latency, sizeof(s->latency));
    s->bytes_in = c.bytes_in;
    s->bytes_out = c.bytes_out;
    s->queued = (uint32_t) env->sched->nqueued;
    history_rates(fl, prev != NULL ? s->t - prev->t : 0);
}

static void
history_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop;
    (void) t;
    (void) revents;
    history_take(history_env);
}

/* Samples from now on, a first one at once. */
void
history_start(struct ops_env *env)
{
    history_env = env;
    ev_timer_init(&history_w, history_cb, HISTORY_EVERY_S, HISTORY_EVERY_S);
    /* The lowest priority: the service comes first. */
    ev_set_priority(&history_w, EV_MINPRI);
    ev_timer_start(env->loop, &history_w);
    history_take(env);
}

void
history_stop(void)
{
    if (history_env != NULL) {
        ev_timer_stop(history_env->loop, &history_w);
    }
}

static void
history_json_sample(const struct history_sample *s, bool first, struct sbuf *b)
{
    size_t i;

    sbuf_printf(b,
                "%s{\"seq\":%llu,\"t\":%.3f,\"served\":%llu,\"conns\":%u,"
                "\"queued\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu,"
                "\"classes\":[",
                first ? "" : ",", (unsigned long long) s->seq, s->t,
                (unsigned long long) s->served, s->conns, s->queued,
                (unsigned long long) s->bytes_in,
                (unsigned long long) s->bytes_out);
    for (i = 0; i < CHAN_STATUS_CLASSES; i++) {
        sbuf_printf(b, "%s%llu", i ? "," : "",
                    (unsigned long long) s->classes[i]);
    }
    sbuf_printf(b, "],\"latency\":[");
    for (i = 0; i < CHAN_LATENCY_BUCKETS; i++) {
        sbuf_printf(b, "%s%llu", i ? "," : "",
                    (unsigned long long) s->latency[i]);
    }
    sbuf_printf(b, "]}");
}

/* The samples after <since> (a seq; 0: all kept), oldest first, as a
 * JSON array. */
void
history_json(uint64_t since, struct sbuf *b)
{
    uint64_t first =
        history_seq > HISTORY_SAMPLES ? history_seq - HISTORY_SAMPLES + 1 : 1;
    uint64_t seq;

    if (since + 1 > first) {
        first = since + 1;
    }
    sbuf_printf(b, "[");
    for (seq = first; seq <= history_seq; seq++) {
        history_json_sample(&history_ring[seq % HISTORY_SAMPLES], seq == first,
                            b);
    }
    sbuf_printf(b, "]");
}

/* Requests a second between the last two samples (0 before there are). */
double
history_rate(void)
{
    const struct history_sample *a, *b;

    if (history_seq < 2) {
        return 0;
    }
    a = &history_ring[(history_seq - 1) % HISTORY_SAMPLES];
    b = &history_ring[history_seq % HISTORY_SAMPLES];
    return b->t > a->t && b->served >= a->served
               ? (double) (b->served - a->served) / (b->t - a->t)
               : 0;
}
