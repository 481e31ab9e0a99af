/*
 * options_table.c: the master's options, one row per flag (name, short
 * letter, value, field, bounds, native-only, help), in the order --help
 * lists them, and what applies a "name value" pair to the options: the
 * command line's flags now (options.c), a configuration file's lines
 * later. Every refusal is one line naming the option, so a typo in a unit
 * file is obvious. The HTTP limits (common/http_limits.h) are options
 * too, from their own table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bounds.h"
#include "conf/options_table.h"
#include "numparse.h"
#include "sched/policy.h"

#define FIELD(f) offsetof(struct master_options, f)

static bool options_port(struct options_set *set, const char *v, char *err,
                         size_t len);
static bool options_host(struct options_set *set, const char *v, char *err,
                         size_t len);
static bool options_listen(struct options_set *set, const char *v, char *err,
                           size_t len);
static bool options_admin(struct options_set *set, const char *v, char *err,
                          size_t len);
static bool options_listen_tls(struct options_set *set, const char *v,
                               char *err, size_t len);
static bool options_tls_cert(struct options_set *set, const char *v, char *err,
                             size_t len);
static bool options_tls_key(struct options_set *set, const char *v, char *err,
                            size_t len);
static bool options_tls_rotate(struct options_set *set, const char *v,
                               char *err, size_t len);
static bool options_policy(struct options_set *set, const char *v, char *err,
                           size_t len);
static bool options_demo(struct options_set *set, const char *v, char *err,
                         size_t len);
static bool options_worker_sched(struct options_set *set, const char *v,
                                 char *err, size_t len);
static bool options_rehand(struct options_set *set, const char *v, char *err,
                           size_t len);
static bool options_log_level(struct options_set *set, const char *v, char *err,
                              size_t len);
static bool options_log_format(struct options_set *set, const char *v,
                               char *err, size_t len);
static bool options_node_preload(struct options_set *set, const char *v,
                                 char *err, size_t len);

const struct opt_def options_table[] = {
    {.name = "port",
     .offset = FIELD(port),
     .size = sizeof(unsigned),
     .reload = OPT_RELOAD_MASTER,
     .letter = 'p',
     .arg = "PORT",
     .kind = OPT_CUSTOM,
     .set = options_port,
     .help = "TCP port to listen on (default 8080; 0 picks one)"},
    {.name = "host",
     .offset = FIELD(host),
     .size = sizeof(((struct master_options *) 0)->host),
     .reload = OPT_RELOAD_MASTER,
     .letter = 'H',
     .arg = "ADDR",
     .kind = OPT_CUSTOM,
     .set = options_host,
     .help = "address to bind (default 0.0.0.0; IPv6 such as ::1\n"
             "or [::1] works; a name binds each of its addresses)"},
    {.name = "listen",
     .offset = FIELD(listen),
     .size = sizeof(struct listen_list),
     .reload = OPT_RELOAD_MASTER,
     .repeat = true,
     .arg = "ADDR:PORT",
     .kind = OPT_CUSTOM,
     .set = options_listen,
     .help = "listen on ADDR:PORT ([V6]:PORT, or PORT for\n"
             "0.0.0.0); repeat for several listeners (at most\n"
             "16); instead of --host and --port"},
    /* Its specs are in the listen row's list (size 0: that row compares
     * them). */
    {.name = "listen-tls",
     .offset = FIELD(listen),
     .reload = OPT_RELOAD_MASTER,
     .repeat = true,
     .arg = "ADDR:PORT",
     .kind = OPT_CUSTOM,
     .set = options_listen_tls,
     .native = true,
     .help = "an HTTPS listener (as --listen; TLS 1.2 and 1.3,\n"
             "ALPN http/1.1); needs --tls-cert and --tls-key"},
    {.name = "tls-cert",
     .offset = FIELD(tls),
     .size = sizeof(struct tls_files),
     .repeat = true,
     .arg = "FILE",
     .kind = OPT_CUSTOM,
     .set = options_tls_cert,
     .native = true,
     .help = "a PEM certificate with its chain; repeat for\n"
             "several (at most 8): SNI picks the one whose names\n"
             "match, else the first; SIGHUP loads them again"},
    {.name = "tls-key",
     .offset = FIELD(tls),
     .repeat = true,
     .arg = "FILE",
     .kind = OPT_CUSTOM,
     .set = options_tls_key,
     .native = true,
     .help = "the private key (PEM) of the --tls-cert of the same\n"
             "rank"},
    {.name = "tls-ciphers",
     .arg = "LIST",
     .kind = OPT_PATH,
     .offset = FIELD(tls_ciphers),
     .need = "an OpenSSL cipher list",
     .native = true,
     .help = "TLS 1.2 ciphers, OpenSSL's syntax (default: ECDHE\n"
             "with AES-GCM or ChaCha20-Poly1305 only)"},
    {.name = "tls-ticket-rotate",
     .offset = FIELD(tls_rotate_ms),
     .size = sizeof(uint64_t),
     .reload = OPT_RELOAD_MASTER,
     .arg = "HOURS",
     .kind = OPT_CUSTOM,
     .set = options_tls_rotate,
     .native = true,
     .help = "a new session-ticket key every HOURS (default 12;\n"
             "a duration such as 90s works too); the previous two\n"
             "still decrypt; the master makes them for all workers"},
    {.name = "workers",
     .reload = OPT_RELOAD_MASTER,
     .letter = 'w',
     .arg = "N",
     .kind = OPT_UINT,
     .offset = FIELD(workers),
     .min = 1,
     .max = HANDOFF_MAX_WORKERS,
     .help = "worker processes (default: online CPUs)"},
    {.name = "backlog",
     .reload = OPT_RELOAD_MASTER,
     .arg = "N",
     .kind = OPT_UINT,
     .offset = FIELD(backlog),
     .min = 1,
     .max = 65535,
     .help = "listen(2) backlog (default 511, as Node)"},
    {.name = "max-queue",
     .reload = OPT_RELOAD_MASTER,
     .arg = "N",
     .kind = OPT_UINT,
     .offset = FIELD(max_queue),
     .min = 1,
     .max = 1000000,
     .help = "accepted connections that may wait for a worker;\n"
             "at this bound the master stops accepting (default 4096)"},
    {.name = "window",
     .reload = OPT_RELOAD_MASTER,
     .arg = "N",
     .kind = OPT_UINT,
     .offset = FIELD(window),
     .min = 1,
     .max = 1024,
     .help = "unanswered handoffs a worker may hold (default\n"
             "1 for rr, as Node; 64 for the other policies)"},
    {.name = "grace",
     .reload = OPT_RELOAD_MASTER,
     .arg = "DURATION",
     .kind = OPT_MS,
     .offset = FIELD(grace_ms),
     .max = 3600 * 1000,
     .expect = "a duration such as 10s or 500ms, at most 1h",
     .help = "graceful-stop limit, e.g. 10s or 500ms (default 10s)"},
    {.name = "policy",
     .offset = FIELD(policy),
     .size = sizeof(const struct sched_policy *),
     .reload = OPT_RELOAD_MASTER,
     .arg = "NAME",
     .kind = OPT_CUSTOM,
     .set = options_policy,
     .help = "how the master picks a worker (default rr, or\n"
             "NODE_CLUSTER_SCHED_POLICY=rr|none); see below"},
    {.name = "trace",
     .reload = OPT_RELOAD_MASTER,
     .kind = OPT_FLAG,
     .offset = FIELD(trace),
     .help = "print every step of every handoff to stderr"},
    {.name = "worker-bin",
     .arg = "PATH",
     .kind = OPT_PATH,
     .offset = FIELD(worker_bin),
     .need = "a path",
     .native = true,
     .help = "worker program (default: handoff-worker beside handoff,\n"
             "else ../lib/handoff/handoff-worker from it)"},
    {.name = "root",
     .arg = "DIR",
     .kind = OPT_PATH,
     .offset = FIELD(root),
     .need = "a directory",
     .native = true,
     .help = "serve the files under DIR, / included"},
    {.name = "demo-routes",
     .offset = FIELD(demo_routes),
     .size = sizeof(bool),
     .arg = "on|off",
     .kind = OPT_CUSTOM,
     .set = options_demo,
     .native = true,
     .help = "answer / (Hello from worker) and /cpu (a busy\n"
             "loop) as the demo does (default: on without\n"
             "--root, off with it)"},
    {.name = "worker-sched",
     .arg = "batch|normal",
     .kind = OPT_CUSTOM,
     .set = options_worker_sched,
     .help = "workers' scheduling class (default\n"
             "batch: SCHED_BATCH, so that a worker woken by a\n"
             "handoff does not preempt the master; normal:\n"
             "SCHED_OTHER)"},
    {.name = "rehand",
     .offset = FIELD(rehand),
     .size = sizeof(bool),
     .arg = "on|off",
     .kind = OPT_CUSTOM,
     .set = options_rehand,
     .help = "idle keep-alive connections outlive their\n"
             "worker: handed to another when it crashes,\n"
             "retires or is replaced (a Node worker's,\n"
             "with the preload, when it retires) (default on)"},
    {.name = "access-log",
     .arg = "FILE",
     .kind = OPT_PATH,
     .offset = FIELD(access_log),
     .need = "a file, or - for stderr",
     .native = true,
     .help = "log requests (Apache combined format) to FILE,\n"
             "or - for stderr; SIGUSR1 reopens it"},
    {.name = "proxy-protocol",
     .reload = OPT_RELOAD_MASTER,
     .kind = OPT_FLAG,
     .offset = FIELD(proxy_protocol),
     .native = true,
     .help = "expect a PROXY v1 or v2 header on each connection\n"
             "(HAProxy's send-proxy[-v2]); the real client\n"
             "address is logged and used by ip-hash"},
    {.name = "admin",
     .offset = FIELD(admin),
     .size = FIELD(admin_port) + sizeof(unsigned) - FIELD(admin),
     .reload = OPT_RELOAD_NEVER,
     .arg = "[HOST:]PORT",
     .kind = OPT_CUSTOM,
     .set = options_admin,
     .help = "serve /stats, /metrics and a dashboard at /\n"
             "(off by default; HOST defaults to 127.0.0.1)"},
    {.name = "control",
     .reload = OPT_RELOAD_NEVER,
     .arg = "PATH",
     .kind = OPT_PATH,
     .offset = FIELD(control),
     .need = "a path, or none",
     .help = "the control socket for handoffctl (default\n"
             "/tmp/handoff-UID-PORT.sock, or under systemd\n"
             "$RUNTIME_DIRECTORY/handoff-PORT.sock; none: no socket)"},
    {.name = "user",
     .arg = "USER[:GROUP]",
     .kind = OPT_PATH,
     .offset = FIELD(user),
     .need = "a user",
     .reload = OPT_RELOAD_NEVER,
     .help = "as root: the workers drop to USER (and GROUP, else\n"
             "USER's groups) before they serve; the master binds"},
    {.name = "pid-file",
     .reload = OPT_RELOAD_NEVER,
     .arg = "FILE",
     .kind = OPT_PATH,
     .offset = FIELD(pid_file),
     .need = "a file",
     .help = "write the master's pid to FILE once it listens\n"
             "(FILE.oldbin: the old master's during SIGUSR2, as\n"
             "nginx); refused when a running master's is there"},
    {.name = "worker-timeout",
     .reload = OPT_RELOAD_MASTER,
     .arg = "TIME",
     .kind = OPT_MS,
     .offset = FIELD(worker_timeout_ms),
     .min = 1000,
     .max = 3600 * 1000,
     .expect = "0 or a duration from 1s to 1h",
     .help = "kill a worker silent this long (default 30s;\n"
             "0 disables the watchdog)"},
    {.name = "max-requests",
     .reload = OPT_RELOAD_MASTER,
     .arg = "N",
     .kind = OPT_U64,
     .offset = FIELD(max_requests),
     .max = UINT32_MAX,
     .native = true,
     .help = "replace a worker after N requests (default 0: never)"},
    {.name = "max-requests-jitter",
     .reload = OPT_RELOAD_MASTER,
     .arg = "N",
     .kind = OPT_U64,
     .offset = FIELD(max_requests_jitter),
     .max = UINT32_MAX,
     .native = true,
     .help = "add 0..N to --max-requests per worker"},
    {.name = "max-rss",
     .reload = OPT_RELOAD_MASTER,
     .arg = "MB",
     .kind = OPT_U64,
     .offset = FIELD(max_rss_mb),
     .max = 1024 * 1024,
     .native = true,
     .help = "replace a worker whose RSS exceeds MB (default 0: never)"},
    {.name = "node",
     .reload = OPT_RELOAD_NEVER,
     .arg = "SCRIPT",
     .kind = OPT_PATH,
     .offset = FIELD(node_script),
     .need = "a script",
     .help = "workers are `node SCRIPT [ARG...]`, an unmodified\n"
             "Node cluster program: the master speaks Node's\n"
             "cluster IPC to it (see docs/node-workers.md)"},
    {.name = "node-bin",
     .reload = OPT_RELOAD_NEVER,
     .arg = "PATH",
     .kind = OPT_PATH,
     .offset = FIELD(node_bin),
     .need = "a path",
     .help = "the node program (default: node on PATH)"},
    {.name = "log-level",
     .offset = FIELD(log_level),
     .size = sizeof(enum log_level),
     .reload = OPT_RELOAD_MASTER,
     .arg = "LEVEL",
     .kind = OPT_CUSTOM,
     .set = options_log_level,
     .help = "error, warn, info (the default) or debug: the\n"
             "least severe lines written, by the master and workers"},
    {.name = "log-format",
     .offset = FIELD(log_format),
     .size = sizeof(enum log_format),
     .reload = OPT_RELOAD_MASTER,
     .arg = "FORMAT",
     .kind = OPT_CUSTOM,
     .set = options_log_format,
     .help = "text (the default) or json: one object a line with\n"
             "time, level, pid, role, worker and msg"},
    {.name = "config",
     .letter = 'c',
     .arg = "FILE",
     .kind = OPT_ACTION,
     .help = "read options from FILE first, one a line as\n"
             "`name value` (sshd_config style; see handoff(1));\n"
             "the command line's override them; SIGHUP reads it again"},
    {.name = "test-config",
     .letter = 't',
     .kind = OPT_ACTION,
     .help = "check the configuration (file and options: paths,\n"
             "addresses) and exit: 0, or 1 with FILE:LINE: errors"},
    {.name = "node-preload",
     .arg = "on|off",
     .kind = OPT_CUSTOM,
     .set = options_node_preload,
     .help = "load handoff's preload into each Node worker: load\n"
             "reports, and reloads that close no idle connection\n"
             "under its client (default on)"},
    {.name = "help",
     .letter = 'h',
     .kind = OPT_ACTION,
     .help = "show this help and exit"},
    {.name = "version",
     .letter = 'V',
     .kind = OPT_ACTION,
     .help = "show the version and exit"},
};

