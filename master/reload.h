/*
 * reload.h: SIGHUP, the configuration read again and applied (reload.c).
 */
#ifndef HS_MASTER_RELOAD_H
#define HS_MASTER_RELOAD_H

#include <stdbool.h>
#include <stddef.h>

struct master;

bool master_reload(struct master *m, char *why, size_t len);

#endif
