/*
 * node_cluster.c: Node's cluster protocol, as lib/internal/cluster/
 * primary.js and round_robin_handle.js speak it to a worker, so that an
 * unmodified Node program runs as a handoff worker (--node).
 *
 * Every message is {"cmd":"NODE_CLUSTER", ..., "seq":N}, N counted once
 * for the whole master; answers carry "ack" with the asker's seq. What a
 * worker says and what the master does:
 *   online                logged (cluster's 'online' event)
 *   queryServer           its server.listen(): answered with the key and
 *                         the master's address (sockname) and the worker
 *                         joins the rotation; under none and reuseport the
 *                         answer carries the listening socket instead
 *   listening             logged
 *   close                 its server closed: it leaves the rotation
 *   exitedAfterDisconnect it disconnects on its own: answered; it leaves
 *   {ack, accepted}       its answer to a newconn: the scheduler's ack
 * What the master sends: the answers, newconn (wrapped in NODE_HANDLE,
 * with the connection's fd), and disconnect for a graceful stop. Lines
 * whose cmd does not start with NODE_ are the program's process.send()
 * messages; they are logged.
 *
 * Differences from Node's primary, each deliberate: the master keeps a
 * connection's fd until the worker accepts it, so a worker that dies or
 * never answers loses nothing (Node's client hangs); a NACKed handle goes
 * back to the queue (Node loses it); the server must be the master's
 * port (--port), since only the master listens.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fdutil.h"
#include "json.h"
#include "log.h"
#include "master.h"
#include "sched/policy.h"

/* libuv's error numbers on Linux are negated errno values. */
#define UV_EADDRINUSE (-EADDRINUSE)
#define UV_EADDRNOTAVAIL (-EADDRNOTAVAIL)
#define UV_ENOTSUP (-ENOTSUP)

#define NODE_USER_LOG_PER_S 20 /* process.send() lines logged per second */
#define NODE_SHOWN_MAX 300     /* bytes of a message shown in a log line */

static void
node_queue_failed(struct mworker *w)
{
    log_error(ENOMEM, "cannot queue a message for W%u; killing it", w->sw.id);
    (void) kill(w->pid, SIGKILL);
}

/* The text of a JSON value as a JS template string shows it. */
static void
node_key_part(const struct json_value *obj, const char *name, char *buf,
              size_t size)
{
    struct json_value v;

    if (!json_get(obj, name, &v)) {
        snprintf(buf, size, "undefined");
    } else if (v.type == JSON_STRING) {
        if (json_string(&v, buf, size) < 0) {
            snprintf(buf, size, "?");
        }
    } else if (v.type == JSON_OBJECT) {
        snprintf(buf, size, "[object Object]");
    } else {
        snprintf(buf, size, "%.*s", (int) (v.len < size ? v.len : size - 1),
                 v.p);
    }
}

/* A message for the log: the line itself, cut short, without controls. */
static void
node_shown(const char *line, size_t len, char *buf, size_t size)
{
    size_t i, n = 0;

    for (i = 0; i < len && n + 4 < size; i++) {
        unsigned char c = (unsigned char) line[i];

        buf[n++] = c < 0x20 || c == 0x7f ? '?' : (char) c;
    }
    if (i < len && n + 4 <= size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
}

/* A line from process.send(): Node's primary emits 'message'; we log it. */
static void
node_user_message(struct mworker *w, const char *line, size_t len,
                  const char *note)
{
    struct node_link *nl = w->node;
    ev_tstamp now = ev_now(w->m->loop);
    char shown[NODE_SHOWN_MAX + 4];

    if (now - nl->user_window >= 1.0) {
        if (nl->user_hidden > 0) {
            log_info("worker W%u (pid %ld): %u more message%s not shown",
                     w->sw.id, (long) w->pid, nl->user_hidden,
                     nl->user_hidden == 1 ? "" : "s");
        }
        nl->user_window = now;
        nl->user_logged = nl->user_hidden = 0;
    }
    if (nl->user_logged >= NODE_USER_LOG_PER_S) {
        if (nl->user_hidden++ == 0) {
            log_info("worker W%u (pid %ld): over %d messages a second; the "
                     "rest of this second's are counted, not shown",
                     w->sw.id, (long) w->pid, NODE_USER_LOG_PER_S);
        }
        return;
    }
    nl->user_logged++;
    node_shown(line, len, shown, sizeof(shown));
    log_info("worker W%u (pid %ld) message%s: %s", w->sw.id, (long) w->pid,
             note, shown);
}

/* Sends {"cmd":"NODE_CLUSTER",<body>,"seq":N}. */
static void
node_send_cluster(struct mworker *w, const char *body)
{
    struct master *m = w->m;
    char buf[512];
    int n;

    n = snprintf(buf, sizeof(buf), "{\"cmd\":\"NODE_CLUSTER\",%s,\"seq\":%llu}",
                 body, (unsigned long long) m->node_seq++);
    if (n < 0 || (size_t) n >= sizeof(buf)
        || node_link_send(w, buf, (size_t) n, -1, 0) == -1) {
        node_queue_failed(w);
    }
}

/* The master's listening address as Node's getsockname() gives it. */
static void
node_sockname(const struct master *m, struct sbuf *b)
{
    char host[64];
    unsigned port = 0;
    bool v6 = m->lis.addr.ss_family == AF_INET6;

    if (v6) {
        const struct sockaddr_in6 *a = (const void *) &m->lis.addr;

        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const void *) &m->lis.addr;

        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    }
    sbuf_printf(b,
                ",\"sockname\":{\"address\":\"%s\",\"family\":\"%s\","
                "\"port\":%u}",
                host, v6 ? "IPv6" : "IPv4", port);
}