const size_t options_nrows = sizeof(options_table) / sizeof(options_table[0]);

_Static_assert(sizeof(options_table) / sizeof(options_table[0])
                   <= OPTIONS_ROWS_MAX,
               "more rows than OPTIONS_ROWS_MAX");
_Static_assert(OPTIONS_WHERE_SLOTS == OPTIONS_ROWS_MAX + LIM_COUNT,
               "a where-slot per row and per limit");

size_t
options_row_size(const struct opt_def *r)
{
    switch (r->kind) {
    case OPT_FLAG:
        return sizeof(bool);
    case OPT_UINT:
        return sizeof(unsigned);
    case OPT_U64:
    case OPT_MS:
        return sizeof(uint64_t);
    case OPT_PATH:
        return sizeof(const char *);
    case OPT_CUSTOM:
        return r->size;
    default:
        return 0;
    }
}

const struct opt_def *
options_row(const char *name)
{
    size_t i;

    for (i = 0; i < options_nrows; i++) {
        if (strcmp(options_table[i].name, name) == 0) {
            return &options_table[i];
        }
    }
    return NULL;
}

/* <v> (brackets allowed around it) as a host into <host>; false if it
 * is empty, too long or has stray brackets. */
static bool
options_host_text(const char *v, size_t n, char *host, size_t size)
{
    if (n >= 2 && v[0] == '[' && v[n - 1] == ']') {
        v++;
        n -= 2;
    }
    if (n == 0 || n >= size || memchr(v, '[', n) != NULL
        || memchr(v, ']', n) != NULL) {
        return false;
    }
    memcpy(host, v, n);
    host[n] = '\0';
    return true;
}

