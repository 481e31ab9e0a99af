/*
 * options.c: the master's command line: getopt over the rows of
 * options_table.c (and one option per HTTP limit), each flag applied with
 * options_apply(), and --help written from the same rows. Every bad flag
 * or value gets one line on stderr naming it, and exit status 2.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "conf/options_table.h"
#include "sched/policy.h"
#include "strlit.h"
#include "version.h"

static const char options_usage_head[] =
    "Usage: handoff [OPTION]... [--node SCRIPT [-- ARG...]]\n"
    "A multi-process HTTP server: the master accepts connections and hands\n"
    "each one to a worker process over a UNIX socket (SCM_RIGHTS), the way\n"
    "Node.js's cluster module does.\n"
    "\n";

static const char options_usage_tail[] =
    "\n"
    "Signals: SIGTERM, SIGINT, SIGQUIT stop gracefully (a second SIGTERM or\n"
    "SIGINT stops at once); SIGHUP reads the configuration again, applies\n"
    "what changed and restarts the workers one by one; SIGTTIN\n"
    "and SIGTTOU add and remove a worker; SIGUSR1 reopens the access log;\n"
    "SIGUSR2 starts a new master from the binary on disk (upgrade).\n"
    "See handoff(1) and docs/architecture.md.\n"
    "\n"
    "Policies:\n";


/* Where in getopt's vals the rows without a letter, then the limits,
 * start. */
#define OPT_VAL_ROW 256
#define OPT_VAL_LIMIT (OPT_VAL_ROW + OPTIONS_ROWS_MAX)

/* Every row, one option per HTTP limit, and the terminator. */
static struct option options_all[OPTIONS_ROWS_MAX + LIM_COUNT + 1];
/* ":p:H:w:hV": the rows' letters. */
static char options_short[2 * OPTIONS_ROWS_MAX + 2];

static int
options_val(size_t row)
{
    return options_table[row].letter != 0 ? options_table[row].letter
                                          : OPT_VAL_ROW + (int) row;
}

static void
options_build(void)
{
    size_t i, n = 0, k = 0;

    options_short[k++] = ':';
    for (i = 0; i < options_nrows; i++) {
        const struct opt_def *r = &options_table[i];

        options_all[n++] = (struct option){
            r->name, r->arg != NULL ? required_argument : no_argument, NULL,
            options_val(i)};
        if (r->letter != 0) {
            options_short[k++] = r->letter;
            if (r->arg != NULL) {
                options_short[k++] = ':';
            }
        }
    }
    for (i = 0; i < LIM_COUNT; i++) {
        options_all[n++] =
            (struct option){limit_defs[i].name, required_argument, NULL,
                            OPT_VAL_LIMIT + (int) i};
    }
    memset(&options_all[n], 0, sizeof(struct option));
    options_short[k] = '\0';
}

/* The option getopt answered <val> for, as its name. */
static const char *
options_name_of(int val)
{
    size_t i;

    if (val >= OPT_VAL_LIMIT && val < OPT_VAL_LIMIT + LIM_COUNT) {
        return limit_defs[val - OPT_VAL_LIMIT].name;
    }
    for (i = 0; i < options_nrows; i++) {
        if (options_val(i) == val) {
            return options_table[i].name;
        }
    }
    return NULL;
}

/* The option as the user wrote it, for error lines. */
static const char *
options_culprit(char **argv, int opt)
{
    static char shortopt[3];
    const char *arg = argv[optind - 1];

    if (opt > 0 && opt < 128 && strncmp(arg, "--", STRLEN_LIT("--")) != 0) {
        snprintf(shortopt, sizeof(shortopt), "-%c", opt);
        return shortopt;
    }
    return arg;
}

/* One row of --help: the flag, its help from column 25, continuation
 * lines indented to it. */