static unsigned
node_port(const struct master *m)
{
    const struct sockaddr_in *a = (const void *) &m->lis.addr;

    return ntohs(a->sin_port); /* same place in sockaddr_in6 */
}

/* The listening socket a worker accepts on itself, or -1 (the master
 * accepts and hands connections out). */
static int
node_shared_fd(const struct mworker *w)
{
    const struct master *m = w->m;

    return listeners_worker_fd(&m->lis, m->opt.policy->accept,
                               w->slot != NULL ? (int) w->slot->index : -1);
}

/*
 * Answers a queryServer: errno (a negative libuv code, or 0), the key,
 * ack, the first worker's data, and either sockname (the master accepts)
 * or the socket itself.
 */
static void
node_reply_query(struct mworker *w, const char *qkey, int64_t ack, int uverr,
                 int fd)
{
    struct master *m = w->m;
    struct sbuf b = {0};
    size_t keypos;
    char key[NODE_KEY_MAX * 6 + 16];

    keypos = 0;
    if (!json_put_string(key, sizeof(key), &keypos, qkey, strlen(qkey))) {
        snprintf(key, sizeof(key), "\"\"");
        keypos = 2;
    }
    if (fd != -1) {
        sbuf_printf(&b, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\","
                        "\"msg\":");
    }
    sbuf_printf(&b, "{\"cmd\":\"NODE_CLUSTER\",\"errno\":");
    if (uverr != 0) {
        sbuf_printf(&b, "%d", uverr);
    } else {
        sbuf_printf(&b, fd != -1 ? "0" : "null");
    }
    sbuf_printf(&b, ",\"key\":%.*s,\"ack\":%lld,\"data\":%s", (int) keypos, key,
                (long long) ack, m->node_data != NULL ? m->node_data : "null");
    if (uverr == 0 && fd == -1) {
        node_sockname(m, &b);
    }
    sbuf_printf(&b, ",\"seq\":%llu}", (unsigned long long) m->node_seq++);
    if (fd != -1) {
        sbuf_printf(&b, "}");
    }
    if (b.failed
        || node_link_send(w, b.data, b.len, uverr == 0 ? fd : -1, 0) == -1) {
        node_queue_failed(w);
    }
    sbuf_free(&b);
}

/* Keeps the first worker's queryServer data (TLS ticket keys), as
 * Node's primary does, to give every worker the same. */
static void
node_keep_data(struct master *m, const struct json_value *msg)
{
    struct json_value data;

    if (m->node_data != NULL || !json_get(msg, "data", &data)
        || data.type == JSON_NULL || data.len > 65536) {
        return;
    }
    m->node_data = strndup(data.p, data.len);
}

