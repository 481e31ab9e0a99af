/*
 * tlscheck.c: --tls-cert, --tls-key and --tls-ciphers checked for the
 * master, at start, for -t and before SIGHUP applies a configuration:
 * each certificate parses (PEM, with its chain), its key parses and is
 * the certificate's, the cipher list means something. The worker
 * program does it (handoff-worker --check-tls), run once and waited
 * for: it loads the files exactly as its workers will, with the same
 * messages, and the master links no TLS library at all (libcrypto alone
 * would add 1.4 MiB to its resident set).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/tlscheck.h"

extern char **environ;

/* Reads what <fd> gives until EOF into <buf> (NUL-terminated, the first
 * line kept). */
static void
tlscheck_read_line(int fd, char *buf, size_t len)
{
    size_t k = 0;
    ssize_t n;
    char *nl;

    for (;;) {
        char tmp[256];

        n = read(fd, tmp, sizeof(tmp));
        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        if (k + 1 < len) {
            size_t take = (size_t) n < len - 1 - k ? (size_t) n : len - 1 - k;

            memcpy(buf + k, tmp, take);
            k += take;
        }
    }
    buf[k] = '\0';
    nl = strchr(buf, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
}

int
tlscheck_files(const char *worker_bin, const struct tls_files *t,
               const char *ciphers, char *why, size_t len)
{
    static char cert[TLS_CERTS_MAX][TLS_PATH_MAX + 16],
        key[TLS_CERTS_MAX][TLS_PATH_MAX + 16], list[1024];
    char *argv[3 + 2 * TLS_CERTS_MAX + 1], out[768];
    posix_spawn_file_actions_t fa;
    int p[2], status, rc;
    unsigned i, n = 0;
    pid_t pid;

    if (t->ncert == 0 || t->nkey == 0) {
        return 0;
    }
    argv[n++] = (char *) "handoff-worker";
    argv[n++] = (char *) "--check-tls";
    for (i = 0; i < t->ncert && i < t->nkey && i < TLS_CERTS_MAX; i++) {
        snprintf(cert[i], sizeof(cert[i]), "--tls-cert=%s", t->cert[i]);
        snprintf(key[i], sizeof(key[i]), "--tls-key=%s", t->key[i]);
        argv[n++] = cert[i];
        argv[n++] = key[i];
    }
    if (ciphers != NULL) {
        snprintf(list, sizeof(list), "--tls-ciphers=%s", ciphers);
        argv[n++] = list;
    }
    argv[n] = NULL;
    if (pipe2(p, O_CLOEXEC) == -1) {
        snprintf(why, len, "--tls-cert: cannot check it: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
    rc = posix_spawn(&pid, worker_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        snprintf(why, len, "--tls-cert: cannot run %s to check it: %s",
                 worker_bin, strerror(rc));
        return -1;
    }
    tlscheck_read_line(p[0], out, sizeof(out));
    close(p[0]);
    while (waitpid(pid, &status, 0) == -1) {
        if (errno != EINTR) {
            status = 0; /* reaped by someone else: its words decide */
            break;
        }
    }
    if ((WIFEXITED(status) && WEXITSTATUS(status) == 0) && out[0] == '\0') {
        return 0;
    }
    snprintf(why, len, "%s",
             out[0] != '\0' ? out
                            : "--tls-cert: the worker program refused it");
    return -1;
}
