/*
 * metrics.c: what the application counts of each response it answered,
 * for the master's /metrics: responses by listener and status class, and
 * the request latency histogram (common/chan.h: struct chan_stats). A
 * few increments a response; report.c sends the counters, coalesced with
 * the load reports.
 */
#include "app/app.h"

struct chan_stats app_stats;

/* A response to the request on <c> is queued, with <status>. */
static void
metrics_answered(const struct conn *c, int status)
{
    unsigned cls = (unsigned) status / 100, lis = c->peer.listener;

    if (cls >= 1 && cls <= CHAN_STATUS_CLASSES && lis < CHAN_LISTENERS_MAX) {
        app_stats.requests[lis][cls - 1]++;
    }
    /* A connection that never sent a request (a 408 on it) has no
     * latency to tell. */
    if (c->req.begun > 0) {
        ev_tstamp took = ev_time() - c->req.begun;
        uint64_t us = took > 0 ? (uint64_t) (took * 1e6) : 0;

        app_stats.latency_sum_us += us;
        app_stats.latency[chan_latency_bucket(us)]++;
    }
}

/* The engine's answered(): counted, then logged. */
void
app_answered(const struct conn *c, int status, uint64_t bytes)
{
    metrics_answered(c, status);
    accesslog_write(c, status, bytes);
}
