/*
 * worker.c: the worker's process-wide state; what the engine tells the
 * process (its hooks); and draining: the worker stops taking connections
 * and the loop ends when the last one has closed.
 */
#include "worker.h"
#include "app/app.h"
#include "channel.h"
#include "http/http.h"
#include "listen.h"
#include "log.h"
#include "report.h"

struct worker worker;

static void worker_maybe_exit(void);

/* A connection was freed: room for another; perhaps the last one. */
static void
worker_conn_closed(void)
{
    listen_room();
    worker_maybe_exit();
}

void
worker_attach(void)
{
    engine.app = &app_http;
    engine.hooks.load_changed = report_changed;
    engine.hooks.conn_closed = worker_conn_closed;
    engine.hooks.blocking = report_now;
}

/*
 * Stop taking connections; exit once the last one closes. <tell_master>:
 * the master did not ask for this, so it must take us out of rotation.
 */
void
worker_drain(const char *why, bool tell_master)
{
    if (!engine.draining) {
        log_info("draining (%s): %u connection%s open", why, engine.nconns,
                 engine.nconns == 1 ? "" : "s");
        engine.draining = true;
        listen_stop();
        if (tell_master) {
            struct chan_msg msg;

            chan_msg_init(&msg, CHAN_DRAINING, worker.id);
            channel_send(&msg);
        }
    }
    conn_drain_all();
    worker_maybe_exit();
}

static void
worker_maybe_exit(void)
{
    if (engine.draining && engine.nconns == 0) {
        ev_break(engine.loop, EVBREAK_ALL);
    }
}
