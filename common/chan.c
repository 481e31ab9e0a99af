/*
 * chan.c: fixed-size messages with SCM_RIGHTS over a SOCK_SEQPACKET pair.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "fdutil.h"

void
chan_peer_from(struct chan_peer *p, const struct sockaddr *sa)
{
    memset(p, 0, sizeof(*p));
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *sin = (const void *) sa;

        p->family = AF_INET;
        p->port = ntohs(sin->sin_port);
        memcpy(p->addr, &sin->sin_addr, 4);
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const void *) sa;

        p->family = AF_INET6;
        p->port = ntohs(sin6->sin6_port);
        memcpy(p->addr, &sin6->sin6_addr, 16);
    }
}

void
chan_msg_init(struct chan_msg *m, enum chan_type type, uint32_t worker_id)
{
    memset(m, 0, sizeof(*m));
    m->version = CHAN_VERSION;
    m->type = (uint8_t) type;
    m->worker_id = worker_id;
}

const char *
chan_type_name(unsigned type)
{
    switch (type) {
    case CHAN_CONN:
        return "CONN";
    case CHAN_SHUTDOWN:
        return "SHUTDOWN";
    case CHAN_READY:
        return "READY";
    case CHAN_ACK:
        return "ACK";
    case CHAN_LOAD:
        return "LOAD";
    case CHAN_DRAINING:
        return "DRAINING";
    case CHAN_LISTEN:
        return "LISTEN";
    case CHAN_STATS:
        return "STATS";
    case CHAN_LISTENER:
        return "LISTENER";
    case CHAN_REOPEN:
        return "REOPEN";
    case CHAN_TRACE:
        return "TRACE";
    case CHAN_TICKET:
        return "TICKET";
    default:
        return "?";
    }
}

void
chan_outbox_init(struct chan_outbox *ob)
{
    memset(ob, 0, sizeof(*ob));
}

void
chan_outbox_free(struct chan_outbox *ob)
{
    free(ob->msgs);
    free(ob->fds);
    ob->msgs = NULL;
    ob->fds = NULL;
    ob->head = ob->tail = ob->cap = 0;
}

void
chan_outbox_clear(struct chan_outbox *ob)
{
    ob->head = ob->tail = 0;
}

int
chan_outbox_push(struct chan_outbox *ob, const struct chan_msg *m, int fd)
{
    if (ob->tail == ob->cap) {
        size_t len = chan_outbox_len(ob);

        if (ob->head > 0 && len <= ob->cap / 2) {
            /* Reuse the sent prefix rather than grow. */
            memmove(ob->msgs, ob->msgs + ob->head, len * sizeof(*ob->msgs));
            memmove(ob->fds, ob->fds + ob->head, len * sizeof(*ob->fds));
        } else {
            size_t cap = ob->cap ? ob->cap * 2 : 16;
            struct chan_msg *msgs = malloc(cap * sizeof(*msgs));
            int *fds = malloc(cap * sizeof(*fds));

            if (msgs == NULL || fds == NULL) {
                free(msgs);
                free(fds);
                errno = ENOMEM;
                return -1;
            }
            if (len > 0) {
                memcpy(msgs, ob->msgs + ob->head, len * sizeof(*msgs));
                memcpy(fds, ob->fds + ob->head, len * sizeof(*fds));
            }
            free(ob->msgs);
            free(ob->fds);
            ob->msgs = msgs;
            ob->fds = fds;
            ob->cap = cap;
        }
        ob->head = 0;
        ob->tail = len;
    }
    ob->msgs[ob->tail] = *m;
    ob->msgs[ob->tail].flags =
        (uint16_t) (fd >= 0 ? m->flags | CHAN_F_FD : m->flags & ~CHAN_F_FD);
    ob->fds[ob->tail] = fd;
    ob->tail++;
    return 0;
}

