/*
 * node.c: Node cluster workers (--node) as a kind of link: node_link.c's
 * transport and node_cluster.c's protocol behind the operations of
 * fleet/link.h, and node_spawn.c's command line.
 *
 * Where the native kind differs: the channel is a SOCK_STREAM of JSON
 * lines; a connection goes out as Node's newconn; stopping is Node's
 * disconnect, possible before the worker listens; a Node worker has no
 * access log to reopen and no trace switch, sends load reports only
 * through handoff's preload (node_preload.c; without it /stats prints
 * null), and the watchdog counts only a handoff left unanswered.
 */
#include <sys/socket.h>

#include "node/node-t.h"
#include "node/node.h"
#include "node/node_cluster.h"
#include "node/node_link.h"
#include "node/node_preload.h"
#include "node/node_spawn.h"

static int
node_init(struct mworker *w)
{
    return node_link_new(w, node_cluster_line, node_cluster_closed);
}

/* The channel closes, however: what was counted is told, what was queued
 * or half read is dropped. */
static void
node_close(struct mworker *w)
{
    node_cluster_last_words(w);
    node_link_clear(w);
}

static bool
node_silent_since(const struct mworker *w, ev_tstamp *since)
{
    const struct node_link *nl = node_of(w);

    if (!w->ready) {
        return true; /* as any worker: READY within --worker-timeout */
    }
    if (w->sw.ninflight == 0) {
        return false;
    }
    if (nl->asked_at > *since) {
        *since = nl->asked_at;
    }
    return true;
}

static void
node_fini(struct fleet *fl)
{
    (void) fl;
    node_cluster_fini();
}

const struct link_ops node_link_ops = {
    .kind = "node",
    .title = "Node worker",
    /* Node's IPC channel is a byte stream of JSON lines. */
    .sock_type = SOCK_STREAM,
    .stop_before_ready = true,
    /* An application's console.log: each line logged as its worker's. */
    .capture_output = true,
    .resolve = node_spawn_resolve,
    .announce = node_spawn_announce,
    .fini = node_fini,
    .init = node_init,
    .command = node_spawn_command,
    .start = node_link_start,
    .handoff = node_cluster_newconn,
    .shutdown = node_cluster_disconnect,
    .flush = node_link_flush,
    .drain = node_link_drain,
    .close = node_close,
    .free = node_link_free,
    .load = node_preload_load,
    .silent_since = node_silent_since,
};
