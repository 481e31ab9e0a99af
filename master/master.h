/*
 * master.h: the master process as a whole, struct master: each part's
 * own state, the loop and the signals that drive them, and the graceful
 * stop. Only main.c and master.c see it; every part works on its own
 * struct and reaches master.c through hooks it was given.
 *
 * The parts, lowest first (each uses only those before it):
 *   common/  shared with the worker: the channel, logging, parsing
 *   sched/   the scheduler and its policies: pure, no I/O
 *   conf/    the options (struct master_options), read by all below
 *   accept/  listening sockets, accept, the PROXY header, the records of
 *            accepted connections
 *   fleet/   workers and their slots: spawning, restarts, the rotation,
 *            and a worker's link (link.h) with the native kind
 *   node/    Node cluster workers (--node) as a second kind of link
 *   ops/     the admin listener, the control socket, the figures,
 *            trace lines, binary upgrade
 */
#ifndef HS_MASTER_MASTER_H
#define HS_MASTER_MASTER_H

#include <ev.h>
#include <stdbool.h>

#include "accept/accept-t.h"
#include "conf/options.h"
#include "fleet/fleet-t.h"
#include "ops/ops-t.h"
#include "ops/upgrade.h"
#include "sched/sched.h"

struct master {
    struct ev_loop *loop;
    struct master_options opt;
    /* The options as the configuration last said them: what SIGHUP
     * compares with (opt also has what changed at run time: the worker
     * count by SIGTTIN, trace by handoffctl). */
    struct master_options configured;
    struct sched sched;
    struct listeners lis;
    struct acceptor acc;
    struct fleet fleet;
    struct upgrade up;
    struct ops_env env; /* what ops/ sees */

    ev_prepare prepare_w; /* once per loop turn: stop, flush, accept */
    ev_io log_w;          /* stderr writable again: the log's backlog */
    ev_signal sig_int, sig_term, sig_quit, sig_hup, sig_usr1, sig_usr2,
        sig_ttin, sig_ttou;
    ev_timer grace_w;
    bool stopping;
    int exit_status; /* what master_run() returns */
};

int master_run(struct master *m, char **argv);

#endif
