// SPDX-License-Identifier: MIT
/*
 * arrow-gateway (`arrow serve`, docs/functions.md): an HTTP gateway on libmicrohttpd that
 * routes /function/NAME[/PATH] to clones of the function's template, started on demand
 * and stopped when idle, plus the OpenFaaS faas-provider API and Prometheus metrics.
 * One thread per client connection: a request may wait for an instance to start.
 */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api.h"
#include "lib/fn/fndeploy.h"
#include "pool.h"
#include "proxy.h"
#include "route.h"

#define DEFAULT_MAX_BODY (1u << 20)
#define MAX_CONNECTIONS 1000
#define CLIENT_IDLE_TIMEOUT_S 60

static const char usage[] =
	"Usage: arrow serve [--listen ADDR:PORT] [--max-body BYTES]\n"
	"Serve the deployed functions (arrow fn deploy) over HTTP: /function/NAME[/PATH] starts\n"
	"clones of NAME's template on demand and forwards the request; the OpenFaaS provider\n"
	"API is under /system/, Prometheus metrics at /system/metrics.\n"
	"  --listen ADDR:PORT  IPv4 address and port to listen on (127.0.0.1:8080)\n"
	"  --max-body BYTES    largest request body taken; larger ones get 413 (1048576)\n";

static size_t max_body = DEFAULT_MAX_BODY;

struct req {
	char *uri;      /* as the client sent it, with the query */
	char *body;
	size_t len;
	bool started, too_big;
};

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *q = calloc(1, sizeof(*q));

	(void)cls;
	(void)c;
	if (q && uri && strlen(uri) < ROUTE_URI_MAX)
		q->uri = strdup(uri);
	return q;
}

static void on_done(void *cls, struct MHD_Connection *c, void **req_cls,
		    enum MHD_RequestTerminationCode why)
{
	struct req *q = *req_cls;

	(void)cls;
	(void)c;
	(void)why;
	if (q) {
		free(q->uri);
		free(q->body);
		free(q);
	}
	*req_cls = NULL;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct reply *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"",
					       r->body ? MHD_RESPMEM_MUST_FREE :
							 MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		free(r->body);
		return MHD_NO;
	}
	r->body = NULL;
	if (r->type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->type);
	ret = MHD_queue_response(c, (unsigned int)r->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The request's headers for the instance, hop-by-hop ones left out. */
static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
				      const char *value)
{
	struct proxy_request *r = cls;

	(void)kind;
	if (r->nr_headers >= PROXY_MAX_HEADERS || proxy_hop_header(key, strlen(key)))
		return MHD_YES;
	if (asprintf(&r->headers[r->nr_headers], "%s: %s", key, value ? value : "") >= 0)
		r->nr_headers++;
	return MHD_YES;
}

/* Headers of the instance's answer onto ours, and which instance answered. */
static void add_headers(struct MHD_Response *resp, struct proxy_head *head, const char *inst)
{
	for (unsigned int i = 0; i < head->nr_headers; i++) {
		char *line = head->headers[i], *colon = strchr(line, ':'), *v;

		if (!colon)
			continue;
		*colon = '\0';
		for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
			;
		MHD_add_response_header(resp, line, v);
	}
	MHD_add_response_header(resp, "X-Arrow-Instance", inst);
}

struct forward {
	struct function *f;
	struct instance *inst;
};

/* The transfer ended (worker thread): the instance is free again, or replaced. */
static void forward_done(void *arg, bool broken, long status)
{
	struct forward *fw = arg;

	pool_release(fw->f, fw->inst, broken, (int)status);
	free(fw);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	return proxy_read(cls, buf, max); /* blocks this connection's thread only */
}

static void stream_free(void *cls)
{
	proxy_put(cls);
}

static void free_request(struct proxy_request *r)
{
	free(r->method);
	free(r->path);
	free(r->body);
	while (r->nr_headers)
		free(r->headers[--r->nr_headers]);
}

/* The instance's answer to the client: its head, then its body as it comes. */
static enum MHD_Result send_stream(struct MHD_Connection *c, struct proxy_stream *s,
				   struct proxy_head *head, const char *inst)
{
	struct MHD_Response *resp;
	struct reply r = { 0 };
	enum MHD_Result ret;

