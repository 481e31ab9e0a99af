/*
 * closer.c: a worker that does nothing but acknowledge each connection and
 * close it, so that, with it, the master's own work is all there is per
 * connection (tools/ceiling/run: the master's ceiling). It speaks the
 * channel of common/chan.h on fd 3 as handoff-worker does: READY, then an
 * ACK for every CONN; it exits at SHUTDOWN or when the master is gone.
 * Not a product: it sends no load reports (run it with --worker-timeout 0).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "chan.h"
#include "fdutil.h"

#define CLOSER_CHANNEL_FD 3

static struct chan_batch closer_batch;

static int
closer_flush(struct chan_outbox *out)
{
    while (chan_outbox_len(out) > 0) {
        enum chan_status st = chan_outbox_flush(CLOSER_CHANNEL_FD, out);

        if (st == CHAN_AGAIN) {
            struct pollfd p = {CLOSER_CHANNEL_FD, POLLOUT, 0};

            (void) poll(&p, 1, -1);
        } else if (st != CHAN_OK) {
            return -1;
        }
    }
    return 0;
}

/* Answers the records of one batch; returns -1 once it should exit. */
static int
closer_answer(uint32_t id, struct chan_outbox *out)
{
    size_t r, k;

    for (r = 0; r < closer_batch.count; r++) {
        const struct chan_record *rec = &closer_batch.rec[r];

        for (k = 0; k < rec->count; k++) {
            const struct chan_msg *m = &rec->msgs[k];
            struct chan_msg ack;

            if (rec->fds[k] >= 0) {
                /* As handoff-worker does: the FIN leaves from here. */
                (void) shutdown(rec->fds[k], SHUT_WR);
                fd_close(rec->fds[k]);
            }
            if (m->type == CHAN_SHUTDOWN) {
                return -1;
            }
            if (m->type != CHAN_CONN) {
                continue;
            }
            chan_msg_init(&ack, CHAN_ACK, id);
            ack.conn_id = m->conn_id;
            ack.u.ack.accepted = 1;
            if (chan_outbox_push(out, &ack, -1) == -1) {
                return -1;
            }
        }
    }
    return closer_flush(out);
}

int
main(int argc, char **argv)
{
    struct chan_outbox out;
    struct chan_msg ready;
    uint32_t id = 0;
    int i;

    for (i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "--id") == 0) {
            id = (uint32_t) strtoul(argv[i + 1], NULL, 10);
        }
    }
    chan_outbox_init(&out);
    chan_msg_init(&ready, CHAN_READY, id);
    if (chan_outbox_push(&out, &ready, -1) == -1 || closer_flush(&out) == -1) {
        return 1;
    }
    for (;;) {
        struct pollfd p = {CLOSER_CHANNEL_FD, POLLIN, 0};
        enum chan_status st;

        if (poll(&p, 1, -1) == -1 && errno != EINTR) {
            return 1;
        }
        st = chan_recv_batch(CLOSER_CHANNEL_FD, &closer_batch);
        if (st == CHAN_AGAIN) {
            continue;
        }
        if (st != CHAN_OK || closer_answer(id, &out) == -1
            || closer_batch.eof) {
            break;
        }
    }
    chan_outbox_free(&out);
    return 0;
}
