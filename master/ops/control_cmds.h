/*
 * control_cmds.h: the control socket's commands (control_cmds.c), one row
 * each, read by the master (control.c, which has a handler per row,
 * control_do_NAME) and by tools/handoffctl, which checks a command
 * against the same rows before it connects. A new command is a row here
 * and its handler.
 */
#ifndef HS_MASTER_CONTROL_CMDS_H
#define HS_MASTER_CONTROL_CMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* What a command takes after its name. */
enum ctl_arg {
    CTL_ARG_NONE,    /* nothing */
    CTL_ARG_WORKERS, /* a number of workers, 1 to HANDOFF_MAX_WORKERS */
    CTL_ARG_ONOFF,   /* on, off, or nothing */
};

/*
 * X(name, argument, follows, help): <follows> is true for a command whose
 * answer, without its argument, goes on as a stream (handoffctl prints
 * the "ok:" line on stderr, and the stream on stdout); <help> is its
 * lines in handoffctl --help.
 */
#define CTL_COMMANDS(X)                                                        \
    X(stats, CTL_ARG_NONE, false,                                              \
      "  stats         the master's figures (the /stats JSON)\n")              \
    X(status, CTL_ARG_NONE, false,                                             \
      "  status        the workers as a table, as pm2 list does\n")            \
    X(workers, CTL_ARG_WORKERS, false,                                         \
      "  workers N     scale to N workers (1 to " BOUNDS_STR(                  \
          HANDOFF_MAX_WORKERS) ")\n")                                          \
    X(reload, CTL_ARG_NONE, false,                                             \
      "  reload        rolling restart of the workers (as SIGHUP)\n")          \
    X(trace, CTL_ARG_ONOFF, true,                                              \
      "  trace on|off  switch --trace in the master and workers\n"             \
      "  trace         follow the master's trace until Ctrl-C\n")

struct ctl_cmd {
    const char *name;
    enum ctl_arg arg;
    bool follows;
    const char *help;
};

/* The rows, in order, and how many. */
extern const struct ctl_cmd ctl_cmds[];
extern const size_t ctl_ncmds;

const struct ctl_cmd *ctl_cmd_find(const char *name);
bool ctl_cmd_arg(const struct ctl_cmd *c, const char *arg, uint64_t *n,
                 char *why, size_t len);
bool ctl_cmd_check(int argc, char *const *argv, bool *follows, char *why,
                   size_t len);
void ctl_cmd_usage(char *buf, size_t len);
void ctl_cmd_forms(char *buf, size_t len);

#endif
