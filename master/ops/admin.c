/*
 * admin.c: the admin listener (--admin, off by default, loopback unless
 * an address is given): GET /stats (JSON), /metrics (Prometheus text),
 * / (a live dashboard), and for a load balancer or Kubernetes /healthz
 * (200 while the master runs: a liveness probe) and /readyz (200 only
 * while a worker is ready and the master accepts; 503 when none is,
 * during a graceful stop, and while accepting is paused). A deliberately
 * small HTTP/1.1 server: one request per connection, answered and closed
 * (oneshot.c).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept/acceptor.h"
#include "accept/inherit.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fdutil.h"
#include "fleet/fleet-t.h"
#include "log.h"
#include "numparse.h"
#include "ops/admin.h"
#include "ops/dashboard.h"
#include "ops/history.h"
#include "ops/oneshot.h"
#include "ops/ops-t.h"
#include "ops/stats.h"
#include "strlit.h"
#include "version.h"

#define ADMIN_BACKLOG 64

static struct oneshot admin_srv = {.fd = -1};

static void
admin_respond(struct sbuf *out, int status, const char *ctype, const char *body,
              size_t len, bool head)
{
    const char *reason = status == 200   ? "OK"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 431 ? "Request Header Fields Too Large"
                         : status == 503 ? "Service Unavailable"
                                         : "Bad Request";
    struct sbuf b = {0};

    sbuf_printf(&b,
                "HTTP/1.1 %d %s\r\nServer: handoff/%s (admin)\r\n"
                "Content-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                status, reason, HANDOFF_VERSION, ctype, len,
                status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head && len > 0 && !b.failed) {
        /* Bodies are text; a NUL-free copy through the formatter. */
        sbuf_printf(&b, "%.*s", (int) len, body);
    }
    *out = b;
}

/* A request head ends with an empty line (CRLF or, leniently, LF). */
static bool
admin_complete(const char *in, size_t len)
{
    return memmem(in, len, "\n\r\n", STRLEN_LIT("\n\r\n")) != NULL
           || memmem(in, len, "\n\n", STRLEN_LIT("\n\n")) != NULL;
}

/* A fixed text answer. */
static void
admin_text(struct sbuf *out, int status, const char *text, bool head)
{
    admin_respond(out, status, "text/plain", text, strlen(text), head);
}

/* /stats or /metrics: the figures, taken once, in one format. */
static void
admin_stats(struct oneshot *srv, bool prometheus, bool head, struct sbuf *out)
{
    struct stats_snapshot snap;
    struct sbuf body = {0};

    if (stats_take(&snap, srv->ctx) == -1) {
        out->failed = true;
        return;
    }
    if (prometheus) {
        stats_prometheus(&snap, &body);
        admin_respond(out, 200, "text/plain; version=0.0.4; charset=utf-8",
                      body.data, body.len, head);
    } else {
        stats_json(&snap, &body);
        admin_respond(out, 200, "application/json", body.data, body.len, head);
    }
    stats_release(&snap);
    sbuf_free(&body);
}

/*
 * /: the dashboard, with the figures of the moment and the history in
 * it, so that its first paint shows them. Inside a <script> element a
 * "</" would end it: the JSON's "<" (in strings only) become \u003c.
 */
static void
admin_dashboard(struct oneshot *srv, bool head, struct sbuf *out)
{
    struct stats_snapshot snap;
    struct sbuf json = {0}, page = {0};
    size_t i;

    if (stats_take(&snap, srv->ctx) == -1) {
        out->failed = true;
        return;
    }
    sbuf_printf(&json, "{\"stats\":");
    stats_json(&snap, &json);
    sbuf_printf(&json, ",\"history\":");
    history_json(0, &json);
    sbuf_printf(&json, "}");
    stats_release(&snap);
    sbuf_printf(&page, "%s", dashboard_top);
    for (i = 0; i < json.len && !json.failed;) {
        const char *lt = memchr(json.data + i, '<', json.len - i);
        size_t n = lt != NULL ? (size_t) (lt - json.data) - i : json.len - i;

        sbuf_printf(&page, "%.*s%s", (int) n, json.data + i,
                    lt != NULL ? "\\u003c" : "");
        i += n + (lt != NULL);
    }
    sbuf_printf(&page, "%s", dashboard_bottom);
    if (json.failed || page.failed) {
        out->failed = true;
    } else {
        admin_respond(out, 200, "text/html; charset=utf-8", page.data, page.len,
                      head);
    }
    sbuf_free(&json);
    sbuf_free(&page);
}

/* /history?since=SEQ: the samples after SEQ (all, without it). */
static void
admin_history(const char *query, bool head, struct sbuf *out)
{
    struct sbuf body = {0};
    const char *p = query != NULL ? strstr(query, "since=") : NULL;
    uint64_t since = 0;

    if (p != NULL) {
        char num[24];
        size_t n = strcspn(p + 6, "&");

        snprintf(num, sizeof(num), "%.*s", (int) (n < 23 ? n : 23), p + 6);
        if (!num_parse_cstr(num, 0, UINT64_MAX, &since)) {
            admin_text(out, 400, "since: a sample number\n", head);
            return;
        }
    }
    history_json(since, &body);
    sbuf_printf(&body, "\n");
    if (body.failed) {
        out->failed = true;
    } else {
        admin_respond(out, 200, "application/json", body.data, body.len, head);
    }
    sbuf_free(&body);
}

