/*
 * loadgen: the HTTP client of tools/experiment, one thread on epoll.
 *
 * Closed loop (--rate 0): --connections clients, each sending its next
 * request when the last one is answered, as wrk does; the figures it
 * gives are throughput, and latency that understates the tail
 * (coordinated omission: a slow answer also delays the requests that
 * would have been sent meanwhile, so they are never measured late).
 *
 * Open loop (--rate R): request i is due at start + i/R whatever happened
 * before, and its latency is measured from that due time, so time spent
 * waiting for a connection or a free client counts. --connections caps
 * the connections open at once (close: new ones wait their turn;
 * keepalive: the pool).
 *
 * Each connection is bound to one of --sources addresses, 127.0.0.1,
 * 127.0.0.2, ... in turn, so a policy keyed on the client address
 * (ip-hash) sees several clients. The X-Handoff-Worker and
 * X-Handoff-Request headers (asked for with X-Handoff-Debug) say which
 * worker served each request and whether it was the first on its
 * connection. One JSON line on stdout: counts, per-worker requests and
 * connections, latency percentiles and quantiles on a fixed grid.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
#define MAX_WORKERS 256
#define BUF_SIZE 4096
/* The quantile grid: p = 1 - 10^(-k/GRID_STEP), k = 0..GRID_POINTS-1,
 * from 0 to 0.9999: fine where the tail is. */
#define GRID_STEP 20
#define GRID_POINTS 81

enum mode { MODE_CLOSE, MODE_KEEPALIVE, MODE_MIXED };
enum cstate { C_FREE, C_CONNECTING, C_SENDING, C_READING, C_IDLE };

struct opts {
    struct in_addr host;
    int port;
    enum mode mode;
    double rate;      /* requests per second; 0: closed loop */
    int conns;        /* clients (closed) or the cap on connections (open) */
    double duration;  /* seconds of sending */
    int sources;      /* client addresses 127.0.0.1 .. 127.0.0.N */
    double heavy;     /* share of mixed requests that are heavy */
    uint64_t heavy_n; /* /cpu?n= of a heavy request */
    double timeout;   /* seconds before an unanswered request fails */
};

struct conn {
    int fd;
    enum cstate state;
    bool pooled;       /* opened ahead, to wait idle for a request */
    uint64_t start_ns; /* what its latency is measured from */
    bool heavy;
    size_t woff;
    size_t len;
    char buf[BUF_SIZE];
};

struct worker_count {
    long pid;
    uint64_t reqs;
    uint64_t conns;
};

struct stats {
    uint64_t *lat_ns;
    size_t nlat, cap;
    uint64_t errors, timeouts, heavy;
    uint64_t issue_lag_max_ns; /* open loop: how late a request started */
    struct worker_count workers[MAX_WORKERS];
    int nworkers;
};

static struct opts opt;
static struct conn conns[MAX_CONNS];
static struct stats st;
static int epfd;
static unsigned next_source;
static uint64_t rng = 0x9e3779b97f4a7c15ULL;
/* Open loop: due times of requests waiting for a connection (a ring). */
static uint64_t *backlog;
static size_t bl_head, bl_len, bl_cap;
static bool sending = true; /* before the end of --duration */

static uint64_t
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t) ts.tv_sec * 1000000000ULL + (uint64_t) ts.tv_nsec;
}

static void
die(const char *what)
{
    fprintf(stderr, "loadgen: %s\n", what);
    exit(2);
}

static double
rand01(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (double) (rng >> 11) / 9007199254740992.0;
}

static void
lat_push(uint64_t ns)
{
    if (st.nlat == st.cap) {
        size_t cap = st.cap ? st.cap * 2 : 65536;
        uint64_t *p = realloc(st.lat_ns, cap * sizeof(*p));

        if (p == NULL) {
            die("out of memory");
        }
        st.lat_ns = p;
        st.cap = cap;
    }
    st.lat_ns[st.nlat++] = ns;
}

static void
backlog_push(uint64_t due)
{
    if (bl_len == bl_cap) {
        size_t cap = bl_cap ? bl_cap * 2 : 1024, i;
        uint64_t *p = malloc(cap * sizeof(*p));

        if (p == NULL) {
            die("out of memory");
        }
        for (i = 0; i < bl_len; i++) {
            p[i] = backlog[(bl_head + i) % bl_cap];
        }
        free(backlog);
        backlog = p;
        bl_head = 0;
        bl_cap = cap;
    }
    backlog[(bl_head + bl_len++) % bl_cap] = due;
}

static uint64_t
backlog_pop(void)
{
    uint64_t due = backlog[bl_head];

    bl_head = (bl_head + 1) % bl_cap;
    bl_len--;
    return due;
}

