/*
 * accesslog.c: the access log, in Apache's combined format:
 *
 *   127.0.0.1 - - [23/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 24
 *   "-" "curl/7.88.1" 0.0.0.0:8080
 *
 * followed by the address of the listener the connection came in on (as
 * the master named it: LISTEN, LISTENER; "-" until it has), so that a
 * log analyser reading the combined format sees the fields it knows.
 * Lines collect in a buffer written once per loop turn (or when full),
 * with O_APPEND, so workers sharing the file never split each other's
 * lines. The client address is the one the master passed with the
 * connection: with --proxy-protocol, the real client's. Quotes, control
 * characters and bytes over 0x7e in logged fields are escaped as \xHH,
 * so a request cannot forge log lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "fdutil.h"
#include "http/tls.h"
#include "log.h"

#define ACCESSLOG_BUF (64 * 1024)
#define ACCESSLOG_LINE 4096

static char accesslog_buf[ACCESSLOG_BUF];
static size_t accesslog_len;
static const char *accesslog_path; /* --access-log, or NULL */
static int accesslog_fd = -1;
static char accesslog_time[40];
/* "0.0.0.0:8080", "[::1]:8080", by listener index; "" when unknown. */
static char accesslog_listeners[CHAN_LISTENERS_MAX][INET6_ADDRSTRLEN + 8];
static time_t accesslog_time_sec = -1;

/* Opens accesslog_path; -1 with errno when it cannot. */
static int
accesslog_open_path(void)
{
    int fd;

    if (accesslog_path == NULL) {
        return 0;
    }
    if (strcmp(accesslog_path, "-") == 0) {
        accesslog_fd = STDERR_FILENO;
        return 0;
    }
    fd = open(accesslog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd == -1) {
        return -1;
    }
    accesslog_fd = fd;
    return 0;
}

int
accesslog_open(const char *path)
{
    accesslog_path = path;
    return accesslog_open_path();
}

void
accesslog_flush(void)
{
    size_t off = 0;

    while (off < accesslog_len && accesslog_fd != -1) {
        ssize_t n =
            write(accesslog_fd, accesslog_buf + off, accesslog_len - off);

        if (n == -1) {
            if (errno == EINTR) {
                continue;
            }
            log_warn(errno, "cannot write the access log; %zu bytes lost",
                     accesslog_len - off);
            break;
        }
        off += (size_t) n;
    }
    accesslog_len = 0;
}

/* SIGUSR1 (via the master): logrotate moved the file; start a new one. */
void
accesslog_reopen(void)
{
    int old = accesslog_fd;

    accesslog_flush();
    if (accesslog_path == NULL || old == STDERR_FILENO) {
        return;
    }
    if (accesslog_open_path() == -1) {
        log_error(errno,
                  "cannot reopen the access log %s; keeping the old "
                  "file",
                  accesslog_path);
        accesslog_fd = old;
        return;
    }
    fd_close(old);
}

void
accesslog_listener(unsigned index, const struct chan_peer *addr)
{
    char host[INET6_ADDRSTRLEN];

    if (index >= CHAN_LISTENERS_MAX) {
        return;
    }
    accesslog_listeners[index][0] = '\0';
    if ((addr->family == AF_INET || addr->family == AF_INET6)
        && inet_ntop(addr->family, addr->addr, host, sizeof(host)) != NULL) {
        snprintf(accesslog_listeners[index], sizeof(accesslog_listeners[0]),
                 addr->family == AF_INET6 ? "[%s]:%u" : "%s:%u", host,
                 addr->port);
    }
}

void
accesslog_close(void)
{
    accesslog_flush();
    if (accesslog_fd != STDERR_FILENO) {
        fd_close(accesslog_fd);
    }
    accesslog_fd = -1;
}

/*
 * A line under construction. Every append checks the room left, so a
 * line can be cut short but never overrun; the caps below keep real
 * lines whole (4 bytes per escaped byte at worst).
 */
struct logline {
    char buf[ACCESSLOG_LINE];
    size_t len;
};

#define LOG_URL_MAX 2048  /* raw bytes of the request target logged */
#define LOG_FIELD_MAX 512 /* of Referer, User-Agent */
/* The closing quote, the listener (a space and its address) and the
 * newline, always. */
