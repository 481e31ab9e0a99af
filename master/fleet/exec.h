/*
 * exec.h: starting a child program (exec.c): a worker with its channel
 * (and its table of connection states),
 * or (ops/upgrade.c) a new master.
 */
#ifndef HS_MASTER_EXEC_H
#define HS_MASTER_EXEC_H

#include <stddef.h>
#include <sys/types.h>

struct runas;

/* A worker's end of its channel, as Node's NODE_CHANNEL_FD default. */
#define EXEC_CHANNEL_FD 3

/* What a worker is started with. */
struct exec_cmd {
    const char *path; /* not owned */
    char **argv;      /* owned, NULL-terminated */
    char **envp;      /* owned, or NULL: this process's environment */
    bool batch;       /* run in SCHED_BATCH */
    /* The child's stdout and stderr (not owned), or 0: the master's. */
    int out_fd, err_fd;
    const struct runas *runas; /* who it becomes first, or NULL */
    /* A worker's table of connection states (not owned), its REHAND_FD
     * (common/conn_state.h) in the child; or 0: none. */
    int rehand_fd;
};

void exec_child_signals(void);
pid_t exec_worker(const struct exec_cmd *cmd, int chan_fd);
char **exec_env(char *const *set, size_t n);
void exec_vec_free(char **v);
void exec_cmd_free(struct exec_cmd *cmd);

#endif
