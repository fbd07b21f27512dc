// SPDX-License-Identifier: MIT
/* Forward a request to a function instance with libcurl, the answer streamed (proxy.h). */
#include "proxy.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct proxy_stream {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct proxy_request req;
	char status_line[64];
	long status;
	char *headers[PROXY_MAX_HEADERS];
	unsigned int nr_headers;
	bool head_done, finished, broken_body, abandoned;
	bool failed;              /* no head from the instance: the gateway's error instead */
	long fail_status;
	char *fail_body;
	char *ring;
	size_t start, used;
	int refs;
};

static atomic_bool shutting_down;

void proxy_shutdown(void)
{
	atomic_store(&shutting_down, true);
}

/* curl asks about once a second and at every transfer step: stop when the gateway stops */
static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	(void)user, (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return atomic_load(&shutting_down) ? 1 : 0;
}

bool proxy_hop_header(const char *name, size_t len)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
		"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
		"content-length", "host", "expect", "date",
		/* the gateway's own: an instance cannot pass itself off as another */
		"x-arrow-instance",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == len && !strncasecmp(name, hop[i], len))
			return true;
	return false;
}

static void free_headers(char **h, unsigned int *n)
{
	while (*n)
		free(h[--*n]);
}

/* Lock held: the head is in; hand status and headers to the consumer. */
static void head_ready(struct proxy_stream *s)
{
	if (s->head_done)
		return;
	s->head_done = true;
	pthread_cond_broadcast(&s->cond);
}

/* Body bytes from curl: into the ring, waiting for room; 0 stops curl (client gone). */
static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct proxy_stream *s = user;
	size_t len = size * n, done = 0;

	pthread_mutex_lock(&s->lock);
	head_ready(s);
	while (done < len && !s->abandoned) {
		size_t room = PROXY_BUFFER - s->used, at, chunk;

		if (!room) {
			pthread_cond_wait(&s->cond, &s->lock);
			continue;
		}
		at = (s->start + s->used) % PROXY_BUFFER;
		chunk = len - done;
		if (chunk > room)
			chunk = room;
		if (chunk > PROXY_BUFFER - at)
			chunk = PROXY_BUFFER - at;
		memcpy(s->ring + at, p + done, chunk);
		s->used += chunk;
		done += chunk;
		pthread_cond_broadcast(&s->cond);
	}
	if (s->abandoned)
		len = 0;
	pthread_mutex_unlock(&s->lock);
	return len;
}

/* One header line of the answer (curl hands them over one at a time). */
static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	struct proxy_stream *s = user;
	size_t len = size * n, name;
	const char *colon;
	char *line;

	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	pthread_mutex_lock(&s->lock);
	if (!len) {
		/* the end of a head: the final one unless it was 1xx */
		if (s->status >= 200)
			head_ready(s);
	} else if (len >= 5 && !memcmp(p, "HTTP/", 5)) {
		free_headers(s->headers, &s->nr_headers); /* a new head (after 100 Continue) */
		snprintf(s->status_line, sizeof(s->status_line), "%.*s", (int)len, p);
		if (sscanf(s->status_line, "HTTP/%*s %ld", &s->status) != 1)
			s->status = 0;
	} else if ((colon = memchr(p, ':', len)) && (name = (size_t)(colon - p)) &&
		   !proxy_hop_header(p, name) &&
		   s->nr_headers < PROXY_MAX_HEADERS && (line = strndup(p, len))) {
		s->headers[s->nr_headers++] = line;
	}
	pthread_mutex_unlock(&s->lock);
	return size * n;
}

static void put(struct proxy_stream *s)
{
	bool last;

	pthread_mutex_lock(&s->lock);
	last = --s->refs == 0;
	pthread_mutex_unlock(&s->lock);
	if (!last)
		return;
	free_headers(s->headers, &s->nr_headers);
	free_headers(s->req.headers, &s->req.nr_headers);
	free(s->req.method);
	free(s->req.path);
	free(s->req.body);
	free(s->ring);
	free(s->fail_body);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

static CURL *easy_for(struct proxy_stream *s, struct curl_slist **hdrs, char **url)
{
	struct proxy_request *r = &s->req;
	CURL *h = curl_easy_init();

	*hdrs = NULL;
	if (!h || asprintf(url, "http://%s:%u%s", r->ip, r->port, r->path) < 0) {
		if (h)
			curl_easy_cleanup(h);
		*url = NULL;
		return NULL;
	}
	for (unsigned int i = 0; i < r->nr_headers; i++) {
		struct curl_slist *n = curl_slist_append(*hdrs, r->headers[i]);

		if (n)
			*hdrs = n;
	}
	/* no 100-continue round trip */
	*hdrs = curl_slist_append(*hdrs, "Expect:") ?: *hdrs;
	curl_easy_setopt(h, CURLOPT_URL, *url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for time-outs */
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)r->timeout_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(r->method, "GET") || r->len) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	return h;
}

