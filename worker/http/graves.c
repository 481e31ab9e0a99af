/*
 * graves.c: the descriptors of ended connections that the master still
 * holds a copy of (conn_state.h), kept here until it has closed its own.
 *
 * Whoever closes a socket's last descriptor pays for tearing it down
 * (several microseconds: the socket and its buffers freed). The worker
 * that served the connection should pay, not the master, whose time is
 * every worker's. So after its shutdown, a connection with a slot has its
 * descriptor kept here, and closed once the slot no longer says CLOSED
 * with its generation: the master, which reads CLOSED at the worker's next
 * load report, has closed its copy and freed the slot. The master frees
 * slots in about the order they closed, so only the oldest is looked at,
 * once per loop turn. At most GRAVES_MAX wait; beyond, the oldest closes
 * at once (then the master pays for it).
 */
#include "fdutil.h"
#include "http/internal.h"

struct grave {
    int fd;
    uint32_t slot, gen;
};

static struct grave graves[GRAVES_MAX];
static size_t graves_head, graves_len; /* a ring */

static void
graves_pop(void)
{
    fd_close(graves[graves_head].fd);
    graves_head = (graves_head + 1) % GRAVES_MAX;
    graves_len--;
}

void
graves_add(int fd, uint32_t slot, uint32_t gen)
{
    if (graves_len == GRAVES_MAX) {
        graves_pop();
    }
    graves[(graves_head + graves_len) % GRAVES_MAX] =
        (struct grave){.fd = fd, .slot = slot, .gen = gen};
    graves_len++;
}

void
graves_sweep(void)
{
    while (graves_len > 0) {
        const struct grave *g = &graves[graves_head];
        uint32_t word = rehand_load(engine.rehand, g->slot);

        if (rehand_state_of(word) == REHAND_CLOSED
            && rehand_gen_of(word) == (g->gen & REHAND_GEN_MASK)) {
            return; /* the master still holds its copy */
        }
        graves_pop();
    }
}

void
graves_close_all(void)
{
    while (graves_len > 0) {
        graves_pop();
    }
}
