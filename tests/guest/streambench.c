// SPDX-License-Identifier: MIT
/*
 * Stream throughput server for bench/exec.py: the same code moves bytes over virtio-vsock
 * and over TCP, so only the transport differs.
 *
 *   streambench serve VPORT TPORT   listen on vsock port VPORT (any CID) and TCP port TPORT
 *                                   (0.0.0.0); prints "streambench: listening", then serves
 *                                   each connection in a process of its own
 *
 * A connection starts with one request line (at most 95 bytes):
 *
 *   RECV N\n          the guest reads N bytes (host → guest), then answers "OK N\n"
 *   SEND N\n          the guest writes N bytes (guest → host), then closes
 *   DIAL V PORT N\n   the guest connects to the host over vsock (CID 2, PORT), writes N
 *                     bytes there and closes it; answers "OK N\n" on the request's
 *                     connection (guest → host, the connection opened by the guest)
 *   DIAL T A.B.C.D PORT N\n   the same over TCP to A.B.C.D:PORT
 *
 * Bytes are counted, not checked: the payload is one buffer of a fixed pattern, and byte
 * exactness of both transports is the integration tests' job (tests/integration/
 * test_vsock.py, test_network.py). Errors are answered "ERR <what>\n" where a reply goes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif

/* struct sockaddr_vm (linux/vm_sockets.h), spelled out: musl has no kernel headers here */
struct vm_addr {
	unsigned short svm_family;
	unsigned short svm_reserved1;
	unsigned int svm_port;
	unsigned int svm_cid;
	unsigned char svm_flags;
	unsigned char svm_zero[3];
};

#define CHUNK 65536
static char buf[CHUNK];

static void reply(int c, const char *fmt, unsigned long long v, const char *what)
{
	char line[160];
	int n = what ? snprintf(line, sizeof(line), "ERR %s: %s\n", what, strerror(errno))
		     : snprintf(line, sizeof(line), fmt, v);

	if (n > 0 && write(c, line, (size_t)n) < 0)
		return;
}

static int read_line(int c, char *line, size_t max)
{
	size_t n = 0;

	while (n + 1 < max) {
		ssize_t r = read(c, line + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		if (line[n] == '\n') {
			line[n] = 0;
			return 0;
		}
		n++;
	}
	return -1;
}

static int send_all(int s, unsigned long long n)
{
	while (n) {
		size_t len = n < CHUNK ? (size_t)n : CHUNK;
		ssize_t w = write(s, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		n -= (unsigned long long)w;
	}
	return 0;
}

static long long recv_all(int s, unsigned long long n)
{
	unsigned long long got = 0;

	while (got < n) {
		ssize_t r = read(s, buf, CHUNK);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (unsigned long long)r;
	}
	return (long long)got;
}

static int dial(const char *kind, const char *addr, unsigned int port)
{
	int s;

	if (!strcmp(kind, "V")) {
		struct vm_addr a = { .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = 2 };

		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

		if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
			errno = EINVAL;
			return -1;
		}
		s = socket(AF_INET, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			return s;
	}
	if (s >= 0) {
		int e = errno;

		close(s);
		errno = e;
	}
	return -1;
}

static void serve(int c)
{
	char line[96], kind[4], addr[32];
	unsigned long long n;
	unsigned int port;

	if (read_line(c, line, sizeof(line)) < 0)
		return;
	if (sscanf(line, "RECV %llu", &n) == 1) {
		long long got = recv_all(c, n);

		if (got == (long long)n)
			reply(c, "OK %llu\n", n, NULL);
		else
			reply(c, "SHORT %llu\n", (unsigned long long)got, NULL);
	} else if (sscanf(line, "SEND %llu", &n) == 1) {
		send_all(c, n);
	} else if (sscanf(line, "DIAL V %u %llu", &port, &n) == 2 ||
		   sscanf(line, "DIAL T %31s %u %llu", addr, &port, &n) == 3) {
		int s;

		strcpy(kind, line[5] == 'V' ? "V" : "T");
		s = dial(kind, addr, port);
		if (s < 0) {
			reply(c, NULL, 0, "connect");
			return;
		}
		if (send_all(s, n) < 0) {
			reply(c, NULL, 0, "write");
			close(s);
			return;
		}
		close(s);
		reply(c, "OK %llu\n", n, NULL);
	} else {
		errno = EINVAL;
		reply(c, NULL, 0, "request");
	}
}

static int listener(int family, unsigned int port)
{
	int s = socket(family, SOCK_STREAM, 0), one = 1;

	if (s < 0)
		return -1;
	if (family == AF_VSOCK) {
		struct vm_addr a = { .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = -1U };

		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	} else {
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };

		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&a, sizeof(a)) < 0)
			return -1;
	}
	return listen(s, 16) < 0 ? -1 : s;
}

int main(int argc, char **argv)
{
	struct pollfd p[2];
	int nfds = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || strcmp(argv[1], "serve")) {
		fprintf(stderr, "usage: streambench serve VSOCK-PORT TCP-PORT\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (char)(i * 131 + (i >> 11));
	p[nfds].fd = listener(AF_VSOCK, (unsigned int)strtoul(argv[2], NULL, 10));
	if (p[nfds].fd < 0)
		perror("streambench: vsock listener");
	else
		p[nfds++].events = POLLIN;
	p[nfds].fd = listener(AF_INET, (unsigned int)strtoul(argv[3], NULL, 10));
	if (p[nfds].fd < 0)
		perror("streambench: tcp listener (no network?)");
	else
		p[nfds++].events = POLLIN;
	if (!nfds)
		return 1;
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	signal(SIGPIPE, SIG_IGN);
	printf("streambench: listening (%d sockets)\n", nfds);
	for (;;) {
		if (poll(p, (nfds_t)nfds, -1) < 0)
			continue;
		for (int i = 0; i < nfds; i++) {
			int c;

			if (!(p[i].revents & POLLIN))
				continue;
			c = accept(p[i].fd, NULL, NULL);
			if (c < 0)
				continue;
			if (fork() == 0) {
				for (int j = 0; j < nfds; j++)
					close(p[j].fd);
				serve(c);
				close(c);
				_exit(0);
			}
			close(c);
		}
	}
}
