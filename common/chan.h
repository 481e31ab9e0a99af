/*
 * chan.h: the master<->worker channel.
 *
 * Each worker has one AF_UNIX SOCK_SEQPACKET socketpair with the master.
 * Everything on it is a fixed-size struct chan_msg. A record (one sendmsg)
 * carries 1..CHAN_BATCH_MAX messages and, as SCM_RIGHTS, one fd for each
 * message flagged CHAN_F_FD, in message order. SEQPACKET keeps record
 * boundaries and sends a record whole or not at all, so a message and its
 * fd (CONN and LISTEN carry one) always arrive together and a send is never
 * partial: after EAGAIN the same record is simply sent again, and no fd can go
 * out twice.
 *
 * The layout is documented in docs/architecture.md; keep the two in step.
 */
#ifndef HS_COMMON_CHAN_H
#define HS_COMMON_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHAN_VERSION 1
#define CHAN_BATCH_MAX 64 /* messages, and so fds, per record */
/* After a send that failed for want of kernel memory (ENOBUFS, ENOMEM,
 * ETOOMANYREFS), which never makes the socket writable: the retry. */
#define CHAN_RETRY_S 0.05
/* Batches of records read from a channel per loop turn at most (each up
 * to CHAN_RECV_BATCH records), so one busy peer cannot starve the rest. */
#define CHAN_READ_BATCHES 8

enum chan_type {
    CHAN_CONN = 1,      /* master->worker: a connection; its fd rides along */
    CHAN_SHUTDOWN = 2,  /* master->worker: finish in-flight work and exit */
    CHAN_READY = 3,     /* worker->master: loop running, send connections */
    CHAN_ACK = 4,       /* worker->master: CONN taken (accepted) or refused */
    CHAN_LOAD = 5,      /* worker->master: load report */
    CHAN_DRAINING = 6,  /* worker->master: draining on its own; send no more */
    CHAN_LISTEN = 7,    /* master->worker: accept on this socket yourself
                           (policies none and reuseport); its fd rides along */
    CHAN_REOPEN = 8,    /* master->worker: reopen the access log (SIGUSR1) */
    CHAN_TRACE = 9,     /* master->worker: trace on (u.trace.on = 1) or off */
    CHAN_STATS = 10,    /* worker->master: three of its counters (below) */
    CHAN_LISTENER = 11, /* master->worker: listener u.peer.listener is at
                           u.peer (family 0: it closed); no fd */
    CHAN_TICKET = 12,   /* master->worker: a part of the session-ticket keys
                           (below); the last part installs them all */
};
#define CHAN_TYPE_MAX CHAN_TICKET

/* Why a worker refused a CONN (ACK with accepted == 0). */
enum chan_refusal {
    CHAN_REFUSE_OTHER = 0,
    CHAN_REFUSE_FULL = 1,     /* no room (fd limit, memory, connection cap) */
    CHAN_REFUSE_DRAINING = 2, /* stopping */
};

#define CHAN_F_FD 0x0001  /* an fd rides with this message */
#define CHAN_F_TLS 0x0002 /* LISTEN, LISTENER: the listener is HTTPS */

/* A peer address without the padding of struct sockaddr_storage. */
struct chan_peer {
    uint8_t family;   /* AF_INET, AF_INET6, or 0 when unknown */
    uint8_t listener; /* CONN: the index of the listener it came in on;
                         LISTEN, LISTENER: the listener's */
    uint16_t port;    /* host byte order */
    uint8_t addr[16]; /* IPv4 uses the first 4 bytes */
};

/* Listeners a worker counts requests by (the master's indexes). */
#define CHAN_LISTENERS_MAX 16
/* 1xx to 5xx. */
#define CHAN_STATUS_CLASSES 5
/* The request-latency histogram's upper bounds, in microseconds; one
 * more bucket counts what is above the last. */
#define CHAN_LATENCY_BOUNDS_US                                                 \
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,      \
        500000, 1000000, 2500000, 10000000
#define CHAN_LATENCY_BOUNDS 15
#define CHAN_LATENCY_BUCKETS (CHAN_LATENCY_BOUNDS + 1)

/*
 * A worker's counters since it started, as words of a vector that
 * STATS messages carry three at a time (u.stats.v, conn_id: the index
 * of the first): cumulative, so a lost or coalesced report loses
 * nothing, and a report sends only the triples that changed. Counted
 * per request as a few increments; the master adds up its workers'.
 */
struct chan_stats {
    uint64_t bytes_in;  /* read from clients */
    uint64_t bytes_out; /* written to them, files included */
    /* Responses: the time from the request's first byte to its response
     * being queued, summed and by bucket (not cumulative: bucket i
     * counts those up to bound i and above bound i - 1). */
    uint64_t latency_sum_us;
    uint64_t latency[CHAN_LATENCY_BUCKETS];
    /* Responses by listener and by status class (1xx is [0]). */
    uint64_t requests[CHAN_LISTENERS_MAX][CHAN_STATUS_CLASSES];
};

