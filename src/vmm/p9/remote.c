// SPDX-License-Identifier: MIT
/* Forwarding 9P requests to a sidecar process and serving them there; see remote.h. */
#include "remote.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR 7         /* size[4] type[1] tag[2] */
#define RLERROR 7

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

int p9_remote_init(struct p9_remote *r, int sock, int timeout_ms)
{
	r->sock = sock;
	r->seq = 0;
	r->timeout_ms = timeout_ms;
	r->buf = malloc(P9_REMOTE_HDR + P9_MSIZE_MAX);
	return r->buf ? 0 : -ENOMEM;
}

void p9_remote_free(struct p9_remote *r)
{
	if (r->sock >= 0)
		close(r->sock);
	r->sock = -1;
	free(r->buf);
	r->buf = NULL;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for events on the socket until deadline; 0, or -ETIMEDOUT / -EPIPE. */
static int wait_for(int sock, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { sock, events, 0 };
		int64_t left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ETIMEDOUT;
		if (p.revents & events)
			return 0;
		if (p.revents & (POLLHUP | POLLERR | POLLNVAL))
			return -EPIPE;
	}
}

/* sendmsg/recvmsg (the vCPU threads that run devices may not use send/recv: seccomp.c) */
static ssize_t xfer(int sock, bool out, void *buf, size_t len, int *flags)
{
	struct iovec v = { buf, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = out ? sendmsg(sock, &m, MSG_DONTWAIT | MSG_NOSIGNAL)
			: recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (flags)
		*flags = m.msg_flags;
	return n < 0 ? -errno : n;
}

/* An Rlerror of arrowh's own for the request's tag. */
static size_t error_reply(const uint8_t *req, size_t req_len, uint8_t *resp, size_t resp_cap,
			  uint32_t err)
{
	if (resp_cap < HDR + 4)
		return 0;
	put32(resp, HDR + 4);
	resp[4] = RLERROR;
	resp[5] = req_len >= HDR ? req[5] : 0xff;
	resp[6] = req_len >= HDR ? req[6] : 0xff;
	put32(resp + HDR, err);
	return HDR + 4;
}

/* Is this R-message (n bytes) a well-formed answer to req? */
static bool reply_ok(const uint8_t *req, size_t req_len, const uint8_t *rep, size_t n,
		     size_t resp_cap)
{
	if (n < HDR || n > resp_cap || get32(rep) != n || req_len < HDR)
		return false;
	if (rep[5] != req[5] || rep[6] != req[6])
		return false; /* another tag */
	if (rep[4] == RLERROR)
		return n == HDR + 4;
	return rep[4] == (uint8_t)(req[4] + 1);
}

size_t p9_remote_call(struct p9_remote *r, const uint8_t *req, size_t req_len, uint8_t *resp,
		      size_t resp_cap)
{
	int64_t deadline = now_ms() + r->timeout_ms;
	uint32_t seq = ++r->seq;
	ssize_t n;
	int ret, flags;

	if (resp_cap > P9_MSIZE_MAX)
		resp_cap = P9_MSIZE_MAX;
	if (resp_cap < HDR + 4)
		return 0;
	if (r->sock < 0 || req_len > P9_MSIZE_MAX)
		return error_reply(req, req_len, resp, resp_cap, EIO);
	put32(r->buf, seq);
	put32(r->buf + 4, (uint32_t)resp_cap);
	memcpy(r->buf + P9_REMOTE_HDR, req, req_len);
	while ((n = xfer(r->sock, true, r->buf, P9_REMOTE_HDR + req_len, NULL)) == -EAGAIN)
		if ((ret = wait_for(r->sock, POLLOUT, deadline)))
			goto fail;
	if (n < 0) {
		ret = (int)n;
		goto fail;
	}
	for (;;) {
		n = xfer(r->sock, false, r->buf, P9_REMOTE_HDR + P9_MSIZE_MAX, &flags);
		if (n == -EAGAIN) {
			if ((ret = wait_for(r->sock, POLLIN, deadline)))
				goto fail;
			continue;
		}
		if (n <= 0) {
			ret = n == 0 ? -EPIPE : (int)n;
			goto fail;
		}
		if (n < 4 || get32(r->buf) != seq)
			continue; /* the late answer to a request that timed out: dropped */
		break;
	}
	n -= 4;
	if ((flags & MSG_TRUNC) || !reply_ok(req, req_len, r->buf + 4, (size_t)n, resp_cap))
		return error_reply(req, req_len, resp, resp_cap, EIO);
	memcpy(resp, r->buf + 4, (size_t)n);
	return (size_t)n;
fail:
	/* gone (EOF, reset): every later request fails at once; late: this one only */
	if (ret != -ETIMEDOUT) {
		close(r->sock);
		r->sock = -1;
	}
	return error_reply(req, req_len, resp, resp_cap, EIO);
}

int p9_remote_serve(struct p9_server *s, int sock, uint8_t *buf, uint8_t *out)
{
	for (;;) {
		struct iovec v = { buf, P9_REMOTE_HDR + P9_MSIZE_MAX };
		struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };
		struct iovec o[1];
		struct msghdr om = { .msg_iov = o, .msg_iovlen = 1 };
		ssize_t n = recvmsg(sock, &m, 0);
		uint32_t cap;
		size_t len;

		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return 0; /* arrowh is gone */
		if (n < 0)
			return -errno;
		if (n < P9_REMOTE_HDR || (m.msg_flags & MSG_TRUNC))
			return -EPROTO;
		cap = get32(buf + 4);
		if (cap > P9_MSIZE_MAX)
			cap = P9_MSIZE_MAX;
		memcpy(out, buf, 4); /* seq */
		len = p9_handle(s, buf + P9_REMOTE_HDR, (size_t)n - P9_REMOTE_HDR, out + 4, cap);
		o[0] = (struct iovec){ out, 4 + len };
		do
			n = sendmsg(sock, &om, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return errno == EPIPE || errno == ECONNRESET ? 0 : -errno;
	}
}
