/*
 * log.h: one-line diagnostics on stderr, shared by the master and workers.
 *
 * Each line carries a timestamp, the process role ("master", "worker 3")
 * and pid, and is written with a single write(2) so that lines from
 * several processes sharing stderr never interleave mid-line.
 */
#ifndef HS_COMMON_LOG_H
#define HS_COMMON_LOG_H

#include <stddef.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_TRACE,
};

/* <role> is copied; it names this process in every later line. */
void log_init(const char *role);

/*
 * Logs one line at <level>. When <err> is non-zero, ": strerror(err)" is
 * appended, so callers pass errno explicitly (it may have changed by the
 * time a message is formatted otherwise).
 */
void log_msg(enum log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Each TRACE line, as written to stderr (newline included), is also
 * passed to <tap>, or to nobody when <tap> is NULL. The master's control
 * socket streams its trace to `handoffctl trace` this way.
 */
void log_set_trace_tap(void (*tap)(const char *line, size_t len));

#define log_error(err, ...) log_msg(LOG_LEVEL_ERROR, (err), __VA_ARGS__)
#define log_warn(err, ...) log_msg(LOG_LEVEL_WARN, (err), __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_LEVEL_TRACE, 0, __VA_ARGS__)

#endif
