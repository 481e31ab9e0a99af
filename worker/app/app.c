/*
 * app.c: the application's face to the engine (struct http_app), which
 * the top level hands to it (engine.app) before the first connection.
 */
#include "app/app.h"

const struct http_app app_http = {
    .handle = routes_handle,
    .refusal = routes_refusal,
    .answered = accesslog_write,
    .conn_closed = routes_conn_closed,
};
