/*
 * node_giveback.c: idle keep-alive connections that a draining Node
 * worker gives back to the master, which hands them to a live worker, as
 * it hands again a connection a retiring native worker returns
 * (fleet/rehand.c). The master cannot see a Node worker's HTTP state, so
 * the preload (preload.cjs) decides what is idle and sends the socket
 * itself, with Node's process.send(msg, socket):
 *   {"cmd":"NODE_HANDLE","type":"net.Socket",
 *    "msg":{"cmd":"NODE_HANDOFF","act":"giveback"},"key":K} + fd
 * The master takes the fd as a new arrival under the policy, then answers
 * NODE_HANDLE_ACK, at which Node closes its handle (a close, no FIN: the
 * master's copy keeps the connection).
 *
 * A worker that has sent a socket this way asks, when its server closes,
 * whether the sockets it sent are closed (Node's SocketListSend:
 * NODE_SOCKET_NOTIFY_CLOSE, and NODE_SOCKET_GET_COUNT for
 * server.getConnections()), and waits for the answer. Node's primary
 * answers once the sockets it got have closed; these are another
 * worker's now, not this one's, so the master answers at once: all
 * closed, none counted. It answers so for any key, so that a program
 * that sends a socket of its own (closed by the master, which keeps no
 * handle) can still close its server.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "conf/options.h"
#include "fleet/fleet-t.h"
#include "fleet/rehand.h"
#include "log.h"
#include "node/node-t.h"
#include "node/node_giveback.h"
#include "node/node_link.h"
#include "sched/policy.h"

bool
node_giveback_wanted(const struct mworker *w)
{
    const struct fleet *fl = w->fl;

    return fl->opt->rehand && fl->opt->policy->accept == POLICY_MASTER_ACCEPTS
           && (!fl->stopping || fl->successor);
}

bool
node_giveback_handle(struct mworker *w, const struct json_value *msg, int fd)
{
    struct json_value inner, v;

    if (!json_get(msg, "msg", &inner) || inner.type != JSON_OBJECT
        || !json_get(&inner, "cmd", &v) || !json_string_is(&v, "NODE_HANDOFF")
        || !json_get(&inner, "act", &v) || !json_string_is(&v, "giveback")) {
        return false;
    }
    rehand_given_back(w, fd);
    return true;
}

void
node_giveback_socket_list(struct mworker *w, const char *cmd,
                          const struct json_value *msg)
{
    struct json_value key;
    char buf[NODE_KEY_MAX + 96];
    int n;

    /* The key is echoed as it came: Node matches the answer by it. */
    if (!json_get(msg, "key", &key) || key.type != JSON_STRING
        || key.len > NODE_KEY_MAX) {
        return;
    }
    if (strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0) {
        n = snprintf(buf, sizeof(buf),
                     "{\"cmd\":\"NODE_SOCKET_ALL_CLOSED\",\"key\":%.*s}",
                     (int) key.len, key.p);
    } else if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0) {
        n = snprintf(buf, sizeof(buf),
                     "{\"cmd\":\"NODE_SOCKET_COUNT\",\"key\":%.*s,"
                     "\"count\":0}",
                     (int) key.len, key.p);
    } else {
        return;
    }
    if (n < 0 || (size_t) n >= sizeof(buf)
        || node_link_send(w, buf, (size_t) n, -1, 0) == -1) {
        log_error(0, "cannot queue an answer for W%u; killing it", w->sw.id);
        (void) kill(w->pid, SIGKILL);
    }
}
