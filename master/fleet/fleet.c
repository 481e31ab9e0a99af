/*
 * fleet.c: the set of workers, as the master drives it: its slots
 * created at start and started with the loop, one more or one fewer
 * (SIGTTIN, SIGTTOU, handoffctl workers N), no more starts once the
 * master stops, and what is left killed and freed after the loop.
 *
 * Scaling up adds a slot, whose worker starts at once; scaling down
 * retires the last slot's worker, which finishes its requests first.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "accept/listener.h"
#include "bounds.h"
#include "conf/options.h"
#include "fleet/fleet.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/spawn.h"
#include "fleet/tickets.h"
#include "fleet/workers.h"
#include "log.h"
#include "sched/policy.h"

static struct slot *
fleet_add_slot(struct fleet *fl)
{
    struct slot **slots, *s;

    s = calloc(1, sizeof(*s));
    slots = realloc(fl->slots, (fl->nslots + 1) * sizeof(*slots));
    if (s == NULL || slots == NULL) {
        free(s);
        if (slots != NULL) {
            fl->slots = slots;
        }
        return NULL;
    }
    fl->slots = slots;
    s->fl = fl;
    s->index = fl->nslots;
    spawn_slot_init(s);
    fl->slots[fl->nslots++] = s;
    return s;
}

/* An empty fleet of workers of kind <kind>. */
void
fleet_init(struct fleet *fl, struct ev_loop *loop,
           const struct master_options *opt, struct sched *sched,
           struct listeners *lis, const struct link_ops *kind,
           const struct fleet_hooks *hooks)
{
    fl->loop = loop;
    fl->opt = opt;
    fl->sched = sched;
    fl->lis = lis;
    fl->kind = kind;
    fl->reports = kind->load != NULL;
    fl->hooks = *hooks;
    TAILQ_INIT(&fl->all);
    TAILQ_INIT(&fl->dirty);
    fl->reload_next = -1;
    tickets_init(fl);
}

/* Creates the first --workers slots (their workers start with the loop).
 * Returns 0, or -1 on ENOMEM. */
int
fleet_open(struct fleet *fl)
{
    unsigned i;

    for (i = 0; i < fl->opt->workers; i++) {
        if (fleet_add_slot(fl) == NULL) {
            return -1;
        }
    }
    return 0;
}

void
fleet_start(struct fleet *fl)
{
    unsigned i;

    for (i = 0; i < fl->nslots; i++) {
        spawn_schedule(fl->slots[i], 0);
    }
    workers_watch(fl);
}

/* SIGTTIN / SIGTTOU, and handoffctl workers N: one worker more or fewer. */
void
fleet_scale(struct fleet *fl, int delta)
{
    struct slot *s;

    if (fl->stopping) {
        return;
    }
    if (delta > 0) {
        if (fl->nslots >= HANDOFF_MAX_WORKERS) {
            log_warn(0, "already %d workers; not adding one",
                     HANDOFF_MAX_WORKERS);
            return;
        }
        s = fleet_add_slot(fl);
        if (s == NULL) {
            log_error(ENOMEM, "cannot add a worker");
            return;
        }
        if (fl->opt->policy->accept == POLICY_REUSEPORT
            && listeners_open_slot(fl->lis, s->index) == -1) {
            log_error(errno, "cannot open a socket for the new worker");
        }
        log_info("adding a worker: now %u", fl->nslots);
        spawn_schedule(s, 0);
        return;
    }
    if (fl->nslots <= 1) {
        log_warn(0, "only one worker left; not removing it");
        return;
    }
    s = fl->slots[--fl->nslots];
    log_info("removing a worker: now %u", fl->nslots);
    ev_timer_stop(fl->loop, &s->respawn);
    if (s->old != NULL) {
        workers_retire(s->old, "its slot is removed");
    }
    if (s->w != NULL) {
        workers_retire(s->w, "one worker fewer");
    }
    if (fl->reload_next >= (int) fl->nslots) {
        spawn_reload_step(fl);
    }
    /* Its socket (reuseport) stays open until workers that use it exit. */
    listeners_close_slot(fl->lis, s->index);
    free(s);
}

/* The master stops: no worker starts again, the watchdog rests. */
void
fleet_stop(struct fleet *fl)
{
    unsigned i;

    fl->stopping = true;
    for (i = 0; i < fl->nslots; i++) {
        ev_timer_stop(fl->loop, &fl->slots[i]->respawn);
    }
    ev_timer_stop(fl->loop, &fl->watchdog);
}

/* After the loop: what is left is killed, reaped and freed (for LSan
 * too), through the same end as any exit. */
void
fleet_fini(struct fleet *fl)
{
    struct mworker *w;
    unsigned i;

    fleet_stop(fl);
    tickets_fini(fl);
    while ((w = TAILQ_FIRST(&fl->all)) != NULL) {
        if (!w->exited) {
            int status;

            (void) kill(w->pid, SIGKILL);
            while (waitpid(w->pid, &status, 0) == -1 && errno == EINTR) {
            }
            ev_child_stop(fl->loop, &w->child_w);
            w->exited = true;
        }
        mworker_lost(w);
        mworker_destroy(w);
    }
    for (i = 0; i < fl->nslots; i++) {
        free(fl->slots[i]);
    }
    free(fl->slots);
    fl->slots = NULL;
    fl->nslots = 0;
    if (fl->kind != NULL && fl->kind->fini != NULL) {
        fl->kind->fini(fl);
    }
}

/* What every worker, past and present, counted (STATS). */
void
fleet_counted(const struct fleet *fl, struct chan_stats *out)
{
    const struct mworker *w;

    *out = fl->stats_gone;
    TAILQ_FOREACH(w, &fl->all, all_link) {
        chan_stats_add(out, &w->stats);
    }
}

/* Scales to <n> slots, as one SIGTTIN or SIGTTOU at a time. */
void
fleet_scale_to(struct fleet *fl, unsigned n)
{
    while (fl->nslots < n) {
        unsigned before = fl->nslots;

        fleet_scale(fl, +1);
        if (fl->nslots == before) {
            break;
        }
    }
    while (fl->nslots > n && fl->nslots > 1) {
        fleet_scale(fl, -1);
    }
}
