/*
 * workers.c: the set of workers. Each slot holds one worker; this file
 * decides when a slot's worker is replaced and how.
 *
 * Replacing never shrinks the rotation: the new worker is started first,
 * and the old one keeps serving until the new one says READY; only then
 * does the old one leave the rotation (before it is told anything, so it
 * is never handed a connection it would have to refuse) and get SHUTDOWN,
 * after which it finishes its requests and exits. The same step serves a
 * rolling restart (SIGHUP, one slot after another), recycling (a worker
 * past --max-requests or --max-rss) and scaling down (SIGTTOU retires the
 * last slot's worker; SIGTTIN adds a slot). The watchdog kills a worker
 * whose messages stop for --worker-timeout; its exit is then handled
 * like any other: unacknowledged connections go to other workers and the
 * slot restarts.
 *
 * At start, a worker program that cannot boot (a missing library, a
 * script that throws, --worker-bin /bin/false) would be restarted
 * forever, the service looking up while serving nothing. Once every
 * slot's worker has exited WORKERS_BOOT_ATTEMPTS times in a row before
 * it was READY, with none READY since the start, the master gives up
 * and exits 3, as gunicorn does ("Worker failed to boot"). After the
 * first READY it never gives up: it keeps restarting with backoff, and
 * accepting pauses while no worker is ready (acceptor.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "sched/policy.h"

#define RECYCLE_MIN_AGE_S 1.0 /* a worker serves at least this long */
/* With backoff from 100 ms, 5 attempts take about 1.5 s (0.1 + 0.2 + 0.4
 * + 0.8 s between them): long enough for a worker that dies of something
 * passing, short enough that a unit that cannot work fails at once. */
#define WORKERS_BOOT_ATTEMPTS 5

static void workers_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents);

struct slot *
workers_add_slot(struct master *m)
{
    struct slot **slots, *s;

    s = calloc(1, sizeof(*s));
    slots = realloc(m->slots, (m->nslots + 1) * sizeof(*slots));
    if (s == NULL || slots == NULL) {
        free(s);
        if (slots != NULL) {
            m->slots = slots;
        }
        return NULL;
    }
    m->slots = slots;
    s->m = m;
    s->index = m->nslots;
    spawn_slot_init(s);
    m->slots[m->nslots++] = s;
    return s;
}

/* Creates the first --workers slots (their workers start with the loop). */
int
workers_init(struct master *m)
{
    unsigned i;

    TAILQ_INIT(&m->all);
    m->reload_next = -1;
    for (i = 0; i < m->opt.workers; i++) {
        if (workers_add_slot(m) == NULL) {
            return -1;
        }
    }
    return 0;
}

void
workers_start(struct master *m)
{
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        spawn_schedule(m->slots[i], 0);
    }
    if (m->opt.worker_timeout_ms > 0) {
        ev_tstamp every = (ev_tstamp) m->opt.worker_timeout_ms / 4000.;

        ev_timer_init(&m->watchdog, workers_watchdog_cb,
                      every < 0.25 ? every : 0.25, every < 0.25 ? every : 0.25);
        ev_timer_start(m->loop, &m->watchdog);
    }
}

void
workers_stop_respawns(struct master *m)
{
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        ev_timer_stop(m->loop, &m->slots[i]->respawn);
    }
    ev_timer_stop(m->loop, &m->watchdog);
}

void
workers_heard(struct mworker *w)
{
    w->last_heard = ev_now(w->m->loop);
}

/*
 * <w> leaves the rotation and is told to finish and exit. It is no longer
 * any slot's worker, so its exit starts nothing.
 */
void
workers_retire(struct mworker *w, const char *why)
{
    struct master *m = w->m;
    struct chan_msg msg;

    if (w->retiring) {
        return;
    }
    log_info("worker W%u (pid %ld) retiring: %s", w->sw.id, (long) w->pid, why);
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
    sched_worker_leave(&m->sched, &w->sw);
    if (w->chan_fd != -1 && !w->shutdown_sent) {
        chan_msg_init(&msg, CHAN_SHUTDOWN, w->sw.id);
        link_send(w, &msg, -1);
        w->shutdown_sent = true;
    }
}

/* Starts a new worker for <s>; the current one goes once it is READY. */
void
workers_replace(struct slot *s, const char *why)
{
    struct mworker *old = s->w;

    if (s->m->stopping || s->old != NULL || old == NULL || !old->ready) {
        return; /* already being replaced, or nothing to replace yet */
    }
    log_info("replacing worker W%u (pid %ld) in slot %u: %s", old->sw.id,
             (long) old->pid, s->index, why);
    s->old = old;
    s->w = NULL;
    if (spawn_worker(s) == NULL) {
        /* Keep the old one; the slot retries as after an exit. */
        s->w = old;
        s->old = NULL;
    }
}

