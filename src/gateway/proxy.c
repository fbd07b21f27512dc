// SPDX-License-Identifier: MIT
/* Forward a request to a function instance with libcurl (proxy.h). */
#include "proxy.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool proxy_hop_header(const char *name, size_t len)
{
	static const char *const hop[] = {
		"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
		"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
		"content-length", "host", "expect", "date",
	};

	for (size_t i = 0; i < sizeof(hop) / sizeof(hop[0]); i++)
		if (strlen(hop[i]) == len && !strncasecmp(name, hop[i], len))
			return true;
	return false;
}

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	struct proxy_response *res = user;
	size_t len = size * n;
	char *nb;

	if (res->len + len > PROXY_RESPONSE_MAX)
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	nb = realloc(res->body, res->len + len + 1);
	if (!nb)
		return 0;
	memcpy(nb + res->len, p, len);
	res->body = nb;
	res->len += len;
	return len;
}

/* One header line of the instance's answer (curl hands them over one at a time). */
static size_t on_header(char *p, size_t size, size_t n, void *user)
{
	struct proxy_response *res = user;
	size_t len = size * n, name;
	char *line;

	while (len && (p[len - 1] == '\n' || p[len - 1] == '\r'))
		len--;
	if (!len || !strncmp(p, "HTTP/", 5)) {
		if (len) /* a new status line (after 100 Continue): forget earlier headers */
			while (res->nr_headers)
				free(res->headers[--res->nr_headers]);
		return size * n;
	}
	name = strcspn(p, ":");
	if (name == 0 || name >= len || proxy_hop_header(p, name) ||
	    res->nr_headers >= PROXY_MAX_HEADERS)
		return size * n;
	line = strndup(p, len);
	if (line)
		res->headers[res->nr_headers++] = line;
	return size * n;
}

static void set_error(struct proxy_response *res, long status, bool broken, const char *why,
		      const char *detail)
{
	free(res->body);
	while (res->nr_headers)
		free(res->headers[--res->nr_headers]);
	res->status = status;
	res->broken = broken;
	res->body = NULL;
	res->len = 0;
	if (asprintf(&res->body, "%s%s%s\n", why, detail ? ": " : "", detail ? detail : "") >= 0)
		res->len = strlen(res->body);
}

static struct curl_slist *request_headers(const struct proxy_request *req)
{
	struct curl_slist *l = NULL, *n;

	for (unsigned int i = 0; i < req->nr_headers; i++) {
		n = curl_slist_append(l, req->headers[i]);
		if (!n)
			break;
		l = n;
	}
	/* no 100-continue round trip; no Accept curl would invent */
	n = curl_slist_append(l, "Expect:");
	if (n)
		l = n;
	return l;
}

void proxy_forward(const char *ip, unsigned int port, const struct proxy_request *req,
		   struct proxy_response *res)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs;
	char *url = NULL;
	CURLcode rc;

	memset(res, 0, sizeof(*res));
	if (!h || asprintf(&url, "http://%s:%u%s", ip, port, req->path) < 0) {
		if (h)
			curl_easy_cleanup(h);
		set_error(res, 502, false, "gateway out of memory", NULL);
		return;
	}
	hdrs = request_headers(req);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for time-outs */
	curl_easy_setopt(h, CURLOPT_TIMEOUT, (long)req->timeout_s);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, res);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, res);
	if (!strcmp(req->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "GET") || req->len) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	}
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		set_error(res, 504, true, "the function did not answer within its timeout",
			  curl_easy_strerror(rc));
	else if (rc == CURLE_WRITE_ERROR)
		set_error(res, 502, false, "the function's answer is larger than 16 MiB", NULL);
	else
		set_error(res, 502, true, "the function's instance failed", curl_easy_strerror(rc));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	free(url);
}

void proxy_response_free(struct proxy_response *res)
{
	free(res->body);
	while (res->nr_headers)
		free(res->headers[--res->nr_headers]);
}
