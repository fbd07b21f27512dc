// SPDX-License-Identifier: MIT
/*
 * virtio-net's stream backend: a connected unix stream socket speaking passt's
 * qemu protocol (docs/rootless.md). Each frame on the wire is a 4-byte
 * big-endian length followed by the Ethernet frame; there is no
 * virtio_net_hdr, so the device offers no offloads and the guest sends whole
 * frames with their checksums.
 *
 * The peer is trusted a little (passt, started by `arrow run` as the same user)
 * but not with arrowh's memory: a length is bounded by VNET_FRAME_MAX before a
 * byte of the frame is read (a longer or empty frame is read and thrown away),
 * frames are reassembled across partial reads, and a peer that closes mid-frame
 * loses that frame. A peer that stops reading cannot hold a vCPU for long:
 * transmit waits a bounded time for room, then drops the frame, or (mid-frame,
 * when the stream could only be resumed by blocking) gives up the connection.
 */
#include "net.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HDR_F_NEEDS_CSUM 1 /* virtio_net_hdr.flags */
#define WAIT_START_MS 100  /* a full socket before a frame's first byte: wait, then drop it */
#define WAIT_FRAME_MS 5000 /* a frame begun must end: waits for it, then the link is cut */

int vnet_init_stream(struct vnet *n, struct virtio_mmio *t, int fd, const uint8_t mac[6])
{
	int type = 0, domain = 0, ret;
	socklen_t l = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0)
		return errno == ENOTSOCK ? -ENOTSOCK : -errno;
	l = sizeof(domain);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &l) < 0)
		return -errno;
	if (type != SOCK_STREAM || domain != AF_UNIX)
		return -EPROTOTYPE;
	ret = vnet_init(n, t, fd, mac);
	if (ret)
		return ret;
	n->stream = true;
	/* room for a few 64 KiB frames before transmit has to wait (capped by wmem_max) */
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &(int){ 1 << 20 }, sizeof(int));
	return 0;
}

static void stream_closed(struct vnet *n, const char *why)
{
	struct vnet_stream_state *s = &n->srx;

	if (s->closed)
		return;
	s->closed = true;
	if (s->len_got || s->frame_len || s->skip)
		n->stats.rx_dropped++; /* the frame it was in the middle of */
	fprintf(stderr, "arrowh: net: %s; the Arrow's network is gone\n", why);
}

/*
 * One read of at most len bytes. >0: bytes read; 0: nothing now (EAGAIN);
 * -1: end of stream or error (the stream is closed from then on).
 */
static ssize_t stream_read(struct vnet *n, void *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(n->tap_fd, buf, len);

		if (r > 0)
			return r;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r == 0)
			stream_closed(n, "the network peer (passt) closed its socket");
		else
			stream_closed(n, strerror(errno));
		return -1;
	}
}