static struct worker_count *
worker_of(long pid)
{
    int i;

    for (i = 0; i < st.nworkers; i++) {
        if (st.workers[i].pid == pid) {
            return &st.workers[i];
        }
    }
    if (st.nworkers == MAX_WORKERS) {
        return NULL;
    }
    st.workers[st.nworkers].pid = pid;
    return &st.workers[st.nworkers++];
}

static void
conn_close(struct conn *c)
{
    if (c->fd != -1) {
        close(c->fd); /* an error here leaves nothing to undo */
        c->fd = -1;
    }
    c->state = C_FREE;
}

static void
conn_watch(struct conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};

    if (epoll_ctl(epfd, op, c->fd, &ev) == -1) {
        perror("loadgen: epoll_ctl");
        exit(2);
    }
}

/* Starts a new connection for a request measured from <start>, or,
 * <pooled>, one that waits idle for a request once connected. */
static bool
conn_open(struct conn *c, uint64_t start, bool pooled)
{
    struct sockaddr_in src = {.sin_family = AF_INET};
    struct sockaddr_in dst = {.sin_family = AF_INET};
    int one = 1;

    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd == -1) {
        st.errors++;
        c->state = C_FREE;
        return false;
    }
    /* The port is chosen at connect(), per destination, not at bind(). */
    (void) setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
                      sizeof(one));
    (void) setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    src.sin_addr.s_addr = htonl(0x7f000001U + next_source++ % opt.sources);
    dst.sin_addr = opt.host;
    dst.sin_port = htons((uint16_t) opt.port);
    if (bind(c->fd, (struct sockaddr *) &src, sizeof(src)) == -1
        || (connect(c->fd, (struct sockaddr *) &dst, sizeof(dst)) == -1
            && errno != EINPROGRESS)) {
        st.errors++;
        conn_close(c);
        return false;
    }
    c->start_ns = start;
    c->pooled = pooled;
    c->state = C_CONNECTING;
    c->len = 0;
    c->woff = 0;
    conn_watch(c, EPOLLOUT, EPOLL_CTL_ADD);
    return true;
}

static int
request_text(const struct conn *c, char *out, size_t size)
{
    const char *close_hdr =
        opt.mode == MODE_KEEPALIVE ? "" : "Connection: close\r\n";

    if (c->heavy) {
        return snprintf(out, size,
                        "GET /cpu?n=%llu HTTP/1.1\r\nHost: loadgen\r\n"
                        "X-Handoff-Debug: 1\r\n%s\r\n",
                        (unsigned long long) opt.heavy_n, close_hdr);
    }
    return snprintf(out, size,
                    "GET / HTTP/1.1\r\nHost: loadgen\r\n"
                    "X-Handoff-Debug: 1\r\n%s\r\n",
                    close_hdr);
}

/* Writes what is left of the request; false if the connection failed. */
static bool
conn_send(struct conn *c)
{
    char req[256];
    int n = request_text(c, req, sizeof(req));

    while (c->woff < (size_t) n) {
        ssize_t w = write(c->fd, req + c->woff, (size_t) n - c->woff);

        if (w == -1 && errno == EINTR) {
            continue;
        }
        if (w == -1 && errno == EAGAIN) {
            conn_watch(c, EPOLLOUT, EPOLL_CTL_MOD);
            c->state = C_SENDING;
            return true;
        }
        if (w <= 0) {
            return false;
        }
        c->woff += (size_t) w;
    }
    c->state = C_READING;
    c->len = 0;
    conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
    return true;
}

/* Begins a request on a connected <c>, measured from <start>. */
static bool
conn_request(struct conn *c, uint64_t start)
{
    c->start_ns = start;
    c->heavy = opt.mode == MODE_MIXED && rand01() < opt.heavy;
    c->woff = 0;
    if (c->heavy) {
        st.heavy++;
    }
    return conn_send(c);
}

/* The value of header <name> (with its ": ") in <head>, or NULL. */
static const char *
header(const char *head, const char *name)
{
    const char *p = head;
    size_t n = strlen(name);

    while ((p = strstr(p, "\r\n")) != NULL) {
        p += 2;
        if (strncasecmp(p, name, n) == 0) {
            return p + n;
        }
    }
    return NULL;
}

struct response {
    int status;
    long worker;
    bool first;
    bool closing;
};