static bool
options_port(struct options_set *set, const char *v, char *err, size_t len)
{
    uint64_t n;

    if (!num_parse_cstr(v, 0, 65535, &n)) {
        snprintf(err, len,
                 "invalid value '%s' for --port (expected an integer from 0 "
                 "to 65535)",
                 v);
        return false;
    }
    set->o->port = (unsigned) n;
    set->host_or_port_given = true;
    return true;
}

static bool
options_host(struct options_set *set, const char *v, char *err, size_t len)
{
    struct master_options *o = set->o;

    if (!options_host_text(v, strlen(v), o->host, sizeof(o->host))) {
        snprintf(err, len,
                 "invalid value '%s' for --host (expected an IPv4 or IPv6 "
                 "address or a host name)",
                 v);
        return false;
    }
    set->host_or_port_given = true;
    return true;
}

/* "HOST:PORT", "[V6]:PORT", "*:PORT" or "PORT" into <spec>; false if it
 * is none of them. */
bool
options_listen_parse(const char *v, struct listen_spec *spec)
{
    const char *colon = strrchr(v, ':');
    size_t hl = colon != NULL ? (size_t) (colon - v) : 0;
    uint64_t port;

    memset(spec, 0, sizeof(*spec));
    if (!num_parse_cstr(colon != NULL ? colon + 1 : v, 0, 65535, &port)) {
        return false;
    }
    if (colon == NULL || (hl == 1 && v[0] == '*')) {
        snprintf(spec->host, sizeof(spec->host), "0.0.0.0");
    } else if (memchr(v, ':', hl) != NULL && v[0] != '[') {
        return false; /* an IPv6 address needs its brackets here */
    } else if (!options_host_text(v, hl, spec->host, sizeof(spec->host))) {
        return false;
    }
    spec->port = (unsigned) port;
    snprintf(spec->text, sizeof(spec->text),
             strchr(spec->host, ':') != NULL ? "[%s]:%u" : "%s:%u", spec->host,
             spec->port);
    return true;
}

