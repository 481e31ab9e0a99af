/*
 * fdpass_bench: the bare cost of handing a descriptor over the channel
 * (common/chan.c, SOCK_SEQPACKET + SCM_RIGHTS) between two processes,
 * the floor under the master's per-connection work.
 *
 *   one-by-one  a CONN with one fd, then wait for its ACK (rr, window 1)
 *   batched     B CONNs with B fds in one record, one ACK record back
 *
 * The receiver closes each fd it gets, as a worker's copy would be kept.
 * Prints nanoseconds per descriptor (wall time, both processes busy) and
 * the sender's CPU per descriptor. Usage: fdpass_bench [COUNT [BATCH]]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "chan.h"
#include "fdutil.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static double
cpu_s(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double) ru.ru_utime.tv_sec + (double) ru.ru_utime.tv_usec / 1e6
           + (double) ru.ru_stime.tv_sec + (double) ru.ru_stime.tv_usec / 1e6;
}

/* Blocks until one record arrives (the sockets are non-blocking). */
static enum chan_status
recv_wait(int sock, struct chan_record *rec)
{
    enum chan_status st;
    fd_set rd;

    while ((st = chan_recv(sock, rec)) == CHAN_AGAIN) {
        FD_ZERO(&rd);
        FD_SET(sock, &rd);
        (void) select(sock + 1, &rd, NULL, NULL, NULL);
    }
    return st;
}

static void
flush_wait(int sock, struct chan_outbox *ob)
{
    fd_set wr;

    while (chan_outbox_flush(sock, ob) == CHAN_AGAIN) {
        FD_ZERO(&wr);
        FD_SET(sock, &wr);
        (void) select(sock + 1, NULL, &wr, NULL, NULL);
    }
}

/* The worker's side: take every fd, close it, acknowledge per record. */
static void __attribute__((noreturn)) receiver(int sock)
{
    static struct chan_record rec;
    struct chan_outbox ob;
    size_t i;

    chan_outbox_init(&ob);
    while (recv_wait(sock, &rec) == CHAN_OK) {
        for (i = 0; i < rec.count; i++) {
            struct chan_msg ack;

            fd_close(rec.fds[i]);
            chan_msg_init(&ack, CHAN_ACK, 1);
            ack.conn_id = rec.msgs[i].conn_id;
            ack.u.ack.accepted = 1;
            (void) chan_outbox_push(&ob, &ack, -1);
        }
        flush_wait(sock, &ob);
    }
    _exit(0);
}

static void
run(const char *label, int fd, long count, int batch)
{
    static struct chan_record rec;
    struct chan_outbox ob;
    double t0, c0, t, c;
    int sv[2], status;
    long sent = 0;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                   sv)
        == -1) {
        perror("socketpair");
        exit(1);
    }
    pid = fork();
    if (pid == 0) {
        close(sv[0]);
        receiver(sv[1]);
    }
    close(sv[1]);
    chan_outbox_init(&ob);
    t0 = now_s();
    c0 = cpu_s();
    while (sent < count) {
        long acked = 0;
        int i;

        for (i = 0; i < batch && sent < count; i++, sent++) {
            struct chan_msg m;

            chan_msg_init(&m, CHAN_CONN, 1);
            m.conn_id = (uint64_t) sent + 1;
            (void) chan_outbox_push(&ob, &m, fd);
        }
        flush_wait(sv[0], &ob);
        while (acked < i && recv_wait(sv[0], &rec) == CHAN_OK) {
            acked += (long) rec.count;
        }
    }
    t = now_s() - t0;
    c = cpu_s() - c0;
    close(sv[0]);
    waitpid(pid, &status, 0);
    chan_outbox_free(&ob);
    printf(
        "%-12s batch %3d: %7.0f ns per fd (wall), sender CPU %6.0f ns per fd\n",
        label, batch, t / (double) count * 1e9, c / (double) count * 1e9);
}

int
main(int argc, char **argv)
{
    long count = argc > 1 ? atol(argv[1]) : 200000;
    int batch = argc > 2 ? atoi(argv[2]) : CHAN_BATCH_MAX;
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* what is passed: a socket */

    if (fd == -1 || count <= 0 || batch < 1 || batch > CHAN_BATCH_MAX) {
        fprintf(stderr, "usage: fdpass_bench [COUNT [BATCH 1..%d]]\n",
                CHAN_BATCH_MAX);
        return 2;
    }
    printf("passing a TCP socket descriptor %ld times between two processes\n",
           count);
    run("one-by-one", fd, count, 1);
    run("batched", fd, count, 8);
    run("batched", fd, count, batch);
    return 0;
}
