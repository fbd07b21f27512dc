// SPDX-License-Identifier: MIT
#include "bus.h"

#include <errno.h>
#include <string.h>

int bus_add(struct bus *b, uint64_t base, uint64_t size, bus_read_fn *read, bus_write_fn *write,
	    void *opaque)
{
	if (size == 0 || base + size < base)
		return -EINVAL;
	for (unsigned int i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->ranges[i];

		if (base < r->base + r->size && r->base < base + size)
			return -EBUSY;
	}
	if (b->nr >= BUS_MAX_DEVICES)
		return -ENOSPC;
	b->ranges[b->nr++] = (struct bus_range){ base, size, read, write, opaque };
	return 0;
}

static const struct bus_range *find(const struct bus *b, uint64_t addr, uint32_t len)
{
	for (unsigned int i = 0; i < b->nr; i++) {
		const struct bus_range *r = &b->ranges[i];

		if (addr >= r->base && addr - r->base < r->size && len <= r->size - (addr - r->base))
			return r;
	}
	return NULL;
}

bool bus_read(const struct bus *b, uint64_t addr, void *data, uint32_t len)
{
	const struct bus_range *r = find(b, addr, len);

	if (!r || !r->read) {
		memset(data, 0xff, len);
		return r != NULL;
	}
	r->read(r->opaque, addr - r->base, data, len);
	return true;
}

bool bus_write(const struct bus *b, uint64_t addr, const void *data, uint32_t len)
{
	const struct bus_range *r = find(b, addr, len);

	if (!r)
		return false;
	if (r->write)
		r->write(r->opaque, addr - r->base, data, len);
	return true;
}
