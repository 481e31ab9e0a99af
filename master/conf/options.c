/*
 * options.c: parses the master's flags. Every bad flag or value gets one
 * line on stderr naming it, so a typo in a unit file is obvious.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/options.h"
#include "numparse.h"
#include "sched/policy.h"

#define MAX_WORKERS 1024

static const char options_usage[] =
    "Usage: handoff [OPTION]... [--node SCRIPT [-- ARG...]]\n"
    "A multi-process HTTP server: the master accepts connections and hands\n"
    "each one to a worker process over a UNIX socket (SCM_RIGHTS), the way\n"
    "Node.js's cluster module does.\n"
    "\n"
    "  -p, --port=PORT        TCP port to listen on (default 8080; 0 picks "
    "one)\n"
    "  -H, --host=ADDR        address to bind (default 0.0.0.0; IPv6 such "
    "as ::1\n"
    "                         or [::1] works)\n"
    "  -w, --workers=N        worker processes (default: online CPUs)\n"
    "      --backlog=N        listen(2) backlog (default 511, as Node)\n"
    "      --max-queue=N      accepted connections that may wait for a "
    "worker;\n"
    "                         at this bound the master stops accepting "
    "(default 4096)\n"
    "      --window=N         unanswered handoffs a worker may hold (default\n"
    "                         1 for rr, as Node; 64 for the other policies)\n"
    "      --grace=DURATION   graceful-stop limit, e.g. 10s or 500ms "
    "(default 10s)\n"
    "      --policy=NAME      how the master picks a worker (default rr, or\n"
    "                         NODE_CLUSTER_SCHED_POLICY=rr|none); see below\n"
    "      --trace            print every step of every handoff to stderr\n"
    "      --worker-bin=PATH  worker program (default: handoff-worker "
    "beside handoff,\n"
    "                         else ../lib/handoff/handoff-worker from it)\n"
    "      --root=DIR         serve the files under DIR, / included\n"
    "      --demo-routes=on|off  answer / (Hello from worker) and /cpu (a "
    "busy\n"
    "                         loop) as the demo does (default: on without\n"
    "                         --root, off with it)\n"
    "      --access-log=FILE  log requests (Apache combined format) to FILE,\n"
    "                         or - for stderr; SIGUSR1 reopens it\n"
    "      --proxy-protocol   expect a PROXY v1 or v2 header on each "
    "connection\n"
    "                         (HAProxy's send-proxy[-v2]); the real client\n"
    "                         address is logged and used by ip-hash\n"
    "      --admin=[HOST:]PORT  serve /stats, /metrics and a dashboard at /\n"
    "                         (off by default; HOST defaults to 127.0.0.1)\n"
    "      --control=PATH     the control socket for handoffctl (default\n"
    "                         /tmp/handoff-UID-PORT.sock, or under systemd\n"
    "                         $RUNTIME_DIRECTORY/handoff-PORT.sock; none: no "
    "socket)\n"
    "      --worker-timeout=TIME  kill a worker silent this long (default "
    "30s;\n"
    "                         0 disables the watchdog)\n"
    "      --max-requests=N   replace a worker after N requests (default 0: "
    "never)\n"
    "      --max-requests-jitter=N  add 0..N to --max-requests per worker\n"
    "      --max-rss=MB       replace a worker whose RSS exceeds MB (default "
    "0: never)\n"
    "      --node=SCRIPT      workers are `node SCRIPT [ARG...]`, an "
    "unmodified\n"
    "                         Node cluster program: the master speaks Node's\n"
    "                         cluster IPC to it (see docs/node-workers.md)\n"
    "      --node-bin=PATH    the node program (default: node on PATH)\n"
    "  -h, --help             show this help and exit\n"
    "  -V, --version          show the version and exit\n"
    "\n"
    "Signals: SIGTERM, SIGINT, SIGQUIT stop gracefully (a second SIGTERM or\n"
    "SIGINT stops at once); SIGHUP restarts the workers one by one; SIGTTIN\n"
    "and SIGTTOU add and remove a worker; SIGUSR1 reopens the access log;\n"
    "SIGUSR2 starts a new master from the binary on disk (upgrade).\n"
    "See handoff(1) and docs/architecture.md.\n"
    "\n"
    "Policies:\n";

enum {
    OPT_BACKLOG = 256,
    OPT_MAX_QUEUE,
    OPT_WINDOW,
    OPT_GRACE,
    OPT_TRACE,
    OPT_WORKER_BIN,
    OPT_POLICY,
    OPT_ROOT,
    OPT_ACCESS_LOG,
    OPT_ADMIN,
    OPT_PROXY_PROTOCOL,
    OPT_CONTROL,
    OPT_WORKER_TIMEOUT,
    OPT_MAX_REQUESTS,
    OPT_MAX_REQUESTS_JITTER,
    OPT_MAX_RSS,
    OPT_NODE,
    OPT_NODE_BIN,
    OPT_DEMO_ROUTES,
    OPT_LIMIT, /* OPT_LIMIT + enum limit_id */
};

