/*
 * control_cmds.c: the control socket's commands as a table (the rows of
 * control_cmds.h), and the checks of a command's argument: the master's,
 * on what a client sent, and handoffctl's, on its command line before it
 * connects (so bad usage never reaches the master). Pure: no I/O, no
 * master state, so handoffctl links it as it is.
 */
#include <stdio.h>
#include <string.h>

#include "numparse.h"
#include "ops/control_cmds.h"

#define CTL_ROW(name, arg, follows, help) {#name, arg, follows, help},

const struct ctl_cmd ctl_cmds[] = {CTL_COMMANDS(CTL_ROW)};
const size_t ctl_ncmds = sizeof(ctl_cmds) / sizeof(ctl_cmds[0]);

/* How each kind of argument is written, after the command's name, and
 * how the master refuses a wrong one. */
static const struct ctl_arg_text {
    const char *usage; /* in handoffctl's usage line */
    const char *form;  /* in the master's list of commands */
    const char *alt;   /* ...and a second form, or NULL */
    const char *bad;   /* the master's refusal */
} ctl_arg_texts[] = {
    [CTL_ARG_NONE] = {"", "", NULL, " takes no argument"},
    [CTL_ARG_WORKERS] = {" N", " N", NULL,
                         " takes a number from 1 to " BOUNDS_STR(
                             HANDOFF_MAX_WORKERS)},
    [CTL_ARG_ONOFF] = {" [on|off]", "", " on|off", " takes on, off or nothing"},
};

const struct ctl_cmd *
ctl_cmd_find(const char *name)
{
    size_t i;

    for (i = 0; i < ctl_ncmds; i++) {
        if (strcmp(ctl_cmds[i].name, name) == 0) {
            return &ctl_cmds[i];
        }
    }
    return NULL;
}

/* True if <arg> is a count from 1 to HANDOFF_MAX_WORKERS, in *n. */
static bool
ctl_count(const char *arg, uint64_t *n)
{
    return num_parse_cstr(arg, 1, HANDOFF_MAX_WORKERS, n);
}

static bool
ctl_onoff(const char *arg)
{
    return strcmp(arg, "on") == 0 || strcmp(arg, "off") == 0;
}

/*
 * The master's check of <c>'s argument <arg> (NULL when none came): true
 * (a count in *n), or false with the reason in <why>.
 */
bool
ctl_cmd_arg(const struct ctl_cmd *c, const char *arg, uint64_t *n, char *why,
            size_t len)
{
    bool ok;

    switch (c->arg) {
    case CTL_ARG_WORKERS:
        ok = arg != NULL && ctl_count(arg, n);
        break;
    case CTL_ARG_ONOFF:
        ok = arg == NULL || ctl_onoff(arg);
        break;
    default:
        ok = arg == NULL;
        break;
    }
    if (!ok) {
        snprintf(why, len, "%s%s", c->name, ctl_arg_texts[c->arg].bad);
    }
    return ok;
}

/*
 * handoffctl's check of COMMAND [ARG...] (<argc> words at <argv>): true,
 * with *follows set when the answer is a stream, or false with the
 * reason in <why>.
 */
bool
ctl_cmd_check(int argc, char *const *argv, bool *follows, char *why, size_t len)
{
    const struct ctl_cmd *c = ctl_cmd_find(argv[0]);
    uint64_t n;

    if (c == NULL) {
        snprintf(why, len, "unknown command '%s'", argv[0]);
        return false;
    }
    *follows = c->follows && argc == 1;
    switch (c->arg) {
    case CTL_ARG_WORKERS:
        if (argc != 2) {
            snprintf(why, len, "%s takes one number, from 1 to %d", c->name,
                     HANDOFF_MAX_WORKERS);
            return false;
        }
        if (!ctl_count(argv[1], &n)) {
            snprintf(why, len, "%s: '%s' is not a number from 1 to %d", c->name,
                     argv[1], HANDOFF_MAX_WORKERS);
            return false;
        }
        return true;
    case CTL_ARG_ONOFF:
        if (argc == 1 || (argc == 2 && ctl_onoff(argv[1]))) {
            return true;
        }
        if (argc == 2) {
            snprintf(why, len, "%s: '%s' is neither on nor off", c->name,
                     argv[1]);
        } else {
            snprintf(why, len, "%s takes on, off or nothing", c->name);
        }
        return false;
    default:
        if (argc != 1) {
            snprintf(why, len, "%s takes no argument", c->name);
            return false;
        }
        return true;
    }
}

/* Appends <s> to <buf> (length *n, size <len>), cut to fit. */
static void
ctl_append(char *buf, size_t len, size_t *n, const char *s)
{
    int rc;

    if (*n >= len) {
        return;
    }
    rc = snprintf(buf + *n, len - *n, "%s", s);
    *n += rc > 0 ? (size_t) rc : 0;
}

/* "stats | workers N | reload | trace [on|off]" */
void
ctl_cmd_usage(char *buf, size_t len)
{
    size_t i, n = 0;

    buf[0] = '\0';
    for (i = 0; i < ctl_ncmds; i++) {
        ctl_append(buf, len, &n, i ? " | " : "");
        ctl_append(buf, len, &n, ctl_cmds[i].name);
        ctl_append(buf, len, &n, ctl_arg_texts[ctl_cmds[i].arg].usage);
    }
}

/* "stats, workers N, reload, trace, trace on|off" */
void
ctl_cmd_forms(char *buf, size_t len)
{
    size_t i, n = 0;

    buf[0] = '\0';
    for (i = 0; i < ctl_ncmds; i++) {
        const struct ctl_arg_text *t = &ctl_arg_texts[ctl_cmds[i].arg];

        ctl_append(buf, len, &n, i ? ", " : "");
        ctl_append(buf, len, &n, ctl_cmds[i].name);
        ctl_append(buf, len, &n, t->form);
        if (t->alt != NULL) {
            ctl_append(buf, len, &n, ", ");
            ctl_append(buf, len, &n, ctl_cmds[i].name);
            ctl_append(buf, len, &n, t->alt);
        }
    }
}
