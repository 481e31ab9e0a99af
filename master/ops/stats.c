/*
 * stats.c: the master's figures, taken once into a snapshot
 * (stats_take()) and rendered from it, as JSON (/stats, handoffctl stats)
 * and in Prometheus's text exposition format (/metrics): both show the
 * same figures, computed once.
 *
 * Totals never go backwards across worker restarts: what an exited worker
 * served is kept in the fleet (and per slot), and added to what the live
 * workers report.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "accept/acceptor.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fdutil.h"
#include "fleet/fleet-t.h"
#include "fleet/link.h"
#include "fleet/rehand.h"
#include "json.h"
#include "ops/history.h"
#include "ops/ops-t.h"
#include "ops/stats.h"
#include "sched/policy.h"
#include "version.h"

/* The kernel's accept queue on a listening socket (TCP_INFO on a
 * listening socket: tcpi_unacked is the queue, tcpi_sacked its limit):
 * the master's, else (reuseport) the first slot's. */
static void
stats_accept_queue(const struct listener *l, unsigned *len, unsigned *max)
{
    struct tcp_info ti;
    socklen_t tl = sizeof(ti);
    int fd = l->fd != -1 ? l->fd : l->slot_fd[0];

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

/* <w>'s figures from its link, if its kind reports them. */
static bool
stats_load(const struct mworker *w, struct chan_load *l)
{
    memset(l, 0, sizeof(*l));
    return w->link->load != NULL && w->link->load(w, l);
}

/* The master's own figures and the totals. */
static void
stats_take_master(struct stats_snapshot *s, const struct ops_env *env)
{
    const struct fleet *fl = env->fleet;
    const struct sched *sc = env->sched;
    const struct mworker *w;

    s->pid = (long) getpid();
    s->uptime_s = ev_now(env->loop) - env->started;
    s->policy = env->opt->policy->name;
    s->accepted = env->acc->accepted;
    s->queued = sc->nqueued;
    s->handoffs = sc->handoffs;
    s->acks = sc->acks;
    s->refusals = sc->refusals;
    s->reclaims = sc->reclaims;
    s->paused = acceptor_paused(env->acc);
    s->accepting = env->lis->nopen > 0 && s->paused == NULL;
    s->stopping = fl->stopping;
    s->worker_exits = fl->exits;
    s->nslots = fl->nslots;
    s->workers_ready = sc->nworkers;
    s->reports = fl->reports;
    s->served_total = fl->served_gone;
    s->handed_total = fl->handed_gone;
    s->counted = fl->stats_gone;
    s->rate = history_rate();
    s->rehand = env->opt->rehand;
    s->rehanded_crash = fl->rehanded_crash;
    s->rehanded_returned = fl->rehanded_returned;
    s->rehand_busy_closed = fl->rehand_busy_closed;
    s->rehanded_upgrade = fl->rehanded_upgrade;
    s->rehand_kept = 0;
    TAILQ_FOREACH(w, &fl->all, all_link) {
        s->rehand_kept += rehand_kept(w);
    }
    memcpy(s->restarts, fl->restarts, sizeof(s->restarts));
    s->nworkers = 0;
    TAILQ_FOREACH(w, &fl->all, all_link) {
        s->served_total += w->sw.load.served;
        s->handed_total += w->sw.handed;
        chan_stats_add(&s->counted, &w->stats);
        s->nworkers++;
    }
}

/* The listening addresses, with what came in on each; the accept
 * queues' total. */
static void
stats_take_listeners(struct stats_snapshot *s, const struct ops_env *env)
{
    unsigned i, k;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        const struct listener *li = &env->lis->l[i];
        struct stats_listener *o = &s->listeners[s->nlisteners];

        if (!li->open) {
            continue;
        }
        s->nlisteners++;
        o->index = i;
        memcpy(o->name, li->name, sizeof(o->name));
        memcpy(o->address, li->address, sizeof(o->address));
        o->tls = li->tls;
        o->accepted = li->accepted;
        stats_accept_queue(li, &o->queue, &o->queue_max);
        s->accept_queue += o->queue;
        s->accept_queue_max += o->queue_max;
        for (k = 0; k < CHAN_STATUS_CLASSES; k++) {
            o->requests[k] = s->counted.requests[i][k] - li->base[k];
        }
    }
}

/* The master's own process: CPU, memory, descriptors, as Prometheus's
 * client libraries report theirs. */
