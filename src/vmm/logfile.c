// SPDX-License-Identifier: MIT
#include "logfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/statedir.h"
#include "common/streamrec.h"
#include "virtio/queue.h"

int logfile_open(struct logfile *l, const char *path, uint64_t max_size, unsigned int max_files)
{
	struct stat st;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->lock, NULL);
	if (snprintf(l->path, sizeof(l->path), "%s", path) >= (int)sizeof(l->path))
		return -ENAMETOOLONG;
	l->max_size = max_size;
	l->max_files = max_files ? max_files : 1;
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return -errno;
	if (fstat(l->fd, &st) == 0)
		l->size = (uint64_t)st.st_size;
	return 0;
}

int (*logfile_rotate_hook)(void);

/* PATH -> PATH.1 -> ... -> PATH.(files-1); the oldest falls off. */
int logfile_rotate_path(const char *path, unsigned int max_files)
{
	char from[4200], to[4200];
	int fd;

	if (!max_files)
		max_files = 1;
	for (unsigned int i = max_files - 1; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", path);
		else
			snprintf(from, sizeof(from), "%s.%u", path, i - 1);
		snprintf(to, sizeof(to), "%s.%u", path, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			return -errno;
	}
	if (max_files == 1 && unlink(path) < 0 && errno != ENOENT)
		return -errno;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_TRUNC | O_CLOEXEC, 0640);
	return fd < 0 ? -errno : fd;
}

static int rotate(struct logfile *l)
{
	int fd;

	close(l->fd);
	l->fd = -1;
	fd = logfile_rotate_hook ? logfile_rotate_hook() : logfile_rotate_path(l->path, l->max_files);
	l->size = 0;
	if (fd < 0)
		return fd;
	l->fd = fd;
	return 0;
}

static int write_all(int fd, struct iovec *v, unsigned int n)
{
	while (n) {
		ssize_t w = writev(fd, v, (int)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		while (n && (size_t)w >= v->iov_len) {
			w -= (ssize_t)v->iov_len;
			v++;
			n--;
		}
		if (n) {
			v->iov_base = (char *)v->iov_base + w;
			v->iov_len -= (size_t)w;
		}
	}
	return 0;
}

void logfile_write(struct logfile *l, int stream, const struct iovec *iov, unsigned int n,
		   size_t len)
{
	struct streamrec_hdr h = { .magic = STREAMREC_MAGIC, .stream = (uint8_t)stream,
				   .len = (uint32_t)len, .time_ns = statedir_realtime_ns() };
	struct iovec v[VIRTQ_MAX_SEGS + 1];
	int ret = 0;

	if (!len || n > VIRTQ_MAX_SEGS || len > STREAMREC_MAX_LEN)
		return;
	pthread_mutex_lock(&l->lock);
	if (l->failed)
		goto out;
	if (l->max_size && l->size && l->size + sizeof(h) + len > l->max_size)
		ret = rotate(l);
	if (!ret) {
		v[0] = (struct iovec){ &h, sizeof(h) };
		memcpy(v + 1, iov, n * sizeof(*iov));
		ret = write_all(l->fd, v, n + 1);
	}
	if (ret) {
		fprintf(stderr, "arrowh: log %s: %s; further output is not logged\n", l->path,
			strerror(-ret));
		l->failed = true;
	} else {
		l->size += sizeof(h) + len;
	}
out:
	pthread_mutex_unlock(&l->lock);
}

void logfile_close(struct logfile *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
