/*
 * ctlpath.h: where a master's control socket is by default, and where
 * handoffctl looks for it. One definition for both sides.
 *
 * Under systemd with RuntimeDirectory= (which sets $RUNTIME_DIRECTORY)
 * the socket is DIR/handoff-PORT.sock: a unit with DynamicUser= or
 * PrivateTmp= has a /tmp of its own that nobody outside can reach, and
 * its uid changes from run to run, so the name leaves it out. Otherwise
 * it is /tmp/handoff-UID-PORT.sock.
 */
#ifndef HS_COMMON_CTLPATH_H
#define HS_COMMON_CTLPATH_H

#include <stddef.h>

/* The runtime directory of docs/systemd/handoff.service
 * (RuntimeDirectory=handoff), where handoffctl looks after
 * $RUNTIME_DIRECTORY. */
#define CTLPATH_RUN_DIR "/run/handoff"

/*
 * The socket for <port> in <dir>, or in /tmp when <dir> is NULL. Returns
 * 0, or -1 when it does not fit in <size> (nor in a sockaddr_un).
 */
int ctlpath_in(char *buf, size_t size, const char *dir, unsigned port);

/*
 * The first directory of $RUNTIME_DIRECTORY (systemd separates several
 * with ':') into <buf>. Returns 1, 0 when it is unset or empty, -1 when
 * it does not fit.
 */
int ctlpath_runtime_dir(char *buf, size_t size);

/* The master's default: in $RUNTIME_DIRECTORY if set, else in /tmp.
 * Returns 0, or -1 when the path would be too long. */
int ctlpath_default(char *buf, size_t size, unsigned port);

#endif
