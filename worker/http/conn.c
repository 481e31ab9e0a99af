/*
 * conn.c: one client connection in a worker, from the master's handoff to
 * close.
 *
 * Life: ACK_PENDING (received; nothing is read until our ACK has left, so
 * a connection the master might still give to another worker is never
 * touched) -> OPEN (read, parse, answer, keep alive) -> optional LINGER
 * (our side shut, input drained briefly so that unread bytes do not turn
 * the close into a reset that destroys the last response) -> freed.
 *
 * One timer per connection holds the deadline of its current phase: the
 * whole request head (--header-timeout, from its first byte), a pause in
 * the body (--body-timeout), a pause of a client that does not read
 * (--send-timeout), idleness between requests (--keepalive-timeout), or
 * the lingering close. Activity only moves a timestamp; the timer checks
 * it when it fires, so busy connections cost no timer updates.
 *
 * A request the application answers off the loop (c->job, such as a /cpu
 * job on its thread pool) pins its connection until the answer comes
 * back: nothing more is parsed, so pipelined requests wait their turn; no
 * request timeout runs, as it is the server that is slow, not the client;
 * draining leaves it open. Input is still read, up to JOB_INPUT_MAX, so
 * that a client that resets is noticed: then the connection is freed at
 * once, and the application drops the job's result (engine.app's
 * conn_closed; a job that had not started never runs).
 *
 * Every read, write, file and close goes through c->io, chosen in
 * conn_new(): plain_io.c, or tls_io.c for a connection of an HTTPS
 * listener. An io with a handshake (TLS) puts a HANDSHAKE phase between
 * ACK_PENDING and OPEN, run by the same watchers in the direction it
 * asks for, under --handshake-timeout; the connection counts against
 * --max-conns from its adoption, handshake included.
 *
 * conn_run() is the single place that decides what happens next after any
 * event; it may free the connection, so callers return right after it.
 *
 * A connection the master handed with a slot of the shared state table
 * (conn_state.h) has its state stored there as it changes, a plain store and
 * no system call: BUSY before each read, IDLE when it waits for the next
 * request with nothing buffered, CLOSED once shut down and closed, or
 * RETURNED when a worker told to give idle connections back closes its
 * descriptor without a shutdown. The master, which keeps its own
 * descriptor of such a connection, hands an IDLE or RETURNED one to
 * another worker once this one is gone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "container_of.h"
#include "fdutil.h"
#include "http/internal.h"
#include "log.h"

#define LINGER_MAX_BYTES (1024 * 1024)
#define SENDFILE_CHUNK (1024 * 1024) /* per call, for fairness */
#define JOB_INPUT_MAX (64 * 1024)    /* pipelined bytes read during a job */

static void conn_read_cb(struct ev_loop *loop, ev_io *io, int revents);
static void conn_write_cb(struct ev_loop *loop, ev_io *io, int revents);
static void conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents);
static void conn_run(struct conn *c);
static void conn_file_done(struct conn *c);

static ev_tstamp
conn_limit_s(enum limit_id id)
{
    return (ev_tstamp) engine.lim.v[id] / 1000.;
}

struct conn *
conn_new(int fd, const struct chan_msg *msg)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        return NULL;
    }
    c->fd = fd;
    c->file_fd = -1;
    c->id = msg->conn_id;
    c->peer = msg->u.peer;
    c->io = c->peer.listener < CHAN_LISTENERS_MAX
                    && engine.tls_listener[c->peer.listener]
                ? &tls_io
                : &plain_io;
    if (c->io->open != NULL && c->io->open(c) == -1) {
        free(c);
        return NULL;
    }
    c->state = CONN_ACK_PENDING;
    if (engine.rehand != NULL && c->io == &plain_io && msg->u.conn.rehand > 0
        && msg->u.conn.rehand <= engine.rehand_slots) {
        /* The master stored the slot's generation before the CONN left. */
        c->rh_slot = msg->u.conn.rehand;
        c->rh_gen = rehand_gen_of(rehand_load(engine.rehand, c->rh_slot - 1));
        c->rh_state = REHAND_HANDED;
    }
    ev_io_init(&c->rio, conn_read_cb, fd, EV_READ);
    ev_io_init(&c->wio, conn_write_cb, fd, EV_WRITE);
    ev_init(&c->timer, conn_timer_cb);
    http_init(c);
    TAILQ_INSERT_TAIL(&engine.conns, c, link);
    engine.nconns++;
    engine.hooks.load_changed();
    return c;
}

