/*
 * master.h: the master process's state, shared by the files of master/.
 *
 * The master owns the listening socket, every accepted connection until a
 * worker acknowledges it, and one channel per worker. Its files:
 *   master.c    start-up, signals, graceful stop, the scheduler's sink
 *   listener.c  bind() and listen()
 *   acceptor.c  accept4() and its pauses (EMFILE, full queue, no worker)
 *   spawn.c     fork/exec of workers, their exits, restart backoff
 *   workers.c   slots; replacing, retiring, reloading, scaling, recycling,
 *               and the watchdog
 *   link.c      channel I/O with each worker
 *   upgrade.c   binary upgrade (SIGUSR2)
 *   inherit.c   listening sockets from an old master or systemd; sd_notify
 *   stats.c     figures as JSON and Prometheus text
 *   oneshot.c   one request, one answer (or a stream): serves admin.c and
 *               control.c
 *   admin.c     the admin HTTP listener (--admin): /stats /metrics /
 *   dashboard.c the live HTML dashboard
 *   control.c   the control socket (handoffctl)
 *   proxy.c     the PROXY protocol (--proxy-protocol): reading the header
 *   proxy_parse.c  ...and parsing it (pure, fuzzed)
 *   trace.c     --trace lines
 *   mconn.c     the records of accepted connections
 *   node_link.c    a Node worker's IPC channel (--node): JSON lines, fds
 *   node_cluster.c what those lines mean: Node's cluster protocol
 *   node_spawn.c   the command line and environment of a Node worker
 */
#ifndef HS_MASTER_MASTER_H
#define HS_MASTER_MASTER_H

#include <ev.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "accept/accept-t.h"
#include "accept/acceptor.h"
#include "accept/inherit.h"
#include "accept/listener.h"
#include "accept/mconn.h"
#include "accept/proxy.h"
#include "chan.h"
#include "conf/options.h"
#include "container_of.h"
#include "sbuf.h"
#include "sched/sched.h"

/* The longest line a Node worker may send; longer ones are dropped. */
#define NODE_LINE_MAX (1024 * 1024)
#define NODE_KEY_MAX 320

struct node_out;

/* A Node worker's channel (--node): see node_link.c and node_cluster.c. */
struct node_link {
    /* Transport. */
    char *in; /* owned: a line read in part */
    size_t in_len, in_cap;
    bool skipping;  /* dropping the rest of an oversized line */
    int pending_fd; /* owned: came with a read, for a NODE_HANDLE line */
    STAILQ_HEAD(, node_out) out;  /* owned: lines not yet written, in order */
    struct node_out *last_urgent; /* the last ACK/NACK in out, or NULL */
    size_t nout;
    size_t out_bytes;      /* what out holds, lines and their bookkeeping */
    bool read_paused;      /* out is over NODE_OUT_PAUSE: not reading for now */
    bool handle_in_flight; /* a NODE_HANDLE written, its ACK not yet read */
    uint64_t handle_conn;  /* ...carrying this connection's fd, or 0 */
    /* Cluster protocol. */
    char key[NODE_KEY_MAX]; /* its server's key, as Node's primary makes it */
    bool serving;           /* queryServer answered, server not closed */
    bool disconnecting;     /* told to disconnect, or said it will */
    ev_tstamp asked_at;     /* its oldest unanswered newconn went out */
    ev_tstamp user_window;  /* user-message log budget */
    unsigned user_logged, user_hidden;
};

/* A worker process as the master sees it. */
struct mworker {
    struct sched_worker sw; /* embedded: the scheduler's view */
    struct master *m;
    struct slot *slot;
    pid_t pid;
    int chan_fd;          /* owned; -1 once closed */
    ev_io chan_r, chan_w; /* channel readable / writable */
    ev_timer chan_retry;  /* after ENOBUFS-like send failures */
    ev_child child_w;
    struct chan_outbox out;
    TAILQ_ENTRY(mworker) dirty_link;
    TAILQ_ENTRY(mworker) all_link; /* m->all, until reaped */
    bool dirty;                    /* in m->dirty: outbox needs a flush */
    bool ready;                    /* said READY */
    bool shutdown_sent;
    bool retiring; /* left its slot: drains, not replaced */
    bool exited;   /* reaped */
    ev_tstamp started;
    ev_tstamp ready_at;
    ev_tstamp last_heard;   /* its latest message (watchdog) */
    uint64_t recycle_after; /* requests before it is replaced; 0 never */
    struct node_link *node; /* owned; a Node worker (--node), else NULL */
};

