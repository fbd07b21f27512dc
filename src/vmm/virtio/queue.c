// SPDX-License-Identifier: MIT
#include "queue.h"

#include <errno.h>
#include <string.h>

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static uint64_t avail_size(uint16_t num)
{
	return 4 + 2ull * num + 2; /* flags, idx, ring, used_event */
}

static uint64_t used_size(uint16_t num)
{
	return 4 + 8ull * num + 2; /* flags, idx, ring, avail_event */
}

int virtq_validate_layout(const struct virtq *q, const struct guest_mem *gm)
{
	if (q->num == 0 || q->num > VIRTQ_MAX_SIZE || (q->num & (q->num - 1)))
		return -EINVAL;
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	if (!gm_ptr(gm, q->desc_gpa, 16ull * q->num) ||
	    !gm_ptr(gm, q->avail_gpa, avail_size(q->num)) ||
	    !gm_ptr(gm, q->used_gpa, used_size(q->num)))
		return -EINVAL;
	return 0;
}

static uint16_t *avail_ring(const struct virtq *q, const struct guest_mem *gm)
{
	return gm_ptr(gm, q->avail_gpa, avail_size(q->num));
}

bool virtq_has_avail(const struct virtq *q, const struct guest_mem *gm)
{
	uint16_t *avail;

	if (!q->ready || q->broken)
		return false;
	avail = avail_ring(q, gm);
	if (!avail)
		return false;
	return __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE) != q->last_avail;
}

static int chain_fail(struct virtq *q)
{
	q->broken = 1;
	return -EINVAL;
}

int virtq_pop(struct virtq *q, const struct guest_mem *gm, struct virtq_elem *elem)
{
	uint16_t *avail;
	struct vring_desc *table;
	uint16_t idx, head, i;
	unsigned int seen = 0;
	uint64_t out_len = 0, in_len = 0;

	if (!q->ready || q->broken)
		return 0;
	avail = avail_ring(q, gm);
	table = gm_ptr(gm, q->desc_gpa, 16ull * q->num);
	if (!avail || !table)
		return chain_fail(q);

	idx = __atomic_load_n(&avail[1], __ATOMIC_ACQUIRE);
	if (idx == q->last_avail)
		return 0;
	/* The driver can be at most one ring ahead of us. */
	if ((uint16_t)(idx - q->last_avail) > q->num)
		return chain_fail(q);

	head = __atomic_load_n(&avail[2 + q->last_avail % q->num], __ATOMIC_RELAXED);
	if (head >= q->num)
		return chain_fail(q);

	elem->head = head;
	elem->nr_out = elem->nr_in = 0;
	i = head;
	for (;;) {
		struct vring_desc d;
		void *p;

		/* Read the descriptor once: the guest may rewrite it under us. */
		memcpy(&d, &table[i], sizeof(d));
		if (++seen > q->num)
			return chain_fail(q); /* a loop */
		if (d.flags & VIRTQ_DESC_F_INDIRECT)
			return chain_fail(q); /* not negotiated */
		if (elem->nr_out + elem->nr_in >= VIRTQ_MAX_SEGS)
			return chain_fail(q);
		p = gm_ptr(gm, d.addr, d.len);
		if (!p && d.len)
			return chain_fail(q);
		if (d.flags & VIRTQ_DESC_F_WRITE) {
			in_len += d.len;
			elem->iov[elem->nr_out + elem->nr_in++] = (struct iovec){ p, d.len };
		} else {
			if (elem->nr_in)
				return chain_fail(q); /* readable after writable */
			out_len += d.len;
			elem->iov[elem->nr_out++] = (struct iovec){ p, d.len };
		}
		if (out_len > UINT32_MAX || in_len > UINT32_MAX)
			return chain_fail(q);
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			break;
		i = d.next;
		if (i >= q->num)
			return chain_fail(q);
	}
	elem->out_len = (uint32_t)out_len;
	elem->in_len = (uint32_t)in_len;
	q->last_avail++;
	return 1;
}

int virtq_push(struct virtq *q, const struct guest_mem *gm, uint16_t head, uint32_t len)
{
	uint8_t *used = gm_ptr(gm, q->used_gpa, used_size(q->num));
	uint32_t entry[2] = { head, len };

	if (!used || q->broken)
		return -EINVAL;
	memcpy(used + 4 + 8 * (q->used_idx % q->num), entry, sizeof(entry));
	q->used_idx++;
	__atomic_store_n((uint16_t *)(used + 2), q->used_idx, __ATOMIC_RELEASE);
	return 0;
}

