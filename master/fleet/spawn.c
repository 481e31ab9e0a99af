/*
 * spawn.c: a slot's worker over time: started, reaped when it exits,
 * restarted with backoff (backoff.c) so that a crash loop never becomes a
 * fork storm, and replaced without shrinking the rotation, one slot after
 * another for a rolling restart (SIGHUP).
 *
 * A worker is the program of the fleet's kind of link (link.h): the
 * separate program handoff-worker (native.c), or node running the user's
 * script (node/), started as Node's cluster.fork() starts one (exec.c).
 *
 * Replacing never shrinks the rotation: the new worker is started first,
 * and the old one keeps serving until the new one says READY (workers.c
 * then retires it).
 *
 * At start, a worker program that cannot boot (a missing library, a
 * script that throws, --worker-bin /bin/false) would be restarted
 * forever, the service looking up while serving nothing. Once every
 * slot's worker has exited SPAWN_BOOT_ATTEMPTS times in a row before it
 * was READY, with none READY since the start, the master gives up and
 * exits 3, as gunicorn does ("Worker failed to boot"). After the first
 * READY it never gives up: it keeps restarting with backoff, and
 * accepting pauses while no worker is ready (acceptor.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accept/inherit.h"
#include "conf/options.h"
#include "fdutil.h"
#include "fleet/exec.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/output.h"
#include "fleet/rehand.h"
#include "fleet/spawn.h"
#include "log.h"

/* With backoff from 100 ms, 5 attempts take about 1.5 s (0.1 + 0.2 + 0.4
 * + 0.8 s between them): long enough for a worker that dies of something
 * passing, short enough that a unit that cannot work fails at once. */
#define SPAWN_BOOT_ATTEMPTS 5

static void spawn_child_cb(struct ev_loop *loop, ev_child *cw, int revents);

/* A record for slot <s> and its channel's socketpair (sv[1] is the
 * child's end), or NULL after saying why. */
static struct mworker *
spawn_prepare(struct slot *s, int sv[2])
{
    struct fleet *fl = s->fl;
    struct mworker *w = mworker_new(fl);

    if (w == NULL) {
        log_error(ENOMEM, "cannot start a worker");
        return NULL;
    }
    if (socketpair(AF_UNIX, w->link->sock_type | SOCK_NONBLOCK | SOCK_CLOEXEC,
                   0, sv)
        == -1) {
        log_error(errno, "socketpair() failed; cannot start a worker");
        mworker_destroy(w);
        return NULL;
    }
    sched_worker_init(&w->sw, ++fl->next_worker_id);
    w->sw.key = s->index;
    w->slot = s;
    (void) rehand_open(w); /* without: its connections end with it */
    return w;
}

/* Forks <w>'s process on the child's end <chan> of its channel. */
static int
spawn_process(struct mworker *w, int chan)
{
    struct exec_cmd cmd = {0};
    int err, out[2] = {-1, -1};

    if (w->link->command(w, &cmd) == -1) {
        log_error(ENOMEM, "cannot start a worker");
        exec_cmd_free(&cmd);
        return -1;
    }
    cmd.batch = w->fl->opt->worker_batch;
    if (w->link->capture_output) {
        if (output_open(w, out) == -1) {
            log_error(errno, "cannot start a worker: pipe2() failed");
            exec_cmd_free(&cmd);
            return -1;
        }
        cmd.out_fd = out[0];
        cmd.err_fd = out[1];
    }
    cmd.runas = &w->fl->runas;
    cmd.rehand_fd = rehand_fd(w) > 0 ? rehand_fd(w) : 0;
    w->pid = exec_worker(&cmd, chan);
    err = errno;
    rehand_forked(w); /* the child has it, or there is no child */
    exec_cmd_free(&cmd);
    fd_close(out[0]); /* the child's ends: it has its own copies */
    fd_close(out[1]);
    if (w->pid == -1) {
        w->pid = 0;
        log_error(err, "fork() failed; cannot start a worker");
        return -1;
    }
    return 0;
}

