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
 * messages; they are logged. NODE_HANDOFF lines are handoff's preload's
 * (node_preload.c), and so is the drain that replaces disconnect where
 * the preload is; a NODE_HANDLE from the worker may be an idle connection
 * the preload gives back, and NODE_SOCKET_* lines follow it
 * (node_giveback.c).
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

#include "accept/accept-t.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fdutil.h"
#include "fleet/fleet-t.h"
#include "fleet/mworker.h"
#include "fleet/workers.h"
#include "json.h"
#include "log.h"
#include "node/node-t.h"
#include "node/node_cluster.h"
#include "node/node_giveback.h"
#include "node/node_link.h"
#include "node/node_preload.h"
#include "sbuf.h"
#include "sched/policy.h"
#include "strlit.h"

/* libuv's error numbers on Linux are negated errno values. */
#define UV_EADDRINUSE (-EADDRINUSE)
#define UV_EADDRNOTAVAIL (-EADDRNOTAVAIL)
#define UV_ENOTSUP (-ENOTSUP)

#define NODE_USER_LOG_PER_S 20 /* process.send() lines logged per second */
#define NODE_SHOWN_MAX 300     /* bytes of a message shown in a log line */

/* Node's primary numbers every message it sends, across workers. */
static uint64_t node_seq;
/* Owned: the first worker's queryServer data (TLS ticket keys), as Node's
 * primary keeps it to give every worker the same. */
static char *node_data;

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
        memcpy(buf + n, "...", STRLEN_LIT("..."));
        n += STRLEN_LIT("...");
    }
    buf[n] = '\0';
}

/* A line from process.send(): Node's primary emits 'message'; we log it. */
static void
node_user_message(struct mworker *w, const char *line, size_t len,
                  const char *note)
{
    struct node_link *nl = node_of(w);
    ev_tstamp now = ev_now(w->fl->loop);
    char shown[NODE_SHOWN_MAX + 4];

    if (now - nl->user_window >= 1.0) {
        if (nl->user_hidden > 0) {
            log_info("worker " MW_FMT ": %u more message%s not shown",
                     MW_ARGS(w), nl->user_hidden,
                     nl->user_hidden == 1 ? "" : "s");
        }
        nl->user_window = now;
        nl->user_logged = nl->user_hidden = 0;
    }
    if (nl->user_logged >= NODE_USER_LOG_PER_S) {
        if (nl->user_hidden++ == 0) {
            log_info("worker " MW_FMT ": over %d messages a second; the "
                     "rest of this second's are counted, not shown",
                     MW_ARGS(w), NODE_USER_LOG_PER_S);
        }
        return;
    }
    nl->user_logged++;
    node_shown(line, len, shown, sizeof(shown));
    log_info("worker " MW_FMT " message%s: %s", MW_ARGS(w), note, shown);
}

/* Sends {"cmd":"NODE_CLUSTER",<body>,"seq":N}. */
static void
node_send_cluster(struct mworker *w, const char *body)
{
    char buf[512];
    int n;

    n = snprintf(buf, sizeof(buf), "{\"cmd\":\"NODE_CLUSTER\",%s,\"seq\":%llu}",
                 body, (unsigned long long) node_seq++);
    if (n < 0 || (size_t) n >= sizeof(buf)
        || node_link_send(w, buf, (size_t) n, -1, 0) == -1) {
        node_queue_failed(w);
    }
}

/* The master's listening address as Node's getsockname() gives it. */
static void
node_sockname(const struct listeners *lis, struct sbuf *b)
{
    char host[64];
    unsigned port = 0;
    bool v6 = lis->addr.ss_family == AF_INET6;

    if (v6) {
        const struct sockaddr_in6 *a = (const void *) &lis->addr;

        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
        port = ntohs(a->sin6_port);
    } else {
        const struct sockaddr_in *a = (const void *) &lis->addr;

        inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
        port = ntohs(a->sin_port);
    }
    sbuf_printf(b,
                ",\"sockname\":{\"address\":\"%s\",\"family\":\"%s\","
                "\"port\":%u}",
                host, v6 ? "IPv6" : "IPv4", port);
}

