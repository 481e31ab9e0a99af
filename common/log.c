/*
 * log.c: formats a diagnostic line in a stack buffer and writes it once,
 * as text or JSON, without ever blocking on a stderr nobody reads.
 *
 * A pipe's, a terminal's or a FIFO's O_NONBLOCK belongs to the open file
 * description, which this process shares with its parent and siblings:
 * setting it on fd 2 would make their writes fail too (a shell's, after
 * we exit). So log_nonblocking() opens the same pipe or terminal again,
 * through /proc/self/fd/2, as a description of its own with O_NONBLOCK;
 * a socket (journald's stdout) needs no new one, as send() takes
 * MSG_DONTWAIT per call. A regular file is written as before: it never
 * waits for a reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "log.h"

#define LOG_LINE_MAX 1024

static char log_role[16] = "handoff";
static uint32_t log_worker;
static char log_text_role[32] = "handoff"; /* "worker W3" */
static enum log_level log_max = LOG_LEVEL_INFO;
static enum log_format log_fmt = LOG_FORMAT_TEXT;
static void (*log_trace_tap)(const char *line, size_t len);

static int log_out = STDERR_FILENO;
static bool log_out_socket; /* send() with MSG_DONTWAIT */
static bool log_out_own;    /* log_out is our own non-blocking one */
static char log_pending[LOG_PENDING_MAX];
static size_t log_pending_len;
static unsigned long long log_dropped;

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error", [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",   [LOG_LEVEL_DEBUG] = "debug",
    [LOG_LEVEL_TRACE] = "trace",
};

void
log_init(const char *role, uint32_t worker)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
    log_worker = worker;
    if (worker != 0) {
        snprintf(log_text_role, sizeof(log_text_role), "%s W%u", role, worker);
    } else {
        snprintf(log_text_role, sizeof(log_text_role), "%s", role);
    }
}

void
log_configure(enum log_level level, enum log_format fmt)
{
    log_max = level;
    log_fmt = fmt;
}

bool
log_level_parse(const char *s, enum log_level *out)
{
    int i;

    for (i = LOG_LEVEL_ERROR; i <= LOG_LEVEL_DEBUG; i++) {
        if (strcmp(s, log_level_names[i]) == 0) {
            *out = (enum log_level) i;
            return true;
        }
    }
    return false;
}

bool
log_format_parse(const char *s, enum log_format *out)
{
    if (strcmp(s, "text") == 0 || strcmp(s, "json") == 0) {
        *out = s[0] == 't' ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
        return true;
    }
    return false;
}

const char *
log_level_name(enum log_level level)
{
    return log_level_names[level];
}

const char *
log_format_name(enum log_format fmt)
{
    return fmt == LOG_FORMAT_JSON ? "json" : "text";
}

void
log_set_trace_tap(void (*tap)(const char *line, size_t len))
{
    log_trace_tap = tap;
}

void
log_nonblocking(void)
{
    struct stat st;
    int fd;

    if (log_out_own || fstat(STDERR_FILENO, &st) == -1) {
        return;
    }
    if (S_ISSOCK(st.st_mode)) {
        log_out_socket = true;
        return;
    }
    if (!S_ISFIFO(st.st_mode) && !S_ISCHR(st.st_mode)) {
        return; /* a regular file: writes do not wait for a reader */
    }
    /* Fails for a FIFO with no reader left (ENXIO), or without /proc:
     * then lines are written to fd 2 as they come. */
    fd = open("/proc/self/fd/2",
              O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY | O_APPEND);
    if (fd != -1) {
        log_out = fd;
        log_out_own = true;
    }
}

int
log_fd(void)
{
    return log_out;
}

/* One write of <len> bytes: the count taken, or -1 with errno. */
static ssize_t
log_write_some(const char *p, size_t len)
{
    ssize_t n;

    do {
        n = log_out_socket ? send(log_out, p, len, MSG_DONTWAIT | MSG_NOSIGNAL)
                           : write(log_out, p, len);
    } while (n == -1 && errno == EINTR);
    if (n == -1 && log_out_socket && errno == ENOTSOCK) {
        log_out_socket = false; /* not what fstat said: write it */
        return log_write_some(p, len);
    }
    return n;
}

/* Keeps what stderr did not take, or drops it (counted) when the
 * pending buffer is full. A line is kept whole or not at all. */
static void
log_keep(const char *p, size_t len, bool partial)
{
    if (!partial && len > sizeof(log_pending) - log_pending_len) {
        log_dropped++;
        return;
    }
    if (len > sizeof(log_pending) - log_pending_len) {
        len = sizeof(log_pending) - log_pending_len; /* cannot happen */
    }
    memcpy(log_pending + log_pending_len, p, len);
    log_pending_len += len;
}

static void log_emit(const char *line, size_t len);

bool
log_flush(void)
{
    size_t off = 0;

    while (off < log_pending_len) {
        ssize_t n = log_write_some(log_pending + off, log_pending_len - off);

        if (n == -1) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            }
            off = log_pending_len; /* stderr is gone: nobody to tell */
            break;
        }
        off += (size_t) n;
    }
    memmove(log_pending, log_pending + off, log_pending_len - off);
    log_pending_len -= off;
    if (log_pending_len == 0 && log_dropped > 0) {
        unsigned long long n = log_dropped;

        log_dropped = 0;
        log_msg(LOG_LEVEL_WARN, 0,
                "%llu log line%s dropped: stderr was not being read", n,
                n == 1 ? "" : "s");
    }
    return log_pending_len == 0;
}

