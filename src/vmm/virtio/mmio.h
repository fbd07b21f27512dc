/* SPDX-License-Identifier: MIT */
/*
 * virtio-mmio transport, version 2 (virtio 1.x, section 4.2). One instance per
 * device: a 4 KiB register window, an interrupt line and the device's queues.
 * The transport knows nothing about what a device does; devices know nothing
 * about registers.
 */
#ifndef ARROW_VIRTIO_MMIO_H
#define ARROW_VIRTIO_MMIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "queue.h"

#define VIRTIO_MMIO_SIZE 0x1000
#define VIRTIO_MMIO_MAX_QUEUES 16
#define VIRTIO_MMIO_QUEUE_NOTIFY 0x050 /* register offset: the driver writes a queue index */

#define VIRTIO_F_VERSION_1 32
#define VIRTIO_RING_F_EVENT_IDX 29

#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER 2
#define VIRTIO_STATUS_DRIVER_OK 4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED 128

#define VIRTIO_INT_USED 1
#define VIRTIO_INT_CONFIG 2

struct virtio_mmio;

/* What a device type provides to the transport. */
struct virtio_device_ops {
	uint32_t device_id;
	unsigned int num_queues;
	uint16_t queue_max; /* largest queue the device offers; 0 means VIRTQ_MAX_SIZE */
	uint64_t (*features)(void *dev);
	/* Config space access, offset relative to 0x100; out-of-range reads give 0. */
	void (*config_read)(void *dev, uint32_t offset, void *data, uint32_t len);
	void (*config_write)(void *dev, uint32_t offset, const void *data, uint32_t len);
	/* The driver made buffers available on queue idx. Called with the lock held. */
	void (*queue_notify)(void *dev, struct virtio_mmio *t, unsigned int idx);
	/* The driver set DRIVER_OK; called with the lock held. */
	void (*activate)(void *dev, struct virtio_mmio *t);
	/* The driver wrote 0 to Status; called with the lock held. */
	void (*reset)(void *dev);
};

/* Bumped whenever struct virtio_mmio_state or struct virtq changes layout. */
#define VIRTIO_MMIO_STATE_VERSION 2

/* Transport state: plain fixed-width fields, saved and restored by snapshots. */
struct virtio_mmio_state {
	uint32_t version; /* VIRTIO_MMIO_STATE_VERSION */
	uint32_t status;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint64_t driver_features;
	struct virtq queues[VIRTIO_MMIO_MAX_QUEUES];
};

struct virtio_mmio {
	uint64_t base;
	unsigned int irq;
	int irq_fd; /* eventfd bound to the irq with KVM_IRQFD, or -1 */
	const struct guest_mem *gm;
	const struct virtio_device_ops *ops;
	void *dev;
	pthread_mutex_t lock; /* guards state and the device; taken by vCPU and I/O threads */
	unsigned int warnings; /* protocol errors reported so far (capped) */
	struct virtio_mmio_state s;
};

void virtio_mmio_init(struct virtio_mmio *t, uint64_t base, unsigned int irq, int irq_fd,
		      const struct guest_mem *gm, const struct virtio_device_ops *ops, void *dev);
/* MMIO accesses from a vCPU; offset is relative to base. */
void virtio_mmio_read(struct virtio_mmio *t, uint64_t offset, void *data, uint32_t len);
void virtio_mmio_write(struct virtio_mmio *t, uint64_t offset, const void *data, uint32_t len);

/* For devices (lock held): the queue, or NULL if idx is out of range or not live. */
struct virtq *virtio_mmio_queue(struct virtio_mmio *t, unsigned int idx);
/* For devices (lock held): kicks for new buffers on q wanted or not (see virtq_set_notify). */
void virtio_mmio_set_notify(struct virtio_mmio *t, struct virtq *q, bool enable);
/*
 * For devices that take every kick (lock held), after draining q: ask for the next kick;
 * true if buffers arrived meanwhile (drain again).
 */
bool virtio_mmio_rearm(struct virtio_mmio *t, struct virtq *q);
/* For devices (lock held): raise the used-buffer interrupt if the driver wants one. */
void virtio_mmio_notify_used(struct virtio_mmio *t, unsigned int idx);
/* For devices (lock held): the driver broke the protocol; flag NEEDS_RESET. */
void virtio_mmio_set_broken(struct virtio_mmio *t, const char *why);
/* The transport's and live queues' state, for a stalled-guest report. */
void virtio_mmio_report(struct virtio_mmio *t, FILE *out);
bool virtio_mmio_driver_ok(const struct virtio_mmio *t);
/*
 * Snapshots: the transport state out (lock held by the caller), and back in before
 * the guest runs, activating the device again if the driver had: 0, or -EINVAL when
 * it is another version or a live queue's rings do not lie in guest RAM.
 */
void virtio_mmio_save(struct virtio_mmio *t, struct virtio_mmio_state *st);
int virtio_mmio_restore(struct virtio_mmio *t, const struct virtio_mmio_state *st);

#endif