static unsigned
node_port(const struct fleet *fl)
{
    const struct sockaddr_in *a = (const void *) &fl->lis->addr;

    return ntohs(a->sin_port); /* same place in sockaddr_in6 */
}

/* The listening socket a worker accepts on itself, or -1 (the master
 * accepts and hands connections out). */
static int
node_shared_fd(const struct mworker *w)
{
    const struct fleet *fl = w->fl;

    return listeners_worker_fd(fl->lis, fl->opt->policy->accept,
                               w->slot != NULL ? (int) w->slot->index : -1);
}

/*
 * The data a queryServer is answered with: the first worker's, as Node's
 * primary gives it (a TLS server's is {"ticketKeys": hex}); but a TLS
 * server's keys are the master's own (fleet/tickets.c), so that Node
 * workers share them as handoff's do, in Node's 48-byte form (name,
 * HMAC key, AES-128 key: the first 16 bytes of each part of ours). They
 * are a Node worker's from its listen() on: Node takes no others.
 */
static void
node_put_data(const struct mworker *w, struct sbuf *b)
{
    const struct chan_tickets *t = &w->fl->tickets.keys;
    static const char hex[] = "0123456789abcdef";
    static const size_t from[3] = {0, 16, 48};
    size_t i, k;

    if (node_data == NULL || t->n == 0
        || strstr(node_data, "\"ticketKeys\"") == NULL) {
        sbuf_printf(b, "%s", node_data != NULL ? node_data : "null");
        return;
    }
    sbuf_printf(b, "{\"ticketKeys\":\"");
    for (k = 0; k < 3; k++) {
        for (i = 0; i < 16; i++) {
            uint8_t v = t->key[0][from[k] + i];

            sbuf_printf(b, "%c%c", hex[v >> 4], hex[v & 15]);
        }
    }
    sbuf_printf(b, "\"}");
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
    sbuf_printf(&b, ",\"key\":%.*s,\"ack\":%lld,\"data\":", (int) keypos, key,
                (long long) ack);
    node_put_data(w, &b);
    if (uverr == 0 && fd == -1) {
        node_sockname(w->fl->lis, &b);
    }
    sbuf_printf(&b, ",\"seq\":%llu}", (unsigned long long) node_seq++);
    if (fd != -1) {
        sbuf_printf(&b, "}");
    }
    if (b.failed
        || node_link_send(w, b.data, b.len, uverr == 0 ? fd : -1, 0) == -1) {
        node_queue_failed(w);
    }
    sbuf_free(&b);
}

/* Keeps the first worker's queryServer data (node_data). */
static void
node_keep_data(const struct json_value *msg)
{
    struct json_value data;

    if (node_data != NULL || !json_get(msg, "data", &data)
        || data.type == JSON_NULL || data.len > 65536) {
        return;
    }
    node_data = strndup(data.p, data.len);
}

/* What a queryServer asks for. */
struct node_query {
    int64_t seq, port, fd;
    bool has_addr;
    char addr[64]; /* if has_addr; controls shown as '?' */
    char type[16]; /* addressType */
    char key[NODE_KEY_MAX];
};

/* Reads a queryServer's fields; false (logged) when it has no seq. */
static bool
node_query_read(struct mworker *w, const struct json_value *msg,
                struct node_query *q)
{
    struct json_value seqv, v;
    char part[4][64];

