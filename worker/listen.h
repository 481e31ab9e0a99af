/*
 * listen.h: accepting by the worker itself (listen.c), for policies none
 * and reuseport.
 */
#ifndef HS_WORKER_LISTEN_H
#define HS_WORKER_LISTEN_H

/* Takes <fd> (owned from now on), the socket of the master's listener
 * <index>, and starts accepting on it. */
void listen_adopt(unsigned index, int fd);
/* Listener <index> closed: so does this worker's copy, if it has one. */
void listen_forget(unsigned index);
void listen_stop(void);
/* A connection closed: resume accepting if --max-conns had paused it. */
void listen_room(void);

#endif
