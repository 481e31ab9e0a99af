/*
 * app.h: the application a worker serves (worker/app/): what each request
 * gets. The engine (worker/http/) calls it only through app_http, its
 * struct http_app; the top level (worker/) configures it at start-up.
 *
 * Folder rules. app/ uses http/ (connections, requests, responses, the
 * engine's state and hooks: http/http.h) and common/, never the top
 * (worker.h, channel, listen, report): what it has to tell the process
 * goes through engine.hooks. http/ includes nothing of app/.
 *
 * Files:
 *   app.c       app_http: the handlers the engine calls
 *   routes.c    what each request gets; /cpu, on the pool or the loop
 *   pool.[ch]   threads that run /cpu?offload=1 off the loop
 *   static.c    files under --root: conditional requests, ranges
 *   mime.c      Content-Type from /etc/mime.types
 *   accesslog.c the access log (combined format)
 *   metrics.c   responses by listener and status class, and latency
 */
#ifndef HS_WORKER_APP_APP_H
#define HS_WORKER_APP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

extern const struct http_app app_http;

/* routes.c */
/* --demo-routes: / and /cpu answer the demo. */
void routes_init(bool demo_routes);
void routes_handle(struct conn *c);
int routes_refusal(const struct conn *c);
void routes_conn_closed(struct conn *c);

/* static.c */
/* Opens --root <root>; -1 with errno when it cannot be. */
int static_open_root(const char *root);
/* True once a root is open: paths not routed otherwise are files. */
bool static_enabled(void);
void static_close_root(void);
/* Serves the file at request path <path> (not decoded, no query) to a
 * GET or HEAD (routes.c refuses other methods). */
void static_serve(struct conn *c, const char *path, size_t plen);
/* The status the file <path> names would be answered with if it is not
 * served (404, 403, 301, ...), or 0 for a file: a request refused
 * whatever its body gets it without a 100 first. */
int static_refusal(const char *path, size_t plen);

/* mime.c */
int mime_load(const char *path);
const char *mime_type(const char *name, size_t len);
void mime_free(void);

/* metrics.c */
/* Responses by listener and status class, and their latency; the top
 * level reports them to the master. */
extern struct chan_stats app_stats;
/* http_app.answered: counts the response, then logs it. */
void app_answered(const struct conn *c, int status, uint64_t bytes);

/* accesslog.c */
/* Opens <path> ("-": stderr; NULL: no log); -1 with errno on failure. */
int accesslog_open(const char *path);
/* Logs the request on <c> answered with <status> and <bytes> of body. */
void accesslog_write(const struct conn *c, int status, uint64_t bytes);
void accesslog_flush(void);
void accesslog_reopen(void);
/* The master's listener <index> is at <addr> (family 0: it closed), as
 * its lines name it. */
void accesslog_listener(unsigned index, const struct chan_peer *addr);
void accesslog_close(void);

#endif