/* 1: a whole response is in c->buf; 0: not yet; -1: not HTTP. */
static int
response_parse(struct conn *c, struct response *r)
{
    char *end;
    const char *v;
    size_t head, clen;

    c->buf[c->len] = '\0';
    end = strstr(c->buf, "\r\n\r\n");
    if (end == NULL) {
        return c->len >= BUF_SIZE - 1 ? -1 : 0;
    }
    head = (size_t) (end - c->buf) + 4;
    *end = '\0'; /* for header(); the body is counted, not read */
    if (sscanf(c->buf, "HTTP/1.%*d %d", &r->status) != 1) {
        return -1;
    }
    v = header(c->buf, "content-length: ");
    clen = v ? (size_t) strtoul(v, NULL, 10) : 0;
    v = header(c->buf, "x-handoff-worker: ");
    r->worker = v ? strtol(v, NULL, 10) : 0;
    v = header(c->buf, "x-handoff-request: ");
    r->first = v != NULL && strtol(v, NULL, 10) == 1;
    v = header(c->buf, "connection: ");
    r->closing = v != NULL && strncasecmp(v, "close", 5) == 0;
    *end = '\r';
    if (c->len < head + clen) {
        return head + clen >= BUF_SIZE ? -1 : 0;
    }
    return 1;
}

static void
record(const struct response *r, uint64_t latency)
{
    struct worker_count *w;

    if (r->status != 200) {
        st.errors++;
        return;
    }
    lat_push(latency);
    w = worker_of(r->worker);
    if (w != NULL) {
        w->reqs++;
        w->conns += r->first;
    }
}


/* <c> is done with a request (or failed): what it does next. A closed
 * loop's client sends again at once; in the open loop, a request waiting
 * for a connection takes it. */
static void
conn_next(struct conn *c, bool reusable)
{
    if (!reusable) {
        conn_close(c);
    }
    if (opt.rate == 0) {
        if (!sending) {
            conn_close(c);
        } else if (reusable) {
            if (!conn_request(c, now_ns())) {
                st.errors++;
                conn_close(c); /* run() opens it again */
            }
        } else {
            (void) conn_open(c, now_ns(), false);
        }
        return;
    }
    if (reusable) {
        c->state = C_IDLE;
    }
    if (bl_len == 0) {
        return;
    }
    if (reusable) {
        if (!conn_request(c, backlog_pop())) {
            st.errors++;
            conn_close(c);
        }
    } else {
        (void) conn_open(c, backlog_pop(), false);
    }
}

static void
conn_readable(struct conn *c)
{
    struct response r;
    ssize_t n;
    int done;

    for (;;) {
        n = read(c->fd, c->buf + c->len, BUF_SIZE - 1 - c->len);
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 && errno == EAGAIN) {
            return;
        }
        if (n <= 0) {
            st.errors++; /* closed or reset before the whole answer */
            conn_next(c, false);
            return;
        }
        c->len += (size_t) n;
        done = response_parse(c, &r);
        if (done == 0) {
            continue;
        }
        if (done < 0) {
            st.errors++;
            conn_next(c, false);
            return;
        }
        record(&r, now_ns() - c->start_ns);
        conn_next(c, opt.mode == MODE_KEEPALIVE && !r.closing);
        return;
    }
}

static void
conn_event(struct conn *c, uint32_t events)
{
    int err = 0;
    socklen_t len = sizeof(err);

    if (c->state == C_CONNECTING) {
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1
            || err != 0) {
            st.errors++;
            conn_next(c, false);
            return;
        }
        if (c->pooled) {
            c->pooled = false;
            conn_watch(c, EPOLLIN, EPOLL_CTL_MOD);
            conn_next(c, true);
        } else if (!conn_request(c, c->start_ns)) {
            st.errors++;
            conn_next(c, false);
        }
        return;
    }
    if (c->state == C_SENDING) {
        if (!conn_send(c)) {
            st.errors++;
            conn_next(c, false);
        }
        return;
    }
    if (c->state == C_READING && (events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
        conn_readable(c);
    } else if (c->state == C_IDLE) {
        conn_next(c, false); /* the server closed an idle keep-alive */
    }
}

/* Open loop: request <due> goes to the idle connection that has waited
 * longest (keep-alive: every connection of the pool carries requests), a
 * new connection, or the queue of those waiting for one. */
static void
issue(uint64_t due)
{
    static int cursor;
    uint64_t lag = now_ns() - due;
    int i;

    if (lag > st.issue_lag_max_ns) {
        st.issue_lag_max_ns = lag;
    }
    for (i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[(cursor + i) % opt.conns];

        if (c->state == C_IDLE) {
            cursor = (int) (c - conns + 1) % opt.conns;
            if (!conn_request(c, due)) {
                st.errors++;
                conn_close(c);
            }
            return;
        }
    }
    for (i = 0; i < opt.conns; i++) {
        if (conns[i].state == C_FREE) {
            (void) conn_open(&conns[i], due, false);
            return;
        }
    }
    backlog_push(due);
}

