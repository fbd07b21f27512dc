// SPDX-License-Identifier: MIT
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_CONSOLE_F_SIZE 0
#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* Control events (virtio 1.x, 5.3.6.2). */
#define CTL_DEVICE_READY 0
#define CTL_DEVICE_ADD 1
#define CTL_PORT_READY 3
#define CTL_CONSOLE_PORT 4
#define CTL_RESIZE 5
#define CTL_PORT_OPEN 6
#define CTL_PORT_NAME 7

#define Q_CTRL_RX 2
#define Q_CTRL_TX 3

struct ctl_hdr {
	uint32_t id;
	uint16_t event;
	uint16_t value;
};

static unsigned int port_rxq(unsigned int port)
{
	return port == 0 ? 0 : 2 * port + 2;
}

/*
 * Receive queues do not need a kick per posted buffer (the driver posts them
 * one by one: hundreds of exits at boot). Kicks are wanted only while the host
 * waits for room on that queue.
 */
static void rxq_want_kicks(struct vconsole *c, unsigned int idx, bool want)
{
	struct virtq *q = virtio_mmio_queue(c->t, idx);

	if (q)
		virtio_mmio_set_notify(c->t, q, want);
}

/* Lock held: nothing to send, or room appeared after kicks were turned back on? */
static bool rxq_wait_for_room(struct vconsole *c, unsigned int idx)
{
	struct virtq *q = virtio_mmio_queue(c->t, idx);

	if (!q)
		return false;
	virtio_mmio_set_notify(c->t, q, true);
	if (!virtq_has_avail(q, c->t->gm))
		return false;
	virtio_mmio_set_notify(c->t, q, false);
	return true;
}

void vconsole_init(struct vconsole *c, struct virtio_mmio *t, int wake_fd)
{
	memset(c, 0, sizeof(*c));
	c->version = VCONSOLE_STATE_VERSION;
	c->t = t;
	c->wake_fd = wake_fd;
}

int vconsole_add_port(struct vconsole *c, const char *name, bool is_console, vcon_sink_fn *sink,
		      void *opaque)
{
	struct vcon_port *p;

	if (c->nr_ports >= VCON_MAX_PORTS || strlen(name) >= VCON_NAME_MAX)
		return -ENOSPC;
	p = &c->ports[c->nr_ports];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->is_console = is_console;
	p->host_connected = 1;
	p->sink = sink;
	p->sink_opaque = opaque;
	return (int)c->nr_ports++;
}

void vconsole_save(struct vconsole *c, struct vconsole_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = c->version;
	st->nr_ports = c->nr_ports;
	st->device_ready = c->device_ready;
	st->ctrl_count = c->ctrl_count;
	memcpy(st->ctrl, c->ctrl, sizeof(st->ctrl));
	for (unsigned int i = 0; i < c->nr_ports; i++) {
		const struct vcon_port *p = &c->ports[i];
		struct vcon_port_state *ps = &st->ports[i];

		memcpy(ps->name, p->name, sizeof(ps->name));
		ps->is_console = p->is_console;
		ps->host_connected = p->host_connected;
		ps->guest_connected = p->guest_connected;
		ps->ready = p->ready;
		ps->close_when_flushed = p->close_when_flushed;
		ps->rows = p->rows;
		ps->cols = p->cols;
		ps->pending_len = p->pending_len;
		memcpy(ps->pending, p->pending, p->pending_len);
	}
}

int vconsole_restore(struct vconsole *c, const struct vconsole_state *st)
{
	_Static_assert(sizeof(st->ctrl) == sizeof(c->ctrl), "control queue layout");
	if (st->version != VCONSOLE_STATE_VERSION || st->nr_ports != c->nr_ports ||
	    st->ctrl_count > sizeof(st->ctrl) / sizeof(st->ctrl[0]))
		return -EINVAL;
	for (unsigned int i = 0; i < c->nr_ports; i++) {
		const struct vcon_port_state *ps = &st->ports[i];

		if (strncmp(ps->name, c->ports[i].name, VCON_NAME_MAX) ||
		    ps->pending_len > VCON_PENDING_MAX)
			return -EINVAL;
	}
	for (unsigned int i = 0; i < st->ctrl_count; i++)
		if (st->ctrl[i].len > sizeof(st->ctrl[i].data))
			return -EINVAL;
	c->device_ready = (uint8_t)st->device_ready;
	c->ctrl_count = st->ctrl_count;
	memcpy(c->ctrl, st->ctrl, sizeof(c->ctrl));
	for (unsigned int i = 0; i < c->nr_ports; i++) {
		const struct vcon_port_state *ps = &st->ports[i];
		struct vcon_port *p = &c->ports[i];

		p->host_connected = ps->host_connected;
		p->guest_connected = ps->guest_connected;
		p->ready = ps->ready;
		p->close_when_flushed = ps->close_when_flushed;
		p->rows = ps->rows;
		p->cols = ps->cols;
		p->pending_len = ps->pending_len;
		memcpy(p->pending, ps->pending, ps->pending_len);
	}
	return 0;
}

