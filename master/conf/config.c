/*
 * config.c: the configuration file (-c FILE), read by the same table as
 * the command line (options_apply()), in the style of sshd_config: each
 * long option's name as a keyword, then its value, one a line:
 *
 *   # handoff.conf
 *   listen 0.0.0.0:80
 *   listen [::]:80
 *   workers 4
 *   policy least-loaded
 *   trace off
 *
 * A keyword may also be followed by '='; '#' starts a comment at the
 * start of a line or after a space; a value with spaces or '#' is
 * written in double quotes (\" and \\ inside). A flag's value is on or
 * off (alone: on). Keywords are the long options' names, in any case;
 * config, test-config, help and version are not settings. A keyword
 * given twice is an error, except listen. Every error is collected as
 * "FILE:LINE: what", and reading goes on, so one run shows them all.
 *
 * Values are kept until exit (conf_keep()), each text once, so that the
 * options may refer to them and a SIGHUP that reads the same file again
 * keeps nothing more.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/options.h"
#include "conf/options_table.h"

#define CONF_LINE_MAX 4096

/* The values kept, each text once. */
struct conf_kept {
    struct conf_kept *next;
    char text[];
};

static struct conf_kept *conf_kept;

/* <s>, kept until exit (conf_free()); NULL on ENOMEM. */
const char *
conf_keep(const char *s)
{
    struct conf_kept *k;
    size_t n = strlen(s);

    for (k = conf_kept; k != NULL; k = k->next) {
        if (strcmp(k->text, s) == 0) {
            return k->text;
        }
    }
    k = malloc(sizeof(*k) + n + 1);
    if (k == NULL) {
        return NULL;
    }
    memcpy(k->text, s, n + 1);
    k->next = conf_kept;
    conf_kept = k;
    return k->text;
}

void
conf_free(void)
{
    while (conf_kept != NULL) {
        struct conf_kept *k = conf_kept;

        conf_kept = k->next;
        free(k);
    }
}

void
conf_error(struct conf_errors *e, const char *fmt, ...)
{
    va_list ap;

    if (e->n == CONF_ERRORS_MAX) {
        e->more++;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(e->line[e->n++], sizeof(e->line[0]), fmt, ap);
    va_end(ap);
}

/*
 * Reads a value at <p> into <out>: a quoted string (its escapes undone)
 * or a bare word up to a comment. Returns false with the reason in <why>
 * when it is malformed.
 */
static bool
conf_value(const char *p, char *out, size_t size, const char **why)
{
    size_t n = 0;

    if (*p == '"') {
        for (p++; *p != '"'; p++) {
            if (*p == '\0') {
                *why = "a quoted value without its closing quote";
                return false;
            }
            if (*p == '\\' && (p[1] == '"' || p[1] == '\\')) {
                p++;
            }
            if (n + 1 < size) {
                out[n++] = *p;
            }
        }
        for (p++; *p == ' ' || *p == '\t'; p++) {
        }
        if (*p != '\0' && *p != '#') {
            *why = "something after a quoted value";
            return false;
        }
    } else {
        const char *end = p;

        /* Up to a comment: '#' after a space (or the end). */
        while (*end != '\0'
               && !(*end == '#'
                    && (end == p || isspace((unsigned char) end[-1])))) {
            end++;
        }
        while (end > p && isspace((unsigned char) end[-1])) {
            end--;
        }
        n = (size_t) (end - p) < size ? (size_t) (end - p) : size - 1;
        memcpy(out, p, n);
    }
    out[n] = '\0';
    return true;
}

/* Line <lineno>, <text> (no newline), into the options. */
static void
conf_line(struct options_set *set, unsigned lineno, char *text,
          struct conf_errors *errs)
{
    char key[64], value[CONF_LINE_MAX], err[320];
    const struct opt_def *r;
    const char *why = NULL, *kept;
    size_t n = 0;
    char *p = text;

    while (isspace((unsigned char) *p)) {
        p++;
    }
    if (*p == '\0' || *p == '#') {
        return;
    }
    while (*p != '\0' && !isspace((unsigned char) *p) && *p != '='
           && n + 1 < sizeof(key)) {
        key[n++] = (char) tolower((unsigned char) *p++);
    }
    key[n] = '\0';
    while (isspace((unsigned char) *p)) {
        p++;
    }
    if (*p == '=') {
        for (p++; isspace((unsigned char) *p); p++) {
        }
    }
    r = options_row(key);
    if (options_row_slot(key) == OPTIONS_WHERE_SLOTS) {
        conf_error(errs, "%s:%u: unknown keyword '%s'", set->file, lineno, key);
        return;
    }
    if (r != NULL && r->kind == OPT_ACTION) {
        conf_error(errs, "%s:%u: '%s' is not a setting for a file", set->file,
                   lineno, key);
        return;
    }
    if (!conf_value(p, value, sizeof(value), &why)) {
        conf_error(errs, "%s:%u: %s", set->file, lineno, why);
        return;
    }
    if (value[0] == '\0' && (r == NULL || r->kind != OPT_FLAG)) {
        conf_error(errs, "%s:%u: '%s' needs a value", set->file, lineno, key);
        return;
    }
    kept = value[0] != '\0' ? conf_keep(value) : NULL;
    if (value[0] != '\0' && kept == NULL) {
        conf_error(errs, "%s:%u: out of memory", set->file, lineno);
        return;
    }
    set->line = lineno;
    if (!options_apply(set, key, kept, err, sizeof(err))) {
        conf_error(errs, "%s:%u: %s", set->file, lineno, err);
    }
    set->line = OPTIONS_CMDLINE;
}

/*
 * Applies the file at <path> to <set>. Returns true, or false with every
 * error in <errs> (what could be applied was).
 */
bool
conf_read(const char *path, struct options_set *set, struct conf_errors *errs)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    unsigned lineno = 0, before = errs->n + errs->more;
    FILE *f = fopen(path, "re");

    set->file = path;
    if (f == NULL) {
        conf_error(errs, "%s: cannot read it: %s", path, strerror(errno));
        return false;
    }
    while ((len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if (len > 0 && line[len - 1] == '\n') {
            line[--len] = '\0';
        }
        if (len > CONF_LINE_MAX) {
            conf_error(errs, "%s:%u: a line over %d bytes", path, lineno,
                       CONF_LINE_MAX);
            continue;
        }
        if (memchr(line, '\0', (size_t) len) != NULL) {
            conf_error(errs, "%s:%u: a NUL byte in the line", path, lineno);
            continue;
        }
        conf_line(set, lineno, line, errs);
    }
    if (ferror(f)) {
        conf_error(errs, "%s: cannot read it: %s", path, strerror(errno));
    }
    free(line);
    fclose(f);
    return errs->n + errs->more == before;
}
