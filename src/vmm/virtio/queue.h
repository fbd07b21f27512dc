/* SPDX-License-Identifier: MIT */
/*
 * Split virtqueues (virtio 1.x, section 2.7). The guest owns the rings and may
 * write anything into them at any time: every index, descriptor and chain is
 * validated, and a queue that breaks the rules is stopped (only the guest's own
 * device stops working).
 */
#ifndef ARROW_VIRTIO_QUEUE_H
#define ARROW_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/uio.h>

#include "../guest_mem.h"

#define VIRTQ_MAX_SIZE 256
#define VIRTQ_MAX_SEGS 64

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

/* Plain fixed-width state: saved and restored as is by snapshots. */
struct virtq {
	uint16_t num;        /* queue size chosen by the driver */
	uint16_t last_avail; /* next avail ring slot to consume */
	uint16_t used_idx;   /* next used ring slot to fill */
	uint8_t ready;
	uint8_t broken;      /* set on the first rule violation; the queue stays stopped */
	uint16_t signalled_used; /* EVENT_IDX: used index at the last interrupt decision */
	uint8_t signalled_valid; /* 0: interrupt at the next decision (after ready, restore) */
	uint8_t pad[5];
	uint64_t desc_gpa;
	uint64_t avail_gpa;
	uint64_t used_gpa;
};

/* One descriptor chain: device-readable segments first, then device-writable ones. */
struct virtq_elem {
	uint16_t head;
	unsigned int nr_out; /* readable segments: iov[0 .. nr_out) */
	unsigned int nr_in;  /* writable segments: iov[nr_out .. nr_out+nr_in) */
	uint32_t out_len;
	uint32_t in_len;
	struct iovec iov[VIRTQ_MAX_SEGS];
};

/* Check that the rings of a queue of q->num entries lie in guest RAM, aligned. */
int virtq_validate_layout(const struct virtq *q, const struct guest_mem *gm);
/* 1: a chain was taken into elem; 0: nothing available; -EINVAL: guest broke a rule. */
int virtq_pop(struct virtq *q, const struct guest_mem *gm, struct virtq_elem *elem);
/* Return a chain to the guest, with len bytes written into its writable part. */
int virtq_push(struct virtq *q, const struct guest_mem *gm, uint16_t head, uint32_t len);
/*
 * Whether the guest wants an interrupt for the used buffers pushed since the last call.
 * event_idx: VIRTIO_RING_F_EVENT_IDX was negotiated (used_event decides, not the flag).
 */
bool virtq_should_notify(struct virtq *q, const struct guest_mem *gm, bool event_idx);
/*
 * Ask the driver not to kick us for new buffers (VRING_USED_F_NO_NOTIFY; with
 * EVENT_IDX, avail_event left where it is), or to kick again. After enabling kicks, check virtq_has_avail(): buffers added before
 * the flag was seen do not kick.
 */
void virtq_set_notify(struct virtq *q, const struct guest_mem *gm, bool enable, bool event_idx);
/* Whether chains are waiting in the avail ring. */
bool virtq_has_avail(const struct virtq *q, const struct guest_mem *gm);

/* Copy between an iovec array and a flat buffer; return bytes copied. */
/*
 * The queue's indices and flags, for a stalled-guest report; with event_idx
 * (VIRTIO_RING_F_EVENT_IDX negotiated) also used_event, avail_event and the used index of the
 * last interrupt decision, which tell a driver that stopped listening from a missed interrupt.
 */
void virtq_report(const struct virtq *q, const struct guest_mem *gm, unsigned int idx,
		  bool event_idx, FILE *out);
size_t iov_to_buf(const struct iovec *iov, unsigned int n, void *buf, size_t len);
size_t iov_from_buf(const struct iovec *iov, unsigned int n, const void *buf, size_t len);

#endif
