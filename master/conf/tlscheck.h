/*
 * tlscheck.h: --tls-cert, --tls-key and --tls-ciphers checked for the
 * master by the worker program (tlscheck.c).
 */
#ifndef HS_MASTER_TLSCHECK_H
#define HS_MASTER_TLSCHECK_H

#include <stddef.h>

#include "conf/options.h"

/* Every certificate and key of <t> and the cipher list <ciphers> (NULL:
 * the default), as handoff-worker --check-tls at <worker_bin> loads
 * them: 0, or -1 and one line in <why> naming what is wrong. */
int tlscheck_files(const char *worker_bin, const struct tls_files *t,
                   const char *ciphers, char *why, size_t len);

#endif
