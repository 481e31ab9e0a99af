/*
 * tls_io.c: a connection's I/O through TLS (OpenSSL), the struct conn_io
 * of HTTPS listeners: the handshake first, in the connection's own
 * watchers (conn.c's CONN_HANDSHAKE), then reads and writes through
 * SSL_read and SSL_write.
 *
 * A file goes through SSL_sendfile where the kernel took the keys (kTLS,
 * the `tls` module); elsewhere it is copied: pread() into a buffer of
 * the connection's, then SSL_write, the unsent rest kept for the retry
 * (OpenSSL wants the same bytes again after WANT_WRITE).
 *
 * What OpenSSL needs is mapped onto the system calls' contract of
 * struct conn_io: WANT_READ and WANT_WRITE are EAGAIN (a read that needs
 * the socket writable says so in c->io_read_wants_write); a clean
 * close_notify, or an EOF without one, is EOF; anything else an error.
 * The error queue is cleared before each call, so that one connection's
 * error never shows in another's.
 *
 * A plain HTTP request on the TLS port is answered in plain text with a
 * 400 that says so, as nginx does, rather than left to time out.
 */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdutil.h"
#include "http/internal.h"
#include "http/tls.h"
#include "log.h"

#define TLS_FILE_BUF (32 * 1024) /* file bytes copied per SSL_write */
#define TLS_RECORD_MAX 16384     /* a record's plaintext at most */

struct tls_conn {
    SSL *ssl;
    char *fbuf; /* owned: file bytes read but not yet written, or NULL */
    size_t fpos, flen;
    bool peeked; /* the first byte was looked at: a TLS record */
    bool ktls;   /* the kernel encrypts what we send: SSL_sendfile */
};

static struct tls_conn *
tls_of(const struct conn *c)
{
    return c->io_state;
}

static int
tls_io_open(struct conn *c)
{
    SSL_CTX *ctx = tls_default_ctx();
    struct tls_conn *t;

    if (ctx == NULL) {
        static ev_tstamp warned;

        /* Started before the listener turned HTTPS (SIGHUP): refused,
         * the master hands it to another worker; the restart that
         * follows replaces this one. */
        if (ev_now(engine.loop) - warned >= 1.0) {
            warned = ev_now(engine.loop);
            log_warn(0,
                     "refusing C%llu of an HTTPS listener: this worker has no "
                     "certificate",
                     (unsigned long long) c->id);
        }
        return -1;
    }
    t = calloc(1, sizeof(*t));
    if (t == NULL) {
        return -1;
    }
    ERR_clear_error();
    t->ssl = SSL_new(ctx);
    if (t->ssl == NULL || SSL_set_fd(t->ssl, c->fd) != 1) {
        ERR_clear_error();
        SSL_free(t->ssl);
        free(t);
        return -1;
    }
    SSL_set_accept_state(t->ssl);
    c->io_state = t;
    return 0;
}

/* The request was plain HTTP: say so in plain text, and close. */
static void
tls_plain_refusal(struct conn *c)
{
    static const char body[] = "This is an HTTPS port: the plain HTTP request "
                               "was sent to it. Use https://.\n";
    char resp[256], sink[4096];
    int n = snprintf(resp, sizeof(resp),
                     "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);

    /* What has arrived is read, so that the close is not a reset that
     * would destroy the answer. */
    while (recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT) > 0) {
    }
    if (n > 0) {
        (void) !send(c->fd, resp, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    (void) shutdown(c->fd, SHUT_WR);
    log_debug("C%llu: a plain HTTP request on an HTTPS port: 400",
              (unsigned long long) c->id);
}

/* The first byte: a TLS handshake record is 0x16; a letter is a method. */
static int
tls_peek(struct conn *c)
{
    unsigned char b;
    ssize_t n;

    do {
        n = recv(c->fd, &b, 1, MSG_PEEK);
    } while (n == -1 && errno == EINTR);
    if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        return EV_READ;
    }
    if (n <= 0) {
        return -1; /* gone before a word */
    }
    if (b >= 'A' && b <= 'Z') {
        tls_plain_refusal(c);
        return -1;
    }
    tls_of(c)->peeked = true;
    return 0;
}

/* Once per worker: whether the kernel took the keys (kTLS). */
static void
tls_note_ktls(bool on)
{
    static bool told;

    if (!told) {
        told = true;
        log_info("TLS: kTLS %s", on ? "on: files go out by SSL_sendfile"
                                    : "off (the kernel took no keys: no tls "
                                      "module?): files are copied through "
                                      "SSL_write");
    }
}

static int
tls_io_handshake(struct conn *c)
{
    struct tls_conn *t = tls_of(c);
    int rc;

    if (!t->peeked && (rc = tls_peek(c)) != 0) {
        return rc;
    }
    ERR_clear_error();
    rc = SSL_do_handshake(t->ssl);
    if (rc == 1) {
        t->ktls = BIO_get_ktls_send(SSL_get_wbio(t->ssl)) == 1;
        tls_note_ktls(t->ktls);
        if (engine.trace) {
            log_trace("C%llu TLS handshake done: %s %s%s",
                      (unsigned long long) c->id, SSL_get_version(t->ssl),
                      SSL_get_cipher_name(t->ssl),
                      SSL_session_reused(t->ssl) ? ", resumed" : "");
        }
        return 0;
    }
    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        return EV_READ;
    case SSL_ERROR_WANT_WRITE:
        return EV_WRITE;
    default: {
        unsigned long e = ERR_peek_last_error();
        const char *why = e != 0 ? ERR_reason_error_string(e) : NULL;

        /* A client's mistake, or a scanner's: debug, never louder. */
        log_debug("C%llu: TLS handshake failed: %s", (unsigned long long) c->id,
                  why != NULL ? why : "connection closed");
        ERR_clear_error();
        return -1;
    }
    }
}

