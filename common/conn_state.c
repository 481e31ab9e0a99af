/*
 * conn_state.c: mapping the shared table of connection states
 * (conn_state.h).
 */
#include <errno.h>
#include <sys/mman.h>

#include "conn_state.h"

rehand_word *
rehand_map(int fd, uint32_t nslots)
{
    void *p;

    if (nslots == 0) {
        errno = EINVAL;
        return NULL;
    }
    p = mmap(NULL, rehand_table_size(nslots), PROT_READ | PROT_WRITE,
             MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

void
rehand_unmap(rehand_word *t, uint32_t nslots)
{
    if (t != NULL) {
        (void) munmap(t, rehand_table_size(nslots));
    }
}

const char *
rehand_state_name(enum rehand_state st)
{
    static const char *const names[] = {
        [REHAND_FREE] = "free",     [REHAND_HANDED] = "handed",
        [REHAND_BUSY] = "busy",     [REHAND_IDLE] = "idle",
        [REHAND_CLOSED] = "closed", [REHAND_RETURNED] = "returned",
    };

    return (unsigned) st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}
