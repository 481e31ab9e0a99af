/*
 * options_table.h: the master's options as a table (options_table.c),
 * one row per flag, as nginx's ngx_command_t: the command line
 * (options.c, with getopt) and, later, a configuration file read the
 * same rows, through options_apply().
 */
#ifndef HS_MASTER_OPTIONS_TABLE_H
#define HS_MASTER_OPTIONS_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/options.h"

/* What a row's value is, and so how it is checked and stored. */
enum opt_kind {
    OPT_FLAG,   /* no value: sets a bool */
    OPT_UINT,   /* an integer from min to max, into an unsigned */
    OPT_U64,    /* an integer from min to max, into a uint64_t */
    OPT_MS,     /* 0, or a duration ("10s", "500ms") from min to max ms */
    OPT_PATH,   /* a non-empty string, kept by reference */
    OPT_CUSTOM, /* the row's own setter */
    OPT_ACTION, /* --help, --version: the command line acts on it */
};

struct opt_def {
    const char *name;
    char letter;     /* the short option, or 0 */
    const char *arg; /* the value's name in --help; NULL: no value */
    enum opt_kind kind;
    size_t offset;      /* the field in struct master_options */
    uint64_t min, max;  /* OPT_UINT, OPT_U64, OPT_MS */
    const char *expect; /* OPT_MS: what the refusal says it expected */
    const char *need;   /* OPT_PATH: what an empty value lacks */
    bool (*set)(struct options_set *set, const char *value, char *err,
                size_t len); /* OPT_CUSTOM */
    bool native;      /* configures handoff's own workers only (not --node) */
    const char *help; /* for --help; "\n" starts a continuation line */
};

/* The most rows the table may have (getopt's numbering leaves room). */
#define OPTIONS_ROWS_MAX 64

extern const struct opt_def options_table[];
extern const size_t options_nrows;

const struct opt_def *options_row(const char *name);

#endif
