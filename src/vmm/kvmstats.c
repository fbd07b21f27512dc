// SPDX-License-Identifier: MIT
/*
 * KVM's per-vCPU counters through the binary statistics fd. Layout of the fd (the
 * kernel's Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD):
 *
 *   header       struct kvm_stats_header, at offset 0
 *   id string    name_size bytes at id_offset
 *   descriptors  num_desc of (struct kvm_stats_desc + name_size bytes of name) at desc_offset
 *   data         u64 values at data_offset + each descriptor's offset
 */
#include "kvmstats.h"

#include <errno.h>
#include <inttypes.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* The fixed part of a descriptor; its name follows (the struct ends in a flexible array). */
#define DESC_FIXED_SIZE 16
_Static_assert(offsetof(struct kvm_stats_desc, name) == DESC_FIXED_SIZE,
	       "kvm_stats_desc: name follows 16 bytes of fields");

const char *const kvmstats_names[KVMSTATS_NR] = {
	[KVMSTATS_EXITS] = "exits",
	[KVMSTATS_IO_EXITS] = "io_exits",
	[KVMSTATS_MMIO_EXITS] = "mmio_exits",
	[KVMSTATS_HALT_EXITS] = "halt_exits",
	[KVMSTATS_IRQ_EXITS] = "irq_exits",
	[KVMSTATS_SIGNAL_EXITS] = "signal_exits",
	[KVMSTATS_INSN_EMULATION] = "insn_emulation",
	[KVMSTATS_HYPERCALLS] = "hypercalls",
	[KVMSTATS_IRQ_WINDOW_EXITS] = "irq_window_exits",
	[KVMSTATS_REQUEST_IRQ_EXITS] = "request_irq_exits",
	[KVMSTATS_PF_TAKEN] = "pf_taken",
};

static int counter_by_name(const char *name)
{
	for (int c = 0; c < KVMSTATS_NR; c++)
		if (!strcmp(name, kvmstats_names[c]))
			return c;
	return -1;
}

/* The header, checked on its own: the sizes and counts are bounded before any use. */
static int parse_header(const void *blob, size_t len, struct kvm_stats_header *h)
{
	uint64_t desc_end;

	if (len < sizeof(*h))
		return -EINVAL;
	memcpy(h, blob, sizeof(*h));
	if (h->name_size == 0 || h->name_size > KVMSTATS_NAME_MAX || h->num_desc > KVMSTATS_DESC_MAX)
		return -EINVAL;
	desc_end = h->desc_offset + (uint64_t)h->num_desc * (DESC_FIXED_SIZE + h->name_size);
	if (h->desc_offset < sizeof(*h) || desc_end > len)
		return -EINVAL;
	if (h->data_offset < sizeof(*h))
		return -EINVAL;
	return 0;
}

/*
 * One descriptor at p (DESC_FIXED_SIZE + name_size bytes, inside the blob): which of our
 * counters it is, and its byte offset in the data block; -ENOENT for a counter we do not
 * follow, -EINVAL for a malformed descriptor.
 */
static int parse_desc(const uint8_t *p, uint32_t name_size, uint32_t *offset)
{
	struct kvm_stats_desc d;
	const char *name = (const char *)p + DESC_FIXED_SIZE;
	int c;

	memcpy(&d, p, DESC_FIXED_SIZE);
	if (!memchr(name, '\0', name_size) || name[0] == '\0')
		return -EINVAL;
	c = counter_by_name(name);
	if (c < 0)
		return -ENOENT;
	/* ours are plain event counts: one cumulative u64 each, 8-byte aligned */
	if ((d.flags & KVM_STATS_TYPE_MASK) != KVM_STATS_TYPE_CUMULATIVE || d.size != 1 ||
	    d.offset % sizeof(uint64_t))
		return -EINVAL;
	*offset = d.offset;
	return c;
}