static void
stats_take_process(struct stats_process *p, const struct ops_env *env)
{
    struct rusage ru;
    struct rlimit rl;
    unsigned long long size = 0, resident = 0;
    FILE *f;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        p->cpu_s = (double) ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
                   + (double) ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    }
    f = fopen("/proc/self/statm", "re");
    if (f != NULL) {
        if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
            p->vsize_bytes = size * (unsigned long long) sysconf(_SC_PAGESIZE);
            p->rss_bytes =
                resident * (unsigned long long) sysconf(_SC_PAGESIZE);
        }
        fclose(f);
    }
    p->open_fds = fd_count_open();
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        p->max_fds = (uint64_t) rl.rlim_cur;
    }
    p->start_time = env->started;
}

static void
stats_take_workers(struct stats_snapshot *s, const struct fleet *fl)
{
    const struct mworker *w;
    ev_tstamp now = ev_now(fl->loop);
    size_t i = 0;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        struct stats_worker *o = &s->workers[i++];

        o->id = w->sw.id;
        o->pid = (long) w->pid;
        o->kind = w->link->kind;
        o->slot = w->slot != NULL ? (int) w->slot->index : -1;
        o->state = stats_state(w);
        o->reports = stats_load(w, &o->load);
        o->handed = w->sw.handed;
        o->unanswered = w->sw.ninflight;
        o->restarts = w->slot != NULL ? w->slot->restarts : 0;
        o->rate = w->rate;
        o->uptime_s = now - w->started;
    }
}

/* A slot's totals: its workers past and present; its current worker. */
static void
stats_take_slots(struct stats_snapshot *s, const struct fleet *fl)
{
    unsigned i;

    for (i = 0; i < fl->nslots; i++) {
        const struct slot *sl = fl->slots[i];
        struct stats_slot *o = &s->slots[i];

        o->served = sl->served_before;
        o->handed = sl->handed_before;
        if (sl->w != NULL) {
            o->served += sl->w->sw.load.served;
            o->handed += sl->w->sw.handed;
        }
        if (sl->old != NULL) {
            o->served += sl->old->sw.load.served;
            o->handed += sl->old->sw.handed;
        }
        o->restarts = sl->restarts;
        o->has_worker = sl->w != NULL;
        o->reports = o->has_worker && stats_load(sl->w, &o->load);
        o->pid = o->has_worker ? (long) sl->w->pid : 0;
    }
}

/* Fills <s> from the master as it is now; 0, or -1 on ENOMEM. */
int
stats_take(struct stats_snapshot *s, const struct ops_env *env)
{
    memset(s, 0, sizeof(*s));
    stats_take_master(s, env);
    s->workers = calloc(s->nworkers + 1, sizeof(*s->workers));
    s->slots = calloc(s->nslots + 1, sizeof(*s->slots));
    if (s->workers == NULL || s->slots == NULL) {
        stats_release(s);
        return -1;
    }
    stats_take_workers(s, env->fleet);
    stats_take_slots(s, env->fleet);
    stats_take_listeners(s, env);
    stats_take_process(&s->proc, env);
    return 0;
}

void
stats_release(struct stats_snapshot *s)
{
    free(s->workers);
    free(s->slots);
    s->workers = NULL;
    s->slots = NULL;
}

static const char *const stats_causes[RESTART_CAUSES] = {
    [RESTART_CRASH] = "crash",
    [RESTART_RECYCLE] = "recycle",
    [RESTART_WATCHDOG] = "watchdog",
    [RESTART_RELOAD] = "reload",
};

static const uint64_t stats_bounds_us[CHAN_LATENCY_BOUNDS] = {
    CHAN_LATENCY_BOUNDS_US};

/* {"1xx":n,...,"5xx":n} */
static void
stats_json_classes(const uint64_t *n, struct sbuf *b)
{
    unsigned i;

    for (i = 0; i < CHAN_STATUS_CLASSES; i++) {
        sbuf_printf(b, "%s\"%uxx\":%llu", i ? "," : "{", i + 1,
                    (unsigned long long) n[i]);
    }
    sbuf_printf(b, "}");
}

