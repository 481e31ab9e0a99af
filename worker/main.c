/*
 * main.c: the handoff-worker program, started by the handoff master with
 * its channel on fd 3. It serves connections the master hands it until
 * told to stop (SHUTDOWN, SIGTERM, SIGINT) or until the master goes away,
 * then finishes what is in flight and exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app/app.h"
#include "app/pool.h"
#include "channel.h"
#include "conn_state.h"
#include "fdutil.h"
#include "http/http.h"
#include "http/tls.h"
#include "http_limits.h"
#include "listen.h"
#include "log.h"
#include "numparse.h"
#include "report.h"
#include "version.h"
#include "worker.h"

/* What the flags configure the application with. */
static struct {
    const char *root;       /* --root, absolute, or NULL */
    const char *access_log; /* --access-log path, "-" for stderr, or NULL */
    bool demo_routes;       /* --demo-routes: / and /cpu answer the demo */
    enum log_level log_level;
    enum log_format log_format;
    /* --tls-cert, --tls-key (paired in order), --tls-ciphers */
    const char *tls_cert[8], *tls_key[8];
    unsigned ntls_cert, ntls_key;
    const char *tls_ciphers;
    bool check_tls; /* --check-tls: load them, say why not, exit */
} opts;

/* --tls-cert ('C'), --tls-key ('K') or --tls-ciphers ('P'). */
static bool
worker_parse_tls(int c, const char *arg)
{
    const unsigned max = sizeof(opts.tls_cert) / sizeof(opts.tls_cert[0]);

    if (c == 'P') {
        opts.tls_ciphers = arg;
    } else if (c == 'C' && opts.ntls_cert < max) {
        opts.tls_cert[opts.ntls_cert++] = arg;
    } else if (c == 'K' && opts.ntls_key < max) {
        opts.tls_key[opts.ntls_key++] = arg;
    } else {
        return false;
    }
    return true;
}

/* --log-level ('l'), --log-format ('f') or --rehand-slots ('R'), as
 * the master passes them. */
static bool
worker_parse_more(int c, const char *arg)
{
    uint64_t v;

    if (c == 'R') {
        /* The table itself is on fd REHAND_FD (conn_state.h). */
        if (!num_parse_cstr(arg, 1, UINT32_MAX, &v)) {
            return false;
        }
        engine.rehand_slots = (uint32_t) v;
        return true;
    }
    return c == 'l' ? log_level_parse(arg, &opts.log_level)
                    : log_format_parse(arg, &opts.log_format);
}

/* The flags that name files, how to log and the state table's size:
 * --root, --access-log, --log-*, --tls-*, --rehand-slots; false for
 * another letter or a bad value. */
static bool
worker_parse_file_flags(int c, const char *arg)
{
    switch (c) {
    case 'r':
        opts.root = arg;
        return true;
    case 'a':
        opts.access_log = arg;
        return true;
    case 'l':
    case 'f':
    case 'R':
        return worker_parse_more(c, arg);
    case 'C':
    case 'K':
    case 'P':
        return worker_parse_tls(c, arg);
    default:
        return false;
    }
}

static int
worker_parse(int argc, char **argv)
{
    static const struct option fixed[] = {
        {"id", required_argument, NULL, 'i'},
        {"slot", required_argument, NULL, 's'},
        {"channel-fd", required_argument, NULL, 'c'},
        {"trace", no_argument, NULL, 't'},
        {"root", required_argument, NULL, 'r'},
        {"access-log", required_argument, NULL, 'a'},
        {"demo-routes", required_argument, NULL, 'd'},
        {"log-level", required_argument, NULL, 'l'},
        {"log-format", required_argument, NULL, 'f'},
        {"tls-cert", required_argument, NULL, 'C'},
        {"tls-key", required_argument, NULL, 'K'},
        {"tls-ciphers", required_argument, NULL, 'P'},
        {"check-tls", no_argument, NULL, 'T'},
        {"rehand-slots", required_argument, NULL, 'R'},
        {"version", no_argument, NULL, 'V'},
    };
    struct option longopts[sizeof(fixed) / sizeof(fixed[0]) + LIM_COUNT + 1];
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), i;
    uint64_t v;
    int c, demo = -1;
    bool have_id = false, have_fd = false;

    /* The master passes every HTTP limit as --name=value. */
    memcpy(longopts, fixed, sizeof(fixed));
    for (i = 0; i < LIM_COUNT; i++) {
        longopts[nfixed + i] = (struct option){
            limit_defs[i].name, required_argument, NULL, 1000 + (int) i};
    }
    memset(&longopts[nfixed + LIM_COUNT], 0, sizeof(struct option));
    limits_default(&engine.lim);
    opts.log_level = LOG_LEVEL_INFO;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c >= 1000 && c < 1000 + LIM_COUNT) {
            if (!limits_parse((enum limit_id)(c - 1000), optarg,
                              &engine.lim.v[c - 1000])) {
                goto bad;
            }
            continue;
        }
        switch (c) {
        case 'd':
            if (strcmp(optarg, "on") != 0 && strcmp(optarg, "off") != 0) {
                goto bad;
            }
            demo = strcmp(optarg, "on") == 0;
            break;
        case 'i':
            if (!num_parse_cstr(optarg, 1, UINT32_MAX, &v)) {
                goto bad;
            }
            worker.id = (uint32_t) v;
            have_id = true;
            break;
        case 's': /* checked, not kept: for ps and the logs' readers */
            if (!num_parse_cstr(optarg, 0, 1u << 20, &v)) {
                goto bad;
            }
            break;
        case 'c':
            if (!num_parse_cstr(optarg, 0, 1u << 20, &v)) {
                goto bad;
            }
            worker.chan_fd = (int) v;
            have_fd = true;
            break;
        case 't':
            engine.trace = true;
            break;
        case 'T':
            opts.check_tls = true;
            break;
        case 'V':
            printf("handoff-worker %s\n", HANDOFF_VERSION);
            exit(0);
        default:
            if (!worker_parse_file_flags(c, optarg)) {
                goto bad;
            }
            break;
        }
    }
    if (((have_id && have_fd) || opts.check_tls) && optind == argc
        && opts.ntls_cert == opts.ntls_key) {
        log_configure(opts.log_level, opts.log_format);
        /* The master always says; this is its default. */
        opts.demo_routes = demo == -1 ? opts.root == NULL : demo == 1;
        return 0;
    }
