/*
 * pool.h: a small thread pool that runs CPU work off the worker's event
 * loop (what Node's worker_threads are for), and hands each result back to
 * the loop through a libev ev_async watcher.
 *
 * The loop thread submits a job; a pool thread runs its work() with no
 * lock held; the loop thread then gets its done() callback, exactly once
 * per submitted job, from the loop, never from inside a pool_* call
 * (except pool_stop). Jobs are the caller's memory, typically embedded in
 * a larger struct; done() is where the caller frees it.
 *
 * A pool thread touches nothing of the worker but the job it is running
 * (and the log: log_msg() is one write(2) from a stack buffer, safe from
 * any thread); connections, buffers and libev (but ev_async_send(), which
 * pool.c calls) belong to the loop thread.
 */
#ifndef HS_WORKER_APP_POOL_H
#define HS_WORKER_APP_POOL_H

#include <ev.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/queue.h>

#define POOL_MAX_THREADS 64      /* --threads upper bound (http_limits.c) */
#define POOL_QUEUE_PER_THREAD 16 /* jobs that may wait, per thread */

struct pool_job {
    STAILQ_ENTRY(pool_job) link;      /* private: the queue or done list */
    void (*work)(struct pool_job *j); /* rw: runs on a pool thread */
    void (*done)(struct pool_job *j); /* rw: runs on the loop thread after */
    void *data; /* rw: the submitter's; the pool never reads it */
    bool ran;   /* ro in done(): false if the job was cancelled in time */
    atomic_bool cancelled; /* private: see pool_cancelled() */
};

/*
 * Starts up to <nthreads> threads whose results come back on <loop>. A
 * thread that cannot be created is logged and the pool runs with fewer;
 * returns how many run (0: the pool is off, pool_submit always fails).
 */
unsigned pool_start(struct ev_loop *loop, unsigned nthreads);

/* Threads running; 0 when the pool is off. */
unsigned pool_threads(void);

/*
 * Queues <j>, whose work and done are set. Returns 0, or -1 when the pool
 * is off or POOL_QUEUE_PER_THREAD jobs per thread are already waiting.
 */
int pool_submit(struct pool_job *j);

/*
 * The submitter no longer wants <j>'s result. If no thread has taken it
 * yet, work() will not run (ran stays false); done() still comes, later.
 * If work() is running, pool_cancelled(j) becomes true.
 */
void pool_cancel(struct pool_job *j);

/*
 * For work(), from its thread: true once <j> was cancelled, so that a long
 * job can stop early rather than keep a thread (and a core) busy for a
 * result nobody will read, or hold up pool_stop() at exit.
 */
bool pool_cancelled(const struct pool_job *j);

/*
 * Waits for the jobs being run to finish, joins every thread, and calls
 * done() for every job not yet delivered (queued ones with ran false).
 * For the end of the process, after the connections are gone.
 */
void pool_stop(void);

#endif
