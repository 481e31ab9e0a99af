/*
 * tls_ctx.c: the worker's TLS contexts: one per certificate (SNI picks
 * the one whose names match the client's server name, else the first),
 * TLS 1.2 and 1.3 only, ECDHE with an AEAD in 1.2, ALPN http/1.1, no
 * renegotiation, no session cache: sessions resume by ticket, under the
 * master's keys (tls_set_tickets), so that any worker resumes a session
 * another made. kTLS is asked for (SSL_OP_ENABLE_KTLS); tls_io.c uses it
 * where the kernel took it.
 */
#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http/internal.h"
#include "http/tls.h"
#include "log.h"

/* Mozilla's "intermediate" list without DHE: ECDHE, AES-GCM or
 * ChaCha20-Poly1305 (TLS 1.3's suites are OpenSSL's, all AEAD). */
#define TLS_DEFAULT_CIPHERS                                                    \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"               \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"               \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define TLS_NAME_LEN 16 /* of a ticket key's 80 bytes: name, HMAC, AES */
#define TLS_HMAC_OFF 16
#define TLS_AES_OFF 48

static SSL_CTX *tls_ctxs[8];
static unsigned tls_nctx;
static struct chan_tickets tls_keys;
/* Fetched once: EVP_aes_256_cbc() would be looked up by name at every
 * ticket sealed or opened. */
static EVP_CIPHER *tls_ticket_cipher;

SSL_CTX *
tls_default_ctx(void)
{
    return tls_nctx > 0 ? tls_ctxs[0] : NULL;
}

/* OpenSSL's latest error as text, else <fallback>. */
static const char *
tls_err(const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e != 0 ? ERR_reason_error_string(e) : NULL;

    return r != NULL ? r : fallback;
}

/* SNI: the context whose certificate names <name>, else the first. */
static int
tls_servername_cb(SSL *ssl, int *alert, void *arg)
{
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    unsigned i;

    (void) alert;
    (void) arg;
    if (name == NULL || tls_nctx < 2) {
        return SSL_TLSEXT_ERR_OK;
    }
    for (i = 0; i < tls_nctx; i++) {
        X509 *x = SSL_CTX_get0_certificate(tls_ctxs[i]);

        if (x != NULL && X509_check_host(x, name, 0, 0, NULL) == 1) {
            if (i > 0) {
                SSL_set_SSL_CTX(ssl, tls_ctxs[i]);
            }
            break;
        }
    }
    return SSL_TLSEXT_ERR_OK;
}

/* ALPN: http/1.1 when offered; otherwise none is chosen (a client that
 * offers only h2 still gets HTTP/1.1, as it would without ALPN). */
static int
tls_alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
            const unsigned char *in, unsigned inlen, void *arg)
{
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char *sel;

    (void) ssl;
    (void) arg;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen)
        != OPENSSL_NPN_NEGOTIATED) {
        return SSL_TLSEXT_ERR_NOACK;
    }
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* HMAC-SHA256 with key <k> (32 bytes) into <hctx>. */
static int
tls_ticket_mac(EVP_MAC_CTX *hctx, const unsigned char *k)
{
    OSSL_PARAM params[3];

    params[0] =
        OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *) k, 32);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *) "SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params);
}

/*
 * Session tickets under the master's keys: new ones with the newest key;
 * one sealed by an older key is accepted and renewed (2), and so is
 * every TLS 1.3 one.
 */
static int
tls_ticket_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
              EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    unsigned i;

    if (tls_keys.n == 0 || tls_ticket_cipher == NULL) {
        return 0; /* none yet: a full handshake, no ticket */
    }
    if (enc) {
        const unsigned char *k = tls_keys.key[0];

        memcpy(name, k, TLS_NAME_LEN);
        if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1
            || EVP_EncryptInit_ex(cctx, tls_ticket_cipher, NULL,
                                  k + TLS_AES_OFF, iv)
                   != 1
            || tls_ticket_mac(hctx, k + TLS_HMAC_OFF) != 1) {
            return -1;
        }
        return 1;
    }
    for (i = 0; i < tls_keys.n; i++) {
        const unsigned char *k = tls_keys.key[i];

        if (memcmp(name, k, TLS_NAME_LEN) == 0) {
            if (tls_ticket_mac(hctx, k + TLS_HMAC_OFF) != 1
                || EVP_DecryptInit_ex(cctx, tls_ticket_cipher, NULL,
                                      k + TLS_AES_OFF, iv)
                       != 1) {
                return -1;
            }
            /* TLS 1.3 clients use a ticket once (RFC 8446 C.4): a new
             * one each time, as nginx does, or a browser would be back
             * to full handshakes after two resumptions. */
            return i == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
        }
    }
    return 0; /* a key rotated out: a full handshake */
}

