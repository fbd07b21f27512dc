// SPDX-License-Identifier: MIT
/*
 * virtio-vsock (virtio 1.x, 5.10): the device, its queues and packets, and its thread.
 * Connections and the host's sockets are in vsock_conn.c. See vsock.h for the shape and
 * docs/vsock.md for the protocol and its limits.
 *
 * Credit, both ways (5.10.6.3): the guest may have at most buf_alloc - (sent - fwd_cnt)
 * bytes in flight toward a peer. Toward the guest we read from the host socket no more
 * than its credit straight into its receive buffer; from the guest we take what it
 * sends into our buffer of VSOCK_CONN_BUF bytes (a guest that sends more is reset) and
 * advertise fwd_cnt as the host socket takes the bytes.
 */
#include "vsock_conn.h"
#include "vmm/jail.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define VIRTIO_ID_VSOCK 19
#define F_STREAM 0 /* VIRTIO_VSOCK_F_STREAM */
#define RXQ 0
#define TXQ 1
#define EVQ 2
#define EVENT_TRANSPORT_RESET 0
#define TX_BUDGET 256   /* guest packets per round before events are looked at again */

static void kick(struct vsock *v)
{
	uint64_t one = 1;

	if (v->kick_fd >= 0 && write(v->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		perror("arrowh: vsock kick");
}

/* The part of iov[0..n) from byte off on, at most max bytes, into out; entries used. */
static unsigned int iov_sub(const struct iovec *iov, unsigned int n, size_t off, size_t max,
			    struct iovec *out)
{
	unsigned int k = 0;

	for (unsigned int i = 0; i < n && max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > max)
			l = max;
		out[k].iov_base = (char *)iov[i].iov_base + off;
		out[k++].iov_len = l;
		max -= l;
		off = 0;
	}
	return k;
}

/* ---- packets from the guest ---- */

static void reset_conn(struct vsock *v, int slot, uint32_t local, uint32_t peer)
{
	if (slot >= 0)
		vconn_free(v, (unsigned int)slot, false);
	vconn_queue_rst(v, local, peer);
}

static void guest_connect(struct vsock *v, const struct vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd, slot;

	/* the guest opens these ports afresh: a reset still owed for an older connection on
	 * them would reach it after our RESPONSE's turn came, and kill the new one */
	vconn_unqueue_rst(v, h->dst_port, h->src_port);
	if (v->nr_from_guest >= v->max_from_guest || !v->connect) {
		v->stats.refused += !!v->connect;
		vconn_queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	/* fails (nothing listens there, or jailed, the broker did not answer in time): reset */
	fd = v->connect(v->connect_opaque, h->dst_port);
	if (fd < 0) {
		vconn_queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	slot = vconn_fd_low(v, fd) ? -EMFILE : vconn_new(v, fd, CONN_OPEN, h->dst_port, h->src_port);
	if (slot < 0) {
		v->stats.refused += slot == -EMFILE;
		close(fd);
		vconn_queue_rst(v, h->dst_port, h->src_port);
		return;
	}
	c = v->conns[slot];
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->want_response = true;
}

/* Whether a header can be believed at all; a bad one resets its connection. */
static bool hdr_valid(const struct vsock_hdr *h, uint32_t payload)
{
	if (h->type != VSOCK_TYPE_STREAM || h->op == VSOCK_OP_INVALID ||
	    h->op > VSOCK_OP_CREDIT_REQUEST)
		return false;
	if (h->len > payload || h->len > VSOCK_CONN_BUF)
		return false;
	return h->op == VSOCK_OP_RW || h->len == 0;
}

static void tx_packet(struct vsock *v, const struct virtq_elem *e)
{
	struct iovec pay[VIRTQ_MAX_SEGS];
	struct vsock_conn *c;
	struct vsock_hdr h;
	int slot;

	v->stats.tx_pkts++;
	if (e->out_len < VSOCK_HDR_LEN) {
		v->stats.dropped++;
		return;
	}
	iov_to_buf(e->iov, e->nr_out, &h, VSOCK_HDR_LEN);
	/* another CID is no packet of this guest's to answer: dropped (5.10.6.3) */
	if (h.src_cid != v->guest_cid || h.dst_cid != VSOCK_HOST_CID) {
		v->stats.dropped++;
		return;
	}
	slot = vconn_find(v, h.dst_port, h.src_port);
	c = slot >= 0 ? v->conns[slot] : NULL;
	if (h.op == VSOCK_OP_RST) {
		if (c)
			vconn_free(v, (unsigned int)slot, false);
		return;
	}
	if (!hdr_valid(&h, e->out_len - VSOCK_HDR_LEN)) {
		v->stats.dropped++;
		reset_conn(v, slot, h.dst_port, h.src_port);
		return;
	}
	if (!c) {
		if (h.op == VSOCK_OP_REQUEST)
			guest_connect(v, &h);
		else
			vconn_queue_rst(v, h.dst_port, h.src_port);
		return;
	}
	c->peer_buf_alloc = h.buf_alloc;
	c->peer_fwd_cnt = h.fwd_cnt;
	switch (h.op) {
	case VSOCK_OP_REQUEST: /* a second one for a live connection */
		reset_conn(v, slot, h.dst_port, h.src_port);
		break;
	case VSOCK_OP_RESPONSE:
		if (c->state != CONN_REQUESTING || c->want_request)
			reset_conn(v, slot, h.dst_port, h.src_port);
		else
			vconn_established(v, (unsigned int)slot);
		break;
	case VSOCK_OP_SHUTDOWN:
		c->peer_shut |= h.flags & (VSOCK_SHUTDOWN_RCV | VSOCK_SHUTDOWN_SEND);
		vconn_settle(v, (unsigned int)slot);
		break;
	case VSOCK_OP_RW:
		/* more than the buffer we advertised has room for: the guest broke credit */
		if (c->state != CONN_OPEN || (c->peer_shut & VSOCK_SHUTDOWN_SEND) ||
		    h.len > VSOCK_CONN_BUF - c->used) {
			reset_conn(v, slot, h.dst_port, h.src_port);
			break;
		}
		v->stats.tx_bytes += h.len;
		vconn_take(v, (unsigned int)slot, pay,
			  iov_sub(e->iov, e->nr_out, VSOCK_HDR_LEN, h.len, pay), h.len);
		break;
	case VSOCK_OP_CREDIT_UPDATE: /* the new credit was taken above */
		break;
	case VSOCK_OP_CREDIT_REQUEST:
		c->want_credit = true;
		break;
	}
}

static void tx_drain(struct vsock *v)
{
	struct virtq *q = virtio_mmio_queue(v->t, TXQ);
	struct virtq_elem *e = &v->tx_elem;
	unsigned int budget = TX_BUDGET, done = 0;
	int r = 0;

	if (!q)
		return;
	for (;;) {
		while (budget && (r = virtq_pop(q, v->t->gm, e)) == 1) {
			tx_packet(v, e);
			virtq_push(q, v->t->gm, e->head, 0);
			budget--;
			done++;
		}
		if (r < 0) {
			virtio_mmio_set_broken(v->t, "bad vsock transmit chain");
			break;
		}
		if (!budget) {
			kick(v); /* more next round: the host sockets get their turn first */
			break;
		}
		if (!virtio_mmio_rearm(v->t, q))
			break;
	}
	if (done)
		virtio_mmio_notify_used(v->t, TXQ);
}

/* ---- packets to the guest ---- */

static void hdr_init(const struct vsock *v, struct vsock_hdr *h, uint32_t local, uint32_t peer,
		     uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = VSOCK_HOST_CID;
	h->dst_cid = v->guest_cid;
	h->src_port = local;
	h->dst_port = peer;
	h->type = VSOCK_TYPE_STREAM;
	h->op = op;
	h->buf_alloc = VSOCK_CONN_BUF;
}

static bool conn_has_work(const struct vsock_conn *c)
{
	if (c->want_request || c->want_response || c->want_credit)
		return true;
	return c->state == CONN_OPEN && c->readable && !c->host_eof &&
	       !(c->peer_shut & VSOCK_SHUTDOWN_RCV) && vconn_credit(c) > 0;
}

/*
 * Fill the receive buffer e with the connection's next packet. Returns the bytes written,
 * 0 when there was nothing after all (e not used).
 */
static uint32_t conn_emit(struct vsock *v, unsigned int slot, const struct virtq_elem *e)
{
	struct vsock_conn *c = v->conns[slot];
	struct iovec iov[VIRTQ_MAX_SEGS];
	struct vsock_hdr h;
	uint32_t room = e->in_len - VSOCK_HDR_LEN, len = 0;
	uint16_t op;

	if (c->want_request) {
		op = VSOCK_OP_REQUEST;
		c->want_request = false;
	} else if (c->want_response) {
		op = VSOCK_OP_RESPONSE;
		c->want_response = false;
	} else if (c->want_credit) {
		op = VSOCK_OP_CREDIT_UPDATE;
		c->want_credit = false;
	} else {
		ssize_t n;

		if (room > vconn_credit(c))
			room = vconn_credit(c);
		do
			n = readv(c->fd, iov, (int)iov_sub(e->iov, e->nr_in, VSOCK_HDR_LEN, room, iov));
		while (n < 0 && errno == EINTR);
		if (n < 0 && errno == EAGAIN) {
			c->readable = false;
			return 0;
		}
		if (n < 0) { /* the host peer broke the connection */
			hdr_init(v, &h, c->local, c->peer, VSOCK_OP_RST);
			vconn_free(v, slot, false);
			iov_from_buf(e->iov, e->nr_in, &h, VSOCK_HDR_LEN);
			v->stats.resets++;
			return VSOCK_HDR_LEN;
		}
		if (n == 0) { /* it sends no more; the guest may still send (half close) */
			c->host_eof = true;
			op = VSOCK_OP_SHUTDOWN;
		} else {
			op = VSOCK_OP_RW;
			len = (uint32_t)n;
			c->tx_cnt += len;
			v->stats.rx_bytes += len;
		}
	}
	hdr_init(v, &h, c->local, c->peer, op);
	h.len = len;
	h.fwd_cnt = c->fwd_cnt;
	c->fwd_cnt_sent = c->fwd_cnt;
	if (op == VSOCK_OP_SHUTDOWN)
		h.flags = VSOCK_SHUTDOWN_SEND;
	iov_from_buf(e->iov, e->nr_in, &h, VSOCK_HDR_LEN);
	return VSOCK_HDR_LEN + len;
}

/* The next connection with something for the guest, round-robin; -1 if none. */
static int next_busy(struct vsock *v)
{
	for (unsigned int i = 0; i < VSOCK_MAX_CONNS; i++) {
		unsigned int slot = (v->rr + i) % VSOCK_MAX_CONNS;

		if (v->conns[slot] && conn_has_work(v->conns[slot]))
			return (int)slot;
	}
	return -1;
}

/* A receive buffer from the guest: 1, 0 none (kicks asked for), -1 the queue broke. */
static int rx_take(struct vsock *v, struct virtq *q, struct virtq_elem *e)
{
	int r = virtq_pop(q, v->t->gm, e);

	if (r == 0) {
		virtio_mmio_set_notify(v->t, q, true);
		if (!virtq_has_avail(q, v->t->gm))
			return 0;
		virtio_mmio_set_notify(v->t, q, false);
		r = virtq_pop(q, v->t->gm, e);
	}
	/* a buffer with no room after the header could carry no data: refused, so that a read
	 * of zero bytes into it always means the host peer's end of file */
	if (r < 0 || (r == 1 && (e->nr_out || e->in_len <= VSOCK_HDR_LEN))) {
		virtio_mmio_set_broken(v->t, r < 0 ? "bad vsock receive chain"
					       : "vsock receive buffer not writable or too short");
		return -1;
	}
	return r;
}

static void rx_pump(struct vsock *v)
{
	struct virtq *q = virtio_mmio_queue(v->t, RXQ);
	struct virtq_elem *e = &v->rx_elem;
	unsigned int sent = 0;

	if (!q)
		return;
	for (;;) {
		struct vsock_hdr h;
		uint32_t len;
		int slot = -1;

		if (!v->nr_rst && (slot = next_busy(v)) < 0)
			break;
		if (rx_take(v, q, e) <= 0)
			break;
		if (slot < 0) {
			hdr_init(v, &h, v->rst[0].local, v->rst[0].peer, VSOCK_OP_RST);
			h.buf_alloc = 0;
			memmove(v->rst, v->rst + 1, --v->nr_rst * sizeof(v->rst[0]));
			iov_from_buf(e->iov, e->nr_in, &h, VSOCK_HDR_LEN);
			v->stats.resets++;
			len = VSOCK_HDR_LEN;
		} else {
			v->rr = (unsigned int)slot + 1;
			len = conn_emit(v, (unsigned int)slot, e);
			if (!len) {
				q->last_avail--; /* nothing to read after all: the buffer stays the guest's */
				continue;
			}
		}
		virtq_push(q, v->t->gm, e->head, len);
		v->stats.rx_pkts++;
		sent++;
	}
	if (sent)
		virtio_mmio_notify_used(v->t, RXQ);
}

static void event_pump(struct vsock *v)
{
	struct virtq *q = virtio_mmio_queue(v->t, EVQ);
	struct virtq_elem *e = &v->rx_elem;
	uint32_t id = EVENT_TRANSPORT_RESET;
	int r;

	if (!v->reset_event || !q)
		return;
	r = virtq_pop(q, v->t->gm, e);
	if (r == 0) {
		virtio_mmio_set_notify(v->t, q, true); /* its kick brings us back */
		return;
	}
	if (r < 0 || e->nr_out || e->in_len < sizeof(id)) {
		virtio_mmio_set_broken(v->t, "bad vsock event buffer");
		return;
	}
	iov_from_buf(e->iov, e->nr_in, &id, sizeof(id));
	virtq_push(q, v->t->gm, e->head, sizeof(id));
	virtio_mmio_notify_used(v->t, EVQ);
	v->reset_event = false;
}

static bool vsock_poll_stop(struct vsock *v, int timeout_ms)
{
	struct epoll_event evs[64];
	bool stop = false;
	uint64_t next;
	int n;

	pthread_mutex_lock(&v->t->lock);
	next = vconn_expire(v);
	pthread_mutex_unlock(&v->t->lock);
	if (next) {
		uint64_t now = vconn_now_ns();
		int ms = next > now ? (int)((next - now) / 1000000 + 1) : 0;

		if (timeout_ms < 0 || ms < timeout_ms)
			timeout_ms = ms;
	}
	n = epoll_wait(v->ep, evs, 64, timeout_ms);
	if (n < 0 && errno != EINTR)
		perror("arrowh: vsock epoll_wait");
	pthread_mutex_lock(&v->t->lock);
	for (int i = 0; i < n; i++) {
		uint64_t d = evs[i].data.u64, val;

		if (d == EV_STOP)
			stop = true;
		else if (d == EV_KICK && read(v->kick_fd, &val, sizeof(val)) < 0 && errno != EAGAIN)
			perror("arrowh: vsock kick");
		else if (d == EV_LISTEN)
			vconn_accept(v);
		else if (d & EV_CONN)
			vconn_event(v, d, evs[i].events);
	}
	vconn_expire(v);
	tx_drain(v);
	event_pump(v);
	rx_pump(v);
	pthread_mutex_unlock(&v->t->lock);
	return stop;
}

void vsock_poll(struct vsock *v, int timeout_ms)
{
	vsock_poll_stop(v, timeout_ms);
}

/* ---- the device ---- */

static uint64_t vsock_features(void *dev)
{
	(void)dev;
	return 1ull << F_STREAM;
}

/* struct virtio_vsock_config: le64 guest_cid */
static void vsock_config_read(void *dev, uint32_t offset, void *data, uint32_t len)
{
	struct vsock *v = dev;

	memset(data, 0, len);
	if (offset < sizeof(v->guest_cid) && len <= sizeof(v->guest_cid) - offset)
		memcpy(data, (uint8_t *)&v->guest_cid + offset, len);
}

static void vsock_queue_notify(void *dev, struct virtio_mmio *t, unsigned int idx)
{
	struct virtq *q = virtio_mmio_queue(t, idx);

	/* the device thread drains it and asks for kicks again (virtio_mmio_rearm) */
	if (q && idx == TXQ)
		virtio_mmio_set_notify(t, q, false);
	kick(dev);
}

static void vsock_activate(void *dev, struct virtio_mmio *t)
{
	(void)t;
	kick(dev);
}

/* vCPU thread, lock held: every connection goes (their sockets close; no epoll call here,
 * a vCPU thread may not make one, and closing leaves the epoll set anyway). */
static void vsock_reset(void *dev)
{
	struct vsock *v = dev;

	vconn_close_all(v);
	v->reset_event = false;
}

const struct virtio_device_ops vsock_ops = {
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = 3,
	.features = vsock_features,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.activate = vsock_activate,
	.reset = vsock_reset,
};

void vsock_transport_reset(struct vsock *v)
{
	pthread_mutex_lock(&v->t->lock);
	vconn_close_all(v);
	v->reset_event = true;
	pthread_mutex_unlock(&v->t->lock);
	kick(v);
}

void vsock_report(struct vsock *v, FILE *out)
{
	pthread_mutex_lock(&v->t->lock);
	fprintf(out,
		"arrowh: vsock: %u connections; to the guest %llu packets %llu bytes, from it %llu "
		"packets %llu bytes, %llu dropped, %llu resets, %llu refused (cap or descriptors)\n",
		v->nr_conns, (unsigned long long)v->stats.rx_pkts,
		(unsigned long long)v->stats.rx_bytes, (unsigned long long)v->stats.tx_pkts,
		(unsigned long long)v->stats.tx_bytes, (unsigned long long)v->stats.dropped,
		(unsigned long long)v->stats.resets, (unsigned long long)v->stats.refused);
	pthread_mutex_unlock(&v->t->lock);
}

int vsock_init(struct vsock *v, struct virtio_mmio *t, uint64_t guest_cid, int listen_fd,
	       vsock_connect_fn connect, void *opaque)
{
	struct epoll_event ev;
	struct rlimit rl;

	memset(v, 0, sizeof(*v));
	v->t = t;
	v->guest_cid = guest_cid;
	v->listen_fd = listen_fd;
	v->connect = connect;
	v->connect_opaque = opaque;
	v->next_host_port = VSOCK_HOST_PORT_BASE;
	/* set-up raised it already (fdlimit_raise): what the headroom is measured against */
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		rl.rlim_cur = 1024;
	v->fd_limit = rl.rlim_cur > UINT_MAX ? UINT_MAX : (unsigned int)rl.rlim_cur;
	vsock_set_fd_budget(v, VSOCK_MAX_CONNS);
	v->ep = epoll_create1(EPOLL_CLOEXEC);
	v->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->ep < 0 || v->kick_fd < 0 || v->stop_fd < 0)
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_KICK };
	if (epoll_ctl(v->ep, EPOLL_CTL_ADD, v->kick_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_STOP };
	if (epoll_ctl(v->ep, EPOLL_CTL_ADD, v->stop_fd, &ev))
		return -errno;
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u64 = EV_LISTEN };
	if (listen_fd >= 0 && epoll_ctl(v->ep, EPOLL_CTL_ADD, listen_fd, &ev))
		return -errno;
	return 0;
}

void vsock_set_fd_budget(struct vsock *v, unsigned int fds)
{
	unsigned int n = fds < VSOCK_MAX_CONNS ? fds : VSOCK_MAX_CONNS;

	/* a guest holding all of its share still leaves host clients (arrow exec) theirs */
	v->max_from_host = n * VSOCK_MAX_HOST_CONNS / VSOCK_MAX_CONNS;
	v->max_from_guest = n - v->max_from_host;
}

static void *vsock_thread(void *arg)
{
	struct vsock *v = arg;

	seccomp_install_thread(JAIL_THREAD_VSOCK); /* a narrower filter when jailed */

	while (!vsock_poll_stop(v, -1))
		;
	return NULL;
}

int vsock_start(struct vsock *v)
{
	int ret = pthread_create(&v->thread, NULL, vsock_thread, v);

	if (ret)
		return -ret;
	v->thread_started = true;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void vsock_stop(struct vsock *v)
{
	uint64_t one = 1;

	if (v->thread_started) {
		if (write(v->stop_fd, &one, sizeof(one)) < 0)
			perror("arrowh: vsock stop");
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
	if (v->t) {
		pthread_mutex_lock(&v->t->lock);
		vconn_close_all(v);
		pthread_mutex_unlock(&v->t->lock);
	}
	close_fd(&v->listen_fd);
	close_fd(&v->ep);
	close_fd(&v->kick_fd);
	close_fd(&v->stop_fd);
}
