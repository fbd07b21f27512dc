// SPDX-License-Identifier: MIT
#include "ownership.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

int dir_give_back(int dir_fd)
{
	struct dirent *e;
	int fd, ret = 0;
	DIR *d;

	if (fchown(dir_fd, geteuid(), getegid()) < 0)
		ret = -errno;
	fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return ret ? ret : -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return ret ? ret : -errno;
	}
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
		    fchownat(dirfd(d), e->d_name, geteuid(), getegid(), AT_SYMLINK_NOFOLLOW) < 0 && !ret)
			ret = -errno;
	closedir(d);
	return ret;
}
