/*
 * fuzz_proxy.c: libFuzzer target for the PROXY protocol header parser
 * (master/accept/proxy_parse.c), which reads the first bytes a client sends.
 * The input is a header as it arrived; the parser must stay inside it (an
 * exact-size copy lets ASan see overreads), give a length no longer than
 * the input, and keep its promise on prefixes: once complete or invalid,
 * the bytes after do not change the verdict, and a complete header parses
 * the same on its own.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "accept/proxy_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
fuzz_parse(const uint8_t *data, size_t size, struct chan_peer *peer,
           bool *local)
{
    uint8_t *copy = malloc(size ? size : 1);
    int r;

    if (copy == NULL) {
        abort();
    }
    memcpy(copy, data, size);
    *local = true;
    memset(peer, 0xa5, sizeof(*peer));
    r = proxy_parse(copy, size, peer, local);
    free(copy);
    return r;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct chan_peer peer, again;
    bool local, local_again;
    int r, r2;

    r = fuzz_parse(data, size, &peer, &local);
    if (r < -1 || (r > 0 && (size_t) r > size)) {
        abort();
    }
    if (r > 0 && !local && peer.family != AF_INET && peer.family != AF_INET6) {
        abort();
    }
    if (r > 0) {
        /* The header alone: the same length and the same client. */
        r2 = fuzz_parse(data, (size_t) r, &again, &local_again);
        if (r2 != r || local_again != local
            || (!local && memcmp(&peer, &again, sizeof(peer)) != 0)) {
            abort();
        }
    }
    if (size > 0) {
        /* One byte fewer: a verdict reached there must hold here. */
        r2 = fuzz_parse(data, size - 1, &again, &local_again);
        if ((r2 == -1 && r != -1) || (r2 > 0 && r2 != r)) {
            abort();
        }
    }
    return 0;
}