/* Watches <c> from the loop: the kernel's epoll set will hold it. */
static void
conn_watch(struct conn *c, ev_io *io)
{
    ev_io_start(engine.loop, io);
    c->polled = true;
}

/*
 * The master keeps its own descriptor of a connection with a slot, so
 * the socket outlives our close, and so would its place in our epoll
 * set: its next event would reach libev for a descriptor it no longer
 * knows (a reused number, or none), which it answers by rebuilding the
 * whole set. Taken out first, while the descriptor is still ours.
 */
static void
conn_unpoll(struct conn *c)
{
    if (c->polled && engine.epoll_fd >= 0 && c->fd >= 0) {
        (void) epoll_ctl(engine.epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
    }
}

/* Stores <st> in <c>'s slot of the shared table, if it has one. */
static void
conn_mark(struct conn *c, enum rehand_state st)
{
    if (c->rh_slot != 0 && c->rh_state != st) {
        c->rh_state = st;
        rehand_store(engine.rehand, c->rh_slot - 1, c->rh_gen, st);
    }
}

bool
conn_returns(const struct conn *c)
{
    return engine.rehand_return && c->rh_slot != 0;
}

void
conn_free(struct conn *c)
{
    /* The master's descriptor must not keep an ended connection open:
     * our FIN leaves now, whatever path led here. One given back keeps
     * the connection as it is for the next worker. */
    if (c->rh_slot != 0 && !c->returning && !c->shut
        && c->state != CONN_ACK_PENDING) {
        conn_mark(c, REHAND_BUSY); /* half closed: nobody else's now */
        (void) c->io->shutdown(c);
        c->shut = true;
    }
    if (engine.wowner == c) {
        engine.wowner = NULL;
        engine.wlen = 0;
    }
    ev_io_stop(engine.loop, &c->rio);
    ev_io_stop(engine.loop, &c->wio);
    ev_timer_stop(engine.loop, &c->timer);
    if (c->state == CONN_ACK_PENDING) {
        TAILQ_REMOVE(&engine.pending, c, pending_link);
    }
    TAILQ_REMOVE(&engine.conns, c, link);
    engine.nconns--;
    if (c->busy) {
        engine.in_flight--;
    }
    /* A job's result comes back to nobody: the application drops it. */
    engine.app->conn_closed(c);
    if (c->rh_slot != 0) {
        conn_unpoll(c);
    }
    if (c->rh_slot != 0 && !c->returning && c->state != CONN_ACK_PENDING) {
        /* The master closes its copy first: the last close, and the
         * socket's teardown, stay ours (graves.c). */
        graves_add(c->fd, c->rh_slot - 1, c->rh_gen);
        c->fd = -1;
    }
    c->io->close(c);
    conn_mark(c, c->returning ? REHAND_RETURNED : REHAND_CLOSED);
    conn_file_done(c);
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->hvals);
    http_reset_request(&c->req);
    free(c);
    engine.hooks.load_changed();
    engine.hooks.conn_closed();
}

static bool
conn_output_pending(const struct conn *c)
{
    return buf_pending(&c->out) > 0 || c->file_left > 0;
}

/* Between requests with nothing buffered either way and nothing owed:
 * another worker could take over from the client's next byte. */
static bool
conn_idle(const struct conn *c)
{
    return c->state == CONN_OPEN && !c->msg_open && !conn_output_pending(c)
           && buf_pending(&c->in) == 0 && !c->paused && c->job == NULL
           && !c->close_after && !c->read_eof
           && !(engine.wowner == c && engine.wlen > 0);
}

