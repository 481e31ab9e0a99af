/*
 * version.h: the release, shown by --version and in the Server header.
 */
#ifndef HS_COMMON_VERSION_H
#define HS_COMMON_VERSION_H

#define HANDOFF_VERSION "0.1.0"

#endif
