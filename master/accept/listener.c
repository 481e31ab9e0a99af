/*
 * listener.c: opens and closes the service's listening sockets. Only the
 * master binds and listens; workers never see these sockets (under the
 * default policies). There is one listener for each address of each
 * --listen (a host name binds every address it resolves to, as nginx
 * does), up to CHAN_LISTENERS_MAX; each is numbered by its index.
 *
 * At start-up they are handed over by systemd (used as they are, named
 * by LISTEN_FDNAMES) or by an old master (inherit.c), or bound here. An
 * old master's sockets are matched with this master's --listen by their
 * address: what the new configuration still names is taken over (no
 * connection waiting in its backlog is lost), what it no longer names is
 * closed, and what is new is bound. At SIGHUP, listeners_add() and
 * listeners_remove() open and close one --listen's sockets.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept/inherit.h"
#include "accept/listener.h"
#include "conf/options.h"
#include "fdutil.h"
#include "log.h"

void
listener_describe(const struct sockaddr *sa, char *buf, size_t len)
{
    char host[NI_MAXHOST], serv[NI_MAXSERV];
    socklen_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);

    if (getnameinfo(sa, salen, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV)
        != 0) {
        snprintf(buf, len, "?");
        return;
    }
    snprintf(buf, len, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", host,
             serv);
}

/*
 * A listening socket on <sa>. SO_REUSEADDR lets restarts skip TIME_WAIT
 * without allowing two listeners on one port; <reuseport> does allow
 * that, for the reuseport policy's one socket per worker. An IPv6 socket
 * takes IPv6 only (IPV6_V6ONLY, as nginx's listen does), so that
 * 0.0.0.0:PORT and [::]:PORT can both be listened on.
 */
int
listener_open_at(const struct sockaddr *sa, socklen_t salen, unsigned backlog,
                 bool reuseport)
{
    int fd, one = 1;

    fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd == -1) {
        return -1;
    }
    /* Accepted connections inherit TCP_NODELAY from the listener, which
     * spares each worker a setsockopt per connection. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1
        || setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1
        || (sa->sa_family == AF_INET6
            && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))
                   == -1)
        || (reuseport
            && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))
                   == -1)
        || bind(fd, sa, salen) == -1 || listen(fd, (int) backlog) == -1) {
        fd_close(fd);
        return -1;
    }
    return fd;
}

/* The addresses <host>:<port> resolves to, for listening; NULL with the
 * reason in <err>. */
static struct addrinfo *
listener_resolve(const char *host, unsigned port, char *err, size_t len)
{
    struct addrinfo hints, *res;
    char service[8];
    int rc;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%u", port);
    rc = getaddrinfo(host, service, &hints, &res);
    if (rc != 0) {
        snprintf(err, len, "cannot listen on %s port %u: %s", host, port,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return NULL;
    }
    return res;
}

/*
 * Binds and listens on <host>:<port>'s first address that works (the
 * admin listener). Returns the non-blocking, close-on-exec socket, its
 * address in <ss> and <sslen>, and a printable form in <desc>; or -1
 * with a one-line reason in <desc>.
 */
int
listener_open(const char *host, unsigned port, unsigned backlog, bool reuseport,
              struct sockaddr_storage *ss, socklen_t *sslen, char *desc,
              size_t desclen)
{
    struct addrinfo *res = listener_resolve(host, port, desc, desclen), *ai;
    int fd = -1, err = 0;

    if (res == NULL) {
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        fd = listener_open_at(ai->ai_addr, ai->ai_addrlen, backlog, reuseport);
        if (fd != -1) {
            break;
        }
        if (err == 0) {
            char where[NI_MAXHOST + NI_MAXSERV + 4];

            err = errno;
            listener_describe(ai->ai_addr, where, sizeof(where));
            snprintf(desc, desclen, "cannot listen on %s: %s", where,
                     strerror(err));
        }
    }
    freeaddrinfo(res);
    if (fd == -1) {
        return -1;
    }
    *sslen = sizeof(*ss);
    if (getsockname(fd, (struct sockaddr *) ss, sslen) == -1) {
        snprintf(desc, desclen, "getsockname() failed: %s", strerror(errno));
        fd_close(fd);
        return -1;
    }
    listener_describe((struct sockaddr *) ss, desc, desclen);
    return fd;
}

void
listeners_init(struct listeners *l)
{
    size_t i, k;

    memset(l, 0, sizeof(*l));
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        l->l[i].fd = -1;
        for (k = 0; k < HANDOFF_MAX_WORKERS; k++) {
            l->l[i].slot_fd[k] = -1;
        }
    }
    l->first = -1;
}