    if (!json_get(msg, "seq", &seqv) || !json_int(&seqv, &q->seq)) {
        log_warn(0, "worker " MW_FMT ": queryServer without seq; ignored",
                 MW_ARGS(w));
        return false;
    }
    q->port = q->fd = -1;
    if (json_get(msg, "port", &v)) {
        (void) json_int(&v, &q->port);
    }
    if (json_get(msg, "fd", &v) && !json_int(&v, &q->fd)) {
        q->fd = -1;
    }
    node_key_part(msg, "addressType", q->type, sizeof(q->type));
    /* An address that is not a short string cannot be ours: shown as
     * "?" it fails the comparison in node_query_refusal(). */
    q->has_addr = json_get(msg, "address", &v) && v.type != JSON_NULL
                  && !(v.type == JSON_STRING && v.len == 2);
    if (q->has_addr && json_string(&v, q->addr, sizeof(q->addr)) < 0) {
        snprintf(q->addr, sizeof(q->addr), "?");
    }
    if (q->has_addr) {
        /* It is logged: a "\n" in it would forge a log line. No address
         * has control characters, so it still fails to match. */
        char *c;

        for (c = q->addr; *c != '\0'; c++) {
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
    snprintf(q->key, sizeof(q->key), "%s:%s:%s:%s:%s", part[0], part[1],
             q->type, part[2], part[3]);
    return true;
}

/*
 * Why this master cannot serve what <q> asks for, as the libuv error its
 * listen() gets (logged), or 0 when it can.
 */
static int
node_query_refusal(const struct mworker *w, const struct node_query *q)
{
    const struct fleet *fl = w->fl;

    if (strcmp(q->type, "udp4") == 0 || strcmp(q->type, "udp6") == 0) {
        log_error(0,
                  "worker " MW_FMT " asked for a UDP socket; handoff "
                  "serves TCP only: its bind fails with ENOTSUP",
                  MW_ARGS(w));
        return UV_ENOTSUP;
    }
    if (q->fd >= 0 || q->port < 0) {
        log_error(0,
                  "worker " MW_FMT " asked to listen on %s; handoff "
                  "serves a TCP port only: its listen() fails with ENOTSUP",
                  MW_ARGS(w),
                  q->fd >= 0 ? "a file descriptor" : "a UNIX socket");
        return UV_ENOTSUP;
    }
    if (q->port != 0 && q->port != (int64_t) node_port(fl)) {
        log_error(0,
                  "worker " MW_FMT " called listen(%lld), but this master "
                  "serves port %u (--port): its listen() fails with "
                  "EADDRNOTAVAIL; run handoff with --port %lld, or have the "
                  "program listen on process.env.PORT",
                  MW_ARGS(w), (long long) q->port, node_port(fl),
                  (long long) q->port);
        return UV_EADDRNOTAVAIL;
    }
    if (q->has_addr && strcmp(q->addr, fl->opt->host) != 0) {
        log_error(0,
                  "worker " MW_FMT " asked for address %s, but this "
                  "master listens on %s (--host): its listen() fails with "
                  "EADDRNOTAVAIL; run handoff with --host %s",
                  MW_ARGS(w), q->addr, fl->opt->host, q->addr);
        return UV_EADDRNOTAVAIL;
    }
    if (node_of(w)->serving) {
        /* Node's primary would bind a second handle (index > 0) and fail
         * the same way: one server per worker takes the connections. */
        log_error(0,
                  "worker " MW_FMT " listens a second time on port %u; "
                  "only its first server gets connections: EADDRINUSE",
                  MW_ARGS(w), node_port(fl));
        return UV_EADDRINUSE;
    }
    return 0;
}

/* The worker called server.listen(). */
static void
node_query_server(struct mworker *w, const struct json_value *msg)
{
    struct fleet *fl = w->fl;
    struct node_link *nl = node_of(w);
    struct node_query q;
    int uverr;

    if (!node_query_read(w, msg, &q)) {
        return;
    }
    if (nl->disconnecting) {
        return; /* as Node's primary: a disconnecting worker gets nothing */
    }
    uverr = node_query_refusal(w, &q);
    if (uverr != 0) {
        node_reply_query(w, q.key, q.seq, uverr, -1);
        return;
    }
    node_keep_data(msg);
    nl->serving = true;
    memcpy(nl->key, q.key, sizeof(nl->key));
    node_reply_query(w, q.key, q.seq, 0, node_shared_fd(w));
    if (!w->ready) {
        workers_ready(w); /* RoundRobinHandle.add() hands off at once */
    } else if (!w->retiring && !w->shutdown_sent && !fl->stopping) {
        sched_worker_up(fl->sched, &w->sw); /* listening again */
    }
}

/* The worker's answer to newconn <ack>: find which connection it was. */
static void
node_answer(struct mworker *w, const struct json_value *msg, int64_t ack)
{
    struct fleet *fl = w->fl;
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
                 "worker " MW_FMT " answered message %lld, which is no "
                 "connection it holds; ignored",
                 MW_ARGS(w), (long long) ack);
        return;
    }
    (void) sched_ack(fl->sched, &w->sw, sc->id,
                     accepted ? SCHED_ACCEPTED : SCHED_REFUSED);
    /* The preload's answer counts the worker's connections, as a native
     * ACK does. Without it, what counts for least-loaded is how many
     * handoffs each worker has left unanswered. */
    if (!node_preload_ack(w, msg) && !node_of(w)->reports) {
        sched_note_load(&w->sw, 0, 0);
    }
    node_of(w)->asked_at = ev_now(fl->loop);
}

