/*
 * dashboard.h: the live dashboard the admin listener serves at /
 * (dashboard.c).
 */
#ifndef HS_MASTER_DASHBOARD_H
#define HS_MASTER_DASHBOARD_H

/* The page is dashboard_top, the figures as JSON ({"stats":...,
 * "history":[...]}, with no "<"), then dashboard_bottom. */
extern const char dashboard_top[];
extern const char dashboard_bottom[];

#endif
