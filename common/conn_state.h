/*
 * conn_state.h: the table of connection states a native worker shares with
 * the master, so that the master can hand a connection again once the
 * worker holding it is gone (docs/architecture.md, "Connections that
 * outlive their worker").
 *
 * The master creates one table per worker (a memfd, mapped MAP_SHARED in
 * both), picks a slot for each connection it hands over and names it in
 * the CONN (u.conn.rehand, slot + 1). The slot's word is the master's
 * generation for that handoff and a state. The master writes HANDED
 * before the CONN leaves; from then the worker alone writes it, with
 * plain stores and no system call: BUSY before it reads a byte, IDLE
 * once nothing is buffered either way and no request is in flight,
 * CLOSED when it has ended the connection (shut down, then closed), or
 * RETURNED when it closed its descriptor without a shutdown to give the
 * connection back. A dead worker's last word cannot be a message; its
 * last store is in the table.
 *
 * The master takes a slot back only after reading CLOSED or RETURNED
 * (or once the worker is reaped), so a worker never writes a slot that
 * has been given again; the generation also makes a stray store from
 * another handoff visible as such.
 */
#ifndef HS_COMMON_CONN_STATE_H
#define HS_COMMON_CONN_STATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a worker finds its table: this fd, and --rehand-slots N. */
#define REHAND_FD 4
/* Slots beyond a worker's --max-conns: the handoffs not yet answered. */
#define REHAND_SPARE 256

enum rehand_state {
    REHAND_FREE = 0,     /* no connection (the master's) */
    REHAND_HANDED = 1,   /* handed over, not read from yet (the master's) */
    REHAND_BUSY = 2,     /* the worker is reading or has bytes or a request */
    REHAND_IDLE = 3,     /* between requests, nothing buffered either way */
    REHAND_CLOSED = 4,   /* the worker shut it down and closed it */
    REHAND_RETURNED = 5, /* the worker closed its fd to give it back */
};

#define REHAND_STATE_BITS 4
#define REHAND_STATE_MASK ((1u << REHAND_STATE_BITS) - 1)
/* Generations wrap at 2^28: far more than a slot's handoffs in flight. */
#define REHAND_GEN_MASK (UINT32_MAX >> REHAND_STATE_BITS)

typedef _Atomic uint32_t rehand_word;

static inline void
rehand_store(rehand_word *t, uint32_t slot, uint32_t gen, enum rehand_state st)
{
    atomic_store_explicit(&t[slot],
                          ((gen & REHAND_GEN_MASK) << REHAND_STATE_BITS)
                              | (uint32_t) st,
                          memory_order_release);
}

static inline uint32_t
rehand_load(rehand_word *t, uint32_t slot)
{
    return atomic_load_explicit(&t[slot], memory_order_acquire);
}

static inline uint32_t
rehand_gen_of(uint32_t word)
{
    return word >> REHAND_STATE_BITS;
}

static inline enum rehand_state
rehand_state_of(uint32_t word)
{
    return (enum rehand_state)(word & REHAND_STATE_MASK);
}

/* The bytes of a table of <nslots>. */
static inline size_t
rehand_table_size(uint32_t nslots)
{
    return (size_t) nslots * sizeof(rehand_word);
}

/* Maps <nslots> of the table in <fd> shared; NULL with errno set. */
rehand_word *rehand_map(int fd, uint32_t nslots);
void rehand_unmap(rehand_word *t, uint32_t nslots);

/* A name for trace lines, e.g. "idle". */
const char *rehand_state_name(enum rehand_state st);

#endif