static void
node_cluster_message(struct mworker *w, const struct json_value *msg)
{
    struct fleet *fl = w->fl;
    struct node_link *nl = node_of(w);
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
        log_info("worker " MW_FMT " online", MW_ARGS(w));
    } else if (strcmp(act, "queryServer") == 0) {
        node_query_server(w, msg);
    } else if (strcmp(act, "listening") == 0) {
        log_info("worker " MW_FMT " listening", MW_ARGS(w));
    } else if (strcmp(act, "close") == 0) {
        if (nl->serving) {
            log_info("worker " MW_FMT " closed its server", MW_ARGS(w));
            nl->serving = false;
            sched_worker_leave(fl->sched, &w->sw);
        }
    } else if (strcmp(act, "exitedAfterDisconnect") == 0) {
        char body[64];

        nl->disconnecting = true;
        sched_worker_leave(fl->sched, &w->sw);
        if (json_get(msg, "seq", &v) && json_int(&v, &n)) {
            snprintf(body, sizeof(body), "\"ack\":%lld", (long long) n);
            node_send_cluster(w, body);
        }
        workers_left(w, "it disconnects (exitedAfterDisconnect)");
    }
}

/* A NODE_HANDLE from the worker (process.send(msg, handle)): an idle
 * connection the preload gives back is handed again (node_giveback.c);
 * of any other the master keeps no handle. Either is answered as Node
 * does, so the worker's queue moves. */
