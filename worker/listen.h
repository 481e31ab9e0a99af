/*
 * listen.h: accepting by the worker itself (listen.c), for policies none
 * and reuseport.
 */
#ifndef HS_WORKER_LISTEN_H
#define HS_WORKER_LISTEN_H

/* Takes <fd> (owned from now on) and starts accepting on it. */
void listen_adopt(int fd);
void listen_stop(void);
/* A connection closed: resume accepting if --max-conns had paused it. */
void listen_room(void);

#endif
