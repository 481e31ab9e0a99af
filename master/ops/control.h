/*
 * control.h: the control socket that handoffctl talks to (control.c).
 */
#ifndef HS_MASTER_CONTROL_H
#define HS_MASTER_CONTROL_H

struct ops_env;

int control_open(struct ops_env *env);
void control_reclaim(void);
void control_close(void);

#endif
