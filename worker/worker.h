/*
 * worker.h: a worker process's state, shared by the files of worker/.
 *
 * A worker receives connections from the master over its channel (fd 3),
 * acknowledges each one before reading a byte of it, then serves HTTP/1.1
 * on it with llhttp. Its files:
 *   main.c      flags, start-up, the loop and exit
 *   worker.c    the process-wide state; draining
 *   channel.c   the channel: CONN in, ACK and READY out, SHUTDOWN
 *   listen.c    accepting by itself (policies none and reuseport)
 *   report.c    load reports and the heartbeat
 *   conn.c      a connection's life: reading, writing, keep-alive, closing
 *   http.c      llhttp callbacks: a request's method, target and headers
 *   routes.c    what each request gets
 *   pool.c      threads that run /cpu?offload=1 off the loop
 *   response.c  status lines and headers
 *   static.c    files under --root: conditional requests, ranges
 *   mime.c      Content-Type from /etc/mime.types
 *   accesslog.c the access log (combined format)
 */
#ifndef HS_WORKER_WORKER_H
#define HS_WORKER_WORKER_H

#include <ev.h>
#include <llhttp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include "chan.h"
#include "container_of.h"
#include "http_limits.h"

struct pool_job;

#define URL_INLINE 128           /* request targets up to this stay inline */
#define URL_MAX 8192             /* longer targets get 414 */
#define HEADER_NAME_KEPT 32      /* longer names cannot be ones we look at */
#define HEADER_VALUE_KEPT 1024   /* longer kept values are treated as bad */
#define METHOD_MAX 64            /* an unknown method this long: 501 anyway */
#define CHUNK_EXT_MAX 4096       /* extensions of one chunk; more gets 413 */
#define OUT_HIGH (256 * 1024)    /* stop parsing while this much is unsent */
#define LINGER_TIMEOUT 2.0       /* seconds to drain input before closing */
#define DRAIN_ORPHAN_TIMEOUT 5.0 /* master gone: seconds left to finish */
#define DRAIN_IDLE_GRACE 1.0     /* draining: idle this long, then closed */

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
    HDR_REFERER,    /* kept only with an access log */
    HDR_USER_AGENT, /* kept only with an access log */
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
    bool method_done; /* llhttp parsed the method (c->parser.method) */
    bool headers_done;
    bool debug;       /* X-Handoff-Debug: say which worker and request */
    int error_status; /* set by a callback that rejects the request */
    /* A chunk-size line being read by http.c, not llhttp (its strict mode
     * rejects valid chunk extensions): where in its grammar, the digits
     * and extension bytes seen, and whether it is the last chunk's. */
    uint8_t chunk_state;
    bool chunk_last;
    bool chunk_sized; /* a digit of the size was seen */
    size_t chunk_ext_len;
    /* llhttp refused the method: the request line is read on to tell a
     * well-formed method we do not know (501) from a malformed one. */
    bool method_sniff;
    size_t method_len; /* token characters of the method seen */
};

enum conn_state {
    CONN_ACK_PENDING, /* received; its ACK has not left yet: do not read */
    CONN_OPEN,        /* serving */
    CONN_LINGER,      /* output done, write side shut, draining input */
};

struct conn {
    TAILQ_ENTRY(conn) link;         /* worker.conns */
    TAILQ_ENTRY(conn) pending_link; /* worker.pending, while ACK_PENDING */
    int fd;                         /* owned */
    uint64_t id;                    /* the master's C number */
    struct chan_peer peer;
    uint64_t ack_index; /* outbox message number of our ACK */
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
    int file_fd;      /* owned: a file being sent, or -1 */
    off_t file_off;
    uint64_t file_left;
    const char *feed_start; /* the chunk llhttp is parsing */
    const char *feed_end;
    const char *msg_begin; /* first byte of the request, if in this chunk */
    char feed_prev;        /* the byte before it */
    uint8_t pause_why;     /* why a callback paused llhttp (http.c) */
    unsigned requests;
    size_t lingered; /* bytes discarded while lingering */
    /* The pool job computing this connection's current response, or NULL.
     * While set, the connection is pinned: nothing is parsed, no request
     * timeout runs, draining leaves it alone; only a client that resets
     * the connection (or stops reading earlier responses) frees it, and
     * then a running job stops early and its result is dropped when it
     * comes back. */
    struct pool_job *job;
    bool job_eof;     /* EOF seen while the job ran: read it again after */
    bool msg_open;    /* a request has begun, not completed */
    bool busy;        /* counted in worker.in_flight */
    bool paused;      /* parser paused: output backlog */
    bool close_after; /* close once the output is sent */
    bool linger;      /* drain input before closing */
    bool read_eof;
};

