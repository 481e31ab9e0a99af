/*
 * rehand.c: connections that outlive their worker. For each native
 * worker the master makes a table of connection states (common/conn_state.h)
 * in a memfd the worker maps too; each connection it hands over gets a
 * slot, and the master keeps its own descriptor of the connection after
 * the worker's acknowledgement, for as long as the worker holds it.
 *
 * The worker stores each connection's state with plain stores. The
 * master looks only when it has a reason to:
 *   - a load report says the worker holds fewer connections than the
 *     master keeps for it: the CLOSED ones lose the master's descriptor
 *     (the worker's shutdown has already ended them), the RETURNED ones
 *     (a retiring worker gave them back) are handed again;
 *   - the worker was reaped: IDLE ones (and those acknowledged but never
 *     read from) are handed again, BUSY ones are closed, as a crash
 *     always did: their bytes were the dead worker's.
 * A connection handed again is a new arrival at the queue's tail, under
 * the policy as any other (Node's rr included); its next request is
 * parsed from its first byte by the worker that gets it.
 *
 * The table owns the records of the connections it holds (mconn), from
 * the handoff until they close or go back to the scheduler.
 *
 * A kind without a table (Node's workers, whose HTTP state the master
 * cannot see) gives an idle connection back itself, with its descriptor
 * (node/node_giveback.c): it gets a new record and is handed again the
 * same way.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept/accept-t.h"
#include "accept/listener.h"
#include "accept/mconn.h"
#include "conf/options.h"
#include "conn_state.h"
#include "fdutil.h"
#include "fleet/fleet-t.h"
#include "fleet/link.h"
#include "fleet/rehand.h"
#include "log.h"
#include "sched/policy.h"

struct rehand_table {
    rehand_word *t; /* shared with the worker */
    int fd;         /* owned memfd until the worker is forked, or -1 */
    uint32_t nslots;
    struct mconn **held; /* by slot: the connection, or NULL */
    uint32_t *gen;       /* by slot: the generation of its handoff */
    uint32_t *free;      /* free slots, a stack */
    uint32_t nfree;
    uint32_t *used; /* slots in use, dense, for the scans */
    uint32_t *pos;  /* by slot: its index in used */
    uint32_t nused;
    uint32_t nacked; /* of those, acknowledged: the worker's */
};

static void
rehand_table_free(struct rehand_table *rh)
{
    rehand_unmap(rh->t, rh->nslots);
    fd_close(rh->fd);
    free(rh->held);
    free(rh->gen);
    free(rh->free);
    free(rh->used);
    free(rh->pos);
    free(rh);
}

static struct rehand_table *
rehand_table_new(uint32_t nslots)
{
    struct rehand_table *rh = calloc(1, sizeof(*rh));
    uint32_t i;

    if (rh == NULL) {
        return NULL;
    }
    rh->nslots = nslots;
    rh->fd = memfd_create("handoff-rehand", MFD_CLOEXEC);
    rh->held = calloc(nslots, sizeof(*rh->held));
    rh->gen = calloc(nslots, sizeof(*rh->gen));
    rh->free = calloc(nslots, sizeof(*rh->free));
    rh->used = calloc(nslots, sizeof(*rh->used));
    rh->pos = calloc(nslots, sizeof(*rh->pos));
    if (rh->fd == -1 || rh->held == NULL || rh->gen == NULL || rh->free == NULL
        || rh->used == NULL || rh->pos == NULL
        || ftruncate(rh->fd, (off_t) rehand_table_size(nslots)) == -1
        || (rh->t = rehand_map(rh->fd, nslots)) == NULL) {
        int err = errno;

        rehand_table_free(rh);
        errno = err;
        return NULL;
    }
    /* Lowest slots first: the pages the worker touches stay few. */
    for (i = 0; i < nslots; i++) {
        rh->free[i] = nslots - 1 - i;
    }
    rh->nfree = nslots;
    return rh;
}

int
rehand_open(struct mworker *w)
{
    const struct master_options *o = w->fl->opt;
    uint64_t n = o->limits.v[LIM_MAX_CONNS] + REHAND_SPARE;

    w->rh = NULL;
    if (!o->rehand || !w->link->rehand
        || o->policy->accept != POLICY_MASTER_ACCEPTS) {
        return 0;
    }
    w->rh = rehand_table_new(n > UINT32_MAX ? UINT32_MAX : (uint32_t) n);
    if (w->rh == NULL) {
        log_warn(errno,
                 "cannot make W%u's connection state table; its "
                 "connections will not outlive it",
                 w->sw.id);
        return -1;
    }
    return 0;
}

int
rehand_fd(const struct mworker *w)
{
    return w->rh != NULL ? w->rh->fd : -1;
}

uint32_t
rehand_slots(const struct mworker *w)
{
    return w->rh != NULL ? w->rh->nslots : 0;
}