#define CHAN_STATS_PER_MSG 3
#define CHAN_STATS_WORDS (sizeof(struct chan_stats) / sizeof(uint64_t))

/*
 * TLS session-ticket keys, made by the master and the same in every
 * worker, so that a session made on one resumes on any: each key is a
 * 16-byte name, a 32-byte HMAC-SHA256 key and a 32-byte AES-256 key
 * (nginx's 80-byte format); [0] encrypts new tickets, all of them
 * decrypt. A set travels as TICKET messages, CHAN_TICKET_PART bytes of
 * one key each in u.raw; conn_id says which (chan_ticket_id()).
 */
#define CHAN_TICKET_KEY_LEN 80
#define CHAN_TICKET_KEYS_MAX 3
#define CHAN_TICKET_PART 24
#define CHAN_TICKET_PARTS                                                      \
    ((CHAN_TICKET_KEY_LEN + CHAN_TICKET_PART - 1) / CHAN_TICKET_PART)

struct chan_tickets {
    uint8_t key[CHAN_TICKET_KEYS_MAX][CHAN_TICKET_KEY_LEN];
    unsigned n; /* keys in use, 1..CHAN_TICKET_KEYS_MAX; 0: none yet */
};

struct chan_load {
    uint32_t open_conns; /* connections the worker holds */
    uint32_t in_flight;  /* requests begun and not yet fully answered */
    uint64_t served;     /* requests answered since the worker started */
    uint32_t lag_us;     /* latest event-loop lag, microseconds */
    uint32_t rss_kib;    /* resident set size, KiB */
};

struct chan_msg {
    uint8_t version; /* CHAN_VERSION */
    uint8_t type;    /* enum chan_type */
    uint16_t flags;  /* CHAN_F_* */
    uint32_t worker_id;
    uint64_t conn_id; /* CONN, ACK: the master's connection number */
    union {
        struct chan_peer peer; /* CONN */
        struct {
            struct chan_peer peer; /* as u.peer */
            /* The connection's slot + 1 in the worker's table of
             * connection states (conn_state.h), or 0: none. */
            uint32_t rehand;
        } conn; /* CONN */
        struct {
            uint32_t rehand; /* 1: give idle connections back (conn_state.h) */
        } shutdown;          /* SHUTDOWN */
        struct {
            uint32_t accepted;   /* 1 taken, 0 refused */
            uint32_t reason;     /* enum chan_refusal, when refused */
            uint32_t open_conns; /* the worker's, counting this one if taken */
            uint32_t in_flight;  /* the worker's requests in progress */
        } ack;                   /* ACK */
        struct chan_load load;   /* LOAD */
        struct {
            uint32_t on;
        } trace; /* TRACE */
        struct {
            uint64_t v[CHAN_STATS_PER_MSG];
        } stats; /* STATS: words conn_id .. conn_id + 2 */
        uint8_t raw[24];
    } u;
};

_Static_assert(sizeof(struct chan_peer) == 20, "chan_peer is wire format");
_Static_assert(sizeof(struct chan_load) == 24, "chan_load is wire format");
_Static_assert(sizeof(struct chan_msg) == 40, "chan_msg is wire format");
_Static_assert(offsetof(struct chan_msg, u.conn.rehand) == 36,
               "CONN's rehand slot is wire format");
_Static_assert(CHAN_STATS_WORDS % CHAN_STATS_PER_MSG == 0,
               "STATS messages carry whole triples");

/* Results of channel I/O. */
enum chan_status {
    CHAN_OK = 0,     /* done */
    CHAN_AGAIN = 1,  /* the socket would block; wait for it */
    CHAN_EOF = 2,    /* the peer closed its end */
    CHAN_ERROR = -1, /* failed; errno says why (EPROTO: malformed record) */
};

struct sockaddr;

/* <sa> (AF_INET or AF_INET6) as a chan_peer; family 0 for anything else. */
void chan_peer_from(struct chan_peer *p, const struct sockaddr *sa);

/* Fills the fixed part of a message. */
void chan_msg_init(struct chan_msg *m, enum chan_type type, uint32_t worker_id);

/*
 * Messages waiting to be sent, in order. The outbox never owns the fds it
 * refers to: their owner keeps them open until the peer acknowledges.
 */
struct chan_outbox {
    struct chan_msg *msgs; /* owned */
    int *fds;              /* owned array; fds[i] pairs with msgs[i] or -1 */
    size_t head;           /* first unsent message */
    size_t tail;           /* one past the last message */
    size_t cap;
    uint64_t sent; /* messages ever sent; indexes acknowledgements */
    /* Optional: told of each record sent, for trace output. */
    void (*on_record)(void *arg, const struct chan_msg *msgs, size_t n,
                      size_t nfds);
    void *on_record_arg;
};