/* Given back to the master, which hands it to another worker: closed
 * here without a shutdown. */
static void
conn_return(struct conn *c)
{
    if (engine.trace) {
        log_trace("C%llu idle; returned to the master",
                  (unsigned long long) c->id);
    }
    c->returning = true;
    conn_free(c);
}

/*
 * <c> waits for the client: if it is idle, its slot says so, or, during a
 * drain that gives connections back, it goes back to the master (true:
 * <c> is freed).
 */
static bool
conn_rest(struct conn *c)
{
    if (c->rh_slot == 0 || !conn_idle(c)) {
        return false;
    }
    if (conn_returns(c)) {
        conn_return(c);
        return true;
    }
    conn_mark(c, REHAND_IDLE);
    return false;
}

/* Waiting for its job with nothing to send: no deadline runs. */
static bool
conn_job_waiting(const struct conn *c)
{
    return c->job != NULL && !conn_output_pending(c);
}

/* The deadline of the phase the connection is in now. */
static ev_tstamp
conn_deadline(const struct conn *c)
{
    if (c->state == CONN_LINGER) {
        return c->idle_since + LINGER_TIMEOUT;
    }
    if (c->state == CONN_HANDSHAKE) {
        return c->head_start + conn_limit_s(LIM_HANDSHAKE_TIMEOUT);
    }
    if (conn_output_pending(c)) {
        return c->last_write + conn_limit_s(LIM_SEND_TIMEOUT);
    }
    if (c->msg_open) {
        return http_in_head(c)
                   ? c->head_start + conn_limit_s(LIM_HEADER_TIMEOUT)
                   : c->last_read + conn_limit_s(LIM_BODY_TIMEOUT);
    }
    if (c->requests == 0) {
        /* Connected and silent: the first head is due like any head. */
        return c->head_start + conn_limit_s(LIM_HEADER_TIMEOUT);
    }
    if (engine.draining
        && DRAIN_IDLE_GRACE < conn_limit_s(LIM_KEEPALIVE_TIMEOUT)) {
        return c->idle_since + DRAIN_IDLE_GRACE;
    }
    return c->idle_since + conn_limit_s(LIM_KEEPALIVE_TIMEOUT);
}

/* Makes sure the timer will fire no later than the current deadline. */
static void
conn_arm_timer(struct conn *c)
{
    ev_tstamp wait;

    if (conn_job_waiting(c)) {
        ev_timer_stop(engine.loop, &c->timer); /* it is us who are slow */
        return;
    }
    wait = conn_deadline(c) - ev_now(engine.loop);
    if (ev_is_active(&c->timer)
        && ev_timer_remaining(engine.loop, &c->timer) <= wait) {
        return; /* it fires first and re-checks */
    }
    ev_timer_stop(engine.loop, &c->timer);
    ev_timer_set(&c->timer, wait > 0 ? wait : 0., 0.);
    ev_timer_start(engine.loop, &c->timer);
}

/* Serving: reads, parses and answers from now on. */
static void
conn_open(struct conn *c)
{
    /* TCP_NODELAY comes with the socket, from the master's listener. */
    c->state = CONN_OPEN;
    c->head_start = c->last_read = c->last_write = c->idle_since =
        ev_now(engine.loop);
    ev_io_stop(engine.loop, &c->wio);
    conn_arm_timer(c);
    ev_io_start(engine.loop, &c->rio);
    /* The request is usually there already: no need to wait a loop turn. */
    conn_read_cb(engine.loop, &c->rio, EV_READ);
}

/* A step of c->io's handshake; then serving, or waiting, or closed. */
static void
conn_handshake(struct conn *c)
{
    int rc = c->io->handshake(c);

    if (rc == 0) {
        conn_open(c);
        return;
    }
    if (rc < 0) {
        conn_free(c);
        return;
    }
    if (rc & EV_WRITE) {
        ev_io_stop(engine.loop, &c->rio);
        ev_io_start(engine.loop, &c->wio);
    } else {
        ev_io_stop(engine.loop, &c->wio);
        ev_io_start(engine.loop, &c->rio);
    }
}

