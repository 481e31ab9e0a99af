/*
 * http.c: llhttp glue. Collects what routing needs from a request (method,
 * target, a few headers) and calls routes_handle() when it is complete.
 *
 * llhttp hands out spans that borrow the read buffer for the duration of a
 * callback and may split a field anywhere, so the target is copied and
 * header names are matched only once complete.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "worker.h"

static llhttp_settings_t http_settings;

void
http_reset_request(struct request *r)
{
    free(r->url_heap);
    memset(r, 0, sizeof(*r));
}

const char *
http_url(const struct request *r, size_t *len)
{
    *len = r->url_len;
    return r->url_heap != NULL ? r->url_heap : r->url_inline;
}

static int
http_on_message_begin(llhttp_t *p)
{
    struct conn *c = p->data;

    http_reset_request(&c->req);
    c->msg_open = true;
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
    struct request *r = &((struct conn *) p->data)->req;
    size_t need = r->url_len + len;

    if (need > URL_MAX) {
        r->error_status = 414;
        return HPE_USER;
    }
    if (r->url_heap == NULL && need <= sizeof(r->url_inline)) {
        memcpy(r->url_inline + r->url_len, at, len);
    } else {
        if (need > r->url_cap) {
            size_t cap = need * 2 > URL_MAX ? URL_MAX : need * 2;
            char *u = realloc(r->url_heap, cap);

            if (u == NULL) {
                r->error_status = 503;
                return HPE_USER;
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
    return 0;
}

static int
http_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct request *r = &((struct conn *) p->data)->req;

    if (r->hname_len + len > sizeof(r->hname)) {
        r->hname_long = true;
        return 0;
    }
    memcpy(r->hname + r->hname_len, at, len);
    r->hname_len += len;
    return 0;
}

static bool
http_hname_is(const struct request *r, const char *name)
{
    size_t len = strlen(name);

    return !r->hname_long && r->hname_len == len
           && strncasecmp(r->hname, name, len) == 0;
}

static int
http_on_header_field_complete(llhttp_t *p)
{
    struct request *r = &((struct conn *) p->data)->req;

    if (http_hname_is(r, "host")) {
        r->host_count++;
    } else if (http_hname_is(r, "x-handoff-debug")) {
        r->debug = true;
    }
    r->hname_len = 0;
    r->hname_long = false;
    return 0;
}

static int
http_on_headers_complete(llhttp_t *p)
{
    struct conn *c = p->data;
    struct request *r = &c->req;

    if (p->http_major != 1) {
        r->error_status = 505;
        return HPE_USER;
    }
    /* RFC 9112 §3.2: exactly one Host in HTTP/1.1; at most one in 1.0. */
    if ((p->http_minor >= 1 && r->host_count != 1) || r->host_count > 1) {
        r->error_status = 400;
        return HPE_USER;
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
    return 0;
}

static int
http_on_message_complete(llhttp_t *p)
{
    struct conn *c = p->data;

    c->msg_open = false;
    c->requests++;
    if (!llhttp_should_keep_alive(p) || worker.draining) {
        c->close_after = true;
    }
    routes_handle(c);
    worker.served++;
    report_changed();
    /* Stop at a closing response, or while the client is not reading. */
    if (c->close_after || c->out.len - c->out.off > OUT_HIGH) {
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
        http_settings.on_headers_complete = http_on_headers_complete;
        http_settings.on_message_complete = http_on_message_complete;
        ready = true;
    }
    llhttp_init(&c->parser, HTTP_REQUEST, &http_settings);
    c->parser.data = c;
}

/* Answers a request llhttp or a callback rejected, then closes. */
static void
http_reject(struct conn *c, llhttp_errno_t err)
{
    int status = c->req.error_status != 0 ? c->req.error_status : 400;

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
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    size_t used;

    switch (err) {
    case HPE_OK:
        return len;
    case HPE_PAUSED:
        used = (size_t) (llhttp_get_error_pos(&c->parser) - data);
        llhttp_resume(&c->parser);
        return used;
    case HPE_PAUSED_UPGRADE:
        /* The response is out and close_after is set; drop the rest. */
        c->linger = true;
        return len;
    default:
        http_reject(c, err);
        return len;
    }
}

void
http_eof(struct conn *c)
{
    /* A request cut short by EOF cannot be answered usefully: the client
     * closed its side mid-request. Whatever was complete is answered. */
    c->msg_open = false;
    c->close_after = true;
}
