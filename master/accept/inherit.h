/*
 * inherit.h: what the master is handed at start-up, and systemd's
 * notification socket (inherit.c).
 */
#ifndef HS_MASTER_INHERIT_H
#define HS_MASTER_INHERIT_H

#include <stdbool.h>
#include <stddef.h>

/* The most listening sockets handed over, by an old master (upgrade) or
 * by systemd. */
#define INHERIT_MAX 64

/* A name an inherited socket may have (systemd's FileDescriptorName=). */
#define INHERIT_NAME_MAX 72

int inherit_init(void);
size_t inherit_take(int *fds, char (*names)[INHERIT_NAME_MAX], size_t max);
bool inherit_systemd(void);
int inherit_take_admin(void);
int inherit_take_upgrade(void);
void inherit_notify(const char *state);

#endif