/*
 * The connection is ours alone from now on (our ACK has left, or we
 * accepted it ourselves): start serving it, after its handshake if its
 * io has one. It is not in engine.pending.
 */
void
conn_activate(struct conn *c)
{
    if (c->io->handshake == NULL) {
        conn_open(c);
        return;
    }
    c->state = CONN_HANDSHAKE;
    c->head_start = ev_now(engine.loop);
    conn_arm_timer(c);
    conn_handshake(c);
}

static void
conn_nomem(struct conn *c)
{
    log_error(ENOMEM, "C%llu: cannot queue a response; closing",
              (unsigned long long) c->id);
    c->close_after = true;
    c->linger = false;
    c->read_eof = true; /* nothing more will be read or answered */
}

/*
 * Queues response bytes. While the connection has no backlog and is the
 * one being served in this callback, they go to the shared wbuf.
 */
void
conn_out(struct conn *c, const void *data, size_t len)
{
    if (engine.wowner == c && buf_pending(&c->out) == 0) {
        if (engine.wlen + len <= sizeof(engine.wbuf)) {
            memcpy(engine.wbuf + engine.wlen, data, len);
            engine.wlen += len;
            return;
        }
        if (buf_append(&c->out, engine.wbuf, engine.wlen) == -1) {
            conn_nomem(c);
            return;
        }
        engine.wlen = 0;
    }
    if (buf_append(&c->out, data, len) == -1) {
        conn_nomem(c);
    }
}

/* The file being sent is done with: closed, or given back if lent. */
static void
conn_file_done(struct conn *c)
{
    if (c->file_release != NULL) {
        c->file_release(c->file_arg);
        c->file_release = NULL;
    } else {
        fd_close(c->file_fd);
    }
    c->file_fd = -1;
    c->file_left = 0;
}

/*
 * Queues <len> bytes of file <fd> from <off>, after what is queued. Takes
 * <fd>; or, with <release>, borrows it until it calls release(<arg>)
 * (sendfile() with an offset of its own leaves the file's position
 * alone, so a lent descriptor can serve several connections at once).
 * The parser stays paused until it is sent, so nothing can be queued
 * behind it.
 */
void
conn_out_file(struct conn *c, int fd, off_t off, uint64_t len,
              void (*release)(void *arg), void *arg)
{
    conn_file_done(c);
    c->file_fd = fd;
    c->file_off = off;
    c->file_left = len;
    c->file_release = release;
    c->file_arg = arg;
}

/* Parses input; keeps what the parser did not take while paused. */
static void
conn_parse(struct conn *c, const char *data, size_t len)
{
    size_t used = http_feed(c, data, len);

    if (used < len) {
        if (c->close_after) {
            /* Bytes after a closing response are never answered. */
            c->linger = true;
        } else if (buf_append(&c->in, data + used, len - used) == 0) {
            c->paused = true;
        } else {
            c->close_after = true;
        }
    }
}

/* Reads what <c> has into engine.rbuf, counting it; as io->read. */
static ssize_t
conn_read(struct conn *c)
{
    ssize_t n = c->io->read(c, engine.rbuf, sizeof(engine.rbuf));

    if (n > 0) {
        engine.bytes_in += (uint64_t) n;
    }
    return n;
}

/* Sends <len> bytes; returns what was sent, or -1 on a fatal error. */
static ssize_t
conn_send(struct conn *c, const char *data, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = c->io->write(c, data + done, len - done, c->file_left > 0);

        if (n == 0) {
            /* No progress and no EAGAIN: nothing to wait for, and
             * trying again would spin. */
            errno = EPIPE;
            return -1;
        }
        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            return -1;
        }
        done += (size_t) n;
    }
    if (done > 0) {
        c->last_write = ev_now(engine.loop);
        engine.bytes_out += done;
    }
    return (ssize_t) done;
}

