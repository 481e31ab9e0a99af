/*
 * reload.c: SIGHUP and `handoffctl reload`, as nginx and gunicorn do
 * them: the configuration file (-c) and the command line are read again
 * and checked as -t checks them. A configuration with an error changes
 * nothing: every error is logged (FILE:LINE:) and the workers go on
 * serving, with no restart. Otherwise what changed is logged and
 * applied, each option as its row of the table says (opt_reload):
 *
 *   the master's own (workers, listeners, backlog, policy, window,
 *   timeouts, trace, log level and format): at once; a new listener is
 *   opened before anything else changes, so one that cannot be bound
 *   changes nothing either, and one no longer named is closed;
 *   the workers' (limits, --root, the access log, ...): by the rolling
 *   restart that follows, whose new workers are started with them;
 *   what only a new master can take (--admin, --control, --node, --user,
 *   a policy that changes who accepts): logged as needing SIGUSR2, and
 *   kept as it was.
 *
 * It is in the core because it reaches every part.
 */
#include <stdio.h>
#include <string.h>

#include "accept/acceptor.h"
#include "accept/listener.h"
#include "conf/options_table.h"
#include "fleet/fleet.h"
#include "fleet/link.h"
#include "fleet/spawn.h"
#include "fleet/tickets.h"
#include "fleet/workers.h"
#include "log.h"
#include "master.h"
#include "reload.h"
#include "sched/policy.h"

/* True when --listen's list names <spec>. */
static bool
reload_names(const struct listen_list *l, const char *spec)
{
    unsigned i;

    for (i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].text, spec) == 0) {
            return true;
        }
    }
    return false;
}

/* A listener opened at index <i>: its index's old counts are not its
 * own; the workers hear of it. */
static void
reload_listener_opened(struct master *m, unsigned i)
{
    struct chan_stats counted;

    fleet_counted(&m->fleet, &counted);
    memcpy(m->lis.l[i].base, counted.requests[i], sizeof(m->lis.l[i].base));
    workers_listener_changed(&m->fleet, i, true);
    log_info("SIGHUP: listening on %s", m->lis.l[i].address);
}

/*
 * Opens the listeners <now> names that are not open. Returns true, or
 * false after closing them again and saying why: nothing has changed.
 */
static bool
reload_open_listeners(struct master *m, const struct master_options *now)
{
    bool opened[CHAN_LISTENERS_MAX] = {false};
    bool reuseport = m->opt.policy->accept == POLICY_REUSEPORT;
    char err[320];
    unsigned i, k;

    for (i = 0; i < now->listen.n; i++) {
        const struct listen_spec *spec = &now->listen.v[i];
        bool open = false;

        for (k = 0; k < CHAN_LISTENERS_MAX; k++) {
            open = open
                   || (m->lis.l[k].open
                       && strcmp(m->lis.l[k].spec, spec->text) == 0);
        }
        if (open) {
            continue;
        }
        if (listeners_add(&m->lis, spec, reuseport, m->fleet.nslots, err,
                          sizeof(err))
            == -1) {
            log_error(0, "SIGHUP: %s; nothing changed", err);
            for (k = 0; k < CHAN_LISTENERS_MAX; k++) {
                if (opened[k]) {
                    listeners_remove(&m->lis, k);
                }
            }
            return false;
        }
        for (k = 0; k < CHAN_LISTENERS_MAX; k++) {
            opened[k] = opened[k]
                        || (m->lis.l[k].open
                            && strcmp(m->lis.l[k].spec, spec->text) == 0);
        }
    }
    for (k = 0; k < CHAN_LISTENERS_MAX; k++) {
        if (opened[k]) {
            reload_listener_opened(m, k);
        }
    }
    return true;
}

/* Closes the listeners <now> no longer names. */
static void
reload_close_listeners(struct master *m, const struct master_options *now)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        struct listener *l = &m->lis.l[i];

        if (l->open && !reload_names(&now->listen, l->spec)) {
            char address[sizeof(l->address)];

            memcpy(address, l->address, sizeof(address));
            workers_listener_changed(&m->fleet, i, false);
            acceptor_forget(&m->acc, i);
            listeners_remove(&m->lis, i);
            /* Said once it is closed: whoever reads it cannot connect. */
            log_info("SIGHUP: no longer listening on %s", address);
        }
    }
}

/* A listener kept whose line turned from --listen to --listen-tls, or
 * back: the workers hear that its connections are HTTPS now, or not. */
static void
reload_tls_listeners(struct master *m, const struct master_options *now)
{
    unsigned i, k;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        struct listener *l = &m->lis.l[i];

        for (k = 0; l->open && k < now->listen.n; k++) {
            const struct listen_spec *spec = &now->listen.v[k];

            if (strcmp(l->spec, spec->text) == 0 && l->tls != spec->tls) {
                l->tls = spec->tls;
                workers_listener_changed(&m->fleet, i, true);
                log_info("SIGHUP: %s is %s now", l->address,
                         l->tls ? "HTTPS" : "plain HTTP");
            }
        }
    }
}

/* Puts back what only a new master can take, and says so. Returns how
 * many rows changed in all. */
