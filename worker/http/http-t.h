/*
 * http-t.h: the types of the HTTP engine (worker/http/), apart from its
 * functions (http.h) because they refer to each other: a connection
 * carries its I/O operations and its request, the engine lists its
 * connections and calls the application's handlers with them.
 */
#ifndef HS_WORKER_HTTP_HTTP_T_H
#define HS_WORKER_HTTP_HTTP_T_H

#include <ev.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "chan.h"
#include "conn_state.h"
#include "http/chunk.h"
#include "http_limits.h"

#define URL_INLINE 128         /* request targets up to this stay inline */
#define URL_MAX 8192           /* longer targets get 414 */
#define HEADER_NAME_KEPT 32    /* longer names cannot be ones we look at */
#define HEADER_VALUE_KEPT 1024 /* longer kept values are treated as bad */
#define METHOD_MAX 64          /* an unknown method this long: 501 anyway */
#define OUT_HIGH (256 * 1024)  /* stop parsing while this much is unsent */
#define LINGER_TIMEOUT 2.0     /* seconds to drain input before closing */
#define DRAIN_IDLE_GRACE 1.0   /* draining: idle this long, then closed */
/* Descriptors of ended connections kept until the master has closed its
 * copy (graves.c); the worker's descriptor limit leaves room for them. */
#define GRAVES_MAX 1024

struct conn;

/* A growable byte buffer. */
struct buf {
    char *data; /* owned */
    size_t len, cap;
    size_t off; /* bytes already consumed from the front */
};

/* Request headers whose values are kept (in conn.hvals) for later use. */
enum hdr {
    HDR_HOST,
    HDR_EXPECT,
    HDR_TRANSFER_ENCODING,
    HDR_IF_NONE_MATCH,
    HDR_IF_MODIFIED_SINCE,
    HDR_RANGE,
    HDR_IF_RANGE,
    HDR_REFERER,    /* kept only with engine.log_fields */
    HDR_USER_AGENT, /* kept only with engine.log_fields */
    HDR_COUNT,
    HDR_OTHER = HDR_COUNT,
};

struct hval {
    uint32_t off, len; /* in conn.hvals */
    uint8_t count;     /* times the field appeared (capped) */
    bool overflow;     /* longer than HEADER_VALUE_KEPT */
};

/* The request being parsed on a connection. */
struct request {
    char url_inline[URL_INLINE];
    char *url_heap; /* owned; used once the target outgrows url_inline */
    size_t url_len, url_cap;
    char hname[HEADER_NAME_KEPT];
    size_t hname_len;
    bool hname_long;
    bool hname_bad;   /* whitespace in a field name */
    enum hdr current; /* the field whose value is arriving */
    struct hval hv[HDR_COUNT];
    unsigned nheaders;
    size_t head_bytes; /* request line + fields, as parsed */
    uint64_t body_bytes;
    ev_tstamp begun;  /* its first byte was read (ev_now), or 0 */
    bool method_done; /* llhttp parsed the method (c->parser.method) */
    bool headers_done;
    bool debug;       /* X-Handoff-Debug: say which worker and request */
    int error_status; /* set by a callback that rejects the request */
    /* A chunk-size line being read by http.c, not llhttp (its strict mode
     * rejects valid chunk extensions), and whether it is the last
     * chunk's. */
    struct chunk_line chunk;
    bool chunk_last;
    /* llhttp refused the method: the request line is read on to tell a
     * well-formed method we do not know (501) from a malformed one. */
    bool method_sniff;
    size_t method_len; /* token characters of the method seen */
};

/*
 * How a connection's bytes move: chosen once, when the connection is
 * adopted (conn_new), and called for every read, write, file and close
 * after that, as nginx's ngx_connection_t carries recv and send. Each
 * returns what its system call would, with EINTR retried: a count, 0 for
 * EOF (read) or the end of the file (sendfile), -1 with errno, EAGAIN
 * meaning "wait for the socket".
 */
struct conn_io {
    /* Optional: sets up c->io_state, at adoption; -1 refuses <c>. */
    int (*open)(struct conn *c);
    /* Optional: a handshake before the first read (TLS): 0 when done;
     * EV_READ or EV_WRITE: call again when the socket is so; -1: failed,
     * close (it has said why, and answered if it could). */
    int (*handshake)(struct conn *c);
    ssize_t (*read)(struct conn *c, void *buf, size_t len);
    /* <more>: a file body follows at once, so the kernel may hold these
     * bytes to send them with its first part (MSG_MORE): a head in a
     * packet of its own costs a round of ACKs on every response. */
    /* Never 0 for <len> > 0: a peer that has gone is -1 with EPIPE (a
     * writer that took 0 for "try again" would spin). */
    ssize_t (*write)(struct conn *c, const void *buf, size_t len, bool more);
    /* <len> bytes of file <fd> from *<off>, which moves on. */
    ssize_t (*sendfile)(struct conn *c, int fd, off_t *off, size_t len);
    /* Ends our side (after the last response); 0 or -1. */
    int (*shutdown)(struct conn *c);
    /* Releases the connection's descriptor and whatever the I/O holds. */
    void (*close)(struct conn *c);
};

enum conn_state {
    CONN_ACK_PENDING, /* received; its ACK has not left yet: do not read */
    CONN_HANDSHAKE,   /* c->io's handshake (TLS), under --handshake-timeout */
    CONN_OPEN,        /* serving */
    CONN_LINGER,      /* output done, write side shut, draining input */
};

