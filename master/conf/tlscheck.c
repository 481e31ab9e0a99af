/*
 * tlscheck.c: the master's look at --tls-cert and --tls-key, at start,
 * for -t and before SIGHUP applies a configuration: each certificate
 * parses (PEM, with its chain), its key parses and is the certificate's.
 * The workers load the same files and do the handshakes; this is only
 * so that a bad file is refused with a clear message before any worker
 * would fail on it (libcrypto alone, no TLS in the master). What takes
 * libssl, --tls-ciphers, is checked by the worker program itself
 * (handoff-worker --check-tls), run once and waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf/tlscheck.h"

/* OpenSSL's latest error as text into <why>, else <fallback>. */
static void
tlscheck_why(char *why, size_t len, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    snprintf(why, len, "%s", r != NULL ? r : fallback);
    ERR_clear_error();
}

static X509 *
tlscheck_cert(const char *path, char *why, size_t len)
{
    FILE *f = fopen(path, "re");
    X509 *x;

    if (f == NULL) {
        snprintf(why, len, "%s", strerror(errno));
        return NULL;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (x == NULL) {
        tlscheck_why(why, len, "not a PEM certificate");
    }
    return x;
}

static EVP_PKEY *
tlscheck_key(const char *path, char *why, size_t len)
{
    FILE *f = fopen(path, "re");
    EVP_PKEY *k;

    if (f == NULL) {
        snprintf(why, len, "%s", strerror(errno));
        return NULL;
    }
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL) {
        tlscheck_why(why, len, "not a PEM private key");
    }
    return k;
}

int
tlscheck_pair(const char *cert, const char *key, char *why, size_t len)
{
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    char inner[200];
    int rc = -1;

    x = tlscheck_cert(cert, inner, sizeof(inner));
    if (x == NULL) {
        snprintf(why, len, "--tls-cert %s: %s", cert, inner);
        return -1;
    }
    k = tlscheck_key(key, inner, sizeof(inner));
    if (k == NULL) {
        snprintf(why, len, "--tls-key %s: %s", key, inner);
    } else if (X509_check_private_key(x, k) != 1) {
        ERR_clear_error();
        snprintf(why, len, "--tls-key %s does not match --tls-cert %s", key,
                 cert);
    } else {
        rc = 0;
    }
    EVP_PKEY_free(k);
    X509_free(x);
    return rc;
}

int
tlscheck_files(const struct tls_files *t, char *why, size_t len)
{
    unsigned i;

    for (i = 0; i < t->ncert && i < t->nkey; i++) {
        if (tlscheck_pair(t->cert[i], t->key[i], why, len) == -1) {
            return -1;
        }
    }
    return 0;
}

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
tlscheck_ciphers(const char *worker_bin, const struct tls_files *t,
                 const char *ciphers, char *why, size_t len)
{
    char cert[TLS_PATH_MAX + 16], key[TLS_PATH_MAX + 16], list[1024], out[512];
    char *argv[] = {(char *) "handoff-worker",
                    (char *) "--check-tls",
                    cert,
                    key,
                    list,
                    NULL};
    posix_spawn_file_actions_t fa;
    int p[2], status, rc;
    pid_t pid;

    if (ciphers == NULL || t->ncert == 0 || t->nkey == 0) {
        return 0;
    }
    snprintf(cert, sizeof(cert), "--tls-cert=%s", t->cert[0]);
    snprintf(key, sizeof(key), "--tls-key=%s", t->key[0]);
    snprintf(list, sizeof(list), "--tls-ciphers=%s", ciphers);
    if (pipe2(p, O_CLOEXEC) == -1) {
        snprintf(why, len, "--tls-ciphers: cannot check it: %s",
                 strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], STDERR_FILENO);
    rc = posix_spawn(&pid, worker_bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        snprintf(why, len, "--tls-ciphers: cannot run %s to check it: %s",
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
    snprintf(why, len, "%s", out[0] != '\0' ? out : "--tls-ciphers: refused");
    return -1;
}
