/*
 * trace.h: --trace lines for the scheduler's steps (trace.c).
 */
#ifndef HS_MASTER_TRACE_H
#define HS_MASTER_TRACE_H

#include "sched/sched.h"

void trace_sched_event(const struct sched *s, enum sched_event ev,
                       const struct sched_conn *c,
                       const struct sched_worker *w);

#endif