/* Sends msgs[head, head+n) as one record. */
static enum chan_status
chan_send_record(int sock, struct chan_outbox *ob, size_t n)
{
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * CHAN_BATCH_MAX)];
    } control;
    int fds[CHAN_BATCH_MAX];
    size_t nfds = 0, i;
    struct iovec iov;
    struct msghdr mh;
    ssize_t rc;

    for (i = 0; i < n; i++) {
        if (ob->fds[ob->head + i] >= 0) {
            fds[nfds++] = ob->fds[ob->head + i];
        }
    }
    iov.iov_base = ob->msgs + ob->head;
    iov.iov_len = n * sizeof(struct chan_msg);
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        struct cmsghdr *cm;

        memset(&control, 0, sizeof(control));
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
        cm = CMSG_FIRSTHDR(&mh);
        if (cm == NULL) { /* cannot be: the buffer fits; for the compiler */
            errno = EINVAL;
            return CHAN_ERROR;
        }
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
        /* memcpy, not a cast: CMSG_DATA need not be aligned for int. */
        memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
    }
    do {
        rc = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
    } while (rc == -1 && errno == EINTR);
    if (rc == -1) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? CHAN_AGAIN
                                                       : CHAN_ERROR;
    }
    if ((size_t) rc != iov.iov_len) {
        /* Cannot happen on SEQPACKET; refuse to guess what arrived. */
        errno = EPROTO;
        return CHAN_ERROR;
    }
    if (ob->on_record != NULL) {
        ob->on_record(ob->on_record_arg, ob->msgs + ob->head, n, nfds);
    }
    return CHAN_OK;
}

enum chan_status
chan_outbox_flush(int sock, struct chan_outbox *ob)
{
    while (ob->head < ob->tail) {
        size_t n = chan_outbox_len(ob);
        enum chan_status st;

        if (n > CHAN_BATCH_MAX) {
            n = CHAN_BATCH_MAX;
        }
        st = chan_send_record(sock, ob, n);
        if (st != CHAN_OK) {
            return st;
        }
        ob->head += n;
        ob->sent += n;
    }
    ob->head = ob->tail = 0;
    return CHAN_OK;
}

/* TICKET's conn_id: part | key << 8 | keys in the set << 16. */
static uint64_t
chan_ticket_id(unsigned part, unsigned key, unsigned n)
{
    return (uint64_t) part | (uint64_t) key << 8 | (uint64_t) n << 16;
}

static bool
chan_ticket_valid(uint64_t id)
{
    uint64_t part = id & 0xff, key = (id >> 8) & 0xff, n = id >> 16;

    return n >= 1 && n <= CHAN_TICKET_KEYS_MAX && key < n
           && part < CHAN_TICKET_PARTS;
}

size_t
chan_ticket_encode(const struct chan_tickets *t, uint32_t worker_id,
                   struct chan_msg *out)
{
    size_t k = 0;
    unsigned i, p;

    for (i = 0; i < t->n && i < CHAN_TICKET_KEYS_MAX; i++) {
        for (p = 0; p < CHAN_TICKET_PARTS; p++) {
            size_t off = (size_t) p * CHAN_TICKET_PART;
            size_t len = CHAN_TICKET_KEY_LEN - off < CHAN_TICKET_PART
                             ? CHAN_TICKET_KEY_LEN - off
                             : CHAN_TICKET_PART;

            chan_msg_init(&out[k], CHAN_TICKET, worker_id);
            out[k].conn_id = chan_ticket_id(p, i, t->n);
            memcpy(out[k].u.raw, t->key[i] + off, len);
            k++;
        }
    }
    return k;
}

bool
chan_ticket_apply(struct chan_tickets *staging, const struct chan_msg *m)
{
    unsigned part = (unsigned) (m->conn_id & 0xff);
    unsigned key = (unsigned) ((m->conn_id >> 8) & 0xff);
    unsigned n = (unsigned) (m->conn_id >> 16);
    size_t off = (size_t) part * CHAN_TICKET_PART;
    size_t len = CHAN_TICKET_KEY_LEN - off < CHAN_TICKET_PART
                     ? CHAN_TICKET_KEY_LEN - off
                     : CHAN_TICKET_PART;

    memcpy(staging->key[key] + off, m->u.raw, len);
    staging->n = n;
    return key == n - 1 && part == CHAN_TICKET_PARTS - 1;
}