static void
workers_reload_step(struct master *m)
{
    while (m->reload_next >= 0 && (unsigned) m->reload_next < m->nslots) {
        struct slot *s = m->slots[m->reload_next];

        if (s->w != NULL && s->w->ready && s->old == NULL) {
            workers_replace(s, "rolling restart");
            if (s->old != NULL) {
                return; /* continue when its successor is READY */
            }
        }
        m->reload_next++;
    }
    if (m->reload_next >= 0) {
        log_info("rolling restart done");
        m->reload_next = -1;
        if (m->reload_again) {
            m->reload_again = false;
            workers_reload(m);
        }
    }
}

/* SIGHUP: replace every worker, one slot at a time. */
void
workers_reload(struct master *m)
{
    if (m->stopping) {
        return;
    }
    if (m->reload_next >= 0) {
        m->reload_again = true; /* finish this pass, then start another */
        return;
    }
    log_info("rolling restart of %u worker%s", m->nslots,
             m->nslots == 1 ? "" : "s");
    inherit_notify("RELOADING=1");
    m->reload_next = 0;
    workers_reload_step(m);
}

/* Once every slot's worker is ready: tell systemd, or an old master. */
static void
workers_maybe_announce(struct master *m)
{
    char status[160];
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        if (m->slots[i]->w == NULL || !m->slots[i]->w->ready) {
            return;
        }
    }
    upgrade_maybe_ready(m);
    if (!m->announced || m->reload_next < 0) {
        snprintf(status, sizeof(status),
                 "READY=1\nSTATUS=serving with %u worker%s (policy %s)"
                 "\nMAINPID=%ld",
                 m->nslots, m->nslots == 1 ? "" : "s", m->opt.policy->name,
                 (long) getpid());
        inherit_notify(status);
        m->announced = true;
    }
}

/* <w> said READY: it joins; the worker it replaces, if any, retires. */
void
workers_ready(struct mworker *w)
{
    struct master *m = w->m;
    struct slot *s = w->slot;

    w->ready = true;
    w->ready_at = ev_now(m->loop);
    m->ever_ready = true;
    if (s != NULL) {
        s->boot_failures = 0;
    }
    log_info("worker W%u (pid %ld) ready", w->sw.id, (long) w->pid);
    if (w->retiring) {
        return; /* retired before it was up: it has SHUTDOWN already */
    }
    if (m->stopping) {
        master_stop_progress(m);
        return;
    }
    link_send_listener(w);
    sched_worker_up(&m->sched, &w->sw);
    if (s != NULL && s->old != NULL) {
        workers_retire(s->old, "its replacement is ready");
    }
    if (m->reload_next >= 0 && s != NULL
        && s->index == (unsigned) m->reload_next) {
        m->reload_next++;
        workers_reload_step(m);
    }
    workers_maybe_announce(m);
}

/* SIGTTIN / SIGTTOU, and handoffctl workers N: one worker more or fewer. */
void
workers_scale(struct master *m, int delta)
{
    struct slot *s;

    if (m->stopping) {
        return;
    }
    if (delta > 0) {
        if (m->nslots >= 1024) {
            log_warn(0, "already 1024 workers; not adding one");
            return;
        }
        s = workers_add_slot(m);
        if (s == NULL) {
            log_error(ENOMEM, "cannot add a worker");
            return;
        }
        if (m->opt.policy->accept == POLICY_REUSEPORT
            && listeners_open_slot(&m->lis, s->index) == -1) {
            log_error(errno, "cannot open a socket for the new worker");
        }
        log_info("adding a worker: now %u", m->nslots);
        spawn_schedule(s, 0);
        return;
    }
    if (m->nslots <= 1) {
        log_warn(0, "only one worker left; not removing it");
        return;
    }
    s = m->slots[--m->nslots];
    log_info("removing a worker: now %u", m->nslots);
    ev_timer_stop(m->loop, &s->respawn);
    if (s->old != NULL) {
        workers_retire(s->old, "its slot is removed");
    }
    if (s->w != NULL) {
        workers_retire(s->w, "one worker fewer");
    }
    if (m->reload_next >= (int) m->nslots) {
        workers_reload_step(m);
    }
    /* Its socket (reuseport) stays open until workers that use it exit. */
    listeners_close_slot(&m->lis, s->index);
    free(s);
}

/* Past --max-requests or --max-rss: replace it, with no failed request. */
void
workers_check_recycle(struct mworker *w)
{
    struct master *m = w->m;
    const struct chan_load *l = &w->sw.load;
    char why[96];

    if (w->slot == NULL || w->retiring || !w->ready || w->slot->old != NULL
        || ev_now(m->loop) - w->ready_at < RECYCLE_MIN_AGE_S) {
        return;
    }
    if (w->recycle_after > 0 && l->served >= w->recycle_after) {
        snprintf(why, sizeof(why), "served %llu requests (--max-requests)",
                 (unsigned long long) l->served);
    } else if (m->opt.max_rss_mb > 0 && l->rss_kib > m->opt.max_rss_mb * 1024) {
        snprintf(why, sizeof(why), "RSS %u KiB over --max-rss %llu MiB",
                 l->rss_kib, (unsigned long long) m->opt.max_rss_mb);
    } else {
        return;
    }
    workers_replace(w->slot, why);
}