bad:
    fprintf(stderr, "handoff-worker: started by handoff, not by hand "
                    "(needs --id N --channel-fd FD)\n");
    return -1;
}

/* --max-conns must leave descriptors for the channel, files and logs. */
static void
worker_clamp_conns(void)
{
    /* With a state table, ended connections' descriptors wait a moment
     * for the master's copy to close first (graves.c). */
    uint64_t spare = 64 + (engine.rehand_slots > 0 ? GRAVES_MAX : 0);
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
        && engine.lim.v[LIM_MAX_CONNS] + spare > rl.rlim_cur) {
        uint64_t cap =
            rl.rlim_cur > 2 * spare ? rl.rlim_cur - spare : rl.rlim_cur / 2;

        log_warn(0,
                 "--max-conns %llu lowered to %llu to fit the descriptor "
                 "limit (%llu)",
                 (unsigned long long) engine.lim.v[LIM_MAX_CONNS],
                 (unsigned long long) (cap > 0 ? cap : 1),
                 (unsigned long long) rl.rlim_cur);
        engine.lim.v[LIM_MAX_CONNS] = cap > 0 ? cap : 1;
    }
}

/*
 * The loop's epoll descriptor, which libev does not tell: the one
 * "anon_inode:[eventpoll]" this fresh process holds, or -1 (another
 * backend, or not found). Connections the master keeps a descriptor of
 * are taken out of it before they close (http/conn.c).
 */
static int
worker_find_epoll(struct ev_loop *loop)
{
    char path[64], target[64];
    int fd, found = -1;

    if (ev_backend(loop) != EVBACKEND_EPOLL) {
        return -1;
    }
    for (fd = 0; fd < 64; fd++) {
        ssize_t n;

        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n <= 0) {
            continue;
        }
        target[n] = '\0';
        if (strcmp(target, "anon_inode:[eventpoll]") == 0) {
            if (found != -1) {
                return -1; /* two: which is libev's is not known */
            }
            found = fd;
        }
    }
    return found;
}

static void
worker_signal_cb(struct ev_loop *loop, ev_signal *sig, int revents)
{
    (void) loop;
    (void) revents;
    worker_drain(sig->signum == SIGINT ? "SIGINT" : "SIGTERM", true);
}

static void
worker_orphan_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) t;
    (void) revents;
    log_warn(0,
             "master gone and %u connection%s still open after %.0f s; "
             "exiting",
             engine.nconns, engine.nconns == 1 ? "" : "s",
             DRAIN_ORPHAN_TIMEOUT);
    ev_break(loop, EVBREAK_ALL);
}

/* Log lines stderr did not take wait for it to be writable: a stalled
 * reader never stalls the worker (common/log.h). */
static void
worker_log_flush(struct ev_loop *loop)
{
    if (log_flush()) {
        ev_io_stop(loop, &worker.log_w);
    } else if (!ev_is_active(&worker.log_w)) {
        ev_io_set(&worker.log_w, log_fd(), EV_WRITE);
        ev_io_start(loop, &worker.log_w);
    }
}

static void
worker_log_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) io;
    (void) revents;
    worker_log_flush(loop);
}

