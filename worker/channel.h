/*
 * channel.h: the worker's end of its channel to the master (channel.c).
 */
#ifndef HS_WORKER_CHANNEL_H
#define HS_WORKER_CHANNEL_H

#include "chan.h"

void channel_start(void);
void channel_send(const struct chan_msg *msg);
/* Sends what is queued, then lets acknowledged connections start. */
void channel_flush(void);
void channel_close(void);

#endif