/* Requests older than --timeout fail, and their connections close. */
static void
expire(uint64_t now)
{
    uint64_t limit = (uint64_t) (opt.timeout * 1e9);
    int i;

    for (i = 0; i < opt.conns; i++) {
        struct conn *c = &conns[i];

        if (c->state == C_FREE || c->state == C_IDLE
            || now - c->start_ns <= limit) {
            continue;
        }
        if (c->pooled) {
            conn_close(c); /* no request on it yet: nothing failed */
        } else {
            st.timeouts++;
            conn_next(c, false);
        }
    }
    while (bl_len > 0 && now - backlog[bl_head] > limit) {
        (void) backlog_pop();
        st.timeouts++;
    }
}

/* Requests under way: on a connection, or waiting for one. */
static uint64_t
in_flight(void)
{
    uint64_t n = bl_len;
    int i;

    for (i = 0; i < opt.conns; i++) {
        n += conns[i].state != C_FREE && conns[i].state != C_IDLE
             && !conns[i].pooled;
    }
    return n;
}

/* A closed loop keeps --connections clients; keep-alive pools them. */
static void
refill(uint64_t now)
{
    int i;

    if (opt.rate > 0 && opt.mode != MODE_KEEPALIVE) {
        return;
    }
    for (i = 0; i < opt.conns; i++) {
        if (conns[i].state == C_FREE) {
            (void) conn_open(&conns[i], now, opt.rate > 0);
        }
    }
}

/* Runs until --duration is over and, in the open loop, every request is
 * answered or has timed out. */
static uint64_t
run(void)
{
    struct epoll_event evs[256];
    uint64_t t0 = now_ns(), next_due = t0, issued = 0, last_expire = t0;
    uint64_t t_end = t0 + (uint64_t) (opt.duration * 1e9), drain_end;
    int i, n;

    drain_end = t_end + (uint64_t) (opt.timeout * 1e9) + 1000000000ULL;
    refill(t0);
    for (;;) {
        uint64_t now = now_ns(), wake = now + 100000000ULL;
        struct timespec ts;

        /* Every request due before the end is sent, even if this turn
         * comes late (the machine stalled us past the end). */
        while (sending && opt.rate > 0 && next_due <= now && next_due < t_end) {
            issue(next_due);
            issued++;
            next_due = t0 + (uint64_t) ((double) issued * 1e9 / opt.rate);
        }
        if (sending && now >= t_end) {
            sending = false;
            if (opt.rate == 0) {
                break; /* what is in flight is not counted, as in wrk */
            }
        }
        if (!sending && (in_flight() == 0 || now >= drain_end)) {
            break;
        }
        if (sending && opt.rate == 0) {
            refill(now);
        }
        if (now - last_expire >= 100000000ULL) {
            expire(now);
            last_expire = now;
        }
        if (sending && opt.rate > 0 && next_due < wake) {
            wake = next_due;
        }
        if (sending && t_end < wake) {
            wake = t_end;
        }
        wake = wake > now ? wake - now : 0;
        ts.tv_sec = (time_t) (wake / 1000000000ULL);
        ts.tv_nsec = (long) (wake % 1000000000ULL);
        n = epoll_pwait2(epfd, evs, 256, &ts, NULL);
        if (n == -1 && errno != EINTR) {
            perror("loadgen: epoll_pwait2");
            exit(2);
        }
        for (i = 0; i < n; i++) {
            conn_event(evs[i].data.ptr, evs[i].events);
        }
    }
    if (opt.rate > 0) {
        st.timeouts += in_flight(); /* the drain's deadline passed */
    }
    return now_ns() - t0;
}

static int
cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

    return x < y ? -1 : x > y;
}

/* The latency at quantile <p> of the sorted samples, in microseconds. */
static double
quantile_us(double p)
{
    size_t i;

    if (st.nlat == 0) {
        return 0;
    }
    i = (size_t) ceil(p * (double) st.nlat);
    i = i == 0 ? 0 : i - 1;
    if (i >= st.nlat) {
        i = st.nlat - 1;
    }
    return (double) st.lat_ns[i] / 1000.0;
}

static void
print_counts(const char *name, bool conns_not_reqs)
{
    int i;

    printf("\"%s\":{", name);
    for (i = 0; i < st.nworkers; i++) {
        printf("%s\"%ld\":%llu", i ? "," : "", st.workers[i].pid,
               (unsigned long long) (conns_not_reqs ? st.workers[i].conns
                                                    : st.workers[i].reqs));
    }
    printf("}");
}

