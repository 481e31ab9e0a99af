/*
 * policies.c: the registry of scheduling policies, by name, in the order
 * --help lists them. A new policy is its own file (policy_NAME.c, which
 * defines policy_NAME) and one line in POLICY_LIST.
 */
#include <string.h>

#include "sched/policy.h"

#define POLICY_LIST(X)                                                         \
    X(rr)                                                                      \
    X(cyclic)                                                                  \
    X(least_loaded)                                                            \
    X(p2c)                                                                     \
    X(random)                                                                  \
    X(ip_hash)                                                                 \
    X(none)                                                                    \
    X(reuseport)

#define POLICY_DECLARE(name) extern const struct sched_policy policy_##name;
#define POLICY_ENTRY(name) &policy_##name,

POLICY_LIST(POLICY_DECLARE)

const struct sched_policy *const policy_all[] = {POLICY_LIST(POLICY_ENTRY)
                                                     NULL};

const struct sched_policy *
policy_find(const char *name)
{
    size_t i;

    for (i = 0; policy_all[i] != NULL; i++) {
        if (strcmp(policy_all[i]->name, name) == 0) {
            return policy_all[i];
        }
    }
    return NULL;
}
