/*
 * test_sched.c: the scheduler and the rr policy, event by event.
 *
 * The first test replays the trace table of node-cluster.md §3 (Node's
 * RoundRobinHandle with W1, W2, W3 and a burst C1-C5, then C6) and checks
 * every assignment and the free list after each step.
 */
#include "sched/policy.h"
#include "sched/sched.h"
#include "test.h"

#define MAXLOG 64

struct recorder {
    char sends[MAXLOG][16]; /* "C4>W2" */
    int nsends;
    unsigned long long released[MAXLOG];
    int nreleased;
};

static struct recorder rec;
static struct sched s;
static struct sched_worker W[8];
static struct sched_conn C[32];

static void
rec_send(void *ctx, struct sched_conn *c, struct sched_worker *w)
{
    (void) ctx;
    ASSERT(rec.nsends < MAXLOG);
    snprintf(rec.sends[rec.nsends++], sizeof(rec.sends[0]), "C%llu>W%u",
             (unsigned long long) c->id, w->id);
}

static void
rec_release(void *ctx, struct sched_conn *c)
{
    (void) ctx;
    ASSERT(rec.nreleased < MAXLOG);
    rec.released[rec.nreleased++] = c->id;
}

static void
setup(const struct sched_policy *p, unsigned nworkers)
{
    struct sched_sink sink = {
        .ctx = NULL, .send = rec_send, .release = rec_release, .event = NULL};
    unsigned i;

    memset(&rec, 0, sizeof(rec));
    ASSERT(sched_init(&s, p, &sink) == 0);
    for (i = 1; i <= nworkers; i++) {
        sched_worker_init(&W[i], i);
        sched_worker_up(&s, &W[i]);
    }
    for (i = 1; i < 32; i++) {
        sched_conn_init(&C[i], i, 0);
    }
}

/* The sends since the last call, joined with spaces. */
static const char *
sends(void)
{
    static char out[512];
    static int seen;
    size_t n = 0;

    out[0] = '\0';
    if (rec.nsends < seen) {
        seen = 0;
    }
    for (; seen < rec.nsends; seen++) {
        n += (size_t) snprintf(out + n, sizeof(out) - n, "%s%s", n ? " " : "",
                               rec.sends[seen]);
    }
    return out;
}

static const char *
state(void)
{
    static char out[256];
    const struct sched_conn *c;
    size_t n = (size_t) snprintf(out, sizeof(out), "queue=[");

    TAILQ_FOREACH(c, &s.queue, link) {
        n += (size_t) snprintf(out + n, sizeof(out) - n, "%sC%llu",
                               c == TAILQ_FIRST(&s.queue) ? "" : ",",
                               (unsigned long long) c->id);
    }
    n += (size_t) snprintf(out + n, sizeof(out) - n, "] ");
    sched_describe(&s, out + n, sizeof(out) - n);
    return out;
}

