/*
 * upgrade.h: binary upgrade on SIGUSR2 (upgrade.c).
 */
#ifndef HS_MASTER_UPGRADE_H
#define HS_MASTER_UPGRADE_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "chan.h"

struct acceptor;
struct fleet;
struct listeners;
struct mconn;

struct upgrade {
    struct ev_loop *loop;
    const struct listeners *lis; /* what the new master takes over */
    const struct fleet *fleet;   /* its session-ticket keys go over too */
    char self_path[PATH_MAX];    /* this binary */
    char **argv;                 /* as started */
    pid_t pid;                   /* the new master, while it runs */
    pid_t last_pid;              /* the last one reaped, for the log */
    int fd;                      /* its "ready" pipe, or -1 */
    ev_io ready_r;
    ev_timer timer;
    ev_child child;
    int parent_fd; /* as a new master: the old one's socket, or -1 */
    /* Idle connections moving from the old master to the new one
     * (upgrade_conns.c), on the socket of the "ready": */
    struct acceptor *acc; /* their records' pool; where they arrive */
    int handover_fd;      /* old master, stepping down: ours, or -1 */
    struct chan_outbox out;
    struct mconn **sending; /* the records of out's messages, in order */
    size_t nsending, capsending;
    uint64_t sending_base; /* out's message number of sending[0] */
    ev_io handover_w;      /* the socket is writable again */
    ev_io take_r;          /* new master: connections from the old one */
    uint64_t handed_over, taken_over;
    /* The core's: the new master is ready, this one stops; the new
     * master will not take over (it failed, timed out or exited): told
     * as soon as that is known, and again at its exit. */
    void *ctx;
    void (*step_down)(void *ctx);
    void (*successor_gone)(void *ctx);
};

void upgrade_init(struct upgrade *up, struct ev_loop *loop,
                  const struct listeners *lis, char **argv);
void upgrade_start(struct upgrade *up, bool stopping);
bool upgrade_successor(const struct upgrade *up);
void upgrade_ready(struct upgrade *up);
void upgrade_fini(struct upgrade *up);

/* upgrade_conns.c */
/* Old master, stepping down: <fd> (the "ready" socket) takes connections
 * to the new master. */
void upgrade_conns_open(struct upgrade *up, int fd);
/* Gives idle connection <c> to the new master (true: its record is
 * ours now), or false when there is none to take it. */
bool upgrade_hand_over(struct upgrade *up, struct mconn *c);
/* Connections queued for the new master and not yet sent. */
size_t upgrade_handing_over(const struct upgrade *up);
/* New master, ready: takes the connections the old one sends. */
void upgrade_conns_take(struct upgrade *up);
void upgrade_conns_fini(struct upgrade *up);

#endif