/* The worker called server.listen(). */
static void
node_query_server(struct mworker *w, const struct json_value *msg)
{
    struct master *m = w->m;
    struct node_link *nl = w->node;
    struct json_value seqv, v;
    int64_t seq, port = -1, fd = -1;
    char addr[64], type[16], part[4][64], key[NODE_KEY_MAX];
    bool has_addr;

    if (!json_get(msg, "seq", &seqv) || !json_int(&seqv, &seq)) {
        log_warn(0, "worker W%u (pid %ld): queryServer without seq; ignored",
                 w->sw.id, (long) w->pid);
        return;
    }
    if (nl->disconnecting) {
        return; /* as Node's primary: a disconnecting worker gets nothing */
    }
    if (json_get(msg, "port", &v)) {
        (void) json_int(&v, &port);
    }
    if (json_get(msg, "fd", &v) && !json_int(&v, &fd)) {
        fd = -1;
    }
    node_key_part(msg, "addressType", type, sizeof(type));
    /* An address that is not a short string cannot be ours: shown as
     * "?" it fails the comparison below. */
    has_addr = json_get(msg, "address", &v) && v.type != JSON_NULL
               && !(v.type == JSON_STRING && v.len == 2);
    if (has_addr && json_string(&v, addr, sizeof(addr)) < 0) {
        snprintf(addr, sizeof(addr), "?");
    }
    if (has_addr) {
        /* It is logged below: a "\n" in it would forge a log line. No
         * address has control characters, so it still fails to match. */
        char *c;

        for (c = addr; *c != '\0'; c++) {
            if ((unsigned char) *c < 0x20 || *c == 0x7f) {
                *c = '?';
            }
        }
    }

    /* The key as Node 20's primary makes it: address:port:type:fd:index. */
    node_key_part(msg, "address", part[0], sizeof(part[0]));
    node_key_part(msg, "port", part[1], sizeof(part[1]));
    node_key_part(msg, "fd", part[2], sizeof(part[2]));
    node_key_part(msg, "index", part[3], sizeof(part[3]));
    snprintf(key, sizeof(key), "%s:%s:%s:%s:%s", part[0], part[1], type,
             part[2], part[3]);

    if (strcmp(type, "udp4") == 0 || strcmp(type, "udp6") == 0) {
        log_error(0,
                  "worker W%u (pid %ld) asked for a UDP socket; handoff "
                  "serves TCP only: its bind fails with ENOTSUP",
                  w->sw.id, (long) w->pid);
        node_reply_query(w, key, seq, UV_ENOTSUP, -1);
        return;
    }
    if (fd >= 0 || port < 0) {
        log_error(0,
                  "worker W%u (pid %ld) asked to listen on %s; handoff "
                  "serves a TCP port only: its listen() fails with ENOTSUP",
                  w->sw.id, (long) w->pid,
                  fd >= 0 ? "a file descriptor" : "a UNIX socket");
        node_reply_query(w, key, seq, UV_ENOTSUP, -1);
        return;
    }
    if (port != 0 && port != (int64_t) node_port(m)) {
        log_error(0,
                  "worker W%u (pid %ld) called listen(%lld), but this master "
                  "serves port %u (--port): its listen() fails with "
                  "EADDRNOTAVAIL; run handoff with --port %lld, or have the "
                  "program listen on process.env.PORT",
                  w->sw.id, (long) w->pid, (long long) port, node_port(m),
                  (long long) port);
        node_reply_query(w, key, seq, UV_EADDRNOTAVAIL, -1);
        return;
    }
    if (has_addr && strcmp(addr, m->opt.host) != 0) {
        log_error(0,
                  "worker W%u (pid %ld) asked for address %s, but this "
                  "master listens on %s (--host): its listen() fails with "
                  "EADDRNOTAVAIL; run handoff with --host %s",
                  w->sw.id, (long) w->pid, addr, m->opt.host, addr);
        node_reply_query(w, key, seq, UV_EADDRNOTAVAIL, -1);
        return;
    }
    if (nl->serving) {
        /* Node's primary would bind a second handle (index > 0) and fail
         * the same way: one server per worker takes the connections. */
        log_error(0,
                  "worker W%u (pid %ld) listens a second time on port %u; "
                  "only its first server gets connections: EADDRINUSE",
                  w->sw.id, (long) w->pid, node_port(m));
        node_reply_query(w, key, seq, UV_EADDRINUSE, -1);
        return;
    }
    node_keep_data(m, msg);
    nl->serving = true;
    memcpy(nl->key, key, sizeof(nl->key));
    node_reply_query(w, key, seq, 0, node_shared_fd(w));
    if (!w->ready) {
        workers_ready(w); /* RoundRobinHandle.add() hands off at once */
    } else if (!w->retiring && !w->shutdown_sent && !m->stopping) {
        sched_worker_up(&m->sched, &w->sw); /* listening again */
    }
}

