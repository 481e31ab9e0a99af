/*
 * history.h: a few minutes of the master's figures, sampled once a
 * second, for the dashboard's charts and the workers' request rates
 * (history.c).
 */
#ifndef HS_MASTER_HISTORY_H
#define HS_MASTER_HISTORY_H

#include <stdint.h>

#include "chan.h"
#include "sbuf.h"

#define HISTORY_SAMPLES 300 /* five minutes, one a second */

struct ops_env;

/* What the workers had done at one moment, totals since the start. */
struct history_sample {
    uint64_t seq; /* 1, 2, ... */
    double t;     /* the master's uptime, seconds */
    uint64_t served;
    uint64_t classes[CHAN_STATUS_CLASSES];
    uint64_t latency[CHAN_LATENCY_BUCKETS]; /* per bucket, not cumulative */
    uint64_t bytes_in, bytes_out;
    uint32_t conns;  /* open, in every worker */
    uint32_t queued; /* in the master's queue */
};

void history_start(struct ops_env *env);
void history_stop(void);
void history_json(uint64_t since, struct sbuf *b);
double history_rate(void);

#endif