static void wake(struct vconsole *c)
{
	uint64_t one = 1;

	if (c->wake_fd >= 0 && write(c->wake_fd, &one, sizeof(one)) < 0)
		perror("arrowh: console wake");
}

/* Hand queued control messages to the guest while it has buffers. Lock held. */
static void flush_ctrl(struct vconsole *c)
{
	struct virtq *q = virtio_mmio_queue(c->t, Q_CTRL_RX);
	struct virtq_elem e;
	unsigned int sent = 0;
	int r;

	for (;;) {
		while (q && sent < c->ctrl_count && (r = virtq_pop(q, c->t->gm, &e)) == 1) {
			size_t n = iov_from_buf(e.iov + e.nr_out, e.nr_in, c->ctrl[sent].data,
						c->ctrl[sent].len);

			virtq_push(q, c->t->gm, e.head, (uint32_t)n);
			sent++;
		}
		if (!q || sent == c->ctrl_count || q->broken || !rxq_wait_for_room(c, Q_CTRL_RX))
			break;
	}
	if (q && q->broken)
		virtio_mmio_set_broken(c->t, "bad control receive chain");
	if (sent) {
		memmove(c->ctrl, c->ctrl + sent, (c->ctrl_count - sent) * sizeof(c->ctrl[0]));
		c->ctrl_count -= sent;
		virtio_mmio_notify_used(c->t, Q_CTRL_RX);
	}
}

static void send_ctrl_data(struct vconsole *c, uint32_t id, uint16_t event, uint16_t value,
			   const void *name, size_t nlen)
{
	struct ctl_hdr h = { id, event, value };

	if (c->ctrl_count >= sizeof(c->ctrl) / sizeof(c->ctrl[0])) {
		fprintf(stderr, "arrowh: console control queue full; guest is not reading it\n");
		return;
	}
	memcpy(c->ctrl[c->ctrl_count].data, &h, sizeof(h));
	if (nlen)
		memcpy(c->ctrl[c->ctrl_count].data + sizeof(h), name, nlen);
	c->ctrl[c->ctrl_count].len = (uint32_t)(sizeof(h) + nlen);
	c->ctrl_count++;
	flush_ctrl(c);
}

static void send_ctrl(struct vconsole *c, uint32_t id, uint16_t event, uint16_t value,
		      const char *name)
{
	send_ctrl_data(c, id, event, value, name, name ? strlen(name) : 0);
}

/* Give a port's pending bytes to the guest. Lock held. */
static void flush_pending(struct vconsole *c, unsigned int port)
{
	struct vcon_port *p = &c->ports[port];
	struct virtq *q = virtio_mmio_queue(c->t, port_rxq(port));
	struct virtq_elem e;
	uint32_t done = 0;
	bool pushed = false;

	for (;;) {
		size_t n = 1;

		while (q && p->guest_connected && done < p->pending_len &&
		       virtq_pop(q, c->t->gm, &e) == 1) {
			n = iov_from_buf(e.iov + e.nr_out, e.nr_in, p->pending + done,
					 p->pending_len - done);
			virtq_push(q, c->t->gm, e.head, (uint32_t)n);
			done += (uint32_t)n;
			pushed = true;
			if (n == 0)
				break; /* a chain without room: stop rather than spin */
		}
		if (!q || n == 0 || !p->guest_connected || done == p->pending_len || q->broken ||
		    !rxq_wait_for_room(c, port_rxq(port)))
			break;
	}
	if (q && q->broken)
		virtio_mmio_set_broken(c->t, "bad receive chain");
	if (done) {
		memmove(p->pending, p->pending + done, p->pending_len - done);
		p->pending_len -= done;
	}
	if (pushed)
		virtio_mmio_notify_used(c->t, port_rxq(port));
	/* End of input goes after the last byte, never before it. */
	if (p->close_when_flushed && !p->pending_len) {
		p->close_when_flushed = 0;
		p->host_connected = 0;
		if (p->ready)
			send_ctrl(c, port, CTL_PORT_OPEN, 0, NULL);
	}
}

