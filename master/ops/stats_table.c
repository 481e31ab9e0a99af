/*
 * stats_table.c: the snapshot as a table for a person (`handoffctl
 * status`), as `pm2 list` shows an application's processes: a line about
 * the master, then one row per worker: its id, pid, slot, state, uptime,
 * restarts, open connections, requests a second, RSS and loop lag. What
 * a kind of worker does not report (Node's) is a dash. `handoffctl
 * stats` stays the JSON.
 */
#include <stdio.h>

#include "ops/stats.h"

/* "42s", "5m12s", "3h04m", "2d03h". */
static void
stats_duration(double s, char *buf, size_t len)
{
    unsigned long t = s > 0 ? (unsigned long) s : 0;

    if (t < 60) {
        snprintf(buf, len, "%lus", t);
    } else if (t < 3600) {
        snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
    } else if (t < 86400) {
        snprintf(buf, len, "%luh%02lum", t / 3600, t / 60 % 60);
    } else {
        snprintf(buf, len, "%lud%02luh", t / 86400, t / 3600 % 24);
    }
}

static void
stats_table_row(const struct stats_worker *w, struct sbuf *b)
{
    char id[16], slot[16], up[40], conns[16], rate[24], rss[24], lag[24];

    snprintf(id, sizeof(id), "W%u", w->id);
    snprintf(slot, sizeof(slot), w->slot >= 0 ? "%d" : "-", w->slot);
    stats_duration(w->uptime_s, up, sizeof(up));
    if (w->reports) {
        snprintf(conns, sizeof(conns), "%u", w->load.open_conns);
        snprintf(rate, sizeof(rate), "%.1f", w->rate);
        snprintf(rss, sizeof(rss), "%.1f MiB", w->load.rss_kib / 1024.);
        snprintf(lag, sizeof(lag), "%.1f ms", w->load.lag_us / 1000.);
    } else {
        snprintf(conns, sizeof(conns), "-");
        snprintf(rate, sizeof(rate), "-");
        snprintf(rss, sizeof(rss), "-");
        snprintf(lag, sizeof(lag), "-");
    }
    sbuf_printf(b, "%-7s %-8ld %-5s %-9s %-8s %-9u %-6s %-9s %-10s %s\n", id,
                w->pid, slot, w->state, up, w->restarts, conns, rate, rss, lag);
}

void
stats_table(const struct stats_snapshot *s, struct sbuf *b)
{
    char up[40];
    size_t i;

    stats_duration(s->uptime_s, up, sizeof(up));
    sbuf_printf(b, "master %ld, policy %s, up %s, %u worker%s, ", s->pid,
                s->policy, up, s->nslots, s->nslots == 1 ? "" : "s");
    if (s->reports) {
        sbuf_printf(b, "%.1f req/s, ", s->rate);
    }
    sbuf_printf(b, "%s%s%s\n", s->accepting ? "accepting" : "not accepting",
                s->paused != NULL ? ": " : "",
                s->paused != NULL ? s->paused : "");
    for (i = 0; i < s->nlisteners; i++) {
        sbuf_printf(b, "%s%s", i == 0 ? "listening on " : ", ",
                    s->listeners[i].address);
    }
    sbuf_printf(b, "%s", s->nlisteners > 0 ? "\n\n" : "\n");
    sbuf_printf(b, "%-7s %-8s %-5s %-9s %-8s %-9s %-6s %-9s %-10s %s\n",
                "worker", "pid", "slot", "state", "uptime", "restarts", "conns",
                "req/s", "rss", "lag");
    for (i = 0; i < s->nworkers; i++) {
        stats_table_row(&s->workers[i], b);
    }
}
