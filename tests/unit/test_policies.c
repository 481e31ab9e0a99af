/*
 * test_policies.c: each scheduling policy's decisions, driven with
 * synthetic events and load states.
 */
#include "sched/policy.h"
#include "sched/sched.h"
#include "test.h"

#define NW 8
#define NC 512

static struct sched s;
static struct sched_worker W[NW + 1];
static struct sched_conn C[NC + 1];
static unsigned got[NW + 1]; /* handoffs per worker id */
static unsigned last;        /* id of the last worker sent to */

static void
sink_send(void *ctx, struct sched_conn *c, struct sched_worker *w)
{
    (void) ctx;
    (void) c;
    got[w->id]++;
    last = w->id;
}

static void
sink_release(void *ctx, struct sched_conn *c)
{
    (void) ctx;
    (void) c;
}

static void
setup(const struct sched_policy *p, unsigned nworkers)
{
    struct sched_sink sink = {.send = sink_send, .release = sink_release};
    unsigned i;

    memset(got, 0, sizeof(got));
    ASSERT(sched_init(&s, p, &sink) == 0);
    sched_seed(&s, 42);
    for (i = 1; i <= nworkers; i++) {
        sched_worker_init(&W[i], i);
        W[i].key = i - 1;
        sched_worker_up(&s, &W[i]);
    }
    for (i = 1; i <= NC; i++) {
        sched_conn_init(&C[i], i, 0);
    }
}

/* Arrives C<i> and returns the id of the worker it went to (0: queued). */
static unsigned
arrive(unsigned i)
{
    last = 0;
    sched_conn_arrive(&s, &C[i]);
    return last;
}

static void
report(unsigned id, uint32_t open, uint32_t in_flight)
{
    struct chan_load l = {.open_conns = open, .in_flight = in_flight};

    sched_load(&s, &W[id], &l);
}

static void
test_cyclic_rotates_without_waiting(void)
{
    unsigned i;

    setup(&policy_cyclic, 3);
    for (i = 1; i <= 7; i++) {
        ASSERT_EQ(arrive(i), (i - 1) % 3 + 1);
    }
    /* Nothing was acknowledged: W1 holds C1, C4, C7. */
    ASSERT_EQ(W[1].ninflight, 3);
}

static void
test_cyclic_respects_window_and_parking(void)
{
    setup(&policy_cyclic, 2);
    s.window = 2;
    ASSERT_EQ(arrive(1), 1);
    ASSERT_EQ(arrive(2), 2);
    ASSERT_EQ(arrive(3), 1);
    ASSERT_EQ(arrive(4), 2);
    ASSERT_EQ(arrive(5), 0); /* both at the window */
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT_EQ(last, 2); /* C5 to W2, the one with room */
    /* A full worker is skipped until it reports. */
    last = 0;
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED_FULL) == 0);
    ASSERT_EQ(last, 0); /* C1 requeued: W1 full, W2 at the window */
    report(1, 0, 0);
    ASSERT_EQ(last, 1);
}

static void
test_cyclic_worker_leaving(void)
{
    setup(&policy_cyclic, 3);
    ASSERT_EQ(arrive(1), 1);
    ASSERT_EQ(arrive(2), 2);
    sched_worker_leave(&s, &W[2]); /* the last one picked */
    ASSERT_EQ(arrive(3), 3);
    ASSERT_EQ(arrive(4), 1);
    ASSERT_EQ(arrive(5), 3);
}

static void
test_least_loaded_uses_reports(void)
{
    setup(&policy_least_loaded, 3);
    report(1, 5, 0);
    report(2, 1, 0);
    report(3, 3, 0);
    ASSERT_EQ(arrive(1), 2); /* 1 < 3 < 5 */
    ASSERT_EQ(arrive(2), 2); /* W2: 1 + 1 unanswered = 2 < 3 */
    ASSERT_EQ(arrive(3), 3); /* W2: 3 ties W3: 3; W3 comes after W2 */
    ASSERT(sched_ack(&s, &W[2], 1, SCHED_ACCEPTED) == 0);
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    /* Accepted since the report: still counted, W2 = 1 + 2 = 3. */
    ASSERT_EQ(sched_load_of(&W[2]), 3);
    /* Its next report counts them: not twice. */
    report(2, 3, 0);
    ASSERT_EQ(sched_load_of(&W[2]), 3);
    /* Connections closed: the report says so. */
    report(2, 0, 0);
    ASSERT_EQ(arrive(4), 2);
}

