/*
 * stats.c: the master's figures, as JSON (/stats, handoffctl stats) and
 * in Prometheus's text exposition format (/metrics).
 *
 * Totals never go backwards across worker restarts: what an exited worker
 * served is kept in the master (and per slot), and added to what the live
 * workers report.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet/link.h"
#include "master.h"
#include "sched/policy.h"

/* The kernel's accept queue on the listener (TCP_INFO on a listening
 * socket: tcpi_unacked is the queue, tcpi_sacked its limit). */
static void
stats_accept_queue(const struct master *m, unsigned *len, unsigned *max)
{
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    int fd = listeners_any_fd(&m->lis);

    *len = *max = 0;
    if (fd != -1 && getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl) == 0) {
        *len = ti.tcpi_unacked;
        *max = ti.tcpi_sacked;
    }
}

static const char *
stats_state(const struct mworker *w)
{
    if (w->retiring || w->shutdown_sent) {
        return "draining";
    }
    if (!w->ready) {
        return "starting";
    }
    return w->sw.full ? "full" : "ready";
}

static uint64_t
stats_served_total(const struct master *m)
{
    const struct mworker *w;
    uint64_t n = m->fleet.served_gone;

    TAILQ_FOREACH(w, &m->fleet.all, all_link) {
        n += w->sw.load.served;
    }
    return n;
}

static uint64_t
stats_handed_total(const struct master *m)
{
    const struct mworker *w;
    uint64_t n = m->fleet.handed_gone;

    TAILQ_FOREACH(w, &m->fleet.all, all_link) {
        n += w->sw.handed;
    }
    return n;
}

/* A slot's totals: its workers past and present. */
static void
stats_slot_totals(const struct slot *s, uint64_t *served, uint64_t *handed)
{
    *served = s->served_before;
    *handed = s->handed_before;
    if (s->w != NULL) {
        *served += s->w->sw.load.served;
        *handed += s->w->sw.handed;
    }
    if (s->old != NULL) {
        *served += s->old->sw.load.served;
        *handed += s->old->sw.handed;
    }
}

void
stats_json(const struct master *m, struct sbuf *b)
{
    const struct mworker *w;
    const char *paused = acceptor_paused(&m->acc);
    unsigned qlen, qmax;
    bool first = true;

    stats_accept_queue(m, &qlen, &qmax);
    sbuf_printf(b,
                "{\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%.1f,"
                "\"policy\":\"%s\",\"master\":{\"accepted\":%llu,"
                "\"queued\":%zu,\"handoffs\":%llu,\"acknowledged\":%llu,"
                "\"refusals\":%llu,\"reclaimed\":%llu,"
                "\"redistributions\":%llu,\"accept_queue\":%u,"
                "\"accept_queue_max\":%u,\"accepting\":%s,"
                "\"accept_paused\":%s%s%s,\"stopping\":%s,"
                "\"worker_exits\":%llu,\"workers\":%u,"
                "\"workers_ready\":%zu},",
                HANDOFF_VERSION, (long) getpid(), ev_now(m->loop) - m->started,
                m->opt.policy->name, (unsigned long long) m->acc.accepted,
                m->sched.nqueued, (unsigned long long) m->sched.handoffs,
                (unsigned long long) m->sched.acks,
                (unsigned long long) m->sched.refusals,
                (unsigned long long) m->sched.reclaims,
                (unsigned long long) (m->sched.refusals + m->sched.reclaims),
                qlen, qmax,
                m->lis.fd != -1 && paused == NULL ? "true" : "false",
                paused != NULL ? "\"" : "", paused != NULL ? paused : "null",
                paused != NULL ? "\"" : "", m->stopping ? "true" : "false",
                (unsigned long long) m->fleet.exits, m->fleet.nslots,
                m->sched.nworkers);
    /* Node workers (--node) send no load reports: what only a report
     * tells is unknown for them, and says so (null), rather than 0. */
    if (m->fleet.kind->load == NULL) {
        sbuf_printf(b,
                    "\"totals\":{\"requests_served\":null,"
                    "\"connections_handed\":%llu},\"workers\":[",
                    (unsigned long long) stats_handed_total(m));
    } else {
        sbuf_printf(b,
                    "\"totals\":{\"requests_served\":%llu,"
                    "\"connections_handed\":%llu},\"workers\":[",
                    (unsigned long long) stats_served_total(m),
                    (unsigned long long) stats_handed_total(m));
    }
    TAILQ_FOREACH(w, &m->fleet.all, all_link) {
        const struct chan_load *l = &w->sw.load;

        sbuf_printf(b,
                    "%s{\"id\":%u,\"pid\":%ld,\"kind\":\"%s\",\"slot\":%d,"
                    "\"state\":\"%s\",",
                    first ? "" : ",", w->sw.id, (long) w->pid, w->link->kind,
                    w->slot != NULL ? (int) w->slot->index : -1,
                    stats_state(w));
        if (w->link->load == NULL) {
            sbuf_printf(b, "\"open_connections\":null,"
                           "\"requests_in_flight\":null,"
                           "\"requests_served\":null,\"loop_lag_ms\":null,"
                           "\"rss_kib\":null,");
        } else {
            sbuf_printf(b,
                        "\"open_connections\":%u,\"requests_in_flight\":%u,"
                        "\"requests_served\":%llu,\"loop_lag_ms\":%.3f,"
                        "\"rss_kib\":%u,",
                        l->open_conns, l->in_flight,
                        (unsigned long long) l->served, l->lag_us / 1000.,
                        l->rss_kib);
        }
        sbuf_printf(b,
                    "\"connections_handed\":%llu,\"unanswered_handoffs\":%u,"
                    "\"restarts\":%u}",
                    (unsigned long long) w->sw.handed, w->sw.ninflight,
                    w->slot != NULL ? w->slot->restarts : 0);
        first = false;
    }
    sbuf_printf(b, "]}\n");
}

