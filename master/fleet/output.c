/*
 * output.c: a worker's stdout and stderr through the master's log. For a
 * kind whose program writes to them itself (a Node application's
 * console.log), each gets a pipe instead of the master's own stderr, and
 * each line read from it is logged as that worker's (common/log.c:
 * log_line_of), so it carries the worker's id, pid and stream, in the
 * master's format (text or JSON), rather than appearing bare between the
 * master's lines, as PM2 prefixes an app's lines.
 *
 * The master reads without blocking; a line longer than OUTPUT_LINE_MAX
 * is logged in pieces. When the worker is reaped, what is left in its
 * pipes is read (a bounded amount) and its last partial line logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdutil.h"
#include "fleet/output.h"
#include "log.h"

/* Leaves room in a log line for its time, role and pid. */
#define OUTPUT_LINE_MAX 900
/* Reads at reaping, per stream: whatever a busy child left, bounded. */
#define OUTPUT_DRAIN_READS 16

struct output_stream {
    struct mworker *w;
    const char *name; /* "stdout", "stderr" */
    int fd;           /* owned read end, or -1 */
    ev_io io;
    size_t len;
    char line[OUTPUT_LINE_MAX];
};

struct output {
    struct output_stream s[2];
};

static void
output_line(struct output_stream *st)
{
    size_t len = st->len;

    if (len > 0 && st->line[len - 1] == '\r') {
        len--;
    }
    log_line_of("worker", st->w->sw.id, st->w->pid, st->name, st->line, len);
    st->len = 0;
}

/* Splits <n> bytes read into lines. */
static void
output_take(struct output_stream *st, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t part = nl != NULL ? (size_t) (nl - p) : n;
        size_t room = sizeof(st->line) - st->len;

        if (part > room) {
            part = room;
            nl = NULL;
        }
        memcpy(st->line + st->len, p, part);
        st->len += part;
        p += part;
        n -= part;
        if (nl != NULL) {
            p++;
            n--;
            output_line(st);
        } else if (st->len == sizeof(st->line)) {
            output_line(st); /* a long line, in pieces */
        }
    }
}

static void
output_close_stream(struct output_stream *st)
{
    if (st->fd == -1) {
        return;
    }
    ev_io_stop(st->w->fl->loop, &st->io);
    if (st->len > 0) {
        output_line(st);
    }
    fd_close(st->fd);
    st->fd = -1;
}

/* One read; false once the stream is done (EOF, error) or empty now. */
static bool
output_read(struct output_stream *st)
{
    char buf[4096];
    ssize_t n;

    do {
        n = read(st->fd, buf, sizeof(buf));
    } while (n == -1 && errno == EINTR);
    if (n > 0) {
        output_take(st, buf, (size_t) n);
        return true;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
        output_close_stream(st);
    }
    return false;
}

static void
output_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void) loop;
    (void) revents;
    (void) output_read(container_of(io, struct output_stream, io));
}

/*
 * Pipes for <w>'s stdout and stderr: the child's ends in <child_fds>
 * (close-on-exec: exec.c puts them on 1 and 2), the read ends kept.
 * Returns 0, or -1 with errno set and nothing left open.
 */
int
output_open(struct mworker *w, int child_fds[2])
{
    static const char *const names[] = {"stdout", "stderr"};
    struct output *o = calloc(1, sizeof(*o));
    int i, p[2][2], err;

    if (o == NULL) {
        return -1;
    }
    if (pipe2(p[0], O_CLOEXEC) == -1) {
        err = errno;
        free(o);
        errno = err;
        return -1;
    }
    if (pipe2(p[1], O_CLOEXEC) == -1) {
        err = errno;
        fd_close(p[0][0]);
        fd_close(p[0][1]);
        free(o);
        errno = err;
        return -1;
    }
    for (i = 0; i < 2; i++) {
        struct output_stream *st = &o->s[i];

        st->w = w;
        st->name = names[i];
        st->fd = p[i][0];
        (void) fd_set_nonblock(st->fd);
        child_fds[i] = p[i][1];
    }
    w->output = o;
    return 0;
}

/* The child runs: its lines are read as they come. */
void
output_start(struct mworker *w)
{
    int i;

    if (w->output == NULL) {
        return;
    }
    for (i = 0; i < 2; i++) {
        struct output_stream *st = &w->output->s[i];

        ev_io_init(&st->io, output_cb, st->fd, EV_READ);
        ev_io_start(w->fl->loop, &st->io);
    }
}

/* <w> is done: what its pipes still hold is logged, then they close. */
void
output_close(struct mworker *w)
{
    int i, k;

    if (w->output == NULL) {
        return;
    }
    for (i = 0; i < 2; i++) {
        struct output_stream *st = &w->output->s[i];

        for (k = 0; k < OUTPUT_DRAIN_READS && st->fd != -1; k++) {
            if (!output_read(st)) {
                break;
            }
        }
        output_close_stream(st);
    }
    free(w->output);
    w->output = NULL;
}
