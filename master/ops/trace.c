/*
 * trace.c: --trace output for the master's scheduler: one line per step,
 * each followed by the queue and the policy's state *after* the step, so
 * that the lines can be read against the table in node-cluster.md §3:
 *
 *   accept   C4 fd=11 from 127.0.0.1:40112   queue=[C4] free=[]
 *   ack      C2 <- W2 accepted, master closes fd 9   queue=[C4] free=[]
 *   handoff  C4 -> W2 (pid 4242)             queue=[] free=[]
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/accept-t.h"
#include "fleet/fleet-t.h"
#include "log.h"
#include "ops/trace.h"

#define TRACE_QUEUE_SHOWN 8

static const char *
trace_peer(const struct chan_peer *p, char *buf, size_t len)
{
    char addr[INET6_ADDRSTRLEN];

    if (p->family == AF_INET || p->family == AF_INET6) {
        inet_ntop(p->family, p->addr, addr, sizeof(addr));
        snprintf(buf, len, p->family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
                 p->port);
    } else {
        snprintf(buf, len, "?");
    }
    return buf;
}

static void
trace_state(const struct sched *s, char *buf, size_t len)
{
    const struct sched_conn *c;
    size_t n = 0, shown = 0;
    int rc;

    rc = snprintf(buf, len, "queue=[");
    n += rc > 0 ? (size_t) rc : 0;
    TAILQ_FOREACH(c, &s->queue, link) {
        if (n >= len) {
            break;
        }
        if (shown == TRACE_QUEUE_SHOWN) {
            rc = snprintf(buf + n, len - n, ",+%zu", s->nqueued - shown);
            n += rc > 0 ? (size_t) rc : 0;
            break;
        }
        rc = snprintf(buf + n, len - n, "%sC%llu", shown ? "," : "",
                      (unsigned long long) c->id);
        n += rc > 0 ? (size_t) rc : 0;
        shown++;
    }
    if (n < len) {
        rc = snprintf(buf + n, len - n, "] ");
        n += rc > 0 ? (size_t) rc : 0;
    }
    if (n < len) {
        sched_describe(s, buf + n, len - n);
    }
}

/* One step of scheduler <s>, after the step. */
void
trace_sched_event(const struct sched *s, enum sched_event ev,
                  const struct sched_conn *c, const struct sched_worker *w)
{
    char what[160], state[256], peer[64];
    unsigned long long cid = c != NULL ? (unsigned long long) c->id : 0;
    unsigned wid = w != NULL ? w->id : 0;

    switch (ev) {
    case SCHED_EV_ARRIVE:
        if (mconn_of(c)->rehand_of != 0 && mconn_of(c)->rehand_from != 0) {
            /* Its worker went away with it idle: a new arrival. */
            snprintf(what, sizeof(what),
                     "rehand   C%llu (was C%llu on W%u) fd=%d", cid,
                     (unsigned long long) mconn_of(c)->rehand_of,
                     mconn_of(c)->rehand_from, mconn_of(c)->fd);
            break;
        }
        if (mconn_of(c)->rehand_from != 0) {
            /* A Node worker's preload gave it back, idle. */
            snprintf(what, sizeof(what),
                     "rehand   C%llu (given back by W%u) fd=%d", cid,
                     mconn_of(c)->rehand_from, mconn_of(c)->fd);
            break;
        }
        if (mconn_of(c)->rehand_of != 0) {
            /* Idle at the old master of an upgrade (SIGUSR2). */
            snprintf(what, sizeof(what),
                     "rehand   C%llu (was C%llu at the old master) fd=%d", cid,
                     (unsigned long long) mconn_of(c)->rehand_of,
                     mconn_of(c)->fd);
            break;
        }
        snprintf(what, sizeof(what), "accept   C%llu fd=%d from %s", cid,
                 mconn_of(c)->fd,
                 trace_peer(&mconn_of(c)->peer, peer, sizeof(peer)));
        break;
    case SCHED_EV_HANDOFF:
        snprintf(what, sizeof(what), "handoff  C%llu -> " MW_FMT, cid,
                 MW_ARGS(mworker_of(w)));
        break;
    case SCHED_EV_ACCEPTED:
        if (mconn_of(c)->rh_slot != 0) {
            snprintf(what, sizeof(what),
                     "ack      C%llu <- W%u accepted, master keeps fd %d", cid,
                     wid, mconn_of(c)->fd);
            break;
        }
        snprintf(what, sizeof(what),
                 "ack      C%llu <- W%u accepted, master closes fd %d", cid,
                 wid, mconn_of(c)->fd);
        break;
    case SCHED_EV_REFUSED:
        snprintf(what, sizeof(what),
                 "refuse   C%llu <- W%u refused, back to the queue tail", cid,
                 wid);
        break;
    case SCHED_EV_PARKED:
        snprintf(what, sizeof(what),
                 "full     W%u, parked until its next "
                 "load report",
                 wid);
        break;
    case SCHED_EV_RECLAIM:
        snprintf(what, sizeof(what),
                 "reclaim  C%llu from W%u, never acknowledged, to the queue "
                 "head",
                 cid, wid);
        break;
    case SCHED_EV_FREE:
        snprintf(what, sizeof(what), "free     W%u", wid);
        break;
    case SCHED_EV_UP:
        snprintf(what, sizeof(what), "up       " MW_FMT " joins",
                 MW_ARGS(mworker_of(w)));
        break;
    case SCHED_EV_DOWN:
        snprintf(what, sizeof(what), "down     " MW_FMT " leaves",
                 MW_ARGS(mworker_of(w)));
        break;
    default:
        snprintf(what, sizeof(what), "event %d", (int) ev);
        break;
    }
    trace_state(s, state, sizeof(state));
    log_trace("%-52s %s", what, state);
}
