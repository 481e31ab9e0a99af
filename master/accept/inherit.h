/*
 * inherit.h: what the master is handed at start-up, and systemd's
 * notification socket (inherit.c).
 */
#ifndef HS_MASTER_INHERIT_H
#define HS_MASTER_INHERIT_H

#include <stddef.h>

/* The most listening sockets handed over, by an old master (upgrade) or
 * by systemd. */
#define INHERIT_MAX 64

int inherit_init(void);
size_t inherit_take(int *fds, size_t max);
int inherit_take_admin(void);
int inherit_take_upgrade(void);
void inherit_notify(const char *state);

#endif