static void
options_help_row(const struct opt_def *r)
{
    char flag[64];
    const char *h = r->help, *nl;

    if (r->letter != 0) {
        snprintf(flag, sizeof(flag), "  -%c, --%s%s%s", r->letter, r->name,
                 r->arg != NULL ? "=" : "", r->arg != NULL ? r->arg : "");
    } else {
        snprintf(flag, sizeof(flag), "      --%s%s%s", r->name,
                 r->arg != NULL ? "=" : "", r->arg != NULL ? r->arg : "");
    }
    nl = strchr(h, '\n');
    printf("%-23s  %.*s\n", flag,
           (int) (nl != NULL ? nl - h : (long) strlen(h)), h);
    while (nl != NULL) {
        h = nl + 1;
        nl = strchr(h, '\n');
        printf("%25s%.*s\n", "", (int) (nl != NULL ? nl - h : (long) strlen(h)),
               h);
    }
}

static void
options_help(void)
{
    static const char *const unit[] = {
        [LIMIT_COUNT] = "N", [LIMIT_BYTES] = "SIZE", [LIMIT_MS] = "TIME"};
    char flag[40], def[24];
    size_t i;

    fputs(options_usage_head, stdout);
    for (i = 0; i < options_nrows; i++) {
        options_help_row(&options_table[i]);
    }
    fputs(options_usage_tail, stdout);
    for (i = 0; policy_all[i] != NULL; i++) {
        printf("  %-14s %s\n", policy_all[i]->name, policy_all[i]->summary);
    }
    printf("\nHTTP limits (SIZE: 512, 16k, 1m; TIME: 10s, 500ms):\n");
    for (i = 0; i < LIM_COUNT; i++) {
        const struct limit_def *d = &limit_defs[i];

        snprintf(flag, sizeof(flag), "--%s=%s", d->name, unit[d->kind]);
        if (d->kind == LIMIT_MS) {
            snprintf(def, sizeof(def), "%gs", (double) d->def / 1000.);
        } else {
            snprintf(def, sizeof(def), "%llu", (unsigned long long) d->def);
        }
        printf("  %-28s %s (default %s)\n", flag, d->help, def);
    }
}

/* What getopt found wrong: a missing value (':') or an unknown option. */
static void
options_getopt_error(char **argv, int c)
{
    if (c == ':') {
        fprintf(stderr,
                "handoff: option '%s%s' needs a value (see handoff "
                "--help)\n",
                optopt >= OPT_VAL_LIMIT ? "--" : "",
                optopt >= OPT_VAL_LIMIT ? options_name_of(optopt)
                                        : options_culprit(argv, optopt));
        return;
    }
    fprintf(stderr, "handoff: unknown option '%s' (see handoff --help)\n",
            options_culprit(argv, optopt));
}

/* The command line's options, as getopt found them, kept for SIGHUP:
 * argv lives as long as the process. */
static struct {
    const char *name, *value;
} options_cmdline[OPTIONS_ROWS_MAX + LIM_COUNT + 256];
static size_t options_ncmdline;
static const char *options_file; /* -c FILE */
static bool options_test;        /* -t */
static char **options_rest;      /* after the options (--node's ARGs) */
static int options_nrest;

/* getopt over <argv>: --help and --version act, -c and -t are noted, the
 * rest kept. OPTIONS_RUN, or how to exit. */
static enum options_result
options_scan(int argc, char **argv)
{
    int c;

    options_build();
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, options_short, options_all, NULL))
           != -1) {
        const char *name = c == ':' || c == '?' ? NULL : options_name_of(c);

        if (name == NULL) {
            options_getopt_error(argv, c);
            return OPTIONS_BAD;
        }
        if (strcmp(name, "help") == 0) {
            options_help();
            return OPTIONS_EXIT;
        }
        if (strcmp(name, "version") == 0) {
            printf("handoff %s\n", HANDOFF_VERSION);
            return OPTIONS_EXIT;
        }
        if (strcmp(name, "config") == 0) {
            options_file = optarg;
        } else if (strcmp(name, "test-config") == 0) {
            options_test = true;
        } else if (options_ncmdline
                   < sizeof(options_cmdline) / sizeof(options_cmdline[0])) {
            options_cmdline[options_ncmdline].name = name;
            options_cmdline[options_ncmdline++].value = optarg;
        } else {
            fprintf(stderr, "handoff: too many options\n");
            return OPTIONS_BAD;
        }
    }
    options_rest = argv + optind;
    options_nrest = argc - optind;
    return OPTIONS_RUN;
}

