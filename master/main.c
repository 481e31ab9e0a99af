/*
 * main.c: the handoff command: parse flags, then run the master.
 */
#include <string.h>

#include "log.h"
#include "master.h"

int
main(int argc, char **argv)
{
    static struct master m;

    switch (options_parse(argc, argv, &m.opt)) {
    case OPTIONS_EXIT:
        return 0;
    case OPTIONS_BAD:
        return 2;
    case OPTIONS_TEST_FAIL:
        return 1;
    case OPTIONS_RUN:
        break;
    }
    log_init("master", 0);
    log_configure(m.opt.log_level, m.opt.log_format);
    log_nonblocking();
    return master_run(&m, argv);
}
