/*
 * node_spawn.c: what a Node worker (--node SCRIPT) is started with, the
 * way Node's cluster.fork() starts one: the program's own script, and an
 * environment that tells Node it is a cluster worker (NODE_UNIQUE_ID)
 * whose IPC channel, in JSON lines, is fd 3 (NODE_CHANNEL_FD). Node reads
 * and deletes these at start-up, so the program sees cluster.isPrimary
 * false and runs its worker branch.
 *
 * PORT is set to the port the master serves, so a program that listens
 * on process.env.PORT gets the right one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master.h"

extern char **environ;

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
int
node_spawn_resolve(struct master *m)
{
    const char *script = m->opt.node_script;
    char alt[PATH_MAX];
    int err;

    if (m->opt.node_bin != NULL) {
        if (snprintf(m->node_bin, sizeof(m->node_bin), "%s", m->opt.node_bin)
                >= (int) sizeof(m->node_bin)
            || access(m->node_bin, X_OK) == -1) {
            fprintf(stderr, "handoff: --node-bin %s: %s\n", m->opt.node_bin,
                    strerror(errno));
            return -1;
        }
    } else if (node_spawn_which("node", m->node_bin, sizeof(m->node_bin))
               == -1) {
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

void
node_spawn_free(char **v)
{
    size_t i;

    if (v == NULL) {
        return;
    }
    for (i = 0; v[i] != NULL; i++) {
        free(v[i]);
    }
    free(v);
}

/* node SCRIPT ARG..., each string owned by the vector; NULL on ENOMEM. */
char **
node_spawn_argv(const struct master *m)
{
    size_t n = (size_t) m->opt.node_argc, i;
    char **v = calloc(n + 3, sizeof(*v));

    if (v == NULL) {
        return NULL;
    }
    v[0] = strdup(m->node_bin);
    v[1] = strdup(m->opt.node_script);
    for (i = 0; i < n; i++) {
        v[i + 2] = strdup(m->opt.node_args[i]);
    }
    for (i = 0; i < n + 2; i++) {
        if (v[i] == NULL) {
            /* node_spawn_free() stops at the first NULL: free them all. */
            for (i = 0; i < n + 2; i++) {
                free(v[i]);
            }
            free(v);
            return NULL;
        }
    }
    return v;
}

static bool
node_spawn_ours(const char *var)
{
    static const char *const ours[] = {
        "NODE_UNIQUE_ID=",
        "NODE_CHANNEL_FD=",
        "NODE_CHANNEL_SERIALIZATION_MODE=",
        "PORT=",
    };
    size_t i;

    for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
        if (strncmp(var, ours[i], strlen(ours[i])) == 0) {
            return true;
        }
    }
    return false;
}

/* The master's environment with the cluster variables set for worker
 * <id>; NULL on ENOMEM. */
char **
node_spawn_envp(const struct master *m, uint32_t id, int chan_fd)
{
    const struct sockaddr_in *a = (const void *) &m->lis.addr;
    size_t n = 0, k = 0, i;
    char **v;

    while (environ[n] != NULL) {
        n++;
    }
    v = calloc(n + 5, sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        if (!node_spawn_ours(environ[i])
            && (v[k++] = strdup(environ[i])) == NULL) {
            goto fail;
        }
    }
    if (asprintf(&v[k++], "NODE_UNIQUE_ID=%u", id) == -1
        || asprintf(&v[k++], "NODE_CHANNEL_FD=%d", chan_fd) == -1
        || (v[k++] = strdup("NODE_CHANNEL_SERIALIZATION_MODE=json")) == NULL
        || asprintf(&v[k++], "PORT=%u", (unsigned) ntohs(a->sin_port)) == -1) {
        v[k - 1] = NULL;
        goto fail;
    }
    return v;
fail:
    node_spawn_free(v);
    return NULL;
}
