// SPDX-License-Identifier: MIT
#include "net.h"
#include "vmm/jail.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define VIRTIO_ID_NET 1

/* Feature bits (virtio 1.x, 5.1.3). */
#define F_CSUM 0
#define F_GUEST_CSUM 1
#define F_MAC 5
#define F_GUEST_TSO4 7
#define F_GUEST_TSO6 8
#define F_GUEST_ECN 9
#define F_HOST_TSO4 11
#define F_HOST_TSO6 12
#define F_HOST_ECN 13
#define F_MRG_RXBUF 15

#define RXQ VNET_RXQ
#define TXQ VNET_TXQ
#define RX_BUDGET 256 /* frames per pump before the thread looks at its events again */

enum { EV_TAP = 1, EV_KICK, EV_TX_KICK, EV_STOP };

#define BIT(f) (1ull << (f))

static bool negotiated(const struct vnet *n, unsigned int f)
{
	return n->t->s.driver_features & BIT(f);
}

int vnet_tap_prepare(int fd)
{
	struct ifreq ifr;
	int hdr = VNET_HDR_LEN;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return -ENOTTY;
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_NO_PI))
		return -ENOTTY;
	if (!(ifr.ifr_flags & IFF_VNET_HDR))
		return -EPROTO;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		return -errno;
	return 0;
}