/*
 * Fills <o> from the file, then the command line's options over it, into
 * <set>. A file's errors go to <errs> (false); a command line's, as one
 * line in <err> (false, errs empty).
 */
static bool
options_load(struct options_set *set, struct master_options *o,
             struct conf_errors *errs, char *err, size_t len)
{
    bool file_ok = true;
    size_t i;

    options_begin(set, o);
    o->config = options_file;
    err[0] = '\0';
    /* A file's errors are all told at once: reading goes on after one,
     * and so do the command line and the checks after the file. */
    if (options_file != NULL) {
        file_ok = conf_read(options_file, set, errs);
    }
    for (i = 0; i < options_ncmdline; i++) {
        if (!options_apply(set, options_cmdline[i].name,
                           options_cmdline[i].value, err, len)) {
            return false;
        }
    }
    if (!options_finish(set, err, len)) {
        if (options_file != NULL) {
            /* Said of the options together: the file's name tells where
             * to look too. */
            conf_error(errs, "%s: %s", options_file, err);
            err[0] = '\0';
        }
        return false;
    }
    if (o->node_script != NULL) {
        /* What follows the options is the script's own command line. */
        o->node_args = options_rest;
        o->node_argc = options_nrest;
    } else if (options_nrest > 0) {
        snprintf(err, len, "unexpected argument '%s' (see handoff --help)",
                 options_rest[0]);
        return false;
    }
    return file_ok;
}

static void
options_print_errors(const struct conf_errors *errs)
{
    unsigned i;

    for (i = 0; i < errs->n; i++) {
        fprintf(stderr, "%s\n", errs->line[i]);
    }
    if (errs->more > 0) {
        fprintf(stderr, "... and %u more\n", errs->more);
    }
}

enum options_result
options_parse(int argc, char **argv, struct master_options *o)
{
    static struct conf_errors errs;
    struct options_set set;
    enum options_result rc = options_scan(argc, argv);
    char err[320];

    if (rc != OPTIONS_RUN) {
        return rc;
    }
    if (!options_load(&set, o, &errs, err, sizeof(err))) {
        if (err[0] != '\0') {
            fprintf(stderr, "handoff: %s\n", err);
            return OPTIONS_BAD;
        }
        if (options_test) {
            (void) options_check(&set, &errs); /* everything at once */
        }
        options_print_errors(&errs);
        return options_test ? OPTIONS_TEST_FAIL : OPTIONS_BAD;
    }
    if (!options_test) {
        return OPTIONS_RUN;
    }
    if (!options_check(&set, &errs)) {
        options_print_errors(&errs);
        return OPTIONS_TEST_FAIL;
    }
    if (options_file != NULL) {
        printf("handoff: the configuration in %s is valid\n", options_file);
    } else {
        printf("handoff: the options are valid\n");
    }
    return OPTIONS_EXIT;
}

/*
 * SIGHUP: the file and the command line again, into <o> if they are
 * valid and pass the checks of -t; else false, <errs> saying why (a
 * command line's error cannot arise: it was good at start).
 */
bool
options_reread(struct master_options *o, struct conf_errors *errs)
{
    static struct master_options fresh;
    struct options_set set;
    char err[320];

    memset(errs, 0, sizeof(*errs));
    if (!options_load(&set, &fresh, errs, err, sizeof(err))) {
        if (err[0] != '\0') {
            conf_error(errs, "command line: %s", err);
        } else {
            (void) options_check(&set, errs);
        }
        return false;
    }
    if (!options_check(&set, errs)) {
        return false;
    }
    *o = fresh;
    return true;
}

/* At exit: what the file's values were kept in. */
void
options_free(void)
{
    conf_free();
}