	if (head->failed) {
		proxy_put(s);
		r.status = (int)head->status;
		r.body = head->body;
		r.len = head->len;
		r.type = "text/plain; charset=utf-8";
		head->body = NULL;
		proxy_head_free(head);
		return send_reply(c, &r);
	}
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 32 * 1024, stream_read, s,
						 stream_free);
	if (!resp) {
		proxy_put(s);
		proxy_head_free(head);
		return MHD_NO;
	}
	add_headers(resp, head, inst);
	ret = MHD_queue_response(c, (unsigned int)head->status, resp);
	MHD_destroy_response(resp);
	proxy_head_free(head);
	return ret;
}

static enum MHD_Result invoke(struct MHD_Connection *c, const struct route *rt,
			      const char *method, struct req *q)
{
	struct proxy_request preq = { .nr_headers = 0 };
	struct reply r = { 0 };
	struct proxy_head head;
	struct proxy_stream *s;
	struct forward *fw;
	struct instance *inst;
	struct function *f;
	char why[512], name[sizeof(inst->name)];
	int status = 0;

	f = pool_get(rt->name, &status);
	if (!f) {
		reply_text(&r, status, status == 404 ? "no function named %s\n" :
				       "function %s: its deployment is damaged (see the gateway's log)\n",
			   rt->name);
		return send_reply(c, &r);
	}
	status = pool_acquire(f, &inst, why, sizeof(why));
	if (status) {
		pool_note(f, status);
		reply_text(&r, status, "%s", why);
		return send_reply(c, &r);
	}
	/* the instance may be gone once released: everything needed is copied now */
	snprintf(name, sizeof(name), "%s", inst->name);
	snprintf(preq.ip, sizeof(preq.ip), "%s", inst->ip);
	preq.port = inst->port;
	preq.timeout_s = inst->timeout_s;
	preq.method = strdup(method);
	preq.path = strdup(rt->path);
	preq.body = q->body;
	preq.len = q->len;
	q->body = NULL;
	q->len = 0;
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect_header, &preq);
	fw = malloc(sizeof(*fw));
	if (fw) {
		*fw = (struct forward){ f, inst };
		preq.done = forward_done;
		preq.arg = fw;
	}
	s = fw && preq.method && preq.path ? proxy_start(&preq, &head) : NULL;
	if (!s) {
		free_request(&preq);
		free(fw);
		pool_release(f, inst, false, 502);
		reply_text(&r, 502, "the gateway could not forward the request (out of memory or "
				    "threads)\n");
		return send_reply(c, &r);
	}
	return send_stream(c, s, &head, name);
}

/* A request body arrives in pieces; past max_body the rest is read and dropped (413). */
static void take_body(struct req *q, const char *data, size_t n)
{
	char *nb;

	if (q->too_big)
		return;
	if (q->len + n > max_body || !(nb = realloc(q->body, q->len + n + 1))) {
		q->too_big = true;
		free(q->body);
		q->body = NULL;
		q->len = 0;
		return;
	}
	memcpy(nb + q->len, data, n);
	q->body = nb;
	q->len += n;
}

static enum MHD_Result too_big(struct MHD_Connection *c)
{
	struct reply r = { 0 };

	reply_text(&r, 413, "request body larger than the gateway's limit of %zu bytes "
			    "(arrow serve --max-body)\n", max_body);
	return send_reply(c, &r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *data_size, void **req_cls)
{
	struct req *q = *req_cls;
	struct reply r = { 0 };
	struct route rt;

	(void)cls;
	(void)url;
	(void)version;
	if (!q)
		return MHD_NO;
	if (!q->started) {
		const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		q->started = true;
		/* refused before the body is read: the connection closes after the answer */
		if (cl && strtoull(cl, NULL, 10) > max_body)
			return too_big(c);
		return MHD_YES;
	}
	if (*data_size) {
		take_body(q, data, *data_size);
		*data_size = 0;
		return MHD_YES;
	}
	if (q->too_big)
		return too_big(c);
	if (!q->uri) {
		reply_text(&r, 414, "request target longer than %d bytes\n", ROUTE_URI_MAX - 1);
		return send_reply(c, &r);
	}
	route_parse(q->uri, &rt);
	if (rt.kind == ROUTE_FUNCTION)
		return invoke(c, &rt, method, q);
	/* the API changes and reveals deployments: not for a web page the user happens to
	 * visit (a cross-site POST, or DNS rebinding to read the functions' environments) */
	if (!route_host_ok(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST))) {
		reply_text(&r, 421, "the API answers only requests for localhost or an address, "
				    "not for a host name\n");
		return send_reply(c, &r);
	}
	if (strcmp(method, "GET") && strcmp(method, "HEAD") && q->len &&
	    !route_json_type(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 MHD_HTTP_HEADER_CONTENT_TYPE))) {
		reply_text(&r, 415, "the API takes a JSON body with Content-Type: "
				    "application/json\n");
		return send_reply(c, &r);
	}
	api_handle(&rt, method, q->body, q->len, &r);
	return send_reply(c, &r);
}

