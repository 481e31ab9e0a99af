/*
 * workers.c: what a worker's state leads to. It joins the rotation when
 * READY (and the worker it replaces retires); it leaves the rotation
 * before it is told anything (so it is never handed a connection it would
 * have to refuse) and is told SHUTDOWN, after which it finishes its
 * requests and exits; it is recycled (replaced, with no failed request)
 * past --max-requests or --max-rss; the watchdog kills a worker whose
 * messages stop for --worker-timeout, and its exit is then handled like
 * any other (spawn.c): unacknowledged connections go to other workers and
 * the slot restarts.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "accept/inherit.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fleet/link.h"
#include "fleet/spawn.h"
#include "fleet/workers.h"
#include "log.h"
#include "sched/policy.h"

#define RECYCLE_MIN_AGE_S 1.0 /* a worker serves at least this long */

/* <w> is told, once, to finish what it has and exit. */
static void
workers_tell_shutdown(struct mworker *w)
{
    if (w->chan_fd != -1 && !w->shutdown_sent) {
        w->link->shutdown(w);
        w->shutdown_sent = true;
    }
}

/*
 * <w> leaves the rotation and is told to finish and exit. It is no longer
 * any slot's worker, so its exit starts nothing.
 */
void
workers_retire(struct mworker *w, const char *why)
{
    if (w->retiring) {
        return;
    }
    log_info("worker " MW_FMT " retiring: %s", MW_ARGS(w), why);
    w->retiring = true;
    if (w->slot != NULL) {
        if (w->slot->w == w) {
            w->slot->w = NULL;
        }
        if (w->slot->old == w) {
            w->slot->old = NULL;
        }
        /* What it served stays counted in the slot. */
        w->slot->served_before += w->sw.load.served;
        w->slot->handed_before += w->sw.handed;
        w->slot = NULL;
    }
    sched_worker_leave(w->fl->sched, &w->sw);
    workers_tell_shutdown(w);
}

/* Once every slot's worker is ready: tell systemd, or an old master. */
static void
workers_maybe_announce(struct fleet *fl)
{
    char status[160];
    unsigned i;

    for (i = 0; i < fl->nslots; i++) {
        if (fl->slots[i]->w == NULL || !fl->slots[i]->w->ready) {
            return;
        }
    }
    fl->hooks.all_ready(fl->hooks.ctx);
    if (!fl->announced || fl->reload_next < 0) {
        snprintf(status, sizeof(status),
                 "READY=1\nSTATUS=serving with %u worker%s (policy %s)"
                 "\nMAINPID=%ld",
                 fl->nslots, fl->nslots == 1 ? "" : "s", fl->opt->policy->name,
                 (long) getpid());
        inherit_notify(status);
        fl->announced = true;
    }
}

/* Listener <i> as <w> should know it: its address, and under none and
 * reuseport the socket to accept on; or, <open> false, that it closes. */
static void
workers_tell_listener(struct mworker *w, unsigned i, bool open)
{
    const struct fleet *fl = w->fl;
    int fd = open ? listeners_fd_of(fl->lis, i, fl->opt->policy->accept,
                                    w->slot != NULL ? (int) w->slot->index : -1)
                  : -1;

    if (w->link->listener != NULL && w->chan_fd != -1) {
        w->link->listener(w, i, open ? &fl->lis->l[i].addr : NULL, fd);
    }
}

static void
workers_tell_listeners(struct mworker *w)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        if (w->fl->lis->l[i].open) {
            workers_tell_listener(w, i, true);
        }
    }
}

/* Listener <i> opened, or is about to close (<open> false) (SIGHUP):
 * every worker that is READY hears of it; the others will when they
 * are. */
void
workers_listener_changed(struct fleet *fl, unsigned i, bool open)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        if (w->ready && !w->exited) {
            workers_tell_listener(w, i, open);
        }
    }
}

/*
 * <w> said READY: it joins; the worker it replaces, if any, retires.
 * During a graceful stop it joins nothing: the stop tells it to go at
 * the next loop turn (master.c's prepare watcher).
 */
void
workers_ready(struct mworker *w)
{
    struct fleet *fl = w->fl;
    struct slot *s = w->slot;

    w->ready = true;
    w->ready_at = ev_now(fl->loop);
    fl->ever_ready = true;
    if (s != NULL) {
        s->boot_failures = 0;
    }
    log_info("worker " MW_FMT " ready", MW_ARGS(w));
    if (w->retiring || fl->stopping) {
        return; /* retired before it was up: it has SHUTDOWN already */
    }
    workers_tell_listeners(w);
    sched_worker_up(fl->sched, &w->sw);
    if (s != NULL && s->old != NULL) {
        workers_retire(s->old, "its replacement is ready");
    }
    if (s != NULL) {
        spawn_reload_next(fl, s);
    }
    workers_maybe_announce(fl);
}

