/*
 * policy_ip_hash.c: sticky by client address, so in-memory sessions keep
 * working (Node declined this policy, node-cluster.md §5).
 *
 * Rendezvous (highest random weight) hashing over the workers' slot keys:
 * each client address ranks the slots, and its connections go to the
 * highest-ranked slot that can take one. A restarted worker keeps its slot
 * and so its clients; a worker that is down or full hands its clients to
 * their second choice only, without reshuffling anybody else.
 */
#include "sched/policy.h"

static uint64_t
ip_hash_score(uint32_t addr_hash, uint32_t key)
{
    /* splitmix64 finaliser over the pair. */
    uint64_t z = ((uint64_t) addr_hash << 32 | key) + 0x9e3779b97f4a7c15ULL;

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct sched_worker *
ip_hash_pick(struct sched *s, const struct sched_conn *c)
{
    struct sched_worker *w, *best = NULL;
    uint64_t best_score = 0;

    TAILQ_FOREACH(w, &s->workers, link) {
        uint64_t score;

        if (!sched_can_take(s, w)) {
            continue;
        }
        score = ip_hash_score(c->addr_hash, w->key);
        if (best == NULL || score > best_score) {
            best = w;
            best_score = score;
        }
    }
    return best;
}

const struct sched_policy policy_ip_hash = {
    .name = "ip-hash",
    .summary = "sticky by client address (rendezvous hashing over slots)",
    .accept = POLICY_MASTER_ACCEPTS,
    .worker_up = policy_nop_up,
    .worker_down = policy_nop_down,
    .answered = policy_nop_answered,
    .pick = ip_hash_pick,
};
