/*
 * ctlpath.c: the default control socket's path (see ctlpath.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlpath.h"

#define CTLPATH_MAX sizeof(((struct sockaddr_un *) 0)->sun_path)

int
ctlpath_in(char *buf, size_t size, const char *dir, unsigned port)
{
    int n;

    if (dir == NULL) {
        n = snprintf(buf, size, "/tmp/handoff-%u-%u.sock", (unsigned) getuid(),
                     port);
    } else {
        n = snprintf(buf, size, "%s/handoff-%u.sock", dir, port);
    }
    return n < 0 || (size_t) n >= size || (size_t) n >= CTLPATH_MAX ? -1 : 0;
}

int
ctlpath_runtime_dir(char *buf, size_t size)
{
    const char *env = getenv("RUNTIME_DIRECTORY");
    size_t len;

    if (env == NULL || (len = strcspn(env, ":")) == 0) {
        return 0;
    }
    if (len >= size) {
        return -1;
    }
    memcpy(buf, env, len);
    buf[len] = '\0';
    return 1;
}

int
ctlpath_default(char *buf, size_t size, unsigned port)
{
    char dir[CTLPATH_MAX];
    int rc = ctlpath_runtime_dir(dir, sizeof(dir));

    if (rc == -1) {
        return -1;
    }
    return ctlpath_in(buf, size, rc == 1 ? dir : NULL, port);
}
