/*
 * admin.c: the admin listener (--admin, off by default, loopback unless
 * an address is given): GET /stats (JSON), /metrics (Prometheus text) and
 * / (a live dashboard). A deliberately small HTTP/1.1 server: one request
 * per connection, answered and closed (oneshot.c).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdutil.h"
#include "log.h"
#include "master.h"

#define ADMIN_BACKLOG 64

static struct oneshot admin_srv = {.fd = -1};

static void
admin_respond(struct sbuf *out, int status, const char *ctype, const char *body,
              size_t len, bool head)
{
    const char *reason = status == 200   ? "OK"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Bad Request";
    struct sbuf b = {0};

    sbuf_printf(&b,
                "HTTP/1.1 %d %s\r\nServer: handoff/%s (admin)\r\n"
                "Content-Type: %s\r\nContent-Length: %zu\r\n"
                "Cache-Control: no-store\r\nConnection: close\r\n%s\r\n",
                status, reason, HANDOFF_VERSION, ctype, len,
                status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (!head && len > 0 && !b.failed) {
        /* Bodies are text; a NUL-free copy through the formatter. */
        sbuf_printf(&b, "%.*s", (int) len, body);
    }
    *out = b;
}

/* A request head ends with an empty line (CRLF or, leniently, LF). */
static bool
admin_complete(const char *in, size_t len)
{
    return memmem(in, len, "\n\r\n", 3) != NULL
           || memmem(in, len, "\n\n", 2) != NULL;
}

static void
admin_handle(struct oneshot *srv, const char *in, size_t inlen,
             struct sbuf *out)
{
    char method[8], target[256];
    const char *sp1, *sp2, *eol;
    struct sbuf body = {0};
    size_t mlen, tlen;
    bool head;

    if (!admin_complete(in, inlen)) {
        admin_respond(out, inlen == ONESHOT_IN_MAX ? 431 : 400, "text/plain",
                      "bad request\n", 12, false);
        return;
    }
    eol = memchr(in, '\n', inlen);
    if (eol != NULL && eol > in && eol[-1] == '\r') {
        eol--;
    }
    sp1 = memchr(in, ' ', inlen);
    sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t) (in + inlen - sp1 - 1))
                      : NULL;
    if (eol == NULL || sp1 == NULL || sp2 == NULL || sp2 > eol || sp1 == in
        || (size_t) (sp1 - in) >= sizeof(method)
        || (size_t) (sp2 - sp1 - 1) >= sizeof(target)
        || strncmp(sp2 + 1, "HTTP/1.", 7) != 0) {
        admin_respond(out, 400, "text/plain", "bad request\n", 12, false);
        return;
    }
    mlen = (size_t) (sp1 - in);
    memcpy(method, in, mlen);
    method[mlen] = '\0';
    tlen = (size_t) (sp2 - sp1 - 1);
    memcpy(target, sp1 + 1, tlen);
    target[tlen] = '\0';
    target[strcspn(target, "?")] = '\0';
    head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        admin_respond(out, 405, "text/plain", "GET or HEAD only\n", 17, false);
        return;
    }
    if (strcmp(target, "/stats") == 0) {
        stats_json(srv->m, &body);
        admin_respond(out, 200, "application/json", body.data, body.len, head);
    } else if (strcmp(target, "/metrics") == 0) {
        stats_prometheus(srv->m, &body);
        admin_respond(out, 200, "text/plain; version=0.0.4; charset=utf-8",
                      body.data, body.len, head);
    } else if (strcmp(target, "/") == 0) {
        admin_respond(out, 200, "text/html; charset=utf-8", dashboard_html,
                      strlen(dashboard_html), head);
    } else {
        admin_respond(out, 404, "text/plain", "not found\n", 10, head);
    }
    sbuf_free(&body);
}

/*
 * Opens --admin, whose HOST and PORT options.c has checked. Returns 0,
 * or -1 with a line on stderr (the address cannot be bound).
 */
int
admin_open(struct master *m)
{
    char desc[160];
    struct sockaddr_storage ss;
    socklen_t sslen;
    int fd;

    fd = inherit_take_admin();
    if (fd != -1) {
        sslen = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *) &ss, &sslen) == -1) {
            fd_close(fd);
            fd = -1;
        } else {
            listener_describe((struct sockaddr *) &ss, desc, sizeof(desc));
        }
    }
    if (fd == -1) {
        fd = listener_open(m->opt.admin_host, m->opt.admin_port, ADMIN_BACKLOG,
                           false, &ss, &sslen, desc, sizeof(desc));
    }
    if (fd == -1) {
        fprintf(stderr, "handoff: --admin: %s\n", desc);
        return -1;
    }
    oneshot_start(&admin_srv, m, fd, admin_complete, admin_handle);
    log_info("admin listening on http://%s/ (/stats, /metrics)", desc);
    return 0;
}

int
admin_fd(void)
{
    return admin_srv.fd;
}

void
admin_close(struct master *m)
{
    (void) m;
    oneshot_stop(&admin_srv);
}
