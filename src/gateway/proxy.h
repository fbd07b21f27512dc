/* SPDX-License-Identifier: MIT */
/* Forwarding one request to an instance with libcurl (no HTTP parsing of our own). */
#ifndef ARROW_GATEWAY_PROXY_H
#define ARROW_GATEWAY_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#define PROXY_RESPONSE_MAX (16u << 20) /* a larger answer becomes a 502 */
#define PROXY_MAX_HEADERS 100

struct proxy_request {
	const char *method;
	const char *path;           /* starting with '/' */
	const char *const *headers; /* "Name: value", hop-by-hop ones already left out */
	unsigned int nr_headers;
	const char *body;
	size_t len;
	unsigned int timeout_s;
};

struct proxy_response {
	long status;        /* the instance's, or the gateway's 502/504 */
	bool broken;        /* the instance failed the request: replace it */
	char *body;         /* malloc'ed */
	size_t len;
	char *headers[PROXY_MAX_HEADERS]; /* "Name: value", malloc'ed */
	unsigned int nr_headers;
};

/* Is this request or response header one a proxy must not pass on (RFC 9110 7.6.1)? */
bool proxy_hop_header(const char *name, size_t len);
/* Send req to ip:port and fill res (always: errors become a 502 or 504 with a body). */
void proxy_forward(const char *ip, unsigned int port, const struct proxy_request *req,
		   struct proxy_response *res);
void proxy_response_free(struct proxy_response *res);

#endif
