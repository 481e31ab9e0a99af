/*
 * rehand.h: connections that outlive their worker (rehand.c): the
 * master's side of the table of connection states it shares with each
 * native worker (common/conn_state.h).
 */
#ifndef HS_MASTER_REHAND_H
#define HS_MASTER_REHAND_H

#include <stdbool.h>
#include <stdint.h>

struct mconn;
struct mworker;

/* A table for <w> when --rehand is on and its kind keeps one: 0, or -1
 * when it cannot be made (logged; <w> runs without one). */
int rehand_open(struct mworker *w);
/* The table's fd for the worker's exec (REHAND_FD), or -1; and its
 * slots. */
int rehand_fd(const struct mworker *w);
uint32_t rehand_slots(const struct mworker *w);
/* The worker has its copy (forked): the master's fd closes. */
void rehand_forked(struct mworker *w);

/* <c> is handed to <w>: a slot for it; what the CONN names (slot + 1),
 * or 0 when the table is full or absent. */
uint32_t rehand_assign(struct mworker *w, struct mconn *c);
/* <w> refused <c>, or went away before acknowledging it: its slot is
 * free again and the scheduler has it. */
void rehand_unassign(struct mworker *w, struct mconn *c);
/* <w> acknowledged <c>: the master keeps its fd (true), or lets go. */
bool rehand_acked(struct mworker *w, struct mconn *c);
/* A load report with <open_conns>: closes the master's fds of what <w>
 * closed, and hands again what it gave back; without a look at the table
 * unless <w> holds fewer connections than the master keeps for it. */
void rehand_report(struct mworker *w, uint32_t open_conns);
/* <w>, a worker of a kind without a table, gave back the idle connection
 * on <fd> (owned): it is handed again as a new arrival (the new master's,
 * when stepping down), or closed when it may not be. */
void rehand_given_back(struct mworker *w, int fd);
/* <w> was reaped: its idle connections go to other workers, the rest
 * close; the table goes. */
void rehand_worker_gone(struct mworker *w);
/* Connections whose descriptor the master keeps for <w>. */
uint64_t rehand_kept(const struct mworker *w);
/* Frees the table (the worker's record ends). */
void rehand_free(struct mworker *w);

#endif