static void
worker_prepare_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
    (void) p;
    (void) revents;
    report_flush();
    channel_flush();
    if (engine.rehand != NULL) {
        graves_sweep();
    }
    accesslog_flush();
    worker_log_flush(loop);
}

/* --check-tls: what the master cannot check without libssl (the cipher
 * list), with the very code that will load it: one line and 1, or 0. */
static int
worker_check_tls(void)
{
    char why[512];

    if (tls_init(opts.tls_cert, opts.tls_key, opts.ntls_cert, opts.tls_ciphers,
                 why, sizeof(why))
        == -1) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    tls_fini();
    return 0;
}

/*
 * What the worker serves from and with, before its loop: --root, the
 * MIME table, its connection limit, the TLS contexts, the table of
 * connection states and the access log. 0, or -1 after saying why.
 */
static int
worker_open_resources(void)
{
    if (opts.root != NULL && static_open_root(opts.root) == -1) {
        log_error(errno, "cannot open --root %s", opts.root);
        return -1;
    }
    if (opts.root != NULL && mime_load("/etc/mime.types") == -1) {
        log_warn(errno, "cannot read /etc/mime.types; files are served as "
                        "application/octet-stream");
    }
    worker_clamp_conns();
    if (opts.ntls_cert > 0) {
        char why[512];

        if (tls_init(opts.tls_cert, opts.tls_key, opts.ntls_cert,
                     opts.tls_ciphers, why, sizeof(why))
            == -1) {
            log_error(0, "%s", why);
            return -1;
        }
    }
    if (engine.rehand_slots > 0) {
        /* Without it the master would keep every connection's descriptor
         * for ever: no serving without it. */
        engine.rehand = rehand_map(REHAND_FD, engine.rehand_slots);
        if (engine.rehand == NULL) {
            log_error(errno, "cannot map the connection state table (fd %d)",
                      REHAND_FD);
            return -1;
        }
        fd_close(REHAND_FD); /* the mapping stays */
    }
    if (accesslog_open(opts.access_log) == -1) {
        log_error(errno, "cannot open the access log %s", opts.access_log);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    struct conn *c;

    worker.chan_fd = -1;
    engine.pid = getpid();
    if (worker_parse(argc, argv) == -1) {
        return 2;
    }
    if (opts.check_tls) {
        return worker_check_tls();
    }
    log_init("worker", worker.id);
    log_nonblocking();
    signal(SIGPIPE, SIG_IGN);
    if (fd_set_nonblock(worker.chan_fd) == -1
        || fd_set_cloexec(worker.chan_fd, 1) == -1) {
        log_error(errno, "channel fd %d unusable", worker.chan_fd);
        return 1;
    }

    if (worker_open_resources() == -1) {
        return 1;
    }

    /* A fresh process after exec: the loop is created here, never forked. */
    engine.loop = ev_default_loop(EVFLAG_AUTO);
    if (engine.loop == NULL) {
        log_error(0, "cannot create the event loop");
        return 1;
    }
    engine.epoll_fd =
        engine.rehand != NULL ? worker_find_epoll(engine.loop) : -1;
    TAILQ_INIT(&engine.pending);
    TAILQ_INIT(&engine.conns);
    engine.log_fields = opts.access_log != NULL;
    routes_init(opts.demo_routes);
    worker_attach();
    ev_signal_init(&worker.sig_term, worker_signal_cb, SIGTERM);
    ev_signal_init(&worker.sig_int, worker_signal_cb, SIGINT);
    ev_signal_start(engine.loop, &worker.sig_term);
    ev_signal_start(engine.loop, &worker.sig_int);
    ev_timer_init(&worker.orphan_w, worker_orphan_cb, DRAIN_ORPHAN_TIMEOUT, 0.);
    ev_init(&worker.log_w, worker_log_cb);
    ev_prepare_init(&worker.prepare_w, worker_prepare_cb);
    ev_prepare_start(engine.loop, &worker.prepare_w);
    /* Fewer threads than asked (logged) still serve; with none, offloaded
     * requests run on the loop as plain /cpu does. */
    (void) pool_start(engine.loop, (unsigned) engine.lim.v[LIM_THREADS]);
    channel_start();
    report_start();

    ev_run(engine.loop, 0);

    while ((c = TAILQ_FIRST(&engine.conns)) != NULL) {
        conn_free(c);
    }
    graves_close_all();
    pool_stop();  /* after the connections: every job's result is dropped */
    report_now(); /* the final figures, so the master's totals are exact */
    report_stop();
    listen_stop();
    channel_flush(); /* last refusals and report, best effort */
    channel_close();
    chan_outbox_free(&worker.out);
    ev_loop_destroy(engine.loop);
    mime_free();
    tls_fini();
    accesslog_close();
    static_close_root();
    rehand_unmap(engine.rehand, engine.rehand_slots);
    log_info("exiting");
    (void) log_flush(); /* the last lines: what stderr takes now */
    return 0;
}
