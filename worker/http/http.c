/*
 * http.c: llhttp glue. Collects what the application needs from a request
 * (the target and a few header values), hands it each complete request
 * (engine.app->handle), and enforces what llhttp leaves to us: size and
 * count limits, RFC 9112's rules on field names, obs-fold, transfer
 * codings and Host (syntax.c), and Expect.
 *
 * Where llhttp's strict mode is stricter than RFC 9110/9112, this file
 * takes over: minor versions above 1.1 are served as 1.1 (llhttp parses
 * them leniently, we check the major), an unknown but well-formed method
 * gets 501 rather than 400, chunk-size lines are read here (llhttp's
 * grammar of chunk extensions refuses valid ones; chunk.c has ours), and
 * an Upgrade we do not perform leaves the connection in HTTP/1.1.
 *
 * llhttp hands out spans that borrow the read buffer for the duration of a
 * callback and may split a field anywhere, so the target and the kept
 * values are copied, and names are matched once complete. Callbacks pause
 * llhttp (pause_why says why) when http_feed() has to see the position:
 * where a request begins, where a chunk-size line does, where to stop.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/internal.h"
#include "http/syntax.h"
#include "log.h"

static llhttp_settings_t http_settings;

enum http_pause {
    HTTP_PAUSE_NONE,
    HTTP_PAUSE_BEGIN, /* a request begins here */
    HTTP_PAUSE_CHUNK, /* a chunk-size line begins here: read by us */
    HTTP_PAUSE_STOP,  /* stop parsing for now; conn.c keeps the rest */
};

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

bool
http_is_head(const struct conn *c)
{
    /* Until the method is parsed, parser.method is the last request's. */
    return c->req.method_done && c->parser.method == HTTP_HEAD;
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
    if (r->head_bytes > engine.lim.v[LIM_MAX_HEADER_SIZE]) {
        return http_fail(c, status, "request head too large");
    }
    return 0;
}

static int
http_on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;

    http_reset_request(&c->req);
    c->req.begun = ev_now(engine.loop); /* for the latency histogram */
    c->hvals.len = 0;
    c->msg_open = true;
    /* The first request's clock started when the connection did. */
    if (c->requests > 0) {
        c->head_start = ev_now(engine.loop);
    }
    conn_set_busy(c, true);
    c->pause_why = HTTP_PAUSE_BEGIN;
    return HPE_PAUSED;
}

static int
http_on_method_complete(llhttp_t *p)
{
    struct conn *c = p->data;

    c->req.method_done = true;
    return 0;
}

static int
http_on_url(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    size_t need = r->url_len + len;

    /* The span ends at the byte after it: a CR or LF there is a request
     * line without a version, HTTP/0.9's, which RFC 9112 no longer
     * defines. llhttp would wait for one more byte before going on. */
    if (at + len < c->feed_end && (at[len] == '\r' || at[len] == '\n')) {
        return http_fail(c, 400, "no HTTP version in the request line");
    }
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
    if (++r->nheaders > engine.lim.v[LIM_MAX_HEADERS]) {
        return http_fail(c, 431, "too many header fields");
    }
    r->current = HDR_OTHER;
    /* Referer and User-Agent are kept only for the access log. */
    for (i = 0;
         i < (engine.log_fields ? HDR_COUNT : HDR_REFERER) && !r->hname_long;
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

/* The request is complete, or answered before its body: answer it. */
static void
http_answer(struct conn *c)
{
    c->msg_open = false;
    c->requests++;
    if (!llhttp_should_keep_alive(&c->parser)
        || (engine.draining && !conn_returns(c))
        || c->requests >= engine.lim.v[LIM_MAX_CONN_REQUESTS]
        || engine.lim.v[LIM_KEEPALIVE_TIMEOUT] == 0) {
        c->close_after = true;
    }
    engine.app->handle(c);
    if (c->job == NULL) { /* else served when the job answers */
        conn_count_served();
    }
}

/*
 * Expect: 100-continue, or a refusal of what cannot be met. Returns 0 to
 * go on with the body, HPE_PAUSED when the request is answered without
 * it, or an error.
 */
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
    if (!has_body) {
        return 0;
    }
    if (engine.app->refusal(c) != 0) {
        /* RFC 9110 §10.1.1: the final status instead of 100 when the
         * body cannot change it. The client may send the body anyway or
         * not at all, so nothing after it could be parsed reliably:
         * close, draining what comes. */
        c->close_after = true;
        c->linger = true;
        http_answer(c);
        c->pause_why = HTTP_PAUSE_STOP;
        return HPE_PAUSED;
    }
    /* The client waits for this before sending the body. */
    conn_out(c, cont, sizeof(cont) - 1);
    return 0;
}

/* A chunk-size line comes next: http_feed() reads it. */
static int
http_chunk_begin(struct conn *c)
{
    chunk_line_start(&c->req.chunk);
    c->pause_why = HTTP_PAUSE_CHUNK;
    return HPE_PAUSED;
}

static int
http_on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct request *r = &c->req;
    bool chunked = (p->flags & F_CHUNKED) != 0;
    size_t len;
    const char *v;
    int rc;

    r->headers_done = true;
    /* llhttp parses any digit.digit leniently; RFC 9110 §2.5: a higher
     * minor version of 1 is served as 1.1 (every check here treats a
     * minor above 0 as 1.1), another major is not ours. */
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
    if (v != NULL && (r->hv[HDR_HOST].overflow || !syntax_host_valid(v, len))) {
        return http_fail(c, 400, "invalid Host");
    }
    v = http_header(c, HDR_TRANSFER_ENCODING, &len);
    if (v != NULL) {
        int te = syntax_te_check(v, len, r->hv[HDR_TRANSFER_ENCODING].overflow);

        if (te != 0) {
            return http_fail(c, te, "unusable Transfer-Encoding");
        }
    }
    if ((p->flags & F_CONTENT_LENGTH)
        && p->content_length > engine.lim.v[LIM_MAX_BODY]) {
        return http_fail(c, 413, "body too large");
    }
    if (p->upgrade && p->method == HTTP_CONNECT) {
        /* A tunnel's bytes would follow, not HTTP: answer, then close.
         * Other Upgrades are ignored (RFC 9110 §7.8); see http_feed(). */
        c->close_after = true;
    }
    if (p->http_minor == 0 && (p->flags & F_TRANSFER_ENCODING)) {
        /* RFC 9112 §6.1: a 1.0 message with Transfer-Encoding has faulty
         * framing; answer it and close rather than trust what follows. */
        c->close_after = true;
    }
    c->last_read = ev_now(engine.loop); /* the body's clock starts now */
    rc = http_expect(c, chunked || p->content_length > 0);
    if (rc != 0) {
        return rc;
    }
    /* llhttp skips the body of a CONNECT; any other chunked body starts
     * with a chunk-size line. */
    if (chunked && !(p->upgrade && p->method == HTTP_CONNECT)) {
        return http_chunk_begin(c);
    }
    return 0;
}

