/*
 * admin.h: the admin HTTP listener, --admin (admin.c).
 */
#ifndef HS_MASTER_ADMIN_H
#define HS_MASTER_ADMIN_H

struct ops_env;

int admin_open(struct ops_env *env);
int admin_fd(void);
void admin_close(void);

#endif