/* Lock held: no head came; the consumer gets the gateway's error instead. */
static void head_failed(struct proxy_stream *s, CURLcode rc)
{
	const char *why = rc == CURLE_OPERATION_TIMEDOUT ?
				  "the function did not answer within its timeout" :
			  rc == CURLE_ABORTED_BY_CALLBACK ? "the gateway is stopping" :
							    "the function's instance failed";

	s->failed = true;
	s->fail_status = rc == CURLE_OPERATION_TIMEDOUT	 ? 504 :
			 rc == CURLE_ABORTED_BY_CALLBACK ? 503 :
							   502;
	if (asprintf(&s->fail_body, "%s: %s\n", why, curl_easy_strerror(rc)) < 0)
		s->fail_body = NULL;
}

/*
 * Where a forwarded request failed, for the gateway's log: whether the connection to the
 * instance was ever made, how much of the request went out and how much answer came back
 * tell a lost network path from a guest application that took the request and hung.
 */
static void log_failure(CURL *h, const struct proxy_request *r, CURLcode rc, long status)
{
	curl_off_t connect_us = 0, total_us = 0, sent = 0, got = 0;
	long port = 0;

	curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connect_us);
	curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &total_us);
	curl_easy_getinfo(h, CURLINFO_SIZE_UPLOAD_T, &sent);
	curl_easy_getinfo(h, CURLINFO_SIZE_DOWNLOAD_T, &got);
	curl_easy_getinfo(h, CURLINFO_LOCAL_PORT, &port);
	fprintf(stderr,
		"arrow-gateway: %s %s to %s:%u failed after %.3f s (%ld): %s; %s %.3f s, "
		"from port %ld; body sent %lld of %zu bytes; answer body %lld bytes\n",
		r->method, r->path, r->ip, r->port, (double)total_us / 1e6, status,
		curl_easy_strerror(rc), connect_us ? "connected after" : "not connected within",
		(double)(connect_us ? connect_us : total_us) / 1e6, port, (long long)sent, r->len,
		(long long)got);
}

static void *worker(void *arg)
{
	struct proxy_stream *s = arg;
	struct curl_slist *hdrs;
	char *url;
	CURL *h = easy_for(s, &hdrs, &url);
	CURLcode rc = h ? curl_easy_perform(h) : CURLE_OUT_OF_MEMORY;
	bool broken;
	long status;

	pthread_mutex_lock(&s->lock);
	if (!s->head_done && (rc != CURLE_OK || s->status < 200))
		head_failed(s, rc);
	broken = rc != CURLE_OK && !s->abandoned;
	status = s->failed ? s->fail_status : s->status;
	pthread_mutex_unlock(&s->lock);
	if (broken && h)
		log_failure(h, &s->req, rc, status);
	curl_slist_free_all(hdrs);
	if (h)
		curl_easy_cleanup(h);
	free(url);
	/* released and counted before the client sees the end: its next request finds it so */
	s->req.done(s->req.arg, broken, status);
	pthread_mutex_lock(&s->lock);
	s->head_done = true; /* also a head with no body at all */
	s->broken_body = rc != CURLE_OK; /* cut short after the head: the stream breaks */
	s->finished = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	put(s);
	return NULL;
}

struct proxy_stream *proxy_start(struct proxy_request *req, struct proxy_head *head)
{
	struct proxy_stream *s = calloc(1, sizeof(*s));
	pthread_t t;

	memset(head, 0, sizeof(*head));
	if (!s || !(s->ring = malloc(PROXY_BUFFER))) {
		free(s);
		head->failed = true;
		head->status = 502;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	s->req = *req;
	s->refs = 2;
	if (pthread_create(&t, NULL, worker, s)) {
		free(s->ring);
		free(s);
		head->failed = true;
		head->status = 502;
		return NULL;
	}
	pthread_detach(t);
	pthread_mutex_lock(&s->lock);
	while (!s->head_done)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->failed) {
		head->failed = true;
		head->status = s->fail_status;
		head->body = s->fail_body;
		head->len = s->fail_body ? strlen(s->fail_body) : 0;
		s->fail_body = NULL;
	} else {
		head->status = s->status;
		/* the head is the consumer's now; later lines (trailers) are not passed on */
		memcpy(head->headers, s->headers, sizeof(s->headers));
		head->nr_headers = s->nr_headers;
		s->nr_headers = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return s;
}

ssize_t proxy_read(struct proxy_stream *s, char *buf, size_t max)
{
	ssize_t n;

	pthread_mutex_lock(&s->lock);
	while (!s->used && !s->finished)
		pthread_cond_wait(&s->cond, &s->lock);
	if (s->used) {
		size_t chunk = s->used < max ? s->used : max;

		if (chunk > PROXY_BUFFER - s->start)
			chunk = PROXY_BUFFER - s->start;
		memcpy(buf, s->ring + s->start, chunk);
		s->start = (s->start + chunk) % PROXY_BUFFER;
		s->used -= chunk;
		n = (ssize_t)chunk;
		pthread_cond_broadcast(&s->cond);
	} else {
		n = s->broken_body ? -2 : -1;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

void proxy_put(struct proxy_stream *s)
{
	pthread_mutex_lock(&s->lock);
	s->abandoned = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	put(s);
}

void proxy_head_free(struct proxy_head *head)
{
	free(head->body);
	free_headers(head->headers, &head->nr_headers);
}
