/*
 * proxy.h: reading a connection's PROXY protocol header (proxy.c).
 */
#ifndef HS_MASTER_PROXY_H
#define HS_MASTER_PROXY_H

#include "accept/accept-t.h"

void proxy_wait(struct acceptor *acc, struct mconn *c);

#endif