/* What the workers counted: responses by class, bytes, latency. */
static void
stats_json_counted(const struct stats_snapshot *s, struct sbuf *b)
{
    uint64_t classes[CHAN_STATUS_CLASSES] = {0};
    size_t i, k;

    if (!s->reports) {
        sbuf_printf(b, "\"responses\":null,\"bytes_in\":null,"
                       "\"bytes_out\":null,\"latency\":null");
        return;
    }
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        for (k = 0; k < CHAN_STATUS_CLASSES; k++) {
            classes[k] += s->counted.requests[i][k];
        }
    }
    sbuf_printf(b, "\"responses\":");
    stats_json_classes(classes, b);
    sbuf_printf(b,
                ",\"bytes_in\":%llu,\"bytes_out\":%llu,"
                "\"latency\":{\"sum_ms\":%.3f,\"bounds_ms\":[",
                (unsigned long long) s->counted.bytes_in,
                (unsigned long long) s->counted.bytes_out,
                (double) s->counted.latency_sum_us / 1000.);
    for (i = 0; i < CHAN_LATENCY_BOUNDS; i++) {
        sbuf_printf(b, "%s%g", i ? "," : "", (double) stats_bounds_us[i] / 1e3);
    }
    sbuf_printf(b, "],\"counts\":[");
    for (i = 0; i < CHAN_LATENCY_BUCKETS; i++) {
        sbuf_printf(b, "%s%llu", i ? "," : "",
                    (unsigned long long) s->counted.latency[i]);
    }
    sbuf_printf(b, "]}");
}

/* "restarts":{...},"listeners":[...] */
static void
stats_json_restarts_listeners(const struct stats_snapshot *s, struct sbuf *b)
{
    char name[2 * sizeof(s->listeners[0].name) + 8];
    size_t i, pos;

    sbuf_printf(b, "\"restarts\":{");
    for (i = 0; i < RESTART_CAUSES; i++) {
        sbuf_printf(b, "%s\"%s\":%llu", i ? "," : "", stats_causes[i],
                    (unsigned long long) s->restarts[i]);
    }
    sbuf_printf(b, "},\"listeners\":[");
    for (i = 0; i < s->nlisteners; i++) {
        const struct stats_listener *l = &s->listeners[i];

        pos = 0;
        if (!json_put_string(name, sizeof(name) - 1, &pos, l->name,
                             strlen(l->name))) {
            pos = 0;
            name[pos++] = '"';
            name[pos++] = '"';
        }
        name[pos] = '\0';
        sbuf_printf(b,
                    "%s{\"index\":%u,\"name\":%s,\"address\":\"%s\","
                    "\"tls\":%s,\"accepted\":%llu,\"accept_queue\":%u,"
                    "\"accept_queue_max\":%u,\"responses\":",
                    i ? "," : "", l->index, name, l->address,
                    l->tls ? "true" : "false", (unsigned long long) l->accepted,
                    l->queue, l->queue_max);
        if (s->reports) {
            stats_json_classes(l->requests, b);
        } else {
            sbuf_printf(b, "null");
        }
        sbuf_printf(b, "}");
    }
    sbuf_printf(b, "],");
}

static void
stats_json_worker(const struct stats_worker *w, bool first, struct sbuf *b)
{
    sbuf_printf(b,
                "%s{\"id\":%u,\"pid\":%ld,\"kind\":\"%s\",\"slot\":%d,"
                "\"state\":\"%s\",",
                first ? "" : ",", w->id, w->pid, w->kind, w->slot, w->state);
    if (!w->reports) {
        sbuf_printf(b, "\"open_connections\":null,"
                       "\"requests_in_flight\":null,"
                       "\"requests_served\":null,\"loop_lag_ms\":null,"
                       "\"rss_kib\":null,");
    } else {
        sbuf_printf(b,
                    "\"open_connections\":%u,\"requests_in_flight\":%u,"
                    "\"requests_served\":%llu,\"loop_lag_ms\":%.3f,"
                    "\"rss_kib\":%u,",
                    w->load.open_conns, w->load.in_flight,
                    (unsigned long long) w->load.served, w->load.lag_us / 1000.,
                    w->load.rss_kib);
    }
    if (w->reports) {
        sbuf_printf(b, "\"requests_per_s\":%.1f,", w->rate);
    } else {
        sbuf_printf(b, "\"requests_per_s\":null,");
    }
    sbuf_printf(b,
                "\"connections_handed\":%llu,\"unanswered_handoffs\":%u,"
                "\"restarts\":%u,\"uptime_s\":%.1f}",
                (unsigned long long) w->handed, w->unanswered, w->restarts,
                w->uptime_s);
}

