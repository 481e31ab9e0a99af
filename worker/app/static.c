/*
 * static.c: files under --root, with sendfile, validators (ETag,
 * Last-Modified) for 304s, a single byte range (206 or 416), and
 * index.html for directories. No listings.
 *
 * Nothing outside the root is ever opened: the decoded path is resolved
 * with openat2(RESOLVE_BENEATH) against a descriptor of the root, so the
 * kernel itself refuses "..", absolute symlinks and symlinks that lead
 * out, whatever encoding the request used. Opening is O_NONBLOCK, so a
 * FIFO placed in the tree cannot block the worker; only regular files
 * are served.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "app/app.h"
#include "app/filecache.h"
#include "fdutil.h"
#include "log.h"
#include "numparse.h"

static int static_root_fd = -1; /* O_PATH directory of --root, or -1 */

int
static_open_root(const char *root)
{
    static_root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    return static_root_fd == -1 ? -1 : 0;
}

bool
static_enabled(void)
{
    return static_root_fd != -1;
}

void
static_close_root(void)
{
    filecache_clear();
    fd_close(static_root_fd);
    static_root_fd = -1;
}

/* Opens <rel> beneath the root; -1 with errno as openat2 sets it. */
static int
static_open_beneath(const char *rel)
{
    struct open_how how;
    long fd;

    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    do {
        fd = syscall(SYS_openat2, static_root_fd, rel, &how, sizeof(how));
    } while (fd == -1 && errno == EINTR);
    return (int) fd;
}

static int
static_hex(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/*
 * Percent-decodes <path> into <out> (size <outlen>) without its leading
 * slashes. Returns the length, or -1 for a malformed escape, an encoded
 * NUL or a ".." segment.
 */
static ssize_t
static_decode(const char *path, size_t len, char *out, size_t outlen)
{
    size_t i = 0, n = 0, seg = 0;

    while (i < len && path[i] == '/') {
        i++;
    }
    for (; i < len; i++) {
        char ch = path[i];

        if (ch == '%') {
            int hi, lo;

            if (i + 2 >= len) {
                return -1;
            }
            hi = static_hex(path[i + 1]);
            lo = static_hex(path[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return -1;
            }
            ch = (char) (hi << 4 | lo);
            i += 2;
        }
        if (n + 1 >= outlen) {
            return -1;
        }
        out[n++] = ch;
        if (ch == '/') {
            if (n - 1 - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
                return -1;
            }
            seg = n;
        }
    }
    if (n - seg == 2 && out[seg] == '.' && out[seg + 1] == '.') {
        return -1;
    }
    out[n] = '\0';
    return (ssize_t) n;
}

/* RFC 9110 §13.1.2: If-None-Match matches with the weak comparison. */
static bool
static_inm_matches(const char *v, size_t len, const char *etag)
{
    size_t elen = strlen(etag), i = 0;

    while (i < len) {
        size_t start, end;

        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        if (i < len && v[i] == '*') {
            return true;
        }
        if (i + 2 <= len && v[i] == 'W' && v[i + 1] == '/') {
            i += 2;
        }
        start = i;
        if (i < len && v[i] == '"') {
            for (i++; i < len && v[i] != '"'; i++) {
            }
            i++;
        } else {
            while (i < len && v[i] != ',') {
                i++;
            }
        }
        end = i > len ? len : i;
        if (end - start == elen && memcmp(v + start, etag, elen) == 0) {
            return true;
        }
    }
    return false;
}

/* Parses an HTTP-date in any of the three RFC 9110 §5.6.7 formats. */
static bool
static_parse_date(const char *v, size_t len, time_t *out)
{
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate */
        "%A, %d-%b-%y %H:%M:%S GMT", /* obsolete RFC 850 */
        "%a %b %e %H:%M:%S %Y",      /* obsolete asctime */
    };
    char buf[64];
    size_t i;

    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        const char *end;

        memset(&tm, 0, sizeof(tm));
        end = strptime(buf, formats[i], &tm);
        if (end != NULL && *end == '\0') {
            *out = timegm(&tm);
            return *out != (time_t) -1;
        }
    }
    return false;
}

enum range_result { RANGE_NONE, RANGE_OK, RANGE_UNSATISFIABLE };

