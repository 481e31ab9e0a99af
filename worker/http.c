/*
 * http.c: llhttp glue. Collects what the routes need from a request (the
 * target and a few header values) and enforces what llhttp leaves to us:
 * size and count limits, RFC 9112's rules on field names, obs-fold,
 * transfer codings and Host, and Expect.
 *
 * llhttp hands out spans that borrow the read buffer for the duration of a
 * callback and may split a field anywhere, so the target and the kept
 * values are copied, and names are matched once complete.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "worker.h"

static llhttp_settings_t http_settings;

static const char *const http_hdr_names[HDR_COUNT] = {
    [HDR_HOST] = "host",
    [HDR_EXPECT] = "expect",
    [HDR_TRANSFER_ENCODING] = "transfer-encoding",
    [HDR_IF_NONE_MATCH] = "if-none-match",
    [HDR_IF_MODIFIED_SINCE] = "if-modified-since",
    [HDR_RANGE] = "range",
    [HDR_IF_RANGE] = "if-range",
    [HDR_REFERER] = "referer",
    [HDR_USER_AGENT] = "user-agent",
};

void
http_reset_request(struct request *r)
{
    free(r->url_heap);
    memset(r, 0, sizeof(*r));
    r->current = HDR_OTHER;
}

const char *
http_url(const struct request *r, size_t *len)
{
    *len = r->url_len;
    return r->url_heap != NULL ? r->url_heap : r->url_inline;
}

const char *
http_header(const struct conn *c, enum hdr h, size_t *len)
{
    const struct hval *v = &c->req.hv[h];
    const char *p;
    size_t n;

    if (v->count == 0 || v->overflow) {
        *len = 0;
        return v->count == 0 ? NULL : "";
    }
    if (v->len == 0) {
        *len = 0;
        return "";
    }
    p = c->hvals.data + v->off;
    n = v->len;
    /* llhttp strips leading whitespace but keeps trailing OWS. */
    while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
        n--;
    }
    *len = n;
    return p;
}

/* Rejects the request being parsed with <status>. */
static int
http_fail(struct conn *c, int status, const char *why)
{
    c->req.error_status = status;
    llhttp_set_error_reason(&c->parser, why);
    return HPE_USER;
}

/* Counts <len> bytes of the head; past the limit, answers <status>. */
static int
http_count_head(struct conn *c, size_t len, int status)
{
    struct request *r = &c->req;

    r->head_bytes += len;
    if (r->head_bytes > worker.lim.v[LIM_MAX_HEADER_SIZE]) {
        return http_fail(c, status, "request head too large");
    }
    return 0;
}

static int
http_on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;

    http_reset_request(&c->req);
    c->hvals.len = 0;
    c->msg_open = true;
    /* The first request's clock started when the connection did. */
    if (c->requests > 0) {
        c->head_start = ev_now(worker.loop);
    }
    if (!c->busy) {
        c->busy = true;
        worker.in_flight++;
        report_changed();
    }
    return 0;
}

static int
http_on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    size_t need = r->url_len + len;

    if (need > URL_MAX) {
        return http_fail(c, 414, "request target too long");
    }
    if (r->url_heap == NULL && need <= sizeof(r->url_inline)) {
        memcpy(r->url_inline + r->url_len, at, len);
    } else {
        if (need > r->url_cap) {
            size_t cap = need * 2 > URL_MAX ? URL_MAX : need * 2;
            char *u = realloc(r->url_heap, cap);

            if (u == NULL) {
                return http_fail(c, 503, "out of memory");
            }
            if (r->url_heap == NULL) {
                memcpy(u, r->url_inline, r->url_len);
            }
            r->url_heap = u;
            r->url_cap = cap;
        }
        memcpy(r->url_heap + r->url_len, at, len);
    }
    r->url_len = need;
    return http_count_head(c, len + 16, 414); /* + method, version */
}

static int
http_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct request *r = &c->req;

    /* RFC 9112 §5.1: no whitespace between the name and the colon. */
    if (memchr(at, ' ', len) != NULL || memchr(at, '\t', len) != NULL) {
        r->hname_bad = true;
    }
    if (r->hname_len + len > sizeof(r->hname)) {
        r->hname_long = true;
    } else {
        memcpy(r->hname + r->hname_len, at, len);
        r->hname_len += len;
    }
    return http_count_head(c, len, 431);
}

