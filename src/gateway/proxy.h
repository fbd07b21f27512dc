/* SPDX-License-Identifier: MIT */
/*
 * Forwarding one request to an instance with libcurl (no HTTP parsing of our own), its
 * answer streamed: a worker thread runs the transfer and hands the body over through a
 * bounded buffer, so a slow or endless answer reaches the client as it comes.
 */
#ifndef ARROW_GATEWAY_PROXY_H
#define ARROW_GATEWAY_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROXY_MAX_HEADERS 100
#define PROXY_BUFFER (256u << 10) /* answer bytes held between instance and client */

struct proxy_request {
	char *method, *path;      /* path starts with '/' */
	char *headers[PROXY_MAX_HEADERS]; /* "Name: value", hop-by-hop ones left out */
	unsigned int nr_headers;
	char *body;
	size_t len;
	unsigned int timeout_s;
	char ip[64];
	unsigned int port;
	/* called once from the worker when the transfer has ended (release the instance) */
	void (*done)(void *arg, bool broken, long status);
	void *arg;
};

/* What the client gets first: status and headers, or the gateway's error. */
struct proxy_head {
	long status;        /* the instance's, or the gateway's 502/504 */
	bool failed;        /* no answer from the instance: body holds the gateway's error */
	char *body;         /* malloc'ed, when failed */
	size_t len;
	char *headers[PROXY_MAX_HEADERS]; /* "Name: value", malloc'ed, when not failed */
	unsigned int nr_headers;
};

struct proxy_stream;

/* Is this request or response header one a proxy must not pass on (RFC 9110 7.6.1)? */
bool proxy_hop_header(const char *name, size_t len);
/*
 * Start forwarding req (taken over: its strings are freed by the stream) and wait for the
 * answer's head. NULL when no thread could be started (req->done was not called, req not
 * taken). Either way head is filled. With head->failed, call proxy_put() at once.
 */
struct proxy_stream *proxy_start(struct proxy_request *req, struct proxy_head *head);
/* Up to max bytes of the body, waiting for them: the count, -1 at its end, -2 if it broke. */
ssize_t proxy_read(struct proxy_stream *s, char *buf, size_t max);
/* The client side is done with the stream (finished or gone): the transfer stops. */
void proxy_put(struct proxy_stream *s);
void proxy_head_free(struct proxy_head *head);
/* The gateway stops: every transfer still running ends now (its client gets 503). */
void proxy_shutdown(void);

#endif
