/*
 * listen.c: accepting by the worker itself, for the two baselines where
 * the kernel balances (policies none and reuseport). The master sends the
 * listening socket in a LISTEN message; the worker accepts on it until it
 * drains. Connections accepted here need no acknowledgement: the master
 * never held them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "accept.h"
#include "fdutil.h"
#include "http/http.h"
#include "listen.h"
#include "log.h"

static ev_io listen_w;
static ev_timer listen_pause;
static int listen_fd = -1;
static uint64_t listen_seq;
static bool listen_full; /* paused at --max-conns */

static void
listen_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    static ev_tstamp warned;
    int i;

    (void) revents;
    for (i = 0; i < ACCEPT_BATCH && !engine.draining; i++) {
        if (engine.nconns >= engine.lim.v[LIM_MAX_CONNS]) {
            /* Full: let the kernel's backlog (and other workers) take
             * them; listen_room() resumes us. */
            ev_io_stop(loop, io);
            listen_full = true;
            return;
        }
        struct sockaddr_storage ss;
        struct chan_msg msg;
        struct conn *c;
        int fd;

        switch (accept_next(io->fd, &ss, &fd)) {
        case ACCEPT_OK:
            break;
        case ACCEPT_AGAIN:
            return; /* another worker took it, or none is left */
        case ACCEPT_SKIP:
            continue;
        case ACCEPT_PAUSE:
            if (ev_now(loop) - warned >= 1.0) {
                warned = ev_now(loop);
                log_warn(errno, "accept4() failed; pausing accepts");
            }
            ev_io_stop(loop, io);
            ev_timer_set(&listen_pause, ACCEPT_PAUSE_S, 0.);
            ev_timer_start(loop, &listen_pause);
            return;
        }
        memset(&msg, 0, sizeof(msg));
        msg.conn_id = ++listen_seq;
        chan_peer_from(&msg.u.peer, (struct sockaddr *) &ss);
        c = conn_new(fd, &msg);
        if (c == NULL) {
            fd_close(fd);
            continue;
        }
        if (engine.trace) {
            log_trace("C%llu accepted fd=%d by this worker",
                      (unsigned long long) c->id, fd);
        }
        conn_activate(c);
    }
}

static void
listen_resume_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    (void) t;
    (void) revents;
    if (listen_fd != -1 && !engine.draining) {
        ev_io_start(loop, &listen_w);
    }
}

void
listen_adopt(int fd)
{
    if (listen_fd != -1 || engine.draining) {
        fd_close(fd); /* one listener per worker; none once draining */
        return;
    }
    listen_fd = fd;
    ev_io_init(&listen_w, listen_accept_cb, fd, EV_READ);
    ev_init(&listen_pause, listen_resume_cb);
    ev_io_start(engine.loop, &listen_w);
    log_info("accepting on a listening socket of the master's (fd %d)", fd);
}

void
listen_room(void)
{
    if (listen_full && listen_fd != -1 && !engine.draining
        && engine.nconns < engine.lim.v[LIM_MAX_CONNS]) {
        listen_full = false;
        ev_io_start(engine.loop, &listen_w);
    }
}

void
listen_stop(void)
{
    if (listen_fd == -1) {
        return;
    }
    ev_io_stop(engine.loop, &listen_w);
    ev_timer_stop(engine.loop, &listen_pause);
    fd_close(listen_fd);
    listen_fd = -1;
}