/*
 * /readyz: whether this master should be sent connections: a worker is
 * ready and it accepts (under none and reuseport, the workers do), and it
 * is not stopping. Why not, when not.
 */
static const char *
admin_not_ready(const struct ops_env *env)
{
    if (env->fleet->stopping) {
        return "stopping";
    }
    if (env->sched->nworkers == 0) {
        return "no_worker_ready";
    }
    if (env->lis->nopen == 0) {
        return "not_listening";
    }
    return acceptor_paused(env->acc);
}

static void
admin_health(struct oneshot *srv, bool ready, bool head, struct sbuf *out)
{
    const char *why = ready ? admin_not_ready(srv->ctx) : NULL;
    char body[96];

    if (why != NULL) {
        snprintf(body, sizeof(body), "{\"ready\":false,\"why\":\"%s\"}\n", why);
        admin_respond(out, 503, "application/json", body, strlen(body), head);
    } else {
        snprintf(body, sizeof(body),
                 ready ? "{\"ready\":true}\n" : "{\"alive\":true}\n");
        admin_respond(out, 200, "application/json", body, strlen(body), head);
    }
}

static void
admin_handle(struct oneshot *srv, const char *in, size_t inlen,
             struct sbuf *out)
{
    char method[8], target[256], *query;
    const char *sp1, *sp2, *eol;
    size_t mlen, tlen;
    bool head;

    if (!admin_complete(in, inlen)) {
        admin_text(out, inlen == ONESHOT_IN_MAX ? 431 : 400, "bad request\n",
                   false);
        return;
    }
    eol = memchr(in, '\n', inlen);
    if (eol != NULL && eol > in && eol[-1] == '\r') {
        eol--;
    }
    sp1 = memchr(in, ' ', inlen);
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t) (in + inlen - sp1 - 1))
                      : NULL;
    if (eol == NULL || sp1 == NULL || sp2 == NULL || sp2 > eol || sp1 == in
        || (size_t) (sp1 - in) >= sizeof(method)
        || (size_t) (sp2 - sp1 - 1) >= sizeof(target)
        || strncmp(sp2 + 1, "HTTP/1.", STRLEN_LIT("HTTP/1.")) != 0) {
        admin_text(out, 400, "bad request\n", false);
        return;
    }
    mlen = (size_t) (sp1 - in);
    memcpy(method, in, mlen);
    method[mlen] = '\0';
    tlen = (size_t) (sp2 - sp1 - 1);
    memcpy(target, sp1 + 1, tlen);
    target[tlen] = '\0';
    query = strchr(target, '?');
    if (query != NULL) {
        *query++ = '\0';
    }
    head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        admin_text(out, 405, "GET or HEAD only\n", false);
        return;
    }
    if (strcmp(target, "/healthz") == 0 || strcmp(target, "/readyz") == 0) {
        admin_health(srv, target[1] == 'r', head, out);
    } else if (strcmp(target, "/stats") == 0) {
        admin_stats(srv, false, head, out);
    } else if (strcmp(target, "/metrics") == 0) {
        admin_stats(srv, true, head, out);
    } else if (strcmp(target, "/history") == 0) {
        admin_history(query, head, out);
    } else if (strcmp(target, "/") == 0) {
        admin_dashboard(srv, head, out);
    } else {
        admin_text(out, 404, "not found\n", head);
    }
}

/*
 * Opens --admin, whose HOST and PORT options.c has checked. Returns 0,
 * or -1 with a line on stderr (the address cannot be bound).
 */
int
admin_open(struct ops_env *env)
{
    const struct master_options *o = env->opt;
    char desc[160];
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd;

    fd = inherit_take_admin();
    if (fd != -1) {
        sslen = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == -1) {
            fd_close(fd);
            fd = -1;
        } else {
            listener_describe((struct sockaddr *) &ss, desc, sizeof(desc));
        }
    }
    if (fd == -1) {
        fd = listener_open(o->admin_host, o->admin_port, ADMIN_BACKLOG, false,
                           &ss, &sslen, desc, sizeof(desc));
    }
    if (fd == -1) {
        fprintf(stderr, "handoff: --admin: %s\n", desc);
        return -1;
    }
    oneshot_start(&admin_srv, env->loop, env, fd, admin_complete, admin_handle);
    log_info("admin listening on http://%s/ (/stats, /metrics, /healthz, "
             "/readyz)",
             desc);
    return 0;
}

int
admin_fd(void)
{
    return admin_srv.fd;
}

void
admin_close(void)
{
    oneshot_stop(&admin_srv);
}