/* Writes a whole line, or keeps it (or what is left of it) for later. */
static void
log_emit(const char *line, size_t len)
{
    ssize_t n;

    if (log_pending_len > 0) {
        (void) log_flush();
    }
    if (log_pending_len > 0) {
        log_keep(line, len, false); /* behind what waits, in order */
        return;
    }
    n = log_write_some(line, len);
    if (n == -1) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            log_keep(line, len, false);
        }
        return; /* another error: stderr is gone */
    }
    if ((size_t) n < len) {
        log_keep(line + n, len - (size_t) n, true);
    }
}

/* "2026-01-02 03:04:05.678Z" (RFC 3339 §5.6 allows the space, which
 * keeps the date and time apart for a reader) or, with 'T', the JSON
 * form. Returns its length. */
static size_t
log_time(char *buf, size_t size, char sep)
{
    struct timeval tv;
    struct tm tm;
    size_t n;
    int rc;

    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm);
    if (n == 10 + 1 + 8) {
        buf[10] = sep;
    }
    rc = snprintf(buf + n, size - n, ".%03ldZ", (long) tv.tv_usec / 1000);
    return n + (rc > 0 ? (size_t) rc : 0);
}

/* Appends to <line> at *len, never past LOG_LINE_MAX - 1 (the newline's
 * place). */
static void __attribute__((format(printf, 3, 4)))
log_add(char *line, size_t *len, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*len >= LOG_LINE_MAX - 1) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(line + *len, LOG_LINE_MAX - 1 - *len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        *len += (size_t) n;
    }
    if (*len > LOG_LINE_MAX - 2) {
        *len = LOG_LINE_MAX - 2;
    }
}

/*
 * Formats one line of <role> <worker> <pid> at <level> (or, for another
 * process's output, <stream>) with message <msg> into <line>; its length,
 * newline included.
 */
static size_t
log_format(char *line, const char *role, const char *text_role, uint32_t worker,
           long pid, const char *level, const char *stream, const char *msg,
           size_t mlen)
{
    char ts[40];
    size_t len = 0, pos;

    if (log_fmt == LOG_FORMAT_TEXT) {
        log_time(ts, sizeof(ts), ' ');
        log_add(line, &len, "%s %s[%ld] %s: %.*s", ts, text_role, pid,
                stream != NULL ? stream : level, (int) mlen, msg);
    } else {
        log_time(ts, sizeof(ts), 'T');
        log_add(line, &len,
                "{\"time\":\"%s\",\"level\":\"%s\",\"pid\":%ld,"
                "\"role\":\"%s\",\"worker\":",
                ts, level, pid, role);
        if (worker != 0) {
            log_add(line, &len, "%u", worker);
        } else {
            log_add(line, &len, "null");
        }
        if (stream != NULL) {
            log_add(line, &len, ",\"stream\":\"%s\"", stream);
        }
        log_add(line, &len, ",\"msg\":");
        pos = len;
        /* A message too long for the line is cut, and still a string. */
        while (!json_put_string(line, LOG_LINE_MAX - 2, &pos, msg, mlen)
               && mlen > 0) {
            mlen = mlen > 64 ? mlen - 64 : 0;
        }
        len = pos;
        log_add(line, &len, "}");
    }
    line[len++] = '\n';
    return len;
}

void
log_msg(enum log_level level, int err, const char *fmt, ...)
{
    char msg[LOG_LINE_MAX], line[LOG_LINE_MAX];
    size_t mlen = 0, len;
    int n;
    va_list ap;
    int saved_errno = errno;

    if (level > log_max && level != LOG_LEVEL_TRACE) {
        return;
    }
    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mlen = n > 0 ? (size_t) n : 0;
    if (mlen >= sizeof(msg)) {
        mlen = sizeof(msg) - 1;
    }
    if (err != 0 && mlen < sizeof(msg) - 1) {
        n = snprintf(msg + mlen, sizeof(msg) - mlen, ": %s", strerror(err));
        mlen += n > 0 ? (size_t) n : 0;
        if (mlen >= sizeof(msg)) {
            mlen = sizeof(msg) - 1;
        }
    }
    len = log_format(line, log_role, log_text_role, log_worker, (long) getpid(),
                     log_level_names[level], NULL, msg, mlen);
    if (level == LOG_LEVEL_TRACE && log_trace_tap != NULL) {
        log_trace_tap(line, len);
    }
    log_emit(line, len);
    errno = saved_errno;
}

void
log_line_of(const char *role, uint32_t worker, pid_t pid, const char *stream,
            const char *text, size_t len)
{
    char line[LOG_LINE_MAX], text_role[32];
    size_t n;
    int saved_errno = errno;

    snprintf(text_role, sizeof(text_role), "%s W%u", role, worker);
    n = log_format(line, role, text_role, worker, (long) pid,
                   strcmp(stream, "stderr") == 0 ? "warn" : "info", stream,
                   text, len);
    log_emit(line, n);
    errno = saved_errno;
}
