/*
 * pidfile.h: --pid-file, and its FILE.oldbin across a binary upgrade
 * (pidfile.c).
 */
#ifndef HS_MASTER_PIDFILE_H
#define HS_MASTER_PIDFILE_H

#include <stdbool.h>

int pidfile_check(const char *path, bool parent_ok);
int pidfile_write(const char *path);
void pidfile_upgrade_start(void);
void pidfile_upgrade_failed(void);
void pidfile_remove(void);

#endif
