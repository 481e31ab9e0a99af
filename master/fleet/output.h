/*
 * output.h: a worker's stdout and stderr, read line by line into the
 * master's log (output.c), for the kinds whose program writes its own
 * (link_ops.capture_output: Node's workers).
 */
#ifndef HS_MASTER_OUTPUT_H
#define HS_MASTER_OUTPUT_H

#include "fleet/fleet-t.h"

int output_open(struct mworker *w, int child_fds[2]);
void output_start(struct mworker *w);
void output_close(struct mworker *w);

#endif
