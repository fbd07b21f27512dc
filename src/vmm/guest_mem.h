/* SPDX-License-Identifier: MIT */
/*
 * Guest physical memory. Every access arrowh makes to guest memory on behalf
 * of a device goes through gm_ptr(), which checks bounds and overflow: a
 * guest-supplied address either maps entirely inside one RAM region or is
 * refused.
 */
#ifndef ARROW_GUEST_MEM_H
#define ARROW_GUEST_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RAM above this address would overlap the MMIO hole; it continues at 4 GiB. */
#define GM_LOW_LIMIT 0xc0000000ull
#define GM_HIGH_BASE 0x100000000ull

struct gm_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;
};

struct guest_mem {
	uint8_t *base; /* one host mapping backing all regions */
	uint64_t total;
	unsigned int nr_regions;
	struct gm_region regions[2];
};

/*
 * Map size bytes and split them around the MMIO hole: anonymous memory (fd -1), or a
 * snapshot's memory file copy-on-write (MAP_PRIVATE: pages the guest never writes
 * stay shared with every other clone of that snapshot).
 */
int gm_init(struct guest_mem *gm, uint64_t size, int fd) __attribute__((warn_unused_result));
/* Lay out regions over an existing mapping (used by gm_init and unit tests). */
void gm_layout(struct guest_mem *gm, uint8_t *base, uint64_t size);
void gm_destroy(struct guest_mem *gm);

/* Host pointer for [gpa, gpa+len) if it lies inside one region, else NULL. */
void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len);

/* Copy helpers on top of gm_ptr; return 0 or -EFAULT. */
int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len);
int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len);

/* End of the low RAM region (the highest usable address below 4 GiB). */
uint64_t gm_low_end(const struct guest_mem *gm);

#endif
