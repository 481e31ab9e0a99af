/*
 * mconn.h: the records of accepted connections (mconn.c).
 */
#ifndef HS_MASTER_MCONN_H
#define HS_MASTER_MCONN_H

#include "accept/accept-t.h"

struct mconn *mconn_new(struct mconn_pool *pool);
void mconn_free(struct mconn_pool *pool, struct mconn *c);
void mconn_pool_fini(struct mconn_pool *pool);
void mconn_arrive(struct acceptor *acc, struct mconn *c);

#endif
