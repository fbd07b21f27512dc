// SPDX-License-Identifier: MIT
/* A host directory tree as a newc cpio initramfs piece (lib/image/rootfs.h). */
#include "lib/image/rootfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CPIO_PATH_MAX 4096
#define WBUF_SIZE (64u << 10)

struct cpio_out {
	int fd;
	size_t used;
	uint64_t offset; /* bytes written so far (padding is relative to it) */
	uint32_t ino;
	const struct rootfs_limits *lim;
	struct rootfs_stats *st;
	char *why;
	size_t whylen;
	unsigned char buf[WBUF_SIZE];
};

__attribute__((format(printf, 3, 4))) static int say(struct cpio_out *o, int err,
						     const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->why, o->whylen, fmt, ap);
	va_end(ap);
	return err;
}

static int out_flush(struct cpio_out *o)
{
	size_t done = 0;

	while (done < o->used) {
		ssize_t n = write(o->fd, o->buf + done, o->used - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return say(o, n < 0 ? -errno : -EIO, "writing the piece: %s",
				   strerror(n < 0 ? errno : EIO));
		done += (size_t)n;
	}
	o->used = 0;
	return 0;
}

static int out_put(struct cpio_out *o, const void *p, size_t len)
{
	const unsigned char *s = p;

	while (len) {
		size_t n = WBUF_SIZE - o->used < len ? WBUF_SIZE - o->used : len;
		int ret;

		memcpy(o->buf + o->used, s, n);
		o->used += n;
		o->offset += n;
		s += n;
		len -= n;
		if (o->used == WBUF_SIZE && (ret = out_flush(o)))
			return ret;
	}
	return 0;
}

static int out_pad4(struct cpio_out *o)
{
	static const char zero[4];

	return out_put(o, zero, (4 - (o->offset & 3)) & 3);
}

static int out_header(struct cpio_out *o, const char *name, mode_t mode, uid_t uid, gid_t gid,
		      int64_t mtime, uint64_t size)
{
	char hdr[128];
	unsigned int namesize = (unsigned int)strlen(name) + 1;
	int ret;

	if (size > 0xffffffffu)
		return say(o, -EFBIG, "%s is larger than 4 GiB (the cpio format's limit)", name);
	snprintf(hdr, sizeof(hdr),
		 "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		 ++o->ino, (unsigned int)mode, (unsigned int)uid, (unsigned int)gid,
		 S_ISDIR(mode) ? 2u : 1u, (unsigned int)(mtime < 0 ? 0 : (uint32_t)mtime),
		 (unsigned int)size, 0u, 0u, 0u, 0u, namesize, 0u);
	ret = out_put(o, hdr, 110);
	if (!ret)
		ret = out_put(o, name, namesize);
	return ret ? ret : out_pad4(o);
}

static int count_entry(struct cpio_out *o, const char *path)
{
	if (++o->st->entries > o->lim->max_entries)
		return say(o, -E2BIG, "more than %llu entries (at %s)",
			   (unsigned long long)o->lim->max_entries, path);
	return 0;
}

/* A regular file's data: exactly st_size bytes, zero-filled if it shrank meanwhile. */
static int copy_file(struct cpio_out *o, int dfd, const char *name, const char *path,
		     const struct stat *st)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	uint64_t left = (uint64_t)st->st_size;
	struct stat fst;
	int ret = 0;

	if (fd < 0)
		return say(o, -errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino) {
		close(fd);
		return say(o, -EAGAIN, "%s changed while it was read", path);
	}
	while (left && !ret) {
		unsigned char chunk[16384];
		ssize_t n = read(fd, chunk, left < sizeof(chunk) ? left : sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = say(o, -errno, "%s: %s", path, strerror(errno));
			break;
		}
		if (n == 0) { /* shrank: keep the archive consistent */
			memset(chunk, 0, sizeof(chunk));
			n = (ssize_t)(left < sizeof(chunk) ? left : sizeof(chunk));
		}
		ret = out_put(o, chunk, (size_t)n);
		left -= (uint64_t)n;
	}
	close(fd);
	return ret ? ret : out_pad4(o);
}

static int walk(struct cpio_out *o, int dfd, char *path, size_t plen, unsigned int depth);

