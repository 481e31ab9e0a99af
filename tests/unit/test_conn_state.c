/*
 * test_conn_state.c: the table of connection states a worker shares with
 * the master (common/conn_state.h): what one mapping stores the other
 * reads, the generation travels with the state and wraps, and a table of
 * no slots is refused.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "conn_state.h"
#include "test.h"

static int
table_fd(uint32_t nslots)
{
    int fd = memfd_create("test-conn-state", MFD_CLOEXEC);

    ASSERT(fd != -1);
    ASSERT(ftruncate(fd, (off_t) rehand_table_size(nslots)) == 0);
    return fd;
}

static void
test_two_mappings_see_one_table(void)
{
    int fd = table_fd(64);
    rehand_word *master = rehand_map(fd, 64), *worker = rehand_map(fd, 64);

    ASSERT(master != NULL && worker != NULL && master != worker);
    /* A fresh table is all FREE, generation 0. */
    ASSERT_EQ(rehand_load(worker, 63), 0);
    rehand_store(master, 5, 7, REHAND_HANDED);
    ASSERT_EQ(rehand_gen_of(rehand_load(worker, 5)), 7);
    ASSERT_EQ(rehand_state_of(rehand_load(worker, 5)), REHAND_HANDED);
    rehand_store(worker, 5, rehand_gen_of(rehand_load(worker, 5)), REHAND_IDLE);
    ASSERT_EQ(rehand_state_of(rehand_load(master, 5)), REHAND_IDLE);
    ASSERT_EQ(rehand_gen_of(rehand_load(master, 5)), 7);
    /* Its neighbours are untouched. */
    ASSERT_EQ(rehand_load(master, 4), 0);
    ASSERT_EQ(rehand_load(master, 6), 0);
    rehand_unmap(master, 64);
    rehand_unmap(worker, 64);
    close(fd);
}

static void
test_generation_wraps_inside_its_bits(void)
{
    int fd = table_fd(1);
    rehand_word *t = rehand_map(fd, 1);

    ASSERT(t != NULL);
    rehand_store(t, 0, REHAND_GEN_MASK, REHAND_RETURNED);
    ASSERT_EQ(rehand_gen_of(rehand_load(t, 0)), REHAND_GEN_MASK);
    ASSERT_EQ(rehand_state_of(rehand_load(t, 0)), REHAND_RETURNED);
    /* One more wraps to 0 and never spills into the state. */
    rehand_store(t, 0, REHAND_GEN_MASK + 1, REHAND_CLOSED);
    ASSERT_EQ(rehand_gen_of(rehand_load(t, 0)), 0);
    ASSERT_EQ(rehand_state_of(rehand_load(t, 0)), REHAND_CLOSED);
    rehand_unmap(t, 1);
    close(fd);
}

static void
test_no_slots_is_refused(void)
{
    int fd = table_fd(1);

    errno = 0;
    ASSERT(rehand_map(fd, 0) == NULL);
    ASSERT_EQ(errno, EINVAL);
    close(fd);
}

static void
test_state_names(void)
{
    ASSERT_STREQ(rehand_state_name(REHAND_IDLE), "idle");
    ASSERT_STREQ(rehand_state_name(REHAND_BUSY), "busy");
    ASSERT_STREQ(rehand_state_name((enum rehand_state) 15), "?");
}

int
main(void)
{
    RUN(test_two_mappings_see_one_table);
    RUN(test_generation_wraps_inside_its_bits);
    RUN(test_no_slots_is_refused);
    RUN(test_state_names);
    TEST_EXIT();
}
