/*
 * runas.c: --user USER[:GROUP]: the uid, gid and supplementary groups the
 * workers drop to, looked up once at start-up (the user database is read
 * here, never between fork and exec, where only async-signal-safe calls
 * may run). GROUP defaults to USER's primary group; the supplementary
 * groups are USER's (initgroups(3)'s list), or GROUP alone when GROUP is
 * given. The master keeps its own identity (docs/architecture.md says
 * why); the child sets these and checks them (exec.c).
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf/runas.h"

/* <name> as a group: its gid in *gid; false with the reason in <err>. */
static bool
runas_group(const char *name, gid_t *gid, char *err, size_t len)
{
    struct group gr, *res = NULL;
    char buf[16384];
    int rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);

    if (res == NULL) {
        snprintf(err, len, "--user: no group '%s'%s%s", name,
                 rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
        return false;
    }
    *gid = gr.gr_gid;
    return true;
}

/*
 * Looks <spec> ("USER" or "USER:GROUP") up into <ra>. Returns 0, or -1
 * with one line in <err>: an unknown user or group, or a user other
 * than ours without the privilege to become it.
 */
int
runas_resolve(const char *spec, struct runas *ra, char *err, size_t len)
{
    struct passwd pw, *res = NULL;
    char user[64], buf[16384];
    const char *colon = strchr(spec, ':');
    size_t ul = colon != NULL ? (size_t) (colon - spec) : strlen(spec);
    int rc, n = RUNAS_GROUPS_MAX;

    memset(ra, 0, sizeof(*ra));
    if (ul == 0 || ul >= sizeof(user) || (colon != NULL && colon[1] == '\0')) {
        snprintf(err, len, "--user %s: expected USER or USER:GROUP", spec);
        return -1;
    }
    memcpy(user, spec, ul);
    user[ul] = '\0';
    rc = getpwnam_r(user, &pw, buf, sizeof(buf), &res);
    if (res == NULL) {
        snprintf(err, len, "--user: no user '%s'%s%s", user,
                 rc != 0 ? ": " : "", rc != 0 ? strerror(rc) : "");
        return -1;
    }
    ra->uid = pw.pw_uid;
    ra->gid = pw.pw_gid;
    if (colon != NULL && !runas_group(colon + 1, &ra->gid, err, len)) {
        return -1;
    }
    if (colon != NULL) {
        ra->groups[0] = ra->gid;
        ra->ngroups = 1;
    } else if (getgrouplist(user, ra->gid, ra->groups, &n) == -1) {
        snprintf(err, len, "--user %s: in more than %d groups", user,
                 RUNAS_GROUPS_MAX);
        return -1;
    } else {
        ra->ngroups = n;
    }
    if (geteuid() != 0 && (ra->uid != geteuid() || ra->gid != getegid())) {
        snprintf(err, len,
                 "--user %s: only root can start workers as another user",
                 spec);
        return -1;
    }
    snprintf(ra->name, sizeof(ra->name), "%s", spec);
    ra->on = true;
    return 0;
}