void
stats_json(const struct stats_snapshot *s, struct sbuf *b)
{
    size_t i;

    sbuf_printf(
        b,
        "{\"version\":\"%s\",\"pid\":%ld,\"uptime_s\":%.1f,"
        "\"policy\":\"%s\",\"master\":{\"accepted\":%llu,"
        "\"queued\":%zu,\"handoffs\":%llu,\"acknowledged\":%llu,"
        "\"refusals\":%llu,\"reclaimed\":%llu,"
        "\"redistributions\":%llu,\"accept_queue\":%u,"
        "\"accept_queue_max\":%u,\"accepting\":%s,"
        "\"accept_paused\":%s%s%s,\"stopping\":%s,"
        "\"worker_exits\":%llu,\"workers\":%u,"
        "\"workers_ready\":%zu,",
        HANDOFF_VERSION, s->pid, s->uptime_s, s->policy,
        (unsigned long long) s->accepted, s->queued,
        (unsigned long long) s->handoffs, (unsigned long long) s->acks,
        (unsigned long long) s->refusals, (unsigned long long) s->reclaims,
        (unsigned long long) (s->refusals + s->reclaims), s->accept_queue,
        s->accept_queue_max, s->accepting ? "true" : "false",
        s->paused != NULL ? "\"" : "", s->paused != NULL ? s->paused : "null",
        s->paused != NULL ? "\"" : "", s->stopping ? "true" : "false",
        (unsigned long long) s->worker_exits, s->nslots, s->workers_ready);
    sbuf_printf(b,
                "\"rehand\":%s,\"rehanded\":%llu,\"rehanded_crash\":%llu,"
                "\"rehanded_returned\":%llu,\"rehanded_upgrade\":%llu,"
                "\"rehand_busy_closed\":%llu,"
                "\"rehand_kept\":%llu},",
                s->rehand ? "true" : "false",
                (unsigned long long) (s->rehanded_crash + s->rehanded_returned),
                (unsigned long long) s->rehanded_crash,
                (unsigned long long) s->rehanded_returned,
                (unsigned long long) s->rehanded_upgrade,
                (unsigned long long) s->rehand_busy_closed,
                (unsigned long long) s->rehand_kept);
    stats_json_restarts_listeners(s, b);
    /* Node workers (--node) send no load reports: what only a report
     * tells is unknown for them, and says so (null), rather than 0. */
    if (!s->reports) {
        sbuf_printf(b,
                    "\"totals\":{\"requests_served\":null,"
                    "\"connections_handed\":%llu,",
                    (unsigned long long) s->handed_total);
    } else {
        sbuf_printf(b,
                    "\"totals\":{\"requests_served\":%llu,"
                    "\"connections_handed\":%llu,",
                    (unsigned long long) s->served_total,
                    (unsigned long long) s->handed_total);
    }
    stats_json_counted(s, b);
    if (s->reports) {
        sbuf_printf(b, ",\"requests_per_s\":%.1f", s->rate);
    } else {
        sbuf_printf(b, ",\"requests_per_s\":null");
    }
    sbuf_printf(b, "},\"workers\":[");
    for (i = 0; i < s->nworkers; i++) {
        stats_json_worker(&s->workers[i], i == 0, b);
    }
    sbuf_printf(b, "]}\n");
}

