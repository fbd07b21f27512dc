/* SPDX-License-Identifier: MIT */
/*
 * A fuzzer-driven guest for the virtio-mmio targets: the input is a program of
 * operations a hostile driver can do (register writes and reads of any width and
 * offset, bytes written anywhere in guest RAM, descriptors and avail entries, kicks),
 * plus a shortcut to a live device (feature negotiation and queue setup as Linux does
 * it) so the fuzzer reaches queue processing quickly. Guest RAM starts zeroed for every
 * input; queue q's rings sit at VF_QBASE(q) when the shortcut sets them up.
 */
#ifndef ARROW_VIRTIO_FUZZ_H
#define ARROW_VIRTIO_FUZZ_H

#include "fuzz.h"
#include "vmm/virtio/mmio.h"

#define VF_MEM 0x20000u /* 128 KiB of guest RAM */
#define VF_QBASE(q) (0x2000ull * (q))      /* descriptors; avail +0x1000, used +0x1800 */
#define VF_DATA 0x10000u                   /* where buffers usually point */
#define VF_MAX_OPS 256

struct vf {
	uint8_t *mem;
	struct guest_mem gm;
	struct virtio_mmio *t;
	unsigned int nq;
	uint16_t qnum;
};

static inline void vf_wr(struct vf *v, uint64_t off, uint32_t val)
{
	virtio_mmio_write(v->t, off, &val, 4);
}

/* What a Linux driver does: status, features (VERSION_1 added), queues, DRIVER_OK. */
static inline void vf_start(struct vf *v, uint64_t features, uint16_t qnum, unsigned int nq)
{
	v->qnum = qnum;
	vf_wr(v, 0x070, 0);
	vf_wr(v, 0x070, 1 | 2);
	features |= 1ull << 32;
	vf_wr(v, 0x024, 0);
	vf_wr(v, 0x020, (uint32_t)features);
	vf_wr(v, 0x024, 1);
	vf_wr(v, 0x020, (uint32_t)(features >> 32));
	vf_wr(v, 0x070, 1 | 2 | 8);
	for (unsigned int q = 0; q < nq; q++) {
		vf_wr(v, 0x030, q);
		vf_wr(v, 0x038, qnum);
		vf_wr(v, 0x080, (uint32_t)VF_QBASE(q));
		vf_wr(v, 0x090, (uint32_t)VF_QBASE(q) + 0x1000);
		vf_wr(v, 0x0a0, (uint32_t)VF_QBASE(q) + 0x1800);
		vf_wr(v, 0x044, 1);
	}
	vf_wr(v, 0x070, 1 | 2 | 8 | 4);
}

static inline void vf_put(struct vf *v, uint64_t gpa, const void *src, size_t len)
{
	if (gpa < VF_MEM && len <= VF_MEM - gpa)
		memcpy(v->mem + gpa, src, len);
}

/* Device-specific operations (host side) are op codes >= 8, handled by dev_op. */
typedef void vf_dev_op_fn(struct vf *v, uint8_t op, struct fz *f);

/* Run the program in f. */
static inline void vf_run(struct vf *v, struct fz *f, vf_dev_op_fn *dev_op)
{
	static const uint32_t widths[8] = { 1, 2, 4, 4, 4, 8, 4, 2 };

	for (unsigned int i = 0; i < VF_MAX_OPS && fz_left(f); i++) {
		uint8_t op = (uint8_t)fz_int(f, 1);

		switch (op & 15) {
		case 0: { /* register write: offset, width, value */
			uint64_t off = fz_int(f, 2) & 0x1fff;
			uint64_t val = fz_int(f, 4) | fz_int(f, 4) << 32;

			virtio_mmio_write(v->t, off, &val, widths[op >> 5]);
			break;
		}
		case 1: { /* register read */
			uint64_t off = fz_int(f, 2) & 0x1fff, val;

			virtio_mmio_read(v->t, off, &val, widths[op >> 5]);
			break;
		}
		case 2: { /* raw bytes into guest RAM */
			uint64_t gpa = fz_int(f, 3) % VF_MEM;
			size_t n = (size_t)fz_int(f, 1) + 1, got;
			const uint8_t *b = fz_bytes(f, n, &got);

			vf_put(v, gpa, b, got);
			break;
		}
		case 3: /* the shortcut: features, queue size, DRIVER_OK */
			vf_start(v, fz_int(f, 4), (uint16_t)(1u << (fz_int(f, 1) % 9)), v->nq);
			break;
		case 4: { /* one descriptor: queue, slot, address, length, flags, next */
			unsigned int q = (unsigned int)fz_int(f, 1) % v->nq;
			uint16_t slot = (uint16_t)(fz_int(f, 1) % (v->qnum ? v->qnum : 1));
			uint64_t addr = VF_DATA + fz_int(f, 2);
			uint32_t len = (uint32_t)fz_int(f, 2);
			uint16_t flags = (uint16_t)(fz_int(f, 1) & 7), next = (uint16_t)fz_int(f, 1);
			uint8_t d[16];

			if (op & 0x80)
				addr = fz_int(f, 8); /* anywhere at all */
			memcpy(d, &addr, 8);
			memcpy(d + 8, &len, 4);
			memcpy(d + 12, &flags, 2);
			memcpy(d + 14, &next, 2);
			vf_put(v, VF_QBASE(q) + 16ull * slot, d, 16);
			break;
		}
		case 5: { /* make head available on queue q and kick it */
			unsigned int q = (unsigned int)fz_int(f, 1) % v->nq;
			uint16_t head = (uint16_t)fz_int(f, 1), idx;
			uint8_t *avail = v->mem + VF_QBASE(q) + 0x1000;

			memcpy(&idx, avail + 2, 2);
			memcpy(avail + 4 + 2 * (idx % (v->qnum ? v->qnum : 1)), &head, 2);
			idx++;
			memcpy(avail + 2, &idx, 2);
			if (!(op & 0x80))
				vf_wr(v, 0x050, q);
			break;
		}
		case 6: /* kick any queue number */
			vf_wr(v, 0x050, (uint32_t)fz_int(f, 1));
			break;
		default:
			dev_op(v, op, f);
			break;
		}
	}
}

#endif
