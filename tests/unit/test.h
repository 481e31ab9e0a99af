/*
 * test.h: a minimal unit-test harness. Each TEST runs in its own forked
 * process with a time limit, so a crash or hang fails that test only.
 * Output: one "ok NAME" or "FAIL NAME: why" line per test, which
 * tests/run.py counts.
 */
#ifndef HS_TESTS_TEST_H
#define HS_TESTS_TEST_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define TEST_TIMEOUT_S 20

#define ASSERT(cond)                                                           \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: assertion failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                          \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define ASSERT_EQ(a, b)                                                        \
    do {                                                                       \
        long long a_ = (long long) (a), b_ = (long long) (b);                  \
        if (a_ != b_) {                                                        \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n",        \
                    __FILE__, __LINE__, #a, a_, #b, b_);                       \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

#define ASSERT_STREQ(a, b)                                                     \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (strcmp(a_, b_) != 0) {                                             \
            fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n",          \
                    __FILE__, __LINE__, #a, a_, b_);                           \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

static int test_failures;

static inline void
test_run(const char *name, void (*fn)(void))
{
    pid_t pid;
    int status;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        alarm(TEST_TIMEOUT_S);
        fn();
        exit(0);
    }
    while (waitpid(pid, &status, 0) == -1) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %s\n", name);
    } else {
        test_failures++;
        if (WIFSIGNALED(status)) {
            printf("FAIL %s: killed by signal %d%s\n", name, WTERMSIG(status),
                   WTERMSIG(status) == SIGALRM ? " (timeout)" : "");
        } else {
            printf("FAIL %s: exit status %d\n", name, WEXITSTATUS(status));
        }
    }
}

#define RUN(fn) test_run(#fn, fn)
#define TEST_EXIT() return test_failures == 0 ? 0 : 1

#endif