static bool
options_listen(struct options_set *set, const char *v, char *err, size_t len)
{
    struct listen_list *l = &set->o->listen;
    struct listen_spec spec;
    unsigned i;

    if (!options_listen_parse(v, &spec)) {
        snprintf(err, len,
                 "invalid value '%s' for --listen (expected ADDR:PORT, "
                 "[V6]:PORT or PORT, PORT from 0 to 65535)",
                 v);
        return false;
    }
    for (i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].text, spec.text) == 0) {
            snprintf(err, len, "--listen %s is given twice", spec.text);
            return false;
        }
    }
    if (l->n == LISTEN_SPECS_MAX) {
        snprintf(err, len, "--listen %s: at most %d listeners", v,
                 LISTEN_SPECS_MAX);
        return false;
    }
    set->listen_where[l->n] = set->line;
    l->v[l->n++] = spec;
    set->listen_given = true;
    return true;
}

static bool
options_listen_tls(struct options_set *set, const char *v, char *err,
                   size_t len)
{
    struct listen_list *l = &set->o->listen;

    if (!options_listen_parse(v, &(struct listen_spec){0})) {
        snprintf(err, len,
                 "invalid value '%s' for --listen-tls (expected ADDR:PORT, "
                 "[V6]:PORT or PORT, PORT from 0 to 65535)",
                 v);
        return false;
    }
    if (!options_listen(set, v, err, len)) {
        return false;
    }
    l->v[l->n - 1].tls = true;
    return true;
}

