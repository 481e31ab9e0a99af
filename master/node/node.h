/*
 * node.h: Node cluster workers (--node) as a kind of link (fleet/link.h).
 * This table is all of node/ that the rest of the master sees.
 */
#ifndef HS_MASTER_NODE_H
#define HS_MASTER_NODE_H

#include "fleet/link.h"

extern const struct link_ops node_link_ops;

#endif
