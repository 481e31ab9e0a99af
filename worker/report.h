/*
 * report.h: load reports to the master and the heartbeat (report.c).
 */
#ifndef HS_WORKER_REPORT_H
#define HS_WORKER_REPORT_H

void report_start(void);
/* A figure changed: report it now or after the minimum gap. */
void report_changed(void);
/* Before the loop blocks: send a due report not waiting out the gap. */
void report_flush(void);
/* A report now, ahead of work that will block the loop. */
void report_now(void);
void report_stop(void);

#endif
