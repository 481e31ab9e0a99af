/*
 * acceptor.h: the master's accept loop (acceptor.c).
 */
#ifndef HS_MASTER_ACCEPTOR_H
#define HS_MASTER_ACCEPTOR_H

#include <ev.h>
#include <stddef.h>

#include "accept/accept-t.h"

struct master_options;

void acceptor_init(struct acceptor *acc, struct ev_loop *loop,
                   const struct master_options *opt, struct sched *sched,
                   struct listeners *lis);
void acceptor_start(struct acceptor *acc);
void acceptor_forget(struct acceptor *acc, unsigned i);
void acceptor_update(struct acceptor *acc);
const char *acceptor_paused(const struct acceptor *acc);
size_t acceptor_pending(const struct acceptor *acc);
void acceptor_stop(struct acceptor *acc);
void acceptor_fini(struct acceptor *acc);

#endif
