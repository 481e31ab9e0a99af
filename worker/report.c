/*
 * report.c: load reports to the master. A report goes out when a figure
 * changes, at most every REPORT_MIN_GAP seconds, and at least every
 * second as a heartbeat; the heartbeat also measures event-loop lag (how
 * late its timer fires) and reads the resident set size.
 *
 * With each report go the counters the master's /metrics adds up (bytes,
 * responses by listener and status class, the latency histogram: struct
 * chan_stats), as STATS messages for the triples that changed since the
 * last report, in the same record: coalesced as the reports are.
 */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "app/app.h"
#include "channel.h"
#include "fdutil.h"
#include "http/http.h"
#include "report.h"
#include "worker.h"

#define REPORT_MIN_GAP 0.05
#define HEARTBEAT_S 1.0

static uint32_t report_rss_kib;
static struct chan_stats report_sent; /* as the master last heard them */

static void
report_read_rss(void)
{
    char buf[128];
    unsigned long size, resident;
    ssize_t n;
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        return;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    fd_close(fd);
    if (n <= 0) {
        return;
    }
    buf[n] = '\0';
    if (sscanf(buf, "%lu %lu", &size, &resident) == 2) {
        report_rss_kib =
            (uint32_t) (resident * (unsigned long) sysconf(_SC_PAGESIZE)
                        / 1024);
    }
}

/* The counters that changed since the last report, as STATS. */
static void
report_stats(void)
{
    struct chan_msg msgs[CHAN_STATS_WORDS / CHAN_STATS_PER_MSG];
    size_t i, n;

    app_stats.bytes_in = engine.bytes_in;
    app_stats.bytes_out = engine.bytes_out;
    n = chan_stats_encode(&app_stats, &report_sent, worker.id, msgs);
    for (i = 0; i < n; i++) {
        channel_send(&msgs[i]);
    }
}

static void
report_send(void)
{
    struct chan_msg msg;

    /* A blocked channel gets no pile of reports: this one waits. */
    if (worker.master_gone || ev_is_active(&worker.chan_w)) {
        return;
    }
    chan_msg_init(&msg, CHAN_LOAD, worker.id);
    msg.u.load.open_conns = engine.nconns;
    msg.u.load.in_flight = engine.in_flight;
    msg.u.load.served = engine.served;
    msg.u.load.lag_us = worker.lag_us;
    msg.u.load.rss_kib = report_rss_kib;
    report_stats();
    channel_send(&msg);
    worker.report_dirty = false;
    worker.last_report = ev_now(engine.loop);
}

static void
report_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) loop;
    (void) t;
    (void) revents;
    report_send();
}

static void
report_heartbeat_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    ev_tstamp now = ev_now(loop), late = now - worker.heartbeat_due;

    (void) t;
    (void) revents;
    worker.lag_us = late > 0 ? (uint32_t) (late * 1e6) : 0;
    worker.heartbeat_due = now + HEARTBEAT_S;
    report_read_rss();
    ev_timer_stop(loop, &worker.report_w);
    report_send();
}

void
report_start(void)
{
    ev_init(&worker.report_w, report_timer_cb);
    ev_timer_init(&worker.heartbeat_w, report_heartbeat_cb, HEARTBEAT_S,
                  HEARTBEAT_S);
    ev_timer_start(engine.loop, &worker.heartbeat_w);
    worker.heartbeat_due = ev_now(engine.loop) + HEARTBEAT_S;
    report_read_rss();
    report_send();
}

void
report_stop(void)
{
    ev_timer_stop(engine.loop, &worker.heartbeat_w);
    ev_timer_stop(engine.loop, &worker.report_w);
}

/* A figure changed: report it now or after the minimum gap. */
void
report_changed(void)
{
    ev_tstamp wait;

    if (worker.report_dirty) {
        return;
    }
    worker.report_dirty = true;
    wait = worker.last_report + REPORT_MIN_GAP - ev_now(engine.loop);
    if (wait > 0) {
        ev_timer_set(&worker.report_w, wait, 0.);
        ev_timer_start(engine.loop, &worker.report_w);
    }
}

/*
 * Sends a report now, ahead of work that will block the loop (a long /cpu
 * request): the master should know this worker is busy before it stops
 * hearing from it. At most one per such request, so the rate stays low.
 */
void
report_now(void)
{
    ev_timer_stop(engine.loop, &worker.report_w);
    report_send();
    channel_flush();
}

/* Before the loop blocks: send a due report that is not waiting out the
 * minimum gap. */
void
report_flush(void)
{
    if (worker.report_dirty && !ev_is_active(&worker.report_w)) {
        report_send();
    }
}