/* <w> runs, on its end <chan> of the channel: it is slot <s>'s now. */
static void
spawn_register(struct slot *s, struct mworker *w, int chan)
{
    struct fleet *fl = s->fl;
    const struct master_options *o = fl->opt;

    w->chan_fd = chan;
    w->started = w->last_heard = ev_now(fl->loop);
    if (o->max_requests > 0) {
        /* gunicorn's max_requests_jitter: workers started together do not
         * all recycle together. */
        w->recycle_after =
            o->max_requests
            + (o->max_requests_jitter > 0
                   ? sched_random(fl->sched) % (o->max_requests_jitter + 1)
                   : 0);
    }
    TAILQ_INSERT_TAIL(&fl->all, w, all_link);
    w->listed = true;
    fl->nalive++;
    s->w = w;
    ev_child_init(&w->child_w, spawn_child_cb, w->pid, 0);
    ev_child_start(fl->loop, &w->child_w);
    output_start(w);
    w->link->start(w);
    log_info("%s " MW_FMT " started in slot %u", w->link->title, MW_ARGS(w),
             s->index);
}

/* Starts a worker for slot <s> (which keeps any current one). */
struct mworker *
spawn_worker(struct slot *s)
{
    struct mworker *w;
    int sv[2];

    w = spawn_prepare(s, sv);
    if (w == NULL) {
        return NULL;
    }
    if (spawn_process(w, sv[1]) == -1) {
        fd_close(sv[0]);
        fd_close(sv[1]);
        mworker_destroy(w);
        return NULL;
    }
    fd_close(sv[1]);
    spawn_register(s, w, sv[0]);
    return w;
}

static void
spawn_respawn_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct slot *s = container_of(t, struct slot, respawn);

    (void) loop;
    (void) revents;
    if (s->fl->stopping || s->w != NULL) {
        return;
    }
    if (spawn_worker(s) == NULL) {
        /* fork/socketpair failed: try again later, backing off. */
        spawn_schedule(s, backoff_failed(&s->backoff));
    }
}

void
spawn_slot_init(struct slot *s)
{
    ev_init(&s->respawn, spawn_respawn_cb);
    backoff_init(&s->backoff);
}

/* Starts a worker for <s> after <delay_ms>. */
void
spawn_schedule(struct slot *s, uint64_t delay_ms)
{
    ev_timer_stop(s->fl->loop, &s->respawn);
    ev_timer_set(&s->respawn, (ev_tstamp) delay_ms / 1000., 0.);
    ev_timer_start(s->fl->loop, &s->respawn);
}

static void
spawn_log_exit(const struct mworker *w, int status, ev_tstamp lived)
{
    if (WIFEXITED(status)) {
        log_msg(WEXITSTATUS(status) == 0 && (w->fl->stopping || w->retiring)
                    ? LOG_LEVEL_INFO
                    : LOG_LEVEL_WARN,
                0, "worker " MW_FMT " exited with code %d after %.1f s",
                MW_ARGS(w), WEXITSTATUS(status), lived);
    } else if (WIFSIGNALED(status)) {
        log_warn(0, "worker " MW_FMT " killed by signal %d (%s) after %.1f s",
                 MW_ARGS(w), WTERMSIG(status), strsignal(WTERMSIG(status)),
                 lived);
    }
}

/* <w> was reaped: its record ends, and its slot restarts unless <w> was
 * leaving anyway. A graceful stop waiting for it moves on at the next
 * loop turn (the master's prepare watcher). */
static void
spawn_child_cb(struct ev_loop *loop, ev_child *cw, int revents)
{
    struct mworker *w = container_of(cw, struct mworker, child_w);
    struct fleet *fl = w->fl;
    ev_tstamp lived = ev_now(loop) - w->started;

    (void) revents;
    if (WIFSTOPPED(cw->rstatus) || WIFCONTINUED(cw->rstatus)) {
        return;
    }
    ev_child_stop(loop, cw);
    w->exited = true;
    fl->nalive--;
    fl->exits++;
    spawn_log_exit(w, cw->rstatus, lived);

    /* Whatever it sent before dying is still in the socket: read it all,
     * so acknowledged connections are released, not handed out again. */
    w->link->drain(w);
    mworker_lost(w);
    /* Dead, so its table says its last word: idle connections go to
     * other workers (rehand.c). */
    rehand_worker_gone(w);
    spawn_vacate(w, lived);
    mworker_destroy(w);
}

/*
 * True once no worker has been READY since the start and every slot's
 * latest SPAWN_BOOT_ATTEMPTS workers exited before they were.
 */
