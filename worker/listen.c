/*
 * listen.c: accepting by the worker itself, for the two baselines where
 * the kernel balances (policies none and reuseport). The master sends a
 * listening socket for each of its listeners in a LISTEN message; the
 * worker accepts on them until it drains, or until the master says one
 * closed (LISTENER). Connections accepted here need no acknowledgement:
 * the master never held them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "accept.h"
#include "fdutil.h"
#include "http/http.h"
#include "listen.h"
#include "log.h"

static struct {
    bool open;
    int fd; /* owned while open */
    ev_io w;
} listen_socks[CHAN_LISTENERS_MAX];
static unsigned listen_open;
static bool listen_inited;
static ev_timer listen_pause;
static uint64_t listen_seq;
static bool listen_full; /* paused at --max-conns */

/* Every socket's watcher, on or off. */
static void
listen_watch(struct ev_loop *loop, bool on)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        if (on && listen_socks[i].open) {
            ev_io_start(loop, &listen_socks[i].w);
        } else {
            ev_io_stop(loop, &listen_socks[i].w);
        }
    }
}

static void
listen_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    static ev_tstamp warned;
    unsigned index = (unsigned) (uintptr_t) io->data;
    int i;

    (void) revents;
    for (i = 0; i < ACCEPT_BATCH && !engine.draining; i++) {
        if (engine.nconns >= engine.lim.v[LIM_MAX_CONNS]) {
            /* Full: let the kernel's backlog (and other workers) take
             * them; listen_room() resumes us. */
            listen_watch(loop, false);
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
            listen_watch(loop, false);
            ev_timer_set(&listen_pause, ACCEPT_PAUSE_S, 0.);
            ev_timer_start(loop, &listen_pause);
            return;
        }
        memset(&msg, 0, sizeof(msg));
        msg.conn_id = ++listen_seq;
        chan_peer_from(&msg.u.peer, (struct sockaddr *) &ss);
        msg.u.peer.listener = (uint8_t) index;
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
    if (!engine.draining && !listen_full) {
        listen_watch(loop, true);
    }
}

void
listen_adopt(unsigned index, int fd)
{
    if (index >= CHAN_LISTENERS_MAX || engine.draining) {
        fd_close(fd); /* none once draining */
        return;
    }
    if (!listen_inited) {
        ev_init(&listen_pause, listen_resume_cb);
        listen_inited = true;
    }
    listen_forget(index); /* a socket it replaces */
    listen_socks[index].open = true;
    listen_socks[index].fd = fd;
    listen_open++;
    ev_io_init(&listen_socks[index].w, listen_accept_cb, fd, EV_READ);
    listen_socks[index].w.data = (void *) (uintptr_t) index;
    if (!listen_full && !ev_is_active(&listen_pause)) {
        ev_io_start(engine.loop, &listen_socks[index].w);
    }
    log_info("accepting on a listening socket of the master's (fd %d)", fd);
}

void
listen_forget(unsigned index)
{
    if (index >= CHAN_LISTENERS_MAX || !listen_socks[index].open) {
        return;
    }
    ev_io_stop(engine.loop, &listen_socks[index].w);
    fd_close(listen_socks[index].fd);
    listen_socks[index].open = false;
    listen_open--;
}

void
listen_room(void)
{
    if (listen_full && listen_open > 0 && !engine.draining
        && engine.nconns < engine.lim.v[LIM_MAX_CONNS]) {
        listen_full = false;
        if (!ev_is_active(&listen_pause)) {
            listen_watch(engine.loop, true);
        }
    }
}

void
listen_stop(void)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        listen_forget(i);
    }
    if (listen_inited) {
        ev_timer_stop(engine.loop, &listen_pause);
    }
}