/*
 * <w> is leaving on its own while its process lives on (a Node worker
 * that disconnected finishes its connections first): out of the rotation,
 * and its slot is refilled now rather than at its exit.
 */
void
workers_left(struct mworker *w, const char *why)
{
    struct fleet *fl = w->fl;

    sched_worker_leave(fl->sched, &w->sw);
    if (w->retiring || w->slot == NULL || fl->stopping) {
        return;
    }
    log_info("worker " MW_FMT " leaves: %s", MW_ARGS(w), why);
    w->retiring = true;
    spawn_vacate(w, ev_now(fl->loop) - w->started);
}

/* Past --max-requests or --max-rss: replace it, with no failed request. */
void
workers_check_recycle(struct mworker *w)
{
    struct fleet *fl = w->fl;
    const struct chan_load *l = &w->sw.load;
    char why[96];

    if (w->slot == NULL || w->retiring || !w->ready || w->slot->old != NULL
        || ev_now(fl->loop) - w->ready_at < RECYCLE_MIN_AGE_S) {
        return;
    }
    if (w->recycle_after > 0 && l->served >= w->recycle_after) {
        snprintf(why, sizeof(why), "served %llu requests (--max-requests)",
                 (unsigned long long) l->served);
    } else if (fl->opt->max_rss_mb > 0
               && l->rss_kib > fl->opt->max_rss_mb * 1024) {
        snprintf(why, sizeof(why), "RSS %u KiB over --max-rss %llu MiB",
                 l->rss_kib, (unsigned long long) fl->opt->max_rss_mb);
    } else {
        return;
    }
    spawn_replace(w->slot, RESTART_RECYCLE, why);
}

/*
 * A graceful stop's step, once no accepted connection waits for a worker:
 * each worker with no handoff left unanswered leaves the rotation and is
 * told to finish and exit. One that has not said READY yet waits for it,
 * unless its kind can be told at any point. A worker that never answers
 * holds back only itself, until --grace runs out.
 */
void
workers_shutdown_idle(struct fleet *fl)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        if ((!w->ready && !w->link->stop_before_ready) || w->shutdown_sent
            || w->chan_fd == -1 || w->sw.ninflight > 0) {
            continue;
        }
        sched_worker_leave(fl->sched, &w->sw);
        workers_tell_shutdown(w);
    }
}

static void
workers_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct fleet *fl = container_of(t, struct fleet, watchdog);
    ev_tstamp limit = (ev_tstamp) fl->opt->worker_timeout_ms / 1000.;
    struct mworker *w;

    (void) revents;
    TAILQ_FOREACH(w, &fl->all, all_link) {
        ev_tstamp since = w->last_heard, silent;

        /* Workers report at least once a second; one starting up gets the
         * same time to say READY. A kind that says nothing unasked tells
         * when its silence counts (silent_since). */
        if (w->link->silent_since != NULL
            && !w->link->silent_since(w, &since)) {
            continue;
        }
        silent = ev_now(loop) - since;
        if (w->exited || w->chan_fd == -1 || silent <= limit) {
            continue;
        }
        log_warn(0,
                 "worker " MW_FMT " silent for %.1f s "
                 "(--worker-timeout); killing it",
                 MW_ARGS(w), silent);
        w->watchdog_killed = true;
        if (kill(w->pid, SIGKILL) == -1 && errno != ESRCH) {
            log_warn(errno, "kill(W%u) failed", w->sw.id);
        }
        w->last_heard = ev_now(loop); /* once; its exit follows */
    }
}

/* --worker-timeout: the watchdog looks four times per timeout, at least
 * every 0.25 s. */
void
workers_watch(struct fleet *fl)
{
    ev_tstamp every = (ev_tstamp) fl->opt->worker_timeout_ms / 4000.;

    if (fl->opt->worker_timeout_ms == 0) {
        return;
    }
    if (every > 0.25) {
        every = 0.25;
    }
    ev_timer_init(&fl->watchdog, workers_watchdog_cb, every, every);
    ev_timer_start(fl->loop, &fl->watchdog);
}
