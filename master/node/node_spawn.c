/*
 * node_spawn.c: what a Node worker (--node SCRIPT) is started with, the
 * way Node's cluster.fork() starts one: the program's own script, and an
 * environment that tells Node it is a cluster worker (NODE_UNIQUE_ID)
 * whose IPC channel, in JSON lines, is fd 3 (NODE_CHANNEL_FD). Node reads
 * and deletes these at start-up, so the program sees cluster.isPrimary
 * false and runs its worker branch.
 *
 * PORT is set to the port the master serves, so a program that listens
 * on process.env.PORT gets the right one. Unless --node-preload off,
 * `--require` loads handoff's preload first (node_preload.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "accept/accept-t.h"
#include "conf/options.h"
#include "log.h"
#include "node/node_preload.h"
#include "node/node_spawn.h"

/* node, found on PATH or --node-bin. */
static char node_bin[PATH_MAX];
/* handoff's preload, or "" (--node-preload off). */
static char node_preload[PATH_MAX];

/* Finds <name> on PATH; 0 and <out> filled, or -1. */
static int
node_spawn_which(const char *name, char *out, size_t size)
{
    const char *path = getenv("PATH");
    const char *p, *end;

    if (path == NULL || path[0] == '\0') {
        path = "/usr/local/bin:/usr/bin:/bin";
    }
    for (p = path; *p != '\0'; p = *end == ':' ? end + 1 : end) {
        int n;

        end = strchr(p, ':');
        if (end == NULL) {
            end = p + strlen(p);
        }
        n = snprintf(out, size, "%.*s/%s", (int) (end - p), end == p ? "." : p,
                     name);
        if (n > 0 && (size_t) n < size && access(out, X_OK) == 0) {
            return 0;
        }
    }
    errno = ENOENT;
    return -1;
}

/*
 * Checks --node-bin (or finds node on PATH) and the script, once at
 * start-up, so that a typo is one clear line rather than a crash loop.
 */
static int
node_spawn_find(const struct master_options *o)
{
    const char *script = o->node_script;
    char alt[PATH_MAX];
    int err;

    if (o->node_bin != NULL) {
        if (snprintf(node_bin, sizeof(node_bin), "%s", o->node_bin)
                >= (int) sizeof(node_bin)
            || access(node_bin, X_OK) == -1) {
            fprintf(stderr, "handoff: --node-bin %s: %s\n", o->node_bin,
                    strerror(errno));
            return -1;
        }
    } else if (node_spawn_which("node", node_bin, sizeof(node_bin)) == -1) {
        fprintf(stderr, "handoff: --node: no node program on PATH (install "
                        "Node.js, or give --node-bin)\n");
        return -1;
    }
    if (access(script, R_OK) == 0) {
        return 0;
    }
    err = errno;
    /* node resolves "app" as app.js too, but only when "app" is not
     * there: an unreadable "app" is what node would fail on. */
    if (err == ENOENT
        && snprintf(alt, sizeof(alt), "%s.js", script) < (int) sizeof(alt)) {
        if (access(alt, R_OK) == 0) {
            return 0;
        }
        if (errno != ENOENT) {
            fprintf(stderr, "handoff: --node %s: %s: %s\n", script, alt,
                    strerror(errno));
            return -1;
        }
    }
    fprintf(stderr, "handoff: --node %s: %s\n", script, strerror(err));
    return -1;
}

int
node_spawn_resolve(struct fleet *fl)
{
    if (node_spawn_find(fl->opt) == -1) {
        return -1;
    }
    if (fl->opt->node_preload
        && node_preload_find(node_preload, sizeof(node_preload)) == -1) {
        fprintf(stderr,
                "handoff: --node: handoff's preload %s: %s (reinstall "
                "handoff, or give --node-preload off)\n",
                node_preload, strerror(errno));
        return -1;
    }
    fl->program = fl->opt->node_script;
    /* Only the preload reports load: /stats says so (null) without it. */
    fl->reports = fl->opt->node_preload;
    return 0;
}

/* The start-up log says what runs. */
void
node_spawn_announce(const struct fleet *fl)
{
    bool pre = node_preload[0] != '\0';

    log_info("workers are Node: %s %s%s%s%s", node_bin, pre ? "--require " : "",
             node_preload, pre ? " " : "", fl->opt->node_script);
}

/* node [--require PRELOAD] SCRIPT ARG..., each string owned by the
 * vector; NULL on ENOMEM. */
static char **
node_spawn_argv(const struct master_options *o)
{
    size_t n = (size_t) o->node_argc, i, k = 0;
    char **v = calloc(n + 5, sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    v[k++] = strdup(node_bin);
    if (node_preload[0] != '\0') {
        v[k++] = strdup("--require");
        v[k++] = strdup(node_preload);
    }
    v[k++] = strdup(o->node_script);
    for (i = 0; i < n; i++) {
        v[k++] = strdup(o->node_args[i]);
    }
    for (i = 0; i < k; i++) {
        if (v[i] == NULL) {
            /* exec_vec_free() stops at the first NULL: free them all. */
            for (i = 0; i < k; i++) {
                free(v[i]);
            }
            free(v);
            return NULL;
        }
    }
    return v;
}

/*
 * The master's environment with the cluster variables set for worker
 * <w>, whose channel is fd EXEC_CHANNEL_FD, and PORT; NULL on ENOMEM.
 */
static char **
node_spawn_envp(const struct mworker *w)
{
    const struct sockaddr_in *a = (const void *) &w->fl->lis->addr;
    char id[32], chan[32], port[16];
    char *set[] = {id, chan, "NODE_CHANNEL_SERIALIZATION_MODE=json", port};

    snprintf(id, sizeof(id), "NODE_UNIQUE_ID=%u", w->sw.id);
    snprintf(chan, sizeof(chan), "NODE_CHANNEL_FD=%d", EXEC_CHANNEL_FD);
    snprintf(port, sizeof(port), "PORT=%u", (unsigned) ntohs(a->sin_port));
    return exec_env(set, sizeof(set) / sizeof(set[0]));
}

int
node_spawn_command(const struct mworker *w, struct exec_cmd *cmd)
{
    cmd->path = node_bin;
    cmd->argv = node_spawn_argv(w->fl->opt);
    cmd->envp = node_spawn_envp(w);
    return cmd->argv != NULL && cmd->envp != NULL ? 0 : -1;
}
