// SPDX-License-Identifier: MIT
/* Request routing for arrow-gateway (route.h). */
#include "route.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* uri starts with prefix and the name that follows ends at '/', '?' or the end. */
static const char *take_name(const char *uri, const char *prefix, struct route *r)
{
	size_t plen = strlen(prefix), n;
	const char *p;

	if (strncmp(uri, prefix, plen))
		return NULL;
	p = uri + plen;
	n = strcspn(p, "/?");
	if (n == 0 || n > FN_NAME_MAX) {
		r->kind = ROUTE_BAD_NAME;
		return p + n;
	}
	memcpy(r->name, p, n);
	r->name[n] = '\0';
	if (!fnstore_valid_name(r->name)) {
		r->kind = ROUTE_BAD_NAME;
		r->name[0] = '\0';
	}
	return p + n;
}

/* A path exactly equal to s, with or without a query or one trailing '/'. */
static int is_path(const char *uri, const char *s)
{
	size_t n = strlen(s);

	return !strncmp(uri, s, n) &&
	       (!uri[n] || uri[n] == '?' || (uri[n] == '/' && (!uri[n + 1] || uri[n + 1] == '?')));
}

static void system_route(const char *uri, struct route *r)
{
	const char *rest;

	if (is_path(uri, "/system/functions")) {
		r->kind = ROUTE_SYS_FUNCTIONS;
	} else if (is_path(uri, "/system/info")) {
		r->kind = ROUTE_SYS_INFO;
	} else if (is_path(uri, "/system/metrics")) {
		r->kind = ROUTE_SYS_METRICS;
	} else if (is_path(uri, "/system/namespaces")) {
		r->kind = ROUTE_SYS_NAMESPACES;
	} else if ((rest = take_name(uri, "/system/function/", r))) {
		if (r->kind != ROUTE_BAD_NAME)
			r->kind = (!*rest || *rest == '?' || !strcmp(rest, "/")) ? ROUTE_SYS_FUNCTION :
										   ROUTE_NONE;
	} else if ((rest = take_name(uri, "/system/scale-function/", r))) {
		if (r->kind != ROUTE_BAD_NAME)
			r->kind = (!*rest || *rest == '?' || !strcmp(rest, "/")) ? ROUTE_SYS_SCALE :
										   ROUTE_NONE;
	}
}

void route_parse(const char *uri, struct route *r)
{
	const char *rest;

	memset(r, 0, sizeof(*r));
	r->kind = ROUTE_NONE;
	if (!uri || uri[0] != '/' || strlen(uri) >= ROUTE_URI_MAX)
		return;
	if (is_path(uri, "/healthz")) {
		r->kind = ROUTE_HEALTHZ;
		return;
	}
	if (!strncmp(uri, "/system/", 8)) {
		system_route(uri, r);
		return;
	}
	rest = take_name(uri, "/function/", r);
	if (!rest || r->kind == ROUTE_BAD_NAME)
		return;
	r->kind = ROUTE_FUNCTION;
	snprintf(r->path, sizeof(r->path), "%s%s", *rest == '/' ? "" : "/", rest);
}

bool route_host_ok(const char *host)
{
	char name[64];
	unsigned char bin[16];
	size_t n;

	if (!host || !*host)
		return true;
	if (host[0] == '[') { /* [IPv6]:port */
		const char *end = strchr(host, ']');

		n = end ? (size_t)(end - host - 1) : 0;
		if (!end || !n || n >= sizeof(name) || (end[1] && end[1] != ':'))
			return false;
		memcpy(name, host + 1, n);
		name[n] = '\0';
		return inet_pton(AF_INET6, name, bin) == 1;
	}
	n = strcspn(host, ":");
	if (!n || n >= sizeof(name))
		return false;
	memcpy(name, host, n);
	name[n] = '\0';
	if (host[n] && host[n + 1 + strspn(host + n + 1, "0123456789")])
		return false; /* a port of digits only */
	return !strcasecmp(name, "localhost") || inet_pton(AF_INET, name, bin) == 1;
}

bool route_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	if (!ct)
		return false;
	ct += strspn(ct, " \t");
	return !strncasecmp(ct, "application/json", n) &&
	       (!ct[n] || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}
