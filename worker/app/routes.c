/*
 * routes.c: what each request gets. With --demo-routes on (the default
 * without --root), the demo routes of the seeds' Node example:
 *
 *   GET /          200 text/plain "Hello from worker <pid>\n"
 *   GET /cpu?n=N   a busy loop of N iterations on the event loop, then 200
 *                  application/json {"success":true,"worker":<pid>}
 *   GET /cpu?n=N&offload=1
 *                  the same loop on the worker's thread pool (--threads),
 *                  while the event loop serves other connections; the
 *                  body adds "offloaded":true. With --threads 0 it runs
 *                  on the event loop as above, and says "offloaded":false.
 *                  With every thread busy and POOL_QUEUE_PER_THREAD jobs
 *                  per thread waiting: 503 with Retry-After: 1.
 *
 * A demo route with another method gets 405. With --root, every other
 * path (all of them with --demo-routes off, / too) is a file (static.c);
 * without, 404.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/pool.h"
#include "container_of.h"
#include "log.h"
#include "numparse.h"

#define CPU_DEFAULT_N 500000
#define CPU_MAX_N 1000000000ULL /* about a second of one core */
#define CPU_REPORT_N 1000000    /* about a millisecond: worth a report */

#define ALLOW_GET_HEAD "Allow: GET, HEAD, OPTIONS\r\n"
#define ALLOW_STATIC "Allow: GET, HEAD\r\n"

static bool routes_demo; /* --demo-routes */

enum route {
    ROUTE_ALLOW,      /* OPTIONS of "*" or of a demo route: 204 */
    ROUTE_BAD_TARGET, /* 400, then close */
    ROUTE_NOT_FOUND,
    ROUTE_DEMO_NOT_ALLOWED,   /* a demo route with another method: 405 */
    ROUTE_STATIC_NOT_ALLOWED, /* a file with another method: 405 */
    ROUTE_HELLO,
    ROUTE_CPU,
    ROUTE_STATIC,
};

void
routes_init(bool demo_routes)
{
    routes_demo = demo_routes;
}

/* The parts of a request target. */
struct routes_target {
    const char *path, *query;
    size_t plen, qlen;
};

/*
 * Splits a request target into path and query. Accepts origin-form
 * ("/a?b") and absolute-form ("http://host/a?b", RFC 9112 §3.2.2).
 * Returns false for anything else.
 */
static bool
routes_split(const char *url, size_t len, const char **path, size_t *plen,
             const char **query, size_t *qlen)
{
    const char *end = url + len, *q;

    size_t scheme = len >= 7 && strncasecmp(url, "http://", 7) == 0    ? 7
                    : len >= 8 && strncasecmp(url, "https://", 8) == 0 ? 8
                                                                       : 0;

    if (scheme > 0) {
        const char *p = memchr(url + scheme, '/', len - scheme);

        if (p == NULL) {
            *path = "/";
            *plen = 1;
            *query = NULL;
            *qlen = 0;
            return true;
        }
        url = p;
        len = (size_t) (end - p);
    }
    if (len == 0 || url[0] != '/') {
        return false;
    }
    q = memchr(url, '?', len);
    *path = url;
    *plen = q != NULL ? (size_t) (q - url) : len;
    *query = q != NULL ? q + 1 : NULL;
    *qlen = q != NULL ? (size_t) (end - q - 1) : 0;
    return true;
}

/* Finds parameter <name> in <query>; returns false if it is absent. */
static bool
routes_param(const char *query, size_t qlen, const char *name, const char **val,
             size_t *vlen)
{
    size_t nlen = strlen(name);
    const char *p = query, *end = query + qlen;

    while (p != NULL && p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *stop = amp != NULL ? amp : end;

        if ((size_t) (stop - p) > nlen && memcmp(p, name, nlen) == 0
            && p[nlen] == '=') {
            *val = p + nlen + 1;
            *vlen = (size_t) (stop - *val);
            return true;
        }
        if ((size_t) (stop - p) == nlen && memcmp(p, name, nlen) == 0) {
            *val = stop;
            *vlen = 0;
            return true;
        }
        p = amp != NULL ? amp + 1 : NULL;
    }
    return false;
}

static void
routes_hello(struct conn *c)
{
    static char body[64];
    static size_t len;

    if (len == 0) { /* the same every time: made once */
        len = (size_t) snprintf(body, sizeof(body), "Hello from worker %ld\n",
                                (long) engine.pid);
    }
    response_simple(c, 200, "text/plain", body, len, NULL);
}

#define CPU_CANCEL_CHECK 0xfffff /* a job polls its cancel flag every 1M */