static unsigned
reload_diff(const struct master *m, struct master_options *now)
{
    const struct master_options *was = &m->configured;
    char a[512], b[512];
    unsigned changed = 0;
    size_t i;

    for (i = 0; i < options_nrows; i++) {
        const struct opt_def *r = &options_table[i];
        bool never = r->reload == OPT_RELOAD_NEVER;

        if (options_row_same(r, was, now)) {
            continue;
        }
        options_row_show(r, was, a, sizeof(a));
        options_row_show(r, now, b, sizeof(b));
        if (strcmp(r->name, "policy") == 0
            && was->policy->accept != now->policy->accept) {
            never = true; /* the master's accepting or the workers' own */
        }
        if (!never && m->lis.from_systemd
            && (strcmp(r->name, "listen") == 0 || strcmp(r->name, "host") == 0
                || strcmp(r->name, "port") == 0)) {
            log_warn(0,
                     "SIGHUP: --%s changed, but the listeners are "
                     "systemd's (its socket unit says where to listen)",
                     r->name);
            options_row_keep(r, now, was);
            continue;
        }
        if (never) {
            log_warn(0,
                     "SIGHUP: --%s changed (%s -> %s), which takes a new "
                     "master (SIGUSR2); kept as it was",
                     r->name, a, b);
            options_row_keep(r, now, was);
            continue;
        }
        log_info("SIGHUP: --%s: %s -> %s", r->name, a, b);
        changed++;
    }
    for (i = 0; i < LIM_COUNT; i++) {
        if (was->limits.v[i] != now->limits.v[i]) {
            limits_format((enum limit_id) i, was->limits.v[i], a, sizeof(a));
            limits_format((enum limit_id) i, now->limits.v[i], b, sizeof(b));
            log_info("SIGHUP: --%s: %s -> %s", limit_defs[i].name, a, b);
            changed++;
        }
    }
    /* A policy kept, whose way of accepting the PROXY header needs. */
    if (now->proxy_protocol && now->policy->accept != POLICY_MASTER_ACCEPTS) {
        now->proxy_protocol = was->proxy_protocol;
    }
    return changed;
}

/* What the master itself does about the new options (now in m->opt),
 * <was> the configuration's old ones, <trace> --trace as it was at run
 * time. */
static void
reload_apply(struct master *m, const struct master_options *was, bool trace)
{
    const struct master_options *o = &m->opt;

    log_configure(o->log_level, o->log_format);
    if (o->backlog != was->backlog) {
        listeners_set_backlog(&m->lis, o->backlog);
    }
    if (o->policy != was->policy || o->window != was->window) {
        if (sched_set_policy(&m->sched, o->policy, o->window) == -1) {
            log_error(0, "SIGHUP: out of memory; policy %s kept",
                      was->policy->name);
            m->opt.policy = was->policy;
        }
    }
    if (o->trace != was->trace) {
        m->opt.trace = trace; /* set_trace compares with it */
        m->env.set_trace(m, o->trace);
    } else {
        m->opt.trace = trace; /* as handoffctl left it */
    }
    if (o->tls_rotate_ms != was->tls_rotate_ms) {
        tickets_rearm(&m->fleet);
    }
    if (o->worker_timeout_ms != was->worker_timeout_ms) {
        ev_timer_stop(m->loop, &m->fleet.watchdog);
        workers_watch(&m->fleet);
    }
    if ((o->root != was->root || o->access_log != was->access_log
         || o->worker_bin != was->worker_bin)
        && m->fleet.kind->resolve(&m->fleet) == -1) {
        log_error(0, "SIGHUP: the workers' program or files changed under "
                     "us; the new workers may fail");
    }
    /* Only when the configuration's count changed: SIGTTIN's stay. */
    if (o->workers != was->workers) {
        fleet_scale_to(&m->fleet, o->workers);
    }
}

/*
 * Reads the configuration again and applies it, then restarts the
 * workers one by one. Returns true, or false (nothing changed) with the
 * first error in <why>.
 */
bool
master_reload(struct master *m, char *why, size_t len)
{
    static struct conf_errors errs;
    static struct master_options now;
    struct master_options was;
    unsigned i, changed;
    bool trace;

    if (m->stopping) {
        snprintf(why, len, "stopping");
        return false;
    }
    now = m->opt;
    if (!options_reread(&now, &errs)) {
        for (i = 0; i < errs.n; i++) {
            log_error(0, "SIGHUP: %s", errs.line[i]);
        }
        log_error(0,
                  "SIGHUP: the configuration has %u error%s; nothing "
                  "changed, the workers go on serving",
                  errs.n + errs.more, errs.n + errs.more == 1 ? "" : "s");
        snprintf(why, len, "%s", errs.line[0]);
        return false;
    }
    changed = reload_diff(m, &now);
    if (!m->lis.from_systemd && !reload_open_listeners(m, &now)) {
        snprintf(why, len, "a new listener cannot be opened (see the log)");
        return false;
    }
    was = m->configured;
    trace = m->opt.trace;
    m->opt = now;
    m->configured = now;
    if (!m->lis.from_systemd) {
        reload_close_listeners(m, &now);
        reload_tls_listeners(m, &now);
    }
    reload_apply(m, &was, trace);
    if (m->opt.config != NULL) {
        log_info("SIGHUP: %s read: %u change%s", m->opt.config, changed,
                 changed == 1 ? "" : "s");
    }
    spawn_reload(&m->fleet);
    return true;
}
