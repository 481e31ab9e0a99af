/*
 * backoff.c: exponential backoff for restarts, so that a crash loop never
 * becomes a fork storm.
 *
 * The delay starts at BACKOFF_FIRST_MS. It doubles (up to BACKOFF_MAX_MS)
 * each time a worker dies within four delays of its start, which is what
 * a crash loop looks like; it halves when a worker lived longer than that
 * (killed now and then, not crashing), and a worker that lived
 * BACKOFF_RESET_S is replaced at once and resets it.
 */
#include "fleet/backoff.h"

static uint64_t
backoff_double(uint64_t ms)
{
    return ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ms * 2;
}

void
backoff_init(struct backoff *b)
{
    b->ms = BACKOFF_FIRST_MS;
}

/* The delay before restarting after a worker that lived <lived_s>. */
uint64_t
backoff_next(struct backoff *b, double lived_s)
{
    uint64_t delay_ms;

    if (lived_s >= BACKOFF_RESET_S) {
        b->ms = BACKOFF_FIRST_MS;
        return 0;
    }
    delay_ms = b->ms;
    if (lived_s * 1000. >= 4. * (double) b->ms) {
        b->ms = b->ms / 2 < BACKOFF_FIRST_MS ? BACKOFF_FIRST_MS : b->ms / 2;
    } else {
        b->ms = backoff_double(b->ms);
    }
    return delay_ms;
}

/* A restart could not even start (fork, socketpair): the delay before the
 * next try, and the one after it doubles. */
uint64_t
backoff_failed(struct backoff *b)
{
    uint64_t delay_ms = b->ms;

    b->ms = backoff_double(b->ms);
    return delay_ms;
}
