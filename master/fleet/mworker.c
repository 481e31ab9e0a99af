/*
 * mworker.c: a worker's record, from spawn_worker() until its process is
 * reaped, and what every kind of link shares: the list of links to flush
 * this loop turn, and the channel's closing.
 *
 * A record ends one way, mworker_destroy(), once its process is reaped
 * (or was never started) and its channel is closed, as libuv's
 * uv__finish_close() ends a handle: one path, its state asserted.
 */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>

#include "accept/accept-t.h"
#include "fdutil.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/output.h"
#include "fleet/rehand.h"
#include "log.h"

/* A record for the fleet's kind of worker, not yet started; NULL on
 * ENOMEM. */
struct mworker *
mworker_new(struct fleet *fl)
{
    struct mworker *w = calloc(1, sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->fl = fl;
    w->link = fl->kind;
    w->chan_fd = -1;
    chan_outbox_init(&w->out);
    if (w->link->init != NULL && w->link->init(w) == -1) {
        free(w);
        return NULL;
    }
    return w;
}

/*
 * The one destructor: <w>'s process has been reaped (or never started)
 * and its channel is closed. What it did stays counted in the fleet.
 */
void
mworker_destroy(struct mworker *w)
{
    struct fleet *fl = w->fl;

    assert(w->pid == 0 || w->exited);
    assert(!ev_is_active(&w->child_w));
    assert(w->chan_fd == -1 && !w->dirty);
    if (w->listed) {
        fl->served_gone += w->sw.load.served;
        fl->handed_gone += w->sw.handed;
        chan_stats_add(&fl->stats_gone, &w->stats);
        TAILQ_REMOVE(&fl->all, w, all_link);
    }
    output_close(w); /* its last lines */
    rehand_free(w);
    chan_outbox_free(&w->out);
    if (w->link->free != NULL) {
        w->link->free(w);
    }
    free(w);
}

static void
mworker_close(struct mworker *w)
{
    struct fleet *fl = w->fl;

    if (w->chan_fd == -1) {
        return;
    }
    ev_io_stop(fl->loop, &w->chan_r);
    ev_io_stop(fl->loop, &w->chan_w);
    ev_timer_stop(fl->loop, &w->chan_retry);
    if (w->dirty) {
        TAILQ_REMOVE(&fl->dirty, w, dirty_link);
        w->dirty = false;
    }
    w->link->close(w);
    fd_close(w->chan_fd);
    w->chan_fd = -1;
}

/*
 * <w>'s channel is gone (EOF, an error, a protocol error, its exit): it
 * closes, and the connections <w> never acknowledged go back to the
 * queue for other workers, now rather than at reaping.
 */
void
mworker_lost(struct mworker *w)
{
    struct sched_conn *sc;

    mworker_close(w);
    /* Back to the scheduler, which hands them elsewhere: not this
     * worker's table's any more. */
    TAILQ_FOREACH(sc, &w->sw.inflight, link) {
        rehand_unassign(w, mconn_of(sc));
    }
    sched_worker_gone(w->fl->sched, &w->sw);
}

/* A message came from <w> (the watchdog's clock). */
void
mworker_heard(struct mworker *w)
{
    w->last_heard = ev_now(w->fl->loop);
}

/* <w>'s link has something to write: it is flushed this loop turn. */
void
mworker_mark_dirty(struct mworker *w)
{
    if (!w->dirty) {
        w->dirty = true;
        TAILQ_INSERT_TAIL(&w->fl->dirty, w, dirty_link);
    }
}

/*
 * Flushes every link written to this loop turn, once (the prepare
 * watcher), so that handoffs made in one turn go out together. A link
 * waiting for writability or a retry is left to its watcher.
 */
void
mworker_flush_dirty(struct fleet *fl)
{
    struct mworker *w;

    while ((w = TAILQ_FIRST(&fl->dirty)) != NULL) {
        TAILQ_REMOVE(&fl->dirty, w, dirty_link);
        w->dirty = false;
        if (w->chan_fd != -1 && !ev_is_active(&w->chan_w)
            && !ev_is_active(&w->chan_retry)) {
            w->link->flush(w);
        }
    }
}

/* Tells every worker that can still hear it (SIGUSR1, trace on/off). */
void
mworker_notify_all(struct fleet *fl, enum chan_type type, uint32_t arg)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        if (w->link->notify != NULL) {
            w->link->notify(w, type, arg);
        }
    }
}

void
mworker_kill_all(struct fleet *fl, int sig)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        if (!w->exited && kill(w->pid, sig) == -1 && errno != ESRCH) {
            log_warn(errno, "kill(W%u, %d) failed", w->sw.id, sig);
        }
    }
}
