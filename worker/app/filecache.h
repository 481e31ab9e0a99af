/*
 * filecache.h: a worker's cache of open files under --root, so that a
 * file asked for again is not opened, stat()ed, typed and dated again
 * (nginx's open_file_cache is the model). Bounded: FILECACHE_MAX
 * entries, the least recently used goes first. An entry is checked
 * against the file system each time it is used, one stat() in place of
 * openat2(), fstat() and close(): when the path no longer names the same
 * inode with the same size and modification time, the entry is dropped
 * and the file opened afresh, so a file changed on disk is never served
 * stale (nginx trusts its entries for open_file_cache_valid).
 *
 * An entry lends its descriptor to the connections sending it (sendfile
 * with its own offset leaves the descriptor's position alone); it is
 * closed once it has left the cache and the last of them is done.
 */
#ifndef HS_WORKER_APP_FILECACHE_H
#define HS_WORKER_APP_FILECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/queue.h>
#include <sys/stat.h>

#define FILECACHE_MAX 256

struct file_entry {
    LIST_ENTRY(file_entry) hash_link;
    TAILQ_ENTRY(file_entry) lru_link;
    char *key; /* owned: the decoded request path */
    size_t key_len;
    char *rel; /* owned: the file's name beneath the root */
    size_t rel_len;
    int fd; /* owned */
    struct stat st;
    char etag[48];
    char lastmod[40];
    const char *mime;
    unsigned refs; /* the cache's own, and each connection sending it */
    bool cached;   /* still in the cache */
};

/* The entry for decoded path <key>, checked as said above against the
 * root's descriptor <root_fd>, with a reference for the caller; NULL when
 * there is none (or no longer). */
struct file_entry *filecache_get(const char *key, size_t klen, int root_fd);

/* Caches <fd> (taken: owned by the entry from now on, even on failure,
 * when it is closed and NULL returned), opened for <key> as <rel>, with
 * <st>; returns the entry with a reference for the caller. */
struct file_entry *filecache_put(const char *key, size_t klen, const char *rel,
                                 size_t rel_len, int fd, const struct stat *st,
                                 const char *mime);

/* Gives back a reference (a void * so that it serves as a connection's
 * file_release). */
void filecache_release(void *entry);

/* Drops every entry (at exit). */
void filecache_clear(void);

#endif