/* A --tls-cert or --tls-key path into <dst>, the <*n>th of its kind. */
static bool
options_tls_path(const char *name, const char *v, char (*dst)[TLS_PATH_MAX],
                 unsigned *n, char *err, size_t len)
{
    if (v[0] == '\0' || strlen(v) >= TLS_PATH_MAX) {
        snprintf(err, len, "--%s needs a file (a path under %d bytes)", name,
                 TLS_PATH_MAX);
        return false;
    }
    if (*n == TLS_CERTS_MAX) {
        snprintf(err, len, "--%s %s: at most %d", name, v, TLS_CERTS_MAX);
        return false;
    }
    snprintf(dst[(*n)++], TLS_PATH_MAX, "%s", v);
    return true;
}

static bool
options_tls_cert(struct options_set *set, const char *v, char *err, size_t len)
{
    struct tls_files *t = &set->o->tls;

    return options_tls_path("tls-cert", v, t->cert, &t->ncert, err, len);
}

static bool
options_tls_key(struct options_set *set, const char *v, char *err, size_t len)
{
    struct tls_files *t = &set->o->tls;

    return options_tls_path("tls-key", v, t->key, &t->nkey, err, len);
}

/* Hours ("12", "0.5"), or a duration with its unit ("90s", "500ms"),
 * from 1 s to a week. */
static bool
options_tls_rotate(struct options_set *set, const char *v, char *err,
                   size_t len)
{
    uint64_t ms;
    size_t n = strlen(v);
    bool bare = n > 0 && strspn(v, "0123456789.") == n;

    if (!num_parse_duration_ms(v, 0, UINT64_MAX / 3600, &ms)
        || (bare && (ms *= 3600) == 0) || ms < 1000
        || ms > 7 * 24 * 3600 * 1000ULL) {
        snprintf(err, len,
                 "invalid value '%s' for --tls-ticket-rotate (expected "
                 "hours such as 12 or 0.5, or a duration such as 90s; from "
                 "1s to 168 hours)",
                 v);
        return false;
    }
    set->o->tls_rotate_ms = ms;
    return true;
}

/* --admin: "PORT" (on 127.0.0.1), "HOST:PORT" or "[V6]:PORT". */
static bool
options_admin(struct options_set *set, const char *v, char *err, size_t len)
{
    struct master_options *o = set->o;
    const char *colon = strrchr(v, ':'), *host = v;
    size_t hl = colon != NULL ? (size_t) (colon - v) : 0;
    uint64_t port;

    if (colon != NULL && hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        host++;
        hl -= 2;
    }
    if ((colon != NULL
         && (hl == 0 || hl >= sizeof(o->admin_host)
             || memchr(host, '[', hl) != NULL || memchr(host, ']', hl) != NULL))
        || !num_parse_cstr(colon != NULL ? colon + 1 : v, 0, 65535, &port)) {
        snprintf(err, len,
                 "invalid value '%s' for --admin (expected PORT or "
                 "HOST:PORT, PORT from 0 to 65535)",
                 v);
        return false;
    }
    if (colon != NULL) {
        memcpy(o->admin_host, host, hl);
        o->admin_host[hl] = '\0';
    } else {
        snprintf(o->admin_host, sizeof(o->admin_host), "127.0.0.1");
    }
    o->admin_port = (unsigned) port;
    o->admin = true;
    return true;
}

