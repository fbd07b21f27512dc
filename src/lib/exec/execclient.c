// SPDX-License-Identifier: MIT
/* The host side of the exec protocol: see execclient.h and docs/exec.md. */
#include "lib/exec/execclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define HANDSHAKE_LINE_MAX 64
#define RETRY_MS 100
#define MISSING_SOCKET_MS 3000 /* vsock.sock absent this long: the Arrow has no vsock */
#define OUTQ_MAX (256u << 10)  /* queued for the guest; stdin is read only below this */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - now_ms();

	return l < 0 ? 0 : l > 0x7fffffff ? 0x7fffffff : (int)l;
}

static int fail(char *why, size_t len, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *why, size_t len, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return err;
}

int exec_timeout_ms(void)
{
	const char *s = getenv("ARROW_EXEC_TIMEOUT");
	char *end;
	long v;

	if (!s || !*s)
		return EXEC_TIMEOUT_MS_DEFAULT;
	v = strtol(s, &end, 10);
	if (*end || v < 1 || v > 3600)
		return EXEC_TIMEOUT_MS_DEFAULT;
	return (int)v * 1000;
}

/* Wait for fd to be ready for events until deadline: 1 ready, 0 timed out, -errno. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { fd, events, 0 };
		int r = poll(&p, 1, left_ms(deadline));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		return r;
	}
}

static int send_all_by(int fd, const void *buf, size_t len, int64_t deadline)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			int r = wait_fd(fd, POLLOUT, deadline);

			if (r <= 0)
				return r ? r : -ETIMEDOUT;
			continue;
		}
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One handshake attempt: 1 connected, 0 nothing listens (retry), -errno. */
static int hvsock_try(int fd, uint32_t port, int64_t deadline, char *why, size_t whylen)
{
	char line[HANDSHAKE_LINE_MAX + 1];
	size_t have = 0;
	int n = snprintf(line, sizeof(line), "CONNECT %u\n", port), r;

	r = send_all_by(fd, line, (size_t)n, deadline);
	if (r == -EPIPE || r == -ECONNRESET)
		return 0;
	if (r)
		return fail(why, whylen, r, "cannot send the vsock handshake: %s", strerror(-r));
	/* byte by byte: nothing past the line may be consumed */
	while (have < HANDSHAKE_LINE_MAX) {
		ssize_t got;

		r = wait_fd(fd, POLLIN, deadline);
		if (r <= 0)
			return fail(why, whylen, r ? r : -ETIMEDOUT,
				    "no answer to the vsock handshake");
		got = recv(fd, line + have, 1, MSG_DONTWAIT);
		if (got < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (got < 0 && errno == ECONNRESET)
			return 0;
		if (got < 0)
			return fail(why, whylen, -errno, "vsock handshake: %s", strerror(errno));
		if (got == 0)
			return 0; /* closed: nothing listens on the port (yet) */
		if (line[have++] == '\n')
			break;
	}
	line[have] = '\0';
	if (have < 4 || strncmp(line, "OK ", 3) || line[have - 1] != '\n')
		return fail(why, whylen, -EPROTO, "unexpected answer to the vsock handshake");
	return 1;
}

int hvsock_connect(const char *dir, uint32_t port, int timeout_ms, char *why, size_t whylen)
{
	int64_t start = now_ms(), deadline = start + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int dir_fd = -1, ret = -ETIMEDOUT;
	const char *last = "no answer";

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, HVSOCK_SOCKET) >=
	    (int)sizeof(sa.sun_path)) {
		dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dir_fd < 0)
			return fail(why, whylen, -errno, "%s: %s", dir, strerror(errno));
		snprintf(sa.sun_path, sizeof(sa.sun_path), "/proc/self/fd/%d/%s", dir_fd,
			 HVSOCK_SOCKET);
	}
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

		if (fd < 0) {
			ret = fail(why, whylen, -errno, "socket: %s", strerror(errno));
			break;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			close(fd);
			if (r == -ENOENT && now_ms() - start >= MISSING_SOCKET_MS) {
				ret = fail(why, whylen, -ENOENT,
					   "it has no vsock device (no %s in its state directory)",
					   HVSOCK_SOCKET);
				break;
			}
			if (r != -ENOENT && r != -ECONNREFUSED && r != -EAGAIN) {
				ret = fail(why, whylen, r, "cannot connect to %s: %s", HVSOCK_SOCKET,
					   strerror(-r));
				break;
			}
			last = "arrowh does not accept vsock connections";
		} else {
			r = hvsock_try(fd, port, deadline, why, whylen);
			if (r == 1) {
				ret = fd;
				break;
			}
			close(fd);
			if (r < 0) {
				ret = r;
				break;
			}
			last = "nothing listens on the guest's exec port (ainit without an exec "
			       "service, or still booting)";
		}
		if (left_ms(deadline) == 0) {
			ret = fail(why, whylen, -ETIMEDOUT, "%s after %d s", last, timeout_ms / 1000);
			break;
		}
		poll(NULL, 0, left_ms(deadline) < RETRY_MS ? left_ms(deadline) : RETRY_MS);
	}
	if (dir_fd >= 0)
		close(dir_fd);
	return ret;
}