static void
report(uint64_t elapsed_ns)
{
    int k;

    qsort(st.lat_ns, st.nlat, sizeof(*st.lat_ns), cmp_u64);
    printf("LOADGEN {\"requests\":%zu,\"errors\":%llu,\"timeouts\":%llu,"
           "\"heavy\":%llu,\"duration_s\":%.6f,\"elapsed_s\":%.6f,"
           "\"rate\":%.1f,\"connections\":%d,\"sources\":%d,"
           "\"issue_lag_max_us\":%.1f,",
           st.nlat, (unsigned long long) st.errors,
           (unsigned long long) st.timeouts, (unsigned long long) st.heavy,
           opt.duration, (double) elapsed_ns / 1e9, opt.rate, opt.conns,
           opt.sources, (double) st.issue_lag_max_ns / 1000.0);
    printf("\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
           "\"p999_us\":%.1f,\"max_us\":%.1f,",
           quantile_us(0.5), quantile_us(0.9), quantile_us(0.99),
           quantile_us(0.999), quantile_us(1.0));
    printf("\"grid_step\":%d,\"q_us\":[", GRID_STEP);
    for (k = 0; k < GRID_POINTS; k++) {
        printf("%s%.1f", k ? "," : "",
               quantile_us(1.0 - pow(10.0, -(double) k / GRID_STEP)));
    }
    printf("],");
    print_counts("reqs", false);
    printf(",");
    print_counts("conns", true);
    printf("}\n");
}

static double
num_arg(const char *flag, const char *v, double min, double max)
{
    char *end;
    double d;

    errno = 0;
    d = strtod(v, &end);
    if (errno != 0 || end == v || *end != '\0' || !(d >= min && d <= max)) {
        fprintf(stderr, "loadgen: bad value for %s: %s\n", flag, v);
        exit(2);
    }
    return d;
}

static void
parse_args(int argc, char **argv)
{
    int i;

    opt.conns = 64;
    opt.duration = 4;
    opt.sources = 1;
    opt.heavy_n = 5000000;
    opt.timeout = 10;
    opt.port = -1;
    inet_pton(AF_INET, "127.0.0.1", &opt.host);
    for (i = 1; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];

        if (strcmp(f, "--port") == 0) {
            opt.port = (int) num_arg(f, v, 1, 65535);
        } else if (strcmp(f, "--mode") == 0 && strcmp(v, "close") == 0) {
            opt.mode = MODE_CLOSE;
        } else if (strcmp(f, "--mode") == 0 && strcmp(v, "keepalive") == 0) {
            opt.mode = MODE_KEEPALIVE;
        } else if (strcmp(f, "--mode") == 0 && strcmp(v, "mixed") == 0) {
            opt.mode = MODE_MIXED;
        } else if (strcmp(f, "--mode") == 0) {
            die("--mode is close, keepalive or mixed");
        } else if (strcmp(f, "--rate") == 0) {
            opt.rate = num_arg(f, v, 0, 1e6);
        } else if (strcmp(f, "--connections") == 0) {
            opt.conns = (int) num_arg(f, v, 1, MAX_CONNS);
        } else if (strcmp(f, "--duration") == 0) {
            opt.duration = num_arg(f, v, 0.05, 3600);
        } else if (strcmp(f, "--sources") == 0) {
            opt.sources = (int) num_arg(f, v, 1, 254);
        } else if (strcmp(f, "--heavy-share") == 0) {
            opt.heavy = num_arg(f, v, 0, 1);
        } else if (strcmp(f, "--heavy-n") == 0) {
            opt.heavy_n = (uint64_t) num_arg(f, v, 0, 1e9);
        } else if (strcmp(f, "--timeout") == 0) {
            opt.timeout = num_arg(f, v, 0.1, 600);
        } else if (strcmp(f, "--seed") == 0) {
            rng = (uint64_t) num_arg(f, v, 1, 1e15);
        } else {
            fprintf(stderr, "loadgen: unknown option %s\n", f);
            exit(2);
        }
    }
    if (i != argc || opt.port == -1) {
        die("usage: loadgen --port P [--mode close|keepalive|mixed] "
            "[--rate R] [--connections N] [--duration S] [--sources N] "
            "[--heavy-share F] [--heavy-n N] [--timeout S] [--seed N]");
    }
}

int
main(int argc, char **argv)
{
    int i;

    parse_args(argc, argv);
    for (i = 0; i < MAX_CONNS; i++) {
        conns[i].fd = -1;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd == -1) {
        perror("loadgen: epoll_create1");
        return 2;
    }
    report(run());
    return 0;
}