static int
http_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct conn *c = p->data;

    (void) at;
    c->req.body_bytes += len;
    if (c->req.body_bytes > engine.lim.v[LIM_MAX_BODY]) {
        return http_fail(c, 413, "body too large");
    }
    return 0;
}

static int
http_on_chunk_header(llhttp_t *p)
{
    struct conn *c = p->data;

    c->req.chunk_last = p->content_length == 0;
    return 0;
}

static int
http_on_chunk_complete(llhttp_t *p)
{
    struct conn *c = p->data;

    /* The last chunk's comes after the trailer section. */
    return c->req.chunk_last ? 0 : http_chunk_begin(c);
}

static int
http_on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;

    http_answer(c);
    /* Stop at a closing response, behind a file being sent or a job
     * computing the response, or while the client is not reading. */
    if (c->close_after || c->file_fd != -1 || c->job != NULL
        || c->out.len - c->out.off > OUT_HIGH) {
        c->pause_why = HTTP_PAUSE_STOP;
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
        http_settings.on_method_complete = http_on_method_complete;
        http_settings.on_url = http_on_url;
        http_settings.on_header_field = http_on_header_field;
        http_settings.on_header_field_complete = http_on_header_field_complete;
        http_settings.on_header_value = http_on_header_value;
        http_settings.on_headers_complete = http_on_headers_complete;
        http_settings.on_body = http_on_body;
        http_settings.on_chunk_header = http_on_chunk_header;
        http_settings.on_chunk_complete = http_on_chunk_complete;
        http_settings.on_message_complete = http_on_message_complete;
        ready = true;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
    /* Strict mode refuses HTTP/1.2 to 1.9, which RFC 9110 §2.5 has us
     * serve as 1.1; on_headers_complete checks the version instead.
     * (8.1 has the flag but no setter for it.) */
    c->parser.lenient_flags |= LENIENT_VERSION;
    c->parser.data = c;
    c->req.current = HDR_OTHER;
}

/* Answers with <status> a request that cannot be parsed on, then closes. */
static void
http_reject(struct conn *c, int status, const char *what, const char *why)
{
    if (engine.trace) {
        log_trace("C%llu bad request (%s: %s) -> %d",
                  (unsigned long long) c->id, what, why, status);
    }
    c->msg_open = false;
    c->close_after = true;
    c->linger = true;
    response_error(c, status);
}

/* llhttp or a callback refused the request: say why. */
static void
http_parse_error(struct conn *c, llhttp_errno_t err)
{
    const char *why = llhttp_get_error_reason(&c->parser);
    int status = c->req.error_status != 0 ? c->req.error_status : 400;

    /* A method llhttp knows for RTSP only (RFC 9110 §9.1). */
    if (err == HPE_INVALID_CONSTANT
        && strcmp(why, "Invalid method for HTTP/x.x request") == 0) {
        status = 501;
    }
    http_reject(c, status, llhttp_errno_name(err), why);
}