/* The next frame within the deadline: 1, or -errno (EOF: -ECONNRESET). */
static int read_frame_by(struct execproto_reader *rd, int fd, int64_t deadline)
{
	for (;;) {
		int r = wait_fd(fd, POLLIN, deadline);

		if (r == 0)
			return -ETIMEDOUT;
		if (r < 0)
			return r;
		r = execproto_read(rd, fd);
		if (r == EXECPROTO_EOF)
			return -ECONNRESET;
		if (r)
			return r;
	}
}

static const char *frame_error(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return "the Arrow's exec service did not answer in time";
	case -ECONNRESET:
		return "the Arrow closed the connection";
	case -EPROTO:
		return "the Arrow sent a frame of a bad type";
	case -EMSGSIZE:
		return "the Arrow sent a frame of a bad length";
	}
	return strerror(-r);
}

/* An ERROR frame's status and message (made printable) into why. */
static int take_error(const struct execproto_reader *rd, char *why, size_t whylen)
{
	uint32_t status = execproto_get32(rd->payload);
	size_t n = rd->len - 4, i;

	if (n > whylen - 1)
		n = whylen - 1;
	for (i = 0; i < n; i++) {
		char c = (char)rd->payload[4 + i];

		why[i] = (unsigned char)c < 0x20 || c == 0x7f ? '?' : c;
	}
	why[i] = '\0';
	return status >= 1 && status <= 255 ? (int)status : 125;
}

int exec_client_start(struct exec_client *c, const struct exec_start *s, int timeout_ms,
		      uint32_t *pid)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct execproto_reader rd;
	uint8_t hdr[EXECPROTO_HDR_LEN], *payload;
	size_t len;
	int r = execproto_start_encode(s, &payload, &len);

	if (r)
		return fail(c->why, sizeof(c->why), r, "%s", r == -E2BIG ?
			    "the command and its environment are too large" :
			    "bad command, environment or directory");
	execproto_hdr_put(hdr, EXEC_START, (uint32_t)len);
	r = send_all_by(c->sock, hdr, sizeof(hdr), deadline);
	if (!r)
		r = send_all_by(c->sock, payload, len, deadline);
	free(payload);
	if (r)
		return fail(c->why, sizeof(c->why), r, "cannot send the request: %s",
			    r == -ETIMEDOUT ? "the Arrow does not read it" : strerror(-r));
	if (execproto_reader_init(&rd, EXECPROTO_FROM_GUEST))
		return fail(c->why, sizeof(c->why), -ENOMEM, "out of memory");
	r = read_frame_by(&rd, c->sock, deadline);
	if (r < 0)
		r = fail(c->why, sizeof(c->why), r, "%s", frame_error(r));
	else if (rd.type == EXEC_STARTED)
		*pid = execproto_get32(rd.payload), r = 0;
	else if (rd.type == EXEC_ERROR)
		r = take_error(&rd, c->why, sizeof(c->why));
	else
		r = fail(c->why, sizeof(c->why), -EPROTO,
			 "the Arrow sent frame type %u before the program started", rd.type);
	execproto_reader_free(&rd);
	return r;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct relay {
	struct exec_client *c;
	struct execproto_reader rd;
	uint8_t *q; /* frames for the guest, not yet sent */
	size_t qlen;
	bool eof_queued;
};