/* The worker's answer to newconn <ack>: find which connection it was. */
static void
node_answer(struct mworker *w, const struct json_value *msg, int64_t ack)
{
    struct master *m = w->m;
    struct json_value v;
    struct sched_conn *sc;
    bool accepted = json_get(msg, "accepted", &v) && v.type == JSON_TRUE;

    TAILQ_FOREACH(sc, &w->sw.inflight, link) {
        if (mconn_of(sc)->link_tag == (uint64_t) ack) {
            break;
        }
    }
    /* An answer for a newconn still in the outbox is a guess: taking it
     * would close an fd that is about to be sent. */
    if (sc == NULL || node_link_unsent(w, sc->id)) {
        log_warn(0,
                 "worker W%u (pid %ld) answered message %lld, which is no "
                 "connection it holds; ignored",
                 w->sw.id, (long) w->pid, (long long) ack);
        return;
    }
    (void) sched_ack(&m->sched, &w->sw, sc->id,
                     accepted ? SCHED_ACCEPTED : SCHED_REFUSED);
    /* Node workers report no load: what counts for least-loaded is how
     * many handoffs each has left unanswered. */
    sched_note_load(&w->sw, 0, 0);
    w->node->asked_at = ev_now(m->loop);
}

static void
node_cluster_message(struct mworker *w, const struct json_value *msg)
{
    struct master *m = w->m;
    struct node_link *nl = w->node;
    struct json_value v;
    int64_t n;
    char act[32];

    if (json_get(msg, "ack", &v) && json_int(&v, &n)) {
        node_answer(w, msg, n);
        return;
    }
    if (!json_get(msg, "act", &v) || json_string(&v, act, sizeof(act)) < 0) {
        return; /* Node's primary ignores what it cannot dispatch */
    }
    if (strcmp(act, "online") == 0) {
        log_info("worker W%u (pid %ld) online", w->sw.id, (long) w->pid);
    } else if (strcmp(act, "queryServer") == 0) {
        node_query_server(w, msg);
    } else if (strcmp(act, "listening") == 0) {
        log_info("worker W%u (pid %ld) listening", w->sw.id, (long) w->pid);
    } else if (strcmp(act, "close") == 0) {
        if (nl->serving) {
            log_info("worker W%u (pid %ld) closed its server", w->sw.id,
                     (long) w->pid);
            nl->serving = false;
            sched_worker_leave(&m->sched, &w->sw);
        }
    } else if (strcmp(act, "exitedAfterDisconnect") == 0) {
        char body[64];

        nl->disconnecting = true;
        sched_worker_leave(&m->sched, &w->sw);
        if (json_get(msg, "seq", &v) && json_int(&v, &n)) {
            snprintf(body, sizeof(body), "\"ack\":%lld", (long long) n);
            node_send_cluster(w, body);
        }
        workers_left(w, "it disconnects (exitedAfterDisconnect)");
    }
}

/* A NODE_HANDLE from the worker (process.send(msg, handle)): the master
 * keeps no handle, but answers as Node does so the worker's queue moves. */
static void
node_worker_handle(struct mworker *w, const char *line, size_t len)
{
    static const char ack[] = "{\"cmd\":\"NODE_HANDLE_ACK\"}";
    static const char nack[] = "{\"cmd\":\"NODE_HANDLE_NACK\"}";
    int fd = node_link_take_pending_fd(w);

    if (fd == -1) {
        (void) node_link_send_urgent(w, nack, sizeof(nack) - 1);
        return;
    }
    fd_close(fd);
    (void) node_link_send_urgent(w, ack, sizeof(ack) - 1);
    node_user_message(w, line, len,
                      " with a handle (closed: the master "
                      "keeps none)");
}

/* The worker answered the handle in flight. */
static void
node_handle_answer(struct mworker *w, bool got)
{
    struct master *m = w->m;
    struct node_link *nl = w->node;
    uint64_t conn = nl->handle_conn;

    if (!nl->handle_in_flight) {
        log_warn(0, "worker W%u (pid %ld) acknowledged a handle never sent",
                 w->sw.id, (long) w->pid);
        return;
    }
    node_link_handle_answered(w);
    if (got) {
        return;
    }
    if (conn == 0) {
        log_error(0,
                  "worker W%u (pid %ld) did not receive its listening "
                  "socket (NODE_HANDLE_NACK); killing it",
                  w->sw.id, (long) w->pid);
        (void) kill(w->pid, SIGKILL);
        return;
    }
    /* Node would lose this connection; it goes back to the queue. */
    log_warn(0,
             "worker W%u (pid %ld) did not receive the fd of C%llu "
             "(NODE_HANDLE_NACK); it goes to the queue tail",
             w->sw.id, (long) w->pid, (unsigned long long) conn);
    (void) sched_ack(&m->sched, &w->sw, conn, SCHED_REFUSED);
}

