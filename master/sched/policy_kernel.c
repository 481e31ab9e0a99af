/*
 * policy_kernel.c: the two baselines where the kernel, not the master,
 * decides which worker gets a connection. The master never accepts; the
 * scheduler only keeps track of workers and their load reports.
 *
 *   none       Node's SCHED_NONE: the master's listening socket is sent to
 *              every worker, and they all accept on it. The skew this
 *              gives is why Node made round robin its default.
 *   reuseport  one SO_REUSEPORT listening socket per worker slot on the
 *              same port; the kernel hashes each connection to one.
 */
#include "sched/policy.h"

static struct sched_worker *
kernel_pick(struct sched *s, const struct sched_conn *c)
{
    (void) s;
    (void) c;
    return NULL;
}

const struct sched_policy policy_none = {
    .name = "none",
    .summary = "Node's SCHED_NONE: workers accept on one shared socket",
    .accept = POLICY_SHARED_SOCKET,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = kernel_pick,
};

const struct sched_policy policy_reuseport = {
    .name = "reuseport",
    .summary = "a SO_REUSEPORT socket per worker; the kernel hashes",
    .accept = POLICY_REUSEPORT,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = kernel_pick,
};