#define LOG_TAIL_ROOM (2 + 1 + INET6_ADDRSTRLEN + 8 + LOG_TLS_MAX)
/* " TLSv1.3 TLS_AES_256_GCM_SHA384" after an HTTPS request's listener. */
#define LOG_TLS_MAX 80

static void
logline_put(struct logline *l, const char *s, size_t len)
{
    size_t room = sizeof(l->buf) - LOG_TAIL_ROOM - l->len;

    if (len > room) {
        len = room;
    }
    memcpy(l->buf + l->len, s, len);
    l->len += len;
}

static void logline_printf(struct logline *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
logline_printf(struct logline *l, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n > 0) {
        logline_put(l, tmp,
                    (size_t) n < sizeof(tmp) ? (size_t) n : sizeof(tmp) - 1);
    }
}

/* Appends at most <max> bytes of <s>, escaping what could forge a line. */
static void
logline_escaped(struct logline *l, const char *s, size_t len, size_t max)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len && i < max; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            char esc[4] = {'\\', 'x', hex[ch >> 4], hex[ch & 15]};

            logline_put(l, esc, 4);
        } else {
            logline_put(l, (const char *) &ch, 1);
        }
    }
}

static void
logline_header(struct logline *l, const struct conn *c, enum hdr h)
{
    size_t len;
    const char *v = http_header(c, h, &len);

    if (v == NULL || len == 0) {
        logline_put(l, "\"-\"", 3);
        return;
    }
    logline_put(l, "\"", 1);
    logline_escaped(l, v, len, LOG_FIELD_MAX);
    logline_put(l, "\"", 1);
}

void
accesslog_write(const struct conn *c, int status, uint64_t bytes)
{
    static struct logline l;
    char addr[INET6_ADDRSTRLEN] = "-";
    time_t now = (time_t) ev_now(engine.loop);
    const char *url, *lis, *proto, *cipher;
    size_t ulen, llen;

    if (accesslog_fd == -1) {
        return;
    }
    if (now != accesslog_time_sec) {
        struct tm tm;

        accesslog_time_sec = now;
        gmtime_r(&now, &tm);
        strftime(accesslog_time, sizeof(accesslog_time),
                 "%d/%b/%Y:%H:%M:%S +0000", &tm);
    }
    if (c->peer.family == AF_INET || c->peer.family == AF_INET6) {
        inet_ntop(c->peer.family, c->peer.addr, addr, sizeof(addr));
    }
    l.len = 0;
    logline_printf(&l, "%s - - [%s] \"", addr, accesslog_time);
    url = http_url(&c->req, &ulen);
    if (ulen > 0) {
        const char *m = llhttp_method_name((llhttp_method_t) c->parser.method);

        logline_escaped(&l, m, strlen(m), 32);
        logline_put(&l, " ", 1);
        logline_escaped(&l, url, ulen, LOG_URL_MAX);
        logline_printf(&l, " HTTP/%u.%u", c->parser.http_major,
                       c->parser.http_minor);
    } else {
        logline_put(&l, "-", 1);
    }
    if (bytes > 0) {
        logline_printf(&l, "\" %d %llu ", status, (unsigned long long) bytes);
    } else {
        logline_printf(&l, "\" %d - ", status);
    }
    logline_header(&l, c, HDR_REFERER);
    logline_put(&l, " ", 1);
    logline_header(&l, c, HDR_USER_AGENT);
    /* LOG_TAIL_ROOM kept these bytes free even in a cut line. */
    if (l.buf[l.len - 1] != '"') {
        l.buf[l.len++] = '"';
    }
    lis = c->peer.listener < CHAN_LISTENERS_MAX
              ? accesslog_listeners[c->peer.listener]
              : "";
    llen = lis[0] != '\0' ? strlen(lis) : 1;
    l.buf[l.len++] = ' ';
    memcpy(l.buf + l.len, lis[0] != '\0' ? lis : "-", llen);
    l.len += llen;
    if (tls_conn_info(c, &proto, &cipher)) {
        int n = snprintf(l.buf + l.len, LOG_TLS_MAX, " %s %s", proto, cipher);

        l.len += n > 0 && n < LOG_TLS_MAX ? (size_t) n : 0;
    }
    l.buf[l.len++] = '\n';
    if (accesslog_len + l.len > sizeof(accesslog_buf)) {
        accesslog_flush();
    }
    memcpy(accesslog_buf + accesslog_len, l.buf, l.len);
    accesslog_len += l.len;
}