static const struct option options_long[] = {
    {"port", required_argument, NULL, 'p'},
    {"host", required_argument, NULL, 'H'},
    {"workers", required_argument, NULL, 'w'},
    {"backlog", required_argument, NULL, OPT_BACKLOG},
    {"max-queue", required_argument, NULL, OPT_MAX_QUEUE},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"grace", required_argument, NULL, OPT_GRACE},
    {"trace", no_argument, NULL, OPT_TRACE},
    {"worker-bin", required_argument, NULL, OPT_WORKER_BIN},
    {"policy", required_argument, NULL, OPT_POLICY},
    {"root", required_argument, NULL, OPT_ROOT},
    {"access-log", required_argument, NULL, OPT_ACCESS_LOG},
    {"admin", required_argument, NULL, OPT_ADMIN},
    {"proxy-protocol", no_argument, NULL, OPT_PROXY_PROTOCOL},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"worker-timeout", required_argument, NULL, OPT_WORKER_TIMEOUT},
    {"max-requests", required_argument, NULL, OPT_MAX_REQUESTS},
    {"max-requests-jitter", required_argument, NULL, OPT_MAX_REQUESTS_JITTER},
    {"max-rss", required_argument, NULL, OPT_MAX_RSS},
    {"node", required_argument, NULL, OPT_NODE},
    {"node-bin", required_argument, NULL, OPT_NODE_BIN},
    {"demo-routes", required_argument, NULL, OPT_DEMO_ROUTES},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
};

#define OPTIONS_FIXED (sizeof(options_long) / sizeof(options_long[0]))

/* The fixed options followed by one per HTTP limit, and the terminator. */
static struct option options_all[OPTIONS_FIXED + LIM_COUNT + 1];

static void
options_build(void)
{
    size_t i;

    memcpy(options_all, options_long, sizeof(options_long));
    for (i = 0; i < LIM_COUNT; i++) {
        options_all[OPTIONS_FIXED + i] = (struct option){
            limit_defs[i].name, required_argument, NULL, OPT_LIMIT + (int) i};
    }
    memset(&options_all[OPTIONS_FIXED + LIM_COUNT], 0, sizeof(struct option));
}

static void
options_defaults(struct master_options *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "0.0.0.0");
    o->port = 8080;
    o->workers = cpus < 1             ? 1
                 : cpus > MAX_WORKERS ? MAX_WORKERS
                                      : (unsigned) cpus;
    o->backlog = 511;
    o->max_queue = 4096;
    o->grace_ms = 10000;
    o->policy = &policy_rr;
    limits_default(&o->limits);
    o->worker_timeout_ms = 30000; /* gunicorn's default */
}

static bool
options_u64(const char *flag, const char *arg, uint64_t min, uint64_t max,
            uint64_t *out)
{
    if (!num_parse_cstr(arg, min, max, out)) {
        fprintf(stderr,
                "handoff: invalid value '%s' for %s (expected an integer "
                "from %llu to %llu)\n",
                arg, flag, (unsigned long long) min, (unsigned long long) max);
        return false;
    }
    return true;
}

static bool
options_uint(const char *flag, const char *arg, uint64_t min, uint64_t max,
             unsigned *out)
{
    uint64_t v;

    if (!options_u64(flag, arg, min, max, &v)) {
        return false;
    }
    *out = (unsigned) v;
    return true;
}

