/*
 * container_of.h: from a member back to the struct that embeds it, the
 * libev idiom for watchers (ev.pod, "ASSOCIATING CUSTOM DATA WITH A
 * WATCHER") and for the scheduler's records embedded in the master's.
 */
#ifndef HS_COMMON_CONTAINER_OF_H
#define HS_COMMON_CONTAINER_OF_H

#include <stddef.h>

#define container_of(ptr, type, member)                                        \
    ((type *) (void *) ((char *) (ptr) -offsetof(type, member)))

#endif