int kvmstats_parse(const void *blob, size_t len, struct kvmstats_layout *lay)
{
	const uint8_t *b = blob;
	struct kvm_stats_header h;
	uint32_t off[KVMSTATS_NR];
	uint64_t lo = UINT64_MAX, hi = 0;
	int ret = parse_header(blob, len, &h);

	if (ret)
		return ret;
	for (int c = 0; c < KVMSTATS_NR; c++)
		lay->at[c] = -1;
	for (uint32_t i = 0; i < h.num_desc; i++) {
		const uint8_t *p = b + h.desc_offset + (size_t)i * (DESC_FIXED_SIZE + h.name_size);
		uint32_t o = 0;
		int c = parse_desc(p, h.name_size, &o);

		if (c == -ENOENT)
			continue;
		if (c < 0)
			return c;
		if (lay->at[c] >= 0)
			return -EINVAL; /* the same counter twice: which one would be right? */
		lay->at[c] = 0;
		off[c] = o;
		lo = o < lo ? o : lo;
		hi = o + sizeof(uint64_t) > hi ? o + sizeof(uint64_t) : hi;
	}
	if (hi == 0)
		return -ENOENT;
	if (hi - lo > KVMSTATS_READ_MAX)
		return -E2BIG;
	if (h.data_offset + hi > INT32_MAX) /* a file offset pread takes without surprise */
		return -EINVAL;
	lay->read_offset = (uint32_t)(h.data_offset + lo);
	lay->read_size = (uint32_t)(hi - lo);
	for (int c = 0; c < KVMSTATS_NR; c++)
		if (lay->at[c] >= 0)
			lay->at[c] = (int32_t)(off[c] - lo);
	return 0;
}

void kvmstats_extract(const struct kvmstats_layout *lay, const void *sample,
		      uint64_t out[KVMSTATS_NR])
{
	for (int c = 0; c < KVMSTATS_NR; c++) {
		out[c] = 0;
		if (lay->at[c] >= 0 && (uint32_t)lay->at[c] + sizeof(uint64_t) <= lay->read_size)
			memcpy(&out[c], (const uint8_t *)sample + lay->at[c], sizeof(uint64_t));
	}
}

/* One vCPU's stats fd: open it and learn where our counters are. */
static int open_vcpu(struct kvmstats *st, const struct vcpu *v, uint8_t *prefix)
{
	int fd = ioctl(v->fd, KVM_GET_STATS_FD, NULL);
	ssize_t n;
	int ret;

	if (fd < 0) {
		ret = -errno;
		snprintf(st->why, sizeof(st->why), "KVM_GET_STATS_FD on vCPU %u: %s", v->id,
			 strerror(errno));
		return ret;
	}
	st->fds[st->nr_fds++] = fd; /* closed by kvmstats_close, whatever happens next */
	/* header, id and descriptors come first; a short read leaves them truncated, and
	 * kvmstats_parse then refuses them */
	n = pread(fd, prefix, KVMSTATS_READ_MAX, 0);
	if (n < 0) {
		ret = -errno;
		snprintf(st->why, sizeof(st->why), "reading the stats of vCPU %u: %s", v->id,
			 strerror(errno));
		return ret;
	}
	ret = kvmstats_parse(prefix, (size_t)n, &st->lay[st->nr_fds - 1]);
	if (ret)
		snprintf(st->why, sizeof(st->why), "the stats of vCPU %u are %s", v->id,
			 ret == -ENOENT ? "without exit counters" : "malformed");
	return ret;
}

int kvmstats_open(struct kvmstats *st, struct vm *vm)
{
	uint8_t *prefix = malloc(KVMSTATS_READ_MAX);
	uint32_t most = 0;
	int ret = 0;

	st->on = false;
	st->nr_fds = 0;
	if (!prefix) {
		snprintf(st->why, sizeof(st->why), "out of memory");
		return -ENOMEM;
	}
	for (int c = 0; c < KVMSTATS_NR; c++)
		st->offered[c] = true;
	for (unsigned int i = 0; i < vm->nr_vcpus && !ret; i++) {
		ret = open_vcpu(st, &vm->vcpus[i], prefix);
		if (ret)
			break;
		most = st->lay[i].read_size > most ? st->lay[i].read_size : most;
		for (int c = 0; c < KVMSTATS_NR; c++)
			st->offered[c] = st->offered[c] && st->lay[i].at[c] >= 0;
	}
	free(prefix);
	if (!ret && !(st->sample = malloc(most))) {
		snprintf(st->why, sizeof(st->why), "out of memory");
		ret = -ENOMEM;
	}
	if (ret) {
		kvmstats_close(st);
		return ret;
	}
	st->on = true;
	return 0;
}