static void handle_ctrl_msg(struct vconsole *c, const struct ctl_hdr *h)
{
	struct vcon_port *p = h->id < c->nr_ports ? &c->ports[h->id] : NULL;

	switch (h->event) {
	case CTL_DEVICE_READY:
		if (!h->value || c->device_ready)
			break;
		c->device_ready = 1;
		for (unsigned int i = 0; i < c->nr_ports; i++)
			send_ctrl(c, i, CTL_DEVICE_ADD, 0, NULL);
		break;
	case CTL_PORT_READY:
		if (!p || !h->value || p->ready)
			break;
		p->ready = 1;
		if (p->is_console)
			send_ctrl(c, h->id, CTL_CONSOLE_PORT, 1, NULL);
		if (p->is_console && p->rows && p->cols) {
			uint16_t size[2] = { p->cols, p->rows }; /* virtio_console_resize */

			send_ctrl_data(c, h->id, CTL_RESIZE, 0, size, sizeof(size));
		}
		else
			send_ctrl(c, h->id, CTL_PORT_NAME, 0, p->name);
		if (p->host_connected)
			send_ctrl(c, h->id, CTL_PORT_OPEN, 1, NULL);
		break;
	case CTL_PORT_OPEN:
		if (!p)
			break;
		p->guest_connected = h->value ? 1 : 0;
		if (p->guest_connected)
			flush_pending(c, h->id);
		wake(c);
		break;
	default:
		break; /* unknown or host-only events from the guest are ignored */
	}
}

static void handle_ctrl_tx(struct vconsole *c, struct virtq *q)
{
	struct virtq_elem e;
	struct ctl_hdr h;
	int r;

	do {
		while ((r = virtq_pop(q, c->t->gm, &e)) == 1) {
			if (iov_to_buf(e.iov, e.nr_out, &h, sizeof(h)) == sizeof(h))
				handle_ctrl_msg(c, &h);
			virtq_push(q, c->t->gm, e.head, 0);
		}
	} while (r == 0 && virtio_mmio_rearm(c->t, q));
	if (r < 0)
		virtio_mmio_set_broken(c->t, "bad control transmit chain");
	virtio_mmio_notify_used(c->t, Q_CTRL_TX);
}

static void handle_port_tx(struct vconsole *c, struct virtq *q, unsigned int idx,
			   unsigned int port)
{
	struct vcon_port *p = &c->ports[port];
	struct virtq_elem e;
	int r;

	do {
		while ((r = virtq_pop(q, c->t->gm, &e)) == 1) {
			if (p->sink && e.out_len)
				p->sink(p->sink_opaque, e.iov, e.nr_out, e.out_len);
			virtq_push(q, c->t->gm, e.head, 0);
		}
	} while (r == 0 && virtio_mmio_rearm(c->t, q));
	if (r < 0)
		virtio_mmio_set_broken(c->t, "bad transmit chain");
	virtio_mmio_notify_used(c->t, idx);
}

static void vconsole_queue_notify(void *dev, struct virtio_mmio *t, unsigned int idx)
{
	struct vconsole *c = dev;
	struct virtq *q = virtio_mmio_queue(t, idx);
	unsigned int port;

	if (!q)
		return;
	if (idx == Q_CTRL_RX) {
		rxq_want_kicks(c, idx, false); /* flush_ctrl asks again if it still waits */
		flush_ctrl(c);
		return;
	}
	if (idx == Q_CTRL_TX) {
		handle_ctrl_tx(c, q);
		return;
	}
	port = idx < 2 ? 0 : idx / 2 - 1;
	if (port >= c->nr_ports)
		return;
	if (idx & 1) {
		handle_port_tx(c, q, idx, port);
	} else {
		rxq_want_kicks(c, idx, false); /* whoever still waits for room asks again */
		flush_pending(c, port);
		wake(c);
	}
}

static uint64_t vconsole_features(void *dev)
{
	(void)dev;
	/*
	 * F_SIZE: without it Linux drops every RESIZE control message (resize_console), and the
	 * app's terminal (-t, arrow-oci's console socket) stays 0x0 whatever the host's size.
	 */
	return 1ull << VIRTIO_CONSOLE_F_SIZE | 1ull << VIRTIO_CONSOLE_F_MULTIPORT;
}

static void vconsole_config_read(void *dev, uint32_t offset, void *data, uint32_t len)
{
	struct vconsole *c = dev;
	/* struct virtio_console_config: cols, rows, max_nr_ports, emerg_wr */
	uint8_t cfg[12] = { 0 };
	uint32_t max = c->nr_ports;

	memcpy(cfg + 4, &max, 4);
	if (offset < sizeof(cfg) && len <= sizeof(cfg) - offset)
		memcpy(data, cfg + offset, len);
}

static void vconsole_activate(void *dev, struct virtio_mmio *t)
{
	struct vconsole *c = dev;

	(void)t;
	rxq_want_kicks(c, Q_CTRL_RX, false);
	for (unsigned int i = 0; i < c->nr_ports; i++)
		rxq_want_kicks(c, port_rxq(i), false);
}

