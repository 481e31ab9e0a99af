/*
 * tlscheck.c: the master's look at --tls-cert and --tls-key, at start,
 * for -t and before SIGHUP applies a configuration: each certificate
 * parses (PEM, with its chain), its key parses and is the certificate's.
 * The workers load the same files and do the handshakes; this is only
 * so that a bad file is refused with a clear message before any worker
 * would fail on it (libcrypto alone, no TLS in the master).
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

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