/*
 * The loop the seeds' Node example runs; volatile keeps it from folding.
 * On a pool thread <j> is its job, and a cancelled job stops early: a
 * thread running up to CPU_MAX_N for a client that reset, or for a worker
 * that exits (pool_stop() waits for running jobs), would burn a core for
 * a result nobody reads. Returns false if it stopped early.
 */
static bool
routes_spin(uint64_t n, const struct pool_job *j)
{
    volatile uint64_t acc = 0;
    uint64_t i;

    for (i = 0; i < n; i++) {
        if ((i & CPU_CANCEL_CHECK) == 0 && j != NULL && pool_cancelled(j)) {
            return false;
        }
        acc = acc + (i ^ (acc >> 3));
    }
    return true;
}

/* A /cpu request on the pool; job.data is its connection, or NULL. */
struct routes_job {
    struct pool_job job;
    uint64_t n;
    uint64_t conn_id; /* for the trace once the connection is gone */
    bool trace;       /* engine.trace when queued: handoffctl changes it */
    bool stopped;     /* work() saw the job cancelled and stopped early */
};

/* <offload>: the request asked for it; <offloaded>: it ran on the pool. */
static void
routes_cpu_reply(struct conn *c, bool offload, bool offloaded)
{
    char body[96];
    int len;

    if (offload) {
        len = snprintf(body, sizeof(body),
                       "{\"success\":true,\"worker\":%ld,\"offloaded\":%s}",
                       (long) engine.pid, offloaded ? "true" : "false");
    } else {
        len = snprintf(body, sizeof(body), "{\"success\":true,\"worker\":%ld}",
                       (long) engine.pid);
    }
    response_simple(c, 200, "application/json", body, (size_t) len, NULL);
}

/* On a pool thread: touches nothing but the job (and the log). */
static void
routes_job_work(struct pool_job *j)
{
    struct routes_job *rj = container_of(j, struct routes_job, job);

    if (rj->trace) {
        log_trace("C%llu /cpu job running on a pool thread",
                  (unsigned long long) rj->conn_id);
    }
    rj->stopped = !routes_spin(rj->n, j);
}

/*
 * Back on the loop: answers, and lets the connection go on. A job whose
 * connection was freed meanwhile (routes_conn_closed cleared data) is
 * dropped; only such a job can come back without having run.
 */
static void
routes_job_done(struct pool_job *j)
{
    struct routes_job *rj = container_of(j, struct routes_job, job);
    struct conn *c = j->data;
    unsigned long long id = (unsigned long long) rj->conn_id;
    const char *how = !j->ran       ? "cancelled before it ran"
                      : rj->stopped ? "stopped early"
                                    : "done";

    free(rj);
    if (c == NULL) {
        if (engine.trace) {
            log_trace("C%llu /cpu job %s; its connection is gone: result "
                      "dropped",
                      id, how);
        }
        return;
    }
    if (engine.trace) {
        log_trace("C%llu /cpu job done", id);
    }
    conn_job_resume(c);
    routes_cpu_reply(c, true, true);
    conn_job_done(c);
}

/* Gives the loop to the pool; a full queue is answered 503 at once. */
static void
routes_cpu_offload(struct conn *c, uint64_t n)
{
    static const char busy[] = "503 Service Unavailable: every thread is "
                               "busy\n";
    struct routes_job *rj = calloc(1, sizeof(*rj));

    if (rj == NULL) {
        response_error(c, 503);
        return;
    }
    rj->job.work = routes_job_work;
    rj->job.done = routes_job_done;
    rj->job.data = c;
    rj->n = n;
    rj->conn_id = c->id;
    rj->trace = engine.trace;
    if (pool_submit(&rj->job) == -1) {
        free(rj);
        response_simple(c, 503, "text/plain", busy, sizeof(busy) - 1,
                        "Retry-After: 1\r\n");
        return;
    }
    c->job = &rj->job; /* the engine pins the connection until it is done */
    if (engine.trace) {
        log_trace("C%llu /cpu n=%llu offloaded", (unsigned long long) c->id,
                  (unsigned long long) n);
    }
}