struct conn {
    TAILQ_ENTRY(conn) link;         /* engine.conns */
    TAILQ_ENTRY(conn) pending_link; /* engine.pending, while ACK_PENDING */
    int fd;                         /* owned, released by io->close */
    const struct conn_io *io;
    void *io_state; /* what c->io keeps for it (an SSL), owned by c->io */
    /* The last read waits for the socket to be writable (TLS: OpenSSL
     * must send before it can read on). */
    bool io_read_wants_write;
    uint64_t id; /* the master's C number */
    struct chan_peer peer;
    uint64_t ack_index; /* outbox message number of our ACK (channel.c) */
    enum conn_state state;
    ev_io rio, wio;
    ev_timer timer;       /* the deadline of the current phase */
    ev_tstamp head_start; /* first byte of this request head */
    ev_tstamp last_read;  /* last bytes received */
    ev_tstamp last_write; /* last bytes sent */
    ev_tstamp idle_since; /* last response finished */
    llhttp_t parser;
    struct request req;
    struct buf hvals; /* kept header values; reused */
    struct buf in;    /* unparsed input kept while paused */
    struct buf out;   /* unsent output */
    int file_fd;      /* a file being sent, or -1: owned, unless... */
    off_t file_off;
    uint64_t file_left;
    /* ...it is lent: then this gives it back, instead of a close(). */
    void (*file_release)(void *arg);
    void *file_arg;
    const char *feed_start; /* the chunk llhttp is parsing */
    const char *feed_end;
    const char *msg_begin; /* first byte of the request, if in this chunk */
    char feed_prev;        /* the byte before it */
    uint8_t pause_why;     /* why a callback paused llhttp (http.c) */
    unsigned requests;
    size_t lingered; /* bytes discarded while lingering */
    /* The application's work computing this connection's current
     * response off the loop, or NULL: set by its handle(), cleared by
     * conn_job_resume(); the engine never looks inside. While set, the
     * connection is pinned: nothing is parsed, no request timeout runs,
     * draining leaves it alone; only a client that resets the connection
     * (or stops reading earlier responses) frees it, and then the
     * application's conn_closed() drops the result. */
    void *job;
    bool job_eof;     /* EOF seen while the job ran: read it again after */
    bool msg_open;    /* a request has begun, not completed */
    bool busy;        /* counted in engine.in_flight */
    bool paused;      /* parser paused: output backlog */
    bool close_after; /* close once the output is sent */
    bool linger;      /* drain input before closing */
    bool read_eof;
    bool shut;      /* io->shutdown done: our FIN has left */
    bool polled;    /* the loop has watched it: in the epoll set */
    bool returning; /* given back to the master: closed without a FIN */
    /* Its slot + 1 in engine.rehand, or 0, and the master's generation
     * of that slot (conn_state.h). */
    uint32_t rh_slot, rh_gen;
    enum rehand_state rh_state; /* last stored */
};

TAILQ_HEAD(conn_list, conn);

/*
 * What the engine asks of the application it serves (worker/app/), set
 * once before the first connection: the engine includes nothing of it.
 */
struct http_app {
    /* A complete request (or one answered before its body): queue its
     * response, or set c->job and answer later. */
    void (*handle)(struct conn *c);
    /* The status the request gets whatever its body, when it is a
     * refusal known from the head alone (Expect: 100-continue is then
     * answered with it); 0 when the body should be read first. */
    int (*refusal)(const struct conn *c);
    /* A final response's head was queued: <status>, <bytes> of body. */
    void (*answered)(const struct conn *c, int status, uint64_t bytes);
    /* <c> is being freed: let go of what the application holds for it
     * (a running job's result is dropped). */
    void (*conn_closed)(struct conn *c);
};

/*
 * What the engine (and the application through it) tells the process,
 * set by the top level (worker.c) before the first connection.
 */
struct http_hooks {
    /* nconns, in_flight or served changed: the load report is due. */
    void (*load_changed)(void);
    /* A connection was freed (after load_changed): room for another,
     * and perhaps the last one of a drain. */
    void (*conn_closed)(void);
    /* The loop is about to be blocked for a while (a long /cpu): the
     * master should hear of the load first. */
    void (*blocking)(void);
};

/* The engine's state: one per process, `engine`. */
struct engine {
    struct ev_loop *loop;
    struct limits lim; /* from the master's flags */
    pid_t pid;         /* getpid() is a system call: asked once */
    bool trace;        /* log each step (--trace, handoffctl) */
    bool draining;     /* answer with Connection: close, shut idle */
    bool log_fields;   /* keep Referer, User-Agent: a log wants them */
    /* By listener index: HTTPS (the master's LISTEN, LISTENER). */
    bool tls_listener[CHAN_LISTENERS_MAX];
    const struct http_app *app; /* set before the first connection */
    struct http_hooks hooks;    /* set before the first connection */
    struct conn_list pending;   /* adopted, ACK not yet sent, FIFO */
    struct conn_list conns;     /* every connection */
    /* The table of connection states shared with the master (conn_state.h),
     * of rehand_slots, or NULL. rehand_return: draining, idle
     * connections are given back to the master rather than closed. */
    rehand_word *rehand;
    uint32_t rehand_slots;
    bool rehand_return;
    int epoll_fd; /* the loop's epoll set, or -1: not epoll, not found */
    unsigned nconns;
    unsigned in_flight;
    uint64_t served;
    uint64_t bytes_in, bytes_out; /* from and to clients, files included */

    /* Scratch space for one callback at a time: reads land in rbuf, and
     * responses go to wbuf while the connection has no backlog, so the
     * common case writes them with one send() and never allocates. */
    char rbuf[64 * 1024];
    char wbuf[64 * 1024];
    size_t wlen;
    struct conn *wowner;
};

#endif
