/*
 * accesslog.c: the access log, in Apache's combined format:
 *
 *   127.0.0.1 - - [23/Nov/2026:12:00:00 +0000] "GET / HTTP/1.1" 200 24
 *   "-" "curl/7.88.1"
 *
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
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "worker.h"

#define ACCESSLOG_BUF (64 * 1024)
#define ACCESSLOG_LINE 4096

static char accesslog_buf[ACCESSLOG_BUF];
static size_t accesslog_len;
static int accesslog_fd = -1;
static char accesslog_time[40];
static time_t accesslog_time_sec = -1;

int
accesslog_open(void)
{
    int fd;

    if (worker.access_log == NULL) {
        return 0;
    }
    if (strcmp(worker.access_log, "-") == 0) {
        accesslog_fd = STDERR_FILENO;
        return 0;
    }
    fd = open(worker.access_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
              0644);
    if (fd == -1) {
        return -1;
    }
    accesslog_fd = fd;
    return 0;
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
    if (worker.access_log == NULL || old == STDERR_FILENO) {
        return;
    }
    if (accesslog_open() == -1) {
        log_error(errno,
                  "cannot reopen the access log %s; keeping the old "
                  "file",
                  worker.access_log);
        accesslog_fd = old;
        return;
    }
    fd_close(old);
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

/* Appends <s> (len bytes) escaped, within <end>. */
static char *
accesslog_escaped(char *p, const char *end, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t i;

    for (i = 0; i < len && p + 4 < end; i++) {
        unsigned char ch = (unsigned char) s[i];

        if (ch < 0x20 || ch > 0x7e || ch == '"' || ch == '\\') {
            *p++ = '\\';
            *p++ = 'x';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        } else {
            *p++ = (char) ch;
        }
    }
    return p;
}

static char *
accesslog_header(char *p, const char *end, const struct conn *c, enum hdr h)
{
    size_t len;
    const char *v = http_header(c, h, &len);

    if (v == NULL || len == 0) {
        return p + snprintf(p, (size_t) (end - p), "\"-\"");
    }
    *p++ = '"';
    p = accesslog_escaped(p, end - 1, v, len);
    *p++ = '"';
    return p;
}

/* Logs the request on <c> answered with <status> and <bytes> of body. */
void
accesslog_write(const struct conn *c, int status, uint64_t bytes)
{
    char line[ACCESSLOG_LINE], addr[INET6_ADDRSTRLEN] = "-";
    char *p = line, *end = line + sizeof(line) - 2;
    time_t now = (time_t) ev_now(worker.loop);
    const char *url;
    size_t ulen;

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
    p +=
        snprintf(p, (size_t) (end - p), "%s - - [%s] \"", addr, accesslog_time);
    url = http_url(&c->req, &ulen);
    if (ulen > 0) {
        const char *m = llhttp_method_name((llhttp_method_t) c->parser.method);

        p = accesslog_escaped(p, end - 64, m, strlen(m));
        *p++ = ' ';
        p = accesslog_escaped(p, end - 64, url, ulen > 2048 ? 2048 : ulen);
        p += snprintf(p, (size_t) (end - p), " HTTP/%u.%u",
                      c->parser.http_major, c->parser.http_minor);
    } else {
        *p++ = '-';
    }
    if (bytes > 0) {
        p += snprintf(p, (size_t) (end - p), "\" %d %llu ", status,
                      (unsigned long long) bytes);
    } else {
        p += snprintf(p, (size_t) (end - p), "\" %d - ", status);
    }
    p = accesslog_header(p, end, c, HDR_REFERER);
    *p++ = ' ';
    p = accesslog_header(p, end, c, HDR_USER_AGENT);
    *p++ = '\n';
    if (accesslog_len + (size_t) (p - line) > sizeof(accesslog_buf)) {
        accesslog_flush();
    }
    memcpy(accesslog_buf + accesslog_len, line, (size_t) (p - line));
    accesslog_len += (size_t) (p - line);
}
