/*
 * fuzz_request.c: libFuzzer target for the request path. The input is
 * split at a point its first byte picks and fed, as two reads, to a real
 * worker connection (conn_feed: llhttp, the checks in http.c, routes,
 * static files under a small root, response building), whose responses go
 * to a socketpair that is drained after each run.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app/app.h"
#include "http/http.h"
#include "log.h"
#include "worker.h"

/* main.c is not linked: what it would have set up, done once here. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_root[] = "/tmp/handoff-fuzz-root-XXXXXX";

static void
fuzz_file(const char *name, const char *text)
{
    char path[256];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", fuzz_root, name);
    f = fopen(path, "w");
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void
fuzz_cleanup(void)
{
    static const char *const files[] = {"a.txt", "index.html", "d/index.html",
                                        "d", ""};
    char path[300];
    size_t i;

    for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", fuzz_root, files[i]);
        if (unlink(path) == -1) {
            rmdir(path);
        }
    }
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char sub[300];

    (void) argc;
    (void) argv;
    log_init("fuzz", 0);
    engine.loop = ev_default_loop(EVFLAG_AUTO);
    worker.chan_fd = -1;
    worker.master_gone = true; /* no channel: reports go nowhere */
    engine.pid = getpid();
    TAILQ_INIT(&engine.pending);
    TAILQ_INIT(&engine.conns);
    limits_default(&engine.lim);
    engine.lim.v[LIM_MAX_HEADER_SIZE] = 4096; /* reach the limits sooner */
    engine.lim.v[LIM_MAX_BODY] = 1024;
    engine.lim.v[LIM_MAX_HEADERS] = 20;
    routes_init(true); /* with the root: every route is reachable */
    worker_attach();
    if (mkdtemp(fuzz_root) != NULL) {
        fuzz_file("a.txt", "hello\n");
        fuzz_file("index.html", "<p>index</p>\n");
        snprintf(sub, sizeof(sub), "%s/d", fuzz_root);
        mkdir(sub, 0755);
        fuzz_file("d/index.html", "<p>d</p>\n");
        atexit(fuzz_cleanup);
        (void) static_open_root(fuzz_root); /* else: no files, 404s */
    }
    mime_load("/etc/mime.types");
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char sink[65536];
    struct chan_msg msg;
    struct conn *c, *next;
    size_t split;
    int sv[2];

    if (size == 0
        || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
                      sv)
               == -1) {
        return 0;
    }
    split = data[0] % size;
    data++;
    size--;
    if (split > size) {
        split = size;
    }
    memset(&msg, 0, sizeof(msg));
    msg.conn_id = 1;
    c = conn_new(sv[0], &msg);
    if (c == NULL) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    conn_activate(c); /* reads nothing yet: EAGAIN */
    if (engine.nconns == 1) {
        conn_feed(c, (const char *) data, split);
    }
    if (engine.nconns == 1 && size > split) {
        conn_feed(c, (const char *) data + split, size - split);
    }
    /* Whatever is left (kept alive, lingering, output pending) goes. */
    for (c = TAILQ_FIRST(&engine.conns); c != NULL; c = next) {
        next = TAILQ_NEXT(c, link);
        conn_free(c);
    }
    while (read(sv[1], sink, sizeof(sink)) > 0) {
    }
    close(sv[1]);
    return 0;
}
