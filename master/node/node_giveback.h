/*
 * node_giveback.h: idle connections a draining Node worker gives back to
 * the master (node_giveback.c).
 */
#ifndef HS_MASTER_NODE_GIVEBACK_H
#define HS_MASTER_NODE_GIVEBACK_H

#include <stdbool.h>

#include "fleet/fleet-t.h"
#include "json.h"

/* Whether <w>'s drain gives idle connections back: the master hands
 * connections again (--rehand on, a policy under which it accepts), and
 * some worker will take them (it is not stopping, or a new master is). */
bool node_giveback_wanted(const struct mworker *w);
/* A NODE_HANDLE line <msg> from <w> with <fd> (owned): true, and <fd> is
 * taken, if it is the preload's giveback; false: not one. */
bool node_giveback_handle(struct mworker *w, const struct json_value *msg,
                          int fd);
/* Node's questions about the sockets a worker has sent (its
 * SocketListSend): NODE_SOCKET_NOTIFY_CLOSE and NODE_SOCKET_GET_COUNT. */
void node_giveback_socket_list(struct mworker *w, const char *cmd,
                               const struct json_value *msg);

#endif
