/*
 * engine.c: the HTTP engine's state (struct engine in http-t.h), one per
 * process. The top level fills in the loop, limits, app and hooks before
 * the first connection; the files of http/ keep the rest.
 */
#include "http/http.h"

struct engine engine;
