/*
 * tlscheck.h: --tls-cert and --tls-key checked by the master
 * (tlscheck.c).
 */
#ifndef HS_MASTER_TLSCHECK_H
#define HS_MASTER_TLSCHECK_H

#include <stddef.h>

#include "conf/options.h"

/* 0 when <cert> parses and <key> is its key; else -1 and one line in
 * <why> naming the file. */
int tlscheck_pair(const char *cert, const char *key, char *why, size_t len);
/* Every pair of <t>, the first error in <why>. */
int tlscheck_files(const struct tls_files *t, char *why, size_t len);

/* --tls-ciphers, as handoff-worker --check-tls at <worker_bin> loads it
 * (with the first pair of <t>): 0, or -1 and one line in <why>. */
int tlscheck_ciphers(const char *worker_bin, const struct tls_files *t,
                     const char *ciphers, char *why, size_t len);

#endif
