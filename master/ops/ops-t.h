/*
 * ops-t.h: what the master's side doors (ops/: the admin listener, the
 * control socket, the figures) see of the master, set once by master.c.
 * They read the parts below them through it and reach the core only
 * through its hooks.
 */
#ifndef HS_MASTER_OPS_T_H
#define HS_MASTER_OPS_T_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

struct acceptor;
struct fleet;
struct listeners;
struct master_options;
struct sched;
struct upgrade;

struct ops_env {
    struct ev_loop *loop;
    const struct master_options *opt;
    const struct sched *sched;
    const struct listeners *lis;
    const struct acceptor *acc;
    struct fleet *fleet;
    const struct upgrade *up;
    ev_tstamp started; /* for uptime */
    /* The core's: --trace switched on or off at run time, in the master
     * and every worker. */
    void *ctx;
    void (*set_trace)(void *ctx, bool on);
    /* SIGHUP's: the configuration read again and applied, then a
     * rolling restart; false (nothing changed) with the first error. */
    bool (*reload)(void *ctx, char *why, size_t len);
};

#endif
