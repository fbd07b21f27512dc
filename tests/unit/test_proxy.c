// SPDX-License-Identifier: MIT
/*
 * arrow-gateway's forwarding (src/gateway/proxy.c) against a scripted HTTP server on
 * 127.0.0.1: a streamed answer passed on piece by piece, an instance that closes without
 * answering (502, broken), one that never answers (504 after the timeout, broken).
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit.h"

#include "gateway/proxy.h"

enum script { STREAM, CLOSE, SILENT };

struct server {
	int listen_fd, port, release[2];
	enum script script;
	char request[4096];
};

static void *serve(void *arg)
{
	struct server *sv = arg;
	static const char head[] = "HTTP/1.1 200 OK\r\nX-Test: yes\r\nConnection: close\r\n\r\n";
	int c = accept(sv->listen_fd, NULL, NULL);
	ssize_t n = c < 0 ? -1 : read(c, sv->request, sizeof(sv->request) - 1);
	char x;

	if (n > 0)
		sv->request[n] = '\0';
	if (sv->script == STREAM) {
		if (write(c, head, sizeof(head) - 1) < 0 || write(c, "first\n", 6) < 0)
			abort();
		if (read(sv->release[0], &x, 1) != 1 || write(c, "last\n", 5) < 0)
			abort();
	} else if (sv->script == SILENT) {
		(void)read(sv->release[0], &x, 1); /* until the test ends */
	}
	close(c);
	return NULL;
}

static pthread_t start_server(struct server *sv, enum script script)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	pthread_t t;

	memset(sv, 0, sizeof(*sv));
	sv->script = script;
	assert_int_equal(pipe(sv->release), 0);
	sv->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(sv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(sv->listen_fd, 4), 0);
	assert_int_equal(getsockname(sv->listen_fd, (struct sockaddr *)&sa, &len), 0);
	sv->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&t, NULL, serve, sv), 0);
	return t;
}

static void stop_server(struct server *sv, pthread_t t)
{
	if (write(sv->release[1], "x", 1) < 0)
		abort();
	pthread_join(t, NULL);
	close(sv->listen_fd);
	close(sv->release[0]);
	close(sv->release[1]);
}

struct outcome {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, broken;
	long status;
};

static void on_done(void *arg, bool broken, long status)
{
	struct outcome *o = arg;

	pthread_mutex_lock(&o->lock);
	o->done = true;
	o->broken = broken;
	o->status = status;
	pthread_cond_broadcast(&o->cond);
	pthread_mutex_unlock(&o->lock);
}

static void request_for(struct proxy_request *r, int port, struct outcome *o, unsigned int timeout)
{
	memset(r, 0, sizeof(*r));
	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&o->lock, NULL);
	pthread_cond_init(&o->cond, NULL);
	r->method = strdup("POST");
	r->path = strdup("/a/b?c=d");
	r->headers[r->nr_headers++] = strdup("X-Client: 1");
	r->body = strdup("payload");
	r->len = 7;
	r->timeout_s = timeout;
	snprintf(r->ip, sizeof(r->ip), "127.0.0.1");
	r->port = (unsigned int)port;
	r->done = on_done;
	r->arg = o;
}

static void wait_done(struct outcome *o)
{
	pthread_mutex_lock(&o->lock);
	while (!o->done)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
}

static void test_streamed(void **state)
{
	struct proxy_request r;
	struct proxy_head head;
	struct outcome o;
	struct server sv;
	pthread_t t = start_server(&sv, STREAM);
	struct proxy_stream *s;
	char buf[64];
	ssize_t n;

	(void)state;
	request_for(&r, sv.port, &o, 30);
	s = proxy_start(&r, &head);
	assert_non_null(s);
	assert_false(head.failed);
	assert_int_equal(head.status, 200);
	assert_int_equal(head.nr_headers, 1); /* Connection is hop-by-hop */
	assert_string_equal(head.headers[0], "X-Test: yes");
	/* the server holds the rest until released: this piece came on its own */
	n = proxy_read(s, buf, sizeof(buf));
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "first\n", 6);
	assert_non_null(strstr(sv.request, "POST /a/b?c=d HTTP/1.1"));
	assert_non_null(strstr(sv.request, "X-Client: 1"));
	assert_non_null(strstr(sv.request, "\r\n\r\npayload"));
	assert_false(o.done);
	stop_server(&sv, t);
	n = proxy_read(s, buf, sizeof(buf));
	assert_int_equal(n, 5);
	assert_memory_equal(buf, "last\n", 5);
	assert_int_equal(proxy_read(s, buf, sizeof(buf)), -1);
	wait_done(&o);
	assert_false(o.broken);
	assert_int_equal(o.status, 200);
	proxy_put(s);
	proxy_head_free(&head);
}

static void test_failures(void **state)
{
	static const enum script scripts[] = { CLOSE, SILENT };
	static const long want[] = { 502, 504 };

	(void)state;
	for (int i = 0; i < 2; i++) {
		struct proxy_request r;
		struct proxy_head head;
		struct outcome o;
		struct server sv;
		pthread_t t = start_server(&sv, scripts[i]);
		struct proxy_stream *s;

		request_for(&r, sv.port, &o, 1);
		s = proxy_start(&r, &head);
		assert_non_null(s);
		assert_true(head.failed);
		assert_int_equal(head.status, want[i]);
		assert_non_null(head.body);
		wait_done(&o);
		assert_true(o.broken);
		assert_int_equal(o.status, want[i]);
		proxy_put(s);
		proxy_head_free(&head);
		stop_server(&sv, t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_streamed),
		cmocka_unit_test(test_failures),
	};

	curl_global_init(CURL_GLOBAL_DEFAULT);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