static void
node_worker_handle(struct mworker *w, const struct json_value *msg,
                   const char *line, size_t len)
{
    static const char ack[] = "{\"cmd\":\"NODE_HANDLE_ACK\"}";
    static const char nack[] = "{\"cmd\":\"NODE_HANDLE_NACK\"}";
    int fd = node_link_take_pending_fd(w);

    if (fd == -1) {
        (void) node_link_send_urgent(w, nack, sizeof(nack) - 1);
        return;
    }
    if (node_giveback_handle(w, msg, fd)) {
        /* Taken: the worker may close its handle now. */
        (void) node_link_send_urgent(w, ack, sizeof(ack) - 1);
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
    struct node_link *nl = node_of(w);
    uint64_t conn = nl->handle_conn;

    if (!nl->handle_in_flight) {
        log_warn(0, "worker " MW_FMT " acknowledged a handle never sent",
                 MW_ARGS(w));
        return;
    }
    node_link_handle_answered(w);
    if (got) {
        return;
    }
    if (conn == 0) {
        log_error(0,
                  "worker " MW_FMT " did not receive its listening "
                  "socket (NODE_HANDLE_NACK); killing it",
                  MW_ARGS(w));
        (void) kill(w->pid, SIGKILL);
        return;
    }
    /* Node would lose this connection; it goes back to the queue. */
    log_warn(0,
             "worker " MW_FMT " did not receive the fd of C%llu "
             "(NODE_HANDLE_NACK); it goes to the queue tail",
             MW_ARGS(w), (unsigned long long) conn);
    (void) sched_ack(w->fl->sched, &w->sw, conn, SCHED_REFUSED);
}

void
node_cluster_line(struct mworker *w, const char *line, size_t len)
{
    struct json_value msg, cmdv;
    char cmd[32];

    mworker_heard(w);
    if (w->fl->opt->trace) {
        node_link_trace(w, false, line, len, node_of(w)->pending_fd);
    }
    if (json_check(line, len, &msg) == JSON_INVALID) {
        char shown[64];

        node_shown(line, len, shown, sizeof(shown));
        log_warn(0,
                 "worker " MW_FMT " sent a line that is not JSON; "
                 "ignored: %s",
                 MW_ARGS(w), shown);
        return;
    }
    /* Node's test for an internal message: cmd is a string, NODE_... */
    if (msg.type != JSON_OBJECT || !json_get(&msg, "cmd", &cmdv)
        || cmdv.type != JSON_STRING || cmdv.len <= STRLEN_LIT("\"NODE_")
        || memcmp(cmdv.p, "\"NODE_", STRLEN_LIT("\"NODE_")) != 0
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
        node_worker_handle(w, &msg, line, len);
    } else if (strcmp(cmd, "NODE_HANDOFF") == 0) {
        node_preload_message(w, &msg);
    } else if (strncmp(cmd, "NODE_SOCKET_", STRLEN_LIT("NODE_SOCKET_")) == 0) {
        node_giveback_socket_list(w, cmd, &msg);
    }
    /* Other internal commands are not the cluster's business. */
}

/* The scheduler hands <c> to <w>: newconn, with the fd attached. */
void
node_cluster_newconn(struct mworker *w, struct mconn *c)
{
    struct node_link *nl = node_of(w);
    char buf[NODE_KEY_MAX * 6 + 192];
    size_t n;
    int rc;

    c->link_tag = node_seq++;
    n = (size_t) snprintf(buf, sizeof(buf),
                          "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\","
                          "\"msg\":{\"cmd\":\"NODE_CLUSTER\",\"act\":"
                          "\"newconn\",\"key\":");
    if (!json_put_string(buf, sizeof(buf), &n, nl->key, strlen(nl->key))) {
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
        nl->asked_at = ev_now(w->fl->loop);
    }
}

/* The channel is closing, however: what was counted is told now. */
void
node_cluster_last_words(struct mworker *w)
{
    struct node_link *nl = node_of(w);

    if (nl->user_hidden > 0) {
        log_info("worker " MW_FMT ": %u more message%s not shown", MW_ARGS(w),
                 nl->user_hidden, nl->user_hidden == 1 ? "" : "s");
        nl->user_hidden = 0;
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
    if (node_of(w)->disconnecting) {
        return;
    }
    node_of(w)->disconnecting = true;
    /* With the preload, a drain that closes no idle connection under its
     * client; it leaves by itself (exitedAfterDisconnect) when done. */
    if (!node_preload_drain(w)) {
        node_send_cluster(w, "\"act\":\"disconnect\"");
    }
}

/*
 * The channel closed (EOF or error). Connections it never accepted go to
 * other workers now; the process may live on to finish its requests, so
 * its slot gets a new worker without waiting for the exit.
 */
void
node_cluster_closed(struct mworker *w)
{
    mworker_lost(w);
    if (!w->exited) {
        workers_left(w, "its IPC channel closed");
    }
}

/* After the last worker: what the kind kept. */
void
node_cluster_fini(void)
{
    free(node_data);
    node_data = NULL;
}