static SSL_CTX *
tls_ctx_new(const char *cert, const char *key, const char *ciphers, char *why,
            size_t len)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        snprintf(why, len, "cannot make a TLS context: %s",
                 tls_err("out of memory"));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION
                                 | SSL_OP_CIPHER_SERVER_PREFERENCE
                                 | SSL_OP_NO_COMPRESSION | SSL_OP_ENABLE_KTLS
                                 | SSL_OP_IGNORE_UNEXPECTED_EOF);
    /* NO_AUTO_CHAIN: the chain is the file's, as nginx does it; else
     * OpenSSL would build one from the trust store at every handshake. */
    SSL_CTX_set_mode(
        ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
                 | SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_tlsext_servername_callback(ctx, tls_servername_cb);
    SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_cb, NULL);
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, tls_ticket_cb);
    if (ciphers == NULL) {
        ciphers = TLS_DEFAULT_CIPHERS;
    }
    ERR_clear_error(); /* what follows reads OpenSSL's error queue */
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        snprintf(why, len, "--tls-ciphers %s: %s", ciphers,
                 tls_err("no cipher matches"));
    } else if (access(cert, R_OK) == -1) {
        /* OpenSSL's own words for a missing file name no errno. */
        snprintf(why, len, "--tls-cert %s: %s", cert, strerror(errno));
    } else if (access(key, R_OK) == -1) {
        snprintf(why, len, "--tls-key %s: %s", key, strerror(errno));
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(why, len, "--tls-cert %s: %s", cert,
                 tls_err("not a PEM certificate"));
    } else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1
               && ERR_GET_REASON(ERR_peek_last_error())
                      != X509_R_KEY_VALUES_MISMATCH) {
        snprintf(why, len, "--tls-key %s: %s", key,
                 tls_err("not a PEM private key"));
    } else if (ERR_peek_last_error() != 0
               || SSL_CTX_check_private_key(ctx) != 1) {
        /* OpenSSL refuses a key that is not the certificate's as it
         * loads it, with KEY_VALUES_MISMATCH: the same words either way. */
        snprintf(why, len, "--tls-key %s does not match --tls-cert %s", key,
                 cert);
    } else {
        return ctx;
    }
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return NULL;
}

int
tls_init(const char *const *certs, const char *const *keys, unsigned n,
         const char *ciphers, char *why, size_t len)
{
    unsigned i;

    tls_ticket_cipher = EVP_CIPHER_fetch(NULL, "AES-256-CBC", NULL);
    if (tls_ticket_cipher == NULL) {
        snprintf(why, len, "no AES-256-CBC for session tickets: %s",
                 tls_err("not in this OpenSSL"));
        ERR_clear_error();
        return -1;
    }
    for (i = 0; i < n && i < sizeof(tls_ctxs) / sizeof(tls_ctxs[0]); i++) {
        tls_ctxs[i] = tls_ctx_new(certs[i], keys[i], ciphers, why, len);
        if (tls_ctxs[i] == NULL) {
            tls_fini();
            return -1;
        }
        tls_nctx = i + 1;
    }
    return 0;
}

void
tls_fini(void)
{
    unsigned i;

    for (i = 0; i < tls_nctx; i++) {
        SSL_CTX_free(tls_ctxs[i]);
        tls_ctxs[i] = NULL;
    }
    tls_nctx = 0;
    EVP_CIPHER_free(tls_ticket_cipher);
    tls_ticket_cipher = NULL;
    OPENSSL_cleanse(&tls_keys, sizeof(tls_keys));
}

void
tls_set_listener(unsigned index, bool on)
{
    if (index < CHAN_LISTENERS_MAX) {
        engine.tls_listener[index] = on;
    }
}

void
tls_set_tickets(const struct chan_tickets *keys)
{
    tls_keys = *keys;
}