static bool
spawn_failed_to_boot(const struct fleet *fl)
{
    unsigned i;

    if (fl->ever_ready) {
        return false;
    }
    for (i = 0; i < fl->nslots; i++) {
        if (fl->slots[i]->boot_failures < SPAWN_BOOT_ATTEMPTS) {
            return false;
        }
    }
    return true;
}

static void
spawn_give_up(struct fleet *fl)
{
    char where[48] = "";

    if (fl->nslots > 1) {
        snprintf(where, sizeof(where), " in each of the %u slots", fl->nslots);
    }
    log_error(0,
              "worker failed to boot (%s): %d workers in a row exited "
              "before they were ready%s; giving up (exit 3)",
              fl->program, SPAWN_BOOT_ATTEMPTS, where);
    fl->hooks.give_up(fl->hooks.ctx, 3);
}

/*
 * <w> is no longer its slot's worker (it exited, or left on its own):
 * the slot gets a new one, after a delay if <w> did not live long.
 */
void
spawn_vacate(struct mworker *w, ev_tstamp lived)
{
    struct fleet *fl = w->fl;
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
    if (fl->stopping) {
        return;
    }
    if (!w->ready) {
        s->boot_failures++;
    }
    if (spawn_failed_to_boot(fl)) {
        spawn_give_up(fl);
        return;
    }
    s->restarts++;
    fl->restarts[w->watchdog_killed ? RESTART_WATCHDOG : RESTART_CRASH]++;
    delay_ms = backoff_next(&s->backoff, lived);
    if (delay_ms > 0) {
        log_info("restarting slot %u in %llu ms", s->index,
                 (unsigned long long) delay_ms);
    }
    spawn_schedule(s, delay_ms);
    /* Its fresh worker is new code too: a rolling restart moves on. */
    spawn_reload_next(fl, s);
}

/* Starts a new worker for <s>; the current one goes once it is READY.
 * <cause>: what /metrics counts it as. */
void
spawn_replace(struct slot *s, enum restart_cause cause, const char *why)
{
    struct mworker *old = s->w;

    if (s->fl->stopping || s->old != NULL || old == NULL || !old->ready) {
        return; /* already being replaced, or nothing to replace yet */
    }
    log_info("replacing worker " MW_FMT " in slot %u: %s", MW_ARGS(old),
             s->index, why);
    s->old = old;
    s->w = NULL;
    if (spawn_worker(s) == NULL) {
        /* Keep the old one; the slot retries as after an exit. */
        s->w = old;
        s->old = NULL;
        return;
    }
    s->fl->restarts[cause]++;
}

/* The rolling restart's next slot: each slot's worker is replaced in
 * turn, the next once the last one's successor is READY. */
void
spawn_reload_step(struct fleet *fl)
{
    while (fl->reload_next >= 0 && (unsigned) fl->reload_next < fl->nslots) {
        struct slot *s = fl->slots[fl->reload_next];

        if (s->w != NULL && s->w->ready && s->old == NULL) {
            spawn_replace(s, RESTART_RELOAD, "rolling restart");
            if (s->old != NULL) {
                return; /* continue when its successor is READY */
            }
        }
        fl->reload_next++;
    }
    if (fl->reload_next >= 0) {
        log_info("rolling restart done");
        fl->reload_next = -1;
        if (fl->reload_again) {
            fl->reload_again = false;
            spawn_reload(fl);
        }
    }
}

/* Slot <s> has new code coming: if the rolling restart is at it, on. */
void
spawn_reload_next(struct fleet *fl, const struct slot *s)
{
    if (fl->reload_next >= 0 && s->index == (unsigned) fl->reload_next) {
        fl->reload_next++;
        spawn_reload_step(fl);
    }
}

/* SIGHUP, handoffctl reload: replace every worker, one slot at a time. */
void
spawn_reload(struct fleet *fl)
{
    if (fl->stopping) {
        return;
    }
    if (fl->reload_next >= 0) {
        fl->reload_again = true; /* finish this pass, then start another */
        return;
    }
    log_info("rolling restart of %u worker%s", fl->nslots,
             fl->nslots == 1 ? "" : "s");
    inherit_notify("RELOADING=1");
    fl->reload_next = 0;
    spawn_reload_step(fl);
}
