// SPDX-License-Identifier: MIT
#include "lib/image/registry.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "lib/image/imgstore.h"
#include "lib/image/lazylib.h"

int registry_parse_ref(const char *in, struct registry_ref *r, char *why, size_t whylen)
{
	const char *slash, *colon;

	memset(r, 0, sizeof(*r));
	if (imgstore_ref_normalize(in, r->full, sizeof(r->full))) {
		snprintf(why, whylen, "invalid reference '%s' (HOST[:PORT]/NAME[:TAG])", in);
		return -EINVAL;
	}
	slash = strchr(r->full, '/');
	if (!slash || !(memchr(r->full, '.', (size_t)(slash - r->full)) ||
			memchr(r->full, ':', (size_t)(slash - r->full)) ||
			!strncmp(r->full, "localhost/", 10) || !strncmp(r->full, "localhost:", 10))) {
		snprintf(why, whylen, "'%s' names no registry: give HOST[:PORT]/NAME[:TAG]", in);
		return -EINVAL;
	}
	colon = strrchr(slash, ':');
	snprintf(r->host, sizeof(r->host), "%.*s", (int)(slash - r->full), r->full);
	snprintf(r->repo, sizeof(r->repo), "%.*s", (int)(colon - slash - 1), slash + 1);
	snprintf(r->tag, sizeof(r->tag), "%s", colon + 1);
	r->plain_http = !strncmp(r->host, "localhost", 9) || !strncmp(r->host, "127.", 4);
	return 0;
}

struct sink {
	int fd;
	uint64_t got, max;
	bool too_big;
};

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
	struct sink *s = opaque;
	size_t len = size * n, done = 0;

	if (s->max && s->got + len > s->max) {
		s->too_big = true;
		return 0; /* libcurl stops the transfer */
	}
	while (done < len) {
		ssize_t w = s->fd >= 0 ? write(s->fd, data + done, len - done) : (ssize_t)(len - done);

		if (w <= 0)
			return 0;
		done += (size_t)w;
	}
	s->got += len;
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *opaque)
{
	ssize_t r = read(*(int *)opaque, buf, size * n);

	return r < 0 ? CURL_READFUNC_ABORT : (size_t)r;
}

/* Keep the headers we need; value trimmed. */
static size_t on_header(char *data, size_t size, size_t n, void *opaque)
{
	struct registry_reply *rep = opaque;
	size_t len = size * n;
	static const struct {
		const char *name;
		size_t off, cap;
	} keep[] = {
		{ "content-type:", offsetof(struct registry_reply, content_type), sizeof(rep->content_type) },
		{ "docker-content-digest:", offsetof(struct registry_reply, digest), sizeof(rep->digest) },
		{ "location:", offsetof(struct registry_reply, location), sizeof(rep->location) },
	};

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		size_t nl = strlen(keep[i].name), vl;
		const char *v;

		if (len <= nl || strncasecmp(data, keep[i].name, nl))
			continue;
		v = data + nl;
		vl = len - nl;
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		snprintf((char *)rep + keep[i].off, keep[i].cap, "%.*s", (int)vl, v);
	}
	return len;
}

int registry_request(const struct registry_ref *r, const char *method, const char *path,
		     const char *accept, const char *content_type, int in_fd, uint64_t in_size,
		     int out_fd, uint64_t out_max, struct registry_reply *reply, char *why,
		     size_t whylen)
{
	const struct curl_lib *C = curl_lib();
	struct curl_slist *headers = NULL;
	struct sink sink = { out_fd, 0, out_max, false };
	char url[4096], hdr[512];
	CURL *h;
	CURLcode rc;

	memset(reply, 0, sizeof(*reply));
	if (!C)
		return -ELIBACC;
	if (!strncmp(path, "http://", 7) || !strncmp(path, "https://", 8))
		snprintf(url, sizeof(url), "%s", path);
	else if (path[0] == '/') /* a Location relative to the registry */
		snprintf(url, sizeof(url), "%s://%s%s", r->plain_http ? "http" : "https", r->host, path);
	else
		snprintf(url, sizeof(url), "%s://%s/v2/%s", r->plain_http ? "http" : "https", r->host,
			 path);
	h = C->curl_easy_init();
	if (!h)
		return -ENOMEM;
	if (accept) {
		snprintf(hdr, sizeof(hdr), "Accept: %s", accept);
		headers = C->curl_slist_append(headers, hdr);
	}
	if (content_type) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", content_type);
		headers = C->curl_slist_append(headers, hdr);
	}
	C->curl_easy_setopt(h, CURLOPT_URL, url);
	C->curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	C->curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	C->curl_easy_setopt(h, CURLOPT_USERAGENT, "arrow/" ARROW_VERSION);
	C->curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* blobs may redirect to storage */
	C->curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	C->curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, r->plain_http ? "http" : "https");
	C->curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, r->plain_http ? "http,https" : "https");
	C->curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	C->curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L); /* a stalled transfer ends */
	C->curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	C->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	C->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	C->curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	C->curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	C->curl_easy_setopt(h, CURLOPT_HEADERDATA, reply);
	if (!strcmp(method, "HEAD"))
		C->curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (in_fd >= 0) {
		C->curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		C->curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		C->curl_easy_setopt(h, CURLOPT_READDATA, &in_fd);
		C->curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)in_size);
	} else if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
		C->curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
		C->curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	}
	rc = C->curl_easy_perform(h);
	C->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &reply->status);
	C->curl_easy_cleanup(h);
	C->curl_slist_free_all(headers);
	if (sink.too_big) {
		snprintf(why, whylen, "%s: the reply is larger than %llu bytes", url,
			 (unsigned long long)out_max);
		return -EFBIG;
	}
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s: %s", url, C->curl_easy_strerror(rc));
		return -EIO;
	}
	return 0;
}