static int parse_listen(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -EINVAL;
	snprintf(host, sizeof(host), "%.*s", (int)(colon - s), s);
	port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port == 0 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)port);
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -EINVAL;
}

/* One gateway per function store: a second would stop the first one's instances. */
static int lock_store(void)
{
	char path[4200];
	int fd;

	mkdir(fnstore_dir(), 0700); /* may exist; a failure shows in open */
	snprintf(path, sizeof(path), "%s/.gateway.lock", fnstore_dir());
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "arrow-gateway: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "arrow-gateway: another gateway serves the functions in %s\n",
			fnstore_dir());
		return -1;
	}
	return fd;
}

static int parse_args(int argc, char *argv[], struct sockaddr_in *sa)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen = "127.0.0.1:8080";
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'l') {
			listen = optarg;
		} else if (c == 'b') {
			errno = 0;
			max_body = strtoul(optarg, &end, 10);
			if (errno || *end || !*optarg || optarg[0] == '-' || max_body > (1ul << 30)) {
				fprintf(stderr, "arrow serve: --max-body takes 0 to 1073741824 bytes\n");
				return 2;
			}
		} else {
			fputs(usage, c == 'h' ? stdout : stderr);
			return c == 'h' ? 1 : 2;
		}
	}
	if (optind < argc || parse_listen(listen, sa)) {
		fprintf(stderr, "arrow serve: --listen takes an IPv4 ADDR:PORT, not '%s'\n%s",
			optind < argc ? argv[optind] : listen, usage);
		return 2;
	}
	return 0;
}

/*
 * A stop is bounded: requests end at once (above), but an instance that is starting or a
 * deployment that is booting may take their own time; past STOP_GRACE_S the instances are
 * stopped and the gateway exits anyway (a second SIGINT/SIGTERM does the same at once).
 */
#define STOP_GRACE_S 20

static void *stop_watchdog(void *arg)
{
	struct timespec ts = { STOP_GRACE_S, 0 };
	sigset_t set;
	int sig;

	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigtimedwait(&set, NULL, &ts) < 0)
		sig = 0;
	else
		sig = 1;
	if (sig)
		fprintf(stderr, "arrow-gateway: a second signal: stopping the instances and "
				"exiting now\n");
	else
		fprintf(stderr, "arrow-gateway: still stopping after %d s: stopping the instances "
				"and exiting now\n", STOP_GRACE_S);
	fn_stop_instances(NULL);
	_exit(sig ? 130 : 1);
	return NULL;
}

int main(int argc, char *argv[])
{
	struct sockaddr_in sa;
	pthread_t t;
	struct MHD_Daemon *d;
	sigset_t set;
	int sig, ret = parse_args(argc, argv, &sa);

	if (ret)
		return ret == 1 ? 0 : 125;
	if (lock_store() < 0)
		return 125;
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits it; main waits */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (pool_start()) {
		fprintf(stderr, "arrow-gateway: cannot start its reaper thread\n");
		return 125;
	}
	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
				     MHD_USE_ERROR_LOG,
			     0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &sa,
			     MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CLIENT_IDLE_TIMEOUT_S,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "arrow-gateway: cannot listen on %s:%u\n", inet_ntoa(sa.sin_addr),
			ntohs(sa.sin_port));
		pool_stop();
		return 125;
	}
	fprintf(stderr, "arrow-gateway: listening on %s:%u, functions in %s\n",
		inet_ntoa(sa.sin_addr), ntohs(sa.sin_port), fnstore_dir());
	sigwait(&set, &sig);
	fprintf(stderr, "arrow-gateway: stopping (signal %d): instances go, deployments stay\n", sig);
	if (pthread_create(&t, NULL, stop_watchdog, NULL) == 0)
		pthread_detach(t);
	pool_quit();      /* queued requests get 503 now */
	proxy_shutdown(); /* and transfers still running end */
	MHD_stop_daemon(d);
	pool_stop();
	curl_global_cleanup();
	return 0;
}
