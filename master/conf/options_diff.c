/*
 * options_diff.c: two sets of options compared row by row, for SIGHUP
 * (master/reload.c): whether a row's value differs, its value as text
 * for the log, and putting a row's old value back (one only a new
 * master can take). A row's value is the bytes it sets in struct
 * master_options (options_row_size()); a string is compared as text.
 */
#include <stdio.h>
#include <string.h>

#include "conf/options_table.h"
#include "sched/policy.h"

static const void *
options_field(const struct opt_def *r, const struct master_options *o)
{
    return (const char *) o + r->offset;
}

bool
options_row_same(const struct opt_def *r, const struct master_options *a,
                 const struct master_options *b)
{
    size_t n = options_row_size(r);

    if (n == 0) {
        return true;
    }
    if (r->kind == OPT_PATH) {
        const char *x = *(const char *const *) options_field(r, a);
        const char *y = *(const char *const *) options_field(r, b);

        return x == y || (x != NULL && y != NULL && strcmp(x, y) == 0);
    }
    return memcmp(options_field(r, a), options_field(r, b), n) == 0;
}

/* Row <r> of <dst> as it is in <src>. */
void
options_row_keep(const struct opt_def *r, struct master_options *dst,
                 const struct master_options *src)
{
    size_t n = options_row_size(r);

    memcpy((char *) dst + r->offset, options_field(r, src), n);
}

/* The listeners, as "a, b". */
static void
options_show_listen(const struct listen_list *l, char *buf, size_t len)
{
    size_t k = 0;
    unsigned i;
    int rc;

    buf[0] = '\0';
    for (i = 0; i < l->n && k < len; i++) {
        rc = snprintf(buf + k, len - k, "%s%s", i ? ", " : "", l->v[i].text);
        k += rc > 0 ? (size_t) rc : 0;
    }
}

/* Row <r>'s value in <o>, as the log shows it. */
void
options_row_show(const struct opt_def *r, const struct master_options *o,
                 char *buf, size_t len)
{
    const void *f = options_field(r, o);

    switch (r->kind) {
    case OPT_FLAG:
        snprintf(buf, len, "%s", *(const bool *) f ? "on" : "off");
        return;
    case OPT_UINT:
        snprintf(buf, len, "%u", *(const unsigned *) f);
        return;
    case OPT_U64:
        snprintf(buf, len, "%llu", (unsigned long long) *(const uint64_t *) f);
        return;
    case OPT_MS:
        snprintf(buf, len, "%llums",
                 (unsigned long long) *(const uint64_t *) f);
        return;
    case OPT_PATH:
        snprintf(buf, len, "%s",
                 *(const char *const *) f != NULL ? *(const char *const *) f
                                                  : "(none)");
        return;
    default:
        break;
    }
    if (strcmp(r->name, "listen") == 0) {
        options_show_listen(&o->listen, buf, len);
    } else if (strcmp(r->name, "policy") == 0) {
        snprintf(buf, len, "%s", o->policy->name);
    } else if (strcmp(r->name, "port") == 0) {
        snprintf(buf, len, "%u", o->port);
    } else if (strcmp(r->name, "host") == 0) {
        snprintf(buf, len, "%s", o->host);
    } else if (strcmp(r->name, "admin") == 0) {
        snprintf(buf, len, o->admin ? "%s:%u" : "(none)", o->admin_host,
                 o->admin_port);
    } else if (strcmp(r->name, "log-level") == 0) {
        snprintf(buf, len, "%s", log_level_name(o->log_level));
    } else if (strcmp(r->name, "log-format") == 0) {
        snprintf(buf, len, "%s", log_format_name(o->log_format));
    } else if (strcmp(r->name, "demo-routes") == 0) {
        snprintf(buf, len, "%s", o->demo_routes ? "on" : "off");
    } else if (strcmp(r->name, "rehand") == 0) {
        snprintf(buf, len, "%s", o->rehand ? "on" : "off");
    } else {
        snprintf(buf, len, "(changed)");
    }
}