/* "unknown policy 'x' for WHERE (choose from rr, ...)". */
static void
options_bad_policy(const char *where, const char *name, char *err, size_t len)
{
    char names[256];
    size_t i, n = 0;

    names[0] = '\0';
    for (i = 0; policy_all[i] != NULL && n < sizeof(names); i++) {
        int rc = snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "",
                          policy_all[i]->name);

        n += rc > 0 ? (size_t) rc : 0;
    }
    snprintf(err, len, "unknown policy '%s' for %s (choose from %s)", name,
             where, names);
}

static bool
options_policy(struct options_set *set, const char *v, char *err, size_t len)
{
    set->o->policy = policy_find(v);
    set->policy_given = true;
    if (set->o->policy == NULL) {
        options_bad_policy("--policy", v, err, len);
        return false;
    }
    return true;
}

static bool
options_demo(struct options_set *set, const char *v, char *err, size_t len)
{
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
        snprintf(err, len,
                 "invalid value '%s' for --demo-routes (expected on or off)",
                 v);
        return false;
    }
    set->demo_routes = strcmp(v, "on") == 0;
    return true;
}

static bool
options_worker_sched(struct options_set *set, const char *v, char *err,
                     size_t len)
{
    if (strcmp(v, "batch") != 0 && strcmp(v, "normal") != 0) {
        snprintf(err, len,
                 "invalid value '%s' for --worker-sched (expected batch or "
                 "normal)",
                 v);
        return false;
    }
    set->o->worker_batch = strcmp(v, "batch") == 0;
    return true;
}

static bool
options_rehand(struct options_set *set, const char *v, char *err, size_t len)
{
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
        snprintf(err, len,
                 "invalid value '%s' for --rehand (expected on or off)", v);
        return false;
    }
    set->o->rehand = strcmp(v, "on") == 0;
    return true;
}

static bool
options_log_level(struct options_set *set, const char *v, char *err, size_t len)
{
    if (!log_level_parse(v, &set->o->log_level)) {
        snprintf(err, len,
                 "invalid value '%s' for --log-level (expected error, warn, "
                 "info or debug)",
                 v);
        return false;
    }
    return true;
}

static bool
options_log_format(struct options_set *set, const char *v, char *err,
                   size_t len)
{
    if (!log_format_parse(v, &set->o->log_format)) {
        snprintf(err, len,
                 "invalid value '%s' for --log-format (expected text or json)",
                 v);
        return false;
    }
    return true;
}

static bool
options_node_preload(struct options_set *set, const char *v, char *err,
                     size_t len)
{
    if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0) {
        snprintf(err, len,
                 "invalid value '%s' for --node-preload (expected on or off)",
                 v);
        return false;
    }
    set->o->node_preload = strcmp(v, "on") == 0;
    set->node_preload_given = true;
    return true;
}

/* An HTTP limit, by its own table. */
static bool
options_limit(struct options_set *set, enum limit_id id, const char *v,
              char *err, size_t len)
{
    static const char *const expect[] = {
        [LIMIT_COUNT] = "an integer",
        [LIMIT_BYTES] = "a size such as 512, 16k or 1m",
        [LIMIT_MS] = "a duration such as 10s or 500ms",
    };
    const struct limit_def *d = &limit_defs[id];
    char lo[24], hi[24];

    if (limits_parse(id, v, &set->o->limits.v[id])) {
        return true;
    }
    limits_format(id, d->min, lo, sizeof(lo));
    limits_format(id, d->max, hi, sizeof(hi));
    snprintf(err, len,
             "invalid value '%s' for --%s (expected %s, from %s to %s)", v,
             d->name, expect[d->kind], lo, hi);
    return false;
}

static bool
options_number(const struct opt_def *r, const char *v, void *field, char *err,
               size_t len)
{
    uint64_t n;

    if (!num_parse_cstr(v, r->min, r->max, &n)) {
        snprintf(err, len,
                 "invalid value '%s' for --%s (expected an integer from %llu "
                 "to %llu)",
                 v, r->name, (unsigned long long) r->min,
                 (unsigned long long) r->max);
        return false;
    }
    if (r->kind == OPT_UINT) {
        *(unsigned *) field = (unsigned) n;
    } else {
        *(uint64_t *) field = n;
    }
    return true;
}