int vnet_tap_open(const char *name)
{
	struct ifreq ifr;
	int fd, ret;

	if (strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

static void set_offloads(struct vnet *n, bool on)
{
	unsigned int off = 0;

	if (!n->tap_is_tun)
		return;
	if (on && negotiated(n, F_GUEST_CSUM)) {
		off |= TUN_F_CSUM;
		if (negotiated(n, F_GUEST_TSO4))
			off |= TUN_F_TSO4;
		if (negotiated(n, F_GUEST_TSO6))
			off |= TUN_F_TSO6;
		if (negotiated(n, F_GUEST_ECN) && (off & (TUN_F_TSO4 | TUN_F_TSO6)))
			off |= TUN_F_TSO_ECN;
	}
	if (ioctl(n->tap_fd, TUNSETOFFLOAD, off) < 0)
		perror("arrowh: tap offloads");
}

static void kick(struct vnet *n)
{
	uint64_t one = 1;

	if (n->kick_fd >= 0 && write(n->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("arrowh: net kick");
}

static void tap_poll(struct vnet *n, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.u64 = EV_TAP };

	if (n->tap_polled == on || n->ep < 0)
		return;
	if (epoll_ctl(n->ep, EPOLL_CTL_MOD, n->tap_fd, &ev) == 0)
		n->tap_polled = on;
}

/*
 * Hand the pending frame to the guest. Lock held. 1: delivered; 0: not enough
 * receive buffers (nothing consumed); -1: the frame was dropped.
 */
static int deliver(struct vnet *n)
{
	struct virtq *q = virtio_mmio_queue(n->t, RXQ);
	const struct guest_mem *gm = n->t->gm;
	unsigned int max = negotiated(n, F_MRG_RXBUF) ? VNET_RX_CHAINS_MAX : 1;
	unsigned int k = 0;
	uint64_t room = 0;
	uint32_t off = 0;
	uint16_t saved, count;

	if (!q)
		return -1;
	saved = q->last_avail;
	while (room < n->pending_len) {
		struct virtq_elem *e = &n->chains[k];
		int r;

		if (k == max || k == q->num) {
			/* Buffers too small for this frame: keep them for the next one. */
			q->last_avail = saved;
			return -1;
		}
		r = virtq_pop(q, gm, e);
		if (r == 0) {
			q->last_avail = saved;
			return 0;
		}
		if (r < 0 || e->nr_out || (k == 0 && e->in_len < VNET_HDR_LEN)) {
			q->last_avail = saved;
			virtio_mmio_set_broken(n->t, r < 0 ? "bad receive chain"
							   : "receive buffer not writable or too short");
			return -1;
		}
		room += e->in_len;
		k++;
	}
	count = (uint16_t)k;
	memcpy(n->frame + 10, &count, sizeof(count)); /* num_buffers, little-endian */
	for (unsigned int i = 0; i < k; i++) {
		struct virtq_elem *e = &n->chains[i];
		size_t c = iov_from_buf(e->iov, e->nr_in, n->frame + off, n->pending_len - off);

		virtq_push(q, gm, e->head, (uint32_t)c);
		off += (uint32_t)c;
	}
	n->stats.rx_frames++;
	n->stats.rx_bytes += n->pending_len - VNET_HDR_LEN;
	return 1;
}

/* Read the next frame into n->frame. 1: got one; 0: the tap is empty; -1: tap error. */
static int read_frame(struct vnet *n)
{
	if (n->stream)
		return vnet_stream_read_frame(n);
	for (;;) {
		ssize_t r = read(n->tap_fd, n->frame, sizeof(n->frame));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return 0;
		if (r < 0 && (errno == EFAULT || errno == EINVAL || errno == EMSGSIZE)) {
			n->stats.rx_dropped++; /* one frame we could not take: drop it, go on */
			continue;
		}
		if (r < 0) {
			perror("arrowh: reading the tap");
			return -1;
		}
		if (r < VNET_HDR_LEN) {
			n->stats.rx_dropped++;
			continue;
		}
		n->pending_len = (uint32_t)r;
		return 1;
	}
}

unsigned int vnet_rx_pump(struct vnet *n)
{
	unsigned int delivered = 0;
	int budget;

	for (budget = RX_BUDGET; budget > 0; budget--) {
		int r;

		if (!n->pending_len) {
			bool live;

			pthread_mutex_lock(&n->t->lock);
			live = virtio_mmio_queue(n->t, RXQ) != NULL;
			pthread_mutex_unlock(&n->t->lock);
			if (!live) {
				tap_poll(n, false); /* the activate or reset kick wakes us */
				break;
			}
			r = read_frame(n);
			if (r <= 0) {
				tap_poll(n, r == 0);
				break;
			}
		}
		pthread_mutex_lock(&n->t->lock);
		r = deliver(n);
		if (r == 0) {
			/* No room: ask for a kick, unless buffers arrived meanwhile. */
			struct virtq *q = virtio_mmio_queue(n->t, RXQ);

			if (q) {
				virtio_mmio_set_notify(n->t, q, true);
				if (virtq_has_avail(q, n->t->gm)) {
					virtio_mmio_set_notify(n->t, q, false);
					pthread_mutex_unlock(&n->t->lock);
					continue;
				}
			}
			pthread_mutex_unlock(&n->t->lock);
			tap_poll(n, false);
			break;
		}
		if (r < 0)
			n->stats.rx_dropped++;
		else
			delivered++;
		n->pending_len = 0;
		pthread_mutex_unlock(&n->t->lock);
	}
	/*
	 * Out of budget with frames still coming: the tap must be polled again, or a
	 * pump that resumed after a wait for room (tap not polled) would sleep forever.
	 */
	if (!budget)
		tap_poll(n, true);
	if (delivered) {
		pthread_mutex_lock(&n->t->lock);
		virtio_mmio_notify_used(n->t, RXQ);
		pthread_mutex_unlock(&n->t->lock);
	}
	return delivered;
}

void vnet_report(struct vnet *n, FILE *out)
{
	pthread_mutex_lock(&n->t->lock);
	fprintf(out,
		"arrowh: net: rx %llu frames %llu bytes %llu dropped, tx %llu frames %llu bytes "
		"%llu dropped; %s, tap %s\n",
		(unsigned long long)n->stats.rx_frames, (unsigned long long)n->stats.rx_bytes,
		(unsigned long long)n->stats.rx_dropped, (unsigned long long)n->stats.tx_frames,
		(unsigned long long)n->stats.tx_bytes, (unsigned long long)n->stats.tx_dropped,
		n->pending_len ? "a frame waits for receive buffers" : "no frame waiting",
		n->tap_polled ? "polled" : "not polled");
	pthread_mutex_unlock(&n->t->lock);
}

/* Device thread (or a vCPU thread without ioeventfds), lock held: send what the guest queued. */
static void transmit(struct vnet *n, struct virtq *q)
{
	const struct guest_mem *gm = n->t->gm;
	struct virtq_elem *e = &n->chains[0];
	unsigned int sent = 0;
	int r;

	/* chains[] is shared with receive; receive uses it only under the lock too. */
	for (;;) {
		virtio_mmio_set_notify(n->t, q, false);
		while ((r = virtq_pop(q, gm, e)) == 1) {
			ssize_t w = -1;

			if (e->out_len >= VNET_HDR_LEN && e->out_len <= VNET_HDR_LEN + VNET_FRAME_MAX &&
			    n->stream) {
				w = vnet_stream_send(n, e->iov, e->nr_out, e->out_len);
			} else if (e->out_len >= VNET_HDR_LEN &&
				   e->out_len <= VNET_HDR_LEN + VNET_FRAME_MAX) {
				do
					w = writev(n->tap_fd, e->iov, (int)e->nr_out);
				while (w < 0 && errno == EINTR);
			}
			if (w < 0) {
				n->stats.tx_dropped++; /* malformed, or the tap refused it */
			} else {
				n->stats.tx_frames++;
				n->stats.tx_bytes += e->out_len - VNET_HDR_LEN;
			}
			virtq_push(q, gm, e->head, 0);
			sent++;
		}
		if (r < 0) {
			virtio_mmio_set_broken(n->t, "bad transmit chain");
			break;
		}
		virtio_mmio_set_notify(n->t, q, true);
		if (!virtq_has_avail(q, gm))
			break;
	}
	if (sent)
		virtio_mmio_notify_used(n->t, TXQ);
}

void vnet_tx_kicked(struct vnet *n)
{
	struct virtq *q;
	uint64_t v;

	if (read(n->tx_kick_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		perror("arrowh: net transmit kick");
	pthread_mutex_lock(&n->t->lock);
	q = virtio_mmio_queue(n->t, TXQ);
	if (q)
		transmit(n, q);
	pthread_mutex_unlock(&n->t->lock);
}

static void vnet_queue_notify(void *dev, struct virtio_mmio *t, unsigned int idx)
{
	struct vnet *n = dev;
	struct virtq *q = virtio_mmio_queue(t, idx);

	if (!q)
		return;
	if (idx == TXQ) {
		transmit(n, q);
	} else {
		virtio_mmio_set_notify(t, q, false); /* the receive thread asks again when it waits */
		kick(n);
	}
}

static uint64_t vnet_features(void *dev)
{
	const struct vnet *n = dev;

	if (n->stream) /* no offloads: passt takes whole frames with their checksums */
		return BIT(F_MAC) | BIT(F_MRG_RXBUF);
	return BIT(F_CSUM) | BIT(F_GUEST_CSUM) | BIT(F_MAC) | BIT(F_GUEST_TSO4) |
	       BIT(F_GUEST_TSO6) | BIT(F_GUEST_ECN) | BIT(F_HOST_TSO4) | BIT(F_HOST_TSO6) |
	       BIT(F_HOST_ECN) | BIT(F_MRG_RXBUF);
}

static void vnet_config_read(void *dev, uint32_t offset, void *data, uint32_t len)
{
	struct vnet *n = dev;

	/* struct virtio_net_config: mac[6], then fields for features we do not offer */
	memset(data, 0, len);
	if (offset < sizeof(n->mac) && len <= sizeof(n->mac) - offset)
		memcpy(data, n->mac + offset, len);
}

static void vnet_activate(void *dev, struct virtio_mmio *t)
{
	struct vnet *n = dev;
	struct virtq *rx = virtio_mmio_queue(t, RXQ);

	if (rx)
		virtio_mmio_set_notify(t, rx, false);
	set_offloads(n, true);
	kick(n);
}

static void vnet_reset(void *dev)
{
	struct vnet *n = dev;

	/* A frame already read stays with the receive thread (its owner) for the next driver. */
	set_offloads(n, false);
	kick(n);
}

const struct virtio_device_ops vnet_ops = {
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.features = vnet_features,
	.config_read = vnet_config_read,
	.queue_notify = vnet_queue_notify,
	.activate = vnet_activate,
	.reset = vnet_reset,
};

int vnet_init(struct vnet *n, struct virtio_mmio *t, int tap_fd, const uint8_t mac[6])
{
	struct ifreq ifr;
	struct epoll_event ev;
	int fl = fcntl(tap_fd, F_GETFL);

	/*
	 * frame[] and chains[] (128 KiB) are scratch space, valid only through pending_len and
	 * the chains popped under the lock: left untouched, they cost the host nothing until
	 * the NIC first carries traffic (every idle clone would hold them otherwise).
	 */
	memset(n, 0, offsetof(struct vnet, frame));
	n->version = VNET_STATE_VERSION;
	n->t = t;
	n->tap_fd = tap_fd;
	n->ep = n->kick_fd = n->tx_kick_fd = n->stop_fd = -1;
	memcpy(n->mac, mac, 6);
	n->tap_is_tun = ioctl(tap_fd, TUNGETIFF, &ifr) == 0;
	if (fl < 0 || fcntl(tap_fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	n->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->tx_kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	n->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (n->ep < 0 || n->kick_fd < 0 || n->tx_kick_fd < 0 || n->stop_fd < 0)
		return -errno;
	ev = (struct epoll_event){ .events = 0, .data.u64 = EV_TAP };
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, tap_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_KICK };
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->kick_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_TX_KICK };
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->tx_kick_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_STOP };
	if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->stop_fd, &ev))
		return -errno;
	set_offloads(n, false);
	return 0;
}

static void *rx_thread(void *arg)
{
	struct vnet *n = arg;

	seccomp_install_thread(JAIL_THREAD_NET_RX); /* a narrower filter when jailed */

	for (;;) {
		struct epoll_event evs[4];
		int nev = epoll_wait(n->ep, evs, 4, -1);
		uint64_t v;

		if (nev < 0 && errno != EINTR) {
			perror("arrowh: net epoll_wait");
			return NULL;
		}
		for (int i = 0; i < nev; i++) {
			if (evs[i].data.u64 == EV_STOP)
				return NULL;
			if (evs[i].data.u64 == EV_KICK && read(n->kick_fd, &v, sizeof(v)) < 0 &&
			    errno != EAGAIN)
				perror("arrowh: net kick");
			if (evs[i].data.u64 == EV_TX_KICK)
				vnet_tx_kicked(n);
		}
		vnet_rx_pump(n);
	}
}

int vnet_start(struct vnet *n)
{
	int ret = pthread_create(&n->thread, NULL, rx_thread, n);

	if (ret)
		return -ret;
	n->thread_started = true;
	return 0;
}

void vnet_stop(struct vnet *n)
{
	uint64_t one = 1;

	if (n->thread_started) {
		if (write(n->stop_fd, &one, sizeof(one)) < 0)
			perror("arrowh: net stop");
		pthread_join(n->thread, NULL);
		n->thread_started = false;
	}
	if (n->ep >= 0)
		close(n->ep);
	if (n->kick_fd >= 0)
		close(n->kick_fd);
	if (n->stop_fd >= 0)
		close(n->stop_fd);
	if (n->tx_kick_fd >= 0)
		close(n->tx_kick_fd);
	n->ep = n->kick_fd = n->tx_kick_fd = n->stop_fd = -1;
}