void
rehand_forked(struct mworker *w)
{
    if (w->rh != NULL) {
        fd_close(w->rh->fd);
        w->rh->fd = -1;
    }
}

uint32_t
rehand_assign(struct mworker *w, struct mconn *c)
{
    struct rehand_table *rh = w->rh;
    uint32_t slot;

    if (rh == NULL || rh->nfree == 0) {
        return 0; /* handed as before: released at its acknowledgement */
    }
    if (c->peer.listener < CHAN_LISTENERS_MAX
        && w->fl->lis->l[c->peer.listener].tls) {
        /* Its TLS session lives in the worker's memory, not the kernel's:
         * another worker could not go on with it (docs/architecture.md). */
        return 0;
    }
    slot = rh->free[--rh->nfree];
    rh->gen[slot] = (rh->gen[slot] + 1) & REHAND_GEN_MASK;
    /* Before the CONN leaves: the worker reads the generation here. */
    rehand_store(rh->t, slot, rh->gen[slot], REHAND_HANDED);
    rh->held[slot] = c;
    rh->pos[slot] = rh->nused;
    rh->used[rh->nused++] = slot;
    c->rh_slot = slot + 1;
    return c->rh_slot;
}

/* <slot> is free again. */
static void
rehand_release_slot(struct rehand_table *rh, uint32_t slot)
{
    uint32_t last = rh->used[--rh->nused];

    rh->used[rh->pos[slot]] = last;
    rh->pos[last] = rh->pos[slot];
    rh->held[slot] = NULL;
    rehand_store(rh->t, slot, rh->gen[slot], REHAND_FREE);
    rh->free[rh->nfree++] = slot;
}

void
rehand_unassign(struct mworker *w, struct mconn *c)
{
    if (w->rh != NULL && c->rh_slot != 0) {
        rehand_release_slot(w->rh, c->rh_slot - 1);
    }
    c->rh_slot = 0;
}

bool
rehand_acked(struct mworker *w, struct mconn *c)
{
    if (w->rh == NULL || c->rh_slot == 0) {
        return false;
    }
    w->rh->nacked++;
    return true;
}

/* The master lets go of <c> for good: its descriptor and its record.
 * <shut>: it was not ended by a worker's shutdown (busy, or kept while
 * no worker will take it). */
static void
rehand_close(struct fleet *fl, struct mconn *c, bool shut)
{
    if (fl->opt->trace) {
        log_trace("%s C%llu, master closes fd %d",
                  shut ? "close    busy" : "release  closed by its worker",
                  (unsigned long long) c->sc.id, c->fd);
    }
    if (shut) {
        (void) shutdown(c->fd, SHUT_RDWR);
    }
    fd_close(c->fd);
    mconn_free(&fl->acc->pool, c);
}

/* What the master does with a connection its worker is done with. */
enum rehand_verdict {
    REHAND_KEEP,  /* still the worker's */
    REHAND_AGAIN, /* hand it to another worker */
    REHAND_DROP,  /* close the master's descriptor: the worker ended it */
    REHAND_KILL,  /* close it: its bytes were the worker's (busy) */
};

static enum rehand_verdict
rehand_judge(const struct rehand_table *rh, uint32_t slot, bool gone)
{
    uint32_t word = rehand_load(rh->t, slot);
    enum rehand_state st = rehand_state_of(word);

    if (rehand_gen_of(word) != rh->gen[slot]) {
        return gone ? REHAND_KILL : REHAND_KEEP; /* never: not ours to trust */
    }
    switch (st) {
    case REHAND_CLOSED:
        return REHAND_DROP;
    case REHAND_RETURNED:
        return REHAND_AGAIN;
    case REHAND_HANDED: /* acknowledged, never read from */
    case REHAND_IDLE:
        return gone ? REHAND_AGAIN : REHAND_KEEP;
    default:
        return gone ? REHAND_KILL : REHAND_KEEP;
    }
}

/* <c>, which <w> left idle or gave back, arrives again. */
static void
rehand_again(struct mworker *w, struct mconn *c, bool returned)
{
    struct fleet *fl = w->fl;

    c->rh_slot = 0;
    c->rehand_of = c->sc.id;
    c->rehand_from = w->sw.id;
    if (returned) {
        fl->rehanded_returned++;
    } else {
        fl->rehanded_crash++;
    }
    mconn_arrive(fl->acc, c);
}

/* Settles every acknowledged connection of <w> that it is done with;
 * <gone>: all of them, the worker is dead. */
