/*
 * trace.c: --trace output for the master. One line per scheduler step,
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

#include "log.h"
#include "master.h"

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
trace_state(const struct master *m, char *buf, size_t len)
{
    const struct sched_conn *c;
    size_t n = 0, shown = 0;
    int rc;

    rc = snprintf(buf, len, "queue=[");
    n += rc > 0 ? (size_t) rc : 0;
    TAILQ_FOREACH(c, &m->sched.queue, link) {
        if (n >= len) {
            break;
        }
        if (shown == TRACE_QUEUE_SHOWN) {
            rc = snprintf(buf + n, len - n, ",+%zu", m->sched.nqueued - shown);
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
        sched_describe(&m->sched, buf + n, len - n);
    }
}

void
trace_sched_event(void *ctx, enum sched_event ev, const struct sched_conn *c,
                  const struct sched_worker *w)
{
    const struct master *m = ctx;
    char what[160], state[256], peer[64];
    unsigned long long cid = c != NULL ? (unsigned long long) c->id : 0;
    unsigned wid = w != NULL ? w->id : 0;

    switch (ev) {
    case SCHED_EV_ARRIVE:
        snprintf(what, sizeof(what), "accept   C%llu fd=%d from %s", cid,
                 mconn_of(c)->fd,
                 trace_peer(&mconn_of(c)->peer, peer, sizeof(peer)));
        break;
    case SCHED_EV_HANDOFF:
        snprintf(what, sizeof(what), "handoff  C%llu -> W%u (pid %ld)", cid,
                 wid, (long) mworker_of(w)->pid);
        break;
    case SCHED_EV_ACCEPTED:
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
        snprintf(what, sizeof(what), "up       W%u (pid %ld) joins", wid,
                 (long) mworker_of(w)->pid);
        break;
    case SCHED_EV_DOWN:
        snprintf(what, sizeof(what), "down     W%u (pid %ld) leaves", wid,
                 (long) mworker_of(w)->pid);
        break;
    default:
        snprintf(what, sizeof(what), "event %d", (int) ev);
        break;
    }
    trace_state(m, state, sizeof(state));
    log_trace("%-52s %s", what, state);
}

void
trace_record(void *arg, const struct chan_msg *msgs, size_t n, size_t nfds)
{
    const struct mworker *w = arg;
    char list[160];
    size_t i, len = 0;
    int rc;

    list[0] = '\0';
    for (i = 0; i < n && len < sizeof(list); i++) {
        if (i == 4) {
            snprintf(list + len, sizeof(list) - len, ", ...");
            break;
        }
        if (msgs[i].type == CHAN_CONN) {
            rc = snprintf(list + len, sizeof(list) - len, "%sCONN C%llu",
                          i ? ", " : "", (unsigned long long) msgs[i].conn_id);
        } else {
            rc = snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
                          chan_type_name(msgs[i].type));
        }
        len += rc > 0 ? (size_t) rc : 0;
    }
    log_trace("sendmsg  -> W%u: %zu message%s, %zu fd%s (%s)", w->sw.id, n,
              n == 1 ? "" : "s", nfds, nfds == 1 ? "" : "s", list);
}

void
trace_load(const struct mworker *w, const struct chan_load *l)
{
    log_trace("load     W%u: %u open, %u in flight, %llu served, lag %.1f ms, "
              "rss %u KiB",
              w->sw.id, l->open_conns, l->in_flight,
              (unsigned long long) l->served, l->lag_us / 1000.0, l->rss_kib);
}

/* A line of Node's IPC (--node), as written or read, cut to fit. */
void
trace_node_line(const struct mworker *w, bool out, const char *line, size_t len,
                int fd)
{
    char fdnote[32] = "", shown[400];
    size_t i, n = len > sizeof(shown) ? sizeof(shown) : len;

    if (fd != -1) {
        snprintf(fdnote, sizeof(fdnote), " + fd %d", fd);
    }
    /* A worker's line is shown before it is checked as JSON: a "\r" or
     * an escape sequence in it must not reach the log as such. */
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char) line[i];

        shown[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    log_trace("ipc      %s W%u %.*s%s%s", out ? "->" : "<-", w->sw.id, (int) n,
              shown, len > n ? "..." : "", fdnote);
}
