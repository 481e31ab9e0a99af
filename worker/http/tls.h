/*
 * tls.h: HTTPS in the engine (tls_ctx.c, tls_io.c): what the top level
 * sets up and the application asks.
 *
 * The master only accepts; a worker does each handshake. Which
 * connections are TLS the master says per listener (LISTEN, LISTENER
 * with CHAN_F_TLS): conn_new() gives those tls_io, whose handshake runs
 * in the connection's own watchers, bounded by --handshake-timeout and
 * counted against --max-conns as any connection. The certificates are
 * the worker's flags (--tls-cert, --tls-key: SNI picks among them); the
 * session-ticket keys are the master's (TICKET), the same in every
 * worker, so a session resumes on any of them.
 */
#ifndef HS_WORKER_HTTP_TLS_H
#define HS_WORKER_HTTP_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"
#include "http/http-t.h"

/* Loads <n> certificates (PEM with chain) and their keys; <ciphers>:
 * the TLS 1.2 list, or NULL for ours. 0, or -1 with one line in <why>. */
int tls_init(const char *const *certs, const char *const *keys, unsigned n,
             const char *ciphers, char *why, size_t len);
void tls_fini(void);
/* Listener <index> is HTTPS (<on>) or not. */
void tls_set_listener(unsigned index, bool on);
/* The master's session-ticket keys, from now on. */
void tls_set_tickets(const struct chan_tickets *keys);

/* For the access log: "TLSv1.3" and its cipher, or false (plain). */
bool tls_conn_info(const struct conn *c, const char **proto,
                   const char **cipher);

#endif
