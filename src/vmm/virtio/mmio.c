// SPDX-License-Identifier: MIT
#include "mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define REG_MAGIC 0x000
#define REG_VERSION 0x004
#define REG_DEVICE_ID 0x008
#define REG_VENDOR_ID 0x00c
#define REG_DEVICE_FEATURES 0x010
#define REG_DEVICE_FEATURES_SEL 0x014
#define REG_DRIVER_FEATURES 0x020
#define REG_DRIVER_FEATURES_SEL 0x024
#define REG_QUEUE_SEL 0x030
#define REG_QUEUE_NUM_MAX 0x034
#define REG_QUEUE_NUM 0x038
#define REG_QUEUE_READY 0x044
#define REG_QUEUE_NOTIFY 0x050
#define REG_INTERRUPT_STATUS 0x060
#define REG_INTERRUPT_ACK 0x064
#define REG_STATUS 0x070
#define REG_QUEUE_DESC_LOW 0x080
#define REG_QUEUE_DESC_HIGH 0x084
#define REG_QUEUE_DRIVER_LOW 0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW 0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG 0x100

#define MAGIC_VALUE 0x74726976 /* "virt" */
#define VENDOR_ID 0x57525241   /* "ARRW" */

void virtio_mmio_init(struct virtio_mmio *t, uint64_t base, unsigned int irq, int irq_fd,
		      const struct guest_mem *gm, const struct virtio_device_ops *ops, void *dev)
{
	memset(t, 0, sizeof(*t));
	t->base = base;
	t->irq = irq;
	t->irq_fd = irq_fd;
	t->gm = gm;
	t->ops = ops;
	t->dev = dev;
	t->s.version = VIRTIO_MMIO_STATE_VERSION;
	pthread_mutex_init(&t->lock, NULL);
}

static uint64_t device_features(struct virtio_mmio *t)
{
	return t->ops->features(t->dev) | (1ull << VIRTIO_F_VERSION_1) |
	       (1ull << VIRTIO_RING_F_EVENT_IDX);
}

static bool event_idx(const struct virtio_mmio *t)
{
	return t->s.driver_features & (1ull << VIRTIO_RING_F_EVENT_IDX);
}

void virtio_mmio_set_notify(struct virtio_mmio *t, struct virtq *q, bool enable)
{
	virtq_set_notify(q, t->gm, enable, event_idx(t));
}

bool virtio_mmio_rearm(struct virtio_mmio *t, struct virtq *q)
{
	if (q->broken)
		return false;
	virtq_set_notify(q, t->gm, true, event_idx(t));
	return virtq_has_avail(q, t->gm);
}

static uint16_t queue_max(const struct virtio_mmio *t)
{
	return t->ops->queue_max && t->ops->queue_max < VIRTQ_MAX_SIZE ? t->ops->queue_max
									: VIRTQ_MAX_SIZE;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	if (t->s.queue_sel >= t->ops->num_queues)
		return NULL;
	return &t->s.queues[t->s.queue_sel];
}

bool virtio_mmio_driver_ok(const struct virtio_mmio *t)
{
	return (t->s.status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(t->s.status & VIRTIO_STATUS_NEEDS_RESET);
}

struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned int idx)
{
	if (idx >= t->ops->num_queues || !virtio_mmio_driver_ok(t))
		return NULL;
	if (!t->s.queues[idx].ready || t->s.queues[idx].broken)
		return NULL;
	return &t->s.queues[idx];
}

static void raise_irq(struct virtio_mmio *t, uint32_t why)
{
	uint64_t one = 1;

	t->s.interrupt_status |= why;
	if (t->irq_fd >= 0 && write(t->irq_fd, &one, sizeof(one)) < 0)
		perror("arrowh: irqfd");
}

void virtio_mmio_notify_used(struct virtio_mmio *t, unsigned int idx)
{
	if (idx < t->ops->num_queues && virtq_should_notify(&t->s.queues[idx], t->gm, event_idx(t)))
		raise_irq(t, VIRTIO_INT_USED);
}

