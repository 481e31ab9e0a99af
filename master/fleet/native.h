/*
 * native.h: handoff's own worker program, handoff-worker (native.c): the
 * native kind's start-up checks and command line.
 */
#ifndef HS_MASTER_NATIVE_H
#define HS_MASTER_NATIVE_H

#include "fleet/exec.h"
#include "fleet/fleet-t.h"

int native_resolve(struct fleet *fl);
int native_command(const struct mworker *w, struct exec_cmd *cmd);

#endif
