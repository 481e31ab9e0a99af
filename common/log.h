/*
 * log.h: one-line diagnostics on stderr, shared by the master and workers.
 *
 * Each line carries a UTC time (RFC 3339, with a Z), the level, the
 * process role ("master", "worker W3") and pid, as text or as one JSON
 * object (--log-format json), and is written with a single write(2) so
 * that lines from several processes sharing stderr never interleave
 * mid-line.
 *
 * Writing never blocks the loop: where stderr is a pipe, a terminal or a
 * socket, lines go out through a descriptor of this process's own that
 * does not block, and what the reader has not taken yet waits in a
 * bounded buffer (log_flush(), called by the loop); past that bound,
 * lines are dropped, counted, and the count is logged once the reader
 * catches up.
 */
#ifndef HS_COMMON_LOG_H
#define HS_COMMON_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
    LOG_LEVEL_TRACE, /* --trace's lines: written whenever tracing is on */
};

enum log_format {
    LOG_FORMAT_TEXT,
    LOG_FORMAT_JSON,
};

/* What waits for a stderr that does not read, at most. */
#define LOG_PENDING_MAX (64 * 1024)

/*
 * <role> ("master", "worker") names this process in every later line;
 * <worker> is its worker id (W<n>), or 0 for none.
 */
void log_init(const char *role, uint32_t worker);

/* Lines above <level> are not written (trace lines always are); <fmt>
 * is how they are written. */
void log_configure(enum log_level level, enum log_format fmt);

/* "error", "warn", "info", "debug": true and the level in *out. */
bool log_level_parse(const char *s, enum log_level *out);
/* "text", "json": true and the format in *out. */
bool log_format_parse(const char *s, enum log_format *out);
const char *log_level_name(enum log_level level);
const char *log_format_name(enum log_format fmt);

/*
 * From now on, writes stderr without blocking (see the file comment).
 * Call once, early; until then, and where it cannot be done (a regular
 * file, which never stalls), lines are written as they come.
 */
void log_nonblocking(void);

/*
 * Writes what waits, as far as stderr takes it. Returns true when
 * nothing is left; false: call again when log_fd() is writable.
 */
bool log_flush(void);
/* The descriptor lines go to, for a watcher while log_flush() is false. */
int log_fd(void);

/*
 * Logs one line at <level>. When <err> is non-zero, ": strerror(err)" is
 * appended, so callers pass errno explicitly (it may have changed by the
 * time a message is formatted otherwise).
 */
void log_msg(enum log_level level, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Logs a line another process wrote (a Node worker's stdout or stderr,
 * <stream>), as that process: <role>, <worker>, <pid>. Never filtered by
 * the level: it is the application's output, not handoff's.
 */
void log_line_of(const char *role, uint32_t worker, pid_t pid,
                 const char *stream, const char *text, size_t len);

/*
 * Each TRACE line, as written to stderr (newline included), is also
 * passed to <tap>, or to nobody when <tap> is NULL. The master's control
 * socket streams its trace to `handoffctl trace` this way.
 */
void log_set_trace_tap(void (*tap)(const char *line, size_t len));

#define log_error(err, ...) log_msg(LOG_LEVEL_ERROR, (err), __VA_ARGS__)
#define log_warn(err, ...) log_msg(LOG_LEVEL_WARN, (err), __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_trace(...) log_msg(LOG_LEVEL_TRACE, 0, __VA_ARGS__)

#endif
