/*
 * bounds.h: limits that more than one program checks: the master's
 * options and control socket, and handoffctl, which validates a command
 * before it reaches the master.
 */
#ifndef HS_COMMON_BOUNDS_H
#define HS_COMMON_BOUNDS_H

/* The most worker slots a master runs (--workers, scaling, handoffctl
 * workers N). */
#define HANDOFF_MAX_WORKERS 1024

/* A bound as text, for messages fixed at compile time. */
#define BOUNDS_STR_(x) #x
#define BOUNDS_STR(x) BOUNDS_STR_(x)

#endif
