/* SPDX-License-Identifier: MIT */
/*
 * Guest memory in a snapshot: one file exactly as large as guest RAM, its pages
 * at their offsets. Pages that hold only zeros are left as holes (a sparse
 * file), so an idle 128 MiB guest costs the disk only what it wrote. Clones map
 * the file MAP_PRIVATE: they share every page they never write.
 */
#ifndef ARROW_SNAP_MEMORY_H
#define ARROW_SNAP_MEMORY_H

#include <stdint.h>

#define SNAP_PAGE 4096u

/* Write size bytes at base to path (through path.tmp, fsync'ed). 0 or -errno; *stored:
 * bytes that were not zero pages. */
int snap_memory_write(const char *path, const uint8_t *base, uint64_t size, uint64_t *stored);
/* The same, path relative to the directory dir_fd. */
int snap_memory_write_at(int dir_fd, const char *path, const uint8_t *base, uint64_t size,
			 uint64_t *stored);
/* Open path for a restore: the fd if it is a regular file of exactly size bytes, else
 * -errno (-EINVAL: another size). */
int snap_memory_open(const char *path, uint64_t size);

#endif
