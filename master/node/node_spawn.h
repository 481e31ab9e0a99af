/*
 * node_spawn.h: what a Node worker is started with (node_spawn.c).
 */
#ifndef HS_MASTER_NODE_SPAWN_H
#define HS_MASTER_NODE_SPAWN_H

#include "fleet/exec.h"
#include "fleet/fleet-t.h"

int node_spawn_resolve(struct fleet *fl);
void node_spawn_announce(const struct fleet *fl);
int node_spawn_command(const struct mworker *w, struct exec_cmd *cmd);

#endif
