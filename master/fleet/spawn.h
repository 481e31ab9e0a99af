/*
 * spawn.h: a slot's worker over time (spawn.c): started, reaped,
 * restarted, replaced.
 */
#ifndef HS_MASTER_SPAWN_H
#define HS_MASTER_SPAWN_H

#include <stdint.h>

#include "fleet/fleet-t.h"

void spawn_slot_init(struct slot *s);
struct mworker *spawn_worker(struct slot *s);
void spawn_schedule(struct slot *s, uint64_t delay_ms);
void spawn_vacate(struct mworker *w, ev_tstamp lived);
void spawn_replace(struct slot *s, enum restart_cause cause, const char *why);
void spawn_reload(struct fleet *fl);
void spawn_reload_next(struct fleet *fl, const struct slot *s);
void spawn_reload_step(struct fleet *fl);

#endif
