/*
 * fleet.h: the set of workers as the master drives it (fleet.c).
 */
#ifndef HS_MASTER_FLEET_H
#define HS_MASTER_FLEET_H

#include <ev.h>

#include "fleet/fleet-t.h"

void fleet_init(struct fleet *fl, struct ev_loop *loop,
                const struct master_options *opt, struct sched *sched,
                struct listeners *lis, const struct link_ops *kind,
                const struct fleet_hooks *hooks);
int fleet_open(struct fleet *fl);
void fleet_start(struct fleet *fl);
void fleet_scale(struct fleet *fl, int delta);
void fleet_scale_to(struct fleet *fl, unsigned n);
void fleet_counted(const struct fleet *fl, struct chan_stats *out);
void fleet_stop(struct fleet *fl);
void fleet_fini(struct fleet *fl);

#endif
