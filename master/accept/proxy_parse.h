/*
 * proxy_parse.h: the PROXY protocol header parser, v1 (text) and v2
 * (binary). Pure: bytes in, a verdict and an address out, no I/O, so the
 * fuzzer and the unit test drive it alone.
 */
#ifndef HS_MASTER_PROXY_PARSE_H
#define HS_MASTER_PROXY_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chan.h"

#define PROXY_V1_MAX 107         /* the spec's longest v1 line, CRLF included */
#define PROXY_V2_MAX (16 + 2048) /* addresses and a sane amount of TLVs */

/*
 * Parses a PROXY header at the start of <buf>. Returns its length when
 * complete (with the client in *peer unless *local), 0 if more bytes are
 * needed, -1 if this is not a valid header. It reads at most <len> bytes,
 * and once a prefix is found complete or invalid, no byte after it
 * changes that.
 */
int proxy_parse(const uint8_t *buf, size_t len, struct chan_peer *peer,
                bool *local);

#endif