static bool
options_host(const char *arg, struct master_options *o)
{
    size_t len = strlen(arg);

    if (len >= 2 && arg[0] == '[' && arg[len - 1] == ']') {
        arg++;
        len -= 2;
    }
    if (len == 0 || len >= sizeof(o->host) || memchr(arg, '[', len) != NULL
        || memchr(arg, ']', len) != NULL) {
        fprintf(stderr,
                "handoff: invalid value '%s' for --host (expected an "
                "IPv4 or IPv6 address or a host name)\n",
                optarg);
        return false;
    }
    memcpy(o->host, arg, len);
    o->host[len] = '\0';
    return true;
}

static bool
options_limit(enum limit_id id, const char *arg, struct master_options *o)
{
    static const char *const expect[] = {
        [LIMIT_COUNT] = "an integer",
        [LIMIT_BYTES] = "a size such as 512, 16k or 1m",
        [LIMIT_MS] = "a duration such as 10s or 500ms",
    };
    const struct limit_def *d = &limit_defs[id];
    char lo[24], hi[24];

    if (limits_parse(id, arg, &o->limits.v[id])) {
        return true;
    }
    limits_format(id, d->min, lo, sizeof(lo));
    limits_format(id, d->max, hi, sizeof(hi));
    fprintf(stderr,
            "handoff: invalid value '%s' for --%s (expected %s, "
            "from %s to %s)\n",
            arg, d->name, expect[d->kind], lo, hi);
    return false;
}