void
node_cluster_line(struct mworker *w, const char *line, size_t len)
{
    struct json_value msg, cmdv;
    char cmd[32];

    workers_heard(w);
    if (w->m->opt.trace) {
        trace_node_line(w, false, line, len, w->node->pending_fd);
    }
    if (json_check(line, len, &msg) == JSON_INVALID) {
        char shown[64];

        node_shown(line, len, shown, sizeof(shown));
        log_warn(0,
                 "worker W%u (pid %ld) sent a line that is not JSON; "
                 "ignored: %s",
                 w->sw.id, (long) w->pid, shown);
        return;
    }
    /* Node's test for an internal message: cmd is a string, NODE_... */
    if (msg.type != JSON_OBJECT || !json_get(&msg, "cmd", &cmdv)
        || cmdv.type != JSON_STRING || cmdv.len < 7
        || memcmp(cmdv.p, "\"NODE_", 6) != 0
        || json_string(&cmdv, cmd, sizeof(cmd)) < 0) {
        node_user_message(w, line, len, "");
        return;
    }
    if (strcmp(cmd, "NODE_CLUSTER") == 0) {
        node_cluster_message(w, &msg);
    } else if (strcmp(cmd, "NODE_HANDLE_ACK") == 0) {
        node_handle_answer(w, true);
    } else if (strcmp(cmd, "NODE_HANDLE_NACK") == 0) {
        node_handle_answer(w, false);
    } else if (strcmp(cmd, "NODE_HANDLE") == 0) {
        node_worker_handle(w, line, len);
    }
    /* Other internal commands are not the cluster's business. */
}

/* The scheduler hands <c> to <w>: newconn, with the fd attached. */
void
node_cluster_newconn(struct mworker *w, struct mconn *c)
{
    struct master *m = w->m;
    char buf[NODE_KEY_MAX * 6 + 192];
    size_t n;
    int rc;

    c->link_tag = m->node_seq++;
    n = (size_t) snprintf(buf, sizeof(buf),
                          "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\","
                          "\"msg\":{\"cmd\":\"NODE_CLUSTER\",\"act\":"
                          "\"newconn\",\"key\":");
    if (!json_put_string(buf, sizeof(buf), &n, w->node->key,
                         strlen(w->node->key))) {
        node_queue_failed(w);
        return;
    }
    rc = snprintf(buf + n, sizeof(buf) - n, ",\"seq\":%llu}}",
                  (unsigned long long) c->link_tag);
    if (rc < 0 || (size_t) rc >= sizeof(buf) - n
        || node_link_send(w, buf, n + (size_t) rc, c->fd, c->sc.id) == -1) {
        node_queue_failed(w);
        return;
    }
    if (w->sw.ninflight == 1) {
        w->node->asked_at = ev_now(m->loop);
    }
}

/* The channel is closing, however: what was counted is told now. */
void
node_cluster_last_words(struct mworker *w)
{
    if (w->node->user_hidden > 0) {
        log_info("worker W%u (pid %ld): %u more message%s not shown", w->sw.id,
                 (long) w->pid, w->node->user_hidden,
                 w->node->user_hidden == 1 ? "" : "s");
        w->node->user_hidden = 0;
    }
}

/* Graceful stop: Node's worker.disconnect(). */
void
node_cluster_disconnect(struct mworker *w)
{
    /* Once it said exitedAfterDisconnect it disconnects when answered; a
     * disconnect as well would have Node's worker call
     * process.disconnect() twice, and the second throws
     * (ERR_IPC_DISCONNECTED). */
    if (w->node->disconnecting) {
        return;
    }
    w->node->disconnecting = true;
    node_send_cluster(w, "\"act\":\"disconnect\"");
}

/*
 * The channel closed (EOF or error). Connections it never accepted go to
 * other workers now; the process may live on to finish its requests, so
 * its slot gets a new worker without waiting for the exit.
 */
void
node_cluster_closed(struct mworker *w)
{
    link_close(w);
    master_worker_gone(w->m, w);
    if (!w->exited) {
        workers_left(w, "its IPC channel closed");
    }
}
