/*
 * fdutil.c: descriptor flag helpers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "fdutil.h"

int
fd_set_nonblock(int fd)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags == -1) {
        return -1;
    }
    if (flags & O_NONBLOCK) {
        return 0;
    }
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int
fd_set_cloexec(int fd, int on)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags == -1) {
        return -1;
    }
    flags = on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC;
    return fcntl(fd, F_SETFD, flags);
}

void
fd_close(int fd)
{
    int saved_errno = errno;

    if (fd >= 0) {
        (void) close(fd);
    }
    errno = saved_errno;
}

int
fd_count_open(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    if (dir == NULL) {
        return -1;
    }
    while ((de = readdir(dir)) != NULL) {
        if (de->d_name[0] != '.') {
            n++;
        }
    }
    closedir(dir);
    return n - 1; /* the directory stream's own fd */
}
