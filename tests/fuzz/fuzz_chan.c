/*
 * fuzz_chan.c: libFuzzer target for the channel message decoder. The
 * first byte picks how many descriptors "arrived" and whether the kernel
 * truncated them; the rest is a record. chan_decode must reject it or
 * pair every descriptor with exactly one flagged message, and a STATS
 * message it accepts must name a whole triple of the counters, which is
 * then applied (ASan checks it stays inside them), and a TICKET a part
 * of a key inside its set, stored the same way. The same bytes then go
 * through a real SEQPACKET socketpair into chan_recv.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct chan_record rec;
    static struct chan_stats stats;
    static struct chan_tickets tickets;
    static struct chan_msg buf[CHAN_BATCH_MAX + 1];
    int fds[CHAN_BATCH_MAX], used[CHAN_BATCH_MAX];
    size_t nfds, len, i;
    bool truncated;
    int n, sv[2];

    if (size == 0) {
        return 0;
    }
    nfds = (size_t) (data[0] & 0x7f) % (CHAN_BATCH_MAX + 1);
    truncated = (data[0] & 0x80) != 0;
    len = size - 1 > sizeof(buf) ? sizeof(buf) : size - 1;
    memcpy(buf, data + 1, len);
    for (i = 0; i < CHAN_BATCH_MAX; i++) {
        fds[i] = 1000 + (int) i; /* never opened, never closed */
        used[i] = 0;
    }
    n = chan_decode(buf, len, nfds, truncated, fds, &rec);
    if (n >= 0) {
        size_t flagged = 0;

        if ((size_t) n != len / sizeof(struct chan_msg)
            || rec.count != (size_t) n) {
            abort();
        }
        for (i = 0; i < rec.count; i++) {
            const struct chan_msg *m = &rec.msgs[i];
            int fd = rec.fds[i];

            if (m->version != CHAN_VERSION || m->type == 0
                || m->type > CHAN_TYPE_MAX) {
                abort();
            }
            if (m->flags & CHAN_F_FD) {
                flagged++;
            }
            if (m->type == CHAN_STATS) {
                if (m->conn_id % CHAN_STATS_PER_MSG != 0
                    || m->conn_id >= CHAN_STATS_WORDS
                    || (m->flags & CHAN_F_FD)) {
                    abort();
                }
                chan_stats_apply(&stats, m);
            }
            if (m->type == CHAN_TICKET) {
                if ((m->conn_id >> 16) == 0
                    || (m->conn_id >> 16) > CHAN_TICKET_KEYS_MAX
                    || ((m->conn_id >> 8) & 0xff) >= (m->conn_id >> 16)
                    || (m->conn_id & 0xff) >= CHAN_TICKET_PARTS) {
                    abort();
                }
                (void) chan_ticket_apply(&tickets, m);
            }
            if (fd != -1) {
                if (!(m->flags & CHAN_F_FD) || fd < 1000
                    || fd >= 1000 + (int) nfds || used[fd - 1000]++) {
                    abort(); /* an fd paired wrongly or twice */
                }
            }
        }
        if (flagged < nfds || (!truncated && flagged != nfds)) {
            abort();
        }
    }

    /* Through the kernel: no fds, so any CONN must be rejected. */
    if (len > 0
        && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                      sv)
               == 0) {
        if (send(sv[0], buf, len, MSG_NOSIGNAL) == (ssize_t) len) {
            enum chan_status st = chan_recv(sv[1], &rec);

            if (st == CHAN_OK) {
                for (i = 0; i < rec.count; i++) {
                    if (rec.fds[i] != -1) {
                        abort();
                    }
                }
            }
        }
        close(sv[0]);
        close(sv[1]);
    }
    return 0;
}
