// SPDX-License-Identifier: MIT
#include "attachc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/statedir.h"
#include "common/streamrec.h"

int attach_connect(const struct arrow_rec *r, bool with_stdin)
{
	return store_connect(r, HOSTCTL_ATTACH, with_stdin ? HOSTCTL_ATTACH_STDIN : 0);
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Bytes received but not yet relayed (one attach connection per process). */
static char *pending;
static size_t pending_len;

int attach_relay_output_some(int fd, int out_fd, int err_fd)
{
	size_t pos = 0;
	ssize_t n;

	if (!pending) {
		pending = malloc(sizeof(struct streamrec_hdr) + STREAMREC_MAX_LEN);
		if (!pending)
			return -1;
	}
	n = read(fd, pending + pending_len,
		 sizeof(struct streamrec_hdr) + STREAMREC_MAX_LEN - pending_len);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return ATTACH_MORE;
	if (n <= 0)
		return -1;
	pending_len += (size_t)n;
	while (pending_len - pos >= sizeof(struct streamrec_hdr)) {
		struct streamrec_hdr h;
		const char *data = pending + pos + sizeof(h);

		memcpy(&h, pending + pos, sizeof(h));
		if (h.magic != STREAMREC_MAGIC || h.len > STREAMREC_MAX_LEN)
			return -1;
		if (pending_len - pos - sizeof(h) < h.len)
			break;
		if (h.stream == STREAM_EXIT && h.len == sizeof(int32_t)) {
			int32_t st;

			memcpy(&st, data, sizeof(st));
			pending_len = 0;
			return st;
		}
		if (h.stream == STREAM_STDOUT && out_fd >= 0)
			write_all(out_fd, data, h.len);
		else if (h.stream == STREAM_STDERR && err_fd >= 0)
			write_all(err_fd, data, h.len);
		pos += sizeof(h) + h.len;
	}
	memmove(pending, pending + pos, pending_len - pos);
	pending_len -= pos;
	return ATTACH_MORE;
}

int attach_relay_output(int fd, int out_fd, int err_fd)
{
	int st;

	while ((st = attach_relay_output_some(fd, out_fd, err_fd)) == ATTACH_MORE)
		;
	return st;
}
