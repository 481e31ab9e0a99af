/*
 * test_chan.c: the channel: fds passed in one process and across fork,
 * batching, EAGAIN and resumption without sending an fd twice, malformed
 * records, EOF, and fds dropped by the kernel (MSG_CTRUNC); STATS: only
 * the triples that changed are sent, they rebuild the sender's counters,
 * a triple outside the vector is malformed; the latency buckets' edges.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "chan.h"
#include "fdutil.h"
#include "test.h"

static void
make_pair(int sv[2])
{
    ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                      sv)
           == 0);
}

static struct chan_msg
conn_msg(uint64_t id)
{
    struct chan_msg m;

    chan_msg_init(&m, CHAN_CONN, 7);
    m.conn_id = id;
    m.u.peer.family = AF_INET;
    m.u.peer.port = 4242;
    return m;
}

/* Writes through <fd> and checks the bytes come out of <rd>. */
static void
assert_same_pipe(int fd, int rd, const char *word)
{
    char buf[32];
    ssize_t n;

    ASSERT_EQ(write(fd, word, strlen(word)), (long long) strlen(word));
    n = read(rd, buf, sizeof(buf));
    ASSERT_EQ(n, (long long) strlen(word));
    ASSERT(memcmp(buf, word, (size_t) n) == 0);
}

static void
test_fd_in_process(void)
{
    int sv[2], p[2];
    struct chan_outbox ob;
    struct chan_record rec;
    struct chan_msg m = conn_msg(1);

    make_pair(sv);
    ASSERT(pipe(p) == 0);
    chan_outbox_init(&ob);
    ASSERT(chan_outbox_push(&ob, &m, p[1]) == 0);
    ASSERT_EQ(chan_outbox_flush(sv[0], &ob), CHAN_OK);
    ASSERT_EQ(ob.sent, 1);
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_OK);
    ASSERT_EQ(rec.count, 1);
    ASSERT_EQ(rec.msgs[0].type, CHAN_CONN);
    ASSERT_EQ(rec.msgs[0].conn_id, 1);
    ASSERT_EQ(rec.msgs[0].worker_id, 7);
    ASSERT_EQ(rec.msgs[0].u.peer.port, 4242);
    ASSERT(rec.fds[0] >= 0 && rec.fds[0] != p[1]);
    /* Received with MSG_CMSG_CLOEXEC. */
    ASSERT(fcntl(rec.fds[0], F_GETFD) & FD_CLOEXEC);
    assert_same_pipe(rec.fds[0], p[0], "in-process");
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_AGAIN);
    chan_outbox_free(&ob);
}

static void
test_fd_across_fork(void)
{
    int sv[2], p[2], status;
    pid_t pid;
    char buf[16];

    make_pair(sv);
    ASSERT(pipe(p) == 0);
    pid = fork();
    ASSERT(pid != -1);
    if (pid == 0) {
        struct chan_record rec;
        enum chan_status st;

        close(sv[0]);
        close(p[1]);
        /* Blocking wait for the record, without busy-looping. */
        ASSERT(fcntl(sv[1], F_SETFL, 0) == 0);
        do {
            st = chan_recv(sv[1], &rec);
        } while (st == CHAN_AGAIN);
        ASSERT_EQ(st, CHAN_OK);
        ASSERT(rec.fds[0] >= 0);
        ASSERT_EQ(write(rec.fds[0], "forked", 6), 6);
        _exit(0);
    } else {
        struct chan_outbox ob;
        struct chan_msg m = conn_msg(9);

        close(sv[1]);
        chan_outbox_init(&ob);
        ASSERT(chan_outbox_push(&ob, &m, p[1]) == 0);
        ASSERT_EQ(chan_outbox_flush(sv[0], &ob), CHAN_OK);
        close(p[1]); /* only the child's copy remains */
        ASSERT_EQ(read(p[0], buf, sizeof(buf)), 6);
        ASSERT(memcmp(buf, "forked", 6) == 0);
        ASSERT(waitpid(pid, &status, 0) == pid);
        ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        chan_outbox_free(&ob);
    }
}