TAILQ_HEAD(mworker_list, mworker);

/* A place for one worker; replacements reuse the slot (and its key). */
struct slot {
    struct master *m;
    unsigned index;
    struct mworker *w;   /* current process (maybe still starting), or NULL */
    struct mworker *old; /* being replaced: serves until w is READY */
    ev_timer respawn;    /* pending restart */
    uint64_t backoff_ms; /* next crash-loop delay */
    unsigned restarts;   /* replacements after an exit */
    unsigned boot_failures; /* its workers' exits in a row before READY */
    /* What workers that have left this slot did, so that the slot's
     * counters never go backwards. */
    uint64_t served_before, handed_before;
};

struct master {
    struct ev_loop *loop;
    struct master_options opt;
    char worker_bin[PATH_MAX];
    char root[PATH_MAX];       /* --root, made absolute, or "" */
    char access_log[PATH_MAX]; /* --access-log, made absolute, or "" */
    struct sched sched;
    struct listeners lis;
    struct acceptor acc;

    bool ever_ready; /* a worker has been READY since the start */
    int exit_status; /* what master_run() returns */

    ev_prepare prepare_w; /* flush outboxes once per loop turn */
    struct mworker_list dirty;

    ev_signal sig_int, sig_term, sig_quit, sig_hup, sig_usr1, sig_usr2,
        sig_ttin, sig_ttou;
    ev_timer grace_w;
    bool stopping;

    struct slot **slots; /* owned, each owned */
    unsigned nslots;
    struct mworker_list all; /* every worker process not yet reaped */
    unsigned nalive;
    int reload_next;   /* slot a rolling restart is at, or -1 */
    bool reload_again; /* another SIGHUP came during it */
    ev_timer watchdog;

    char self_path[PATH_MAX]; /* this binary, for SIGUSR2 */
    char **argv;              /* as started, for SIGUSR2 */
    pid_t upgrade_pid;        /* the new master, while it runs */
    int upgrade_fd;           /* its "ready" pipe, or -1 */
    ev_io upgrade_r;
    ev_timer upgrade_timer;
    ev_child upgrade_child;
    int notify_parent_fd; /* as a new master: the old one's pipe, or -1 */
    bool announced;       /* told systemd READY=1 */

    uint32_t next_worker_id;
    uint64_t served_gone; /* requests served by workers that have exited */
    uint64_t handed_gone; /* connections handed to them */
    uint64_t exits;       /* worker exits, for any reason */
    ev_tstamp started;

    /* --node */
    char node_bin[PATH_MAX]; /* node, found on PATH or --node-bin */
    uint64_t node_seq;       /* Node's primary numbers all its messages */
    char *node_data;         /* owned: queryServer data of the first worker */
};

/* spawn.c */
int spawn_resolve_worker_bin(struct master *m);
struct mworker *spawn_worker(struct slot *s);
void spawn_child_signals(void);
void spawn_slot_init(struct slot *s);
void spawn_schedule(struct slot *s, uint64_t delay_ms);
uint64_t spawn_backoff(struct slot *s, ev_tstamp lived);
void spawn_kill_all(struct master *m, int sig);

/* workers.c */
int workers_init(struct master *m);
void workers_start(struct master *m);
struct slot *workers_add_slot(struct master *m);
void workers_ready(struct mworker *w);
void workers_exited(struct mworker *w, ev_tstamp lived);
void workers_left(struct mworker *w, const char *why);
void workers_retire(struct mworker *w, const char *why);
void workers_replace(struct slot *s, const char *why);
void workers_reload(struct master *m);
void workers_scale(struct master *m, int delta);
void workers_check_recycle(struct mworker *w);
void workers_heard(struct mworker *w);
void workers_stop_respawns(struct master *m);
void workers_fini(struct master *m);

