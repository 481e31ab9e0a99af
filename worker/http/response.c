/*
 * response.c: status lines and headers. The Date header is formatted once
 * a second, not once a response.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "http/internal.h"
#include "version.h"

#define SERVER_HEADER "Server: handoff/" HANDOFF_VERSION "\r\n"

static char response_date[64]; /* "Date: ...\r\n" */
static size_t response_date_len;
static time_t response_date_sec = -1;

static const char *
response_reason(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 200:
        return "OK";
    case 206:
        return "Partial Content";
    case 301:
        return "Moved Permanently";
    case 304:
        return "Not Modified";
    case 204:
        return "No Content";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 403:
        return "Forbidden";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Content Too Large";
    case 414:
        return "URI Too Long";
    case 416:
        return "Range Not Satisfiable";
    case 417:
        return "Expectation Failed";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    case 505:
        return "HTTP Version Not Supported";
    default:
        return "Unknown";
    }
}

static void
response_update_date(void)
{
    time_t now = (time_t) ev_now(engine.loop);
    struct tm tm;

    if (now == response_date_sec) {
        return;
    }
    response_date_sec = now;
    gmtime_r(&now, &tm);
    /* RFC 9110 §5.6.7 IMF-fixdate; the C locale's names are the right ones. */
    response_date_len = strftime(response_date, sizeof(response_date),
                                 "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
}

/* Appends <s> to <p>; the caller sized the buffer. */
static char *
response_put(char *p, const char *s, size_t len)
{
    memcpy(p, s, len);
    return p + len;
}

static char *
response_put_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char) ('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (n > 0) {
        *p++ = tmp[--n];
    }
    return p;
}

#define PUT_LIT(p, s) response_put((p), (s), sizeof(s) - 1)

void
response_http_date(time_t t, char *buf, size_t len)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/*
 * Queues a status line and headers for a body of <body_len> bytes, which
 * the caller queues next (not for HEAD, 204 and 304, which have none).
 * <extra> holds further header lines, each ending in CRLF.
 */
void
response_head(struct conn *c, int status, const char *ctype, uint64_t body_len,
              const char *extra, size_t extra_len)
{
    const char *reason = response_reason(status);
    char head[768];
    char *p = head;

    if (extra_len > 256) {
        extra_len = 0; /* callers pass short, known lines */
    }
    response_update_date();
    p = PUT_LIT(p, "HTTP/1.1 ");
    p = response_put_u64(p, (uint64_t) status);
    *p++ = ' ';
    p = response_put(p, reason, strlen(reason));
    p = PUT_LIT(p, "\r\n" SERVER_HEADER);
    p = response_put(p, response_date, response_date_len);
    if (ctype != NULL) {
        p = PUT_LIT(p, "Content-Type: ");
        p = response_put(p, ctype, strlen(ctype));
        p = PUT_LIT(p, "\r\n");
    }
    /* RFC 9110 §8.6: none for 1xx and 204; 304 describes the selected
     * representation, which the caller states in <extra> if it wants. */
    if (status >= 200 && status != 204 && status != 304) {
        p = PUT_LIT(p, "Content-Length: ");
        p = response_put_u64(p, body_len);
        p = PUT_LIT(p, "\r\n");
    }
    if (extra_len > 0) {
        p = response_put(p, extra, extra_len);
    }
    if (c->req.debug) {
        /* For tools/experiment: who served this, and the how-manieth
         * request on its connection (1 marks a new connection). */
        p = PUT_LIT(p, "X-Handoff-Worker: ");
        p = response_put_u64(p, (uint64_t) engine.pid);
        p = PUT_LIT(p, "\r\nX-Handoff-Request: ");
        p = response_put_u64(p, c->requests);
        p = PUT_LIT(p, "\r\n");
    }
    if (c->close_after) {
        p = PUT_LIT(p, "Connection: close\r\n");
    } else if (c->parser.http_major == 1 && c->parser.http_minor == 0) {
        /* 1.0 closes by default; say that we keep it open as asked. */
        p = PUT_LIT(p, "Connection: keep-alive\r\n");
    }
    p = PUT_LIT(p, "\r\n");
    conn_out(c, head, (size_t) (p - head));
    if (status >= 200) {
        engine.app->answered(
            c, status,
            http_is_head(c) || status == 304 || status == 204 ? 0 : body_len);
    }
}

/* Queues a whole response with a body in memory (omitted for HEAD). */
void
response_simple(struct conn *c, int status, const char *ctype, const char *body,
                size_t body_len, const char *extra)
{
    response_head(c, status, ctype, body_len, extra,
                  extra != NULL ? strlen(extra) : 0);
    if (body_len > 0 && !http_is_head(c)) {
        conn_out(c, body, body_len);
    }
}

void
response_error(struct conn *c, int status)
{
    char body[96];
    int n = snprintf(body, sizeof(body), "%d %s\n", status,
                     response_reason(status));

    response_simple(c, status, "text/plain", body, (size_t) n, NULL);
}
