/*
 * fdutil.h: small file-descriptor helpers that keep errno for the caller.
 */
#ifndef HS_COMMON_FDUTIL_H
#define HS_COMMON_FDUTIL_H

/* Each returns 0, or -1 with errno set. */
int fd_set_nonblock(int fd);
int fd_set_cloexec(int fd, int on);

/*
 * Closes <fd> once. On Linux the descriptor is released even when close()
 * fails with EINTR, so retrying could close somebody else's new fd.
 */
void fd_close(int fd);

/* Counts the descriptors this process holds, or -1 on error. */
int fd_count_open(void);

#endif