/* Sends what it can of the file being sent. Returns false on an error. */
static bool
conn_send_file(struct conn *c)
{
    while (c->file_left > 0) {
        size_t want = c->file_left > SENDFILE_CHUNK ? SENDFILE_CHUNK
                                                    : (size_t) c->file_left;
        ssize_t n = c->io->sendfile(c, c->file_fd, &c->file_off, want);

        if (n == -1) {
            return errno == EAGAIN || errno == EWOULDBLOCK;
        }
        if (n == 0) {
            /* The file shrank under us: the promised length cannot be
             * kept, so the connection cannot go on either. */
            log_warn(0, "C%llu: file shorter than announced; closing",
                     (unsigned long long) c->id);
            return false;
        }
        c->file_left -= (uint64_t) n;
        engine.bytes_out += (uint64_t) n;
        c->last_write = ev_now(engine.loop);
    }
    conn_file_done(c);
    return true;
}

/* Sends wbuf (if ours), the backlog, then the file. False on an error. */
static bool
conn_flush(struct conn *c)
{
    ssize_t n;

    if (engine.wowner == c) {
        engine.wowner = NULL;
        if (engine.wlen > 0) {
            size_t len = engine.wlen;

            engine.wlen = 0;
            n = conn_send(c, engine.wbuf, len);
            if (n == -1) {
                return false;
            }
            if ((size_t) n < len
                && buf_append(&c->out, engine.wbuf + n, len - (size_t) n)
                       == -1) {
                return false;
            }
        }
    }
    if (buf_pending(&c->out) > 0) {
        n = conn_send(c, c->out.data + c->out.off, buf_pending(&c->out));
        if (n == -1) {
            return false;
        }
        c->out.off += (size_t) n;
        if (buf_pending(&c->out) == 0) {
            /* Keep idle connections small: drop the backlog buffer. */
            buf_free(&c->out);
        }
    }
    if (buf_pending(&c->out) == 0 && c->file_left > 0) {
        return conn_send_file(c);
    }
    return true;
}

/*
 * Closes, after a lingering drain when unread input could turn the close
 * into a reset that destroys the last response: after an error, or when
 * bytes were left after the last request answered (c->linger).
 */
static void
conn_finish(struct conn *c)
{
    conn_mark(c, REHAND_BUSY); /* our FIN leaves: ours to the end */
    if (!c->linger || c->read_eof) {
        /* The FIN leaves from here: the worker that served the connection
         * pays for its teardown, even when the master's copy, held until
         * our ACK was read, is the last one closed. */
        (void) c->io->shutdown(c);
        c->shut = true;
        conn_free(c);
        return;
    }
    c->shut = true;
    if (c->io->shutdown(c) == -1) {
        conn_free(c);
        return;
    }
    c->state = CONN_LINGER;
    c->paused = false;
    c->idle_since = ev_now(engine.loop);
    ev_io_stop(engine.loop, &c->wio);
    conn_watch(c, &c->rio);
    conn_arm_timer(c);
}

void
conn_set_busy(struct conn *c, bool busy)
{
    if (c->busy != busy) {
        c->busy = busy;
        if (busy) {
            engine.in_flight++;
        } else {
            engine.in_flight--;
        }
        engine.hooks.load_changed();
    }
}

void
conn_count_served(void)
{
    engine.served++;
    engine.hooks.load_changed();
}

/*
 * While the job runs: read on (to notice a reset) unless EOF was seen, the
 * client can no longer be read from, or JOB_INPUT_MAX bytes wait.
 */
static void
conn_job_wait(struct conn *c)
{
    conn_arm_timer(c); /* stops it: the job has no deadline */
    if (c->job_eof || c->read_eof || buf_pending(&c->in) >= JOB_INPUT_MAX) {
        ev_io_stop(engine.loop, &c->rio);
    } else {
        conn_watch(c, &c->rio);
    }
}

/*
 * The job has come back (a job whose connection was freed never does):
 * <c> is the connection being served, and is no longer pinned.
 */
