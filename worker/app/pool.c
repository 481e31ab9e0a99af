/*
 * pool.c: the worker's thread pool (see pool.h): a bounded FIFO of jobs
 * under one mutex, a condition variable that wakes idle threads, and a
 * done list that an ev_async watcher drains on the loop thread.
 *
 * Shared between threads, and only under pool.lock: the queue, the done
 * list, the count of waiting jobs and the stop flag. Threads also call
 * ev_async_send(), which libev makes safe from any thread; the rest (the
 * thread handles, the watcher's start and stop) is the loop thread's.
 * Locking a default mutex cannot fail once it is initialised, so those
 * calls are not checked. A job moves
 * queue -> (a thread, unlocked, runs work) -> done list -> done() on the
 * loop; whoever moves it holds the lock, so the job's fields written on
 * one side are seen whole on the other.
 *
 * Threads start with every signal blocked, so that SIGTERM and friends
 * reach the loop thread's libev handlers, never a pool thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "app/pool.h"
#include "log.h"

STAILQ_HEAD(pool_list, pool_job);

struct pool {
    pthread_mutex_t lock;
    pthread_cond_t wake;    /* a job was queued, or stop was set */
    struct pool_list queue; /* under lock: waiting for a thread */
    struct pool_list done;  /* under lock: waiting for the loop */
    unsigned queued;        /* under lock: jobs in queue */
    unsigned max_queued;    /* ro once started */
    bool stop;              /* under lock: threads exit when they see it */
    struct ev_loop *loop;   /* ro once started */
    ev_async done_w;        /* threads only ev_async_send() it */
    /* The loop thread's alone: */
    pthread_t tids[POOL_MAX_THREADS];
    unsigned nthreads;
    bool ready; /* lock, cond and watcher initialised */
};

static struct pool pool;

static void *
pool_thread(void *arg)
{
    struct pool_job *j;

    (void) arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.stop && STAILQ_EMPTY(&pool.queue)) {
            pthread_cond_wait(&pool.wake, &pool.lock);
        }
        if (pool.stop) {
            break; /* what is still queued, pool_stop delivers */
        }
        j = STAILQ_FIRST(&pool.queue);
        STAILQ_REMOVE_HEAD(&pool.queue, link);
        pool.queued--;
        pthread_mutex_unlock(&pool.lock);

        j->work(j);

        pthread_mutex_lock(&pool.lock);
        j->ran = true;
        STAILQ_INSERT_TAIL(&pool.done, j, link);
        /* Safe from any thread; several sends before the loop looks at
         * them make one callback, which takes the whole list. */
        ev_async_send(pool.loop, &pool.done_w);
    }
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

/* Calls done() for each job of <list>, which the caller took. */
static void
pool_deliver(struct pool_list *list)
{
    struct pool_job *j;

    while ((j = STAILQ_FIRST(list)) != NULL) {
        STAILQ_REMOVE_HEAD(list, link);
        j->done(j); /* may free j */
    }
}

static void
pool_done_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    struct pool_list list = STAILQ_HEAD_INITIALIZER(list);

    (void) loop;
    (void) w;
    (void) revents;
    pthread_mutex_lock(&pool.lock);
    STAILQ_CONCAT(&list, &pool.done);
    pthread_mutex_unlock(&pool.lock);
    pool_deliver(&list);
}

unsigned
pool_start(struct ev_loop *loop, unsigned nthreads)
{
    sigset_t all, old;
    unsigned i;
    int err;

    if (nthreads == 0) {
        return 0;
    }
    if (nthreads > POOL_MAX_THREADS) {
        nthreads = POOL_MAX_THREADS;
    }
    err = pthread_mutex_init(&pool.lock, NULL);
    if (err != 0) {
        log_error(err, "pthread_mutex_init() failed; --threads ignored");
        return 0;
    }
    err = pthread_cond_init(&pool.wake, NULL);
    if (err != 0) {
        log_error(err, "pthread_cond_init() failed; --threads ignored");
        pthread_mutex_destroy(&pool.lock);
        return 0;
    }
    STAILQ_INIT(&pool.queue);
    STAILQ_INIT(&pool.done);
    pool.loop = loop;
    ev_async_init(&pool.done_w, pool_done_cb);
    ev_async_start(loop, &pool.done_w);
    pool.ready = true;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (i = 0; i < nthreads; i++) {
        err = pthread_create(&pool.tids[i], NULL, pool_thread, NULL);
        if (err != 0) {
            log_warn(err,
                     "pthread_create() failed; running %u of %u "
                     "--threads",
                     i, nthreads);
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pool.nthreads = i;
    pool.max_queued = i * POOL_QUEUE_PER_THREAD;
    return i;
}

unsigned
pool_threads(void)
{
    return pool.nthreads;
}

int
pool_submit(struct pool_job *j)
{
    int rc = -1;

    if (pool.nthreads == 0) {
        return -1;
    }
    j->ran = false;
    atomic_init(&j->cancelled, false);
    pthread_mutex_lock(&pool.lock);
    if (pool.queued < pool.max_queued) {
        STAILQ_INSERT_TAIL(&pool.queue, j, link);
        pool.queued++;
        pthread_cond_signal(&pool.wake);
        rc = 0;
    }
    pthread_mutex_unlock(&pool.lock);
    return rc;
}

void
pool_cancel(struct pool_job *j)
{
    struct pool_job *q;

    /* Relaxed: work() only polls it, and the job's hand-over to the loop
     * goes through the lock anyway. */
    atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
    pthread_mutex_lock(&pool.lock);
    STAILQ_FOREACH(q, &pool.queue, link)
    {
        if (q == j) {
            /* Not started: straight to the done list, unrun. */
            STAILQ_REMOVE(&pool.queue, j, pool_job, link);
            pool.queued--;
            STAILQ_INSERT_TAIL(&pool.done, j, link);
            ev_async_send(pool.loop, &pool.done_w);
            break;
        }
    }
    pthread_mutex_unlock(&pool.lock);
}

bool
pool_cancelled(const struct pool_job *j)
{
    return atomic_load_explicit(&j->cancelled, memory_order_relaxed);
}

void
pool_stop(void)
{
    struct pool_list list = STAILQ_HEAD_INITIALIZER(list);
    unsigned i;

    if (!pool.ready) {
        return;
    }
    pthread_mutex_lock(&pool.lock);
    pool.stop = true;
    pthread_cond_broadcast(&pool.wake);
    pthread_mutex_unlock(&pool.lock);
    for (i = 0; i < pool.nthreads; i++) {
        int err = pthread_join(pool.tids[i], NULL);

        if (err != 0) {
            log_error(err, "pthread_join() failed");
        }
    }
    pool.nthreads = 0;
    /* No thread is left: the lists are ours without the lock. */
    STAILQ_CONCAT(&list, &pool.done);
    STAILQ_CONCAT(&list, &pool.queue);
    pool.queued = 0;
    ev_async_stop(pool.loop, &pool.done_w);
    pthread_cond_destroy(&pool.wake);
    pthread_mutex_destroy(&pool.lock);
    pool.ready = false;
    pool_deliver(&list);
}
