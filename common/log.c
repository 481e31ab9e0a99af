/*
 * log.c: formats a diagnostic line in a stack buffer and writes it once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_role[32] = "handoff";
static void (*log_trace_tap)(const char *line, size_t len);

static const char *const log_level_names[] = {
    [LOG_LEVEL_ERROR] = "error",
    [LOG_LEVEL_WARN] = "warn",
    [LOG_LEVEL_INFO] = "info",
    [LOG_LEVEL_TRACE] = "trace",
};

void
log_init(const char *role)
{
    snprintf(log_role, sizeof(log_role), "%s", role);
}

void
log_set_trace_tap(void (*tap)(const char *line, size_t len))
{
    log_trace_tap = tap;
}

void
log_msg(enum log_level level, int err, const char *fmt, ...)
{
    char line[1024];
    struct timeval tv;
    struct tm tm;
    size_t len;
    int n;
    va_list ap;
    int saved_errno = errno;

    gettimeofday(&tv, NULL);
    localtime_r(&tv.tv_sec, &tm);
    len = strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S", &tm);
    n = snprintf(line + len, sizeof(line) - len,
                 ".%03ld %s[%ld] %s: ", (long) tv.tv_usec / 1000, log_role,
                 (long) getpid(), log_level_names[level]);
    len += n > 0 ? (size_t) n : 0;

    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n > 0) {
        len += (size_t) n;
    }
    if (err != 0 && len < sizeof(line)) {
        n = snprintf(line + len, sizeof(line) - len, ": %s", strerror(err));
        len += n > 0 ? (size_t) n : 0;
    }
    /* A line cut short by the buffer still ends with a newline. */
    if (len >= sizeof(line) - 1) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';

    if (level == LOG_LEVEL_TRACE && log_trace_tap != NULL) {
        log_trace_tap(line, len);
    }
    /* A partial write to stderr is not worth retrying for a log line. */
    while (write(STDERR_FILENO, line, len) == -1 && errno == EINTR) {
    }
    errno = saved_errno;
}
