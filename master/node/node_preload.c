/*
 * node_preload.c: the master's side of handoff's preload in Node workers
 * (master/node/preload.cjs, installed as handoff-preload.cjs; on unless
 * --node-preload off): where the file is, and what it says and is told.
 *
 * The preload's lines are {"cmd":"NODE_HANDOFF",...}: a cmd starting with
 * NODE_ is never the program's own process.send() message, and Node's
 * worker hands such a line from the master to 'internalMessage', never to
 * the program's process.on('message').
 *   act:"load"  its figures (open, inflight, served, lag_us, rss_kib,
 *               heap_kib), as a native worker's CHAN_LOAD, and
 *               "draining":true once it drains (logged once)
 *   "load" in a newconn's {ack, accepted:true}: open and inflight with
 *               that connection counted, as a native worker's ACK
 * The master sends {"cmd":"NODE_HANDOFF","act":"drain"} in place of
 * Node's disconnect to a worker whose preload has reported: it finishes
 * its connections without closing an idle one under its client, then
 * leaves by cluster.worker.disconnect() (exitedAfterDisconnect). With
 * "giveback":true (node_giveback.c) it gives idle connections back to the
 * master instead of waiting for their next request; its draining reports
 * count them (given_back).
 * A worker that never reported (the preload off, or a stand-in) is told
 * disconnect, as Node's primary does, and /stats shows null for it.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "conf/options.h"
#include "fleet/mworker.h"
#include "log.h"
#include "node/node-t.h"
#include "node/node_giveback.h"
#include "node/node_link.h"
#include "node/node_preload.h"
#include "sched/sched.h"

#define NODE_PRELOAD_NAME "handoff-preload.cjs"

int
node_preload_find(char *out, size_t size)
{
    char self[PATH_MAX], *dir;
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    if (n == -1) {
        return -1;
    }
    self[n] = '\0';
    dir = dirname(self);
    /* Beside the binary (the build tree), else where make install puts
     * it, as the native worker is found. */
    if (snprintf(out, size, "%s/" NODE_PRELOAD_NAME, dir) < (int) size
        && access(out, R_OK) == 0) {
        return 0;
    }
    if (snprintf(out, size, "%s/../lib/handoff/" NODE_PRELOAD_NAME, dir)
            < (int) size
        && access(out, R_OK) == 0) {
        return 0;
    }
    snprintf(out, size, "%s/" NODE_PRELOAD_NAME, dir);
    return -1;
}

/* <v> as a count, clamped to [0, max]. */
static uint64_t
node_preload_count(const struct json_value *obj, const char *name, uint64_t max)
{
    struct json_value v;
    int64_t n;

    if (!json_get(obj, name, &v) || !json_int(&v, &n) || n < 0) {
        return 0;
    }
    return (uint64_t) n > max ? max : (uint64_t) n;
}

static void
node_preload_report(struct mworker *w, const struct json_value *msg)
{
    struct node_link *nl = node_of(w);
    struct json_value v;
    struct chan_load l;

    l.open_conns = (uint32_t) node_preload_count(msg, "open", UINT32_MAX);
    l.in_flight = (uint32_t) node_preload_count(msg, "inflight", UINT32_MAX);
    l.served = node_preload_count(msg, "served", INT64_MAX);
    l.lag_us = (uint32_t) node_preload_count(msg, "lag_us", UINT32_MAX);
    l.rss_kib = (uint32_t) node_preload_count(msg, "rss_kib", UINT32_MAX);
    nl->heap_kib = (uint32_t) node_preload_count(msg, "heap_kib", UINT32_MAX);
    if (!nl->reports) {
        log_info("worker " MW_FMT " has handoff's preload: load reports, "
                 "graceful drain",
                 MW_ARGS(w));
        nl->reports = true;
    }
    if (!nl->drain_told && json_get(msg, "draining", &v)
        && v.type == JSON_TRUE) {
        uint64_t given = node_preload_count(msg, "given_back", UINT32_MAX);
        char also[64] = "";

        if (given > 0) {
            snprintf(also, sizeof(also), "; %llu idle given back",
                     (unsigned long long) given);
        }
        log_info("worker " MW_FMT " drains: %u open connection%s, %u "
                 "request%s in flight%s",
                 MW_ARGS(w), l.open_conns, l.open_conns == 1 ? "" : "s",
                 l.in_flight, l.in_flight == 1 ? "" : "s", also);
        nl->drain_told = true;
    }
    if (w->fl->opt->trace) {
        log_trace("load     W%u: %u open, %u in flight, %llu served, lag "
                  "%.1f ms, rss %u KiB, heap %u KiB",
                  w->sw.id, l.open_conns, l.in_flight,
                  (unsigned long long) l.served, l.lag_us / 1000.0, l.rss_kib,
                  nl->heap_kib);
    }
    sched_load(w->fl->sched, &w->sw, &l);
}

void
node_preload_message(struct mworker *w, const struct json_value *msg)
{
    struct json_value v;

    if (json_get(msg, "act", &v) && json_string_is(&v, "load")) {
        node_preload_report(w, msg);
    }
    /* Anything else is from a newer preload: ignored, as Node's primary
     * ignores an act it does not know. */
}

bool
node_preload_ack(struct mworker *w, const struct json_value *msg)
{
    struct json_value load;

    if (!node_of(w)->reports || !json_get(msg, "load", &load)
        || load.type != JSON_OBJECT) {
        return false;
    }
    sched_note_load(
        &w->sw, (uint32_t) node_preload_count(&load, "open", UINT32_MAX),
        (uint32_t) node_preload_count(&load, "inflight", UINT32_MAX));
    return true;
}

bool
node_preload_drain(struct mworker *w)
{
    static const char drain[] = "{\"cmd\":\"NODE_HANDOFF\",\"act\":\"drain\"}";
    static const char giveback[] = "{\"cmd\":\"NODE_HANDOFF\",\"act\":"
                                   "\"drain\",\"giveback\":true}";
    bool give = node_giveback_wanted(w);

    if (!node_of(w)->reports) {
        return false;
    }
    if (node_link_send(w, give ? giveback : drain,
                       give ? sizeof(giveback) - 1 : sizeof(drain) - 1, -1, 0)
        == -1) {
        log_error(0, "cannot queue a drain for W%u; killing it", w->sw.id);
        (void) kill(w->pid, SIGKILL);
    }
    return true;
}

bool
node_preload_load(const struct mworker *w, struct chan_load *l)
{
    if (!node_of(w)->reports) {
        return false;
    }
    *l = w->sw.load;
    return true;
}
