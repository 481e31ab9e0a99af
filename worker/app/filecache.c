/*
 * filecache.c: open files kept for the next request (filecache.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/filecache.h"
#include "fdutil.h"
#include "http/http.h"

#define FILECACHE_BUCKETS 512 /* a power of two, twice the entries */

LIST_HEAD(file_bucket, file_entry);
TAILQ_HEAD(file_lru, file_entry);

static struct file_bucket filecache_table[FILECACHE_BUCKETS];
static struct file_lru filecache_lru = TAILQ_HEAD_INITIALIZER(filecache_lru);
static unsigned filecache_count;

static uint32_t
filecache_hash(const char *key, size_t len)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < len; i++) {
        h = (h ^ (unsigned char) key[i]) * 16777619u;
    }
    return h & (FILECACHE_BUCKETS - 1);
}

static void
filecache_free(struct file_entry *e)
{
    fd_close(e->fd);
    free(e->key);
    free(e->rel);
    free(e);
}

void
filecache_release(void *entry)
{
    struct file_entry *e = entry;

    if (--e->refs == 0) {
        filecache_free(e);
    }
}

/* Out of the cache; freed when the last connection sending it is done. */
static void
filecache_evict(struct file_entry *e)
{
    LIST_REMOVE(e, hash_link);
    TAILQ_REMOVE(&filecache_lru, e, lru_link);
    filecache_count--;
    e->cached = false;
    filecache_release(e);
}

/* True while the path still names what <e> holds. */
static bool
filecache_still(const struct file_entry *e, int root_fd)
{
    struct stat st;

    /* A symlink in the path that now leads out of the root names another
     * inode: dropped here, and openat2 refuses it when it is opened. */
    return fstatat(root_fd, e->rel, &st, 0) == 0 && S_ISREG(st.st_mode)
           && st.st_dev == e->st.st_dev && st.st_ino == e->st.st_ino
           && st.st_size == e->st.st_size
           && st.st_mtim.tv_sec == e->st.st_mtim.tv_sec
           && st.st_mtim.tv_nsec == e->st.st_mtim.tv_nsec;
}

struct file_entry *
filecache_get(const char *key, size_t klen, int root_fd)
{
    struct file_entry *e;

    LIST_FOREACH(e, &filecache_table[filecache_hash(key, klen)], hash_link)
    {
        if (e->key_len == klen && memcmp(e->key, key, klen) == 0) {
            break;
        }
    }
    if (e == NULL) {
        return NULL;
    }
    if (!filecache_still(e, root_fd)) {
        filecache_evict(e);
        return NULL;
    }
    TAILQ_REMOVE(&filecache_lru, e, lru_link);
    TAILQ_INSERT_HEAD(&filecache_lru, e, lru_link);
    e->refs++;
    return e;
}

struct file_entry *
filecache_put(const char *key, size_t klen, const char *rel, size_t rel_len,
              int fd, const struct stat *st, const char *mime)
{
    struct file_entry *e = calloc(1, sizeof(*e));

    if (e == NULL || (e->key = strndup(key, klen)) == NULL
        || (e->rel = strndup(rel, rel_len)) == NULL) {
        if (e != NULL) {
            free(e->key);
            free(e);
        }
        fd_close(fd);
        return NULL;
    }
    e->key_len = klen;
    e->rel_len = rel_len;
    e->fd = fd;
    e->st = *st;
    e->mime = mime;
    snprintf(e->etag, sizeof(e->etag), "\"%llx-%llx\"",
             (unsigned long long) st->st_mtim.tv_sec * 1000000000ULL
                 + (unsigned long long) st->st_mtim.tv_nsec,
             (unsigned long long) st->st_size);
    response_http_date(st->st_mtim.tv_sec, e->lastmod, sizeof(e->lastmod));
    if (filecache_count >= FILECACHE_MAX) {
        filecache_evict(TAILQ_LAST(&filecache_lru, file_lru));
    }
    LIST_INSERT_HEAD(&filecache_table[filecache_hash(key, klen)], e, hash_link);
    TAILQ_INSERT_HEAD(&filecache_lru, e, lru_link);
    filecache_count++;
    e->cached = true;
    e->refs = 2; /* the cache's, and the caller's */
    return e;
}

void
filecache_clear(void)
{
    while (!TAILQ_EMPTY(&filecache_lru)) {
        filecache_evict(TAILQ_FIRST(&filecache_lru));
    }
}