static void
workers_watchdog_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct master *m = container_of(t, struct master, watchdog);
    ev_tstamp limit = (ev_tstamp) m->opt.worker_timeout_ms / 1000.;
    struct mworker *w;

    (void) revents;
    TAILQ_FOREACH(w, &m->all, all_link) {
        ev_tstamp silent = ev_now(loop) - w->last_heard;

        /* Workers report at least once a second; one starting up gets the
         * same time to say READY. A Node worker says nothing unasked: once
         * it is up, only a handoff it leaves unanswered counts. */
        if (w->node != NULL && w->ready) {
            if (w->sw.ninflight == 0) {
                continue;
            }
            if (w->node->asked_at > w->last_heard) {
                silent = ev_now(loop) - w->node->asked_at;
            }
        }
        if (w->exited || w->chan_fd == -1 || silent <= limit) {
            continue;
        }
        log_warn(0,
                 "worker W%u (pid %ld) silent for %.1f s "
                 "(--worker-timeout); killing it",
                 w->sw.id, (long) w->pid, silent);
        if (kill(w->pid, SIGKILL) == -1 && errno != ESRCH) {
            log_warn(errno, "kill(W%u) failed", w->sw.id);
        }
        w->last_heard = ev_now(loop); /* once; its exit follows */
    }
}

/*
 * True once no worker has been READY since the start and every slot's
 * latest WORKERS_BOOT_ATTEMPTS workers exited before they were.
 */
static bool
workers_failed_to_boot(const struct master *m)
{
    unsigned i;

    if (m->ever_ready) {
        return false;
    }
    for (i = 0; i < m->nslots; i++) {
        if (m->slots[i]->boot_failures < WORKERS_BOOT_ATTEMPTS) {
            return false;
        }
    }
    return true;
}

/*
 * <w> is no longer its slot's worker (it exited, or left on its own):
 * the slot gets a new one, after a delay if <w> did not live long.
 */
static void
workers_vacate(struct mworker *w, ev_tstamp lived)
{
    struct master *m = w->m;
    struct slot *s = w->slot;
    uint64_t delay_ms;

    if (s == NULL) {
        return; /* retired: nothing to restart */
    }
    s->served_before += w->sw.load.served;
    s->handed_before += w->sw.handed;
    w->slot = NULL;
    if (s->old == w) {
        s->old = NULL; /* died while being replaced; its successor stays */
        return;
    }
    s->w = NULL;
    if (m->stopping) {
        return;
    }
    if (!w->ready) {
        s->boot_failures++;
    }
    if (workers_failed_to_boot(m)) {
        char where[48] = "";

        if (m->nslots > 1) {
            snprintf(where, sizeof(where), " in each of the %u slots",
                     m->nslots);
        }
        log_error(0,
                  "worker failed to boot (%s): %d workers in a row exited "
                  "before they were ready%s; giving up (exit 3)",
                  m->opt.node_script != NULL ? m->opt.node_script
                                             : m->worker_bin,
                  WORKERS_BOOT_ATTEMPTS, where);
        master_exit(m, 3);
        return;
    }
    s->restarts++;
    delay_ms = spawn_backoff(s, lived);
    if (delay_ms > 0) {
        log_info("restarting slot %u in %llu ms", s->index,
                 (unsigned long long) delay_ms);
    }
    spawn_schedule(s, delay_ms);
    if (m->reload_next >= 0 && s->index == (unsigned) m->reload_next) {
        /* Its fresh worker is new code too: move on. */
        m->reload_next++;
        workers_reload_step(m);
    }
}

/* <w> was reaped: restart its slot, unless it was leaving anyway. */
void
workers_exited(struct mworker *w, ev_tstamp lived)
{
    workers_vacate(w, lived);
}

/*
 * <w> is leaving on its own while its process lives on (a Node worker
 * that disconnected finishes its connections first): out of the rotation,
 * and its slot is refilled now rather than at its exit.
 */
void
workers_left(struct mworker *w, const char *why)
{
    struct master *m = w->m;

    sched_worker_leave(&m->sched, &w->sw);
    if (w->retiring || w->slot == NULL || m->stopping) {
        return;
    }
    log_info("worker W%u (pid %ld) leaves: %s", w->sw.id, (long) w->pid, why);
    w->retiring = true;
    workers_vacate(w, ev_now(m->loop) - w->started);
}

void
workers_fini(struct master *m)
{
    unsigned i;

    for (i = 0; i < m->nslots; i++) {
        ev_timer_stop(m->loop, &m->slots[i]->respawn);
        free(m->slots[i]);
    }
    free(m->slots);
    m->slots = NULL;
    m->nslots = 0;
}
