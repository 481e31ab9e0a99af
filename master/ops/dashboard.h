/*
 * dashboard.h: the live dashboard the admin listener serves at /
 * (dashboard.c).
 */
#ifndef HS_MASTER_DASHBOARD_H
#define HS_MASTER_DASHBOARD_H

extern const char dashboard_html[];

#endif
