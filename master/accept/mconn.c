/*
 * mconn.c: records of accepted connections, from a free list refilled in
 * chunks, so that accepting does not call malloc once the pool is warm;
 * and their arrival at the scheduler, straight from accept or after their
 * PROXY header.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/mconn.h"

#define MCONN_CHUNK 256

static int
mconn_pool_grow(struct mconn_pool *pool)
{
    void **chunks;
    struct mconn *chunk;
    size_t i;

    chunks = realloc(pool->chunks, (pool->nchunks + 1) * sizeof(*chunks));
    if (chunks == NULL) {
        return -1;
    }
    pool->chunks = chunks;
    chunk = calloc(MCONN_CHUNK, sizeof(*chunk));
    if (chunk == NULL) {
        return -1;
    }
    pool->chunks[pool->nchunks++] = chunk;
    for (i = 0; i < MCONN_CHUNK; i++) {
        chunk[i].next_free = pool->free;
        pool->free = &chunk[i];
    }
    return 0;
}

struct mconn *
mconn_new(struct mconn_pool *pool)
{
    struct mconn *c;

    if (pool->free == NULL && mconn_pool_grow(pool) == -1) {
        return NULL;
    }
    c = pool->free;
    pool->free = c->next_free;
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    pool->live++;
    return c;
}

void
mconn_free(struct mconn_pool *pool, struct mconn *c)
{
    c->next_free = pool->free;
    pool->free = c;
    pool->live--;
}

void
mconn_pool_fini(struct mconn_pool *pool)
{
    size_t i;

    for (i = 0; i < pool->nchunks; i++) {
        free(pool->chunks[i]);
    }
    free(pool->chunks);
    memset(pool, 0, sizeof(*pool));
}

/* FNV-1a over the address bytes only: the port changes per connection. */
static uint32_t
mconn_addr_hash(const struct chan_peer *p)
{
    size_t i, n = p->family == AF_INET6 ? 16 : 4;
    uint32_t h = 2166136261u;

    for (i = 0; i < n; i++) {
        h = (h ^ p->addr[i]) * 16777619u;
    }
    return h;
}

/* <c> (with its real client address) goes to the scheduler. */
void
mconn_arrive(struct acceptor *acc, struct mconn *c)
{
    sched_conn_init(&c->sc, ++acc->next_conn_id, mconn_addr_hash(&c->peer));
    sched_conn_arrive(acc->sched, &c->sc);
}