/*
 * Reads on the method llhttp refused, from <p>, where it stopped: what it
 * took before is a prefix of a method it knows, all token characters. A
 * token followed by a space is a method we do not implement: 501 (RFC
 * 9110 §9.1); anything else is malformed: 400. Either way the request's
 * end cannot be known: the connection closes.
 */
static void
http_method_sniff(struct conn *c, const char *p, const char *end)
{
    struct request *r = &c->req;

    for (; p < end; p++) {
        if (!syntax_tchar((unsigned char) *p)) {
            bool token = *p == ' ' && r->method_len > 0;

            http_reject(c, token ? 501 : 400, "method",
                        token ? "not implemented" : "malformed");
            return;
        }
        if (++r->method_len > METHOD_MAX) {
            http_reject(c, 501, "method", "not implemented (and long)");
            return;
        }
    }
}

/*
 * llhttp refused the method at <at>: had it taken a byte of it? Always
 * when the request began in an earlier read (on_message_begin comes with
 * the first byte); else if the byte before is one (not a CR or LF that
 * llhttp skipped before the request line).
 */
static bool
http_method_begun(const struct conn *c, const char *at)
{
    return c->msg_begin == NULL
           || (at > c->msg_begin && syntax_tchar((unsigned char) at[-1]));
}

/* Hands llhttp the digits of a chunk size, [from, to). */
static bool
http_chunk_digits(struct conn *c, const char *from, const char *to)
{
    llhttp_errno_t err;

    if (from == to) {
        return true;
    }
    err = llhttp_execute(&c->parser, from, (size_t) (to - from));
    if (err != HPE_OK) {
        http_parse_error(c, err);
        return false;
    }
    return true;
}

/*
 * Reads a chunk-size line from <p> (chunk.c knows its grammar). The
 * size's digits go to llhttp, which checks them; the extensions are
 * checked and skipped; the line's end goes to llhttp. Returns where
 * llhttp takes over again (<end> if the line goes on in the next read),
 * or NULL once the request has been refused.
 */
static const char *
http_chunk_line(struct conn *c, const char *p, const char *end)
{
    const char *at;

    for (;;) {
        switch (chunk_scan(&c->req.chunk, p, end, &at)) {
        case CHUNK_DIGITS:
            if (!http_chunk_digits(c, p, at)) {
                return NULL;
            }
            p = at;
            break;
        case CHUNK_MORE:
            if (c->req.chunk.state == CHUNK_SIZE
                && !http_chunk_digits(c, p, end)) {
                return NULL;
            }
            return end;
        case CHUNK_END:
            return at;
        case CHUNK_BAD:
            http_reject(c, 400, "chunk", "malformed chunk extension");
            return NULL;
        case CHUNK_LONG:
            http_reject(c, 413, "chunk", "chunk extensions too long");
            return NULL;
        }
    }
}

size_t
http_feed(struct conn *c, const char *data, size_t len)
{
    const char *p = data, *end = data + len;
    size_t used = len;

    c->feed_start = data;
    c->feed_end = end;
    c->msg_begin = NULL;
    while (p < end) {
        llhttp_errno_t err;
        const char *at;

        if (c->req.method_sniff) {
            http_method_sniff(c, p, end);
            break;
        }
        if (c->req.chunk.state != CHUNK_NONE) {
            p = http_chunk_line(c, p, end);
            if (p == NULL) {
                break;
            }
            continue;
        }
        c->pause_why = HTTP_PAUSE_NONE;
        err = llhttp_execute(&c->parser, p, (size_t) (end - p));
        if (err == HPE_OK) {
            break;
        }
        at = llhttp_get_error_pos(&c->parser);
        if (err == HPE_PAUSED) {
            llhttp_resume(&c->parser);
            if (c->pause_why == HTTP_PAUSE_STOP) {
                used = (size_t) (at - data);
                break;
            }
            if (c->pause_why == HTTP_PAUSE_BEGIN) {
                c->msg_begin = at;
            }
            p = at;
            continue;
        }
        if (err == HPE_PAUSED_UPGRADE && c->parser.method != HTTP_CONNECT) {
            /* An Upgrade we did not perform: the response went out in
             * HTTP/1.1 and what follows is HTTP/1.1 too (RFC 9110 §7.8). */
            llhttp_resume_after_upgrade(&c->parser);
            p = at;
            continue;
        }
        if (err == HPE_PAUSED_UPGRADE) {
            /* CONNECT: the response is out and close_after is set; drop
             * the rest. */
            c->linger = true;
            break;
        }
        if (err == HPE_INVALID_METHOD) {
            c->req.method_sniff = true;
            c->req.method_len = http_method_begun(c, at) ? 1 : 0;
            p = at;
            continue;
        }
        http_parse_error(c, err);
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