static void
test_least_loaded_ack_figures_are_fresh(void)
{
    setup(&policy_least_loaded, 2);
    ASSERT_EQ(arrive(1), 1);
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_ACCEPTED) == 0);
    sched_note_load(&W[1], 1, 0);
    ASSERT_EQ(sched_load_of(&W[1]), 1);
    ASSERT_EQ(arrive(2), 2);
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    /* W2's earlier connection closed before this one was taken: its ACK
     * says 1 open, not 2, and nothing is counted twice. */
    sched_note_load(&W[2], 1, 0);
    ASSERT_EQ(sched_load_of(&W[2]), 1);
}

static void
test_least_loaded_avoids_busy_worker(void)
{
    /* W1 is deep in a long request (1 open, 1 in progress); W2's last
     * figure is as high but idle: W2 gets every new connection. */
    unsigned i;

    setup(&policy_least_loaded, 2);
    report(1, 1, 1);
    report(2, 1, 0);
    for (i = 1; i <= 5; i++) {
        ASSERT_EQ(arrive(i), 2);
        ASSERT(sched_ack(&s, &W[2], i, SCHED_ACCEPTED) == 0);
        sched_note_load(&W[2], 1, 0); /* the previous one has closed */
    }
    ASSERT_EQ(got[1], 0);
}

static void
test_least_loaded_ties_take_turns(void)
{
    unsigned i;

    setup(&policy_least_loaded, 3);
    for (i = 1; i <= 6; i++) {
        ASSERT_EQ(arrive(i), (i - 1) % 3 + 1);
        ASSERT(sched_ack(&s, C[i].worker, i, SCHED_ACCEPTED) == 0);
        sched_note_load(&W[last], 0, 0);
    }
}

static void
test_p2c_never_picks_the_worst(void)
{
    unsigned i;

    setup(&policy_p2c, 3);
    report(3, 1000, 0);
    for (i = 1; i <= 100; i++) {
        ASSERT(arrive(i) != 0);
    }
    ASSERT_EQ(got[3], 0);
    ASSERT(got[1] > 20 && got[2] > 20);
}

static void
test_p2c_two_workers_is_least_loaded(void)
{
    setup(&policy_p2c, 2);
    report(1, 10, 0);
    ASSERT_EQ(arrive(1), 2);
    ASSERT_EQ(arrive(2), 2);
}

static void
test_random_spreads_and_skips_full(void)
{
    unsigned i;

    setup(&policy_random, 3);
    s.window = NC;
    for (i = 1; i <= 300; i++) {
        ASSERT(arrive(i) != 0);
    }
    ASSERT(got[1] > 60 && got[2] > 60 && got[3] > 60);
    /* W1 refuses for lack of room: nothing more goes to it. */
    ASSERT(sched_ack(&s, &W[1], 1, SCHED_REFUSED_FULL) == 0);
    memset(got, 0, sizeof(got));
    for (i = 301; i <= 400; i++) {
        ASSERT(arrive(i) != 0);
    }
    ASSERT_EQ(got[1], 0);
}

static unsigned
arrive_from(unsigned i, uint32_t addr_hash)
{
    sched_conn_init(&C[i], i, addr_hash);
    return arrive(i);
}

