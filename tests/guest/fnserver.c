// SPDX-License-Identifier: MIT
/*
 * A tiny HTTP server for the functions tests (tests/integration/test_functions.py), run
 * as a function: fnserver [PORT]. One process per connection, one request per connection.
 *   /hello          "hello from HOSTNAME"
 *   /echo           the request body back (X-Path: the path and query it was asked for)
 *   /id             "BOOT_ID HOSTNAME" (/proc/sys/kernel/random/boot_id, read only now)
 *   /sleep?ms=N     answers after N milliseconds
 *   /stream         "first\n", then "last\n" once /release was asked for (no length:
 *                   the answer ends when the connection closes)
 *   /release        lets /stream finish
 *   /crash          the whole server dies without answering
 *   /hang           never answers
 *   /counter        INCR hits in the redis at $REDIS_HOST:6379 (a connection per request,
 *                   as docs/functions.md says a clone must), answers the new count
 */
#define _GNU_SOURCE /* strcasestr */
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REQ_MAX (1 << 20)

static void reply(int fd, int status, const char *extra, const char *body, size_t len)
{
	char head[512];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
			 "Connection: close\r\n%s\r\n",
			 status, status == 200 ? "OK" : status == 502 ? "Bad Gateway" : "Not Found", len, extra);

	if (write(fd, head, (size_t)n) != n)
		return;
	while (len) {
		ssize_t w = write(fd, body, len);

		if (w <= 0)
			return;
		body += w;
		len -= (size_t)w;
	}
}

static void reply_str(int fd, int status, const char *s)
{
	reply(fd, status, "", s, strlen(s));
}

/* INCR hits in redis at $REDIS_HOST:6379: the reply's number as text, or an error's. */
static void redis_incr(char *out, size_t len)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *ai;
	const char *host = getenv("REDIS_HOST");
	char rep[64] = "";
	ssize_t n = 0;
	int s, err;

	err = host ? getaddrinfo(host, "6379", &hints, &ai) : EAI_NONAME;
	if (err) {
		snprintf(out, len, "cannot resolve REDIS_HOST %s: %s\n", host ? host : "(unset)",
			 gai_strerror(err));
		return;
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    write(s, "INCR hits\r\n", 11) != 11 || (n = read(s, rep, sizeof(rep) - 1)) <= 0) {
		snprintf(out, len, "redis at %s: no answer\n", host);
	} else {
		rep[n] = '\0';
		rep[strcspn(rep, "\r\n")] = '\0';
		snprintf(out, len, "%s\n", rep[0] == ':' ? rep + 1 : rep);
	}
	if (s >= 0)
		close(s);
	freeaddrinfo(ai);
}

static void route(int fd, const char *path, const char *body, size_t len)
{
	char buf[512], host[128] = "", boot[64] = "";
	FILE *f;

	if (!strcmp(path, "/hello")) {
		gethostname(host, sizeof(host));
		snprintf(buf, sizeof(buf), "hello from %s\n", host);
		reply_str(fd, 200, buf);
	} else if (!strncmp(path, "/echo", 5)) {
		snprintf(buf, sizeof(buf), "X-Path: %.400s\r\n", path);
		reply(fd, 200, buf, body, len);
	} else if (!strcmp(path, "/id")) {
		gethostname(host, sizeof(host));
		f = fopen("/proc/sys/kernel/random/boot_id", "r");
		if (f && fgets(boot, sizeof(boot), f))
			boot[strcspn(boot, "\n")] = '\0';
		if (f)
			fclose(f);
		snprintf(buf, sizeof(buf), "%s %s\n", boot, host);
		reply_str(fd, 200, buf);
	} else if (!strncmp(path, "/sleep?ms=", 10)) {
		long ms = atol(path + 10);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

		nanosleep(&ts, NULL);
		snprintf(buf, sizeof(buf), "slept %ld\n", ms);
		reply_str(fd, 200, buf);
	} else if (!strcmp(path, "/stream")) {
		static const char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
					   "Connection: close\r\n\r\nfirst\n";
		struct timespec tick = { 0, 10 * 1000 * 1000 };

		if (write(fd, head, sizeof(head) - 1) < 0)
			return;
		for (int i = 0; i < 6000 && access("/tmp/fn-release", F_OK); i++)
			nanosleep(&tick, NULL); /* at most 60 s */
		if (write(fd, "last\n", 5) < 0)
			return;
	} else if (!strcmp(path, "/release")) {
		f = fopen("/tmp/fn-release", "w");
		if (f)
			fclose(f);
		reply_str(fd, 200, "released\n");
	} else if (!strcmp(path, "/crash")) {
		close(fd);
		kill(getppid(), SIGKILL);
		_exit(1);
	} else if (!strcmp(path, "/counter")) {
		redis_incr(buf, sizeof(buf));
		reply_str(fd, strchr(buf, ' ') ? 502 : 200, buf);
	} else if (!strcmp(path, "/hang")) {
		for (;;)
			pause();
	} else {
		reply_str(fd, 404, "no such path\n");
	}
}

/* Read the head, then Content-Length bytes of body. */
static void serve(int fd)
{
	char *req = malloc(REQ_MAX + 1), method[16], path[1024], *end, *cl;
	size_t n = 0, want = 0, head;

	while (req && n < REQ_MAX) {
		ssize_t r = read(fd, req + n, REQ_MAX - n);

		if (r <= 0)
			return;
		n += (size_t)r;
		req[n] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (!end)
			continue;
		head = (size_t)(end - req) + 4;
		cl = strcasestr(req, "\r\nContent-Length:");
		want = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
		if (want > REQ_MAX - head)
			return;
		if (n >= head + want) {
			if (sscanf(req, "%15s %1023s", method, path) != 2)
				return;
			printf("fnserver: %s %s\n", method, path); /* for arrow fn logs */
			fflush(stdout);
			route(fd, path, req + head, want);
			return;
		}
	}
}

int main(int argc, char *argv[])
{
	int port = argc > 1 ? atoi(argv[1]) : 8080, one = 1;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	const char *delay = getenv("LISTEN_DELAY_MS"); /* a deploy that takes its time */
	int s = socket(AF_INET, SOCK_STREAM, 0);

	if (delay)
		usleep((useconds_t)strtoul(delay, NULL, 10) * 1000);
	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 128) < 0) {
		perror("fnserver");
		return 1;
	}
	printf("fnserver listening on %d\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0) {
			usleep(10000); /* out of descriptors: no spinning */
			continue;
		}
		if (fork() == 0) {
			close(s);
			serve(c);
			close(c);
			_exit(0);
		}
		close(c);
	}
}
