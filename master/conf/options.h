/*
 * options.h: the master's options, struct master_options, which every
 * part of the master reads its settings from, and how they are filled
 * (options_table.c, options.c).
 */
#ifndef HS_MASTER_OPTIONS_H
#define HS_MASTER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "http_limits.h"
#include "log.h"

struct sched_policy;

/* The most --listen addresses (a host name may bind several sockets;
 * CHAN_LISTENERS_MAX bounds those). */
#define LISTEN_SPECS_MAX 16

/* One --listen ADDR:PORT (or the --host, --port shorthand), or one
 * --listen-tls ADDR:PORT, whose certificates are the --tls-cert ones. */
struct listen_spec {
    char host[64]; /* numeric address or name, brackets stripped */
    unsigned port; /* 0: the kernel picks one (logged) */
    char text[72]; /* "host:port", "[v6]:port": its name in logs, stats */
    bool tls;      /* --listen-tls: HTTPS, the workers do the handshake */
};

/* The most --tls-cert (and --tls-key) files: SNI picks among them. */
#define TLS_CERTS_MAX 8
#define TLS_PATH_MAX 256

/* HTTPS: the certificates (PEM, each with its chain) and their keys,
 * paired in order, and the TLS 1.2 cipher list (1.3 keeps OpenSSL's). */
struct tls_files {
    char cert[TLS_CERTS_MAX][TLS_PATH_MAX];
    char key[TLS_CERTS_MAX][TLS_PATH_MAX];
    unsigned ncert, nkey;
};

struct listen_list {
    struct listen_spec v[LISTEN_SPECS_MAX];
    unsigned n;
};

struct master_options {
    /* Where to listen: --listen, else --host and --port as one. */
    struct listen_list listen;
    char host[64]; /* the first listener's host, brackets stripped */
    unsigned port; /* ...and port; 0: the kernel picks one (logged) */
    unsigned workers;
    unsigned backlog;
    unsigned max_queue; /* accepted connections waiting for a worker */
    unsigned window;    /* unanswered handoffs per worker; 0: default */
    uint64_t grace_ms;  /* graceful-stop limit */
    bool trace;
    const char *worker_bin; /* NULL: handoff-worker beside this binary */
    const struct sched_policy *policy;
    char policy_note[160];      /* a warning to log at start-up, or "" */
    struct limits limits;       /* passed on to every worker */
    uint64_t worker_timeout_ms; /* watchdog; 0 off */
    uint64_t max_requests;      /* recycle a worker after this; 0 off */
    uint64_t max_requests_jitter;
    uint64_t max_rss_mb; /* recycle a worker above this; 0 off */
    bool worker_batch;   /* --worker-sched batch: workers in SCHED_BATCH */
    bool rehand;      /* --rehand on: idle connections outlive their worker */
    const char *root; /* --root: serve files from here, or NULL */
    bool demo_routes; /* --demo-routes; by default on without root */
    const char *access_log;  /* --access-log FILE, "-" for stderr, or NULL */
    bool admin;              /* --admin [HOST:]PORT given */
    char admin_host[64];     /* ...its HOST (brackets stripped) */
    unsigned admin_port;     /* ...and PORT */
    bool proxy_protocol;     /* --proxy-protocol */
    const char *control;     /* --control PATH, "none", or NULL (default) */
    const char *pid_file;    /* --pid-file FILE, or NULL */
    const char *user;        /* --user USER[:GROUP], or NULL */
    const char *node_script; /* --node SCRIPT: Node workers, or NULL */
    const char *node_bin;    /* --node-bin PATH, or NULL: node on PATH */
    bool node_preload;       /* --node-preload: handoff's preload (on) */
    char **node_args;        /* arguments after SCRIPT (into argv) */
    int node_argc;
    enum log_level log_level;   /* --log-level */
    enum log_format log_format; /* --log-format */
    const char *config;         /* -c FILE, or NULL */
    struct tls_files tls;       /* --tls-cert, --tls-key */
    const char *tls_ciphers;    /* --tls-ciphers, or NULL: our default */
    uint64_t tls_rotate_ms;     /* --tls-ticket-rotate: a new ticket key */
};

enum options_result {
    OPTIONS_RUN,       /* start the server */
    OPTIONS_EXIT,      /* --help, --version, a -t that passed: exit 0 */
    OPTIONS_BAD,       /* stderr said what is wrong: exit 2 */
    OPTIONS_TEST_FAIL, /* -t found errors, each FILE:LINE: on stderr: 1 */
};

/* Where an option was set: a line of the file, or these. */
#define OPTIONS_UNSET 0u
#define OPTIONS_CMDLINE ((unsigned) -1)
/* One slot per row, then one per HTTP limit. */
#define OPTIONS_WHERE_SLOTS (64 + LIM_COUNT)

/*
 * Options being filled in from "name value" pairs: a configuration
 * file's lines (config.c), then the command line's flags (options.c),
 * which override them, through the same table (options_table.c). A
 * value is kept by reference where the option is a string: it must
 * outlive the options (argv does; a file's values are kept by config.c
 * until exit).
 */
struct options_set {
    struct master_options *o;
    bool policy_given;
    bool listen_given, host_or_port_given;
    int demo_routes; /* -1 until given, then 0 or 1 */
    bool node_preload_given;
    /* The first flag given that only handoff's own workers read, as
     * "--name", or "" */
    char native_flag[64];
    const char *file; /* the configuration file, or NULL */
    unsigned line;    /* the file's line being applied, or OPTIONS_CMDLINE */
    /* Where each row (then each limit) was set, and each --listen. */
    unsigned where[OPTIONS_WHERE_SLOTS];
    unsigned listen_where[LISTEN_SPECS_MAX];
};

void options_begin(struct options_set *set, struct master_options *o);
bool options_listen_parse(const char *v, struct listen_spec *spec);
bool options_apply(struct options_set *set, const char *name, const char *value,
                   char *err, size_t len);
bool options_finish(struct options_set *set, char *err, size_t len);

/* Errors found in a configuration, each one line "FILE:LINE: what". */
#define CONF_ERRORS_MAX 32

struct conf_errors {
    char line[CONF_ERRORS_MAX][384];
    unsigned n;
    unsigned more; /* found beyond CONF_ERRORS_MAX */
};

void conf_error(struct conf_errors *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* "FILE:LINE: ", "command line: " or "" for <where>, into <buf>. */
const char *options_where(const struct options_set *set, unsigned where,
                          char *buf, size_t len);
size_t options_row_slot(const char *name);

enum options_result options_parse(int argc, char **argv,
                                  struct master_options *o);
/*
 * The options as the configuration file and the command line say now
 * (SIGHUP), checked as -t checks them: true, or false with <errs>
 * filled and <o> untouched.
 */
bool options_reread(struct master_options *o, struct conf_errors *errs);
void options_free(void);

/* config.c: a configuration file's lines through options_apply(). */
bool conf_read(const char *path, struct options_set *set,
               struct conf_errors *errs);
const char *conf_keep(const char *s);
void conf_free(void);

/* check.c: what -t checks beyond each value's syntax. */
bool options_check(const struct options_set *set, struct conf_errors *errs);

#endif