/* 100 messages go out as records of CHAN_BATCH_MAX and the rest. */
static void
test_batches(void)
{
    int sv[2], p[2];
    struct chan_outbox ob;
    struct chan_record rec;
    uint64_t next = 1;
    int i, records = 0;

    make_pair(sv);
    ASSERT(pipe(p) == 0);
    chan_outbox_init(&ob);
    for (i = 1; i <= 100; i++) {
        struct chan_msg m = conn_msg((uint64_t) i);

        if (i % 2 == 0) { /* fd-less messages interleaved */
            chan_msg_init(&m, CHAN_ACK, 7);
            m.conn_id = (uint64_t) i;
        }
        ASSERT(chan_outbox_push(&ob, &m, i % 2 ? p[1] : -1) == 0);
    }
    ASSERT_EQ(chan_outbox_len(&ob), 100);
    ASSERT_EQ(chan_outbox_flush(sv[0], &ob), CHAN_OK);
    while (chan_recv(sv[1], &rec) == CHAN_OK) {
        size_t k;

        records++;
        ASSERT(rec.count <= CHAN_BATCH_MAX);
        for (k = 0; k < rec.count; k++, next++) {
            ASSERT_EQ(rec.msgs[k].conn_id, next);
            if (rec.msgs[k].type == CHAN_CONN) {
                ASSERT(rec.fds[k] >= 0);
                close(rec.fds[k]);
            } else {
                ASSERT_EQ(rec.fds[k], -1);
            }
        }
    }
    ASSERT_EQ(records, 2);
    ASSERT_EQ(next, 101);
    chan_outbox_free(&ob);
}

/*
 * Fills the socket until EAGAIN, then drains it and resumes: every message
 * arrives exactly once, in order, each fd exactly once.
 */
static void
test_eagain_resume(void)
{
    int sv[2], p[2], small = 4096;
    struct chan_outbox ob;
    struct chan_record rec;
    uint64_t pushed = 0, next = 1, fds_seen = 0;
    enum chan_status st;
    int rounds = 0;

    make_pair(sv);
    ASSERT(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small))
           == 0);
    ASSERT(pipe(p) == 0);
    chan_outbox_init(&ob);
    for (;;) {
        struct chan_msg m = conn_msg(++pushed);

        ASSERT(chan_outbox_push(&ob, &m, p[1]) == 0);
        st = chan_outbox_flush(sv[0], &ob);
        if (st == CHAN_AGAIN) {
            break;
        }
        ASSERT_EQ(st, CHAN_OK);
        ASSERT(pushed < 100000);
    }
    /* Stuck: the unsent message stays queued; push more behind it. */
    ASSERT(chan_outbox_len(&ob) >= 1);
    for (int i = 0; i < 200; i++) {
        struct chan_msg m = conn_msg(++pushed);

        ASSERT(chan_outbox_push(&ob, &m, p[1]) == 0);
    }
    while (chan_outbox_len(&ob) > 0) {
        ASSERT(rounds++ < 100000);
        while ((st = chan_recv(sv[1], &rec)) == CHAN_OK) {
            for (size_t k = 0; k < rec.count; k++, next++) {
                ASSERT_EQ(rec.msgs[k].conn_id, next);
                ASSERT(rec.fds[k] >= 0);
                fds_seen++;
                close(rec.fds[k]);
            }
        }
        ASSERT_EQ(st, CHAN_AGAIN);
        st = chan_outbox_flush(sv[0], &ob);
        ASSERT(st == CHAN_OK || st == CHAN_AGAIN);
    }
    while (chan_recv(sv[1], &rec) == CHAN_OK) {
        for (size_t k = 0; k < rec.count; k++, next++) {
            ASSERT_EQ(rec.msgs[k].conn_id, next);
            fds_seen++;
            close(rec.fds[k]);
        }
    }
    ASSERT_EQ(next - 1, pushed);
    ASSERT_EQ(fds_seen, pushed);
    ASSERT_EQ(ob.sent, pushed);
    chan_outbox_free(&ob);
}