/* What SSL_read or SSL_write's failure <rc> means, as errno; -1. */
static ssize_t
tls_io_fail(struct conn *c, int rc, bool reading)
{
    struct tls_conn *t = tls_of(c);

    switch (SSL_get_error(t->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        if (!reading) {
            /* Only renegotiation makes a write read, and it is off. */
            errno = EPROTO;
            return -1;
        }
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        c->io_read_wants_write = reading;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        /* close_notify, or EOF (SSL_OP_IGNORE_UNEXPECTED_EOF). To a read
         * it is the end; to a write it is a peer that has gone, which
         * 0 (no progress) would have a writer try again for ever. */
        if (!reading) {
            errno = EPIPE;
            return -1;
        }
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) {
            errno = ECONNRESET;
        }
        ERR_clear_error();
        return -1;
    default:
        if (engine.trace) {
            unsigned long e = ERR_peek_last_error();

            log_trace("C%llu TLS error: %s", (unsigned long long) c->id,
                      e != 0 ? ERR_reason_error_string(e) : "?");
        }
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

/*
 * Reads records while a whole one fits: a record partly taken would
 * leave plaintext inside OpenSSL that no readiness of the socket would
 * announce.
 */
static ssize_t
tls_io_read(struct conn *c, void *buf, size_t len)
{
    struct tls_conn *t = tls_of(c);
    size_t done = 0;

    c->io_read_wants_write = false;
    while (done == 0 || len - done >= TLS_RECORD_MAX) {
        int n;

        ERR_clear_error();
        n = SSL_read(t->ssl, (char *) buf + done,
                     len - done > INT32_MAX ? INT32_MAX : (int) (len - done));
        if (n > 0) {
            done += (size_t) n;
            continue;
        }
        if (done > 0) {
            break; /* the condition comes back on the next call */
        }
        return tls_io_fail(c, n, true);
    }
    return (ssize_t) done;
}

static ssize_t
tls_io_write(struct conn *c, const void *buf, size_t len, bool more)
{
    struct tls_conn *t = tls_of(c);
    int n;

    (void) more; /* records are framed by OpenSSL; no MSG_MORE to pass */
    if (len == 0) {
        return 0;
    }
    ERR_clear_error();
    n = SSL_write(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int) len);
    return n > 0 ? n : tls_io_fail(c, n, false);
}

static ssize_t
tls_io_sendfile(struct conn *c, int fd, off_t *off, size_t len)
{
    struct tls_conn *t = tls_of(c);
    int n;

    if (t->ktls) {
        ossl_ssize_t k;

        ERR_clear_error();
        k = SSL_sendfile(t->ssl, fd, *off, len, 0);
        if (k > 0) {
            *off += k;
            return k;
        }
        return tls_io_fail(c, (int) k, false);
    }
    if (t->fpos == t->flen) {
        size_t want = len < TLS_FILE_BUF ? len : TLS_FILE_BUF;
        ssize_t r;

        if (t->fbuf == NULL && (t->fbuf = malloc(TLS_FILE_BUF)) == NULL) {
            return -1;
        }
        do {
            r = pread(fd, t->fbuf, want, *off);
        } while (r == -1 && errno == EINTR);
        if (r <= 0) {
            return r; /* an error, or the file shrank (0) */
        }
        t->fpos = 0;
        t->flen = (size_t) r;
    }
    ERR_clear_error();
    n = SSL_write(t->ssl, t->fbuf + t->fpos, (int) (t->flen - t->fpos));
    if (n <= 0) {
        return tls_io_fail(c, n, false); /* the bytes wait in fbuf */
    }
    t->fpos += (size_t) n;
    *off += n;
    return n;
}

/* close_notify (best effort: nothing waits for its answer), then FIN. */
static int
tls_io_shutdown(struct conn *c)
{
    struct tls_conn *t = tls_of(c);

    if (SSL_is_init_finished(t->ssl)) {
        ERR_clear_error();
        (void) SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    return shutdown(c->fd, SHUT_WR);
}

static void
tls_io_close(struct conn *c)
{
    struct tls_conn *t = tls_of(c);

    if (t != NULL) {
        SSL_free(t->ssl);
        free(t->fbuf);
        free(t);
        c->io_state = NULL;
    }
    fd_close(c->fd);
    c->fd = -1;
}

bool
tls_conn_info(const struct conn *c, const char **proto, const char **cipher)
{
    const struct tls_conn *t = c->io == &tls_io ? tls_of(c) : NULL;

    if (t == NULL) {
        return false;
    }
    *proto = SSL_get_version(t->ssl);
    *cipher = SSL_get_cipher_name(t->ssl);
    return true;
}

const struct conn_io tls_io = {
    .open = tls_io_open,
    .handshake = tls_io_handshake,
    .read = tls_io_read,
    .write = tls_io_write,
    .sendfile = tls_io_sendfile,
    .shutdown = tls_io_shutdown,
    .close = tls_io_close,
};
