/*
 * upgrade.h: binary upgrade on SIGUSR2 (upgrade.c).
 */
#ifndef HS_MASTER_UPGRADE_H
#define HS_MASTER_UPGRADE_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

struct fleet;
struct listeners;

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
    int parent_fd; /* as a new master: the old one's pipe, or -1 */
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

#endif
