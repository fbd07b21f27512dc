// SPDX-License-Identifier: MIT
#include "statedir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int statedir_write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) >= (int)sizeof(tmp) ||
	    snprintf(dst, sizeof(dst), "%s/%s", dir, name) >= (int)sizeof(dst))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	while (len && !ret) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno != EINTR)
			ret = -errno;
		if (w > 0) {
			p += w;
			len -= (size_t)w;
		}
	}
	if (close(fd) < 0 && !ret)
		ret = -errno;
	if (!ret && rename(tmp, dst) < 0)
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

int statedir_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int dfd, ret = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	dfd = dirfd(d);
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (unlinkat(dfd, e->d_name, 0) < 0 && errno != ENOENT)
			ret = -errno;
	}
	closedir(d);
	if (rmdir(dir) < 0 && errno != ENOENT && !ret)
		ret = -errno;
	return ret;
}

uint64_t statedir_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int statedir_sockaddr(const char *dir, struct sockaddr_un *sa, int *dir_fd)
{
	*dir_fd = -1;
	sa->sun_family = AF_UNIX;
	if (snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%s", dir, STATE_SOCKET) <
	    (int)sizeof(sa->sun_path))
		return 0;
	/* Too long for sun_path: go through the directory's descriptor instead. */
	*dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*dir_fd < 0)
		return -errno;
	snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", *dir_fd, STATE_SOCKET);
	return 0;
}

int statedir_lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			int ret = -errno;

			close(fd);
			return ret;
		}
	}
	return fd;
}

static int ofd_lock(int fd, int cmd, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	return fcntl(fd, cmd, &fl) < 0 ? -errno : 0;
}

int statedir_claim(int fd)
{
	int ret = ofd_lock(fd, F_OFD_SETLK, F_WRLCK);

	return ret == -EAGAIN || ret == -EACCES ? -EBUSY : ret;
}

bool statedir_claimed(int fd)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };

	return fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

int statedir_wait_unclaimed(int fd)
{
	int ret;

	while ((ret = ofd_lock(fd, F_OFD_SETLKW, F_RDLCK)) == -EINTR)
		;
	return ret;
}
