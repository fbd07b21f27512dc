// SPDX-License-Identifier: MIT
#include "guest_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

void gm_layout(struct guest_mem *gm, uint8_t *base, uint64_t size)
{
	uint64_t low = size < GM_LOW_LIMIT ? size : GM_LOW_LIMIT;

	memset(gm, 0, sizeof(*gm));
	gm->base = base;
	gm->total = size;
	gm->regions[0] = (struct gm_region){ .gpa = 0, .size = low, .host = base };
	gm->nr_regions = 1;
	if (size > low) {
		gm->regions[1] = (struct gm_region){
			.gpa = GM_HIGH_BASE, .size = size - low, .host = base + low
		};
		gm->nr_regions = 2;
	}
}

int gm_init(struct guest_mem *gm, uint64_t size, int fd)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_NORESERVE | (fd < 0 ? MAP_ANONYMOUS : 0), fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	/* Guest RAM is never worth dumping with arrowh, and never shared with a fork. */
	madvise(p, size, MADV_DONTDUMP);
	madvise(p, size, MADV_DONTFORK);
	gm_layout(gm, p, size);
	return 0;
}

void gm_destroy(struct guest_mem *gm)
{
	if (gm->base)
		munmap(gm->base, gm->total);
	gm->base = NULL;
}

void *gm_ptr(const struct guest_mem *gm, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < gm->nr_regions; i++) {
		const struct gm_region *r = &gm->regions[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		/* offset < size here, so size - offset cannot underflow */
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->host + (gpa - r->gpa);
	}
	return NULL;
}

int gm_read(const struct guest_mem *gm, void *dst, uint64_t gpa, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(dst, p, len);
	return 0;
}

int gm_write(const struct guest_mem *gm, uint64_t gpa, const void *src, uint64_t len)
{
	void *p = gm_ptr(gm, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, src, len);
	return 0;
}

uint64_t gm_low_end(const struct guest_mem *gm)
{
	return gm->regions[0].size;
}
