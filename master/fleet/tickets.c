/*
 * tickets.c: the TLS session-ticket keys, held by the master as Node's
 * primary holds the first worker's, so that a session made on one worker
 * resumes on any other: made with getrandom(), sent to each worker as it
 * starts (before any connection: the channel keeps order) and to all of
 * them at every rotation. A new key every --tls-ticket-rotate; the two
 * before it still decrypt, so a ticket lives 2 to 3 periods.
 *
 * They outlive every worker (restarts, recycling, SIGHUP's rolling
 * restart) because they are the master's; across SIGUSR2 the old master
 * writes them into a pipe whose read end the new master inherits
 * (HANDOFF_TICKETS_FD names the descriptor, never the bytes): they never
 * go through argv, the environment or a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "conf/options.h"
#include "fdutil.h"
#include "fleet/fleet-t.h"
#include "fleet/link.h"
#include "fleet/mworker.h"
#include "fleet/tickets.h"
#include "log.h"

#define TICKETS_ENV "HANDOFF_TICKETS_FD"
#define TICKETS_MAGIC 0x314b5448u /* "HTK1" */

/* What goes through the upgrade's pipe: fixed size, this build's. */
struct tickets_blob {
    uint32_t magic;
    uint32_t n;
    uint64_t age_ms; /* of keys[0] */
    uint8_t key[CHAN_TICKET_KEYS_MAX][CHAN_TICKET_KEY_LEN];
};

static void tickets_rotate_cb(struct ev_loop *loop, ev_timer *t, int revents);

/* <len> random bytes; getrandom() blocks only before the pool is ready. */
static int
tickets_random(void *buf, size_t len)
{
    size_t done = 0;

    while (done < len) {
        ssize_t n = getrandom((char *) buf + done, len - done, 0);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        done += (size_t) n;
    }
    return 0;
}

/* Each worker with a native link hears the keys now. */
static void
tickets_tell_all(struct fleet *fl)
{
    struct mworker *w;

    TAILQ_FOREACH(w, &fl->all, all_link) {
        if (w->link->tickets != NULL && w->chan_fd != -1 && !w->exited) {
            w->link->tickets(w, &fl->tickets.keys);
        }
    }
}

/* A new key in front; the oldest beyond CHAN_TICKET_KEYS_MAX goes. */
static int
tickets_new_key(struct tickets *t)
{
    uint8_t fresh[CHAN_TICKET_KEY_LEN];

    if (tickets_random(fresh, sizeof(fresh)) == -1) {
        return -1;
    }
    memmove(t->keys.key[1], t->keys.key[0],
            sizeof(t->keys.key[0]) * (CHAN_TICKET_KEYS_MAX - 1));
    memcpy(t->keys.key[0], fresh, sizeof(fresh));
    if (t->keys.n < CHAN_TICKET_KEYS_MAX) {
        t->keys.n++;
    }
    explicit_bzero(fresh, sizeof(fresh));
    return 0;
}

void
tickets_rearm(struct fleet *fl)
{
    struct tickets *t = &fl->tickets;
    ev_tstamp due =
        t->made + (ev_tstamp) fl->opt->tls_rotate_ms / 1000. - ev_now(fl->loop);

    ev_timer_stop(fl->loop, &t->rotate_w);
    ev_timer_set(&t->rotate_w, due > 0 ? due : 0., 0.);
    ev_timer_start(fl->loop, &t->rotate_w);
}

static void
tickets_rotate_cb(struct ev_loop *loop, ev_timer *tw, int revents)
{
    struct fleet *fl = tw->data;
    struct tickets *t = &fl->tickets;

    (void) revents;
    if (ev_now(loop) - t->made + 0.001
        >= (ev_tstamp) fl->opt->tls_rotate_ms / 1000.) {
        if (tickets_new_key(t) == -1) {
            log_error(errno, "getrandom() failed; the session-ticket key is "
                             "not rotated");
        } else {
            log_debug("session-ticket key rotated (%u kept to decrypt)",
                      t->keys.n - 1);
            tickets_tell_all(fl);
        }
        t->made = ev_now(loop);
    }
    tickets_rearm(fl);
}

/* The old master's keys from <fd>, or false. Closes <fd>. */
static bool
tickets_inherit(struct fleet *fl, int fd)
{
    struct tickets *t = &fl->tickets;
    struct tickets_blob b;
    size_t done = 0;
    bool ok;

    while (done < sizeof(b)) {
        ssize_t n = read(fd, (char *) &b + done, sizeof(b) - done);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        done += (size_t) n;
    }
    fd_close(fd);
    ok = done == sizeof(b) && b.magic == TICKETS_MAGIC && b.n >= 1
         && b.n <= CHAN_TICKET_KEYS_MAX;
    if (ok) {
        memcpy(t->keys.key, b.key, sizeof(b.key));
        t->keys.n = b.n;
        t->made = ev_now(fl->loop) - (ev_tstamp) b.age_ms / 1000.;
    }
    explicit_bzero(&b, sizeof(b));
    return ok;
}

void
tickets_init(struct fleet *fl)
{
    struct tickets *t = &fl->tickets;
    const char *env = getenv(TICKETS_ENV);

    memset(&t->keys, 0, sizeof(t->keys));
    ev_init(&t->rotate_w, tickets_rotate_cb);
    t->rotate_w.data = fl;
    t->made = ev_now(fl->loop);
    if (env != NULL) {
        int fd = atoi(env);

        (void) unsetenv(TICKETS_ENV); /* not the workers' */
        if (fd > 2 && tickets_inherit(fl, fd)) {
            log_info("session-ticket keys taken over from the old master");
        } else {
            log_warn(0, "the old master's session-ticket keys did not "
                        "arrive; new ones are made");
        }
    }
    if (t->keys.n == 0 && tickets_new_key(t) == -1) {
        log_error(errno, "getrandom() failed: no session tickets");
    }
    if (t->keys.n > 0) {
        tickets_rearm(fl);
    }
}

void
tickets_fini(struct fleet *fl)
{
    ev_timer_stop(fl->loop, &fl->tickets.rotate_w);
    explicit_bzero(&fl->tickets.keys, sizeof(fl->tickets.keys));
}

int
tickets_handover(const struct fleet *fl)
{
    const struct tickets *t = &fl->tickets;
    struct tickets_blob b;
    int p[2];
    ssize_t n;
    ev_tstamp age = ev_now(fl->loop) - t->made;

    if (t->keys.n == 0) {
        errno = ENOENT;
        return -1;
    }
    if (pipe2(p, O_CLOEXEC) == -1) {
        return -1;
    }
    memset(&b, 0, sizeof(b));
    b.magic = TICKETS_MAGIC;
    b.n = t->keys.n;
    b.age_ms = age > 0 ? (uint64_t) (age * 1000.) : 0;
    memcpy(b.key, t->keys.key, sizeof(b.key));
    /* Far below a pipe's capacity: written whole, without blocking. */
    do {
        n = write(p[1], &b, sizeof(b));
    } while (n == -1 && errno == EINTR);
    explicit_bzero(&b, sizeof(b));
    fd_close(p[1]);
    if (n != (ssize_t) sizeof(b)) {
        fd_close(p[0]);
        errno = n == -1 ? errno : EIO;
        return -1;
    }
    return p[0];
}
