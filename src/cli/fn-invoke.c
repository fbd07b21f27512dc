// SPDX-License-Identifier: MIT
/* arrow fn invoke: POST standard input to the gateway's /function/NAME, print the answer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lib/fn/fnstore.h"
#include "lib/image/lazylib.h"

#define INVOKE_BODY_MAX (1u << 20) /* the gateway's default request limit */

static size_t to_stdout(char *p, size_t size, size_t n, void *user)
{
	(void)user;
	return fwrite(p, size, n, stdout) * size;
}

/* Standard input unless it is a terminal: at most INVOKE_BODY_MAX bytes. */
static int read_body(char **out, size_t *len)
{
	size_t cap = 0, n = 0;
	char *buf = NULL;

	*out = NULL;
	*len = 0;
	if (isatty(0))
		return 0;
	for (;;) {
		size_t r;

		if (n == cap) {
			char *nb;

			if (cap > INVOKE_BODY_MAX) {
				free(buf);
				return -E2BIG;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				return -ENOMEM;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, stdin);
		n += r;
		if (r == 0)
			break;
	}
	if (n > INVOKE_BODY_MAX) {
		free(buf);
		return -E2BIG;
	}
	*out = buf;
	*len = n;
	return 0;
}

static int invoke(const struct curl_lib *c, const char *url, const char *body, size_t len)
{
	CURL *h = c->curl_easy_init();
	long status = 0;
	CURLcode rc;

	if (!h)
		return EXIT_ARROW_ERROR;
	c->curl_easy_setopt(h, CURLOPT_URL, url);
	c->curl_easy_setopt(h, CURLOPT_POST, 1L);
	c->curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
	c->curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	c->curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, to_stdout);
	c->curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	rc = c->curl_easy_perform(h);
	if (rc == CURLE_OK)
		c->curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	c->curl_easy_cleanup(h);
	fflush(stdout);
	if (rc != CURLE_OK) {
		fprintf(stderr, "arrow fn invoke: %s: %s (is 'arrow serve' running there?)\n", url,
			c->curl_easy_strerror(rc));
		return EXIT_ARROW_ERROR;
	}
	if (status < 200 || status > 299) {
		fprintf(stderr, "arrow fn invoke: HTTP %ld\n", status);
		return 1;
	}
	return 0;
}

int fn_invoke(int argc, char *argv[])
{
	const char *gw = getenv("ARROW_GATEWAY"), *target = NULL;
	char name[FN_NAME_MAX + 1], *url = NULL, *body;
	const struct curl_lib *c;
	size_t len, n;
	int ret;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--gateway") && i + 1 < argc)
			gw = argv[++i];
		else if (!strncmp(argv[i], "--gateway=", 10))
			gw = argv[i] + 10;
		else if (!target && argv[i][0] != '-')
			target = argv[i];
		else
			return bad_option("fn invoke", argv[i]);
	}
	n = target ? strcspn(target, "/?") : 0;
	if (!target || n >= sizeof(name)) {
		fprintf(stderr, "arrow fn invoke: give a function NAME[/PATH]\n");
		return EXIT_ARROW_ERROR;
	}
	memcpy(name, target, n);
	name[n] = '\0';
	if (!fnstore_valid_name(name)) {
		fprintf(stderr, "arrow fn invoke: '%s' is not a function name\n", name);
		return EXIT_ARROW_ERROR;
	}
	if (!gw || !*gw)
		gw = "127.0.0.1:8080";
	ret = read_body(&body, &len);
	if (ret) {
		fprintf(stderr, "arrow fn invoke: %s\n", ret == -E2BIG ?
			"the request body is larger than the gateway's 1 MiB limit" : strerror(-ret));
		return EXIT_ARROW_ERROR;
	}
	c = curl_lib();
	if (!c || asprintf(&url, "http://%s/function/%s", gw, target) < 0) {
		free(body);
		return EXIT_ARROW_ERROR;
	}
	ret = invoke(c, url, body, len);
	free(url);
	free(body);
	return ret;
}
