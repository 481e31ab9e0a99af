/*
 * connflood.c: opens TCP connections to 127.0.0.1:PORT as fast as it can,
 * CONCURRENCY at a time, for SECONDS, and prints how many completed: a
 * connection completes when the server closes it (tools/ceiling/closer
 * does at once). It closes its end with a reset (SO_LINGER 0) so that no
 * TIME_WAIT piles up on either side, and sends nothing: what is measured
 * is accepting and handing over.
 *   connflood PORT SECONDS CONCURRENCY
 *   connflood --burst PORT N
 * With --burst it opens N connections, says "ready" once the kernel has
 * completed them all (they wait in the server's accept queue if the
 * server is stopped), waits for a line on its standard input, then says
 * how long the server took to close them all: the master's pace with
 * nothing else to wait for.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in flood_addr;
static int flood_ep;

static double
flood_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static int
flood_open(void)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

    if (fd == -1) {
        return -1;
    }
    if (connect(fd, (struct sockaddr *) &flood_addr, sizeof(flood_addr)) == -1
        && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    ev.data.fd = fd;
    if (epoll_ctl(flood_ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
        close(fd);
        return -1;
    }
    return fd;
}

static void
flood_reset(int fd)
{
    struct linger lg = {1, 0};

    (void) setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    close(fd);
}

/* Waits until <want> of the open sockets report <events>; each one that
 * does is removed from the set (EOF) or re-armed for reading. */
static unsigned long
flood_wait(unsigned long want, uint32_t events, bool eof)
{
    struct epoll_event evs[256];
    unsigned long got = 0;

    while (got < want) {
        int i, n = epoll_wait(flood_ep, evs, 256, 10000);

        if (n <= 0) {
            break;
        }
        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            char b[64];

            if (!(evs[i].events & events)) {
                continue;
            }
            if (!eof) {
                struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                         .data.fd = fd};

                (void) epoll_ctl(flood_ep, EPOLL_CTL_MOD, fd, &ev);
                got++;
            } else if (read(fd, b, sizeof(b)) <= 0) {
                (void) epoll_ctl(flood_ep, EPOLL_CTL_DEL, fd, NULL);
                flood_reset(fd);
                got++;
            }
        }
    }
    return got;
}

static int
flood_burst(unsigned long n)
{
    unsigned long i, ok;
    char line[16];
    double start;

    for (i = 0; i < n; i++) {
        struct epoll_event ev = {.events = EPOLLOUT};
        int fd = flood_open();

        if (fd == -1) {
            perror("connflood: connect");
            return 1;
        }
        ev.data.fd = fd;
        (void) epoll_ctl(flood_ep, EPOLL_CTL_MOD, fd, &ev);
    }
    ok = flood_wait(n, EPOLLOUT, false);
    printf("ready %lu\n", ok);
    fflush(stdout);
    if (fgets(line, sizeof(line), stdin) == NULL) {
        return 1;
    }
    start = flood_now();
    ok = flood_wait(ok, EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR, true);
    printf("%lu connections closed in %.6f s\n", ok, flood_now() - start);
    return 0;
}

int
main(int argc, char **argv)
{
    struct epoll_event evs[256];
    unsigned long done = 0, failed = 0;
    double start, end;
    int i, conc;

    if (argc != 4) {
        fprintf(stderr, "usage: connflood PORT SECONDS CONCURRENCY\n"
                        "       connflood --burst PORT N\n");
        return 2;
    }
    flood_addr.sin_family = AF_INET;
    flood_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    flood_ep = epoll_create1(EPOLL_CLOEXEC);
    if (strcmp(argv[1], "--burst") == 0) {
        flood_addr.sin_port = htons((uint16_t) atoi(argv[2]));
        return flood_burst(strtoul(argv[3], NULL, 10));
    }
    flood_addr.sin_port = htons((uint16_t) atoi(argv[1]));
    conc = atoi(argv[3]);
    for (i = 0; i < conc; i++) {
        if (flood_open() == -1) {
            perror("connflood: connect");
            return 1;
        }
    }
    start = flood_now();
    end = start + atof(argv[2]);
    while (flood_now() < end) {
        int n = epoll_wait(flood_ep, evs, 256, 100);

        for (i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            char b[64];
            ssize_t r = read(fd, b, sizeof(b));

            if (r > 0 || (r == -1 && errno == EAGAIN)) {
                continue;
            }
            if (r == 0) {
                done++;
            } else {
                failed++;
            }
            flood_reset(fd);
            while (flood_open() == -1) {
                failed++;
            }
        }
    }
    printf("%lu connections in %.2f s: %.0f/s (%lu failed)\n", done,
           flood_now() - start, (double) done / (flood_now() - start), failed);
    return 0;
}
