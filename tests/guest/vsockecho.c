// SPDX-License-Identifier: MIT
/*
 * virtio-vsock test program (docs/vsock.md, tests/integration/test_vsock.py):
 *
 *   vsockecho listen PORT        echo every connection on vsock PORT (one process each);
 *                                prints "vsockecho: listening", then per connection
 *                                "vsockecho: done N" or "vsockecho: reset N" (its read failed)
 *   vsockecho connect PORT N [S] connect to the host (CID 2) on PORT, send N pattern bytes,
 *                                read them back and check: "vsockecho: ok N", exit 0;
 *                                refused: "vsockecho: refused", exit 3 (with S: after
 *                                trying again for S seconds); mismatch: exit 4
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
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

static uint8_t pattern(uint64_t i)
{
	return (uint8_t)(i * 131 + (i >> 11) + (i >> 19));
}

static void echo(int c)
{
	char buf[65536];
	uint64_t total = 0;

	for (;;) {
		ssize_t n = read(c, buf, sizeof(buf)), off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("vsockecho: reset %llu (%s)\n", (unsigned long long)total, strerror(errno));
			break;
		}
		if (n == 0) {
			printf("vsockecho: done %llu\n", (unsigned long long)total);
			break;
		}
		while (off < n) {
			ssize_t w = write(c, buf + off, (size_t)(n - off));

			if (w <= 0) {
				printf("vsockecho: reset %llu (write: %s)\n", (unsigned long long)total,
				       strerror(errno));
				fflush(stdout);
				_exit(0);
			}
			off += w;
		}
		total += (uint64_t)n;
	}
	fflush(stdout);
}

static int do_listen(unsigned int port)
{
	struct vm_addr a = { .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = -1U };
	int s = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(s, 16) < 0) {
		perror("vsockecho: listen");
		return 1;
	}
	signal(SIGCHLD, SIG_IGN); /* no zombies */
	printf("vsockecho: listening on %u\n", port);
	fflush(stdout);
	for (;;) {
		int c = accept(s, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() == 0) {
			close(s);
			echo(c);
			_exit(0);
		}
		close(c);
	}
}

static int do_connect(unsigned int port, uint64_t n, unsigned int wait_s)
{
	struct vm_addr a = { .svm_family = AF_VSOCK, .svm_port = port, .svm_cid = 2 };
	static char buf[65536];
	uint64_t sent = 0, got = 0;
	int s;

	for (unsigned int tries = 0;; tries++) {
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		if (tries >= wait_s * 5) {
			printf("vsockecho: refused (%s)\n", strerror(errno));
			return 3;
		}
		if (s >= 0)
			close(s);
		usleep(200000);
	}
	while (got < n) {
		struct pollfd p = { s, POLLIN | (sent < n ? POLLOUT : 0), 0 };

		if (poll(&p, 1, -1) < 0)
			continue;
		if (p.revents & POLLOUT) {
			size_t len = n - sent < sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);
			ssize_t w;

			for (size_t i = 0; i < len; i++)
				buf[i] = (char)pattern(sent + i);
			w = write(s, buf, len);
			if (w > 0)
				sent += (uint64_t)w;
			if (sent == n)
				shutdown(s, SHUT_WR);
		}
		if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(s, buf, sizeof(buf));

			if (r <= 0) {
				printf("vsockecho: short echo %llu of %llu\n", (unsigned long long)got,
				       (unsigned long long)n);
				return 4;
			}
			for (ssize_t i = 0; i < r; i++)
				if ((uint8_t)buf[i] != pattern(got + (uint64_t)i)) {
					printf("vsockecho: mismatch at %llu\n",
					       (unsigned long long)(got + (uint64_t)i));
					return 4;
				}
			got += (uint64_t)r;
		}
	}
	printf("vsockecho: ok %llu\n", (unsigned long long)n);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "listen"))
		return do_listen((unsigned int)strtoul(argv[2], NULL, 10));
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "connect"))
		return do_connect((unsigned int)strtoul(argv[2], NULL, 10),
				  strtoull(argv[3], NULL, 10),
				  argc == 5 ? (unsigned int)strtoul(argv[4], NULL, 10) : 0);
	fprintf(stderr, "usage: vsockecho listen PORT | connect PORT NBYTES [WAIT_S]\n");
	return 2;
}
