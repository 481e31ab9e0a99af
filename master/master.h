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
#include "fleet/fleet-t.h"
#include "sbuf.h"
#include "sched/sched.h"

struct master {
    struct ev_loop *loop;
    struct master_options opt;
    struct sched sched;
    struct listeners lis;
    struct acceptor acc;
    struct fleet fleet;

    int exit_status; /* what master_run() returns */

    ev_prepare prepare_w; /* flush outboxes once per loop turn */

    ev_signal sig_int, sig_term, sig_quit, sig_hup, sig_usr1, sig_usr2,
        sig_ttin, sig_ttou;
    ev_timer grace_w;
    bool stopping;

    char self_path[PATH_MAX]; /* this binary, for SIGUSR2 */
    char **argv;              /* as started, for SIGUSR2 */
    pid_t upgrade_pid;        /* the new master, while it runs */
    int upgrade_fd;           /* its "ready" pipe, or -1 */
    ev_io upgrade_r;
    ev_timer upgrade_timer;
    ev_child upgrade_child;
    int notify_parent_fd; /* as a new master: the old one's pipe, or -1 */

    ev_tstamp started;
};

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

/* master.c */
int master_run(struct master *m);
void master_stop(struct master *m, const char *why);

#endif