static void
test_node_trace_table(void)
{
    setup(&policy_rr, 3);
    (void) sends();
    ASSERT_STREQ(state(), "queue=[] free=[W1,W2,W3]");

    /* C1, C2, C3 -> W1, W2, W3 */
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    sched_conn_arrive(&s, &C[3]);
    ASSERT_STREQ(sends(), "C1>W1 C2>W2 C3>W3");
    ASSERT_STREQ(state(), "queue=[] free=[]");

    /* C4, C5 queued */
    sched_conn_arrive(&s, &C[4]);
    sched_conn_arrive(&s, &C[5]);
    ASSERT_STREQ(sends(), "");
    ASSERT_STREQ(state(), "queue=[C4,C5] free=[]");

    /* W2 acks C2: close C2; C4 -> W2 */
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT_EQ(rec.nreleased, 1);
    ASSERT_EQ(rec.released[0], 2);
    ASSERT_STREQ(sends(), "C4>W2");
    ASSERT_STREQ(state(), "queue=[C5] free=[]");

    /* W1 acks C1: C5 -> W1 */
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(sends(), "C5>W1");
    ASSERT_STREQ(state(), "queue=[] free=[]");

    /* W3 acks C3: W3 idle */
    ASSERT(sched_ack(&s, &W[3], 3, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(sends(), "");
    ASSERT_STREQ(state(), "queue=[] free=[W3]");

    /* W2, W1 ack: idle */
    ASSERT(sched_ack(&s, &W[2], 4, SCHED_ACCEPTED) == 0);
    ASSERT(sched_ack(&s, &W[1], 5, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(state(), "queue=[] free=[W3,W2,W1]");
    ASSERT_EQ(rec.nreleased, 5);

    /* C6 goes to W3, not W1. */
    sched_conn_arrive(&s, &C[6]);
    ASSERT_STREQ(sends(), "C6>W3");
    ASSERT_EQ(s.handoffs, 6);
    ASSERT_EQ(s.acks, 5);
}

/* Slow arrivals: W1, W2, W3, W1, W2 (cyclic in acknowledgement order). */
static void
test_slow_arrivals_cycle(void)
{
    int i;

    setup(&policy_rr, 3);
    (void) sends();
    for (i = 1; i <= 5; i++) {
        sched_conn_arrive(&s, &C[i]);
        ASSERT(sched_ack(&s, C[i].worker, (uint64_t) i, SCHED_ACCEPTED) == 0);
    }
    ASSERT_STREQ(sends(), "C1>W1 C2>W2 C3>W3 C4>W1 C5>W2");
}

/* A refusal sends the connection to the tail of the queue. */
static void
test_refusal_goes_to_tail(void)
{
    setup(&policy_rr, 1);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    sched_conn_arrive(&s, &C[3]);
    ASSERT_STREQ(sends(), "C1>W1");
    ASSERT_STREQ(state(), "queue=[C2,C3] free=[]");
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED) == 0);
    ASSERT_EQ(rec.nreleased, 0); /* the master keeps its copy */
    ASSERT_EQ(s.refusals, 1);
    /* W1 is free again and takes the head, C2; C1 waits at the tail. */
    ASSERT_STREQ(sends(), "C2>W1");
    ASSERT_STREQ(state(), "queue=[C3,C1] free=[]");
}

/* With another worker free, a refused connection goes to it at once. */
static void
test_refusal_redistributes(void)
{
    setup(&policy_rr, 2);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    ASSERT_STREQ(sends(), "C1>W1");
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED) == 0);
    ASSERT_STREQ(sends(), "C1>W2");
    ASSERT_STREQ(state(), "queue=[] free=[W1]");
}

/* A worker that goes away gives back what it never acknowledged, first in
 * line; Node would leak it (node-cluster.md §3 gaps). */
static void
test_worker_down_reclaims(void)
{
    setup(&policy_rr, 2);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    sched_conn_arrive(&s, &C[3]);
    ASSERT_STREQ(sends(), "C1>W1 C2>W2");
    sched_worker_gone(&s, &W[1]);
    ASSERT_EQ(s.reclaims, 1);
    ASSERT_STREQ(state(), "queue=[C1,C3] free=[]");
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(sends(), "C1>W2");
    /* A late ack from the departed worker is refused. */
    ASSERT_EQ(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED), -1);
    ASSERT_EQ(s.nworkers, 1);
}

/* A dead worker with nobody left: connections wait for a new worker. */
static void
test_all_down_then_new_worker(void)
{
    setup(&policy_rr, 1);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    sched_worker_gone(&s, &W[1]);
    ASSERT_STREQ(state(), "queue=[C1,C2] free=[]");
    sched_worker_init(&W[2], 2);
    sched_worker_up(&s, &W[2]);
    ASSERT_STREQ(sends(), "C1>W1 C1>W2");
}

/* A worker refusing for lack of room is parked until its next load
 * report, instead of being handed the next connection at once. */