static void
test_decode_rejects(void)
{
    struct chan_record rec;
    struct chan_msg m[2];
    int fds[2] = {100, 101};

    /* A good CONN with its fd. */
    m[0] = conn_msg(1);
    m[0].flags = CHAN_F_FD;
    ASSERT_EQ(chan_decode(m, sizeof(m[0]), 1, false, fds, &rec), 1);
    ASSERT_EQ(rec.fds[0], 100);
    /* Missing fd: malformed, unless the kernel truncated the fds. */
    ASSERT_EQ(chan_decode(m, sizeof(m[0]), 0, false, fds, &rec), -1);
    ASSERT_EQ(chan_decode(m, sizeof(m[0]), 0, true, fds, &rec), 1);
    ASSERT_EQ(rec.fds[0], -1);
    /* More fds than flagged messages. */
    ASSERT_EQ(chan_decode(m, sizeof(m[0]), 2, false, fds, &rec), -1);
    /* Not a whole number of messages; empty. */
    ASSERT_EQ(chan_decode(m, sizeof(m[0]) - 1, 1, false, fds, &rec), -1);
    ASSERT_EQ(chan_decode(m, 0, 0, false, fds, &rec), -1);
    /* Bad version, type, flags. */
    m[1] = m[0];
    m[1].version = 99;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
    m[1] = m[0];
    m[1].type = 0;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
    m[1].type = CHAN_TYPE_MAX + 1;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
    m[1] = m[0];
    m[1].flags |= 0x8000;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
    /* CONN without the fd flag; an ACK with one. */
    m[1] = m[0];
    m[1].flags = 0;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 0, false, fds, &rec), -1);
    chan_msg_init(&m[1], CHAN_ACK, 7);
    m[1].flags = CHAN_F_FD;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
    /* A LISTENER names a listener; its socket never rides along. */
    chan_msg_init(&m[1], CHAN_LISTENER, 7);
    m[1].u.peer.listener = 3;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 0, false, fds, &rec), 1);
    m[1].flags = CHAN_F_FD;
    ASSERT_EQ(chan_decode(&m[1], sizeof(m[1]), 1, false, fds, &rec), -1);
}

static void
test_stats_messages(void)
{
    static struct chan_stats now, sent, got;
    struct chan_msg out[CHAN_STATS_WORDS / CHAN_STATS_PER_MSG];
    struct chan_record rec;
    size_t n, i;
    int sv[2];

    ASSERT_EQ(CHAN_STATS_WORDS % CHAN_STATS_PER_MSG, 0);
    ASSERT_EQ(chan_stats_encode(&now, &sent, 7, out), 0); /* nothing new */
    now.bytes_in = 5;
    now.requests[3][1] = 7;
    now.latency[CHAN_LATENCY_BUCKETS - 1] = 2;
    n = chan_stats_encode(&now, &sent, 7, out);
    ASSERT(n >= 2 && n <= 3);
    ASSERT_EQ(out[0].type, CHAN_STATS);
    ASSERT_EQ(out[0].conn_id, 0);
    ASSERT_EQ(out[0].u.stats.v[0], 5);
    ASSERT(memcmp(&now, &sent, sizeof(now)) == 0);
    ASSERT_EQ(chan_stats_encode(&now, &sent, 7, out + n), 0);
    /* Through a socket, as one record; applied, they rebuild <now>. */
    make_pair(sv);
    ASSERT_EQ(send(sv[0], out, n * sizeof(out[0]), 0),
              (long long) (n * sizeof(out[0])));
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_OK);
    ASSERT_EQ(rec.count, n);
    for (i = 0; i < rec.count; i++) {
        chan_stats_apply(&got, &rec.msgs[i]);
    }
    ASSERT(memcmp(&got, &now, sizeof(now)) == 0);
    chan_stats_add(&got, &now);
    ASSERT_EQ(got.requests[3][1], 14);
    /* A triple that is not one: malformed. */
    out[0].conn_id = 1;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    out[0].conn_id = CHAN_STATS_WORDS;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    out[0].conn_id = CHAN_STATS_WORDS - CHAN_STATS_PER_MSG;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), 1);
    out[0].flags = CHAN_F_FD; /* no fd rides with STATS */
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, true, NULL, &rec), -1);
    /* Each bucket holds up to its bound; the last, the rest. */
    ASSERT_EQ(chan_latency_bucket(0), 0);
    ASSERT_EQ(chan_latency_bucket(100), 0);
    ASSERT_EQ(chan_latency_bucket(101), 1);
    ASSERT_EQ(chan_latency_bucket(1000000), 12);
    ASSERT_EQ(chan_latency_bucket(10000000), CHAN_LATENCY_BOUNDS - 1);
    ASSERT_EQ(chan_latency_bucket(10000001), CHAN_LATENCY_BOUNDS);
    close(sv[0]);
    close(sv[1]);
}

/* A malformed record with an fd: EPROTO, and the fd is closed. */
static void
test_malformed_closes_fds(void)
{
    int sv[2], p[2], before;
    struct chan_record rec;
    struct chan_msg m = conn_msg(3);
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int))];
    } control;
    struct msghdr mh;
    struct iovec iov;
    struct cmsghdr *cm;

    make_pair(sv);
    ASSERT(pipe(p) == 0);
    m.version = 42;
    m.flags = CHAN_F_FD;
    iov.iov_base = &m;
    iov.iov_len = sizeof(m);
    memset(&mh, 0, sizeof(mh));
    memset(&control, 0, sizeof(control));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control.buf;
    mh.msg_controllen = sizeof(control.buf);
    cm = CMSG_FIRSTHDR(&mh);
    ASSERT(cm != NULL);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &p[1], sizeof(int));
    ASSERT_EQ(sendmsg(sv[0], &mh, 0), (long long) sizeof(m));
    before = fd_count_open();
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_ERROR);
    ASSERT_EQ(errno, EPROTO);
    ASSERT_EQ(fd_count_open(), before);
}

