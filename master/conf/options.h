/*
 * options.h: the master's command line.
 */
#ifndef HS_MASTER_OPTIONS_H
#define HS_MASTER_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "http_limits.h"
#include "version.h"

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
    char **node_args;        /* arguments after SCRIPT (into argv) */
    int node_argc;
};

enum options_result {
    OPTIONS_RUN,  /* start the server */
    OPTIONS_EXIT, /* --help or --version was printed: exit 0 */
    OPTIONS_BAD,  /* one line on stderr said what is wrong: exit 2 */
};

enum options_result options_parse(int argc, char **argv,
                                  struct master_options *o);

#endif
