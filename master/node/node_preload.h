/*
 * node_preload.h: handoff's preload in Node workers, the master's side
 * (node_preload.c).
 */
#ifndef HS_MASTER_NODE_PRELOAD_H
#define HS_MASTER_NODE_PRELOAD_H

#include <stdbool.h>
#include <stddef.h>

#include "chan.h"
#include "fleet/fleet-t.h"
#include "json.h"

/* The preload's path into <out>; 0, or -1 (errno set; <out> says where
 * it was first looked for). */
int node_preload_find(char *out, size_t size);
/* A {"cmd":"NODE_HANDOFF"} line from <w>. */
void node_preload_message(struct mworker *w, const struct json_value *msg);
/* The figures a newconn's answer carries; false when it has none. */
bool node_preload_ack(struct mworker *w, const struct json_value *msg);
/* Tells <w> to drain if its preload reported; false: it did not. */
bool node_preload_drain(struct mworker *w);
/* link_ops load: <w>'s latest figures, if its preload reported. */
bool node_preload_load(const struct mworker *w, struct chan_load *l);

#endif
