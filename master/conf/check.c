/*
 * check.c: what -t/--test-config checks beyond each value's syntax (which
 * options_apply() has checked), and what SIGHUP checks before it applies
 * a configuration: the paths exist and can be used as they will be, the
 * addresses resolve. Nothing is opened, bound or created. Each error
 * names the file's line that set the option ("FILE:LINE: "), or the
 * command line.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/options.h"
#include "conf/options_table.h"
#include "conf/runas.h"
#include "conf/tlscheck.h"

const char *
options_where(const struct options_set *set, unsigned where, char *buf,
              size_t len)
{
    if (where == OPTIONS_CMDLINE) {
        snprintf(buf, len, "command line: ");
    } else if (where == OPTIONS_UNSET || set->file == NULL) {
        buf[0] = '\0';
    } else {
        snprintf(buf, len, "%s:%u: ", set->file, where);
    }
    return buf;
}

/* Where option <name> was set, as a prefix. */
static const char *
check_at(const struct options_set *set, const char *name, char *buf, size_t len)
{
    return options_where(set, set->where[options_row_slot(name)], buf, len);
}

/* <host> resolves as an address to listen on. */
static bool
check_host(const char *host, const char **why)
{
    struct addrinfo hints, *res;
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    rc = getaddrinfo(host, "80", &hints, &res);
    if (rc != 0) {
        *why = rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc);
        return false;
    }
    freeaddrinfo(res);
    return true;
}

static void
check_listen(const struct options_set *set, struct conf_errors *errs)
{
    const struct listen_list *l = &set->o->listen;
    const char *why;
    char at[320];
    unsigned i;

    for (i = 0; i < l->n; i++) {
        if (!check_host(l->v[i].host, &why)) {
            unsigned where = set->listen_given
                                 ? set->listen_where[i]
                                 : set->where[options_row_slot("host")];

            conf_error(errs, "%scannot listen on %s: %s",
                       options_where(set, where, at, sizeof(at)), l->v[i].text,
                       why);
        }
    }
    if (set->o->admin && !check_host(set->o->admin_host, &why)) {
        conf_error(errs, "%s--admin %s: %s",
                   check_at(set, "admin", at, sizeof(at)), set->o->admin_host,
                   why);
    }
}

/* A file that will be written (appended), or created in a directory
 * that exists and can be written. */
static bool
check_writable(const char *path)
{
    char copy[PATH_MAX];

    if (access(path, F_OK) == 0) {
        return access(path, W_OK) == 0;
    }
    snprintf(copy, sizeof(copy), "%s", path);
    return access(dirname(copy), W_OK | X_OK) == 0;
}

/* The worker program options.c will look for. */
/* Where the worker program is, as native.c will find it, into <bin>;
 * false (and the error told) when it is not there. */
static bool
check_worker_path(const struct options_set *set, struct conf_errors *errs,
                  char *bin, size_t len)
{
    const struct master_options *o = set->o;
    char self[PATH_MAX], at[320];
    ssize_t n;

    if (o->worker_bin != NULL) {
        snprintf(bin, len, "%s", o->worker_bin);
        if (access(o->worker_bin, X_OK) == -1) {
            conf_error(errs, "%s--worker-bin %s: %s",
                       check_at(set, "worker-bin", at, sizeof(at)),
                       o->worker_bin, strerror(errno));
            return false;
        }
        return true;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        return false;
    }
    self[n] = '\0';
    snprintf(bin, len, "%s/handoff-worker", dirname(self));
    if (access(bin, X_OK) == 0) {
        return true;
    }
    snprintf(bin + strlen(bin) - strlen("/handoff-worker"),
             len - (strlen(bin) - strlen("/handoff-worker")),
             "/../lib/handoff/handoff-worker");
    if (access(bin, X_OK) == -1) {
        conf_error(errs, "worker program %s: %s (give --worker-bin)", bin,
                   strerror(errno));
        return false;
    }
    return true;
}

static void
check_paths(const struct options_set *set, struct conf_errors *errs)
{
    const struct master_options *o = set->o;
    struct stat st;
    char at[320];

    if (o->root != NULL) {
        const char *why = NULL;

        if (stat(o->root, &st) == -1) {
            why = strerror(errno);
        } else if (!S_ISDIR(st.st_mode)) {
            why = "not a directory";
        } else if (access(o->root, R_OK | X_OK) == -1) {
            why = strerror(errno);
        }
        if (why != NULL) {
            conf_error(errs, "%s--root %s: %s",
                       check_at(set, "root", at, sizeof(at)), o->root, why);
        }
    }
    if (o->access_log != NULL && strcmp(o->access_log, "-") != 0
        && !check_writable(o->access_log)) {
        conf_error(errs, "%s--access-log %s: %s",
                   check_at(set, "access-log", at, sizeof(at)), o->access_log,
                   strerror(errno));
    }
    if (o->node_script != NULL && access(o->node_script, R_OK) == -1) {
        conf_error(errs, "%s--node %s: %s",
                   check_at(set, "node", at, sizeof(at)), o->node_script,
                   strerror(errno));
    }
    if (o->node_bin != NULL && access(o->node_bin, X_OK) == -1) {
        conf_error(errs, "%s--node-bin %s: %s",
                   check_at(set, "node-bin", at, sizeof(at)), o->node_bin,
                   strerror(errno));
    }
    if (o->control != NULL && strcmp(o->control, "none") != 0) {
        char copy[PATH_MAX];

        snprintf(copy, sizeof(copy), "%s", o->control);
        if (access(dirname(copy), W_OK | X_OK) == -1) {
            conf_error(errs, "%s--control %s: %s",
                       check_at(set, "control", at, sizeof(at)), o->control,
                       strerror(errno));
        }
    }
    if (o->pid_file != NULL) {
        char copy[PATH_MAX];

        snprintf(copy, sizeof(copy), "%s", o->pid_file);
        if (access(dirname(copy), W_OK | X_OK) == -1) {
            conf_error(errs, "%s--pid-file %s: %s",
                       check_at(set, "pid-file", at, sizeof(at)), o->pid_file,
                       strerror(errno));
        }
    }
    if (o->user != NULL) {
        struct runas ra;
        char why[256];

        if (runas_resolve(o->user, &ra, why, sizeof(why)) == -1) {
            conf_error(errs, "%s%s", check_at(set, "user", at, sizeof(at)),
                       why);
        }
    }
}

/* Each certificate with its key, as the workers will load them, and
 * the cipher list by the worker program itself. */
static void
check_tls(const struct options_set *set, const char *bin,
          struct conf_errors *errs)
{
    char at[320], why[768];

    /* Without the worker program (reported on its own) nothing checks. */
    if (bin != NULL
        && tlscheck_files(bin, &set->o->tls, set->o->tls_ciphers, why,
                          sizeof(why))
               == -1) {
        conf_error(errs, "%s%s",
                   check_at(set,
                            strncmp(why, "--tls-ciphers", 13) == 0
                                ? "tls-ciphers"
                                : "tls-cert",
                            at, sizeof(at)),
                   why);
    }
}

/*
 * Checks the options in <set> (filled and finished) as -t does. Returns
 * true, or false with every error in <errs>.
 */
bool
options_check(const struct options_set *set, struct conf_errors *errs)
{
    unsigned before = errs->n + errs->more;
    char bin[PATH_MAX + 32];
    bool have_bin;

    check_listen(set, errs);
    check_paths(set, errs);
    have_bin = set->o->node_script == NULL
               && check_worker_path(set, errs, bin, sizeof(bin));
    check_tls(set, have_bin ? bin : NULL, errs);
    return errs->n + errs->more == before;
}
