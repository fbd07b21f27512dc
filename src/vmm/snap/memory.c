// SPDX-License-Identifier: MIT
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (unsigned int i = 0; i < SNAP_PAGE / 8; i++)
		if (w[i])
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, uint64_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		off += (uint64_t)n;
		len -= (uint64_t)n;
	}
	return 0;
}

int snap_memory_write(const char *path, const uint8_t *base, uint64_t size, uint64_t *stored)
{
	return snap_memory_write_at(AT_FDCWD, path, base, size, stored);
}

int snap_memory_write_at(int dir_fd, const char *path, const uint8_t *base, uint64_t size,
			 uint64_t *stored)
{
	char tmp[4200];
	uint64_t run = 0, run_len = 0;
	int fd, ret = 0;

	*stored = 0;
	if (size % SNAP_PAGE)
		return -EINVAL;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0)
		ret = -errno;
	/* runs of non-zero pages, one pwrite each */
	for (uint64_t off = 0; !ret && off <= size; off += SNAP_PAGE) {
		if (off < size && !page_is_zero(base + off)) {
			if (!run_len)
				run = off;
			run_len += SNAP_PAGE;
			continue;
		}
		if (run_len) {
			ret = pwrite_all(fd, base + run, run_len, run);
			*stored += run_len;
			run_len = 0;
		}
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	close(fd);
	if (!ret && renameat(dir_fd, tmp, dir_fd, path) < 0)
		ret = -errno;
	if (ret)
		unlinkat(dir_fd, tmp, 0);
	return ret;
}

int snap_memory_open(const char *path, uint64_t size)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}
