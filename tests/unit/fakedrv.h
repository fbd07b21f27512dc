/* SPDX-License-Identifier: MIT */
/*
 * A fake virtio-mmio guest driver for unit tests: drives a device through its
 * register file and lays out split virtqueues in a flat "guest memory". Queue q
 * lives at 0x10000 * (q + 1): descriptors, avail ring at +0x1000, used at +0x2000.
 */
#ifndef ARROW_TEST_FAKEDRV_H
#define ARROW_TEST_FAKEDRV_H

#include <stdlib.h>
#include <string.h>

#include "vmm/virtio/mmio.h"

struct fakedrv {
	uint8_t *mem;
	size_t size;
	struct guest_mem gm;
	struct virtio_mmio *t;
	uint16_t qnum;
	uint16_t next_desc[VIRTIO_MMIO_MAX_QUEUES];
};

static inline void fd_wr(struct fakedrv *d, uint64_t off, uint32_t v)
{
	virtio_mmio_write(d->t, off, &v, 4);
}

static inline uint32_t fd_rd(struct fakedrv *d, uint64_t off)
{
	uint32_t v;

	virtio_mmio_read(d->t, off, &v, 4);
	return v;
}

static inline uint64_t fd_qbase(unsigned int q)
{
	return 0x10000ull * (q + 1);
}

static inline void fd_alloc(struct fakedrv *d, size_t size, uint16_t qnum)
{
	memset(d, 0, sizeof(*d));
	d->mem = calloc(1, size);
	d->size = size;
	d->qnum = qnum;
	gm_layout(&d->gm, d->mem, size);
}

/* Negotiate features (VERSION_1 added), set up nq queues, DRIVER_OK. Returns the status. */
static inline uint32_t fd_start(struct fakedrv *d, struct virtio_mmio *t, uint64_t features,
				unsigned int nq)
{
	d->t = t;
	fd_wr(d, 0x070, 1 | 2);
	features |= 1ull << 32;
	fd_wr(d, 0x024, 0);
	fd_wr(d, 0x020, (uint32_t)features);
	fd_wr(d, 0x024, 1);
	fd_wr(d, 0x020, (uint32_t)(features >> 32));
	fd_wr(d, 0x070, 1 | 2 | 8);
	for (unsigned int q = 0; q < nq; q++) {
		fd_wr(d, 0x030, q);
		fd_wr(d, 0x038, d->qnum);
		fd_wr(d, 0x080, (uint32_t)fd_qbase(q));
		fd_wr(d, 0x090, (uint32_t)fd_qbase(q) + 0x1000);
		fd_wr(d, 0x0a0, (uint32_t)fd_qbase(q) + 0x2000);
		fd_wr(d, 0x044, 1);
	}
	fd_wr(d, 0x070, 1 | 2 | 8 | 4);
	return fd_rd(d, 0x070);
}

/* Write one descriptor of queue q; returns its slot. */
static inline uint16_t fd_desc(struct fakedrv *d, unsigned int q, uint64_t addr, uint32_t len,
			       uint16_t flags, uint16_t next)
{
	uint16_t slot = d->next_desc[q]++ % d->qnum;
	uint8_t *p = d->mem + fd_qbase(q) + 16 * slot;

	memcpy(p, &addr, 8);
	memcpy(p + 8, &len, 4);
	memcpy(p + 12, &flags, 2);
	memcpy(p + 14, &next, 2);
	return slot;
}

/* Make the chain starting at head available. */
static inline void fd_avail(struct fakedrv *d, unsigned int q, uint16_t head)
{
	uint8_t *avail = d->mem + fd_qbase(q) + 0x1000;
	uint16_t idx;

	memcpy(&idx, avail + 2, 2);
	memcpy(avail + 4 + 2 * (idx % d->qnum), &head, 2);
	idx++;
	memcpy(avail + 2, &idx, 2);
}

/* A one-descriptor chain, made available. */
static inline void fd_post(struct fakedrv *d, unsigned int q, uint64_t addr, uint32_t len,
			   uint16_t flags)
{
	fd_avail(d, q, fd_desc(d, q, addr, len, flags, 0));
}

static inline uint16_t fd_used_idx(struct fakedrv *d, unsigned int q)
{
	uint16_t v;

	memcpy(&v, d->mem + fd_qbase(q) + 0x2000 + 2, 2);
	return v;
}

/* The used ring's entry i: the chain head and the length written. */
static inline void fd_used(struct fakedrv *d, unsigned int q, uint16_t i, uint32_t *id,
			   uint32_t *len)
{
	uint8_t *e = d->mem + fd_qbase(q) + 0x2000 + 4 + 8 * (i % d->qnum);

	memcpy(id, e, 4);
	memcpy(len, e + 4, 4);
}

#endif
