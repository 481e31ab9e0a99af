/*
 * internal.h: what the files of worker/http/ share among themselves and
 * nobody else uses (the public side is http.h).
 */
#ifndef HS_WORKER_HTTP_INTERNAL_H
#define HS_WORKER_HTTP_INTERNAL_H

#include "http/http.h"

/* buf.c */
int buf_append(struct buf *b, const void *data, size_t len);
size_t buf_pending(const struct buf *b);
void buf_free(struct buf *b);

/* graves.c */
/* <fd> of an ended connection with slot <slot> (0-based) of generation
 * <gen>: closed once the master has closed its copy. */
void graves_add(int fd, uint32_t slot, uint32_t gen);

/* plain_io.c */
extern const struct conn_io plain_io;

/* tls_io.c */
extern const struct conn_io tls_io;

/* tls_ctx.c */
struct ssl_ctx_st;
/* The first certificate's context (SNI may switch), or NULL: no TLS. */
struct ssl_ctx_st *tls_default_ctx(void);

/* conn.c */
/* Counts <c> in engine.in_flight while <busy>. */
void conn_set_busy(struct conn *c, bool busy);
/* A request was answered: one more in engine.served. */
void conn_count_served(void);
/* True when <c>, once idle, goes back to the master rather than closed
 * (a drain the master asked for; conn_state.h). */
bool conn_returns(const struct conn *c);

/* http.c */
void http_init(struct conn *c);
void http_reset_request(struct request *r);
/* Parses <len> bytes; returns the number consumed (less when paused). */
size_t http_feed(struct conn *c, const char *data, size_t len);
void http_eof(struct conn *c);
/* True while the current request's head is still arriving. */
bool http_in_head(const struct conn *c);

#endif