static void
test_full_refusal_parks_until_report(void)
{
    struct chan_load load = {0};

    setup(&policy_rr, 2);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    ASSERT_STREQ(sends(), "C1>W1");
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED_FULL) == 0);
    ASSERT_STREQ(sends(), "C1>W2"); /* redistributed */
    ASSERT(W[1].full);
    ASSERT_STREQ(state(), "queue=[] free=[]");
    ASSERT(sched_ack(&s, &W[2], 1, SCHED_REFUSED_FULL) == 0);
    /* Both full: the connection waits, nobody ping-pongs. */
    ASSERT_STREQ(sends(), "");
    ASSERT_STREQ(state(), "queue=[C1] free=[]");
    sched_conn_arrive(&s, &C[2]);
    ASSERT_STREQ(sends(), "");
    /* W2 reports (a connection of its closed): it takes the head. */
    sched_load(&s, &W[2], &load);
    ASSERT(!W[2].full);
    ASSERT_STREQ(sends(), "C1>W2");
    ASSERT(sched_ack(&s, &W[2], 1, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(sends(), "C2>W2");
    ASSERT_EQ(s.refusals, 2);
}

/* A worker that leaves the rotation gets nothing more, but its answers to
 * earlier handoffs still count. */
static void
test_leave_keeps_answers(void)
{
    setup(&policy_rr, 2);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    ASSERT_STREQ(sends(), "C1>W1 C2>W2");
    sched_worker_leave(&s, &W[1]);
    ASSERT_EQ(s.nworkers, 1);
    sched_conn_arrive(&s, &C[3]);
    ASSERT_STREQ(sends(), "");
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED) == 0); /* draining */
    ASSERT_STREQ(state(), "queue=[C3,C1] free=[]");
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT_STREQ(sends(), "C3>W2");
    ASSERT_STREQ(state(), "queue=[C1] free=[]");
    /* Gone with nothing in flight: nothing to reclaim. */
    sched_worker_gone(&s, &W[1]);
    ASSERT_EQ(s.reclaims, 0);
}

static void
test_ack_of_unknown_conn(void)
{
    setup(&policy_rr, 2);
    sched_conn_arrive(&s, &C[1]);
    ASSERT_EQ(sched_ack(&s, &W[1], 99, SCHED_ACCEPTED), -1);
    ASSERT_EQ(sched_ack(&s, &W[2], 1, SCHED_ACCEPTED), -1); /* not W2's */
    ASSERT_EQ(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED), 0);
    ASSERT_EQ(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED), -1); /* only once */
}

/* SIGHUP's policy switch: the workers in the rotation join the new
 * policy, what they hold stays theirs, and what waits is handed out by
 * the new one; back to rr, a worker with one unanswered gets no more. */
static void
test_set_policy_keeps_workers(void)
{
    setup(&policy_rr, 2);
    (void) sends();
    sched_conn_arrive(&s, &C[1]);
    sched_conn_arrive(&s, &C[2]);
    sched_conn_arrive(&s, &C[3]); /* rr: one each, C3 waits */
    ASSERT_STREQ(sends(), "C1>W1 C2>W2");
    ASSERT_EQ(s.nqueued, 1);
    ASSERT(sched_set_policy(&s, &policy_cyclic, 0) == 0);
    ASSERT(s.policy == &policy_cyclic && s.window == SCHED_WINDOW_DEFAULT);
    ASSERT_EQ(s.nworkers, 2);
    ASSERT_EQ(s.nqueued, 0); /* cyclic's window lets C3 go */
    ASSERT_EQ(W[1].ninflight + W[2].ninflight, 3);
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED) == 0);
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT(sched_set_policy(&s, &policy_rr, 0) == 0);
    ASSERT_EQ(s.window, 1);
    (void) sends();
    sched_conn_arrive(&s, &C[4]);
    /* whichever worker holds C3 still has it unanswered: C4 goes to the
     * other one */
    ASSERT_STREQ(sends(), C[3].worker == &W[1] ? "C4>W2" : "C4>W1");
    sched_fini(&s);
}

static void
test_policy_lookup(void)
{
    ASSERT(policy_find("rr") == &policy_rr);
    ASSERT(policy_find("nope") == NULL);
}

int
main(void)
{
    RUN(test_node_trace_table);
    RUN(test_slow_arrivals_cycle);
    RUN(test_refusal_goes_to_tail);
    RUN(test_refusal_redistributes);
    RUN(test_worker_down_reclaims);
    RUN(test_all_down_then_new_worker);
    RUN(test_full_refusal_parks_until_report);
    RUN(test_leave_keeps_answers);
    RUN(test_ack_of_unknown_conn);
    RUN(test_set_policy_keeps_workers);
    RUN(test_policy_lookup);
    TEST_EXIT();
}