/* The first listener in the configuration's order becomes what a Node
 * worker is told, and names the control socket's port. */
static void
listeners_set_first(struct listeners *l)
{
    size_t i;

    l->first = -1;
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        if (l->l[i].open) {
            l->first = (int) i;
            l->addr = l->l[i].addr;
            l->addrlen = l->l[i].addrlen;
            return;
        }
    }
}

/* A free index, the one after the last taken first; -1 when none is. */
static int
listeners_free_index(struct listeners *l)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        unsigned k = (l->next + i) % CHAN_LISTENERS_MAX;

        if (!l->l[k].open) {
            l->next = (k + 1) % CHAN_LISTENERS_MAX;
            return (int) k;
        }
    }
    return -1;
}

/* Records socket <fd> (bound, listening) as a new listener; its index,
 * or -1 (and <fd> closed) when every index is taken. */
static int
listeners_record(struct listeners *l, int fd, const char *spec,
                 const char *name, bool reuseport)
{
    int i = listeners_free_index(l);
    struct listener *li;

    if (i == -1) {
        fd_close(fd);
        errno = ENOSPC; /* every index is taken */
        return -1;
    }
    li = &l->l[i];
    li->addrlen = sizeof(li->addr);
    if (getsockname(fd, (struct sockaddr *) &li->addr, &li->addrlen) == -1) {
        fd_close(fd);
        return -1;
    }
    li->open = true;
    li->accepted = 0;
    memset(li->base, 0, sizeof(li->base));
    if (reuseport) {
        li->slot_fd[0] = fd;
    } else {
        li->fd = fd;
    }
    snprintf(li->spec, sizeof(li->spec), "%s", spec);
    listener_describe((struct sockaddr *) &li->addr, li->address,
                      sizeof(li->address));
    snprintf(li->name, sizeof(li->name), "%s", name[0] != '\0' ? name : spec);
    l->nopen++;
    return i;
}

/* Under reuseport: slot <slot>'s socket on listener <i>'s address. */
static int
listeners_open_slot_of(struct listeners *l, unsigned i, unsigned slot)
{
    struct listener *li = &l->l[i];

    if (li->slot_fd[slot] != -1) {
        return 0;
    }
    li->slot_fd[slot] = listener_open_at((struct sockaddr *) &li->addr,
                                         li->addrlen, l->backlog, true);
    return li->slot_fd[slot] == -1 ? -1 : 0;
}