static void
rehand_scan(struct mworker *w, bool gone)
{
    struct rehand_table *rh = w->rh;
    struct fleet *fl = w->fl;
    uint32_t i = 0;

    while (i < rh->nused) {
        uint32_t slot = rh->used[i];
        struct mconn *c = rh->held[slot];
        enum rehand_state st;
        enum rehand_verdict v;

        if (c->sc.worker != NULL) {
            i++; /* not acknowledged yet: the scheduler's */
            continue;
        }
        st = rehand_state_of(rehand_load(rh->t, slot));
        v = rehand_judge(rh, slot, gone);
        if (v == REHAND_KEEP) {
            i++;
            continue;
        }
        rh->nacked--;
        if (v == REHAND_DROP) {
            /* Our copy first, then the slot: the worker closes its own
             * once the slot is freed, last, and pays for the socket's
             * teardown (worker/http/graves.c). */
            rehand_close(fl, c, false);
            rehand_release_slot(rh, slot); /* moves another slot to i */
            continue;
        }
        rehand_release_slot(rh, slot); /* moves another slot to i */
        if (v == REHAND_AGAIN && fl->stopping) {
            /* No worker of ours will take it: a new master may (SIGUSR2). */
            if (fl->successor && fl->hooks.hand_over != NULL
                && fl->hooks.hand_over(fl->hooks.ctx, c)) {
                fl->rehanded_upgrade++;
                continue;
            }
            v = REHAND_KILL;
        }
        if (v == REHAND_AGAIN) {
            rehand_again(w, c, st == REHAND_RETURNED);
        } else {
            if (v == REHAND_KILL && gone) {
                fl->rehand_busy_closed++;
            }
            rehand_close(fl, c, v == REHAND_KILL);
        }
    }
}

/* A new record for the connection on <fd> (owned), as its accept would
 * have made it; NULL (logged, <fd> closed) when it cannot be. */
static struct mconn *
rehand_record(struct mworker *w, int fd)
{
    struct fleet *fl = w->fl;
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    struct mconn *c;
    int lis;

    if (getpeername(fd, (struct sockaddr *) &ss, &len) == -1) {
        /* Its client has gone (ENOTCONN): nothing to hand again. */
        fd_close(fd);
        return NULL;
    }
    c = mconn_new(&fl->acc->pool);
    if (c == NULL) {
        log_error(ENOMEM, "cannot take back a connection from W%u; closed",
                  w->sw.id);
        fd_close(fd);
        return NULL;
    }
    c->fd = fd;
    chan_peer_from(&c->peer, (struct sockaddr *) &ss);
    len = sizeof(ss);
    lis = getsockname(fd, (struct sockaddr *) &ss, &len) == 0
              ? listeners_of_local(fl->lis, (struct sockaddr *) &ss)
              : -1;
    if (lis < 0) {
        lis = fl->lis->first >= 0 ? fl->lis->first : 0; /* what Node serves */
    }
    c->peer.listener = (uint8_t) lis;
    return c;
}

void
rehand_given_back(struct mworker *w, int fd)
{
    struct fleet *fl = w->fl;
    struct mconn *c = rehand_record(w, fd);

    if (c == NULL) {
        return;
    }
    if (!fl->opt->rehand || fl->lis->l[c->peer.listener].tls) {
        /* Not asked for (--rehand off); or its TLS session is the
         * worker's, and no other could go on with it. */
        log_warn(0, "W%u gave back a connection %s; closed", w->sw.id,
                 fl->opt->rehand ? "of a TLS listener" : "with --rehand off");
        rehand_close(fl, c, true);
        return;
    }
    if (fl->stopping) {
        /* No worker of ours will take it: a new master may (SIGUSR2). */
        if (fl->successor && fl->hooks.hand_over != NULL
            && fl->hooks.hand_over(fl->hooks.ctx, c)) {
            fl->rehanded_upgrade++;
            return;
        }
        rehand_close(fl, c, true);
        return;
    }
    rehand_again(w, c, true);
}

void
rehand_report(struct mworker *w, uint32_t open_conns)
{
    if (w->rh != NULL && open_conns < w->rh->nacked) {
        rehand_scan(w, false);
    }
}

void
rehand_worker_gone(struct mworker *w)
{
    if (w->rh != NULL) {
        rehand_scan(w, true);
    }
}

uint64_t
rehand_kept(const struct mworker *w)
{
    return w->rh != NULL ? w->rh->nacked : 0;
}

void
rehand_free(struct mworker *w)
{
    struct rehand_table *rh = w->rh;

    if (rh == NULL) {
        return;
    }
    /* Only when the master ends with the worker unreaped (fleet_fini
     * reaps first): whatever is left closes. */
    while (rh->nused > 0) {
        uint32_t slot = rh->used[0];
        struct mconn *c = rh->held[slot];

        rehand_release_slot(rh, slot);
        if (c->sc.worker == NULL) {
            rehand_close(w->fl, c, true);
        } else {
            c->rh_slot = 0; /* the scheduler's: it closes it */
        }
    }
    rehand_table_free(rh);
    w->rh = NULL;
}