/* 0, or a duration from r->min to r->max ms. */
static bool
options_duration(const struct opt_def *r, const char *v, uint64_t *field,
                 char *err, size_t len)
{
    uint64_t ms;

    if (!num_parse_duration_ms(v, 0, r->max, &ms) || (ms > 0 && ms < r->min)) {
        snprintf(err, len, "invalid value '%s' for --%s (expected %s)", v,
                 r->name, r->expect);
        return false;
    }
    *field = ms;
    return true;
}

/* Row <r>'s value <v> (NULL for a flag) into the options. */
static bool
options_set_row(struct options_set *set, const struct opt_def *r, const char *v,
                char *err, size_t len)
{
    void *field = (char *) set->o + r->offset;

    switch (r->kind) {
    case OPT_FLAG:
        /* A flag on the command line; in a file, `trace` or `trace on`. */
        if (v == NULL || strcmp(v, "on") == 0 || strcmp(v, "yes") == 0) {
            *(bool *) field = true;
        } else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0) {
            *(bool *) field = false;
        } else {
            snprintf(err, len,
                     "invalid value '%s' for --%s (expected on or off)", v,
                     r->name);
            return false;
        }
        return true;
    case OPT_UINT:
    case OPT_U64:
        return options_number(r, v, field, err, len);
    case OPT_MS:
        return options_duration(r, v, field, err, len);
    case OPT_PATH:
        *(const char **) field = v;
        if (v[0] == '\0') {
            snprintf(err, len, "--%s needs %s", r->name, r->need);
            return false;
        }
        return true;
    case OPT_CUSTOM:
        return r->set(set, v, err, len);
    default:
        snprintf(err, len, "--%s is not a setting", r->name);
        return false;
    }
}

/* The defaults, before any option. */
void
options_begin(struct options_set *set, struct master_options *o)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    memset(set, 0, sizeof(*set));
    set->o = o;
    set->demo_routes = -1;
    set->line = OPTIONS_CMDLINE;
    memset(o, 0, sizeof(*o));
    snprintf(o->host, sizeof(o->host), "0.0.0.0");
    o->port = 8080;
    o->workers = cpus < 1                     ? 1
                 : cpus > HANDOFF_MAX_WORKERS ? HANDOFF_MAX_WORKERS
                                              : (unsigned) cpus;
    o->backlog = 511;
    o->max_queue = 4096;
    o->grace_ms = 10000;
    o->worker_batch = true;
    o->rehand = true;
    o->policy = &policy_rr;
    limits_default(&o->limits);
    o->worker_timeout_ms = 30000; /* gunicorn's default */
    o->log_level = LOG_LEVEL_INFO;
    o->log_format = LOG_FORMAT_TEXT;
    o->node_preload = true;
    o->tls_rotate_ms = 12 * 3600 * 1000ULL;
}

/* Where-slot of option <name>: its row's index, or a limit's after the
 * rows; OPTIONS_WHERE_SLOTS when unknown. */
size_t
options_row_slot(const char *name)
{
    const struct opt_def *r = options_row(name);
    size_t i;

    if (r != NULL) {
        return (size_t) (r - options_table);
    }
    for (i = 0; i < LIM_COUNT; i++) {
        if (strcmp(limit_defs[i].name, name) == 0) {
            return OPTIONS_ROWS_MAX + i;
        }
    }
    return OPTIONS_WHERE_SLOTS;
}

/*
 * Where <name> is being set: noted, and refused when a file gives it
 * twice. The command line's first listener drops the file's: it says
 * where to listen, as --host and --port do.
 */
static bool
options_note_where(struct options_set *set, const char *name, char *err,
                   size_t len)
{
    size_t slot = options_row_slot(name);
    const struct opt_def *r = options_row(name);
    bool where_row = strcmp(name, "listen") == 0
                     || strcmp(name, "listen-tls") == 0
                     || strcmp(name, "host") == 0 || strcmp(name, "port") == 0;

    if (slot >= OPTIONS_WHERE_SLOTS) {
        return true;
    }
    if (set->line != OPTIONS_CMDLINE && (r == NULL || !r->repeat)
        && set->where[slot] != OPTIONS_UNSET
        && set->where[slot] != OPTIONS_CMDLINE) {
        snprintf(err, len, "'%s' is given twice (first on line %u)", name,
                 set->where[slot]);
        return false;
    }
    if (set->line == OPTIONS_CMDLINE && where_row
        && (set->listen_given || set->host_or_port_given)
        && set->where[options_row_slot("listen")] != OPTIONS_CMDLINE
        && set->where[options_row_slot("listen-tls")] != OPTIONS_CMDLINE
        && set->where[options_row_slot("host")] != OPTIONS_CMDLINE
        && set->where[options_row_slot("port")] != OPTIONS_CMDLINE) {
        struct master_options *o = set->o;

        memset(&o->listen, 0, sizeof(o->listen));
        snprintf(o->host, sizeof(o->host), "0.0.0.0");
        o->port = 8080;
        set->listen_given = set->host_or_port_given = false;
        set->where[options_row_slot("listen")] = OPTIONS_UNSET;
        set->where[options_row_slot("listen-tls")] = OPTIONS_UNSET;
        set->where[options_row_slot("host")] = OPTIONS_UNSET;
        set->where[options_row_slot("port")] = OPTIONS_UNSET;
    }
    set->where[slot] = set->line;
    return true;
}