/* Under reuseport: the first <nslots> slots' sockets on listener <i>. */
static int
listeners_fill_slots(struct listeners *l, unsigned i, unsigned nslots,
                     char *err, size_t len)
{
    unsigned s;

    for (s = 0; s < nslots; s++) {
        if (listeners_open_slot_of(l, i, s) == -1) {
            snprintf(err, len, "cannot open SO_REUSEPORT socket %u on %s: %s",
                     s + 1, l->l[i].address, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/*
 * True when <got> is <want>'s address and port: port 0 in <want> matches
 * any port and, with <wildcard>, so does its unspecified address (0.0.0.0,
 * ::) any address, as a socket bound to it accepts on every one.
 */
static bool
listeners_match(const struct sockaddr *want, const struct sockaddr *got,
                bool wildcard)
{
    if (want->sa_family != got->sa_family) {
        return false;
    }
    if (want->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const void *) want,
                                 *b = (const void *) got;

        return (a->sin_addr.s_addr == b->sin_addr.s_addr
                || (wildcard && a->sin_addr.s_addr == htonl(INADDR_ANY)))
               && (a->sin_port == 0 || a->sin_port == b->sin_port);
    }
    if (want->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const void *) want,
                                  *b = (const void *) got;

        return (memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0
                || (wildcard && IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr)))
               && (a->sin6_port == 0 || a->sin6_port == b->sin6_port);
    }
    return false;
}

/* The same address and port (port 0 in <want>: any port). */
static bool
listeners_same(const struct sockaddr *want, const struct sockaddr *got)
{
    return listeners_match(want, got, false);
}

/* Sockets handed over at start-up, not yet taken. */
struct listeners_handed {
    int fds[INHERIT_MAX];
    char names[INHERIT_MAX][INHERIT_NAME_MAX];
    struct sockaddr_storage addr[INHERIT_MAX];
    size_t n;
};

/* An inherited socket bound to <sa> (taken: -1 in its place), or -1. */
static int
listeners_take_handed(struct listeners_handed *h, const struct sockaddr *sa)
{
    size_t k;

    for (k = 0; k < h->n; k++) {
        if (h->fds[k] != -1
            && listeners_same(sa, (struct sockaddr *) &h->addr[k])) {
            int fd = h->fds[k];

            h->fds[k] = -1;
            return fd;
        }
    }
    return -1;
}

/* Under reuseport, the slots' sockets an old master passed on for
 * listener <i> beyond the first. */
static void
listeners_take_slots(struct listeners *l, unsigned i, unsigned nslots,
                     struct listeners_handed *h)
{
    unsigned s;

    for (s = 1; s < nslots; s++) {
        int fd = listeners_take_handed(h, (struct sockaddr *) &l->l[i].addr);

        if (fd == -1) {
            return;
        }
        l->l[i].slot_fd[s] = fd;
    }
}

/*
 * Opens <spec>'s listeners: each address it resolves to, taken from <h>
 * when an old master passed it on, else bound. Returns how many, or -1
 * with the reason in <err> (what it opened is closed again).
 */
static int
listeners_open_spec(struct listeners *l, const struct listen_spec *spec,
                    bool reuseport, unsigned nslots, struct listeners_handed *h,
                    char *err, size_t len)
{
    struct addrinfo *res = listener_resolve(spec->host, spec->port, err, len);
    struct addrinfo *ai;
    int opened[CHAN_LISTENERS_MAX], n = 0, i, k;

    if (res == NULL) {
        return -1;
    }
    for (ai = res; ai != NULL; ai = ai->ai_next) {
        int fd = h != NULL ? listeners_take_handed(h, ai->ai_addr) : -1;
        bool dup = false;

        for (k = 0; k < n; k++) { /* the same address twice in <res> */
            dup = dup
                  || listeners_same(ai->ai_addr,
                                    (struct sockaddr *) &l->l[opened[k]].addr);
        }
        if (dup) {
            fd_close(fd);
            continue;
        }
        if (fd == -1) {
            fd = listener_open_at(ai->ai_addr, ai->ai_addrlen, l->backlog,
                                  reuseport);
        }
        i = fd == -1 ? -1 : listeners_record(l, fd, spec->text, "", reuseport);
        if (i == -1) {
            char where[NI_MAXHOST + NI_MAXSERV + 4];

            listener_describe(ai->ai_addr, where, sizeof(where));
            if (errno == ENOSPC) {
                snprintf(err, len,
                         "cannot listen on %s: more than %d listeners", where,
                         CHAN_LISTENERS_MAX);
            } else {
                snprintf(err, len, "cannot listen on %s: %s", where,
                         strerror(errno));
            }
            goto fail;
        }
        opened[n++] = i;
        l->l[i].tls = spec->tls;
        if (reuseport) {
            if (h != NULL) {
                listeners_take_slots(l, (unsigned) i, nslots, h);
            }
            if (listeners_fill_slots(l, (unsigned) i, nslots, err, len) == -1) {
                goto fail;
            }
        }
    }
    freeaddrinfo(res);
    return n;
fail:
    freeaddrinfo(res);
    for (k = 0; k < n; k++) {
        listeners_remove(l, (unsigned) opened[k]);
    }
    return -1;
}

/* Takes systemd's sockets as they are (through an old master or not):
 * each one listener, under reuseport the first slot's. */
static int
listeners_adopt_systemd(struct listeners *l, bool reuseport, unsigned nslots,
                        struct listeners_handed *h, char *err, size_t len)
{
    size_t k;
    int i;

    l->from_systemd = true;
    for (k = 0; k < h->n; k++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        size_t j;
        bool seen = false;

        if (h->fds[k] == -1) {
            continue;
        }
        /* Under reuseport an old master passed each slot's socket: the
         * first of an address is the listener, the rest its slots'. */
        if (getsockname(h->fds[k], (struct sockaddr *) &ss, &sl) == 0) {
            for (j = 0; j < CHAN_LISTENERS_MAX && reuseport; j++) {
                seen =
                    seen
                    || (l->l[j].open
                        && listeners_same((struct sockaddr *) &ss,
                                          (struct sockaddr *) &l->l[j].addr));
            }
        }
        if (seen) {
            continue; /* taken with its listener below */
        }
        i = listeners_record(l, h->fds[k], h->names[k], h->names[k], reuseport);
        h->fds[k] = -1;
        if (i == -1) {
            snprintf(err, len, "more than %d inherited listeners",
                     CHAN_LISTENERS_MAX);
            return -1;
        }
        memcpy(l->l[i].spec, l->l[i].address, sizeof(l->l[i].address));
        if (reuseport) {
            listeners_take_slots(l, (unsigned) i, nslots, h);
            if (listeners_fill_slots(l, (unsigned) i, nslots, err, len) == -1) {
                return -1;
            }
        }
    }
    return 0;
}

/* "127.0.0.1:8080 and [::1]:8080" into <where>. */
static void
listeners_where(const struct listeners *l, char *where, size_t wlen)
{
    size_t i, n = 0, k = 0;
    int rc;

    where[0] = '\0';
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        n += l->l[i].open;
    }
    for (i = 0; i < CHAN_LISTENERS_MAX && k < wlen; i++) {
        if (!l->l[i].open) {
            continue;
        }
        n--;
        rc = snprintf(where + k, wlen - k, "%s%s", l->l[i].address,
                      n == 0   ? ""
                      : n == 1 ? " and "
                               : ", ");
        k += rc > 0 ? (size_t) rc : 0;
    }
}

