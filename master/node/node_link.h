/*
 * node_link.h: a Node worker's IPC channel, the transport (node_link.c).
 */
#ifndef HS_MASTER_NODE_LINK_H
#define HS_MASTER_NODE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet/fleet-t.h"

int node_link_new(struct mworker *w,
                  void (*on_line)(struct mworker *, const char *, size_t),
                  void (*on_closed)(struct mworker *));
void node_link_start(struct mworker *w);
int node_link_send(struct mworker *w, const char *text, size_t len, int fd,
                   uint64_t conn_id);
int node_link_send_urgent(struct mworker *w, const char *text, size_t len);
void node_link_flush(struct mworker *w);
void node_link_handle_answered(struct mworker *w);
int node_link_take_pending_fd(struct mworker *w);
bool node_link_unsent(const struct mworker *w, uint64_t conn_id);
void node_link_drain(struct mworker *w);
void node_link_clear(struct mworker *w);
void node_link_free(struct mworker *w);
void node_link_trace(const struct mworker *w, bool out, const char *line,
                     size_t len, int fd);

#endif