/*
 * Applies option <name> (without "--") with <value> (NULL for one that
 * takes none). Returns true, or false with one line in <err>.
 */
bool
options_apply(struct options_set *set, const char *name, const char *value,
              char *err, size_t len)
{
    const struct opt_def *r = options_row(name);
    int i;

    if (options_row_slot(name) < OPTIONS_WHERE_SLOTS
        && !options_note_where(set, name, err, len)) {
        return false;
    }
    if (r != NULL) {
        if (r->native && set->native_flag[0] == '\0') {
            snprintf(set->native_flag, sizeof(set->native_flag), "--%s",
                     r->name);
        }
        return options_set_row(set, r, value, err, len);
    }
    for (i = 0; i < LIM_COUNT; i++) {
        if (strcmp(limit_defs[i].name, name) == 0) {
            if (set->native_flag[0] == '\0') {
                snprintf(set->native_flag, sizeof(set->native_flag), "--%s",
                         name);
            }
            return options_limit(set, (enum limit_id) i, value, err, len);
        }
    }
    snprintf(err, len, "unknown option '--%s'", name);
    return false;
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

/* --listen-tls and its files go together, one key per certificate. */
static bool
options_finish_tls(const struct master_options *o, char *err, size_t len)
{
    bool tls = false;
    unsigned i;

    for (i = 0; i < o->listen.n; i++) {
        tls = tls || o->listen.v[i].tls;
    }
    if (o->tls.ncert != o->tls.nkey) {
        snprintf(err, len,
                 "%u --tls-cert but %u --tls-key: each certificate needs "
                 "its key, given in the same order",
                 o->tls.ncert, o->tls.nkey);
        return false;
    }
    if (tls && o->tls.ncert == 0) {
        snprintf(err, len, "--listen-tls needs --tls-cert and --tls-key");
        return false;
    }
    return true;
}

/*
 * Once every option is applied: what follows from several of them, and
 * what they may not ask for together. Returns true, or false with one
 * line in <err>.
 */
bool
options_finish(struct options_set *set, char *err, size_t len)
{
    struct master_options *o = set->o;

    if (!set->policy_given) {
        options_node_policy(o);
    }
    if (set->listen_given && set->host_or_port_given) {
        snprintf(err, len,
                 "--listen names every address: not with --host or --port");
        return false;
    }
    if (!set->listen_given) {
        struct listen_spec *s = &o->listen.v[0];

        /* --host and --port: the one-listener shorthand. */
        memset(&o->listen, 0, sizeof(o->listen));
        snprintf(s->host, sizeof(s->host), "%s", o->host);
        s->port = o->port;
        snprintf(s->text, sizeof(s->text),
                 strchr(s->host, ':') != NULL ? "[%s]:%u" : "%s:%u", s->host,
                 s->port);
        o->listen.n = 1;
    } else {
        snprintf(o->host, sizeof(o->host), "%s", o->listen.v[0].host);
        o->port = o->listen.v[0].port;
    }
    /* A site's / is its home page, and /cpu burns a worker's CPU for
     * anyone: with --root, the demo is asked for, not given. */
    o->demo_routes =
        set->demo_routes == -1 ? o->root == NULL : set->demo_routes == 1;
    if (o->proxy_protocol && o->policy->accept != POLICY_MASTER_ACCEPTS) {
        snprintf(err, len,
                 "--proxy-protocol needs a policy where the master accepts "
                 "(not %s)",
                 o->policy->name);
        return false;
    }
    if (o->node_script != NULL && set->native_flag[0] != '\0') {
        snprintf(err, len,
                 "%s configures handoff's own workers; a Node worker "
                 "(--node) would ignore it",
                 set->native_flag);
        return false;
    }
    if (!options_finish_tls(o, err, len)) {
        return false;
    }
    if (o->node_script == NULL && o->node_bin != NULL) {
        snprintf(err, len, "--node-bin needs --node SCRIPT");
        return false;
    }
    if (o->node_script == NULL && set->node_preload_given) {
        snprintf(err, len, "--node-preload needs --node SCRIPT");
        return false;
    }
    return true;
}