/* One "bytes=a-b", "bytes=a-" or "bytes=-n"; anything else is ignored. */
static enum range_result
static_parse_range(const char *v, size_t len, uint64_t size, uint64_t *first,
                   uint64_t *last)
{
    const char *dash, *end = v + len;
    uint64_t a, b;

    if (len < 7 || strncasecmp(v, "bytes=", 6) != 0
        || memchr(v, ',', len) != NULL) {
        return RANGE_NONE; /* not bytes, or several ranges: send it all */
    }
    v += 6;
    dash = memchr(v, '-', (size_t) (end - v));
    if (dash == NULL) {
        return RANGE_NONE;
    }
    if (dash == v) {
        /* suffix: the last n bytes */
        if (!num_parse_u64(dash + 1, (size_t) (end - dash - 1), 0, UINT64_MAX,
                           &b)) {
            return RANGE_NONE;
        }
        if (b == 0 || size == 0) {
            return RANGE_UNSATISFIABLE;
        }
        *first = b >= size ? 0 : size - b;
        *last = size - 1;
        return RANGE_OK;
    }
    if (!num_parse_u64(v, (size_t) (dash - v), 0, UINT64_MAX, &a)) {
        return RANGE_NONE;
    }
    if (dash + 1 == end) {
        b = UINT64_MAX;
    } else if (!num_parse_u64(dash + 1, (size_t) (end - dash - 1), 0,
                              UINT64_MAX, &b)
               || b < a) {
        return RANGE_NONE;
    }
    if (a >= size) {
        return RANGE_UNSATISFIABLE;
    }
    *first = a;
    *last = b >= size ? size - 1 : b;
    return RANGE_OK;
}

/* If-Range: the range applies only to the representation named. */
static bool
static_if_range_holds(const struct conn *c, const char *etag, time_t mtime)
{
    size_t len;
    const char *v = http_header(c, HDR_IF_RANGE, &len);
    time_t t;

    if (v == NULL) {
        return true;
    }
    if (len > 0 && v[0] == '"') {
        /* strong comparison */
        return len == strlen(etag) && memcmp(v, etag, len) == 0;
    }
    return static_parse_date(v, len, &t) && t == mtime;
}

/* The status a failed open of a request's file answers with. */
static int
static_errno_status(int err)
{
    switch (err) {
    case ENOENT:
    case ENOTDIR:
    case ENAMETOOLONG: /* no such file can exist: not the target's fault */
    case EXDEV:        /* the path leads out of the root */
    case ELOOP:
    case ENXIO: /* a socket or FIFO with nobody behind it */
        return 404;
    case EACCES:
    case EPERM:
        return 403;
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return 503;
    default:
        log_warn(err, "cannot open a file beneath --root");
        return 500;
    }
}

/*
 * A directory asked for without its trailing slash, which relative links
 * in its index.html need: 301 to the path with it. One leading slash
 * only: "//host/" would send the client to another host.
 */
static void
static_redirect_dir(struct conn *c, const char *path, size_t plen)
{
    char extra[256];
    const char *rest = path;
    size_t rlen = plen;
    int n;

    while (rlen > 0 && *rest == '/') {
        rest++;
        rlen--;
    }
    if (rlen > 200) {
        response_error(c, 404);
        return;
    }
    n = snprintf(extra, sizeof(extra), "Location: /%.*s/\r\n", (int) rlen,
                 rest);
    response_simple(c, 301, "text/plain", "Moved\n", 6, n > 0 ? extra : NULL);
}

/*
 * Opens the regular file request path <path> names, or the index.html of
 * the directory it names (no listings). <rel> holds the path decoded, <n>
 * bytes, with room for "/index.html" after them; it is extended to the
 * file's name beneath the root, <rlen> bytes. Fills <st>. Returns the
 * file's descriptor, or -1 with the status to answer in <status> (301
 * for a directory without its slash).
 */
static int
static_open_target(const char *path, size_t plen, char *rel, size_t n,
                   size_t *rlen, struct stat *st, int *status)
{
    int fd;

    *rlen = n;
    fd = static_open_beneath(n > 0 ? rel : ".");
    if (fd == -1 || fstat(fd, st) == -1) {
        *status = static_errno_status(errno);
        fd_close(fd);
        return -1;
    }
    if (S_ISDIR(st->st_mode)) {
        fd_close(fd);
        if (plen == 0 || path[plen - 1] != '/') {
            *status = 301;
            return -1;
        }
        memcpy(rel + n, n > 0 ? "/index.html" : "index.html", n > 0 ? 12 : 11);
        fd = static_open_beneath(rel);
        if (fd == -1 || fstat(fd, st) == -1) {
            *status = static_errno_status(errno);
            fd_close(fd);
            return -1;
        }
        *rlen = strlen(rel);
    }
    if (!S_ISREG(st->st_mode)) {
        fd_close(fd);
        *status = 404;
        return -1;
    }
    return fd;
}

/*
 * 304 or 200, by the validators. RFC 9110 §13.2.2: If-None-Match first;
 * If-Modified-Since only without it.
 */
static int
static_condition(const struct conn *c, const struct stat *st, const char *etag)
{
    size_t vlen;
    const char *v = http_header(c, HDR_IF_NONE_MATCH, &vlen);
    time_t ims;

    if (v != NULL) {
        return static_inm_matches(v, vlen, etag) ? 304 : 200;
    }
    v = http_header(c, HDR_IF_MODIFIED_SINCE, &vlen);
    return v != NULL && c->req.hv[HDR_IF_MODIFIED_SINCE].count == 1
                   && static_parse_date(v, vlen, &ims)
                   && st->st_mtim.tv_sec <= ims
                   /* a date in the future is a client's clock gone
                    * wrong: ignored, as nginx does */
                   && ims <= (time_t) ev_now(engine.loop)
               ? 304
               : 200;
}

