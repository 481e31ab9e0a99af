/*
 * http.h: the HTTP engine (worker/http/): connections, the parser glue
 * and responses; what the application and the top level use of it.
 *
 * Folder rules. worker/ (the top: main, worker, channel, listen, report)
 * uses http/ and app/; app/ uses http/; http/ uses neither and includes
 * nothing of them, only common/ and llhttp. So the engine has its own
 * state (`engine`: the loop, limits, counters, scratch buffers, draining,
 * trace) and reaches outwards only through two tables the top level sets
 * before the first connection: engine.app (struct http_app, the
 * application's handlers) and engine.hooks (struct http_hooks, what the
 * process is told). Each connection moves its bytes through c->io
 * (struct conn_io), chosen once when it is adopted; nothing after that
 * asks which kind of connection it is.
 *
 * Files:
 *   engine.c    the engine's state
 *   conn.c      a connection's life: reading, writing, keep-alive, closing
 *   plain_io.c  the I/O of a plain TCP (or UNIX) socket
 *   tls_io.c    the I/O of an HTTPS listener's connection (OpenSSL)
 *   tls_ctx.c   the TLS contexts: certificates, SNI, ALPN, ticket keys
 *   http.c      llhttp callbacks: a request's method, target and headers
 *   syntax.c    pure checks: tchar, Host, Transfer-Encoding
 *   chunk.c     pure: the grammar of chunk-size lines
 *   response.c  status lines and headers
 *   buf.c       a growable byte buffer
 * internal.h declares what only these files share; tls.h what the top
 * and the application use of TLS.
 */
#ifndef HS_WORKER_HTTP_HTTP_H
#define HS_WORKER_HTTP_HTTP_H

#include <time.h>

#include "http/http-t.h"

extern struct engine engine;

/* conn.c */
/* Adopts <fd>, received as <msg> says (its C number and peer): ours, but
 * not read until conn_activate(). NULL when out of memory. */
struct conn *conn_new(int fd, const struct chan_msg *msg);
void conn_activate(struct conn *c);
/* The one destructor of a connection, whatever state it is in. */
void conn_free(struct conn *c);
/* engine.draining was set: close what is idle, let the rest finish. */
void conn_drain_all(void);
/* Parses <len> bytes received on <c>, answers, and moves on. May free. */
void conn_feed(struct conn *c, const char *data, size_t len);
void conn_out(struct conn *c, const void *data, size_t len);
void conn_out_file(struct conn *c, int fd, off_t off, uint64_t len,
                   void (*release)(void *arg), void *arg);
/* The application's job for <c> came back: unpins it; its response may
 * be queued now. Then conn_job_done(), which may free <c>. */
void conn_job_resume(struct conn *c);
void conn_job_done(struct conn *c);

/* graves.c */
/* Closes what the master has let go of (once per loop turn). */
void graves_sweep(void);
/* Closes them all (the master is gone, or the worker exits). */
void graves_close_all(void);

/* http.c */
const char *http_url(const struct request *r, size_t *len);
/* True for a HEAD request, whose responses have no body. */
bool http_is_head(const struct conn *c);
/* The kept value of header <h> (trimmed), or NULL if absent. */
const char *http_header(const struct conn *c, enum hdr h, size_t *len);

/* response.c */
void response_simple(struct conn *c, int status, const char *ctype,
                     const char *body, size_t body_len, const char *extra);
void response_error(struct conn *c, int status);
/* The status line and headers only; the caller queues <body_len> bytes. */
void response_head(struct conn *c, int status, const char *ctype,
                   uint64_t body_len, const char *extra, size_t extra_len);
/* "Sun, 06 Nov 1994 08:49:37 GMT" for <t>; <buf> holds 30 bytes. */
void response_http_date(time_t t, char *buf, size_t len);

#endif
