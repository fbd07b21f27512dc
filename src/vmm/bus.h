/* SPDX-License-Identifier: MIT */
/* Address decoding for guest MMIO and port I/O exits. */
#ifndef ARROW_BUS_H
#define ARROW_BUS_H

#include <stdbool.h>
#include <stdint.h>

#define BUS_MAX_DEVICES 16

typedef void bus_read_fn(void *opaque, uint64_t offset, void *data, uint32_t len);
typedef void bus_write_fn(void *opaque, uint64_t offset, const void *data, uint32_t len);

struct bus_range {
	uint64_t base;
	uint64_t size;
	bus_read_fn *read;
	bus_write_fn *write;
	void *opaque;
};

struct bus {
	unsigned int nr;
	struct bus_range ranges[BUS_MAX_DEVICES];
};

/* Register [base, base+size); -EBUSY on overlap, -ENOSPC when full. */
int bus_add(struct bus *b, uint64_t base, uint64_t size, bus_read_fn *read, bus_write_fn *write,
	    void *opaque) __attribute__((warn_unused_result));
/* Dispatch an access; false when nothing claims addr (reads then yield all ones). */
bool bus_read(const struct bus *b, uint64_t addr, void *data, uint32_t len);
bool bus_write(const struct bus *b, uint64_t addr, const void *data, uint32_t len);

#endif