static void
routes_cpu(struct conn *c, const char *query, size_t qlen)
{
    uint64_t n = CPU_DEFAULT_N;
    const char *val;
    size_t vlen;
    bool offload = false;

    if (query != NULL && routes_param(query, qlen, "offload", &val, &vlen)) {
        if (vlen != 1 || (val[0] != '0' && val[0] != '1')) {
            static const char msg[] = "offload must be 0 or 1\n";

            response_simple(c, 400, "text/plain", msg, sizeof(msg) - 1, NULL);
            return;
        }
        offload = val[0] == '1';
    }
    if (query != NULL && routes_param(query, qlen, "n", &val, &vlen)) {
        size_t i;

        /* Digits only; any larger value means the cap. */
        for (i = 0; i < vlen && val[i] >= '0' && val[i] <= '9'; i++) {
        }
        if (vlen == 0 || i < vlen) {
            static const char msg[] = "n must be a non-negative integer\n";

            response_simple(c, 400, "text/plain", msg, sizeof(msg) - 1, NULL);
            return;
        }
        if (!num_parse_u64(val, vlen, 0, CPU_MAX_N, &n)) {
            n = CPU_MAX_N;
        }
    }
    if (offload && pool_threads() > 0) {
        routes_cpu_offload(c, n);
        return;
    }
    if (n >= CPU_REPORT_N) {
        engine.hooks.blocking();
    }
    (void) routes_spin(n, NULL);
    /* The spin may have taken a while: keep Date and timers honest. */
    ev_now_update(engine.loop);
    routes_cpu_reply(c, offload, false);
}

/* Which route answers <c>'s request; fills <t> for those that need it. */
static enum route
routes_pick(const struct conn *c, struct routes_target *t)
{
    const char *url;
    size_t ulen;
    unsigned method = c->parser.method;
    bool get = method == HTTP_GET || method == HTTP_HEAD;
    bool root, cpu;

    url = http_url(&c->req, &ulen);
    if (ulen == 1 && url[0] == '*' && method == HTTP_OPTIONS) {
        return ROUTE_ALLOW;
    }
    if (!routes_split(url, ulen, &t->path, &t->plen, &t->query, &t->qlen)) {
        return ROUTE_BAD_TARGET;
    }
    root = t->plen == 1;
    cpu = t->plen == 4 && memcmp(t->path, "/cpu", 4) == 0;
    if (routes_demo && (root || cpu)) {
        if (method == HTTP_OPTIONS) {
            return ROUTE_ALLOW;
        }
        if (!get) {
            return ROUTE_DEMO_NOT_ALLOWED;
        }
        return root ? ROUTE_HELLO : ROUTE_CPU;
    }
    if (!static_enabled()) {
        return ROUTE_NOT_FOUND;
    }
    return get ? ROUTE_STATIC : ROUTE_STATIC_NOT_ALLOWED;
}

int
routes_refusal(const struct conn *c)
{
    struct routes_target t;

    switch (routes_pick(c, &t)) {
    case ROUTE_BAD_TARGET:
        return 400;
    case ROUTE_NOT_FOUND:
        return 404;
    case ROUTE_DEMO_NOT_ALLOWED:
    case ROUTE_STATIC_NOT_ALLOWED:
        return 405;
    case ROUTE_STATIC:
        /* A file that is not there is not there whatever the body. */
        return static_refusal(t.path, t.plen);
    default:
        return 0;
    }
}

void
routes_handle(struct conn *c)
{
    struct routes_target t;
    enum route route = routes_pick(c, &t);

    if (engine.trace) {
        size_t ulen;
        const char *url = http_url(&c->req, &ulen);

        log_trace("C%llu %s %.*s", (unsigned long long) c->id,
                  llhttp_method_name((llhttp_method_t) c->parser.method),
                  (int) (ulen > 200 ? 200 : ulen), url);
    }
    switch (route) {
    case ROUTE_ALLOW:
        response_simple(c, 204, NULL, NULL, 0, ALLOW_GET_HEAD);
        break;
    case ROUTE_BAD_TARGET:
        c->close_after = true;
        response_error(c, 400);
        break;
    case ROUTE_NOT_FOUND:
        response_error(c, 404);
        break;
    case ROUTE_DEMO_NOT_ALLOWED:
        response_simple(c, 405, "text/plain", "405 Method Not Allowed\n", 23,
                        ALLOW_GET_HEAD);
        break;
    case ROUTE_STATIC_NOT_ALLOWED:
        response_simple(c, 405, "text/plain", "405 Method Not Allowed\n", 23,
                        ALLOW_STATIC);
        break;
    case ROUTE_HELLO:
        routes_hello(c);
        break;
    case ROUTE_CPU:
        routes_cpu(c, t.query, t.qlen);
        break;
    case ROUTE_STATIC:
        static_serve(c, t.path, t.plen);
        break;
    }
}

/* <c> goes: a job still out for it comes back to nobody (see
 * routes_job_done), and one not yet started never runs. */
void
routes_conn_closed(struct conn *c)
{
    struct pool_job *j = c->job;

    if (j != NULL) {
        j->data = NULL;
        pool_cancel(j);
    }
}