/* link.c */
void link_start(struct mworker *w);
void link_send(struct mworker *w, const struct chan_msg *msg, int fd);
void link_send_listener(struct mworker *w);
void link_flush_dirty(struct master *m);
void link_drain(struct mworker *w);
void link_close(struct mworker *w);

/* node_link.c */
int node_link_new(struct mworker *w);
void node_link_start(struct mworker *w);
int node_link_send(struct mworker *w, const char *text, size_t len, int fd,
                   uint64_t conn_id);
int node_link_send_urgent(struct mworker *w, const char *text, size_t len);
void node_link_flush(struct mworker *w);
void node_link_handle_answered(struct mworker *w);
int node_link_take_pending_fd(struct mworker *w);
bool node_link_unsent(const struct mworker *w, uint64_t conn_id);
void node_link_drain(struct mworker *w);
void node_link_clear(struct mworker *w);
void node_link_free(struct mworker *w);

/* node_cluster.c */
void node_cluster_line(struct mworker *w, const char *line, size_t len);
void node_cluster_newconn(struct mworker *w, struct mconn *c);
void node_cluster_disconnect(struct mworker *w);
void node_cluster_closed(struct mworker *w);
void node_cluster_last_words(struct mworker *w);

/* node_spawn.c */
int node_spawn_resolve(struct master *m);
char **node_spawn_argv(const struct master *m);
char **node_spawn_envp(const struct master *m, uint32_t id, int chan_fd);
void node_spawn_free(char **v);

/* stats.c */
void stats_json(const struct master *m, struct sbuf *b);
void stats_prometheus(const struct master *m, struct sbuf *b);

/* oneshot.c: one request, one answer, per connection */
#define ONESHOT_IN_MAX 4096
struct oneshot_conn;
struct oneshot {
    struct master *m;
    int fd; /* owned listening socket, or -1 */
    ev_io accept_w;
    /* True once <in> holds a whole request. */
    bool (*complete)(const char *in, size_t len);
    /* Writes the answer to <in> (all of it, terminator included). */
    void (*handle)(struct oneshot *srv, const char *in, size_t len,
                   struct sbuf *out);
    unsigned nconns;
    TAILQ_HEAD(, oneshot_conn) conns;
    /* Streams (oneshot_stream()): how many are open, and an optional
     * callback run each time that number changes. */
    unsigned nstreams;
    void (*streams_changed)(struct oneshot *srv);
    struct oneshot_conn *answering; /* private: the one in handle() */
};
void oneshot_start(struct oneshot *srv, struct master *m, int fd,
                   bool (*complete)(const char *, size_t),
                   void (*handle)(struct oneshot *, const char *, size_t,
                                  struct sbuf *));
void oneshot_stop(struct oneshot *srv);
void oneshot_relisten(struct oneshot *srv, int fd);
bool oneshot_stream(struct oneshot *srv);
void oneshot_broadcast(struct oneshot *srv, const char *data, size_t len);

/* admin.c, dashboard.c */
int admin_open(struct master *m);
int admin_fd(void);
void admin_close(struct master *m);
extern const char dashboard_html[];

/* control.c */
int control_open(struct master *m);
void control_close(struct master *m);
void control_reclaim(struct master *m);

/* upgrade.c */
void upgrade_start(struct master *m);
void upgrade_maybe_ready(struct master *m);
void upgrade_fini(struct master *m);

/* trace.c */
void trace_sched_event(void *ctx, enum sched_event ev,
                       const struct sched_conn *c,
                       const struct sched_worker *w);
void trace_record(void *arg, const struct chan_msg *msgs, size_t n,
                  size_t nfds);
void trace_load(const struct mworker *w, const struct chan_load *l);
void trace_node_line(const struct mworker *w, bool out, const char *line,
                     size_t len, int fd);

/* master.c */
int master_run(struct master *m);
void master_stop(struct master *m, const char *why);
void master_exit(struct master *m, int status);
void master_broadcast(struct master *m, enum chan_type type, uint32_t arg);
void master_worker_gone(struct master *m, struct mworker *w);
void master_stop_progress(struct master *m);

static inline struct mworker *
mworker_of(const struct sched_worker *sw)
{
    return container_of(sw, struct mworker, sw);
}

#endif
