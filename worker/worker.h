/*
 * worker.h: a worker process's own state, for the files at the top of
 * worker/.
 *
 * A worker receives connections from the master over its channel (fd 3),
 * acknowledges each one before reading a byte of it, then serves HTTP/1.1
 * on it with llhttp.
 *
 * Folder rules. The top (this folder's files) uses http/ (the engine:
 * http/http.h) and app/ (the application: app/app.h) and ties them
 * together: it fills in the engine's loop, limits, application and hooks
 * (worker_attach), hands it connections and reports its load. app/ uses
 * http/ only; http/ uses neither. Nothing below the top uses `worker`.
 *
 * Files:
 *   main.c      flags, start-up, the loop and exit
 *   worker.c    the process-wide state; the engine's hooks; draining
 *   channel.c   the channel: CONN in, ACK and READY out, SHUTDOWN,
 *               the listeners (HTTPS or not) and the ticket keys
 *   listen.c    accepting by itself (policies none and reuseport)
 *   report.c    load reports and the heartbeat
 *   http/       the HTTP engine: connections, parsing, responses
 *   app/        routes, static files, the thread pool, the access log
 */
#ifndef HS_WORKER_WORKER_H
#define HS_WORKER_WORKER_H

#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "chan.h"

#define DRAIN_ORPHAN_TIMEOUT 5.0 /* master gone: seconds left to finish */

struct worker {
    uint32_t id;
    int chan_fd;

    ev_io chan_r, chan_w;
    ev_timer chan_retry;
    ev_prepare prepare_w;
    ev_io log_w; /* stderr writable again: the log's backlog */
    struct chan_outbox out;

    bool master_gone; /* channel closed */
    ev_timer orphan_w;
    ev_signal sig_term, sig_int;

    ev_timer heartbeat_w, report_w;
    ev_tstamp heartbeat_due;
    ev_tstamp last_report;
    bool report_dirty;
    uint32_t lag_us;
};

extern struct worker worker;

/* Gives the engine its application (app_http) and its hooks into the
 * process; once, before the first connection. */
void worker_attach(void);
void worker_drain(const char *why, bool tell_master);

#endif
