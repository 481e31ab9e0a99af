/*
 * runas.h: --user USER[:GROUP], the identity workers run as (runas.c).
 */
#ifndef HS_MASTER_RUNAS_H
#define HS_MASTER_RUNAS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUNAS_GROUPS_MAX 64

/* Who a worker becomes before it runs: set in the child between fork
 * and exec (exec.c). */
struct runas {
    bool on;
    uid_t uid;
    gid_t gid;
    gid_t groups[RUNAS_GROUPS_MAX]; /* its supplementary groups */
    int ngroups;
    char name[64]; /* for log lines: "nobody:nogroup" */
};

int runas_resolve(const char *spec, struct runas *ra, char *err, size_t len);

#endif