static const char *const mark_names[KVMSTATS_MARKS] = { "start", "hello", "exec", "exit" };

void kvmstats_mark(struct kvmstats *st, enum kvmstats_mark mark)
{
	uint64_t sum[KVMSTATS_NR] = { 0 };

	if (!st->on || st->marked[mark])
		return;
	for (unsigned int i = 0; i < st->nr_fds; i++) {
		const struct kvmstats_layout *lay = &st->lay[i];
		uint64_t v[KVMSTATS_NR];

		if (pread(st->fds[i], st->sample, lay->read_size, lay->read_offset) !=
		    (ssize_t)lay->read_size) {
			/* this mark stays missing: the phases that need it say so */
			snprintf(st->why, sizeof(st->why), "reading the counters of vCPU %u at %s "
				 "failed", i, mark_names[mark]);
			return;
		}
		kvmstats_extract(lay, st->sample, v);
		for (int c = 0; c < KVMSTATS_NR; c++)
			sum[c] += v[c];
	}
	memcpy(st->sum[mark], sum, sizeof(sum));
	st->marked[mark] = true;
}

static void print_phase(const struct kvmstats *st, FILE *f, const char *phase,
			enum kvmstats_mark from, enum kvmstats_mark to)
{
	fprintf(f, "arrowh-kvmstats: phase=%s from=%s to=%s", phase, mark_names[from],
		mark_names[to]);
	if (!st->marked[from] || !st->marked[to]) {
		fprintf(f, " missing=%s\n", mark_names[st->marked[from] ? to : from]);
		return;
	}
	for (int c = 0; c < KVMSTATS_NR; c++) {
		if (st->offered[c])
			fprintf(f, " %s=%" PRIu64, kvmstats_names[c], st->sum[to][c] - st->sum[from][c]);
		else
			fprintf(f, " %s=-", kvmstats_names[c]);
	}
	fputc('\n', f);
}

void kvmstats_print(const struct kvmstats *st, bool restored, FILE *f)
{
	if (!st->on) {
		fprintf(f, "arrowh-kvmstats: unavailable reason=\"%s\"\n",
			st->why[0] ? st->why : "not opened");
		return;
	}
	fprintf(f, "arrowh-kvmstats: vcpus=%u source=KVM_GET_STATS_FD\n", st->nr_fds);
	if (st->why[0])
		fprintf(f, "arrowh-kvmstats: note=\"%s\"\n", st->why);
	if (restored) {
		/* a clone: no boot and no HELLO; ainit takes its identity and starts the app */
		print_phase(st, f, "resume", KVMSTATS_START, KVMSTATS_EXEC);
	} else {
		print_phase(st, f, "kernel", KVMSTATS_START, KVMSTATS_HELLO);
		print_phase(st, f, "ainit", KVMSTATS_HELLO, KVMSTATS_EXEC);
	}
	print_phase(st, f, "app", KVMSTATS_EXEC, KVMSTATS_EXIT);
	print_phase(st, f, "to_app", KVMSTATS_START, KVMSTATS_EXEC);
	print_phase(st, f, "total", KVMSTATS_START, KVMSTATS_EXIT);
}

void kvmstats_close(struct kvmstats *st)
{
	for (unsigned int i = 0; i < st->nr_fds; i++)
		close(st->fds[i]);
	st->nr_fds = 0;
	free(st->sample);
	st->sample = NULL;
	st->on = false;
}
