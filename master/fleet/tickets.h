/*
 * tickets.h: the TLS session-ticket keys the master makes for every
 * worker (tickets.c).
 */
#ifndef HS_MASTER_TICKETS_H
#define HS_MASTER_TICKETS_H

#include <ev.h>

#include "chan.h"

struct fleet;

struct tickets {
    struct chan_tickets keys; /* [0] the newest */
    ev_tstamp made;           /* when keys[0] was made (ev_now) */
    ev_timer rotate_w;
};

/* The keys an old master handed over (SIGUSR2), else new ones; the
 * rotation timer runs from now. */
void tickets_init(struct fleet *fl);
void tickets_fini(struct fleet *fl);
/* --tls-ticket-rotate changed (SIGHUP): the next key is due by it. */
void tickets_rearm(struct fleet *fl);
/* SIGUSR2: a pipe's read end holding the keys and their age, for the
 * new master (HANDOFF_TICKETS_FD); -1 with errno on failure. */
int tickets_handover(const struct fleet *fl);

#endif
