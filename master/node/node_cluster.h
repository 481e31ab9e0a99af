/*
 * node_cluster.h: what a Node worker's lines mean, Node's cluster
 * protocol (node_cluster.c).
 */
#ifndef HS_MASTER_NODE_CLUSTER_H
#define HS_MASTER_NODE_CLUSTER_H

#include <stddef.h>

#include "accept/accept-t.h"
#include "fleet/fleet-t.h"

void node_cluster_line(struct mworker *w, const char *line, size_t len);
void node_cluster_newconn(struct mworker *w, struct mconn *c);
void node_cluster_disconnect(struct mworker *w);
void node_cluster_closed(struct mworker *w);
void node_cluster_last_words(struct mworker *w);
void node_cluster_fini(void);

#endif