static int
http_on_header_field_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    size_t i;

    if (r->hname_bad) {
        return http_fail(c, 400, "whitespace in a header field name");
    }
    if (r->hname_len == 0 && !r->hname_long) {
        return http_fail(c, 400, "empty header field name");
    }
    if (++r->nheaders > worker.lim.v[LIM_MAX_HEADERS]) {
        return http_fail(c, 431, "too many header fields");
    }
    r->current = HDR_OTHER;
    /* Referer and User-Agent are kept only for the access log. */
    for (i = 0; i < (worker.access_log != NULL ? HDR_COUNT : HDR_REFERER)
                && !r->hname_long;
         i++) {
        if (r->hname_len == strlen(http_hdr_names[i])
            && strncasecmp(r->hname, http_hdr_names[i], r->hname_len) == 0) {
            r->current = (enum hdr) i;
            break;
        }
    }
    if (r->current != HDR_OTHER) {
        struct hval *v = &r->hv[r->current];

        if (v->count < UINT8_MAX) {
            v->count++;
        }
        /* A repeated list field continues the same value (RFC 9110 §5.3):
         * move it to the end of hvals, where the new piece will go. */
        if (v->count > 1 && !v->overflow) {
            if (v->len + 2 > HEADER_VALUE_KEPT) {
                v->overflow = true;
            } else {
                char old[HEADER_VALUE_KEPT];
                uint32_t n = v->len;

                if (n > 0) {
                    memcpy(old, c->hvals.data + v->off, n);
                }
                v->off = (uint32_t) c->hvals.len;
                if (buf_append(&c->hvals, old, n) == -1
                    || buf_append(&c->hvals, ", ", 2) == -1) {
                    return http_fail(c, 503, "out of memory");
                }
                v->len = n + 2;
            }
        } else if (v->count == 1) {
            v->off = (uint32_t) c->hvals.len;
        }
    } else if (r->hname_len == 15
               && strncasecmp(r->hname, "x-handoff-debug", 15) == 0) {
        r->debug = true;
    }
    r->hname_len = 0;
    r->hname_long = false;
    return 0;
}

static int
http_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    char before = at > c->feed_start ? at[-1] : c->feed_prev;

    /* llhttp accepts obs-fold and hands the continuation over as another
     * piece of the value, whitespace first, right after a line break.
     * RFC 9112 §5.2 lets a server reject it, which is the safe choice. */
    if (len > 0 && (at[0] == ' ' || at[0] == '\t') && before == '\n') {
        return http_fail(c, 400, "obsolete line folding");
    }
    if (r->current != HDR_OTHER) {
        struct hval *v = &r->hv[r->current];

        if (v->overflow || v->len + len > HEADER_VALUE_KEPT) {
            v->overflow = true;
        } else if (buf_append(&c->hvals, at, len) == -1) {
            return http_fail(c, 503, "out of memory");
        } else {
            v->len += (uint32_t) len;
        }
    }
    return http_count_head(c, len + 4, 431); /* + ": " and CRLF */
}

/* RFC 3986 host [ ":" port ], as RFC 9112 §3.2 requires of Host. */
static bool
http_host_valid(const char *h, size_t len)
{
    size_t i = 0;

    if (len > 0 && h[0] == '[') {
        for (i = 1; i < len && h[i] != ']'; i++) {
            if (!strchr("0123456789abcdefABCDEF:.vV-_~!$&'()*+,;=", h[i])) {
                return false;
            }
        }
        if (i == len) {
            return false;
        }
        i++;
    } else {
        for (; i < len && h[i] != ':'; i++) {
            unsigned char ch = (unsigned char) h[i];

            if (!(ch >= 'a' && ch <= 'z') && !(ch >= 'A' && ch <= 'Z')
                && !(ch >= '0' && ch <= '9')
                && !strchr("-._~%!$&'()*+,;=", ch)) {
                return false;
            }
        }
    }
    if (i < len) {
        if (h[i] != ':') {
            return false;
        }
        for (i++; i < len; i++) {
            if (h[i] < '0' || h[i] > '9') {
                return false;
            }
        }
    }
    return true;
}

/*
 * RFC 9112 §6.3: a request whose final transfer coding is not chunked has
 * no reliable length: 400. §6.1: chunked after a coding we cannot decode
 * (there is no other we decode): 501. Returns 0 when it is just "chunked".
 */
static int
http_te_check(const char *v, size_t len, bool overflow)
{
    const char *last = v;
    size_t i, n;

    if (overflow) {
        return 400;
    }
    for (i = 0; i < len; i++) {
        if (v[i] == ',') {
            last = v + i + 1;
        }
    }
    while (last < v + len && (*last == ' ' || *last == '\t')) {
        last++;
    }
    n = (size_t) (v + len - last);
    if (n != 7 || strncasecmp(last, "chunked", 7) != 0) {
        return 400;
    }
    return last == v ? 0 : 501;
}

/* Expect: answers 100-continue, or refuses what cannot be met. */
static int
http_expect(struct conn *c, bool has_body)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    size_t len;
    const char *v = http_header(c, HDR_EXPECT, &len);

    if (v == NULL || c->parser.http_minor == 0) {
        return 0; /* RFC 9110 §10.1.1: 1.0 requests' Expect is ignored */
    }
    if (len != 12 || strncasecmp(v, "100-continue", 12) != 0) {
        return http_fail(c, 417, "unsupported expectation");
    }
    if (has_body) {
        /* The client waits for this before sending the body. */
        conn_out(c, cont, sizeof(cont) - 1);
    }
    return 0;
}

