/*
 * mworker.h: a worker's record, from spawn to reaping (mworker.c).
 */
#ifndef HS_MASTER_MWORKER_H
#define HS_MASTER_MWORKER_H

#include <stdint.h>

#include "chan.h"
#include "fleet/fleet-t.h"

struct mworker *mworker_new(struct fleet *fl);
void mworker_destroy(struct mworker *w);
void mworker_lost(struct mworker *w);
void mworker_heard(struct mworker *w);
void mworker_mark_dirty(struct mworker *w);
void mworker_flush_dirty(struct fleet *fl);
void mworker_notify_all(struct fleet *fl, enum chan_type type, uint32_t arg);
void mworker_kill_all(struct fleet *fl, int sig);

#endif
