/* SPDX-License-Identifier: MIT */
/* Which endpoint a request URI names (docs/functions.md, "HTTP API"). No I/O: unit-tested. */
#ifndef ARROW_GATEWAY_ROUTE_H
#define ARROW_GATEWAY_ROUTE_H

#include "lib/fnstore.h"

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

#endif
