/* SPDX-License-Identifier: MIT */
/*
 * KVM's own per-vCPU counters (exits by reason and a few more), read from each vCPU's
 * binary statistics fd (KVM_GET_STATS_FD) at the milestones of a boot: before the first
 * KVM_RUN and when ainit's HELLO, EXEC and EXIT records arrive. `--timing` prints them
 * per phase; QEMU offers the same counters (QMP query-stats, provider kvm), so
 * bench/boot.py compares the two like for like.
 *
 * Everything read from the fd is validated before use (kvmstats_parse): sizes, offsets
 * and names come from the kernel, but a wrong one must cost a figure, never a crash.
 */
#ifndef ARROW_KVMSTATS_H
#define ARROW_KVMSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vm.h"

/* The counters followed, by their names in the kernel's x86 vCPU statistics. */
enum kvmstats_counter {
	KVMSTATS_EXITS, /* every exit from guest mode: the total */
	KVMSTATS_IO_EXITS,
	KVMSTATS_MMIO_EXITS,
	KVMSTATS_HALT_EXITS,
	KVMSTATS_IRQ_EXITS,
	KVMSTATS_SIGNAL_EXITS,
	KVMSTATS_INSN_EMULATION,
	KVMSTATS_HYPERCALLS,
	KVMSTATS_IRQ_WINDOW_EXITS,
	KVMSTATS_REQUEST_IRQ_EXITS,
	/* not an exit reason: page faults KVM's MMU handled, mostly guest memory touched for
	 * the first time (nested page faults); they explain most exits none of the above has */
	KVMSTATS_PF_TAKEN,
	KVMSTATS_NR
};

extern const char *const kvmstats_names[KVMSTATS_NR];

/* When the counters are read. */
enum kvmstats_mark {
	KVMSTATS_START, /* before the first KVM_RUN */
	KVMSTATS_HELLO, /* ainit runs */
	KVMSTATS_EXEC,  /* the app was exec'd: its first instruction is next */
	KVMSTATS_EXIT,  /* the app exited */
	KVMSTATS_MARKS
};

/* Limits on what a stats fd may describe; beyond them it is treated as malformed. */
#define KVMSTATS_NAME_MAX 1024    /* header.name_size (the kernel uses 48) */
#define KVMSTATS_DESC_MAX 4096    /* header.num_desc */
#define KVMSTATS_READ_MAX 65536   /* bytes read at once: the prefix, or one sample */

/* Where the followed counters are in one stats fd, from its header and descriptors. */
struct kvmstats_layout {
	uint32_t read_offset;    /* file offset of the first byte of a sample */
	uint32_t read_size;      /* bytes of a sample: they cover every counter found */
	int32_t at[KVMSTATS_NR]; /* byte offset of each counter within a sample, or -1 */
};

/*
 * Parse the first len bytes of a stats fd (header, id, descriptors). 0 with lay filled;
 * -EINVAL when the blob is malformed (truncated, out-of-range sizes or offsets, a name
 * without its NUL, one of our counters twice or not a single cumulative u64), -ENOENT
 * when it holds none of our counters, -E2BIG when a sample would exceed KVMSTATS_READ_MAX.
 */
int kvmstats_parse(const void *blob, size_t len, struct kvmstats_layout *lay);
/* The counters out of one sample (read_size bytes read at read_offset); absent ones 0. */
void kvmstats_extract(const struct kvmstats_layout *lay, const void *sample,
		      uint64_t out[KVMSTATS_NR]);

struct kvmstats {
	bool on;              /* kvmstats_open succeeded */
	unsigned int nr_fds;  /* one per vCPU */
	int fds[VM_MAX_VCPUS];
	struct kvmstats_layout lay[VM_MAX_VCPUS];
	uint8_t *sample;      /* read buffer, the largest read_size */
	bool offered[KVMSTATS_NR]; /* every vCPU's fd has the counter */
	bool marked[KVMSTATS_MARKS];
	uint64_t sum[KVMSTATS_MARKS][KVMSTATS_NR]; /* over every vCPU */
	char why[160];        /* why the figures are missing, for the report */
};

/* Open and parse every vCPU's stats fd. 0, or -errno with st->why set (not fatal). */
int kvmstats_open(struct kvmstats *st, struct vm *vm);
/*
 * Read the counters now, summed over vCPUs; the first call per mark counts. Called from
 * the control channel's handler (one record at a time) and before the vCPUs start.
 */
void kvmstats_mark(struct kvmstats *st, enum kvmstats_mark mark);
/* One line per phase, "arrowh-kvmstats: phase=NAME from=A to=B exits=N ...". */
void kvmstats_print(const struct kvmstats *st, bool restored, FILE *f);
void kvmstats_close(struct kvmstats *st);

#endif