void
conn_job_resume(struct conn *c)
{
    c->job = NULL;
    engine.wowner = c;
    if (engine.draining && !c->close_after && !conn_returns(c)) {
        /* Asked before the drain began: the answer can still say that
         * the connection ends; unanswered input is drained, not reset. */
        c->close_after = true;
        c->linger = c->linger || buf_pending(&c->in) > 0;
    }
}

/*
 * The job has answered: its response is queued. Goes on with what was
 * pipelined behind it. May free <c>.
 */
void
conn_job_done(struct conn *c)
{
    conn_count_served();
    c->job_eof = false; /* read it again, after the pipelined requests */
    conn_run(c);
}

/* Decides what the connection does next. May free <c>. */
static void
conn_run(struct conn *c)
{
    for (;;) {
        if (!conn_flush(c)) {
            conn_free(c);
            return;
        }
        if (conn_output_pending(c)) {
            /* The client is not reading: wait, and read no more for now. */
            conn_watch(c, &c->wio);
            ev_io_stop(engine.loop, &c->rio);
            conn_arm_timer(c);
            return;
        }
        ev_io_stop(engine.loop, &c->wio);
        if (!c->paused || c->close_after || c->job != NULL) {
            break;
        }
        /* Output drained: go on with requests that were waiting. */
        c->paused = false;
        if (buf_pending(&c->in) > 0) {
            struct buf in = c->in;

            memset(&c->in, 0, sizeof(c->in));
            engine.wowner = c;
            conn_parse(c, in.data + in.off, in.len - in.off);
            buf_free(&in);
        }
    }
    if (!c->msg_open && c->busy && c->job == NULL) {
        c->idle_since = ev_now(engine.loop);
    }
    /* A request whose job runs is in flight: the master's load figures
     * count it. */
    conn_set_busy(c, c->msg_open || c->job != NULL);
    if (c->job != NULL) {
        conn_job_wait(c);
        return;
    }
    if (c->close_after || c->read_eof) {
        conn_finish(c);
        return;
    }
    if (conn_rest(c)) {
        return;
    }
    conn_watch(c, &c->rio);
    conn_arm_timer(c);
}

static void
conn_linger_read(struct conn *c)
{
    for (;;) {
        ssize_t n = conn_read(c);

        if (n > 0) {
            c->lingered += (size_t) n;
            if (c->lingered > LINGER_MAX_BYTES) {
                conn_free(c);
                return;
            }
            continue;
        }
        if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            return;
        }
        conn_free(c); /* EOF or error: done */
        return;
    }
}

/*
 * Reads while a job runs (see conn_job_wait). Input is kept unparsed for
 * after the job; an error means the client is gone: <c> is freed.
 */
static void
conn_job_read(struct conn *c)
{
    ssize_t n = conn_read(c);

    if (n > 0) {
        if (c->close_after) {
            /* Never answered, as in conn_parse; bounded as lingering. */
            c->linger = true;
            c->lingered += (size_t) n;
            if (c->lingered > LINGER_MAX_BYTES) {
                conn_free(c);
                return;
            }
        } else if (buf_append(&c->in, engine.rbuf, (size_t) n) == -1) {
            conn_nomem(c);
        } else {
            c->paused = true; /* conn_run parses it after the job */
        }
        conn_job_wait(c);
        return;
    }
    if (n == 0) {
        /* A half-close may still want the answer; the EOF is read again
         * once the job is done, behind any pipelined requests. */
        c->job_eof = true;
        conn_job_wait(c);
        return;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        return;
    }
    if (engine.trace) {
        log_trace("C%llu reset during its job", (unsigned long long) c->id);
    }
    conn_free(c);
}

/* Parses <len> bytes received on <c>, answers, and moves on. May free. */
void
conn_feed(struct conn *c, const char *data, size_t len)
{
    c->last_read = ev_now(engine.loop);
    engine.wowner = c;
    conn_parse(c, data, len);
    conn_run(c);
}