TAILQ_HEAD(conn_list, conn);

struct worker {
    struct ev_loop *loop;
    uint32_t id;
    unsigned slot;
    int chan_fd;
    bool trace;
    pid_t pid;              /* getpid() is a system call: asked once */
    struct limits lim;      /* from the master's flags */
    const char *root;       /* --root, absolute, or NULL */
    bool demo_routes;       /* --demo-routes: / and /cpu answer the demo */
    const char *access_log; /* --access-log path, "-" for stderr, or NULL */
    int root_fd;            /* O_PATH directory of root, or -1 */

    ev_io chan_r, chan_w;
    ev_timer chan_retry;
    ev_prepare prepare_w;
    struct chan_outbox out;
    struct conn_list pending; /* waiting for their ACK to leave, FIFO */
    struct conn_list conns;   /* every connection */
    unsigned nconns;
    unsigned in_flight;
    uint64_t served;

    bool draining;    /* no new connections; exit when the last closes */
    bool master_gone; /* channel closed */
    ev_timer orphan_w;
    ev_signal sig_term, sig_int;

    ev_timer heartbeat_w, report_w;
    ev_tstamp heartbeat_due;
    ev_tstamp last_report;
    bool report_dirty;
    uint32_t lag_us;

    /* Scratch space for one callback at a time: reads land in rbuf, and
     * responses go to wbuf while the connection has no backlog, so the
     * common case writes them with one send() and never allocates. */
    char rbuf[64 * 1024];
    char wbuf[64 * 1024];
    size_t wlen;
    struct conn *wowner;
};

extern struct worker worker;

/* main.c */
void worker_drain(const char *why, bool tell_master);
void worker_maybe_exit(void);

/* buf.c */
int buf_append(struct buf *b, const void *data, size_t len);
size_t buf_pending(const struct buf *b);
void buf_free(struct buf *b);

/* listen.c */
void listen_adopt(int fd);
void listen_stop(void);
void listen_room(void);

/* channel.c */
void channel_start(void);
void channel_send(const struct chan_msg *msg);
void channel_flush(void);
void channel_close(void);

/* report.c */
void report_start(void);
void report_changed(void);
void report_flush(void);
void report_now(void);
void report_stop(void);

/* conn.c */
struct conn *conn_new(int fd, const struct chan_msg *msg);
void conn_activate(struct conn *c);
void conn_free(struct conn *c);
void conn_drain(struct conn *c);
void conn_feed(struct conn *c, const char *data, size_t len);
void conn_out(struct conn *c, const void *data, size_t len);
void conn_out_file(struct conn *c, int fd, off_t off, uint64_t len);
void conn_job_done(struct conn *c);

/* http.c */
void http_init(struct conn *c);
void http_reset_request(struct request *r);
const char *http_url(const struct request *r, size_t *len);
/* True for a HEAD request, whose responses have no body. */
bool http_is_head(const struct conn *c);
/* The kept value of header <h> (trimmed), or NULL if absent. */
const char *http_header(const struct conn *c, enum hdr h, size_t *len);
/* Parses <len> bytes; returns the number consumed (less when paused). */
size_t http_feed(struct conn *c, const char *data, size_t len);
void http_eof(struct conn *c);
bool http_in_head(const struct conn *c);

/* routes.c */
void routes_handle(struct conn *c);
/* The status the request gets whatever its body, when it is a refusal
 * known from the head alone; 0 when the body should be read first. */
int routes_refusal(const struct conn *c);

/* accesslog.c */
int accesslog_open(void);
void accesslog_write(const struct conn *c, int status, uint64_t bytes);
void accesslog_flush(void);
void accesslog_reopen(void);
void accesslog_close(void);

/* static.c */
int static_open_root(void);
void static_serve(struct conn *c, const char *path, size_t plen);

/* mime.c */
int mime_load(const char *path);
const char *mime_type(const char *name, size_t len);
void mime_free(void);

/* response.c */
void response_simple(struct conn *c, int status, const char *ctype,
                     const char *body, size_t body_len, const char *extra);
void response_error(struct conn *c, int status);
/* The status line and headers only; the caller queues <body_len> bytes. */
void response_head(struct conn *c, int status, const char *ctype,
                   uint64_t body_len, const char *extra, size_t extra_len);
/* "Sun, 06 Nov 1994 08:49:37 GMT" for <t>; <buf> holds 30 bytes. */
void response_http_date(time_t t, char *buf, size_t len);

#endif