static void queue(struct relay *r, uint16_t type, const void *payload, uint32_t len)
{
	execproto_hdr_put(r->q + r->qlen, type, len);
	if (len)
		memcpy(r->q + r->qlen + EXECPROTO_HDR_LEN, payload, len);
	r->qlen += EXECPROTO_HDR_LEN + len;
}

static void queue_resize(struct relay *r)
{
	struct winsize ws;
	uint8_t p[4];

	if (r->c->tty_fd < 0 || ioctl(r->c->tty_fd, TIOCGWINSZ, &ws) < 0)
		return;
	execproto_put16(p, ws.ws_row);
	execproto_put16(p + 2, ws.ws_col);
	queue(r, EXEC_RESIZE, p, 4);
}

static void read_input(struct relay *r)
{
	static uint8_t buf[EXECPROTO_DATA_MAX];
	ssize_t n = read(r->c->in_fd, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		queue(r, EXEC_STDIN_EOF, NULL, 0);
		r->c->in_fd = -1;
		return;
	}
	queue(r, EXEC_STDIN, buf, (uint32_t)n);
}

static void read_signal(struct relay *r)
{
	struct signalfd_siginfo si;
	uint8_t p[4];

	if (read(r->c->sig_fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGWINCH) {
		queue_resize(r);
		return;
	}
	execproto_put32(p, si.ssi_signo);
	queue(r, EXEC_SIGNAL, p, 4);
}

static int flush_queue(struct relay *r)
{
	while (r->qlen) {
		ssize_t n = send(r->c->sock, r->q, r->qlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0)
			return -errno;
		memmove(r->q, r->q + n, r->qlen - (size_t)n);
		r->qlen -= (size_t)n;
	}
	return 0;
}

/* Frames from the guest: 1 more, 0 would block, or the exit status + 1000, or -errno. */
static int take_output(struct relay *r)
{
	struct exec_client *c = r->c;

	for (int i = 0; i < 64; i++) {
		int ret = execproto_read(&r->rd, c->sock);

		if (ret == EXECPROTO_EOF || ret == -ECONNRESET)
			return fail(c->why, sizeof(c->why), -ECONNRESET, "the connection to the "
				    "Arrow ended before the program's exit status came");
		if (ret < 0)
			return fail(c->why, sizeof(c->why), ret, "%s", frame_error(ret));
		if (ret == 0)
			return 0;
		switch (r->rd.type) {
		case EXEC_STDOUT:
			if (c->out_fd >= 0 && write_all(c->out_fd, r->rd.payload, r->rd.len))
				c->out_fd = -1; /* our reader went away: drop the rest */
			break;
		case EXEC_STDERR:
			if (c->err_fd >= 0 && write_all(c->err_fd, r->rd.payload, r->rd.len))
				c->err_fd = -1;
			break;
		case EXEC_EXIT: {
			uint32_t st = execproto_get32(r->rd.payload);

			if (st > 255)
				return fail(c->why, sizeof(c->why), -EPROTO,
					    "the Arrow sent exit status %u", st);
			return 1000 + (int)st;
		}
		default:
			return fail(c->why, sizeof(c->why), -EPROTO,
				    "the Arrow sent frame type %u while the program ran",
				    r->rd.type);
		}
	}
	return 1;
}

int exec_client_relay(struct exec_client *c)
{
	struct relay r = { .c = c };
	int ret;

	r.q = malloc(OUTQ_MAX + 2 * (EXECPROTO_HDR_LEN + EXECPROTO_DATA_MAX));
	if (!r.q || execproto_reader_init(&r.rd, EXECPROTO_FROM_GUEST)) {
		free(r.q);
		return fail(c->why, sizeof(c->why), -ENOMEM, "out of memory");
	}
	fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
	queue_resize(&r); /* the size may have changed since START */
	for (;;) {
		bool room = r.qlen < OUTQ_MAX;
		struct pollfd p[3] = {
			{ c->sock, (short)(POLLIN | (r.qlen ? POLLOUT : 0)), 0 },
			{ room ? c->in_fd : -1, POLLIN, 0 },
			{ room ? c->sig_fd : -1, POLLIN, 0 },
		};

		if (poll(p, 3, -1) < 0 && errno != EINTR) {
			ret = fail(c->why, sizeof(c->why), -errno, "poll: %s", strerror(errno));
			break;
		}
		if (p[2].revents)
			read_signal(&r);
		if (p[1].revents)
			read_input(&r);
		ret = flush_queue(&r);
		if (ret && ret != -EPIPE && ret != -ECONNRESET) {
			fail(c->why, sizeof(c->why), ret, "sending to the Arrow: %s", strerror(-ret));
			break;
		}
		if (ret)
			r.qlen = 0; /* the guest side is gone: its last words may still be readable */
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ret = take_output(&r);
			if (ret >= 1000) {
				ret -= 1000;
				break;
			}
			if (ret < 0)
				break;
		}
	}
	free(r.q);
	execproto_reader_free(&r.rd);
	return ret;
}