/* --admin: "PORT" (on 127.0.0.1), "HOST:PORT" or "[V6]:PORT". */
static bool
options_admin(const char *arg, struct master_options *o)
{
    const char *colon = strrchr(arg, ':'), *host = arg;
    size_t hl = colon != NULL ? (size_t) (colon - arg) : 0;
    uint64_t port;

    if (colon != NULL && hl >= 2 && arg[0] == '[' && arg[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if ((colon != NULL
         && (hl == 0 || hl >= sizeof(o->admin_host)
             || memchr(host, '[', hl) != NULL || memchr(host, ']', hl) != NULL))
        || !num_parse_cstr(colon != NULL ? colon + 1 : arg, 0, 65535, &port)) {
        fprintf(stderr,
                "handoff: invalid value '%s' for --admin (expected PORT or "
                "HOST:PORT, PORT from 0 to 65535)\n",
                arg);
        return false;
    }
    if (colon != NULL) {
        memcpy(o->admin_host, host, hl);
        o->admin_host[hl] = '\0';
    } else {
        snprintf(o->admin_host, sizeof(o->admin_host), "127.0.0.1");
    }
    o->admin_port = (unsigned) port;
    o->admin = arg;
    return true;
}

/* The option as the user wrote it, for error lines. */
static const char *
options_culprit(char **argv, int opt)
{
    static char shortopt[3];
    const char *arg = argv[optind - 1];

    if (opt > 0 && opt < 128 && strncmp(arg, "--", 2) != 0) {
        snprintf(shortopt, sizeof(shortopt), "-%c", opt);
        return shortopt;
    }
    return arg;
}

static void
options_help(void)
{
    static const char *const unit[] = {
        [LIMIT_COUNT] = "N", [LIMIT_BYTES] = "SIZE", [LIMIT_MS] = "TIME"};
    char flag[40], def[24];
    size_t i;

    fputs(options_usage, stdout);
    for (i = 0; policy_all[i] != NULL; i++) {
        printf("  %-14s %s\n", policy_all[i]->name, policy_all[i]->summary);
    }
    printf("\nHTTP limits (SIZE: 512, 16k, 1m; TIME: 10s, 500ms):\n");
    for (i = 0; i < LIM_COUNT; i++) {
        const struct limit_def *d = &limit_defs[i];

        snprintf(flag, sizeof(flag), "--%s=%s", d->name, unit[d->kind]);
        if (d->kind == LIMIT_MS) {
            snprintf(def, sizeof(def), "%gs", (double) d->def / 1000.);
        } else {
            snprintf(def, sizeof(def), "%llu", (unsigned long long) d->def);
        }
        printf("  %-28s %s (default %s)\n", flag, d->help, def);
    }
}

static void
options_bad_policy(const char *where, const char *name)
{
    char names[256];
    size_t i, n = 0;

    names[0] = '\0';
    for (i = 0; policy_all[i] != NULL && n < sizeof(names); i++) {
        int rc = snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                          policy_all[i]->name);

        n += rc > 0 ? (size_t) rc : 0;
    }
    fprintf(stderr, "handoff: unknown policy '%s' for %s (choose from %s)\n",
            name, where, names);
}

/*
 * Without --policy, Node's variable chooses, read as Node reads it: "none"
 * and "rr" are honoured and any other value means the default, rr.
 */
static void
options_node_policy(struct master_options *o)
{
    const char *env = getenv("NODE_CLUSTER_SCHED_POLICY");

    if (env == NULL || env[0] == '\0') {
        return;
    }
    if (strcmp(env, "none") == 0) {
        o->policy = &policy_none;
    } else if (strcmp(env, "rr") == 0) {
        o->policy = &policy_rr;
    } else {
        snprintf(o->policy_note, sizeof(o->policy_note),
                 "NODE_CLUSTER_SCHED_POLICY=%.64s is neither rr nor none; "
                 "using rr, as Node does",
                 env);
    }
}

/* True for the flags that configure handoff's own workers, which a Node
 * worker (--node) would silently ignore. */
static bool
options_native_only(int c)
{
    return c == OPT_WORKER_BIN || c == OPT_ROOT || c == OPT_ACCESS_LOG
           || c == OPT_PROXY_PROTOCOL || c == OPT_MAX_REQUESTS
           || c == OPT_MAX_REQUESTS_JITTER || c == OPT_MAX_RSS
           || c == OPT_DEMO_ROUTES
           || (c >= OPT_LIMIT && c < OPT_LIMIT + LIM_COUNT);
}

enum options_result
options_parse(int argc, char **argv, struct master_options *o)
{
    bool policy_given = false;
    char native_flag[64] = "";
    int c, demo = -1;

    options_defaults(o);
    options_build();
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":p:H:w:hV", options_all, NULL))
           != -1) {
        bool ok = true;

        if (options_native_only(c) && native_flag[0] == '\0') {
            size_t i;

            for (i = 0; options_all[i].name != NULL; i++) {
                if (options_all[i].val == c) {
                    snprintf(native_flag, sizeof(native_flag), "--%s",
                             options_all[i].name);
                }
            }
        }
        switch (c) {
        case 'p':
            ok = options_uint("--port", optarg, 0, 65535, &o->port);
            break;
        case 'H':
            ok = options_host(optarg, o);
            break;
        case 'w':
            ok = options_uint("--workers", optarg, 1, MAX_WORKERS, &o->workers);
            break;
        case OPT_BACKLOG:
            ok = options_uint("--backlog", optarg, 1, 65535, &o->backlog);
            break;
        case OPT_MAX_QUEUE:
            ok = options_uint("--max-queue", optarg, 1, 1000000, &o->max_queue);
            break;
        case OPT_WINDOW:
            ok = options_uint("--window", optarg, 1, 1024, &o->window);
            break;
        case OPT_GRACE:
            if (!num_parse_duration_ms(optarg, 0, 3600 * 1000, &o->grace_ms)) {
                fprintf(stderr,
                        "handoff: invalid value '%s' for --grace (expected a "
                        "duration such as 10s or 500ms, at most 1h)\n",
                        optarg);
                ok = false;
            }
            break;
        case OPT_TRACE:
            o->trace = true;
            break;
        case OPT_WORKER_BIN:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --worker-bin needs a path\n");
                ok = false;
            }
            o->worker_bin = optarg;
            break;
        case OPT_ROOT:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --root needs a directory\n");
                ok = false;
            }
            o->root = optarg;
            break;
        case OPT_ACCESS_LOG:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --access-log needs a file, or - "
                                "for stderr\n");
                ok = false;
            }
            o->access_log = optarg;
            break;
        case OPT_PROXY_PROTOCOL:
            o->proxy_protocol = true;
            break;
        case OPT_ADMIN:
            ok = options_admin(optarg, o);
            break;
        case OPT_CONTROL:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --control needs a path, or none\n");
                ok = false;
            }
            o->control = optarg;
            break;
        case OPT_WORKER_TIMEOUT:
            if (!num_parse_duration_ms(optarg, 0, 3600 * 1000,
                                       &o->worker_timeout_ms)
                || (o->worker_timeout_ms > 0 && o->worker_timeout_ms < 1000)) {
                fprintf(stderr,
                        "handoff: invalid value '%s' for "
                        "--worker-timeout (expected 0 or a duration "
                        "from 1s to 1h)\n",
                        optarg);
                ok = false;
            }
            break;
        case OPT_MAX_REQUESTS:
            ok = options_u64("--max-requests", optarg, 0, UINT32_MAX,
                             &o->max_requests);
            break;
        case OPT_MAX_REQUESTS_JITTER:
            ok = options_u64("--max-requests-jitter", optarg, 0, UINT32_MAX,
                             &o->max_requests_jitter);
            break;
        case OPT_MAX_RSS:
            ok = options_u64("--max-rss", optarg, 0, 1024 * 1024,
                             &o->max_rss_mb);
            break;
        case OPT_NODE:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --node needs a script\n");
                ok = false;
            }
            o->node_script = optarg;
            break;
        case OPT_NODE_BIN:
            if (optarg[0] == '\0') {
                fprintf(stderr, "handoff: --node-bin needs a path\n");
                ok = false;
            }
            o->node_bin = optarg;
            break;
        case OPT_DEMO_ROUTES:
            if (strcmp(optarg, "on") == 0 || strcmp(optarg, "off") == 0) {
                demo = strcmp(optarg, "on") == 0;
            } else {
                fprintf(stderr,
                        "handoff: invalid value '%s' for --demo-routes "
                        "(expected on or off)\n",
                        optarg);
                ok = false;
            }
            break;
        case OPT_POLICY:
            o->policy = policy_find(optarg);
            if (o->policy == NULL) {
                options_bad_policy("--policy", optarg);
                ok = false;
            }
            policy_given = true;
            break;
        case 'h':
            options_help();
            return OPTIONS_EXIT;
        case 'V':
            printf("handoff %s\n", HANDOFF_VERSION);
            return OPTIONS_EXIT;
        case ':':
            if (optopt >= OPT_LIMIT && optopt < OPT_LIMIT + LIM_COUNT) {
                fprintf(stderr,
                        "handoff: option '--%s' needs a value (see "
                        "handoff --help)\n",
                        limit_defs[optopt - OPT_LIMIT].name);
                return OPTIONS_BAD;
            }
            fprintf(stderr,
                    "handoff: option '%s' needs a value (see "
                    "handoff --help)\n",
                    options_culprit(argv, optopt));
            return OPTIONS_BAD;
        default:
            if (c >= OPT_LIMIT && c < OPT_LIMIT + LIM_COUNT) {
                ok = options_limit((enum limit_id)(c - OPT_LIMIT), optarg, o);
                break;
            }
            fprintf(stderr,
                    "handoff: unknown option '%s' (see handoff "
                    "--help)\n",
                    options_culprit(argv, optopt));
            return OPTIONS_BAD;
        }
        if (!ok) {
            return OPTIONS_BAD;
        }
    }
    if (!policy_given) {
        options_node_policy(o);
    }
    /* A site's / is its home page, and /cpu burns a worker's CPU for
     * anyone: with --root, the demo is asked for, not given. */
    o->demo_routes = demo == -1 ? o->root == NULL : demo == 1;
    if (o->proxy_protocol && o->policy->accept != POLICY_MASTER_ACCEPTS) {
        fprintf(stderr,
                "handoff: --proxy-protocol needs a policy where the "
                "master accepts (not %s)\n",
                o->policy->name);
        return OPTIONS_BAD;
    }
    if (o->node_script != NULL) {
        if (native_flag[0] != '\0') {
            fprintf(stderr,
                    "handoff: %s configures handoff's own workers; a Node "
                    "worker (--node) would ignore it\n",
                    native_flag);
            return OPTIONS_BAD;
        }
        /* What follows the options is the script's own command line. */
        o->node_args = argv + optind;
        o->node_argc = argc - optind;
        return OPTIONS_RUN;
    }
    if (o->node_bin != NULL) {
        fprintf(stderr, "handoff: --node-bin needs --node SCRIPT\n");
        return OPTIONS_BAD;
    }
    if (optind < argc) {
        fprintf(stderr,
                "handoff: unexpected argument '%s' (see handoff "
                "--help)\n",
                argv[optind]);
        return OPTIONS_BAD;
    }
    return OPTIONS_RUN;
}