static void vconsole_reset(void *dev)
{
	struct vconsole *c = dev;

	c->device_ready = 0;
	c->ctrl_count = 0;
	for (unsigned int i = 0; i < c->nr_ports; i++) {
		c->ports[i].guest_connected = 0;
		c->ports[i].ready = 0;
	}
	wake(c);
}

const struct virtio_device_ops vconsole_ops = {
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2 * (VCON_MAX_PORTS + 1),
	/* Each posted receive buffer is a guest page: 32 per port is plenty for a byte stream. */
	.queue_max = 32,
	.features = vconsole_features,
	.config_read = vconsole_config_read,
	.queue_notify = vconsole_queue_notify,
	.activate = vconsole_activate,
	.reset = vconsole_reset,
};

ssize_t vconsole_port_fill(struct vconsole *c, unsigned int port, vcon_source_fn *source,
			   void *opaque)
{
	struct virtq *q;
	struct virtq_elem e;
	ssize_t n = -ENOBUFS;

	if (port >= c->nr_ports)
		return -EINVAL;
	pthread_mutex_lock(&c->t->lock);
	q = virtio_mmio_queue(c->t, port_rxq(port));
	if (q && c->ports[port].guest_connected && c->ports[port].host_connected) {
		int r = virtq_pop(q, c->t->gm, &e);

		if (r == 0 && rxq_wait_for_room(c, port_rxq(port)))
			r = virtq_pop(q, c->t->gm, &e);

		if (r < 0)
			virtio_mmio_set_broken(c->t, "bad receive chain");
		if (r == 1) {
			n = source(opaque, e.iov + e.nr_out, e.nr_in);
			if (n > 0) {
				virtq_push(q, c->t->gm, e.head, (uint32_t)n);
				virtio_mmio_notify_used(c->t, port_rxq(port));
			} else {
				/* Nothing written: give the chain back untouched, never an empty buffer. */
				q->last_avail--;
			}
		}
	}
	pthread_mutex_unlock(&c->t->lock);
	return n;
}

int vconsole_port_send(struct vconsole *c, unsigned int port, const void *buf, size_t len)
{
	struct vcon_port *p;
	int ret = 0;

	if (port >= c->nr_ports)
		return -EINVAL;
	p = &c->ports[port];
	pthread_mutex_lock(&c->t->lock);
	if (len > VCON_PENDING_MAX - p->pending_len) {
		ret = -ENOBUFS;
	} else {
		memcpy(p->pending + p->pending_len, buf, len);
		p->pending_len += (uint32_t)len;
		flush_pending(c, port);
	}
	pthread_mutex_unlock(&c->t->lock);
	return ret;
}

void vconsole_port_set_host_connected(struct vconsole *c, unsigned int port, bool connected)
{
	if (port >= c->nr_ports)
		return;
	pthread_mutex_lock(&c->t->lock);
	if (!connected && c->ports[port].pending_len) {
		c->ports[port].close_when_flushed = 1; /* flush_pending closes it */
	} else if (c->ports[port].host_connected != connected) {
		c->ports[port].close_when_flushed = 0;
		c->ports[port].host_connected = connected;
		if (c->ports[port].ready)
			send_ctrl(c, port, CTL_PORT_OPEN, connected, NULL);
	}
	pthread_mutex_unlock(&c->t->lock);
}

bool vconsole_port_guest_connected(struct vconsole *c, unsigned int port)
{
	bool r;

	pthread_mutex_lock(&c->t->lock);
	r = port < c->nr_ports && c->ports[port].guest_connected;
	pthread_mutex_unlock(&c->t->lock);
	return r;
}

size_t vconsole_port_room(struct vconsole *c, unsigned int port)
{
	size_t room;

	if (port >= c->nr_ports)
		return 0;
	pthread_mutex_lock(&c->t->lock);
	room = VCON_PENDING_MAX - c->ports[port].pending_len;
	pthread_mutex_unlock(&c->t->lock);
	return room;
}

void vconsole_port_resize(struct vconsole *c, unsigned int port, uint16_t cols, uint16_t rows)
{
	/*
	 * The resize message is { le16 cols; le16 rows; }, as Linux 6.12 reads it
	 * (drivers/char/virtio_console.c); older guest kernels read rows first.
	 */
	uint16_t size[2] = { cols, rows };

	if (port >= c->nr_ports || !c->ports[port].is_console)
		return;
	pthread_mutex_lock(&c->t->lock);
	c->ports[port].rows = rows;
	c->ports[port].cols = cols;
	if (c->ports[port].ready)
		send_ctrl_data(c, port, CTL_RESIZE, 0, size, sizeof(size));
	pthread_mutex_unlock(&c->t->lock);
}