int exec_client_top(int sock, int timeout_ms, struct exec_top_row **rows, char *why,
		    size_t whylen)
{
	int64_t deadline = now_ms() + timeout_ms;
	struct execproto_reader rd;
	struct exec_top_row *list = NULL;
	size_t n = 0, cap = 0;
	uint8_t hdr[EXECPROTO_HDR_LEN];
	int r;

	execproto_hdr_put(hdr, EXEC_TOP, 0);
	r = send_all_by(sock, hdr, sizeof(hdr), deadline);
	if (r)
		return fail(why, whylen, r, "cannot send the request: %s", strerror(-r));
	if (execproto_reader_init(&rd, EXECPROTO_FROM_GUEST))
		return fail(why, whylen, -ENOMEM, "out of memory");
	for (;;) {
		r = read_frame_by(&rd, sock, deadline);
		if (r < 0) {
			fail(why, whylen, r, "%s", frame_error(r));
			break;
		}
		if (rd.type == EXEC_TOP_END) {
			r = (int)n;
			break;
		}
		if (rd.type == EXEC_ERROR) {
			take_error(&rd, why, whylen);
			r = -EIO;
			break;
		}
		if (rd.type != EXEC_TOP_ROW || n >= EXEC_TOP_MAX_ROWS) {
			r = fail(why, whylen, -EPROTO, "%s", rd.type != EXEC_TOP_ROW ?
				 "the Arrow sent an unexpected frame" : "the Arrow sent too many rows");
			break;
		}
		if (n == cap) {
			struct exec_top_row *more;

			cap = cap ? cap * 2 : 64;
			more = realloc(list, cap * sizeof(*list));
			if (!more) {
				r = fail(why, whylen, -ENOMEM, "out of memory");
				break;
			}
			list = more;
		}
		execproto_top_row_decode(rd.payload, rd.len, &list[n++]);
	}
	execproto_reader_free(&rd);
	if (r < 0) {
		free(list);
		return r;
	}
	*rows = list;
	return r;
}

int exec_parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	unsigned long u, g;
	char *end;

	errno = 0;
	u = strtoul(s, &end, 10);
	g = u;
	if (errno || end == s || s[0] == '-' || u > 0xfffffffeul || (*end && *end != ':'))
		return -1;
	if (*end == ':') {
		const char *gs = end + 1;

		g = strtoul(gs, &end, 10);
		if (errno || end == gs || gs[0] == '-' || g > 0xfffffffeul || *end)
			return -1;
	}
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

void exec_forwarded_signals(sigset_t *set, bool tty)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };

	sigemptyset(set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
	if (tty)
		sigaddset(set, SIGWINCH);
}
