/* SPDX-License-Identifier: MIT */
/*
 * A client of the OCI distribution API (what `docker-registry`, distribution/registry,
 * zot and the public registries serve): manifests and blobs over HTTP, with libcurl.
 * Loopback registries are spoken to in plain HTTP, every other one in HTTPS.
 */
#ifndef ARROW_REGISTRY_H
#define ARROW_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct registry_ref {
	char host[260];  /* "127.0.0.1:5000", "registry.example.org" */
	char repo[210];  /* "demo/app" */
	char tag[130];
	char full[600];  /* normalised "host/repo:tag", the name it gets in the store */
	bool plain_http; /* a loopback registry */
};

/* HOST[:PORT]/NAME[:TAG]: 0, or -EINVAL with why (no registry host, bad name). */
int registry_parse_ref(const char *in, struct registry_ref *r, char *why, size_t whylen);

struct registry_reply {
	long status;
	char content_type[128];
	char digest[80];      /* Docker-Content-Digest, if sent */
	char location[2048];  /* Location, if sent */
};

/*
 * One request to https?://HOST/v2/PATH (or to url itself when it starts with http).
 * accept and content_type may be NULL. in_fd >= 0 sends that file (in_size bytes) as the
 * body; out_fd >= 0 receives the body, at most out_max bytes (0: unbounded). Returns 0 when
 * a reply came (whatever its status), or -errno with why (connection, TLS, too large).
 */
int registry_request(const struct registry_ref *r, const char *method, const char *path,
		     const char *accept, const char *content_type, int in_fd, uint64_t in_size,
		     int out_fd, uint64_t out_max, struct registry_reply *reply, char *why,
		     size_t whylen);

#endif