static int one_entry(struct cpio_out *o, int dfd, const char *name, char *path, size_t plen,
		     unsigned int depth)
{
	size_t nlen = strlen(name), full = plen + (plen ? 1 : 0) + nlen;
	struct stat st;
	int ret;

	if (full >= CPIO_PATH_MAX)
		return say(o, -ENAMETOOLONG, "a path longer than %d bytes below %.*s", CPIO_PATH_MAX,
			   (int)plen, path);
	if (plen)
		path[plen] = '/';
	memcpy(path + plen + (plen ? 1 : 0), name, nlen + 1);
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return say(o, -errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		ret = count_entry(o, path);
		if (!ret)
			ret = out_header(o, path, st.st_mode & (S_IFMT | 07777), st.st_uid, st.st_gid,
					 st.st_mtime, 0);
		if (!ret) {
			int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0)
				return say(o, -errno, "%s: %s", path, strerror(errno));
			ret = walk(o, sub, path, full, depth + 1);
			close(sub);
		}
	} else if (S_ISREG(st.st_mode)) {
		o->st->bytes += (uint64_t)st.st_size;
		if (o->st->bytes > o->lim->max_bytes)
			return say(o, -EFBIG, "more than %llu bytes of files (at %s)",
				   (unsigned long long)o->lim->max_bytes, path);
		ret = count_entry(o, path);
		if (!ret)
			ret = out_header(o, path, st.st_mode & (S_IFMT | 07777), st.st_uid, st.st_gid,
					 st.st_mtime, (uint64_t)st.st_size);
		if (!ret)
			ret = copy_file(o, dfd, name, path, &st);
	} else if (S_ISLNK(st.st_mode)) {
		char target[CPIO_PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target));

		if (n < 0 || n >= (ssize_t)sizeof(target))
			return say(o, n < 0 ? -errno : -ENAMETOOLONG, "symlink %s: %s", path,
				   n < 0 ? strerror(errno) : "target too long");
		ret = count_entry(o, path);
		if (!ret)
			ret = out_header(o, path, S_IFLNK | 0777, st.st_uid, st.st_gid, st.st_mtime,
					 (uint64_t)n);
		if (!ret)
			ret = out_put(o, target, (size_t)n);
		if (!ret)
			ret = out_pad4(o);
	} else {
		o->st->skipped++; /* devices, fifos, sockets */
		ret = 0;
	}
	path[plen] = '\0';
	return ret;
}

static int walk(struct cpio_out *o, int dfd, char *path, size_t plen, unsigned int depth)
{
	DIR *d;
	struct dirent *e;
	int fd, ret = 0;

	if (depth > o->lim->max_depth)
		return say(o, -ELOOP, "directories nested deeper than %u (at %s)", o->lim->max_depth,
			   path);
	fd = dup(dfd);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (!d) {
		if (fd >= 0)
			close(fd);
		return say(o, -errno, "%s: %s", plen ? path : ".", strerror(errno));
	}
	while (!ret && (errno = 0, e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		/* ainit and its configuration come from the base and config pieces */
		if (depth == 0 && (!strcmp(e->d_name, "init") || !strcmp(e->d_name, ".arrow")))
			continue;
		ret = one_entry(o, dfd, e->d_name, path, plen, depth);
	}
	if (!ret && errno)
		ret = say(o, -errno, "reading %s: %s", plen ? path : ".", strerror(errno));
	closedir(d);
	return ret;
}

int rootfs_write_cpio(const char *dir, int fd, const struct rootfs_limits *lim,
		      struct rootfs_stats *st, char *why, size_t whylen)
{
	struct cpio_out *o = calloc(1, sizeof(*o));
	char *path = malloc(CPIO_PATH_MAX);
	int dfd = -1, ret;

	memset(st, 0, sizeof(*st));
	if (!o || !path) {
		free(o);
		free(path);
		snprintf(why, whylen, "out of memory");
		return -ENOMEM;
	}
	*o = (struct cpio_out){ .fd = fd, .lim = lim, .st = st, .why = why, .whylen = whylen };
	path[0] = '\0';
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		ret = say(o, -errno, "%s: %s", dir, strerror(errno));
	else
		ret = walk(o, dfd, path, 0, 0);
	if (!ret)
		ret = out_header(o, "TRAILER!!!", 0, 0, 0, 0, 0);
	if (!ret)
		ret = out_flush(o);
	if (dfd >= 0)
		close(dfd);
	free(path);
	free(o);
	return ret;
}

int rootfs_piece_memfd(const char *dir, const struct rootfs_limits *lim, struct rootfs_stats *st,
		       char **path, char *why, size_t whylen)
{
	int fd = memfd_create("arrow-rootfs", 0), ret;

	if (fd < 0) {
		snprintf(why, whylen, "memfd_create: %s", strerror(errno));
		return -errno;
	}
	ret = rootfs_write_cpio(dir, fd, lim, st, why, whylen);
	if (!ret && asprintf(path, "/proc/self/fd/%d", fd) < 0)
		ret = -ENOMEM;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}
