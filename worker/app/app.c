/*
 * app.c: the application's face to the engine (struct http_app), which
 * the top level hands to it (engine.app) before the first connection.
 * What is answered is counted (metrics.c), then logged (accesslog.c).
 */
#include "app/app.h"

const struct http_app app_http = {
    .handle = routes_handle,
    .refusal = routes_refusal,
    .answered = app_answered,
    .conn_closed = routes_conn_closed,
};