static int
http_on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    size_t len;
    const char *v;

    r->headers_done = true;
    if (p->http_major != 1) {
        return http_fail(c, 505, "HTTP version not supported");
    }
    /* RFC 9112 §3.2: exactly one valid Host in HTTP/1.1; at most one in
     * 1.0. */
    if ((p->http_minor >= 1 && r->hv[HDR_HOST].count != 1)
        || r->hv[HDR_HOST].count > 1) {
        return http_fail(c, 400, "missing or repeated Host");
    }
    v = http_header(c, HDR_HOST, &len);
    if (v != NULL && (r->hv[HDR_HOST].overflow || !http_host_valid(v, len))) {
        return http_fail(c, 400, "invalid Host");
    }
    v = http_header(c, HDR_TRANSFER_ENCODING, &len);
    if (v != NULL) {
        int te = http_te_check(v, len, r->hv[HDR_TRANSFER_ENCODING].overflow);

        if (te != 0) {
            return http_fail(c, te, "unusable Transfer-Encoding");
        }
    }
    if ((p->flags & F_CONTENT_LENGTH)
        && p->content_length > worker.lim.v[LIM_MAX_BODY]) {
        return http_fail(c, 413, "body too large");
    }
    if (p->upgrade) {
        /* We speak nothing but HTTP/1.1 here; answer, then close. */
        c->close_after = true;
    }
    if (p->http_minor == 0 && (p->flags & F_TRANSFER_ENCODING)) {
        /* RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty
         * framing; answer it and close rather than trust what follows. */
        c->close_after = true;
    }
    c->last_read = ev_now(worker.loop); /* the body's clock starts now */
    return http_expect(c, chunked || p->content_length > 0);
}

static int
http_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    (void) at;
    c->req.body_bytes += len;
    if (c->req.body_bytes > worker.lim.v[LIM_MAX_BODY]) {
        return http_fail(c, 413, "body too large");
    }
    return 0;
}

static int
http_on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;

    c->msg_open = false;
    c->requests++;
    if (!llhttp_should_keep_alive(p) || worker.draining
        || c->requests >= worker.lim.v[LIM_MAX_CONN_REQUESTS]
        || worker.lim.v[LIM_KEEPALIVE_TIMEOUT] == 0) {
        c->close_after = true;
    }
    routes_handle(c);
    if (c->job == NULL) { /* else served when the job answers */
        worker.served++;
        report_changed();
    }
    /* Stop at a closing response, behind a file being sent or a job
     * computing the response, or while the client is not reading. */
    if (c->close_after || c->file_fd != -1 || c->job != NULL
        || c->out.len - c->out.off > OUT_HIGH) {
        return HPE_PAUSED;
    }
    return 0;
}

void
http_init(struct conn *c)
{
    static bool ready;

    if (!ready) {
        llhttp_settings_init(&http_settings);
        http_settings.on_message_begin = http_on_message_begin;
        http_settings.on_url = http_on_url;
        http_settings.on_header_field = http_on_header_field;
        http_settings.on_header_field_complete = http_on_header_field_complete;
        http_settings.on_header_value = http_on_header_value;
        http_settings.on_headers_complete = http_on_headers_complete;
        http_settings.on_body = http_on_body;
        http_settings.on_message_complete = http_on_message_complete;
        ready = true;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
    c->parser.data = c;
    c->req.current = HDR_OTHER;
}

/* Answers a request llhttp or a callback rejected, then closes. */
static void
http_reject(struct conn *c, llhttp_errno_t err)
{
    int status = c->req.error_status != 0 ? c->req.error_status : 400;

    /* A well-formed version llhttp does not speak (1.2, 3.0): 505. */
    if (err == HPE_INVALID_VERSION
        && strcmp(llhttp_get_error_reason(&c->parser), "Invalid HTTP version")
               == 0) {
        status = 505;
    }

    if (worker.trace) {
        log_trace("C%llu bad request (%s: %s) -> %d",
                  (unsigned long long) c->id, llhttp_errno_name(err),
                  llhttp_get_error_reason(&c->parser), status);
    }
    c->msg_open = false;
    c->close_after = true;
    c->linger = true;
    response_error(c, status);
}

size_t
http_feed(struct conn *c, const char *data, size_t len)
{
    llhttp_errno_t err;
    size_t used;

    c->feed_start = data;
    err = llhttp_execute(&c->parser, data, len);
    switch (err) {
    case HPE_OK:
        used = len;
        break;
    case HPE_PAUSED:
        used = (size_t) (llhttp_get_error_pos(&c->parser) - data);
        llhttp_resume(&c->parser);
        break;
    case HPE_PAUSED_UPGRADE:
        /* The response is out and close_after is set; drop the rest. */
        c->linger = true;
        used = len;
        break;
    default:
        http_reject(c, err);
        used = len;
        break;
    }
    if (used > 0) {
        c->feed_prev = data[used - 1];
    }
    return used;
}

void
http_eof(struct conn *c)
{
    /* A request cut short by EOF cannot be answered usefully: the client
     * closed its side mid-request. Whatever was complete is answered. */
    c->msg_open = false;
    c->close_after = true;
}

/* True while the current request's head is still arriving. */
bool
http_in_head(const struct conn *c)
{
    return c->msg_open && !c->req.headers_done;
}