/*
 * Opens the service's listening sockets: one for each address of each
 * --listen, which the master accepts on or shares with every worker, or
 * under reuseport one per slot (of <nslots>) on each. On failure <where>
 * says why (and what was opened is closed); else where it listens.
 */
int
listeners_open(struct listeners *l, const struct master_options *o,
               unsigned nslots, char *where, size_t wlen)
{
    bool reuseport = o->policy->accept == POLICY_REUSEPORT;
    struct listeners_handed h;
    size_t k;
    unsigned i;
    int rc = 0;

    l->backlog = o->backlog;
    h.n = inherit_take(h.fds, h.names, INHERIT_MAX);
    for (k = 0; k < h.n; k++) {
        socklen_t sl = sizeof(h.addr[k]);

        if (getsockname(h.fds[k], (struct sockaddr *) &h.addr[k], &sl) == -1) {
            memset(&h.addr[k], 0, sizeof(h.addr[k]));
        }
    }
    if (h.n > 0 && inherit_systemd()) {
        rc = listeners_adopt_systemd(l, reuseport, nslots, &h, where, wlen);
    } else {
        for (i = 0; i < o->listen.n && rc != -1; i++) {
            rc = listeners_open_spec(l, &o->listen.v[i], reuseport, nslots, &h,
                                     where, wlen);
        }
    }
    for (k = 0; k < h.n; k++) {
        if (h.fds[k] != -1) {
            char desc[64];

            listener_describe((struct sockaddr *) &h.addr[k], desc,
                              sizeof(desc));
            log_info("%s, handed over, is no longer listened on: closed", desc);
            fd_close(h.fds[k]);
        }
    }
    if (rc == -1) {
        listeners_close(l);
        return -1;
    }
    listeners_set_first(l);
    listeners_where(l, where, wlen);
    return 0;
}

/*
 * SIGHUP: opens <spec>'s listeners. Returns how many, or -1 with the
 * reason in <err> (nothing is left open).
 */