int
chan_decode(const void *buf, size_t len, size_t nfds, bool fds_truncated,
            const int *fds, struct chan_record *rec)
{
    size_t count, i, used = 0;

    if (len == 0 || len % sizeof(struct chan_msg) != 0
        || len / sizeof(struct chan_msg) > CHAN_BATCH_MAX
        || nfds > CHAN_BATCH_MAX) {
        return -1;
    }
    count = len / sizeof(struct chan_msg);
    if (buf != rec->msgs) {
        memcpy(rec->msgs, buf, len);
    }
    for (i = 0; i < count; i++) {
        const struct chan_msg *m = &rec->msgs[i];

        if (m->version != CHAN_VERSION || m->type == 0
            || m->type > CHAN_TYPE_MAX
            || (m->flags & ~(CHAN_F_FD | CHAN_F_TLS)) != 0) {
            return -1;
        }
        /* CONN and LISTEN carry an fd, always, unless truncated. */
        if ((m->type == CHAN_CONN || m->type == CHAN_LISTEN)
            != ((m->flags & CHAN_F_FD) != 0)) {
            return -1;
        }
        /* STATS: a whole triple of the vector. */
        if (m->type == CHAN_STATS
            && (m->conn_id % CHAN_STATS_PER_MSG != 0
                || m->conn_id >= CHAN_STATS_WORDS)) {
            return -1;
        }
        if (m->type == CHAN_TICKET && !chan_ticket_valid(m->conn_id)) {
            return -1;
        }
        rec->fds[i] = -1;
        if (m->flags & CHAN_F_FD) {
            if (used < nfds) {
                rec->fds[i] = fds[used++];
            } else if (!fds_truncated) {
                return -1;
            }
        }
    }
    if (used != nfds) {
        return -1;
    }
    rec->count = count;
    return (int) count;
}

/* Collects the fds of every SCM_RIGHTS cmsg; closes any beyond <max>. */
static size_t
chan_collect_fds(struct msghdr *mh, int *fds, size_t max, bool *overflow)
{
    struct cmsghdr *cm;
    size_t n = 0;

    *overflow = false;
    for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
        size_t k, count;

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS
            || cm->cmsg_len < CMSG_LEN(0)) {
            continue;
        }
        count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (k = 0; k < count; k++) {
            int fd;

            memcpy(&fd, CMSG_DATA(cm) + k * sizeof(int), sizeof(int));
            if (n < max) {
                fds[n++] = fd;
            } else {
                fd_close(fd);
                *overflow = true;
            }
        }
    }
    return n;
}

union chan_control {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * CHAN_BATCH_MAX)];
};

/*
 * Takes the fds of a received record and decodes it. Returns true, or
 * false (all its fds closed) when it is malformed.
 */
static bool
chan_finish_record(struct msghdr *mh, size_t len, struct chan_record *rec)
{
    int fds[CHAN_BATCH_MAX];
    size_t nfds, i;
    bool overflow;

    nfds = chan_collect_fds(mh, fds, CHAN_BATCH_MAX, &overflow);
    if (overflow || (mh->msg_flags & MSG_TRUNC)
        || chan_decode(rec->msgs, len, nfds, (mh->msg_flags & MSG_CTRUNC) != 0,
                       fds, rec)
               < 0) {
        for (i = 0; i < nfds; i++) {
            fd_close(fds[i]);
        }
        return false;
    }
    return true;
}

static void
chan_prepare(struct msghdr *mh, struct iovec *iov, struct chan_record *rec,
             union chan_control *control)
{
    iov->iov_base = rec->msgs;
    iov->iov_len = sizeof(rec->msgs);
    memset(mh, 0, sizeof(*mh));
    mh->msg_iov = iov;
    mh->msg_iovlen = 1;
    mh->msg_control = control->buf;
    mh->msg_controllen = sizeof(control->buf);
}

