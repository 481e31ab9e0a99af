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

struct sched_policy;

struct master_options {
    char host[64]; /* numeric address or name, brackets stripped */
    unsigned port; /* 0: the kernel picks one (logged) */
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
    uint64_t max_rss_mb;     /* recycle a worker above this; 0 off */
    const char *root;        /* --root: serve files from here, or NULL */
    bool demo_routes;        /* --demo-routes; by default on without root */
    const char *access_log;  /* --access-log FILE, "-" for stderr, or NULL */
    const char *admin;       /* --admin [HOST:]PORT, or NULL */
    char admin_host[64];     /* ...its HOST (brackets stripped) */
    unsigned admin_port;     /* ...and PORT */
    bool proxy_protocol;     /* --proxy-protocol */
    const char *control;     /* --control PATH, "none", or NULL (default) */
    const char *node_script; /* --node SCRIPT: Node workers, or NULL */
    const char *node_bin;    /* --node-bin PATH, or NULL: node on PATH */
    bool node_preload;       /* --node-preload: handoff's preload (on) */
    char **node_args;        /* arguments after SCRIPT (into argv) */
    int node_argc;
};

enum options_result {
    OPTIONS_RUN,  /* start the server */
    OPTIONS_EXIT, /* --help or --version was printed: exit 0 */
    OPTIONS_BAD,  /* one line on stderr said what is wrong: exit 2 */
};

/*
 * Options being filled in from "name value" pairs: the command line's
 * flags (options.c) or, later, a configuration file's lines, through the
 * same table (options_table.c). A value is kept by reference where the
 * option is a string: it must outlive the options.
 */
struct options_set {
    struct master_options *o;
    bool policy_given;
    int demo_routes; /* -1 until given, then 0 or 1 */
    bool node_preload_given;
    /* The first flag given that only handoff's own workers read, as
     * "--name", or "" */
    char native_flag[64];
};

void options_begin(struct options_set *set, struct master_options *o);
bool options_apply(struct options_set *set, const char *name, const char *value,
                   char *err, size_t len);
bool options_finish(struct options_set *set, char *err, size_t len);

enum options_result options_parse(int argc, char **argv,
                                  struct master_options *o);

#endif