static void
stats_metric(struct sbuf *b, const char *name, const char *type,
             const char *help)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
stats_prometheus(const struct master *m, struct sbuf *b)
{
    unsigned qlen, qmax, i;

    stats_accept_queue(m, &qlen, &qmax);
#define COUNTER(n, h, v)                                                       \
    do {                                                                       \
        stats_metric(b, n, "counter", h);                                      \
        sbuf_printf(b, "%s %llu\n", n, (unsigned long long) (v));              \
    } while (0)
#define GAUGE(n, h, fmt, v)                                                    \
    do {                                                                       \
        stats_metric(b, n, "gauge", h);                                        \
        sbuf_printf(b, "%s " fmt "\n", n, v);                                  \
    } while (0)
    COUNTER("handoff_connections_accepted_total",
            "Connections the master accepted.", m->acc.accepted);
    COUNTER("handoff_handoffs_total",
            "Connections handed to a worker (a refused one counts again).",
            m->sched.handoffs);
    COUNTER("handoff_refusals_total",
            "Handoffs a worker refused; the connection went to another.",
            m->sched.refusals);
    COUNTER("handoff_reclaims_total",
            "Handoffs to a worker that died first, handed to another.",
            m->sched.reclaims);
    if (m->fleet.kind->load != NULL) { /* Node workers do not report it */
        COUNTER("handoff_requests_total",
                "Requests served by all workers, past and present.",
                stats_served_total(m));
    }
    COUNTER("handoff_worker_exits_total", "Worker processes that exited.",
            m->fleet.exits);
    GAUGE("handoff_queue_length", "Accepted connections waiting for a worker.",
          "%zu", m->sched.nqueued);
    GAUGE("handoff_accept_queue_length",
          "Connections in the kernel's accept queue of the listener.", "%u",
          qlen);
    GAUGE("handoff_workers", "Worker slots.", "%u", m->fleet.nslots);
    GAUGE("handoff_workers_ready",
          "Workers ready and in the rotation; at 0 the master does not "
          "accept.",
          "%zu", m->sched.nworkers);
    GAUGE("handoff_accepting",
          "1 while the master accepts connections, 0 while accepting is "
          "paused (no worker ready, every worker full, the queue full, an "
          "accept error).",
          "%d", m->lis.fd != -1 && acceptor_paused(&m->acc) == NULL);
    GAUGE("handoff_uptime_seconds", "Seconds since the master started.", "%.1f",
          ev_now(m->loop) - m->started);
#undef COUNTER
#undef GAUGE

    if (m->fleet.kind->load != NULL) { /* Node workers do not report it */
        stats_metric(
            b, "handoff_slot_requests_total", "counter",
            "Requests served by the workers of a slot, past and present.");
        for (i = 0; i < m->fleet.nslots; i++) {
            uint64_t served, handed;

            stats_slot_totals(m->fleet.slots[i], &served, &handed);
            sbuf_printf(b, "handoff_slot_requests_total{slot=\"%u\"} %llu\n", i,
                        (unsigned long long) served);
        }
    }
    stats_metric(b, "handoff_slot_connections_handed_total", "counter",
                 "Connections handed to the workers of a slot.");
    for (i = 0; i < m->fleet.nslots; i++) {
        uint64_t served, handed;

        stats_slot_totals(m->fleet.slots[i], &served, &handed);
        sbuf_printf(b,
                    "handoff_slot_connections_handed_total{slot=\"%u\"} %llu\n",
                    i, (unsigned long long) handed);
    }
    stats_metric(b, "handoff_slot_restarts_total", "counter",
                 "Times a slot's worker exited and was restarted.");
    for (i = 0; i < m->fleet.nslots; i++) {
        sbuf_printf(b, "handoff_slot_restarts_total{slot=\"%u\"} %u\n", i,
                    m->fleet.slots[i]->restarts);
    }
/* <reported>: the figure comes from load reports, which Node workers
 * (--node) do not send; their series are left out. */
#define SLOT_GAUGE(n, h, reported, fmt, expr)                                  \
    do {                                                                       \
        stats_metric(b, n, "gauge", h);                                        \
        for (i = 0; i < m->fleet.nslots; i++) {                                \
            const struct mworker *w = m->fleet.slots[i]->w;                    \
                                                                               \
            if (w != NULL && (w->link->load != NULL || !reported)) {           \
                sbuf_printf(b, "%s{slot=\"%u\"} " fmt "\n", n, i, expr);       \
            }                                                                  \
        }                                                                      \
    } while (0)
    SLOT_GAUGE("handoff_slot_open_connections",
               "Connections the slot's worker holds.", true, "%u",
               w->sw.load.open_conns);
    SLOT_GAUGE("handoff_slot_requests_in_flight",
               "Requests the slot's worker is answering.", true, "%u",
               w->sw.load.in_flight);
    SLOT_GAUGE("handoff_slot_loop_lag_seconds",
               "How late the slot's worker's heartbeat timer last fired.", true,
               "%.6f", w->sw.load.lag_us / 1e6);
    SLOT_GAUGE("handoff_slot_rss_bytes",
               "Resident memory of the slot's worker.", true, "%llu",
               (unsigned long long) w->sw.load.rss_kib * 1024);
    SLOT_GAUGE("handoff_slot_worker_pid", "The slot's worker's pid.", false,
               "%ld", (long) w->pid);
#undef SLOT_GAUGE
}
