/*
 * policies.c: the table of scheduling policies, by name.
 */
#include <string.h>

#include "policy.h"

const struct sched_policy *const policy_all[] = {
    &policy_rr,
    NULL,
};

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
