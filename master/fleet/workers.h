/*
 * workers.h: what a worker's state leads to (workers.c).
 */
#ifndef HS_MASTER_WORKERS_H
#define HS_MASTER_WORKERS_H

#include <stdbool.h>

#include "fleet/fleet-t.h"

void workers_ready(struct mworker *w);
void workers_retire(struct mworker *w, const char *why);
void workers_left(struct mworker *w, const char *why);
void workers_check_recycle(struct mworker *w);
void workers_shutdown_idle(struct fleet *fl);
void workers_watch(struct fleet *fl);
void workers_listener_changed(struct fleet *fl, unsigned i, bool open);

#endif