int vnet_stream_read_frame(struct vnet *n)
{
	struct vnet_stream_state *s = &n->srx;

	while (!s->closed) {
		ssize_t r;

		if (s->skip) { /* frame[] is free: nothing is pending while we read */
			r = stream_read(n, n->frame,
					s->skip < sizeof(n->frame) ? s->skip : sizeof(n->frame));
			if (r <= 0)
				return (int)r;
			s->skip -= (uint32_t)r;
			continue;
		}
		if (s->len_got < sizeof(s->len_buf)) {
			uint32_t len;

			r = stream_read(n, s->len_buf + s->len_got, sizeof(s->len_buf) - s->len_got);
			if (r <= 0)
				return (int)r;
			s->len_got += (uint32_t)r;
			if (s->len_got < sizeof(s->len_buf))
				continue;
			len = (uint32_t)s->len_buf[0] << 24 | (uint32_t)s->len_buf[1] << 16 |
			      (uint32_t)s->len_buf[2] << 8 | s->len_buf[3];
			s->len_got = 0;
			if (len == 0 || len > VNET_FRAME_MAX) {
				n->stats.rx_dropped++; /* read past it without keeping it */
				s->skip = len;
				continue;
			}
			s->len_got = sizeof(s->len_buf);
			s->frame_len = len;
			s->frame_got = 0;
		}
		r = stream_read(n, n->frame + VNET_HDR_LEN + s->frame_got, s->frame_len - s->frame_got);
		if (r <= 0)
			return (int)r;
		s->frame_got += (uint32_t)r;
		if (s->frame_got < s->frame_len)
			continue;
		/* whole: a zero header (no checksum to finish, no GSO); deliver() sets num_buffers */
		memset(n->frame, 0, VNET_HDR_LEN);
		n->pending_len = VNET_HDR_LEN + s->frame_len;
		s->len_got = s->frame_len = s->frame_got = 0;
		return 1;
	}
	return -1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Give up the connection from the transmit side (lock held): passt sees it close and
 * ends; the receive thread then reads the end of the stream and closes its side.
 */
static void stream_cut(struct vnet *n, const char *why)
{
	n->srx.tx_cut = true;
	shutdown(n->tap_fd, SHUT_RDWR);
	fprintf(stderr, "arrowh: net: %s; the Arrow's network is gone\n", why);
}

ssize_t vnet_stream_send(struct vnet *n, const struct iovec *iov, unsigned int nr, uint32_t len)
{
	struct iovec v[VIRTQ_MAX_SEGS + 1];
	uint8_t prefix[4], hdr[VNET_HDR_LEN];
	uint32_t flen = len - VNET_HDR_LEN, skip = VNET_HDR_LEN;
	unsigned int k = 1, first = 0;
	uint64_t start = 0;
	size_t left = sizeof(prefix) + flen;

	if (n->srx.tx_cut || len < VNET_HDR_LEN || flen == 0 || nr > VIRTQ_MAX_SEGS)
		return -1;
	/* a frame that asks for a checksum or segmentation we do not do (offloads not offered) */
	if (iov_to_buf(iov, nr, hdr, sizeof(hdr)) != sizeof(hdr) || (hdr[0] & HDR_F_NEEDS_CSUM) ||
	    hdr[1] != 0)
		return -1;
	prefix[0] = (uint8_t)(flen >> 24);
	prefix[1] = (uint8_t)(flen >> 16);
	prefix[2] = (uint8_t)(flen >> 8);
	prefix[3] = (uint8_t)flen;
	v[0] = (struct iovec){ prefix, sizeof(prefix) };
	for (unsigned int i = 0; i < nr; i++) { /* the guest's segments without the header */
		if (iov[i].iov_len <= skip) {
			skip -= (uint32_t)iov[i].iov_len;
			continue;
		}
		v[k++] = (struct iovec){ (uint8_t *)iov[i].iov_base + skip, iov[i].iov_len - skip };
		skip = 0;
	}
	while (left) {
		struct msghdr msg = { .msg_iov = v + first, .msg_iovlen = k - first };
		ssize_t w = sendmsg(n->tap_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			bool begun = left < sizeof(prefix) + flen;
			uint64_t limit = begun ? WAIT_FRAME_MS : WAIT_START_MS, t = now_ms();
			struct pollfd p = { .fd = n->tap_fd, .events = POLLOUT };

			if (!start)
				start = t;
			if (t - start >= limit) {
				if (!begun)
					return -1; /* nothing of it went out: a dropped frame, TCP resends */
				stream_cut(n, "the network peer (passt) stopped reading mid-frame");
				return -1;
			}
			poll(&p, 1, (int)(limit - (t - start)));
			continue;
		}
		if (w < 0) {
			stream_cut(n, strerror(errno));
			return -1;
		}
		left -= (size_t)w;
		while (w > 0) { /* step over what went out */
			if ((size_t)w >= v[first].iov_len) {
				w -= (ssize_t)v[first].iov_len;
				first++;
			} else {
				v[first].iov_base = (uint8_t *)v[first].iov_base + w;
				v[first].iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
	return (ssize_t)flen;
}