static void
conn_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = container_of(io, struct conn, rio);
    ssize_t n;

    (void) loop;
    (void) revents;
    if (c->state == CONN_HANDSHAKE) {
        conn_handshake(c);
        return;
    }
    if (c->state == CONN_LINGER) {
        conn_linger_read(c);
        return;
    }
    /* Before the read: once a byte may have left the kernel for us, only
     * we can serve this connection. */
    conn_mark(c, REHAND_BUSY);
    if (c->job != NULL) {
        conn_job_read(c);
        return;
    }
    n = conn_read(c);
    if (n == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            if (c->io_read_wants_write) {
                ev_io_start(engine.loop, &c->wio); /* then read again */
            }
            c->polled = true; /* back to the loop, which watches it */
            (void) conn_rest(c);
            return;
        }
        conn_free(c); /* ECONNRESET and friends: nobody to answer */
        return;
    }
    if (n == 0) {
        c->read_eof = true;
        ev_io_stop(engine.loop, &c->rio);
        http_eof(c);
        conn_run(c);
        return;
    }
    conn_feed(c, engine.rbuf, (size_t) n);
}

static void
conn_write_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    struct conn *c = container_of(io, struct conn, wio);

    (void) loop;
    (void) revents;
    if (c->state == CONN_HANDSHAKE) {
        conn_handshake(c);
        return;
    }
    if (c->io_read_wants_write && !conn_output_pending(c)) {
        /* The read that stopped for this goes on. */
        ev_io_stop(engine.loop, &c->wio);
        conn_read_cb(loop, &c->rio, EV_READ);
        return;
    }
    conn_run(c);
}

static void
conn_timer_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
    struct conn *c = container_of(t, struct conn, timer);
    ev_tstamp now = ev_now(loop);

    (void) revents;
    if (now < conn_deadline(c)) {
        conn_arm_timer(c); /* activity moved it: sleep the rest */
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        log_debug("C%llu: TLS handshake timed out; closing",
                  (unsigned long long) c->id);
        conn_free(c);
        return;
    }
    /* A 408 or a close follows: what the client sees next is ours. */
    conn_mark(c, REHAND_BUSY);
    if (c->state == CONN_OPEN && c->msg_open && !conn_output_pending(c)) {
        /* A request head or body that stalled: say so before closing. */
        if (engine.trace) {
            log_trace("C%llu request timed out -> 408",
                      (unsigned long long) c->id);
        }
        engine.wowner = c;
        c->msg_open = false;
        c->close_after = true;
        c->linger = true;
        response_error(c, 408);
        conn_run(c);
        return;
    }
    if (c->state == CONN_OPEN && c->requests == 0 && !conn_output_pending(c)
        && !c->read_eof) {
        /* Connected and never said a word (RFC 9110 §15.5.9 allows a
         * 408 before closing an idle connection). */
        engine.wowner = c;
        c->close_after = true;
        c->linger = true;
        response_error(c, 408);
        conn_run(c);
        return;
    }
    conn_free(c); /* idle keep-alive, a client not reading, or lingering */
}

/*
 * The worker is draining. Closing an idle keep-alive connection races
 * with the request the client may be sending on it right now (the reason
 * nginx's and PM2's reloads fail requests), so a connection is closed
 * only once it has been idle for DRAIN_IDLE_GRACE; before that, its next
 * request is answered with Connection: close (http.c), which no client
 * can misread.
 */
static void
conn_drain(struct conn *c)
{
    if (c->state != CONN_OPEN || c->msg_open || conn_output_pending(c)
        || c->paused || c->job != NULL) {
        return;
    }
    if (conn_returns(c)) {
        if (conn_idle(c)) {
            conn_return(c); /* no race: the next worker reads its bytes */
        }
        return;
    }
    if (c->requests > 0
        && ev_now(engine.loop) - c->idle_since >= DRAIN_IDLE_GRACE) {
        conn_finish(c);
        return;
    }
    conn_arm_timer(c);
}

void
conn_drain_all(void)
{
    struct conn *c, *next;

    for (c = TAILQ_FIRST(&engine.conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_drain(c);
    }
}
