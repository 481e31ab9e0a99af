/*
 * backoff.h: the delay before a slot's worker is restarted (backoff.c).
 * Pure: no loop, no clock; a slot keeps one and feeds it lifetimes.
 */
#ifndef HS_MASTER_BACKOFF_H
#define HS_MASTER_BACKOFF_H

#include <stdint.h>

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 10000
#define BACKOFF_RESET_S 10.0 /* a worker that lived this long was healthy */

struct backoff {
    uint64_t ms; /* the next crash-loop delay */
};

void backoff_init(struct backoff *b);
uint64_t backoff_next(struct backoff *b, double lived_s);
uint64_t backoff_failed(struct backoff *b);

#endif