enum chan_status
chan_recv(int sock, struct chan_record *rec)
{
    union chan_control control;
    struct iovec iov;
    struct msghdr mh;
    ssize_t rc;

    chan_prepare(&mh, &iov, rec, &control);
    do {
        rc = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
    } while (rc == -1 && errno == EINTR);
    if (rc == -1) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? CHAN_AGAIN
                                                       : CHAN_ERROR;
    }
    if (rc == 0) {
        /* SEQPACKET has no empty records: zero bytes is the peer's EOF. */
        return CHAN_EOF;
    }
    if (!chan_finish_record(&mh, (size_t) rc, rec)) {
        errno = EPROTO;
        return CHAN_ERROR;
    }
    return CHAN_OK;
}

enum chan_status
chan_recv_batch(int sock, struct chan_batch *b)
{
    static union chan_control control[CHAN_RECV_BATCH];
    struct mmsghdr mm[CHAN_RECV_BATCH];
    struct iovec iov[CHAN_RECV_BATCH];
    size_t i;
    int rc;

    for (i = 0; i < CHAN_RECV_BATCH; i++) {
        chan_prepare(&mm[i].msg_hdr, &iov[i], &b->rec[i], &control[i]);
        mm[i].msg_len = 0;
    }
    b->count = 0;
    b->eof = false;
    do {
        rc = recvmmsg(sock, mm, CHAN_RECV_BATCH,
                      MSG_CMSG_CLOEXEC | MSG_DONTWAIT, NULL);
    } while (rc == -1 && errno == EINTR);
    if (rc == -1) {
        return errno == EAGAIN || errno == EWOULDBLOCK ? CHAN_AGAIN
                                                       : CHAN_ERROR;
    }
    for (i = 0; i < (size_t) rc; i++) {
        if (mm[i].msg_len == 0) {
            b->eof = true;
            break;
        }
        b->bad[i] =
            !chan_finish_record(&mm[i].msg_hdr, mm[i].msg_len, &b->rec[i]);
        b->count++;
    }
    return b->count > 0 ? CHAN_OK : CHAN_EOF;
}

size_t
chan_stats_encode(const struct chan_stats *now, struct chan_stats *sent,
                  uint32_t worker_id, struct chan_msg *out)
{
    const uint64_t *a = (const uint64_t *) now;
    uint64_t *b = (uint64_t *) sent;
    size_t i, n = 0;

    for (i = 0; i < CHAN_STATS_WORDS; i += CHAN_STATS_PER_MSG) {
        if (memcmp(a + i, b + i, sizeof(out->u.stats.v)) == 0) {
            continue;
        }
        chan_msg_init(&out[n], CHAN_STATS, worker_id);
        out[n].conn_id = i;
        memcpy(out[n].u.stats.v, a + i, sizeof(out->u.stats.v));
        memcpy(b + i, a + i, sizeof(out->u.stats.v));
        n++;
    }
    return n;
}

void
chan_stats_apply(struct chan_stats *s, const struct chan_msg *m)
{
    uint64_t *w = (uint64_t *) s;

    if (m->conn_id < CHAN_STATS_WORDS && m->conn_id % CHAN_STATS_PER_MSG == 0) {
        memcpy(w + m->conn_id, m->u.stats.v, sizeof(m->u.stats.v));
    }
}

void
chan_stats_add(struct chan_stats *into, const struct chan_stats *s)
{
    uint64_t *a = (uint64_t *) into;
    const uint64_t *b = (const uint64_t *) s;
    size_t i;

    for (i = 0; i < CHAN_STATS_WORDS; i++) {
        a[i] += b[i];
    }
}

unsigned
chan_latency_bucket(uint64_t us)
{
    static const uint64_t bounds[CHAN_LATENCY_BOUNDS] = {
        CHAN_LATENCY_BOUNDS_US};
    unsigned i;

    for (i = 0; i < CHAN_LATENCY_BOUNDS && us > bounds[i]; i++) {
    }
    return i;
}