static void
stats_metric(struct sbuf *b, const char *name, const char *type,
             const char *help)
{
    sbuf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
stats_counter(struct sbuf *b, const char *name, const char *help, uint64_t v)
{
    stats_metric(b, name, "counter", help);
    sbuf_printf(b, "%s %llu\n", name, (unsigned long long) v);
}

/* The master's series. */
static void
stats_prometheus_master(const struct stats_snapshot *s, struct sbuf *b)
{
#define GAUGE(n, h, fmt, v)                                                    \
    do {                                                                       \
        stats_metric(b, n, "gauge", h);                                        \
        sbuf_printf(b, "%s " fmt "\n", n, v);                                  \
    } while (0)
    stats_counter(b, "handoff_connections_accepted_total",
                  "Connections the master accepted.", s->accepted);
    stats_counter(
        b, "handoff_handoffs_total",
        "Connections handed to a worker (a refused one counts again).",
        s->handoffs);
    stats_counter(b, "handoff_refusals_total",
                  "Handoffs a worker refused; the connection went to another.",
                  s->refusals);
    stats_counter(b, "handoff_reclaims_total",
                  "Handoffs to a worker that died first, handed to another.",
                  s->reclaims);
    stats_counter(b, "handoff_rehanded_total",
                  "Idle connections whose worker went away, handed to another.",
                  s->rehanded_crash + s->rehanded_returned);
    if (s->reports) { /* Node workers do not report it */
        stats_counter(b, "handoff_requests_total",
                      "Requests served by all workers, past and present.",
                      s->served_total);
    }
    stats_counter(b, "handoff_worker_exits_total",
                  "Worker processes that exited.", s->worker_exits);
    GAUGE("handoff_queue_length", "Accepted connections waiting for a worker.",
          "%zu", s->queued);
    GAUGE("handoff_accept_queue_length",
          "Connections in the kernel's accept queue of the listener.", "%u",
          s->accept_queue);
    GAUGE("handoff_workers", "Worker slots.", "%u", s->nslots);
    GAUGE("handoff_workers_ready",
          "Workers ready and in the rotation; at 0 the master does not "
          "accept.",
          "%zu", s->workers_ready);
    GAUGE("handoff_accepting",
          "1 while the master accepts connections, 0 while accepting is "
          "paused (no worker ready, every worker full, the queue full, an "
          "accept error).",
          "%d", s->accepting);
    GAUGE("handoff_uptime_seconds", "Seconds since the master started.", "%.1f",
          s->uptime_s);
#undef GAUGE
}

/* Each slot's counters. */
static void
stats_prometheus_slot_totals(const struct stats_snapshot *s, struct sbuf *b)
{
    unsigned i;

    if (s->reports) { /* Node workers do not report it */
        stats_metric(
            b, "handoff_slot_requests_total", "counter",
            "Requests served by the workers of a slot, past and present.");
        for (i = 0; i < s->nslots; i++) {
            sbuf_printf(b, "handoff_slot_requests_total{slot=\"%u\"} %llu\n", i,
                        (unsigned long long) s->slots[i].served);
        }
    }
    stats_metric(b, "handoff_slot_connections_handed_total", "counter",
                 "Connections handed to the workers of a slot.");
    for (i = 0; i < s->nslots; i++) {
        sbuf_printf(b,
                    "handoff_slot_connections_handed_total{slot=\"%u\"} %llu\n",
                    i, (unsigned long long) s->slots[i].handed);
    }
    stats_metric(b, "handoff_slot_restarts_total", "counter",
                 "Times a slot's worker exited and was restarted.");
    for (i = 0; i < s->nslots; i++) {
        sbuf_printf(b, "handoff_slot_restarts_total{slot=\"%u\"} %u\n", i,
                    s->slots[i].restarts);
    }
}

/* Each slot's current worker. */
static void
stats_prometheus_slot_gauges(const struct stats_snapshot *s, struct sbuf *b)
{
    unsigned i;

/* <reported>: the figure comes from load reports, which Node workers
 * (--node) do not send; their series are left out. */
#define SLOT_GAUGE(n, h, reported, fmt, expr)                                  \
    do {                                                                       \
        stats_metric(b, n, "gauge", h);                                        \
        for (i = 0; i < s->nslots; i++) {                                      \
            const struct stats_slot *sl = &s->slots[i];                        \
                                                                               \
            if (sl->has_worker && (sl->reports || !reported)) {                \
                sbuf_printf(b, "%s{slot=\"%u\"} " fmt "\n", n, i, expr);       \
            }                                                                  \
        }                                                                      \
    } while (0)
    SLOT_GAUGE("handoff_slot_open_connections",
               "Connections the slot's worker holds.", true, "%u",
               sl->load.open_conns);
    SLOT_GAUGE("handoff_slot_requests_in_flight",
               "Requests the slot's worker is answering.", true, "%u",
               sl->load.in_flight);
    SLOT_GAUGE("handoff_slot_loop_lag_seconds",
               "How late the slot's worker's heartbeat timer last fired.", true,
               "%.6f", sl->load.lag_us / 1e6);
    SLOT_GAUGE("handoff_slot_rss_bytes",
               "Resident memory of the slot's worker.", true, "%llu",
               (unsigned long long) sl->load.rss_kib * 1024);
    SLOT_GAUGE("handoff_slot_worker_pid", "The slot's worker's pid.", false,
               "%ld", sl->pid);
#undef SLOT_GAUGE
}

/* What the workers counted: responses, latency, bytes. Node workers
 * report none of it: left out. */
static void
stats_prometheus_http(const struct stats_snapshot *s, struct sbuf *b)
{
    const struct chan_stats *c = &s->counted;
    uint64_t cum = 0;
    size_t i, k;

    if (!s->reports) {
        return;
    }
    stats_metric(b, "handoff_http_requests_total", "counter",
                 "Responses the workers sent, by listener and status class.");
    for (i = 0; i < s->nlisteners; i++) {
        for (k = 0; k < CHAN_STATUS_CLASSES; k++) {
            sbuf_printf(b,
                        "handoff_http_requests_total{listener=\"%s\","
                        "code=\"%zuxx\"} %llu\n",
                        s->listeners[i].address, k + 1,
                        (unsigned long long) s->listeners[i].requests[k]);
        }
    }
    stats_metric(b, "handoff_http_request_duration_seconds", "histogram",
                 "Time from a request's first byte to its response being "
                 "queued, measured in the workers.");
    for (i = 0; i < CHAN_LATENCY_BUCKETS; i++) {
        cum += c->latency[i];
        if (i < CHAN_LATENCY_BOUNDS) {
            sbuf_printf(b,
                        "handoff_http_request_duration_seconds_bucket"
                        "{le=\"%g\"} %llu\n",
                        (double) stats_bounds_us[i] / 1e6,
                        (unsigned long long) cum);
        } else {
            sbuf_printf(b,
                        "handoff_http_request_duration_seconds_bucket"
                        "{le=\"+Inf\"} %llu\n",
                        (unsigned long long) cum);
        }
    }
    sbuf_printf(b,
                "handoff_http_request_duration_seconds_sum %.6f\n"
                "handoff_http_request_duration_seconds_count %llu\n",
                (double) c->latency_sum_us / 1e6, (unsigned long long) cum);
    stats_counter(b, "handoff_http_received_bytes_total",
                  "Bytes the workers read from clients.", c->bytes_in);
    stats_counter(b, "handoff_http_sent_bytes_total",
                  "Bytes the workers wrote to clients, files included.",
                  c->bytes_out);
}

/* Restarts by cause, the build, and the master's own process. */
static void
stats_prometheus_process(const struct stats_snapshot *s, struct sbuf *b)
{
    const struct stats_process *p = &s->proc;
    size_t i;

    stats_metric(b, "handoff_worker_restarts_total", "counter",
                 "Workers replaced, by cause: crash (exited unasked), "
                 "recycle (--max-requests, --max-rss), watchdog "
                 "(--worker-timeout), reload (rolling restart).");
    for (i = 0; i < RESTART_CAUSES; i++) {
        sbuf_printf(b, "handoff_worker_restarts_total{cause=\"%s\"} %llu\n",
                    stats_causes[i], (unsigned long long) s->restarts[i]);
    }
    stats_metric(b, "handoff_build_info", "gauge",
                 "Always 1; the version of the running master.");
    sbuf_printf(b, "handoff_build_info{version=\"%s\"} 1\n", HANDOFF_VERSION);
    stats_metric(b, "process_cpu_seconds_total", "counter",
                 "User and system CPU time of the master.");
    sbuf_printf(b, "process_cpu_seconds_total %.3f\n", p->cpu_s);
    stats_metric(b, "process_resident_memory_bytes", "gauge",
                 "Resident memory of the master.");
    sbuf_printf(b, "process_resident_memory_bytes %llu\n",
                (unsigned long long) p->rss_bytes);
    stats_metric(b, "process_virtual_memory_bytes", "gauge",
                 "Virtual memory of the master.");
    sbuf_printf(b, "process_virtual_memory_bytes %llu\n",
                (unsigned long long) p->vsize_bytes);
    stats_metric(b, "process_open_fds", "gauge",
                 "Descriptors the master holds open.");
    sbuf_printf(b, "process_open_fds %d\n", p->open_fds);
    stats_metric(b, "process_max_fds", "gauge",
                 "The master's descriptor limit.");
    sbuf_printf(b, "process_max_fds %llu\n", (unsigned long long) p->max_fds);
    stats_metric(b, "process_start_time_seconds", "gauge",
                 "When the master started, in seconds since the epoch.");
    sbuf_printf(b, "process_start_time_seconds %.3f\n", p->start_time);
}

void
stats_prometheus(const struct stats_snapshot *s, struct sbuf *b)
{
    stats_prometheus_master(s, b);
    stats_prometheus_http(s, b);
    stats_prometheus_process(s, b);
    stats_prometheus_slot_totals(s, b);
    stats_prometheus_slot_gauges(s, b);
}