int
listeners_add(struct listeners *l, const struct listen_spec *spec,
              bool reuseport, unsigned nslots, char *err, size_t len)
{
    int n = listeners_open_spec(l, spec, reuseport, nslots, NULL, err, len);

    if (n > 0) {
        listeners_set_first(l);
    }
    return n;
}

/* Closes listener <i> (its workers, draining, hold their own copies). */
void
listeners_remove(struct listeners *l, unsigned i)
{
    struct listener *li = &l->l[i];
    size_t k;

    if (!li->open) {
        return;
    }
    fd_close(li->fd);
    li->fd = -1;
    for (k = 0; k < HANDOFF_MAX_WORKERS; k++) {
        fd_close(li->slot_fd[k]);
        li->slot_fd[k] = -1;
    }
    li->open = false;
    l->nopen--;
    listeners_set_first(l);
}

/* Slot <slot>'s own SO_REUSEPORT socket on every listener's address. */
int
listeners_open_slot(struct listeners *l, unsigned slot)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        if (l->l[i].open && listeners_open_slot_of(l, i, slot) == -1) {
            return -1;
        }
    }
    return 0;
}

/* The slot is gone: its worker, draining, holds its own copies. */
void
listeners_close_slot(struct listeners *l, unsigned slot)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        fd_close(l->l[i].slot_fd[slot]);
        l->l[i].slot_fd[slot] = -1;
    }
}

void
listeners_close(struct listeners *l)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        listeners_remove(l, i);
    }
}

int
listeners_fd_of(const struct listeners *l, unsigned i, enum policy_accept how,
                int slot)
{
    const struct listener *li = &l->l[i];

    if (!li->open) {
        return -1;
    }
    switch (how) {
    case POLICY_SHARED_SOCKET:
        return li->fd;
    case POLICY_REUSEPORT:
        return slot >= 0 ? li->slot_fd[slot] : -1;
    default:
        return -1;
    }
}

int
listeners_worker_fd(const struct listeners *l, enum policy_accept how, int slot)
{
    return l->first >= 0 ? listeners_fd_of(l, (unsigned) l->first, how, slot)
                         : -1;
}

int
listeners_of_local(const struct listeners *l, const struct sockaddr *local)
{
    unsigned i;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        if (l->l[i].open
            && listeners_match((const struct sockaddr *) &l->l[i].addr, local,
                               true)) {
            return (int) i;
        }
    }
    return -1;
}

/* Every open socket, each listener's in index order (reuseport: each
 * slot's), into <fds>, with its listener's name into <names>; how many. */
size_t
listeners_fds(const struct listeners *l, int *fds,
              char (*names)[INHERIT_NAME_MAX], size_t max)
{
    size_t n = 0;
    unsigned i, k;

    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        const struct listener *li = &l->l[i];

        if (!li->open) {
            continue;
        }
        if (li->fd != -1 && n < max) {
            snprintf(names[n], INHERIT_NAME_MAX, "%s", li->name);
            fds[n++] = li->fd;
        }
        for (k = 0; k < HANDOFF_MAX_WORKERS && n < max; k++) {
            if (li->slot_fd[k] != -1) {
                snprintf(names[n], INHERIT_NAME_MAX, "%s", li->name);
                fds[n++] = li->slot_fd[k];
            }
        }
    }
    return n;
}

/* SIGHUP: a new --backlog for every socket (listen() again sets it). */
void
listeners_set_backlog(struct listeners *l, unsigned backlog)
{
    unsigned i, k;

    l->backlog = backlog;
    for (i = 0; i < CHAN_LISTENERS_MAX; i++) {
        struct listener *li = &l->l[i];

        if (li->open && li->fd != -1 && listen(li->fd, (int) backlog) == -1) {
            log_warn(errno, "listen(%s) with the new backlog failed",
                     li->address);
        }
        for (k = 0; k < HANDOFF_MAX_WORKERS && li->open; k++) {
            if (li->slot_fd[k] != -1
                && listen(li->slot_fd[k], (int) backlog) == -1) {
                log_warn(errno, "listen(%s) with the new backlog failed",
                         li->address);
            }
        }
    }
}
