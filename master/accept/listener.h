/*
 * listener.h: the service's listening sockets (listener.c).
 */
#ifndef HS_MASTER_LISTENER_H
#define HS_MASTER_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "accept/accept-t.h"
#include "accept/inherit.h"
#include "sched/policy.h"

struct master_options;

/* Formats <sa> as "1.2.3.4:80" or "[::1]:80". */
void listener_describe(const struct sockaddr *sa, char *buf, size_t len);
int listener_open_at(const struct sockaddr *sa, socklen_t salen,
                     unsigned backlog, bool reuseport);
int listener_open(const char *host, unsigned port, unsigned backlog,
                  bool reuseport, struct sockaddr_storage *ss, socklen_t *sslen,
                  char *desc, size_t desclen);

struct listen_spec;

/* Nothing open yet. */
void listeners_init(struct listeners *l);
int listeners_open(struct listeners *l, const struct master_options *o,
                   unsigned nslots, char *where, size_t wlen);
int listeners_add(struct listeners *l, const struct listen_spec *spec,
                  bool reuseport, unsigned nslots, char *err, size_t len);
void listeners_remove(struct listeners *l, unsigned i);
int listeners_open_slot(struct listeners *l, unsigned slot);
void listeners_close_slot(struct listeners *l, unsigned slot);
void listeners_close(struct listeners *l);
void listeners_set_backlog(struct listeners *l, unsigned backlog);
/* Listener <i>'s socket a worker in <slot> (or -1: none) accepts on by
 * itself under <how>, or -1 when the master accepts for it. */
int listeners_fd_of(const struct listeners *l, unsigned i,
                    enum policy_accept how, int slot);
/* The same for the first listener (a Node worker listens on one). */
int listeners_worker_fd(const struct listeners *l, enum policy_accept how,
                        int slot);
/* The open listener that would have accepted a connection whose own
 * address is <local> (its address, or a wildcard, and its port), or -1. */
int listeners_of_local(const struct listeners *l, const struct sockaddr *local);
size_t listeners_fds(const struct listeners *l, int *fds,
                     char (*names)[INHERIT_NAME_MAX], size_t max);

#endif