static void
test_eof(void)
{
    int sv[2];
    struct chan_record rec;

    make_pair(sv);
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_AGAIN);
    close(sv[0]);
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_EOF);
}

/* At its fd limit the receiver gets MSG_CTRUNC: the messages whose fds
 * were dropped come back with -1, the rest keep theirs. */
static void
test_fds_truncated(void)
{
    int sv[2], p[2], i;
    struct chan_outbox ob;
    struct chan_record rec;
    struct rlimit rl, saved;
    int lowest_free;

    make_pair(sv);
    ASSERT(pipe(p) == 0);
    chan_outbox_init(&ob);
    for (i = 1; i <= 3; i++) {
        struct chan_msg m = conn_msg((uint64_t) i);

        ASSERT(chan_outbox_push(&ob, &m, p[1]) == 0);
    }
    ASSERT_EQ(chan_outbox_flush(sv[0], &ob), CHAN_OK);
    /* The lowest free number is the only one the new limit leaves. */
    lowest_free = dup(0);
    ASSERT(lowest_free >= 0);
    close(lowest_free);
    ASSERT(getrlimit(RLIMIT_NOFILE, &saved) == 0);
    rl = saved;
    rl.rlim_cur = (rlim_t) lowest_free + 1;
    ASSERT(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    ASSERT_EQ(chan_recv(sv[1], &rec), CHAN_OK);
    ASSERT(setrlimit(RLIMIT_NOFILE, &saved) == 0); /* LSan needs fds */
    ASSERT_EQ(rec.count, 3);
    ASSERT(rec.fds[0] >= 0);
    ASSERT_EQ(rec.fds[1], -1);
    ASSERT_EQ(rec.fds[2], -1);
    chan_outbox_free(&ob);
}

/* TICKET: a set of keys in parts; the last part says it is whole, and
 * a part outside the set is malformed. */
static void
test_ticket_messages(void)
{
    static struct chan_tickets keys, got;
    struct chan_msg out[CHAN_TICKET_KEYS_MAX * CHAN_TICKET_PARTS];
    struct chan_record rec;
    size_t n, i;
    unsigned k;

    for (k = 0; k < CHAN_TICKET_KEYS_MAX; k++) {
        memset(keys.key[k], 0x41 + (int) k, CHAN_TICKET_KEY_LEN);
    }
    keys.n = 2;
    n = chan_ticket_encode(&keys, 7, out);
    ASSERT_EQ(n, 2 * CHAN_TICKET_PARTS);
    ASSERT_EQ(chan_decode(out, n * sizeof(out[0]), 0, false, NULL, &rec),
              (int) n);
    for (i = 0; i < n; i++) {
        ASSERT_EQ(rec.msgs[i].type, CHAN_TICKET);
        ASSERT_EQ(chan_ticket_apply(&got, &rec.msgs[i]), i == n - 1);
    }
    ASSERT_EQ(got.n, 2);
    ASSERT(memcmp(got.key, keys.key, 2 * CHAN_TICKET_KEY_LEN) == 0);
    /* A key beyond its set's count, a part beyond a key, no count. */
    out[0].conn_id = 2u << 8 | 2u << 16;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    out[0].conn_id = CHAN_TICKET_PARTS | 1u << 16;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    out[0].conn_id = 0;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    out[0].conn_id = (uint64_t) (CHAN_TICKET_KEYS_MAX + 1) << 16;
    ASSERT_EQ(chan_decode(out, sizeof(out[0]), 0, false, NULL, &rec), -1);
    /* The TLS flag is allowed; a TICKET never carries an fd. */
    chan_msg_init(&out[1], CHAN_LISTENER, 7);
    out[1].flags = CHAN_F_TLS;
    ASSERT_EQ(chan_decode(&out[1], sizeof(out[1]), 0, false, NULL, &rec), 1);
}

int
main(void)
{
    RUN(test_fd_in_process);
    RUN(test_fd_across_fork);
    RUN(test_batches);
    RUN(test_eagain_resume);
    RUN(test_decode_rejects);
    RUN(test_malformed_closes_fds);
    RUN(test_eof);
    RUN(test_fds_truncated);
    RUN(test_stats_messages);
    RUN(test_ticket_messages);
    TEST_EXIT();
}