/* The byte range a 200 to a GET becomes, if it asked for one that holds. */
static enum range_result
static_range(const struct conn *c, const struct stat *st, const char *etag,
             uint64_t *first, uint64_t *last)
{
    size_t vlen;
    const char *v;

    if (c->parser.method != HTTP_GET) {
        return RANGE_NONE;
    }
    v = http_header(c, HDR_RANGE, &vlen);
    if (v == NULL || c->req.hv[HDR_RANGE].count != 1
        || !static_if_range_holds(c, etag, st->st_mtim.tv_sec)) {
        return RANGE_NONE;
    }
    return static_parse_range(v, vlen, (uint64_t) st->st_size, first, last);
}

/*
 * The cache's entry for the file request path <path> names, opened and
 * cached if it is not there yet; NULL with the status to answer in
 * <status> (no such file, a redirect, an error).
 */
static struct file_entry *
static_find(const char *path, size_t plen, int *status)
{
    char rel[URL_MAX + 16];
    ssize_t n = static_decode(path, plen, rel, sizeof(rel) - 12);
    struct file_entry *e;
    struct stat st;
    size_t rlen;
    int fd;

    if (n < 0) {
        *status = 400;
        return NULL;
    }
    e = filecache_get(rel, (size_t) n, static_root_fd);
    if (e != NULL) {
        return e;
    }
    /* The decoded path stays the key: opening only appends to it. */
    fd = static_open_target(path, plen, rel, (size_t) n, &rlen, &st, status);
    if (fd == -1) {
        return NULL;
    }
    e = filecache_put(rel, (size_t) n, rel, rlen, fd, &st,
                      mime_type(rel, rlen));
    if (e == NULL) {
        *status = 503;
    }
    return e;
}

/* static_find(), the request answered when it finds nothing. */
static struct file_entry *
static_lookup(struct conn *c, const char *path, size_t plen)
{
    int status = 500;
    struct file_entry *e = static_find(path, plen, &status);

    if (e == NULL) {
        if (status == 301) {
            static_redirect_dir(c, path, plen);
        } else {
            response_error(c, status);
        }
    }
    return e;
}

int
static_refusal(const char *path, size_t plen)
{
    int status = 500;
    struct file_entry *e = static_find(path, plen, &status);

    if (e == NULL) {
        return status;
    }
    filecache_release(e); /* static_serve() finds it in the cache */
    return 0;
}

void
static_serve(struct conn *c, const char *path, size_t plen)
{
    char extra[256];
    uint64_t size, first = 0, last = 0;
    enum range_result range = RANGE_NONE;
    struct file_entry *e = static_lookup(c, path, plen);
    const struct stat *st;
    int n, status;

    if (e == NULL) {
        return;
    }
    st = &e->st;
    size = (uint64_t) st->st_size;
    status = static_condition(c, st, e->etag);
    if (status == 200) {
        range = static_range(c, st, e->etag, &first, &last);
    }
    if (status == 304) {
        n = snprintf(extra, sizeof(extra), "ETag: %s\r\nLast-Modified: %s\r\n",
                     e->etag, e->lastmod);
        response_head(c, 304, NULL, 0, extra, (size_t) n);
        filecache_release(e);
        return;
    }
    if (range == RANGE_UNSATISFIABLE) {
        n = snprintf(extra, sizeof(extra),
                     "Content-Range: bytes */%llu\r\nAccept-Ranges: bytes\r\n",
                     (unsigned long long) size);
        response_head(c, 416, "text/plain", 0, extra, (size_t) n);
        filecache_release(e);
        return;
    }
    if (range == RANGE_OK) {
        n = snprintf(extra, sizeof(extra),
                     "Content-Range: bytes %llu-%llu/%llu\r\nETag: %s\r\n"
                     "Last-Modified: %s\r\nAccept-Ranges: bytes\r\n",
                     (unsigned long long) first, (unsigned long long) last,
                     (unsigned long long) size, e->etag, e->lastmod);
        status = 206;
    } else {
        n = snprintf(
            extra, sizeof(extra),
            "ETag: %s\r\nLast-Modified: %s\r\nAccept-Ranges: bytes\r\n",
            e->etag, e->lastmod);
        first = 0;
        last = size - 1; /* wraps for an empty file; the length is 0 */
    }
    size = size == 0 ? 0 : last - first + 1;
    response_head(c, status, e->mime, size, extra, (size_t) n);
    if (c->parser.method == HTTP_HEAD || size == 0) {
        filecache_release(e);
        return;
    }
    conn_out_file(c, e->fd, (off_t) first, size, filecache_release, e);
}