/* Empty outbox; on_record is cleared too. */
void chan_outbox_init(struct chan_outbox *ob);
void chan_outbox_free(struct chan_outbox *ob);
static inline size_t
chan_outbox_len(const struct chan_outbox *ob)
{
    return ob->tail - ob->head;
}

/*
 * Queues <m>, with <fd> attached when fd >= 0. Returns 0, or -1 (ENOMEM).
 * The message becomes number ob->sent + chan_outbox_len(ob) - 1.
 */
int chan_outbox_push(struct chan_outbox *ob, const struct chan_msg *m, int fd);

/* Drops unsent messages (the peer is gone). */
void chan_outbox_clear(struct chan_outbox *ob);

/*
 * Sends queued messages as records of up to CHAN_BATCH_MAX messages until
 * the outbox is empty (CHAN_OK), the socket is full (CHAN_AGAIN: arm a
 * write watcher and call again) or an error (CHAN_ERROR, errno set;
 * ENOBUFS and ETOOMANYREFS are transient but never signal writability).
 * EINTR is retried.
 */
enum chan_status chan_outbox_flush(int sock, struct chan_outbox *ob);

/* One received record, messages with their fds. */
struct chan_record {
    struct chan_msg msgs[CHAN_BATCH_MAX];
    int fds[CHAN_BATCH_MAX]; /* fds[i] for msgs[i], or -1; owned by caller */
    size_t count;
};

/*
 * Receives one record with MSG_CMSG_CLOEXEC. On CHAN_OK the caller owns
 * every fds[i] >= 0. A malformed record gives CHAN_ERROR with errno EPROTO,
 * after closing any fds that came with it. When the kernel dropped fds
 * (MSG_CTRUNC, typically EMFILE here), the messages that lost theirs get
 * fds[i] == -1; the caller refuses them so that their sender keeps them.
 */
enum chan_status chan_recv(int sock, struct chan_record *rec);

/* Several records with one recvmmsg: what chan_recv is, a loop turn's
 * worth at a time, without the read that only finds EAGAIN. */
#define CHAN_RECV_BATCH 8

struct chan_batch {
    struct chan_record rec[CHAN_RECV_BATCH];
    bool bad[CHAN_RECV_BATCH]; /* malformed: its fds were closed */
    size_t count;
    bool eof; /* the peer closed after these records */
};

/*
 * Receives up to CHAN_RECV_BATCH records. CHAN_OK: b->count >= 1 (check
 * b->bad[i] for each, and b->eof); CHAN_AGAIN, CHAN_EOF: none; CHAN_ERROR:
 * errno says why.
 */
enum chan_status chan_recv_batch(int sock, struct chan_batch *b);

/*
 * The pure part of chan_recv, for tests and fuzzing: checks <len> bytes at
 * <buf> (which must be suitably aligned messages) and pairs <nfds> fds with
 * the flagged messages. <fds_truncated> allows fewer fds than flags.
 * Returns the message count, or -1 when the record is malformed.
 */
int chan_decode(const void *buf, size_t len, size_t nfds, bool fds_truncated,
                const int *fds, struct chan_record *rec);

/*
 * STATS: the triples of <now> that differ from <sent> as messages into
 * <out> (room for CHAN_STATS_WORDS / CHAN_STATS_PER_MSG), <sent> updated
 * to match; how many.
 */
size_t chan_stats_encode(const struct chan_stats *now, struct chan_stats *sent,
                         uint32_t worker_id, struct chan_msg *out);
/* Stores a STATS message's words in <s>. chan_decode() has checked its
 * index. */
void chan_stats_apply(struct chan_stats *s, const struct chan_msg *m);
/* <into> += <s>, word by word. */
void chan_stats_add(struct chan_stats *into, const struct chan_stats *s);
/* The latency bucket of <us> microseconds. */
unsigned chan_latency_bucket(uint64_t us);

/* TICKET: the messages that carry <t> into <out> (room for
 * CHAN_TICKET_KEYS_MAX * CHAN_TICKET_PARTS); how many. */
size_t chan_ticket_encode(const struct chan_tickets *t, uint32_t worker_id,
                          struct chan_msg *out);
/* Stores a TICKET message's part in <staging>; true when it was the last
 * one of its set, which <staging> then holds whole. chan_decode() has
 * checked its numbers. */
bool chan_ticket_apply(struct chan_tickets *staging, const struct chan_msg *m);

/* A name for trace and logs, e.g. "CONN". */
const char *chan_type_name(unsigned type);

#endif