static void
test_ip_hash_is_sticky(void)
{
    unsigned i, first[64], moved = 0;

    setup(&policy_ip_hash, 4);
    s.window = NC;
    memset(got, 0, sizeof(got));
    for (i = 0; i < 64; i++) {
        first[i] = arrive_from(i + 1, 0x10000 + i * 7919);
    }
    for (i = 1; i <= 4; i++) {
        ASSERT(got[i] >= 6); /* 64 addresses spread over 4 workers */
    }
    /* The same address goes to the same worker every time. */
    for (i = 0; i < 64; i++) {
        ASSERT_EQ(arrive_from(65 + i, 0x10000 + i * 7919), first[i]);
    }
    /* W2 dies: only its clients move. */
    sched_worker_gone(&s, &W[2]);
    for (i = 0; i < 64; i++) {
        unsigned now = arrive_from(129 + i, 0x10000 + i * 7919);

        ASSERT(now != 2);
        if (first[i] != 2) {
            ASSERT_EQ(now, first[i]);
        } else {
            moved++;
        }
    }
    ASSERT(moved >= 6);
    /* Its replacement takes the same slot, so the clients come back. */
    sched_worker_init(&W[5], 5);
    W[5].key = 1; /* W2's slot */
    sched_worker_up(&s, &W[5]);
    for (i = 0; i < 64; i++) {
        unsigned now = arrive_from(193 + i, 0x10000 + i * 7919);

        ASSERT_EQ(now, first[i] == 2 ? 5 : first[i]);
    }
}

/* rr with --window 3: a worker with room goes back to the tail of the
 * free list, so workers with room take turns, up to three each. */
static void
test_rr_window(void)
{
    unsigned i;

    setup(&policy_rr, 2);
    ASSERT_EQ(s.window, 1); /* Node's, unless told otherwise */
    s.window = 3;
    for (i = 1; i <= 6; i++) {
        ASSERT_EQ(arrive(i), (i - 1) % 2 + 1);
    }
    ASSERT_EQ(arrive(7), 0); /* both hold three */
    ASSERT(sched_ack(&s, &W[2], 2, SCHED_ACCEPTED) == 0);
    ASSERT_EQ(last, 2);
    ASSERT_EQ(W[1].ninflight, 3);
    ASSERT_EQ(W[2].ninflight, 3);
}

static void
test_kernel_policies_never_pick(void)
{
    setup(&policy_none, 2);
    ASSERT_EQ(arrive(1), 0);
    ASSERT(policy_none.accept == POLICY_SHARED_SOCKET);
    setup(&policy_reuseport, 2);
    ASSERT_EQ(arrive(1), 0);
    ASSERT(policy_reuseport.accept == POLICY_REUSEPORT);
}

static void
test_registry(void)
{
    static const char *const names[] = {"rr",   "cyclic",   "least-loaded",
                                        "p2c",  "random",   "ip-hash",
                                        "none", "reuseport"};
    size_t i;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        ASSERT(policy_find(names[i]) != NULL);
        ASSERT_STREQ(policy_find(names[i])->name, names[i]);
    }
    /* Every registered policy is complete and found by its own name. */
    for (i = 0; policy_all[i] != NULL; i++) {
        const struct sched_policy *p = policy_all[i];

        ASSERT(policy_find(p->name) == p);
        ASSERT(p->summary != NULL && p->worker_up != NULL
               && p->worker_down != NULL && p->answered != NULL
               && p->pick != NULL);
    }
    ASSERT(policy_find("") == NULL);
}

int
main(void)
{
    RUN(test_cyclic_rotates_without_waiting);
    RUN(test_cyclic_respects_window_and_parking);
    RUN(test_cyclic_worker_leaving);
    RUN(test_least_loaded_uses_reports);
    RUN(test_least_loaded_ack_figures_are_fresh);
    RUN(test_least_loaded_avoids_busy_worker);
    RUN(test_least_loaded_ties_take_turns);
    RUN(test_p2c_never_picks_the_worst);
    RUN(test_p2c_two_workers_is_least_loaded);
    RUN(test_random_spreads_and_skips_full);
    RUN(test_ip_hash_is_sticky);
    RUN(test_rr_window);
    RUN(test_kernel_policies_never_pick);
    RUN(test_registry);
    TEST_EXIT();
}