void virtio_mmio_report(struct virtio_mmio *t, FILE *out)
{
	pthread_mutex_lock(&t->lock);
	fprintf(out, "arrowh: virtio device %u at %#llx: status %#x, interrupt status %#x\n",
		t->ops->device_id, (unsigned long long)t->base, t->s.status, t->s.interrupt_status);
	for (unsigned int i = 0; i < t->ops->num_queues; i++)
		if (t->s.queues[i].ready)
			virtq_report(&t->s.queues[i], t->gm, i, event_idx(t), out);
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_set_broken(struct virtio_mmio *t, const char *why)
{
	if (t->s.status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	/* A guest that breaks and resets in a loop must not flood the host's stderr. */
	if (t->warnings < 3 && ++t->warnings)
		fprintf(stderr, "arrowh: virtio device %u at %#llx stopped: %s (guest driver error)\n",
			t->ops->device_id, (unsigned long long)t->base, why);
	t->s.status |= VIRTIO_STATUS_NEEDS_RESET;
	raise_irq(t, VIRTIO_INT_CONFIG);
}

static void reset(struct virtio_mmio *t)
{
	uint32_t gen = t->s.config_generation;

	memset(&t->s, 0, sizeof(t->s));
	t->s.version = VIRTIO_MMIO_STATE_VERSION;
	t->s.config_generation = gen + 1;
	if (t->ops->reset)
		t->ops->reset(t->dev);
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtq *q = selected_queue(t);

	switch (off) {
	case REG_MAGIC:
		return MAGIC_VALUE;
	case REG_VERSION:
		return 2;
	case REG_DEVICE_ID:
		return t->ops->device_id;
	case REG_VENDOR_ID:
		return VENDOR_ID;
	case REG_DEVICE_FEATURES:
		if (t->s.device_features_sel > 1)
			return 0;
		return (uint32_t)(device_features(t) >> (32 * t->s.device_features_sel));
	case REG_QUEUE_NUM_MAX:
		return q ? queue_max(t) : 0;
	case REG_QUEUE_READY:
		return q ? q->ready : 0;
	case REG_INTERRUPT_STATUS:
		return t->s.interrupt_status;
	case REG_STATUS:
		return t->s.status;
	case REG_CONFIG_GENERATION:
		return t->s.config_generation;
	default:
		return 0;
	}
}

static void set_addr_half(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffull) | ((uint64_t)v << 32);
	else
		*addr = (*addr & ~0xffffffffull) | v;
}

static void write_queue_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q = selected_queue(t);

	/* Queue layout may change only while the queue is not live. */
	if (!q || q->ready)
		return;
	switch (off) {
	case REG_QUEUE_NUM:
		q->num = (uint16_t)(v <= queue_max(t) ? v : 0);
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_addr_half(&q->desc_gpa, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		set_addr_half(&q->avail_gpa, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		set_addr_half(&q->used_gpa, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	}
}

static void write_status(struct virtio_mmio *t, uint32_t v)
{
	uint32_t old = t->s.status;

	if (v == 0) {
		reset(t);
		return;
	}
	/* FEATURES_OK sticks only if the driver accepted features we offer, VERSION_1 included. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t drv = t->s.driver_features;

		if ((drv & ~device_features(t)) || !(drv & (1ull << VIRTIO_F_VERSION_1)))
			v &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	}
	t->s.status = v | (old & VIRTIO_STATUS_NEEDS_RESET);
	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK) && t->ops->activate)
		t->ops->activate(t->dev, t);
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	struct virtq *q;

	switch (off) {
	case REG_DEVICE_FEATURES_SEL:
		t->s.device_features_sel = v;
		break;
	case REG_DRIVER_FEATURES_SEL:
		t->s.driver_features_sel = v;
		break;
	case REG_DRIVER_FEATURES:
		/* Features are fixed once FEATURES_OK is set. */
		if (t->s.status & VIRTIO_STATUS_FEATURES_OK || t->s.driver_features_sel > 1)
			break;
		set_addr_half(&t->s.driver_features, t->s.driver_features_sel == 1, v);
		break;
	case REG_QUEUE_SEL:
		t->s.queue_sel = v;
		break;
	case REG_QUEUE_NUM:
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		write_queue_reg(t, off, v);
		break;
	case REG_QUEUE_READY:
		q = selected_queue(t);
		if (!q)
			break;
		if (v == 0) {
			q->ready = 0;
		} else if (!q->ready) {
			if (virtq_validate_layout(q, t->gm)) {
				virtio_mmio_set_broken(t, "queue rings outside guest memory or misaligned");
				break;
			}
			q->last_avail = q->used_idx = 0;
			q->broken = 0;
			q->signalled_valid = 0;
			q->ready = 1;
		}
		break;
	case REG_QUEUE_NOTIFY:
		if (v < t->ops->num_queues && virtio_mmio_driver_ok(t) && t->s.queues[v].ready)
			t->ops->queue_notify(t->dev, t, v);
		break;
	case REG_INTERRUPT_ACK:
		t->s.interrupt_status &= ~v;
		break;
	case REG_STATUS:
		write_status(t, v);
		break;
	}
}

void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, void *data, uint32_t len)
{
	uint32_t v;

	memset(data, 0, len);
	pthread_mutex_lock(&t->lock);
	if (offset >= REG_CONFIG) {
		if (t->ops->config_read && len <= 8)
			t->ops->config_read(t->dev, (uint32_t)(offset - REG_CONFIG), data, len);
	} else if (len == 4 && !(offset & 3)) {
		v = read_reg(t, offset);
		memcpy(data, &v, 4);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const void *data, uint32_t len)
{
	uint32_t v;

	pthread_mutex_lock(&t->lock);
	if (offset >= REG_CONFIG) {
		if (t->ops->config_write && len <= 8)
			t->ops->config_write(t->dev, (uint32_t)(offset - REG_CONFIG), data, len);
	} else if (len == 4 && !(offset & 3)) {
		memcpy(&v, data, 4);
		write_reg(t, offset, v);
	}
	pthread_mutex_unlock(&t->lock);
}

void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st)
{
	*st = t->s;
}

int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *st)
{
	if (st->version != VIRTIO_MMIO_STATE_VERSION)
		return -EINVAL;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++) {
		const struct virtq *q = &st->queues[i];

		if (!q->ready)
			continue;
		if (i >= t->ops->num_queues || virtq_validate_layout(q, t->gm))
			return -EINVAL;
	}
	pthread_mutex_lock(&t->lock);
	t->s = *st;
	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX_QUEUES; i++)
		t->s.queues[i].signalled_valid = 0; /* the first decision after a restore interrupts */
	/* the driver set DRIVER_OK before the snapshot: the host side goes live as it did then */
	if ((t->s.status & VIRTIO_STATUS_DRIVER_OK) && t->ops->activate)
		t->ops->activate(t->dev, t);
	pthread_mutex_unlock(&t->lock);
	return 0;
}
