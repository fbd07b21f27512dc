/* SPDX-License-Identifier: MIT */
/* Which endpoint a request URI names (docs/functions.md, "HTTP API"). No I/O: unit-tested. */
#ifndef ARROW_GATEWAY_ROUTE_H
#define ARROW_GATEWAY_ROUTE_H

#include <stdbool.h>

#include "lib/fn/fnstore.h"

#define ROUTE_URI_MAX 8192

enum route_kind {
	ROUTE_NONE,          /* nothing here: 404 */
	ROUTE_BAD_NAME,      /* a function path with an invalid name: 400 */
	ROUTE_FUNCTION,      /* /function/NAME[/PATH][?QUERY] */
	ROUTE_SYS_FUNCTIONS, /* /system/functions */
	ROUTE_SYS_FUNCTION,  /* /system/function/NAME */
	ROUTE_SYS_SCALE,     /* /system/scale-function/NAME */
	ROUTE_SYS_INFO,      /* /system/info */
	ROUTE_SYS_METRICS,   /* /system/metrics */
	ROUTE_SYS_NAMESPACES, /* /system/namespaces */
	ROUTE_HEALTHZ,       /* /healthz */
};

struct route {
	enum route_kind kind;
	char name[FN_NAME_MAX + 1];
	/* ROUTE_FUNCTION: what the instance is asked for, always starting with '/'
	 * ("/", "/PATH", "/?QUERY", "/PATH?QUERY") */
	char path[ROUTE_URI_MAX];
};

/* Parse a request target as the client sent it (path and query). */
void route_parse(const char *uri, struct route *r);

/*
 * The API's guard against web pages (docs/functions.md, "Isolation model"). A Host header
 * a browser would send only for this gateway: none (HTTP/1.0), "localhost" or an address
 * literal, with or without a port; a name would be DNS rebinding.
 */
bool route_host_ok(const char *host);
/* A Content-Type of application/json (parameters allowed): what no cross-site form or
 * simple request can send without a CORS preflight, which the gateway never grants. */
bool route_json_type(const char *content_type);

#endif
