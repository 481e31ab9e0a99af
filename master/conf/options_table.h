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

/* What SIGHUP does with a changed value (reload.c). */
enum opt_reload {
    OPT_RELOAD_WORKERS, /* the workers it starts are given it (default) */
    OPT_RELOAD_MASTER,  /* the master applies it at once */
    OPT_RELOAD_NEVER,   /* only a new master takes it (SIGUSR2): kept */
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
    enum opt_reload reload;
    size_t size; /* OPT_CUSTOM: the bytes at <offset> it sets */
    bool repeat; /* may be given more than once (--listen) */
};

/* The most rows the table may have (getopt's numbering leaves room). */
#define OPTIONS_ROWS_MAX 64

extern const struct opt_def options_table[];
extern const size_t options_nrows;

const struct opt_def *options_row(const char *name);
/* The bytes of struct master_options a row sets: its offset and size
 * (0 for a row that sets none, --help). */
size_t options_row_size(const struct opt_def *r);

/* options_diff.c: rows of two sets of options compared (SIGHUP). */
bool options_row_same(const struct opt_def *r, const struct master_options *a,
                      const struct master_options *b);
void options_row_keep(const struct opt_def *r, struct master_options *dst,
                      const struct master_options *src);
void options_row_show(const struct opt_def *r, const struct master_options *o,
                      char *buf, size_t len);

#endif
