/*
 * worker.c: the worker's process-wide state, and draining: it stops
 * taking connections and the loop ends when the last one has closed.
 */
#include "worker.h"
#include "log.h"

struct worker worker;

/*
 * Stop taking connections; exit once the last one closes. <tell_master>:
 * the master did not ask for this, so it must take us out of rotation.
 */
void
worker_drain(const char *why, bool tell_master)
{
    struct conn *c, *next;

    if (!worker.draining) {
        log_info("draining (%s): %u connection%s open", why, worker.nconns,
                 worker.nconns == 1 ? "" : "s");
        worker.draining = true;
        listen_stop();
        if (tell_master) {
            struct chan_msg msg;

            chan_msg_init(&msg, CHAN_DRAINING, worker.id);
            channel_send(&msg);
        }
    }
    for (c = TAILQ_FIRST(&worker.conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_drain(c);
    }
    worker_maybe_exit();
}

void
worker_maybe_exit(void)
{
    if (worker.draining && worker.nconns == 0) {
        ev_break(worker.loop, EVBREAK_ALL);
    }
}