void virtq_set_notify(struct virtq *q, const struct guest_mem *gm, bool enable, bool event_idx)
{
	uint16_t *used = gm_ptr(gm, q->used_gpa, used_size(q->num));

	if (!used || !q->ready)
		return;
	if (event_idx) {
		/*
		 * VIRTIO_RING_F_EVENT_IDX (2.7.10): the driver ignores the flag and kicks when its
		 * avail index passes avail_event. Enabling asks for a kick at the next buffer; to
		 * disable, leave the old value: the driver passes it once at most.
		 */
		if (enable)
			__atomic_store_n(&used[2 + 4 * q->num], q->last_avail, __ATOMIC_RELAXED);
	} else {
		__atomic_store_n(&used[0], enable ? 0 : VIRTQ_USED_F_NO_NOTIFY, __ATOMIC_RELAXED);
	}
	/* Publish the flag before the caller looks at the avail index again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_should_notify(struct virtq *q, const struct guest_mem *gm, bool event_idx)
{
	uint16_t *avail = avail_ring(q, gm);
	uint16_t old, used_event;
	bool valid;

	if (!avail)
		return false;
	/* Order our used->idx store before reading the driver's flags or used_event. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!event_idx)
		return !(__atomic_load_n(&avail[0], __ATOMIC_RELAXED) & VIRTQ_AVAIL_F_NO_INTERRUPT);
	valid = q->signalled_valid;
	old = q->signalled_used;
	q->signalled_valid = 1;
	q->signalled_used = q->used_idx;
	if (!valid)
		return true;
	used_event = __atomic_load_n(&avail[2 + q->num], __ATOMIC_RELAXED);
	/* Interrupt if used_event lies in (old, new]: the driver asked to hear of that entry. */
	return (uint16_t)(q->used_idx - used_event - 1) < (uint16_t)(q->used_idx - old);
}

void virtq_report(const struct virtq *q, const struct guest_mem *gm, unsigned int idx,
		  bool event_idx, FILE *out)
{
	uint16_t *avail = avail_ring(q, gm);
	uint16_t *used = gm_ptr(gm, q->used_gpa, used_size(q->num));
	uint16_t used_event;

	if (!avail || !used)
		return;
	fprintf(out, "  queue %u: size %u, avail %u, consumed %u, used %u%s%s%s\n", idx, q->num,
		__atomic_load_n(&avail[1], __ATOMIC_RELAXED), q->last_avail, q->used_idx,
		!event_idx && (__atomic_load_n(&avail[0], __ATOMIC_RELAXED) &
			       VIRTQ_AVAIL_F_NO_INTERRUPT) ? ", no interrupts wanted" : "",
		!event_idx && (__atomic_load_n(&used[0], __ATOMIC_RELAXED) & VIRTQ_USED_F_NO_NOTIFY)
			? ", no kicks wanted" : "",
		q->broken ? ", broken" : "");
	if (!event_idx)
		return;
	/*
	 * With EVENT_IDX the indices, not the flags, say who waits for whom: the driver wants
	 * an interrupt once used passes used_event, we want a kick once avail passes
	 * avail_event. "Behind" is how far used has gone past used_event: 0 means the driver
	 * waits for the next entry; more means it polls or has suppressed interrupts.
	 */
	used_event = __atomic_load_n(&avail[2 + q->num], __ATOMIC_RELAXED);
	fprintf(out, "    event index: used_event %u (used is %u past it), avail_event %u, "
		"interrupts decided up to used %u%s\n", used_event,
		(uint16_t)(q->used_idx - used_event), __atomic_load_n(&used[2 + 4 * q->num],
		__ATOMIC_RELAXED), q->signalled_used,
		q->signalled_valid ? "" : " (next decision interrupts)");
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		if (c) /* a zero-length descriptor may have no host address */
			memcpy((uint8_t *)buf + done, iov[i].iov_base, c);
		done += c;
	}
	return done;
}

size_t iov_from_buf(const struct iovec *iov, unsigned int n, const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t c = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		if (c)
			memcpy(iov[i].iov_base, (const uint8_t *)buf + done, c);
		done += c;
	}
	return done;
}
